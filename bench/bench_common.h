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

/* Reports the last mmgen error after `what` failed, and exits: benchmarks are
 * programs, so they may. */
static inline void bench_die(const char *what) {
    fprintf(stderr, "%s: %s (%s)\n", what, mmg_last_error(), mmg_status_name(mmg_last_status()));
    exit(1);
}

#endif /* MMGEN_BENCH_COMMON_H */
