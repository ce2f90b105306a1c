/* core/quant_kernels.c - the Q8_0 x Q8 and Q4_0 x Q8 products (quant.h),
 * one weight row at a time, in three versions picked at run time: AVX-512
 * VNNI, AVX2 and portable C. All three compute mmg__q8_dot_ref's (or
 * mmg__q4_dot_ref's) definition exactly:
 *
 *   - Q4_0 values are widened to bytes first: n & 15 and n >> 4 of each
 *     block's 16 bytes are its values 0-15 and 16-31. AVX2 then subtracts
 *     8 and goes on as for Q8_0; AVX-512 multiplies n (unsigned, in
 *     [0, 15]) by x and subtracts 8 * sum(x) after, as it does with 128 for
 *     Q8_0.
 *   - Exact integer dot products per 32-value block. AVX-512 VNNI's vpdpbusd
 *     multiplies unsigned by signed bytes, so the weights go in offset by 128
 *     (w ^ 0x80 = w + 128 as unsigned) and 128 * sum(x) is subtracted after;
 *     AVX2's vpmaddubsw would saturate that, so it multiplies |x| by w with
 *     x's sign (the "sign trick"), which needs w != -128 (loading checks).
 *   - Sixteen blocks at a time, the per-block sums are gathered into one
 *     vector of 16 (AVX2: two of 8) by a fixed tree of shuffles and adds,
 *     then scaled in float: acc[b % 16] += (d_w * d_x) * isum, with a separate
 *     multiply and add (no FMA, whatever the flags: MMG__FP_BARRIER), as the
 *     scalar code does.
 *   - A missing tail block contributes 0 * 0, which leaves an accumulator
 *     unchanged (an accumulator that starts at +0 can never be -0).
 *   - The 16 accumulators are summed as the same tree.
 * So a model generates the same tokens on every x86 CPU this runs on. */
#include "quant.h"

#include <string.h>

#include "safetensors.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MMG__Q8_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* ---- portable --------------------------------------------------------------------- */

static void rows_scalar(float *out, const float *base, const int8_t *wq, const uint16_t *wd, int n,
                        int nb, const int8_t *xq, const float *xd, const int32_t *xs) {
    (void)xs;
    for (int r = 0; r < n; r++) {
        const float dot = mmg__q8_dot_ref(wq + (size_t)r * nb * MMG__QUANT_BLOCK, wd + (size_t)r * nb,
                                          nb, xq, xd);
        out[r] = base ? base[r] + dot : dot;
    }
}

static void rows_scalar_q4(float *out, const float *base, const int8_t *wq, const uint16_t *wd,
                           int n, int nb, const int8_t *xq, const float *xd, const int32_t *xs) {
    (void)xs;
    for (int r = 0; r < n; r++) {
        const float dot = mmg__q4_dot_ref((const uint8_t *)wq + (size_t)r * nb * (MMG__QUANT_BLOCK / 2),
                                          wd + (size_t)r * nb, nb, xq, xd);
        out[r] = base ? base[r] + dot : dot;
    }
}

#ifdef MMG__Q8_X86

/* ---- AVX2 + F16C ------------------------------------------------------------------ */

#define TARGET_AVX2 __attribute__((target("avx2,f16c")))

/* The 8 int32 sums of 8 blocks of 32 products (x 256 bytes; w 256 bytes,
 * or 128 when `q4`, a constant), in block order; blocks at and past `count`
 * are 0 (nothing read there). */
TARGET_AVX2 __attribute__((always_inline)) static inline __m256i
sums8_avx2(const int8_t *w, const int8_t *x, int count, const int q4) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i v[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        if (j >= count) {
            v[j] = _mm256_setzero_si256();
            continue;
        }
        __m256i wv;
        if (q4) { /* 16 bytes -> values 0-15 (low nibbles), 16-31 (high), minus 8 */
            const __m128i nib = _mm_loadu_si128((const __m128i *)(w + 16 * j)), m = _mm_set1_epi8(15);
            wv = _mm256_sub_epi8(_mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(nib, 4), m),
                                                  _mm_and_si128(nib, m)),
                                 _mm256_set1_epi8(8));
        } else {
            wv = _mm256_loadu_si256((const __m256i *)(w + 32 * j));
        }
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(x + 32 * j));
        /* |x| * (w * sign x): pairs stay within int16 since |w|, |x| <= 127 */
        const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(xv), _mm256_sign_epi8(wv, xv));
        v[j] = _mm256_madd_epi16(p, ones);
    }
    const __m256i s01 = _mm256_hadd_epi32(v[0], v[1]), s23 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i s45 = _mm256_hadd_epi32(v[4], v[5]), s67 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i t0 = _mm256_hadd_epi32(s01, s23), t1 = _mm256_hadd_epi32(s45, s67);
    /* t0: blocks 0-3 low-lane sums | blocks 0-3 high-lane sums; t1 the same for 4-7 */
    return _mm256_add_epi32(_mm256_permute2x128_si256(t0, t1, 0x20),
                            _mm256_permute2x128_si256(t0, t1, 0x31));
}

