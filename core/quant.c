/* core/quant.c - Q8_0, Q4_0 and F16 weights (see quant.h and ABI.md,
 * "Quantized weights"): converting between floats, the in-memory arrays and
 * the file's blocks, the reference products, and the linear layer that
 * quantizes its input rows and hands 64-row blocks of the weight to the
 * kernel of quant_kernels.c on the OpenMP threads (F16: to gemv.h's). */
#include "quant.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "error.h"
#include "gemv.h"
#include "memory.h"
#include "ops.h"
#include "safetensors.h"
#include "threads.h"

/* ---- types and sizes ---------------------------------------------------------- */

static const mmg__quant_type TYPES[] = {
    [MMG__QUANT_Q8_0] = {"q8_0", "Q8_0", 32, 34, "8.3e6"},
    [MMG__QUANT_Q4_0] = {"q4_0", "Q4_0", 16, 18, "5.2e5"},
    [MMG__QUANT_F16] = {"f16", "F16", 64, 64, "65504"},
};

const mmg__quant_type *mmg__quant_type_of(int type) {
    return type >= MMG__QUANT_Q8_0 && type <= MMG__QUANT_F16 ? &TYPES[type] : NULL;
}

int mmg__quant_type_by_name(const char *name) {
    for (int t = MMG__QUANT_Q8_0; t <= MMG__QUANT_F16; t++)
        if (strcmp(name, TYPES[t].name) == 0) return t;
    return MMG__QUANT_NONE;
}

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t mmg__quant_values_bytes(int type, size_t rows, size_t cols) {
    return round64(rows * (cols / MMG__QUANT_BLOCK) * TYPES[type].value_bytes);
}

size_t mmg__quant_scales_bytes(int type, size_t rows, size_t cols) {
    return type == MMG__QUANT_F16 ? 0 : round64(rows * (cols / MMG__QUANT_BLOCK) * sizeof(uint16_t));
}

/* ---- weights -------------------------------------------------------------------- */

size_t mmg__q8_quantize(const float *x, size_t n_blocks, int8_t *q, uint16_t *d) {
    for (size_t k = 0; k < n_blocks; k++) {
        const float *xb = x + k * MMG__QUANT_BLOCK;
        int8_t *qb = q + k * MMG__QUANT_BLOCK;
        float amax = 0.0f;
        int finite = 1;
        for (int i = 0; i < MMG__QUANT_BLOCK; i++) {
            const float a = fabsf(xb[i]);
            finite &= a <= FLT_MAX;
            amax = a > amax ? a : amax;
        }
        if (!finite) return k + 1;
        const float dk = amax / 127.0f;
        const uint16_t h = mmg__f32_to_f16(dk);
        if ((h & 0x7c00u) == 0x7c00u) return k + 1; /* the scale overflows a half */
        /* ggml: id = d ? 1/d : 0. A scale so small that 1/d overflows is a
         * half 0 anyway: write zeros rather than round(x * inf). */
        const float id = dk != 0.0f ? 1.0f / dk : 0.0f;
        const int use = id <= FLT_MAX;
        for (int i = 0; i < MMG__QUANT_BLOCK; i++) qb[i] = use ? (int8_t)roundf(xb[i] * id) : 0;
        d[k] = h;
    }
    return 0;
}

void mmg__q8_dequantize(const int8_t *q, const uint16_t *d, size_t n_blocks, float *x) {
    for (size_t k = 0; k < n_blocks; k++) {
        const float dk = mmg__f16_to_f32(d[k]);
        for (int i = 0; i < MMG__QUANT_BLOCK; i++)
            x[k * MMG__QUANT_BLOCK + i] = (float)q[k * MMG__QUANT_BLOCK + i] * dk;
    }
}

