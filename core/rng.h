/* core/rng.h - the library's deterministic random numbers (private).
 *
 * xoshiro256** (Blackman & Vigna, 2018) seeded through splitmix64, both
 * specified bit for bit, so a seed gives the same numbers on every platform,
 * compiler and mmgen version: sampling and dropout are reproducible. The state
 * is a plain struct so callers can save and restore it (checkpoints). Not for
 * cryptography. [one thread per object] */
#ifndef MMGEN_CORE_RNG_H
#define MMGEN_CORE_RNG_H

#include <stdint.h>

typedef struct mmg__rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero */
} mmg__rng;

/* Seeds from one 64-bit value: s[0..3] are four successive splitmix64 outputs
 * starting from state `seed` (the seeding the xoshiro authors recommend). */
void mmg__rng_seed(mmg__rng *r, uint64_t seed);

/* Seeds stream `stream` of `seed`: e.g. one stream per sequence in a batch or
 * per layer. Equivalent to mmg__rng_seed(seed ^ mix64(stream)), where mix64 is
 * splitmix64's bijective output mix (mix64(0) = 0), so stream 0 is exactly
 * mmg__rng_seed(seed) and distinct streams start at unrelated points of the
 * 2^256 - 1 period (overlap within any practical length is negligible). O(1). */
void mmg__rng_seed_stream(mmg__rng *r, uint64_t seed, uint64_t stream);

/* The next 64 random bits. */
uint64_t mmg__rng_next(mmg__rng *r);

/* Uniform in [0, 1): the top 24 bits of the next output times 2^-24. */
float mmg__rng_uniform(mmg__rng *r);

/* Uniform in [0, 1): the top 53 bits of the next output times 2^-53. */
double mmg__rng_uniform_double(mmg__rng *r);

/* Standard normal N(0, 1) by the Box-Muller transform in double precision,
 * using two uniform_double draws per call (the second value is discarded so
 * the state advances by exactly two outputs per call: simple to checkpoint).
 * Reproducible run to run; across platforms it relies on libm's log and cos,
 * whose rare last-bit differences in double almost never survive the
 * rounding to float. */
float mmg__rng_normal(mmg__rng *r);

#endif /* MMGEN_CORE_RNG_H */
