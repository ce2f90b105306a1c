/* core/gemv.c - F32 matrix-vector products with one summation order on
 * every CPU (gemv.h): AVX-512, AVX2 + FMA and portable C, picked at run time;
 * the same tiles over F16 weights, widened as they are loaded.
 *
 * Each kernel walks tiles of RW weight rows x GX input rows: the tile's
 * input rows are loaded once per 16 columns and every weight vector is used
 * for all of them, so G rows cost about one pass over the weights. Inside a
 * tile every (weight row, input row) pair has its own 16-lane accumulator,
 * which is the definition's 16 chains; the tail columns go through masks
 * (lanes outside the tail keep their value, as the definition says), and the
 * 16 lanes are summed by the definition's tree. */
#include "gemv.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>

#include "safetensors.h" /* mmg__f16_to_f32 */
#include "threads.h"     /* MMG__PAR_MIN */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GEMV_X86 1
#include <immintrin.h>
#endif

/* ---- portable: the definition ---------------------------------------------------- */

static float reduce16_ref(const float *acc) {
    float s8[8], s4[4], s2[2];
    for (int l = 0; l < 8; l++) s8[l] = acc[l] + acc[l + 8];
    for (int l = 0; l < 4; l++) s4[l] = s8[l] + s8[l + 4];
    for (int l = 0; l < 2; l++) s2[l] = s4[l] + s4[l + 2];
    return s2[0] + s2[1];
}

float mmg__gemv_dot_ref(const float *w, const float *x, int K) {
    float acc[16] = {0};
    int k = 0;
    for (; k + 16 <= K; k += 16)
        for (int l = 0; l < 16; l++) acc[l] = fmaf(w[k + l], x[k + l], acc[l]);
    for (int l = 0; k + l < K; l++) acc[l] = fmaf(w[k + l], x[k + l], acc[l]);
    return reduce16_ref(acc);
}

float mmg__gemv_dot_ref_f16(const uint16_t *w, const float *x, int K) {
    float acc[16] = {0};
    int k = 0;
    for (; k + 16 <= K; k += 16)
        for (int l = 0; l < 16; l++) acc[l] = fmaf(mmg__f16_to_f32(w[k + l]), x[k + l], acc[l]);
    for (int l = 0; k + l < K; l++) acc[l] = fmaf(mmg__f16_to_f32(w[k + l]), x[k + l], acc[l]);
    return reduce16_ref(acc);
}

static void rows_scalar_f16(float *out, int ldo, int beta, const uint16_t *w, int n, int K,
                            const float *x, int G) {
    for (int r = 0; r < n; r++)
        for (int g = 0; g < G; g++) {
            float d = mmg__gemv_dot_ref_f16(w + (size_t)r * K, x + (size_t)g * K, K);
            float *o = out + (size_t)g * ldo + r;
            *o = beta ? *o + d : d;
        }
}

static void rows_scalar(float *out, int ldo, int beta, const float *w, int n, int K, const float *x,
                        int G) {
    for (int r = 0; r < n; r++)
        for (int g = 0; g < G; g++) {
            float d = mmg__gemv_dot_ref(w + (size_t)r * K, x + (size_t)g * K, K);
            float *o = out + (size_t)g * ldo + r;
            *o = beta ? *o + d : d;
        }
}

static inline void store(float *out, int ldo, int beta, int i, int g, float d) {
    float *o = out + (size_t)g * ldo + i;
    *o = beta ? *o + d : d;
}

/* Tiles of RW weight rows x GX input rows over any kernel's tile function,
 * then the rows and inputs left over one at a time. */