/* (d_w * d_x) of `count` (<= 8) blocks, 0 past count. */
TARGET_AVX2 static inline __m256 scales8_avx2(const uint16_t *wd, const float *xd, int count) {
    if (count == 8)
        return _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)wd)),
                             _mm256_loadu_ps(xd));
    uint16_t h[8] = {0};
    float f[8] = {0};
    memcpy(h, wd, sizeof *wd * (size_t)count);
    memcpy(f, xd, sizeof *xd * (size_t)count);
    return _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h)), _mm256_loadu_ps(f));
}

TARGET_AVX2 __attribute__((always_inline)) static inline void
rows_avx2_any(float *out, const float *base, const int8_t *wq, const uint16_t *wd, int n, int nb,
              const int8_t *xq, const float *xd, const int q4) {
    const int vb = q4 ? MMG__QUANT_BLOCK / 2 : MMG__QUANT_BLOCK; /* value bytes per block */
    for (int r = 0; r < n; r++) {
        const int8_t *w = wq + (size_t)r * nb * vb;
        const uint16_t *dw = wd + (size_t)r * nb;
        __m256 acc_lo = _mm256_setzero_ps(), acc_hi = _mm256_setzero_ps();
        for (int b = 0; b < nb; b += 16) {
            const int c_lo = nb - b < 8 ? nb - b : 8;
            const int c_hi = nb - b - 8 < 8 ? nb - b - 8 : 8;
            const __m256i i_lo = sums8_avx2(w + b * vb, xq + b * 32, c_lo, q4);
            const __m256 s_lo = scales8_avx2(dw + b, xd + b, c_lo);
            __m256 p_lo = _mm256_mul_ps(s_lo, _mm256_cvtepi32_ps(i_lo));
            MMG__FP_BARRIER(p_lo);
            acc_lo = _mm256_add_ps(acc_lo, p_lo);
            if (c_hi > 0) {
                const __m256i i_hi = sums8_avx2(w + (b + 8) * vb, xq + (b + 8) * 32, c_hi, q4);
                const __m256 s_hi = scales8_avx2(dw + b + 8, xd + b + 8, c_hi);
                __m256 p_hi = _mm256_mul_ps(s_hi, _mm256_cvtepi32_ps(i_hi));
                MMG__FP_BARRIER(p_hi);
                acc_hi = _mm256_add_ps(acc_hi, p_hi);
            }
        }
        const __m256 t8 = _mm256_add_ps(acc_lo, acc_hi);
        const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
        const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
        const float dot = _mm_cvtss_f32(_mm_add_ss(t2, _mm_shuffle_ps(t2, t2, 1)));
        out[r] = base ? base[r] + dot : dot;
    }
}

TARGET_AVX2 static void rows_avx2(float *out, const float *base, const int8_t *wq,
                                  const uint16_t *wd, int n, int nb, const int8_t *xq,
                                  const float *xd, const int32_t *xs) {
    (void)xs;
    rows_avx2_any(out, base, wq, wd, n, nb, xq, xd, 0);
}

TARGET_AVX2 static void rows_avx2_q4(float *out, const float *base, const int8_t *wq,
                                     const uint16_t *wd, int n, int nb, const int8_t *xq,
                                     const float *xd, const int32_t *xs) {
    (void)xs;
    rows_avx2_any(out, base, wq, wd, n, nb, xq, xd, 1);
}

/* ---- AVX-512 VNNI ------------------------------------------------------------------ */

#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

/* The 16 int32 sums of 16 blocks (x 512 bytes; w 512 bytes, or 256 when
 * `q4`, a constant), in block order; blocks at and past `count` are 0 and
 * nothing is read past them. Always inlined: the loop calls it with count 16
 * (a constant, so the masks fold away), the tail once with its count;
 * `half` (a constant) says the count is at most 8, so the upper half of the
 * work is skipped (its lanes come out 0, as the full version gives). */
