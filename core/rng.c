/* core/rng.c - xoshiro256** seeded by splitmix64 (private).
 *
 * Both generators follow the public-domain reference code by David Blackman
 * and Sebastiano Vigna (https://prng.di.unimi.it/xoshiro256starstar.c and
 * splitmix64.c) operation for operation; only 64-bit integer arithmetic is
 * involved, so the raw outputs are identical on every platform. The float
 * conversions take the top bits, as the authors recommend. */
#include "rng.h"

#include <math.h>

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* splitmix64's output function: a bijection on 64-bit values with mix(0) = 0. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline uint64_t splitmix64_next(uint64_t *x) {
    *x += UINT64_C(0x9e3779b97f4a7c15);
    return mix64(*x);
}

void mmg__rng_seed(mmg__rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64_next(&x);
    /* splitmix64 is a bijection of distinct counter values, so four successive
     * outputs are never all zero; keep the guard anyway since an all-zero
     * xoshiro state would output zeros forever. */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

void mmg__rng_seed_stream(mmg__rng *r, uint64_t seed, uint64_t stream) {
    mmg__rng_seed(r, seed ^ mix64(stream));
}

uint64_t mmg__rng_next(mmg__rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float mmg__rng_uniform(mmg__rng *r) {
    return (float)(mmg__rng_next(r) >> 40) * 0x1.0p-24f; /* exact: 24 bits fit a float */
}

double mmg__rng_uniform_double(mmg__rng *r) {
    return (double)(mmg__rng_next(r) >> 11) * 0x1.0p-53;
}

float mmg__rng_normal(mmg__rng *r) {
    /* Box-Muller; u1 in (0, 1] so log(u1) is finite. */
    double u1 = 1.0 - mmg__rng_uniform_double(r);
    double u2 = mmg__rng_uniform_double(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2));
}