size_t mmg__q4_quantize(const float *x, size_t n_blocks, uint8_t *q, uint16_t *d) {
    for (size_t k = 0; k < n_blocks; k++) {
        const float *xb = x + k * MMG__QUANT_BLOCK;
        uint8_t *qb = q + k * (MMG__QUANT_BLOCK / 2);
        float amax = 0.0f, m = 0.0f;
        int finite = 1;
        for (int i = 0; i < MMG__QUANT_BLOCK; i++) {
            const float a = fabsf(xb[i]);
            finite &= a <= FLT_MAX;
            if (amax < a) amax = a, m = xb[i];
        }
        if (!finite) return k + 1;
        const float dk = m / -8.0f;
        const uint16_t h = mmg__f32_to_f16(dk);
        if ((h & 0x7c00u) == 0x7c00u) return k + 1; /* the scale overflows a half */
        const float id = dk != 0.0f ? 1.0f / dk : 0.0f;
        /* 1/d overflows only for a scale that is a half 0 anyway: zero weights
         * (n = 8) rather than converting x * inf to an integer */
        const int use = fabsf(id) <= FLT_MAX;
        for (int j = 0; j < MMG__QUANT_BLOCK / 2; j++) {
            /* |x * id| <= 8 (1 + 2^-23): x * id + 8.5 is in (0, 17) */
            float y0 = xb[j] * id, y1 = xb[j + MMG__QUANT_BLOCK / 2] * id;
            MMG__FP_BARRIER(y0); /* rounded before the add, as ggml's C (no FMA) */
            MMG__FP_BARRIER(y1);
            const int n0 = use ? (int)(int8_t)(y0 + 8.5f) : 8;
            const int n1 = use ? (int)(int8_t)(y1 + 8.5f) : 8;
            qb[j] = (uint8_t)((n0 < 15 ? n0 : 15) | (n1 < 15 ? n1 : 15) << 4);
        }
        d[k] = h;
    }
    return 0;
}

void mmg__q4_dequantize(const uint8_t *q, const uint16_t *d, size_t n_blocks, float *x) {
    for (size_t k = 0; k < n_blocks; k++) {
        const float dk = mmg__f16_to_f32(d[k]);
        const uint8_t *qb = q + k * (MMG__QUANT_BLOCK / 2);
        float *xb = x + k * MMG__QUANT_BLOCK;
        for (int j = 0; j < MMG__QUANT_BLOCK / 2; j++) {
            xb[j] = (float)((qb[j] & 15) - 8) * dk;
            xb[j + MMG__QUANT_BLOCK / 2] = (float)((qb[j] >> 4) - 8) * dk;
        }
    }
}

size_t mmg__f16_quantize(const float *x, size_t n_blocks, uint16_t *h) {
    for (size_t k = 0; k < n_blocks; k++) {
        int bad = 0;
        for (size_t i = k * MMG__QUANT_BLOCK; i < (k + 1) * MMG__QUANT_BLOCK; i++) {
            h[i] = mmg__f32_to_f16(x[i]);
            bad |= (h[i] & 0x7c00u) == 0x7c00u; /* NaN, inf, or rounded past 65504 */
        }
        if (bad) return k + 1;
    }
    return 0;
}

size_t mmg__quant_quantize(int type, const float *x, size_t n_blocks, int8_t *q, uint16_t *d) {
    switch (type) {
    case MMG__QUANT_Q4_0: return mmg__q4_quantize(x, n_blocks, (uint8_t *)q, d);
    case MMG__QUANT_F16: return mmg__f16_quantize(x, n_blocks, (uint16_t *)(void *)q);
    default: return mmg__q8_quantize(x, n_blocks, q, d);
    }
}

void mmg__quant_dequantize(int type, const int8_t *q, const uint16_t *d, size_t n_blocks, float *x) {
    if (type == MMG__QUANT_Q4_0) {
        mmg__q4_dequantize((const uint8_t *)q, d, n_blocks, x);
    } else if (type == MMG__QUANT_F16) {
        const uint16_t *h = (const uint16_t *)(const void *)q;
        for (size_t i = 0; i < n_blocks * MMG__QUANT_BLOCK; i++) x[i] = mmg__f16_to_f32(h[i]);
    } else {
        mmg__q8_dequantize(q, d, n_blocks, x);
    }
}

/* ---- the file's blocks: d little-endian, then the values as they are in memory ---- */

static void pack_block(const int8_t *q, uint16_t d, size_t value_bytes, uint8_t *dst) {
    dst[0] = (uint8_t)(d & 0xffu);
    dst[1] = (uint8_t)(d >> 8);
    memcpy(dst + 2, q, value_bytes);
}