TARGET_AVX512 __attribute__((always_inline)) static inline __m512i
sums16_avx512(const int8_t *w, const int8_t *x, const int32_t *xs, int count, const int half,
              const int q4) {
    const __m512i off = _mm512_set1_epi8((char)0x80);
    __m512i z[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        if (half && j >= 4) {
            z[j] = _mm512_setzero_si512();
            continue;
        }
        const int left = count - 2 * j; /* blocks of this pair that exist */
        __m512i wv, xv;
        if (q4) {
            /* two blocks' 32 bytes -> [values 0-15 | 16-31] of block 2j, then of 2j+1 */
            const __m256i nib = left >= 2   ? _mm256_loadu_si256((const __m256i *)(w + 32 * j))
                                : left == 1 ? _mm256_maskz_loadu_epi8(0xffffu, w + 32 * j)
                                            : _mm256_setzero_si256();
            const __m256i m = _mm256_set1_epi8(15);
            const __m512i lh = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(nib, m)),
                                                  _mm256_and_si256(_mm256_srli_epi16(nib, 4), m), 1);
            wv = _mm512_shuffle_i64x2(lh, lh, _MM_SHUFFLE(3, 1, 2, 0));
        } else if (left >= 2) {
            wv = _mm512_xor_si512(_mm512_loadu_si512(w + 64 * j), off);
        } else { /* nothing is read past the last block */
            const __mmask64 m = left == 1 ? 0xffffffffull : 0;
            wv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w + 64 * j), off);
        }
        if (left >= 2) {
            xv = _mm512_loadu_si512(x + 64 * j);
        } else {
            const __mmask64 m = left == 1 ? 0xffffffffull : 0;
            xv = _mm512_maskz_loadu_epi8(m, x + 64 * j);
        }
        /* (w + 128) * x (Q4_0: n * x), 4 products per int32 lane: lanes 0-7
         * block 2j, 8-15 block 2j+1; a missing block has x = 0 */
        z[j] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv, xv);
    }
    /* 8 lanes per block -> 4: chunk k of y<p> is block 4p + k */
#define Q8_PAIR(a, b) \
    _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x88), _mm512_shuffle_i32x4(a, b, 0xdd))
    const __m512i y0 = Q8_PAIR(z[0], z[1]), y1 = Q8_PAIR(z[2], z[3]);
    const __m512i y2 = half ? _mm512_setzero_si512() : Q8_PAIR(z[4], z[5]);
    const __m512i y3 = half ? _mm512_setzero_si512() : Q8_PAIR(z[6], z[7]);
#undef Q8_PAIR
    /* -> 2: chunk k of e0 holds blocks k, 4 + k; of e1 blocks 8 + k, 12 + k */
    const __m512i e0 = _mm512_add_epi32(_mm512_unpacklo_epi64(y0, y1), _mm512_unpackhi_epi64(y0, y1));
    const __m512i e1 = half ? _mm512_setzero_si512()
                            : _mm512_add_epi32(_mm512_unpacklo_epi64(y2, y3),
                                               _mm512_unpackhi_epi64(y2, y3));
    /* -> 1: lane 4k + m is block k + 4m */
    const __m512 f0 = _mm512_castsi512_ps(e0), f1 = _mm512_castsi512_ps(e1);
    const __m512i t = _mm512_add_epi32(_mm512_castps_si512(_mm512_shuffle_ps(f0, f1, 0x88)),
                                       _mm512_castps_si512(_mm512_shuffle_ps(f0, f1, 0xdd)));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i sums = _mm512_permutexvar_epi32(order, t);
    const __mmask16 live = count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1);
    return _mm512_sub_epi32(sums, _mm512_slli_epi32(_mm512_maskz_loadu_epi32(live, xs), q4 ? 3 : 7));
}

/* acc + (d_w * d_x) * isum for 16 blocks, the definition's float step: a
 * separate multiply and add (MMG__FP_BARRIER); lanes outside `live` load
 * d_w = 0 (and the caller's xd 0), so they add 0 * 0. */
TARGET_AVX512 __attribute__((always_inline)) static inline __m512
add_scaled16(__m512 acc, __m512i isum, const uint16_t *dw, __m512 xd, __mmask16 live) {
    const __m512 s = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(live, dw)), xd);
    __m512 p = _mm512_mul_ps(s, _mm512_cvtepi32_ps(isum));
    MMG__FP_BARRIER(p);
    return _mm512_add_ps(acc, p);
}