#define DRIVE(TILE, RW, GX)                                                                     \
    int r = 0;                                                                                  \
    for (; r + RW <= n; r += RW) {                                                              \
        int g = 0;                                                                              \
        for (; g + GX <= G; g += GX)                                                            \
            TILE##_##RW##_##GX(out + (size_t)g * ldo + r, ldo, beta, w + (size_t)r * K, K,      \
                               x + (size_t)g * K);                                              \
        for (; g < G; g++)                                                                      \
            TILE##_##RW##_1(out + (size_t)g * ldo + r, ldo, beta, w + (size_t)r * K, K,         \
                            x + (size_t)g * K);                                                 \
    }                                                                                           \
    for (; r < n; r++) {                                                                        \
        int g = 0;                                                                              \
        for (; g + GX <= G; g += GX)                                                            \
            TILE##_1_##GX(out + (size_t)g * ldo + r, ldo, beta, w + (size_t)r * K, K,           \
                          x + (size_t)g * K);                                                   \
        for (; g < G; g++)                                                                      \
            TILE##_1_1(out + (size_t)g * ldo + r, ldo, beta, w + (size_t)r * K, K,              \
                       x + (size_t)g * K);                                                      \
    }

#ifdef GEMV_X86

/* The tiles' small loops unrolled, so each accumulator lives in a register
 * (left as loops, GCC keeps them on the stack at -O2). */
#define UNROLL _Pragma("GCC unroll 8")

/* ---- AVX-512 ------------------------------------------------------------------------ */

#define TARGET_AVX512 __attribute__((target("avx512f")))

/* With several input rows a tile computes long enough per weight line that
 * the hardware prefetcher falls behind on a matrix streamed from memory:
 * each weight load also asks for the same column of the next tile's rows
 * (a hint; past the block's end it fetches nothing that matters). Only for
 * rows of up to 1024 floats: the next tile of longer rows would push this
 * one's inputs out of L1 (measured: the logits' 50257 x 768 matrix, 8 rows,
 * 12.7 -> 8.3 ms; 768 x 3072, 8 rows, slower with it). */
#define PREFETCH_MAX_K 1024

/* Up to this many input rows a matrix is read as four streams; with more
 * than one, each tile asks for the line this far ahead in each, into L2
 * (see DRIVE_STREAMS). */
#define STREAMS_MAX_G 8
#define STREAM_PREFETCH_BYTES 8192

TARGET_AVX512 static inline float reduce16_avx512(__m512 a) {
    __m256 lo = _mm512_castps512_ps256(a);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
    __m256 s8 = _mm256_add_ps(lo, hi);                                                /* l, l + 8 */
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1)); /* l, l + 4 */
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));                                /* l, l + 2 */
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

/* Weight loads: 16 floats, or 16 halves widened (exact); the tail's lanes
 * of mask m (the others 0). */
#define LOAD512_F32(p) _mm512_loadu_ps(p)
#define LOAD512_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define TAIL512_F32(m, p) _mm512_maskz_loadu_ps(m, p)
#define TAIL512_F16(m, p) tail512_f16(m, p)

TARGET_AVX512 static inline __m512 tail512_f16(__mmask16 m, const uint16_t *p) {
    uint16_t t[16] = {0};
    for (int i = 0; i < 16; i++)
        if (m >> i & 1) t[i] = p[i];
    return LOAD512_F16(t);
}