void mmg__quant_pack(int type, const int8_t *q, const uint16_t *d, size_t offset, uint8_t *dst,
                     size_t n) {
    const size_t vb = TYPES[type].value_bytes, bb = TYPES[type].block_bytes;
    while (n > 0) {
        size_t k = offset / bb, in = offset % bb;
        if (in == 0 && n >= bb) {
            pack_block(q + k * vb, d[k], vb, dst);
            dst += bb, offset += bb, n -= bb;
            continue;
        }
        /* a block cut by the start or the end of the range */
        uint8_t blk[2 + MMG__QUANT_BLOCK];
        pack_block(q + k * vb, d[k], vb, blk);
        size_t take = bb - in < n ? bb - in : n;
        memcpy(dst, blk + in, take);
        dst += take, offset += take, n -= take;
    }
}

size_t mmg__quant_unpack(int type, const uint8_t *src, size_t n_blocks, int8_t *q, uint16_t *d) {
    const size_t vb = TYPES[type].value_bytes, bb = TYPES[type].block_bytes;
    for (size_t k = 0; k < n_blocks; k++) {
        const uint8_t *b = src + k * bb;
        if (type == MMG__QUANT_Q8_0) {
            int bad = 0;
            for (size_t i = 0; i < vb; i++) bad |= b[2 + i] == 0x80u;
            if (bad) return k + 1;
        }
        d[k] = (uint16_t)(b[0] | (b[1] << 8));
        memcpy(q + k * vb, b + 2, vb);
    }
    return 0;
}

/* ---- activations ------------------------------------------------------------------ */

void mmg__q8_quantize_act(const float *x, int cols, int8_t *q, float *d, int32_t *s) {
    const int nb = cols / MMG__QUANT_BLOCK;
    for (int b = 0; b < nb; b++) {
        const float *xb = x + (size_t)b * MMG__QUANT_BLOCK;
        int8_t *qb = q + (size_t)b * MMG__QUANT_BLOCK;
        float amax = 0.0f;
        int finite = 1;
        for (int i = 0; i < MMG__QUANT_BLOCK; i++) {
            const float a = fabsf(xb[i]);
            finite &= a <= FLT_MAX;
            amax = a > amax ? a : amax;
        }
        const float db = amax / 127.0f;
        if (!finite || !(db >= FLT_MIN)) {
            memset(qb, 0, MMG__QUANT_BLOCK);
            d[b] = finite ? 0.0f : NAN;
            s[b] = 0;
            continue;
        }
        const float id = 1.0f / db;
        int32_t sum = 0;
        for (int i = 0; i < MMG__QUANT_BLOCK; i++) {
            /* |x * id| <= 127 (1 + 2^-22): always rounds into [-127, 127] */
            const int32_t v = (int32_t)lrintf(xb[i] * id);
            qb[i] = (int8_t)v;
            sum += v;
        }
        d[b] = db;
        s[b] = sum;
    }
}

size_t mmg__q8_scratch_bytes(int cols, int threads) {
    const size_t n = (size_t)MMG__Q8_SCRATCH_ROWS, c = (size_t)cols;
    return n * c + n * (c / MMG__QUANT_BLOCK) * (sizeof(float) + sizeof(int32_t)) +
           (size_t)threads * MMG__Q8_WORK_BYTES + 64;
}

mmg_status mmg__q8_scratch_create(int cols, int threads, mmg__q8_scratch **out) {
    mmg__q8_scratch *s = mmg__calloc(1, sizeof *s);
    const size_t n = (size_t)MMG__Q8_SCRATCH_ROWS, c = (size_t)cols, nb = c / MMG__QUANT_BLOCK;
    if (s) {
        s->cols = cols;
        s->threads = threads;
        s->q = mmg__malloc(n * c);
        s->d = mmg__malloc(n * nb * sizeof *s->d);
        s->s = mmg__malloc(n * nb * sizeof *s->s);
        s->work_mem = mmg__malloc((size_t)threads * MMG__Q8_WORK_BYTES + 64);
        s->work = s->work_mem ? (void *)(((uintptr_t)s->work_mem + 63) & ~(uintptr_t)63) : NULL;
    }
    if (!s || !s->q || !s->d || !s->s || !s->work_mem) {
        mmg__q8_scratch_free(s);
        return mmg__error(MMG_ERR_NOMEM, "out of memory for the Q8_0 activation scratch (%zu bytes)",
                          mmg__q8_scratch_bytes(cols, threads));
    }
    *out = s;
    return MMG_OK;
}

void mmg__q8_scratch_free(mmg__q8_scratch *s) {
    if (!s) return;
    mmg__free(s->q);
    mmg__free(s->d);
    mmg__free(s->s);
    mmg__free(s->work_mem);
    mmg__free(s);
}