/* The 16 accumulators summed as the definition's fixed tree. */
TARGET_AVX512 __attribute__((always_inline)) static inline float sum16_tree(__m512 acc) {
    const __m256 t8 = _mm256_add_ps(_mm512_castps512_ps256(acc),
                                    _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
    const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
    const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
    return _mm_cvtss_f32(_mm_add_ss(t2, _mm_shuffle_ps(t2, t2, 1)));
}

/* Decoding reads Q8_0 rows as one stream faster than the hardware
 * prefetcher alone brings them: each row first asks for the lines this far
 * ahead (past the matrix's end it fetches nothing that matters; a prefetch
 * never faults). GPT-2-small Q8_0 decode, 5 rounds each, 1 thread: 129-161
 * tok/s without, 164-183 at 1 KB, 144-199 at 2 KB, 186-216 at 3 KB, 144-186
 * at 4 KB; 2 threads 196-221 -> 241-288 at 3 KB. Q4_0 rows, half the bytes
 * and more work per byte, gained nothing (217-276 without, 219-253 at 3 KB). */
#define Q8_PREFETCH_BYTES 3072

TARGET_AVX512 __attribute__((always_inline)) static inline void
rows_avx512_any(float *out, const float *base, const int8_t *wq, const uint16_t *wd, int n, int nb,
                const int8_t *xq, const float *xd, const int32_t *xs, const int q4) {
    const int vb = q4 ? MMG__QUANT_BLOCK / 2 : MMG__QUANT_BLOCK; /* value bytes per block */
    for (int r = 0; r < n; r++) {
        const int8_t *w = wq + (size_t)r * nb * vb;
        const uint16_t *dw = wd + (size_t)r * nb;
        if (!q4) /* see Q8_PREFETCH_BYTES */
            for (int l = 0; l < nb * vb; l += 64) _mm_prefetch((const char *)(w + Q8_PREFETCH_BYTES + l), _MM_HINT_T0);
        __m512 acc = _mm512_setzero_ps();
        int b = 0;
        for (; b + 16 <= nb; b += 16) {
            const __m512i isum = sums16_avx512(w + b * vb, xq + b * 32, xs + b, 16, 0, q4);
            acc = add_scaled16(acc, isum, dw + b, _mm512_loadu_ps(xd + b), 0xffff);
        }
        if (b < nb) {
            const int count = nb - b;
            const __mmask16 live = (__mmask16)((1u << count) - 1);
            const __m512i isum = count <= 8 ? sums16_avx512(w + b * vb, xq + b * 32, xs + b, count, 1, q4)
                                            : sums16_avx512(w + b * vb, xq + b * 32, xs + b, count, 0, q4);
            acc = add_scaled16(acc, isum, dw + b, _mm512_maskz_loadu_ps(live, xd + b), live);
        }
        const float dot = sum16_tree(acc);
        out[r] = base ? base[r] + dot : dot;
    }
}

TARGET_AVX512 static void rows_avx512(float *out, const float *base, const int8_t *wq,
                                      const uint16_t *wd, int n, int nb, const int8_t *xq,
                                      const float *xd, const int32_t *xs) {
    rows_avx512_any(out, base, wq, wd, n, nb, xq, xd, xs, 0);
}

TARGET_AVX512 static void rows_avx512_q4(float *out, const float *base, const int8_t *wq,
                                         const uint16_t *wd, int n, int nb, const int8_t *xq,
                                         const float *xd, const int32_t *xs) {
    rows_avx512_any(out, base, wq, wd, n, nb, xq, xd, xs, 1);
}

/* rows_avx512_any's products for the four rows 0, h, 2h and 3h from (wq,
 * wd, out, base), read in lockstep, 16 blocks of each row in turn: four
 * long streams, which the hardware prefetcher follows where it falls behind
 * on one (see gemv.c's DRIVE_STREAMS; no software prefetch needed). Each
 * row's operations are rows_avx512_any's, in its order, so each output has
 * its bits. Q8_0 only: Q4_0 decodes through q4_decode_avx512, and four
 * streams of it measured about +5% on 1 thread and slower on 2 (243-288 vs
 * 332-387 tok/s in one round).
 * GPT-2-small's 49 Q8_0 matrices streamed for one input row, 1 thread:
 * 14.1-14.4 GB/s one row at a time, 21.4-23.4 as four streams; 2 threads
 * 25.5-26.2 vs 29.1-30.8. Decode, 1 thread, 3 alternated rounds: 109-132
 * -> 148-174 tok/s. */
TARGET_AVX512 static void rows4_avx512(float *out, const float *base, const int8_t *wq, const uint16_t *wd,
                                       size_t h, int nb, const int8_t *xq, const float *xd, const int32_t *xs) {
    enum { streams = 4, vb = MMG__QUANT_BLOCK }; /* Q8_0: a value byte each */
    const size_t row_bytes = (size_t)nb * vb;
    __m512 acc[4];
    for (int i = 0; i < streams; i++) acc[i] = _mm512_setzero_ps();
    int b = 0;
    for (; b + 16 <= nb; b += 16) {
        const __m512 xdv = _mm512_loadu_ps(xd + b);
#pragma GCC unroll 4
        for (int i = 0; i < streams; i++) {
            const int8_t *w = wq + (size_t)i * h * row_bytes + (size_t)b * vb;
            const __m512i isum = sums16_avx512(w, xq + b * 32, xs + b, 16, 0, 0);
            acc[i] = add_scaled16(acc[i], isum, wd + (size_t)i * h * nb + b, xdv, 0xffff);
        }
    }
    if (b < nb) {
        const int count = nb - b;
        const __mmask16 live = (__mmask16)((1u << count) - 1);
        const __m512 xdv = _mm512_maskz_loadu_ps(live, xd + b);
#pragma GCC unroll 4
        for (int i = 0; i < streams; i++) {
            const int8_t *w = wq + (size_t)i * h * row_bytes + (size_t)b * vb;
            const __m512i isum = count <= 8 ? sums16_avx512(w, xq + b * 32, xs + b, count, 1, 0)
                                            : sums16_avx512(w, xq + b * 32, xs + b, count, 0, 0);
            acc[i] = add_scaled16(acc[i], isum, wd + (size_t)i * h * nb + b, xdv, live);
        }
    }
    for (int i = 0; i < streams; i++) {
        const float dot = sum16_tree(acc[i]);
        out[(size_t)i * h] = base ? base[(size_t)i * h] + dot : dot;
    }
}

/* Q4_0 decoding, 4 blocks per 64-byte load. The 16 value bytes of each
 * block sit back to back, so one load holds 4 blocks' nibbles: n & 15 are
 * values 0-15 of each, n >> 4 values 16-31. mmg__q4_arrange_act lays the
 * activation row out to match (per 4 blocks: values 0-15 of each, then
 * 16-31 of each), once per row for every weight row, so no weight byte
 * moves between lanes: per 4 blocks two vpdpbusd leave each block's 32
 * products as 4 int32 partial sums in its 128-bit lane. A block's integer
 * sum is exact in any order, so each output keeps rows_avx512_q4's bits.
 * Half the instructions per block of widening each block to bytes: from L2
 * (768 x 768), 1 thread, 14.6-18.7 -> 22.8-31.1 GB/s; GPT-2-small decode, 1
 * thread, 3 alternated rounds: 188-222 -> 227-274 tok/s. */
TARGET_AVX512 __attribute__((always_inline)) static inline __m512i
q4_sums16(const uint8_t *w, const int8_t *xa, const int32_t *xs, int count) {
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512i z[4];
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        const int left = count - 4 * g; /* blocks of this group that exist */
        if (left <= 0) {
            z[g] = _mm512_setzero_si512();
            continue;
        }
        const __m512i v = left >= 4 ? _mm512_loadu_si512(w + 64 * g)
                                    : _mm512_maskz_loadu_epi8((__mmask64)((1ull << (16 * left)) - 1), w + 64 * g);
        const __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        z[g] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(xa + 128 * g)),
                                   hi, _mm512_loadu_si512(xa + 128 * g + 64));
    }
    /* 4 x 4 transpose-and-add per 128-bit lane: lane 4c + j = the sum of
     * z[j]'s lane c, block 4j + c */
    const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(z[0], z[1]), _mm512_unpackhi_epi32(z[0], z[1]));
    const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(z[2], z[3]), _mm512_unpackhi_epi32(z[2], z[3]));
    const __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i sums = _mm512_permutexvar_epi32(order, t);
    const __mmask16 live = count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1);
    return _mm512_sub_epi32(sums, _mm512_slli_epi32(_mm512_maskz_loadu_epi32(live, xs), 3));
}