/* PF: whether each weight load asks for the next tile's line (see above). */
#define TILE512(RW, GX) TILE512_T(RW, GX, , float, LOAD512_F32, TAIL512_F32, GX > 1 && near)
#define TILE512_T(RW, GX, SUF, WT, LOADW, TAILW, PF)                                           \
    TARGET_AVX512 static void t512##SUF##_##RW##_##GX(float *out, int ldo, int beta, const WT *w, \
                                               size_t h, int far, int K, const float *x) {     \
        __m512 acc[RW][GX];                                                                    \
        UNROLL for (int i = 0; i < RW; i++)                                                           \
            UNROLL for (int g = 0; g < GX; g++) acc[i][g] = _mm512_setzero_ps();                      \
        const int near = h == 1 && K <= PREFETCH_MAX_K;                                        \
        (void)near;                                                                            \
        int k = 0;                                                                             \
        for (; k + 16 <= K; k += 16) {                                                         \
            __m512 xv[GX];                                                                     \
            UNROLL for (int g = 0; g < GX; g++) xv[g] = _mm512_loadu_ps(x + (size_t)g * K + k);       \
            UNROLL for (int i = 0; i < RW; i++) {                                                     \
                __m512 wv = LOADW(w + (size_t)i * h * K + k);                                  \
                if (PF) _mm_prefetch((const char *)(w + (size_t)(i + RW) * K + k), _MM_HINT_T0); \
                if (far) /* see STREAM_PREFETCH_BYTES */                                      \
                    _mm_prefetch((const char *)(w + (size_t)i * h * K + k) + STREAM_PREFETCH_BYTES, _MM_HINT_T1); \
                UNROLL for (int g = 0; g < GX; g++) acc[i][g] = _mm512_fmadd_ps(wv, xv[g], acc[i][g]); \
            }                                                                                  \
        }                                                                                      \
        if (k < K) {                                                                           \
            const __mmask16 m = (__mmask16)((1u << (K - k)) - 1);                              \
            __m512 xv[GX];                                                                     \
            UNROLL for (int g = 0; g < GX; g++) xv[g] = _mm512_maskz_loadu_ps(m, x + (size_t)g * K + k); \
            UNROLL for (int i = 0; i < RW; i++) {                                                     \
                __m512 wv = TAILW(m, w + (size_t)i * h * K + k);                               \
                UNROLL for (int g = 0; g < GX; g++)                                                   \
                    acc[i][g] = _mm512_mask3_fmadd_ps(wv, xv[g], acc[i][g], m);                \
            }                                                                                  \
        }                                                                                      \
        UNROLL for (int i = 0; i < RW; i++)                                                           \
            UNROLL for (int g = 0; g < GX; g++) store(out, ldo, beta, (int)(i * h), g, reduce16_avx512(acc[i][g])); \
    }
TILE512(4, 4)
TILE512(4, 1)
TILE512(1, 4)
TILE512(1, 1)


/* F16 weights. */
TILE512_T(4, 4, _f16, uint16_t, LOAD512_F16, TAIL512_F16, near)
TILE512_T(4, 1, _f16, uint16_t, LOAD512_F16, TAIL512_F16, 0)
TILE512_T(1, 4, _f16, uint16_t, LOAD512_F16, TAIL512_F16, near)
TILE512_T(1, 1, _f16, uint16_t, LOAD512_F16, TAIL512_F16, 0)

/* For a few input rows (decoding, batched decoding) the rows go as four
 * long streams: tiles take rows r, r + h, r + 2h and r + 3h (h = n / 4)
 * instead of four adjacent rows, and each output keeps its bits (one
 * accumulator per row and input, as every tile). Adjacent rows read the
 * matrix as many short interleaved streams, and the hardware prefetcher
 * falls behind even with the next tile asked for; four long sequential
 * streams it follows, while the tile still runs four FMA chains per input
 * (one row at a time waits on its own). Streaming all of GPT-2-small's F16
 * matrices for one input on 1 thread: 22-27 GB/s with 8-row tiles, 28-31
 * one row at a time, 34-36 as four streams. With several inputs each tile
 * computes longer per line and reads its rows again for every four inputs,
 * so it also asks for the line STREAM_PREFETCH_BYTES ahead in each stream
 * (GPT-2-small, 8 sequences decoded together, 1 thread: 207-219 tok/s
 * without, 230-300 at 2-6 KB into L1). Into L2, not L1: the lines asked for
 * 4 KB ahead in four streams, on top of the inputs (8 x 3 KB) and the tile's
 * rows, overflow L1 and evict what the tile is about to read (all of
 * GPT-2-small's F32 matrices, 8 inputs, 1 thread, Zen 4: 43-51 GFLOP/s into
 * L1 at 1-4 KB, 66-72 into L2 at 4-16 KB; 2 inputs 20-21 -> 24-28, where
 * the one-input tiles now ask too). One input alone stays without: the
 * hardware prefetcher keeps up with it, and asking cost 3%. Prompts (many
 * inputs) keep adjacent rows: there the rows are read from cache many times
 * over, and four streams were slower (F16 prefill 128, 1 thread: 460-605
 * tok/s vs 580-746). */