/* ---- the product ------------------------------------------------------------------- */

/* The definition's float part, shared by both types: block b's exact
 * integer sum, scaled, into accumulator b % 16; then the fixed tree. */
static inline void add_block(float *acc, int b, uint16_t wd, float xd, int32_t isum) {
    const float s = mmg__f16_to_f32(wd) * xd;
    float p = s * (float)isum; /* |isum| < 2^24 for both types: exact */
    MMG__FP_BARRIER(p);
    acc[b & 15] += p;
}

static inline float reduce_acc(float *acc) {
    for (int i = 0; i < 8; i++) acc[i] += acc[i + 8];
    for (int i = 0; i < 4; i++) acc[i] += acc[i + 4];
    for (int i = 0; i < 2; i++) acc[i] += acc[i + 2];
    return acc[0] + acc[1];
}

float mmg__q8_dot_ref(const int8_t *wq, const uint16_t *wd, int nb, const int8_t *xq,
                      const float *xd) {
    float acc[16] = {0};
    for (int b = 0; b < nb; b++) {
        int32_t isum = 0; /* |isum| <= 32 * 127^2 */
        for (int i = 0; i < MMG__QUANT_BLOCK; i++)
            isum += (int32_t)wq[b * MMG__QUANT_BLOCK + i] * (int32_t)xq[b * MMG__QUANT_BLOCK + i];
        add_block(acc, b, wd[b], xd[b], isum);
    }
    return reduce_acc(acc);
}

float mmg__q4_dot_ref(const uint8_t *wq, const uint16_t *wd, int nb, const int8_t *xq,
                      const float *xd) {
    float acc[16] = {0};
    for (int b = 0; b < nb; b++) {
        const uint8_t *w = wq + b * (MMG__QUANT_BLOCK / 2);
        const int8_t *x = xq + b * MMG__QUANT_BLOCK;
        int32_t isum = 0; /* |isum| <= 32 * 8 * 127 */
        for (int j = 0; j < MMG__QUANT_BLOCK / 2; j++)
            isum += ((w[j] & 15) - 8) * (int32_t)x[j] + ((w[j] >> 4) - 8) * (int32_t)x[j + 16];
        add_block(acc, b, wd[b], xd[b], isum);
    }
    return reduce_acc(acc);
}

/* Rows of W per task, as mmg__sgemm's matrix-vector blocks. Below
 * MMG__PAR_MIN multiply-adds one thread does it all. */
#define Q8_ROWS_BLOCK 64

/* Q4_0 rows as Q8_0 values: n - 8 in [-8, 7], 32 bytes a block. The Q8_0
 * kernels then compute the same exact integer sums and the same float
 * operations as the Q4_0 ones, so the bits do not change. */
static void q4_rows_to_q8(const uint8_t *q, size_t n_blocks, int8_t *out) {
#ifdef __SSE2__
    const __m128i low = _mm_set1_epi8(15), eight = _mm_set1_epi8(8);
    for (size_t k = 0; k < n_blocks; k++) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(q + 16 * k));
        _mm_storeu_si128((__m128i *)(out + 32 * k), _mm_sub_epi8(_mm_and_si128(v, low), eight));
        _mm_storeu_si128((__m128i *)(out + 32 * k + 16),
                         _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), low), eight));
    }
#else
    for (size_t k = 0; k < n_blocks; k++)
        for (int j = 0; j < MMG__QUANT_BLOCK / 2; j++) {
            out[32 * k + j] = (int8_t)((q[16 * k + j] & 15) - 8);
            out[32 * k + 16 + j] = (int8_t)((q[16 * k + j] >> 4) - 8);
        }
#endif
}

void mmg__q4_arrange_act(const int8_t *xq, int nb, int8_t *out) {
    memset(out, 0, mmg__q4_arranged_bytes(nb));
    for (int b = 0; b < nb; b++) {
        int8_t *g = out + (size_t)(b / 4) * 128 + (size_t)(b % 4) * 16;
        memcpy(g, xq + (size_t)b * 32, 16);
        memcpy(g + 64, xq + (size_t)b * 32 + 16, 16);
    }
}

/* Up to this many input rows, Q4_0 products go one row at a time through
 * decode_row (same bits): repacking 16 rows for the several-row kernel costs
 * more than it saves for two. GPT-2-small, 2 sequences decoded together:
 * 1 thread 217 tok/s in all vs 241 for one sequence alone, 2 threads 307 vs
 * 420; 3 sequences 269 / 490. Q8_0 gains from 2 rows on (184 vs 148). */
