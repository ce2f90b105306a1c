/* core/train_math.h - small vectorizable float functions (private), the one
 * implementation shared by the forward kernels (ops.c: softmax, attention,
 * GELU), the backward kernels (ops_backward.c) and the loss (loss.c).
 *
 * libm's expf/erff are scalar calls that keep `omp simd` loops from
 * vectorizing; these are plain float arithmetic with stated accuracy, good to
 * a few ulp, far inside the 1e-4 tolerances the model is checked with against
 * PyTorch. They are defined for every input, NaN and infinities included
 * (tests/test_float_math.c runs them under UBSan). */
#ifndef MMGEN_CORE_TRAIN_MATH_H
#define MMGEN_CORE_TRAIN_MATH_H

#include <stdint.h>

/* Compiles a hot element-wise function for AVX-512, AVX2 and the baseline,
 * picked at load time (GCC's target_clones; the build does not assume
 * -march=native). Element-wise results are identical in every version: ISO C
 * mode does not contract a*b+c into FMAs. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__) /* a TSan-instrumented ifunc resolver runs before TSan is up */
#define MMG__VEC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MMG__VEC_CLONES
#endif

/* Bit views and a branch-free select: `c ? a : b` written as masks, because
 * a conditional expression on floats is control flow that GCC will not
 * vectorize under the default -ftrapping-math. */
static inline uint32_t mmg__f2u(float f) {
    union { float f; uint32_t u; } v = {f};
    return v.u;
}
static inline float mmg__u2f(uint32_t u) {
    union { uint32_t u; float f; } v = {u};
    return v.f;
}
static inline float mmg__select(int c, float a, float b) {
    uint32_t m = 0u - (uint32_t)c;
    return mmg__u2f((mmg__f2u(a) & m) | (mmg__f2u(b) & ~m));
}

/* exp(x) for x <= 0 (larger x is taken as 0): x = k ln2 + r, |r| <= ln2/2,
 * exp(r) by its degree-6 Taylor polynomial (relative error below 3e-7 with
 * float rounding), 2^k built in the exponent bits. x below -87.3 (and -inf)
 * gives 0; NaN gives NaN, so a poisoned row is still detected. */
#pragma omp declare simd notinbranch
static inline float mmg__exp_nonpos(float x) {
    const float lo = -87.3f;
    const int nan = x != x;
    float xc = mmg__select(nan, 0.0f, x); /* finite (or -inf) for the int conversion */
    const int under = xc < lo;
    xc = mmg__select(under, lo, xc);
    xc = mmg__select(xc > 0.0f, 0.0f, xc);
    const int32_t ki = (int32_t)(xc * 1.44269504088896341f - 0.5f); /* round(x / ln2), x <= 0 */
    const float k = (float)ki;
    const float r = xc - k * 0.693145751953125f - k * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const float y = p * mmg__u2f((uint32_t)(ki + 127) << 23); /* k in [-126, 0]: a normal power of two */
    return mmg__select(nan, x, mmg__select(under, 0.0f, y));
}

/* erf(x): Abramowitz & Stegun 7.1.26 (1.5e-7 in exact arithmetic), absolute
 * error below 1e-6 in float. */
#pragma omp declare simd notinbranch
static inline float mmg__erf(float x) {
    const float ax = mmg__u2f(mmg__f2u(x) & 0x7fffffffu);
    const float t = 1.0f / (1.0f + 0.3275911f * ax);
    const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
                       t * (-1.453152027f + t * 1.061405429f))));
    const float y = 1.0f - poly * mmg__exp_nonpos(-ax * ax); /* >= 0 */
    return mmg__u2f(mmg__f2u(y) | (mmg__f2u(x) & 0x80000000u));
}

/* tanh(x) through exp(-2|x|), relative error a few ulp away from 0 and
 * absolute error below 1e-7 near 0. */
#pragma omp declare simd notinbranch
static inline float mmg__tanh(float x) {
    const float ax = mmg__u2f(mmg__f2u(x) & 0x7fffffffu);
    const float e = mmg__exp_nonpos(-2.0f * ax);
    const float y = (1.0f - e) / (1.0f + e); /* >= 0 */
    return mmg__u2f(mmg__f2u(y) | (mmg__f2u(x) & 0x80000000u));
}

#endif /* MMGEN_CORE_TRAIN_MATH_H */