#define DRIVE_STREAMS(TILE, GX)                                                                 \
    const size_t h = G <= STREAMS_MAX_G && n >= 8 ? (size_t)n / 4 : 1;                          \
    const size_t tiles = h > 1 ? h : (size_t)n / 4;                                             \
    const int far = h > 1 && G > 1;                                                             \
    for (size_t t = 0; t < tiles; t++) {                                                        \
        const size_t r = h > 1 ? t : 4 * t;                                                     \
        int g = 0;                                                                              \
        for (; g + GX <= G; g += GX)                                                            \
            TILE##_4_##GX(out + (size_t)g * ldo + r, ldo, beta, w + r * K, h, far, K, x + (size_t)g * K); \
        for (; g < G; g++)                                                                      \
            TILE##_4_1(out + (size_t)g * ldo + r, ldo, beta, w + r * K, h, far, K, x + (size_t)g * K); \
    }                                                                                           \
    for (size_t r = 4 * tiles; r < (size_t)n; r++) {                                            \
        int g = 0;                                                                              \
        for (; g + GX <= G; g += GX)                                                            \
            TILE##_1_##GX(out + (size_t)g * ldo + r, ldo, beta, w + r * K, 1, 0, K, x + (size_t)g * K); \
        for (; g < G; g++)                                                                      \
            TILE##_1_1(out + (size_t)g * ldo + r, ldo, beta, w + r * K, 1, 0, K, x + (size_t)g * K); \
    }

TARGET_AVX512 static void rows_avx512(float *out, int ldo, int beta, const float *w, int n, int K,
                                      const float *x, int G) {
    DRIVE_STREAMS(t512, 4)
}

TARGET_AVX512 static void rows_avx512_f16(float *out, int ldo, int beta, const uint16_t *w, int n,
                                          int K, const float *x, int G) {
    DRIVE_STREAMS(t512_f16, 4)
}

/* ---- AVX2 + FMA ----------------------------------------------------------------------- */

#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TARGET_AVX2F16 __attribute__((target("avx2,fma,f16c")))