#define Q4_DECODE_ROWS 2

/* Input row g of the scratch (decoding) against W, each thread one run of
 * W's rows, with the kernels made for one row: Q4_0 4 blocks a load (the row
 * laid out once, in the first work area, which decoding does not use
 * otherwise), Q8_0 four rows in lockstep as four streams (the rows left over
 * one at a time). Returns 0, having done nothing, when the kernel in use has
 * neither for W's type. */
static int decode_row(float *out, int has_base, const mmg__qmatrix *w, size_t row_bytes, int threads,
                      const mmg__q8_scratch *scratch, int g) {
    const int nb = w->cols / MMG__QUANT_BLOCK;
    const int8_t *xq = scratch->q + (size_t)g * w->cols;
    const float *xd = scratch->d + (size_t)g * nb;
    const int32_t *xs = scratch->s + (size_t)g * nb;
    const mmg__q8_rows_fn q4 = w->type == MMG__QUANT_Q4_0 && mmg__q4_arranged_bytes(nb) <= MMG__Q8_WORK_BYTES
                                   ? mmg__quant_kernel_q4_decode()
                                   : NULL;
    const mmg__q8_rows4_fn rows4 = mmg__quant_kernel_rows4(w->type);
    if (!q4 && !rows4) return 0;
    const mmg__q8_rows_fn kernel = mmg__quant_kernel_rows(w->type);
    const int8_t *x = xq;
    if (q4) {
        mmg__q4_arrange_act(xq, nb, (int8_t *)scratch->work);
        x = (const int8_t *)scratch->work;
    }
#pragma omp parallel num_threads(threads) if ((size_t)w->rows * w->cols >= MMG__PAR_MIN)
    {
        const int T = omp_get_num_threads(), t = omp_get_thread_num();
        const int lo = (int)((int64_t)w->rows * t / T), hi = (int)((int64_t)w->rows * (t + 1) / T);
        int r = lo;
        if (q4) {
            q4(out + r, has_base ? out + r : NULL, w->q + (size_t)r * row_bytes, w->d + (size_t)r * nb, hi - r, nb,
               x, xd, xs);
            r = hi;
        } else {
            const size_t h = (size_t)(hi - lo) / 4;
            for (; r < lo + (int)h; r++)
                rows4(out + r, has_base ? out + r : NULL, w->q + (size_t)r * row_bytes, w->d + (size_t)r * nb, h, nb,
                      x, xd, xs);
            r = lo + (int)(4 * h);
        }
        if (r < hi)
            kernel(out + r, has_base ? out + r : NULL, w->q + (size_t)r * row_bytes, w->d + (size_t)r * nb, hi - r,
                   nb, x, xd, xs);
    }
    return 1;
}