/* As Q8_PREFETCH_BYTES: computed this fast, Q4_0 rows also come faster
 * when each row first asks for the lines this far ahead. GPT-2-small
 * decode, 3 alternated rounds: 1 thread 226-273 tok/s without, 239-288 at
 * 4 KB (6 and 8 KB no better); 2 threads 383-454 -> 428-466. */
#define Q4_PREFETCH_BYTES 4096

TARGET_AVX512 static void q4_decode_avx512(float *out, const float *base, const int8_t *wq, const uint16_t *wd,
                                           int n, int nb, const int8_t *xa, const float *xd, const int32_t *xs) {
    for (int r = 0; r < n; r++) {
        const uint8_t *w = (const uint8_t *)wq + (size_t)r * nb * 16;
        const uint16_t *dw = wd + (size_t)r * nb;
        for (int l = 0; l < nb * 16; l += 64) /* see Q4_PREFETCH_BYTES */
            _mm_prefetch((const char *)(w + Q4_PREFETCH_BYTES + l), _MM_HINT_T0);
        __m512 acc = _mm512_setzero_ps();
        int b = 0;
        for (; b + 16 <= nb; b += 16) {
            const __m512i isum = q4_sums16(w + b * 16, xa + b * 32, xs + b, 16);
            acc = add_scaled16(acc, isum, dw + b, _mm512_loadu_ps(xd + b), 0xffff);
        }
        if (b < nb) {
            const int count = nb - b;
            const __mmask16 live = (__mmask16)((1u << count) - 1);
            const __m512i isum = q4_sums16(w + b * 16, xa + b * 32, xs + b, count);
            acc = add_scaled16(acc, isum, dw + b, _mm512_maskz_loadu_ps(live, xd + b), live);
        }
        const float dot = sum16_tree(acc);
        out[r] = base ? base[r] + dot : dot;
    }
}

static int cpu_has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}

#endif /* MMG__Q8_X86 */

#ifdef MMG__Q8_X86

/* ---- AVX-512 VNNI, several input rows: 16 weight rows a lane each ----------------------
 * For prefill and batched decoding. The row kernel above spends most of its
 * work gathering each block's 8 partial sums into one lane; here 16 weight
 * rows are first repacked so that lane j of a vector holds 4 values of row j
 * (vector s of block b: values 4s..4s+3 of every row), and every step
 * multiplies all 16 rows by 4 values of one input row, broadcast: a block's
 * sum per row accumulates in its own lane, with no horizontal work, and the
 * repacking is paid once for all the input rows. The integer sums are exact
 * whatever their order; the float work is the definition's: per (row, input
 * row), block b adds (d_w * d_x) * isum into accumulator b % 16 in block
 * order (the blocks of one accumulator are taken together, accumulator after
 * accumulator), and the 16 accumulators meet in reduce_acc's tree. So each
 * output has the bits the row kernels give. */