/* The 16 lanes as two halves: lo holds lanes 0..7, hi lanes 8..15. */
TARGET_AVX2 static inline float reduce16_avx2(__m256 lo, __m256 hi) {
    __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

/* Weight loads of 8 floats or 8 halves widened; the tail's lanes of mask ml
 * (all ones or zeros per lane), the others 0. */
#define LOAD256_F32(p) _mm256_loadu_ps(p)
#define LOAD256_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define TAIL256_F32(ml, p) _mm256_maskload_ps(p, ml)
#define TAIL256_F16(ml, p) tail256_f16(ml, p)

TARGET_AVX2F16 static inline __m256 tail256_f16(__m256i ml, const uint16_t *p) {
    int32_t lanes[8];
    uint16_t t[8] = {0};
    _mm256_storeu_si256((__m256i *)lanes, ml);
    for (int i = 0; i < 8; i++)
        if (lanes[i]) t[i] = p[i];
    return LOAD256_F16(t);
}

#define TILE256(RW, GX) TILE256_T(RW, GX, , float, LOAD256_F32, TAIL256_F32, TARGET_AVX2)
#define TILE256_T(RW, GX, SUF, WT, LOADW, TAILW, TARGET)                                       \
    TARGET static void t256##SUF##_##RW##_##GX(float *out, int ldo, int beta, const WT *w,     \
                                             int K, const float *x) {                          \
        __m256 lo[RW][GX], hi[RW][GX];                                                         \
        UNROLL for (int i = 0; i < RW; i++)                                                           \
            UNROLL for (int g = 0; g < GX; g++) lo[i][g] = hi[i][g] = _mm256_setzero_ps();            \
        int k = 0;                                                                             \
        for (; k + 16 <= K; k += 16) {                                                         \
            __m256 xl[GX], xh[GX];                                                             \
            UNROLL for (int g = 0; g < GX; g++) {                                                     \
                xl[g] = _mm256_loadu_ps(x + (size_t)g * K + k);                                \
                xh[g] = _mm256_loadu_ps(x + (size_t)g * K + k + 8);                            \
            }                                                                                  \
            UNROLL for (int i = 0; i < RW; i++) {                                                     \
                __m256 wl = LOADW(w + (size_t)i * K + k);                                      \
                __m256 wh = LOADW(w + (size_t)i * K + k + 8);                                  \
                UNROLL for (int g = 0; g < GX; g++) {                                                 \
                    lo[i][g] = _mm256_fmadd_ps(wl, xl[g], lo[i][g]);                           \
                    hi[i][g] = _mm256_fmadd_ps(wh, xh[g], hi[i][g]);                           \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
        if (k < K) {                                                                           \
            const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);                    \
            const __m256i ml = _mm256_cmpgt_epi32(_mm256_set1_epi32(K - k), lane);             \
            const __m256i mh = _mm256_cmpgt_epi32(_mm256_set1_epi32(K - k - 8), lane);         \
            __m256 xl[GX], xh[GX];                                                             \
            UNROLL for (int g = 0; g < GX; g++) {                                                     \
                xl[g] = _mm256_maskload_ps(x + (size_t)g * K + k, ml);                         \
                xh[g] = _mm256_maskload_ps(x + (size_t)g * K + k + 8, mh);                     \
            }                                                                                  \
            UNROLL for (int i = 0; i < RW; i++) {                                                     \
                __m256 wl = TAILW(ml, w + (size_t)i * K + k);                                  \
                __m256 wh = TAILW(mh, w + (size_t)i * K + k + 8);                              \
                UNROLL for (int g = 0; g < GX; g++) {                                                 \
                    lo[i][g] = _mm256_blendv_ps(lo[i][g], _mm256_fmadd_ps(wl, xl[g], lo[i][g]), \
                                                _mm256_castsi256_ps(ml));                      \
                    hi[i][g] = _mm256_blendv_ps(hi[i][g], _mm256_fmadd_ps(wh, xh[g], hi[i][g]), \
                                                _mm256_castsi256_ps(mh));                      \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
        UNROLL for (int i = 0; i < RW; i++)                                                           \
            UNROLL for (int g = 0; g < GX; g++)                                                       \
                store(out, ldo, beta, i, g, reduce16_avx2(lo[i][g], hi[i][g]));                \
    }
TILE256(2, 2)
TILE256(2, 1)
TILE256(1, 2)
TILE256(1, 1)

TARGET_AVX2 static void rows_avx2(float *out, int ldo, int beta, const float *w, int n, int K,
                                  const float *x, int G) {
    DRIVE(t256, 2, 2)
}

/* F16 weights (F16C widens them) */
TILE256_T(2, 2, _f16, uint16_t, LOAD256_F16, TAIL256_F16, TARGET_AVX2F16)
TILE256_T(2, 1, _f16, uint16_t, LOAD256_F16, TAIL256_F16, TARGET_AVX2F16)
TILE256_T(1, 2, _f16, uint16_t, LOAD256_F16, TAIL256_F16, TARGET_AVX2F16)
TILE256_T(1, 1, _f16, uint16_t, LOAD256_F16, TAIL256_F16, TARGET_AVX2F16)

TARGET_AVX2F16 static void rows_avx2_f16(float *out, int ldo, int beta, const uint16_t *w, int n,
                                         int K, const float *x, int G) {
    DRIVE(t256_f16, 2, 2)
}

#endif /* GEMV_X86 */

/* ---- dispatch ----------------------------------------------------------------------- */

#ifdef GEMV_X86
#include <cpuid.h>
static int cpu_has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

typedef void (*rows_fn)(float *out, int ldo, int beta, const float *w, int n, int K,
                        const float *x, int G);

int mmg__gemv_kernel_supported(mmg__gemv_kernel k) {
    switch (k) {
    case MMG__GEMV_KERNEL_AUTO:
    case MMG__GEMV_KERNEL_SCALAR: return 1;
#ifdef GEMV_X86
    case MMG__GEMV_KERNEL_AVX2: /* F16C too, for F16 weights (every AVX2 CPU has it) */
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case MMG__GEMV_KERNEL_AVX512: return __builtin_cpu_supports("avx512f");
#endif
    default: return 0;
    }
}

/* The kernel in use, 0 until the first product picks one. Relaxed atomics:
 * threads that race to pick store the same value. */
static int g_kernel;

static mmg__gemv_kernel best_kernel(void) {
    if (mmg__gemv_kernel_supported(MMG__GEMV_KERNEL_AVX512)) return MMG__GEMV_KERNEL_AVX512;
    if (mmg__gemv_kernel_supported(MMG__GEMV_KERNEL_AVX2)) return MMG__GEMV_KERNEL_AVX2;
    return MMG__GEMV_KERNEL_SCALAR;
}

static mmg__gemv_kernel current(void) {
    int k = __atomic_load_n(&g_kernel, __ATOMIC_RELAXED);
    if (k == MMG__GEMV_KERNEL_AUTO) {
        k = (int)best_kernel();
        __atomic_store_n(&g_kernel, k, __ATOMIC_RELAXED);
    }
    return (mmg__gemv_kernel)k;
}

int mmg__gemv_kernel_force(mmg__gemv_kernel k) {
    if (!mmg__gemv_kernel_supported(k)) return -1;
    __atomic_store_n(&g_kernel, (int)(k == MMG__GEMV_KERNEL_AUTO ? best_kernel() : k),
                     __ATOMIC_RELAXED);
    return 0;
}

const char *mmg__gemv_kernel_name(void) {
    switch (current()) {
    case MMG__GEMV_KERNEL_AVX512: return "avx512";
    case MMG__GEMV_KERNEL_AVX2: return "avx2";
    default: return "scalar";
    }
}

void mmg__gemv_rows_f16(float *out, int ldo, int beta, const uint16_t *w, int n, int K,
                        const float *x, int G) {
    switch (current()) {
#ifdef GEMV_X86
    case MMG__GEMV_KERNEL_AVX512: rows_avx512_f16(out, ldo, beta, w, n, K, x, G); return;
    case MMG__GEMV_KERNEL_AVX2: rows_avx2_f16(out, ldo, beta, w, n, K, x, G); return;
#endif
    default: rows_scalar_f16(out, ldo, beta, w, n, K, x, G); return;
    }
}

void mmg__gemv_rows(float *out, int ldo, int beta, const float *w, int n, int K, const float *x,
                    int G) {
    rows_fn f = rows_scalar;
    switch (current()) {
#ifdef GEMV_X86
    case MMG__GEMV_KERNEL_AVX512: f = rows_avx512; break;
    case MMG__GEMV_KERNEL_AVX2: f = rows_avx2; break;
#endif
    default: break;
    }
    f(out, ldo, beta, w, n, K, x, G);
}

/* ---- the rows split among threads -------------------------------------------------- */

/* Below MMG__PAR_MIN multiply-adds per input row a product stays on the
 * calling thread. */
#define ROWS_PAR(FN)                                                                             \
    const int chunks = (size_t)n * K >= MMG__PAR_MIN ? omp_get_max_threads() : 1;                \
    _Pragma("omp parallel for schedule(static) if (chunks > 1)")                                 \
    for (int c = 0; c < chunks; c++) {                                                           \
        const int r0 = (int)((int64_t)n * c / chunks), r1 = (int)((int64_t)n * (c + 1) / chunks); \
        FN(out + r0, ldo, beta, w + (size_t)r0 * K, r1 - r0, K, x, G);                          \
    }

void mmg__gemv_rows_par(float *out, int ldo, int beta, const float *w, int n, int K, const float *x,
                        int G) {
    ROWS_PAR(mmg__gemv_rows)
}

void mmg__gemv_rows_f16_par(float *out, int ldo, int beta, const uint16_t *w, int n, int K,
                            const float *x, int G) {
    ROWS_PAR(mmg__gemv_rows_f16)
}
