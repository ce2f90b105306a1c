/* bench/bench_common.h - the few helpers every benchmark program shares. */
#ifndef MMGEN_BENCH_COMMON_H
#define MMGEN_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mmgen/status.h"

/* Monotonic wall-clock seconds. */
static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Bytes a weight takes in memory in the block types: Q8_0 32 values and a
 * 2-byte scale a block of 32, Q4_0 16 bytes of values and a 2-byte scale. */
#define BENCH_Q8_0_BYTES_PER_WEIGHT (34.0 / 32.0)
#define BENCH_Q4_0_BYTES_PER_WEIGHT (18.0 / 32.0)

/* Reports the last mmgen error after `what` failed, and exits: benchmarks are
 * programs, so they may. */
static inline void bench_die(const char *what) {
    fprintf(stderr, "%s: %s (%s)\n", what, mmg_last_error(), mmg_status_name(mmg_last_status()));
    exit(1);
}

#endif /* MMGEN_BENCH_COMMON_H */