/* Four vectors t = 0..3 whose lane j is dword t of the 16 bytes at
 * src + j * stride: four rows to a vector (row 4k + i's dword t at lane
 * 4i + t of z[k]), then two-source permutes pick lane j's dword. */
TARGET_AVX512 __attribute__((always_inline)) static inline void
transpose16x4_avx512(const int8_t *src, size_t stride, __m512i out[4]) {
    __m512i z[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        const int8_t *r = src + (size_t)(4 * k) * stride;
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)r));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(r + stride)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(r + 2 * stride)), 2);
        z[k] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(r + 3 * stride)), 3);
    }
    const __m512i base = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
#pragma GCC unroll 4
    for (int t = 0; t < 4; t++) {
        const __m512i idx = _mm512_add_epi32(base, _mm512_set1_epi32(t));
        out[t] = _mm512_mask_blend_epi32(0xff00, _mm512_permutex2var_epi32(z[0], idx, z[1]),
                                         _mm512_permutex2var_epi32(z[2], idx, z[3]));
    }
}

/* Repacking reads 16 rows as 16 short streams, which the hardware
 * prefetcher does not pick up: each call first asks for the next 16 rows'
 * scales, and each line of blocks for the same line of the next 16 rows
 * (the next call's, rows being taken in order), into L2; past the matrix's
 * end a prefetch fetches nothing that matters and never faults.
 * GPT-2-small, 8 sequences decoded together, 1 thread: Q4_0 239-241 ->
 * 289-297 tok/s, Q8_0 201-213 -> 244-263 (16, 32 or 64 rows ahead alike). */
#define PACK_AHEAD_ROWS 16

/* Repacks 16 rows of nb blocks (Q8_0 values, or Q4_0 nibbles when `q4`)
 * from wq (row stride row_bytes) and their scales (row stride nb) into pk
 * (nb * 8 vectors: the values + 128, unsigned, for vpdpbusd; Q4_0: n - 8 +
 * 128) and dk (nb * 16 floats). */
TARGET_AVX512 static void pack16_avx512(const int8_t *wq, size_t row_bytes, const uint16_t *wd, int nb,
                                        __m512i *pk, float *dk, const int q4) {
    const __m512i off = _mm512_set1_epi8((char)0x80), low = _mm512_set1_epi8(15), q4_off = _mm512_set1_epi8(120);
    const int vb = q4 ? MMG__QUANT_BLOCK / 2 : MMG__QUANT_BLOCK;
    const uint16_t *next_wd = wd + (size_t)PACK_AHEAD_ROWS * nb; /* see PACK_AHEAD_ROWS */
    for (size_t l = 0; l < (size_t)16 * nb * sizeof *wd; l += 64) _mm_prefetch((const char *)next_wd + l, _MM_HINT_T1);
    for (int b = 0; b < nb; b++) {
        __m512i v[4];
        if ((b * vb) % 64 == 0)
            for (int j = 0; j < 16; j++)
                _mm_prefetch((const char *)(wq + (size_t)(PACK_AHEAD_ROWS + j) * row_bytes + (size_t)b * vb),
                             _MM_HINT_T1);
        if (q4) { /* values 4s..: low nibbles of dword s (s < 4), else high nibbles of dword s - 4 */
            transpose16x4_avx512(wq + (size_t)b * 16, row_bytes, v);
            for (int s = 0; s < 4; s++) {
                _mm512_store_si512(pk + (size_t)b * 8 + s, _mm512_add_epi8(_mm512_and_si512(v[s], low), q4_off));
                _mm512_store_si512(pk + (size_t)b * 8 + 4 + s,
                                   _mm512_add_epi8(_mm512_and_si512(_mm512_srli_epi32(v[s], 4), low), q4_off));
            }
        } else {
            for (int h = 0; h < 2; h++) { /* dwords 0-3, then 4-7 */
                transpose16x4_avx512(wq + (size_t)b * 32 + 16 * h, row_bytes, v);
                for (int s = 0; s < 4; s++) _mm512_store_si512(pk + (size_t)b * 8 + 4 * h + s, _mm512_xor_si512(v[s], off));
            }
        }
    }
    /* The scales, row by row (each row's are contiguous), 16 blocks at a
     * time: gathering one block's 16 halves into memory and loading them as
     * a vector stalled on the 16 stores (8 sequences as above: Q4_0 289-297
     * -> 354-378 tok/s, Q8_0 244-263 -> 313-345). */
    for (int j = 0; j < 16; j++)
        for (int b = 0; b < nb; b += 16) {
            const int count = nb - b < 16 ? nb - b : 16;
            _Alignas(64) float f[16];
            _mm512_store_ps(f, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << count) - 1),
                                                                         wd + (size_t)j * nb + b)));
            for (int i = 0; i < count; i++) dk[(size_t)(b + i) * 16 + j] = f[i];
        }
}