void mmg__quant_linear(float *out, const float *inp, const mmg__qmatrix *w, const float *bias,
                       const float *resid, int N, mmg__q8_scratch *scratch) {
    const int IC = w->cols, OC = w->rows, nb = IC / MMG__QUANT_BLOCK;
    /* The base each output is added to: resid + bias, as the F32 path. */
    const int has_base = mmg__linear_base(out, bias, resid, N, OC);
    const int n_blocks = (OC + Q8_ROWS_BLOCK - 1) / Q8_ROWS_BLOCK;
    if (w->type == MMG__QUANT_F16) { /* F32 activations */
        /* Each thread one run of rows (64-row blocks cut the streams short:
         * GPT-2-small decode, 1 thread: 92-101 -> 116-134 tok/s). */
        mmg__gemv_rows_f16_par(out, OC, has_base, (const uint16_t *)(const void *)w->q, OC, IC, inp, N);
        return;
    }
    const mmg__q8_rows_fn kernel = mmg__quant_kernel_rows(w->type);
    const mmg__q8_multi_fn multi = nb <= MMG__Q8_MULTI_MAX_NB ? mmg__quant_kernel_multi(w->type) : NULL;
    const size_t row_bytes = (size_t)nb * mmg__quant_type_of(w->type)->value_bytes;
    /* With several input rows, Q4_0 weights are widened to bytes once per
     * few rows for all of them (the Q8_0 kernel's inner loop is shorter);
     * one row (decoding) reads the 4-bit values directly. */
    const int widen = w->type == MMG__QUANT_Q4_0 && IC <= MMG__Q4_WIDE_BYTES;
    const int wide_rows = widen ? MMG__Q4_WIDE_BYTES / IC : 0;
    const mmg__q8_rows_fn q8_kernel = mmg__quant_kernel_rows(MMG__QUANT_Q8_0);
    for (int g0 = 0; g0 < N; g0 += MMG__Q8_SCRATCH_ROWS) {
        const int n = N - g0 < MMG__Q8_SCRATCH_ROWS ? N - g0 : MMG__Q8_SCRATCH_ROWS;
#pragma omp parallel for schedule(static) if ((size_t)n * IC >= MMG__PAR_MIN)
        for (int g = 0; g < n; g++)
            mmg__q8_quantize_act(inp + (size_t)(g0 + g) * IC, IC, scratch->q + (size_t)g * IC,
                                 scratch->d + (size_t)g * nb, scratch->s + (size_t)g * nb);
        /* at most one thread per work area */
        const int threads = omp_get_max_threads() < scratch->threads ? omp_get_max_threads()
                                                                     : scratch->threads;
        if (n <= (w->type == MMG__QUANT_Q4_0 ? Q4_DECODE_ROWS : 1)) { /* see Q4_DECODE_ROWS */
            int done = 1;
            for (int g = 0; g < n && done; g++)
                done = decode_row(out + (size_t)(g0 + g) * OC, has_base, w, row_bytes, threads, scratch, g);
            if (done) continue; /* else the kernel in use has no one-row kernel for W (none was called) */
        }
#pragma omp parallel for schedule(static) num_threads(threads) \
    if (n_blocks > 1 && (size_t)OC * IC >= MMG__PAR_MIN)
        for (int jb = 0; jb < n_blocks; jb++) {
            uint8_t *work = (uint8_t *)scratch->work + (size_t)omp_get_thread_num() * MMG__Q8_WORK_BYTES;
            const int r0 = jb * Q8_ROWS_BLOCK;
            const int rows = OC - r0 < Q8_ROWS_BLOCK ? OC - r0 : Q8_ROWS_BLOCK;
            const int8_t *wq = w->q + (size_t)r0 * row_bytes;
            const uint16_t *wd = w->d + (size_t)r0 * nb;
            if (multi && n > 1) {
                /* 16 weight rows at a time for all n input rows; a last
                 * group of fewer rows goes through the rows kernel */
                int s = 0;
                for (; s + MMG__Q8_MULTI_ROWS <= rows; s += MMG__Q8_MULTI_ROWS)
                    multi(out + (size_t)g0 * OC + r0 + s, (size_t)OC, has_base, wq + (size_t)s * row_bytes,
                          row_bytes, wd + (size_t)s * nb, nb, scratch->q, scratch->d, scratch->s, (size_t)IC, n,
                          work);
                for (int g = 0; s < rows && g < n; g++) {
                    float *o = out + (size_t)(g0 + g) * OC + r0 + s;
                    kernel(o, has_base ? o : NULL, wq + (size_t)s * row_bytes, wd + (size_t)s * nb, rows - s, nb,
                           scratch->q + (size_t)g * IC, scratch->d + (size_t)g * nb, scratch->s + (size_t)g * nb);
                }
                continue;
            }
            if (widen && n > 1) {
                int8_t *wide = (int8_t *)work + MMG__Q8_MULTI_WORK_BYTES;
                for (int s = 0; s < rows; s += wide_rows) {
                    const int m = rows - s < wide_rows ? rows - s : wide_rows;
                    q4_rows_to_q8((const uint8_t *)wq + (size_t)s * row_bytes, (size_t)m * nb, wide);
                    for (int g = 0; g < n; g++) {
                        float *o = out + (size_t)(g0 + g) * OC + r0 + s;
                        q8_kernel(o, has_base ? o : NULL, wide, wd + (size_t)s * nb, m, nb,
                                  scratch->q + (size_t)g * IC, scratch->d + (size_t)g * nb,
                                  scratch->s + (size_t)g * nb);
                    }
                }
                continue;
            }
            for (int g = 0; g < n; g++) {
                float *o = out + (size_t)(g0 + g) * OC + r0;
                kernel(o, has_base ? o : NULL, wq, wd, rows, nb, scratch->q + (size_t)g * IC,
                       scratch->d + (size_t)g * nb, scratch->s + (size_t)g * nb);
            }
        }
    }
}