/* The 16 rows' sums of block b with one input row (its values at x),
 * 128 * sum(x) taken back: two chains of 4 steps, so that consecutive
 * vpdpbusd do not wait on each other. */
TARGET_AVX512 __attribute__((always_inline)) static inline __m512i
block16_avx512(const __m512i *w, const int8_t *x, int32_t xs) {
    __m512i e = _mm512_setzero_si512(), o = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int s = 0; s < 8; s += 2) {
        int32_t xe, xo; /* broadcast from memory, not through a general register
                           (8 sequences as above: Q4_0 354-378 -> 389-431 tok/s,
                           Q8_0 313-345 -> 375-384) */
        memcpy(&xe, x + 4 * s, 4);
        memcpy(&xo, x + 4 * s + 4, 4);
        e = _mm512_dpbusd_epi32(e, w[s], _mm512_set1_epi32(xe));
        o = _mm512_dpbusd_epi32(o, w[s + 1], _mm512_set1_epi32(xo));
    }
    return _mm512_sub_epi32(_mm512_add_epi32(e, o), _mm512_set1_epi32(xs * 128));
}

#define TILE_X 4 /* input rows computed together: 8 vpdpbusd chains */

/* Outputs of X (a constant, 1..TILE_X) input rows from g0 on, the weights
 * packed in (pk, dk). */
TARGET_AVX512 __attribute__((always_inline)) static inline void
tile_avx512(float *out, size_t ldo, int has_base, const __m512i *pk, const float *dk, int nb, const int8_t *xq,
            const float *xd, const int32_t *xs, size_t x_stride, int g0, const int X) {
    _Alignas(64) float acc[TILE_X][16][16]; /* [input row][accumulator][weight row] */
    for (int a = 0; a < 16; a++) {
        __m512 acc_v[TILE_X];
#pragma GCC unroll 4
        for (int g = 0; g < X; g++) acc_v[g] = _mm512_setzero_ps();
        for (int b = a; b < nb; b += 16) {
            const __m512 dw = _mm512_load_ps(dk + (size_t)b * 16);
#pragma GCC unroll 4
            for (int g = 0; g < X; g++) {
                const size_t row = (size_t)(g0 + g);
                const __m512i isum =
                    block16_avx512(pk + (size_t)b * 8, xq + row * x_stride + (size_t)b * 32, xs[row * (size_t)nb + b]);
                const __m512 sc = _mm512_mul_ps(dw, _mm512_set1_ps(xd[row * (size_t)nb + b]));
                __m512 p = _mm512_mul_ps(sc, _mm512_cvtepi32_ps(isum));
                MMG__FP_BARRIER(p);
                acc_v[g] = _mm512_add_ps(acc_v[g], p);
            }
        }
#pragma GCC unroll 4
        for (int g = 0; g < X; g++) _mm512_store_ps(acc[g][a], acc_v[g]);
    }
    for (int g = 0; g < X; g++) { /* reduce_acc's tree, 16 weight rows at once */
        __m512 c[8];
        for (int i = 0; i < 8; i++) c[i] = _mm512_add_ps(_mm512_load_ps(acc[g][i]), _mm512_load_ps(acc[g][i + 8]));
        for (int i = 0; i < 4; i++) c[i] = _mm512_add_ps(c[i], c[i + 4]);
        for (int i = 0; i < 2; i++) c[i] = _mm512_add_ps(c[i], c[i + 2]);
        __m512 dot = _mm512_add_ps(c[0], c[1]);
        float *o = out + (size_t)(g0 + g) * ldo;
        if (has_base) dot = _mm512_add_ps(_mm512_loadu_ps(o), dot);
        _mm512_storeu_ps(o, dot);
    }
}

TARGET_AVX512 static void multi_avx512_any(float *out, size_t ldo, int has_base, const int8_t *wq,
                                           size_t row_bytes, const uint16_t *wd, int nb, const int8_t *xq,
                                           const float *xd, const int32_t *xs, size_t x_stride, int n_x,
                                           void *work, const int q4) {
    __m512i *pk = work;
    float *dk = (float *)(pk + MMG__Q8_MULTI_MAX_NB * 8);
    pack16_avx512(wq, row_bytes, wd, nb, pk, dk, q4);
    int g0 = 0;
    for (; g0 + TILE_X <= n_x; g0 += TILE_X)
        tile_avx512(out, ldo, has_base, pk, dk, nb, xq, xd, xs, x_stride, g0, TILE_X);
    switch (n_x - g0) {
    case 3: tile_avx512(out, ldo, has_base, pk, dk, nb, xq, xd, xs, x_stride, g0, 3); break;
    case 2: tile_avx512(out, ldo, has_base, pk, dk, nb, xq, xd, xs, x_stride, g0, 2); break;
    case 1: tile_avx512(out, ldo, has_base, pk, dk, nb, xq, xd, xs, x_stride, g0, 1); break;
    default: break;
    }
}

TARGET_AVX512 static void multi_avx512(float *out, size_t ldo, int has_base, const int8_t *wq, size_t row_bytes,
                                       const uint16_t *wd, int nb, const int8_t *xq, const float *xd,
                                       const int32_t *xs, size_t x_stride, int n_x, void *work) {
    multi_avx512_any(out, ldo, has_base, wq, row_bytes, wd, nb, xq, xd, xs, x_stride, n_x, work, 0);
}

TARGET_AVX512 static void multi_avx512_q4(float *out, size_t ldo, int has_base, const int8_t *wq,
                                          size_t row_bytes, const uint16_t *wd, int nb, const int8_t *xq,
                                          const float *xd, const int32_t *xs, size_t x_stride, int n_x,
                                          void *work) {
    multi_avx512_any(out, ldo, has_base, wq, row_bytes, wd, nb, xq, xd, xs, x_stride, n_x, work, 1);
}

#endif /* MMG__Q8_X86 */

/* ---- dispatch ------------------------------------------------------------------------ */

int mmg__q8_kernel_supported(mmg__q8_kernel k) {
    switch (k) {
    case MMG__Q8_KERNEL_AUTO:
    case MMG__Q8_KERNEL_SCALAR: return 1;
#ifdef MMG__Q8_X86
    case MMG__Q8_KERNEL_AVX2: return __builtin_cpu_supports("avx2") && cpu_has_f16c();
    case MMG__Q8_KERNEL_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#endif
    default: return 0;
    }
}

/* The kernel in use, 0 until the first product picks one. Relaxed atomics:
 * threads that race to pick store the same value. */
static int g_kernel;

static mmg__q8_kernel best_kernel(void) {
    if (mmg__q8_kernel_supported(MMG__Q8_KERNEL_AVX512)) return MMG__Q8_KERNEL_AVX512;
    if (mmg__q8_kernel_supported(MMG__Q8_KERNEL_AVX2)) return MMG__Q8_KERNEL_AVX2;
    return MMG__Q8_KERNEL_SCALAR;
}

static mmg__q8_kernel current(void) {
    int k = __atomic_load_n(&g_kernel, __ATOMIC_RELAXED);
    if (k == MMG__Q8_KERNEL_AUTO) {
        k = (int)best_kernel();
        __atomic_store_n(&g_kernel, k, __ATOMIC_RELAXED);
    }
    return (mmg__q8_kernel)k;
}

int mmg__q8_kernel_force(mmg__q8_kernel k) {
    if (!mmg__q8_kernel_supported(k)) return -1;
    __atomic_store_n(&g_kernel, (int)(k == MMG__Q8_KERNEL_AUTO ? best_kernel() : k),
                     __ATOMIC_RELAXED);
    return 0;
}

const char *mmg__q8_kernel_name(void) {
    switch (current()) {
    case MMG__Q8_KERNEL_AVX512: return "avx512_vnni";
    case MMG__Q8_KERNEL_AVX2: return "avx2";
    default: return "scalar";
    }
}

mmg__q8_multi_fn mmg__quant_kernel_multi(int type) {
#ifdef MMG__Q8_X86
    if (current() == MMG__Q8_KERNEL_AVX512 && type == MMG__QUANT_Q4_0) return multi_avx512_q4;
    if (current() == MMG__Q8_KERNEL_AVX512 && type == MMG__QUANT_Q8_0) return multi_avx512;
#endif
    (void)type;
    return NULL;
}

mmg__q8_rows4_fn mmg__quant_kernel_rows4(int type) {
#ifdef MMG__Q8_X86
    if (current() == MMG__Q8_KERNEL_AVX512 && type == MMG__QUANT_Q8_0) return rows4_avx512;
#endif
    (void)type;
    return NULL;
}

mmg__q8_rows_fn mmg__quant_kernel_q4_decode(void) {
#ifdef MMG__Q8_X86
    if (current() == MMG__Q8_KERNEL_AVX512) return q4_decode_avx512;
#endif
    return NULL;
}

mmg__q8_rows_fn mmg__quant_kernel_rows(int type) {
    const int q4 = type == MMG__QUANT_Q4_0;
    switch (current()) {
#ifdef MMG__Q8_X86
    case MMG__Q8_KERNEL_AVX512: return q4 ? rows_avx512_q4 : rows_avx512;
    case MMG__Q8_KERNEL_AVX2: return q4 ? rows_avx2_q4 : rows_avx2;
#endif
    default: return q4 ? rows_scalar_q4 : rows_scalar;
    }
}
