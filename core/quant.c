/* core/quant.c - Q8_0 weights (see quant.h and ABI.md, "Quantized weights"): converting
 * between floats, the in-memory arrays and the file's 34-byte blocks, the
 * reference product, and the linear layer that quantizes its input rows and
 * hands 64-row blocks of the weight to the kernel of quant_kernels.c on the
 * OpenMP threads. */
#include "quant.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "error.h"
#include "memory.h"
#include "ops.h"
#include "safetensors.h"

/* ---- sizes -------------------------------------------------------------------- */

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t mmg__q8_values_bytes(size_t rows, size_t cols) { return round64(rows * cols); }

size_t mmg__q8_scales_bytes(size_t rows, size_t cols) {
    return round64(rows * (cols / MMG__Q8_BLOCK) * sizeof(uint16_t));
}

/* ---- weights -------------------------------------------------------------------- */

size_t mmg__q8_quantize(const float *x, size_t n_blocks, int8_t *q, uint16_t *d) {
    for (size_t k = 0; k < n_blocks; k++) {
        const float *xb = x + k * MMG__Q8_BLOCK;
        int8_t *qb = q + k * MMG__Q8_BLOCK;
        float amax = 0.0f;
        int finite = 1;
        for (int i = 0; i < MMG__Q8_BLOCK; i++) {
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
        for (int i = 0; i < MMG__Q8_BLOCK; i++) qb[i] = use ? (int8_t)roundf(xb[i] * id) : 0;
        d[k] = h;
    }
    return 0;
}

void mmg__q8_dequantize(const int8_t *q, const uint16_t *d, size_t n_blocks, float *x) {
    for (size_t k = 0; k < n_blocks; k++) {
        const float dk = mmg__f16_to_f32(d[k]);
        for (int i = 0; i < MMG__Q8_BLOCK; i++)
            x[k * MMG__Q8_BLOCK + i] = (float)q[k * MMG__Q8_BLOCK + i] * dk;
    }
}

/* One block in its file form. */
static void pack_block(const int8_t *q, uint16_t d, uint8_t *dst) {
    dst[0] = (uint8_t)(d & 0xffu);
    dst[1] = (uint8_t)(d >> 8);
    memcpy(dst + 2, q, MMG__Q8_BLOCK);
}

void mmg__q8_pack(const int8_t *q, const uint16_t *d, size_t offset, uint8_t *dst, size_t n) {
    while (n > 0) {
        size_t k = offset / MMG__Q8_BLOCK_BYTES, in = offset % MMG__Q8_BLOCK_BYTES;
        if (in == 0 && n >= MMG__Q8_BLOCK_BYTES) {
            pack_block(q + k * MMG__Q8_BLOCK, d[k], dst);
            dst += MMG__Q8_BLOCK_BYTES, offset += MMG__Q8_BLOCK_BYTES, n -= MMG__Q8_BLOCK_BYTES;
            continue;
        }
        /* a block cut by the start or the end of the range */
        uint8_t blk[MMG__Q8_BLOCK_BYTES];
        pack_block(q + k * MMG__Q8_BLOCK, d[k], blk);
        size_t take = MMG__Q8_BLOCK_BYTES - in < n ? MMG__Q8_BLOCK_BYTES - in : n;
        memcpy(dst, blk + in, take);
        dst += take, offset += take, n -= take;
    }
}

size_t mmg__q8_unpack(const uint8_t *src, size_t n_blocks, int8_t *q, uint16_t *d) {
    for (size_t k = 0; k < n_blocks; k++) {
        const uint8_t *b = src + k * MMG__Q8_BLOCK_BYTES;
        int bad = 0;
        for (int i = 0; i < MMG__Q8_BLOCK; i++) bad |= b[2 + i] == 0x80u;
        if (bad) return k + 1;
        d[k] = (uint16_t)(b[0] | (b[1] << 8));
        memcpy(q + k * MMG__Q8_BLOCK, b + 2, MMG__Q8_BLOCK);
    }
    return 0;
}

/* ---- activations ------------------------------------------------------------------ */

void mmg__q8_quantize_act(const float *x, int cols, int8_t *q, float *d, int32_t *s) {
    const int nb = cols / MMG__Q8_BLOCK;
    for (int b = 0; b < nb; b++) {
        const float *xb = x + (size_t)b * MMG__Q8_BLOCK;
        int8_t *qb = q + (size_t)b * MMG__Q8_BLOCK;
        float amax = 0.0f;
        int finite = 1;
        for (int i = 0; i < MMG__Q8_BLOCK; i++) {
            const float a = fabsf(xb[i]);
            finite &= a <= FLT_MAX;
            amax = a > amax ? a : amax;
        }
        const float db = amax / 127.0f;
        if (!finite || !(db >= FLT_MIN)) {
            memset(qb, 0, MMG__Q8_BLOCK);
            d[b] = finite ? 0.0f : NAN;
            s[b] = 0;
            continue;
        }
        const float id = 1.0f / db;
        int32_t sum = 0;
        for (int i = 0; i < MMG__Q8_BLOCK; i++) {
            /* |x * id| <= 127 (1 + 2^-22): always rounds into [-127, 127] */
            const int32_t v = (int32_t)lrintf(xb[i] * id);
            qb[i] = (int8_t)v;
            sum += v;
        }
        d[b] = db;
        s[b] = sum;
    }
}

size_t mmg__q8_scratch_bytes(int cols) {
    const size_t n = (size_t)MMG__Q8_SCRATCH_ROWS, c = (size_t)cols;
    return n * c + n * (c / MMG__Q8_BLOCK) * (sizeof(float) + sizeof(int32_t));
}

mmg_status mmg__q8_scratch_create(int cols, mmg__q8_scratch **out) {
    mmg__q8_scratch *s = mmg__calloc(1, sizeof *s);
    const size_t n = (size_t)MMG__Q8_SCRATCH_ROWS, c = (size_t)cols, nb = c / MMG__Q8_BLOCK;
    if (s) {
        s->cols = cols;
        s->q = mmg__malloc(n * c);
        s->d = mmg__malloc(n * nb * sizeof *s->d);
        s->s = mmg__malloc(n * nb * sizeof *s->s);
    }
    if (!s || !s->q || !s->d || !s->s) {
        mmg__q8_scratch_free(s);
        return mmg__error(MMG_ERR_NOMEM, "out of memory for the Q8_0 activation scratch (%zu bytes)",
                          mmg__q8_scratch_bytes(cols));
    }
    *out = s;
    return MMG_OK;
}

void mmg__q8_scratch_free(mmg__q8_scratch *s) {
    if (!s) return;
    mmg__free(s->q);
    mmg__free(s->d);
    mmg__free(s->s);
    mmg__free(s);
}

/* ---- the product ------------------------------------------------------------------- */

float mmg__q8_dot_ref(const int8_t *wq, const uint16_t *wd, int nb, const int8_t *xq,
                      const float *xd) {
    float acc[16] = {0};
    for (int b = 0; b < nb; b++) {
        int32_t isum = 0;
        for (int i = 0; i < MMG__Q8_BLOCK; i++)
            isum += (int32_t)wq[b * MMG__Q8_BLOCK + i] * (int32_t)xq[b * MMG__Q8_BLOCK + i];
        const float s = mmg__f16_to_f32(wd[b]) * xd[b];
        float p = s * (float)isum; /* |isum| <= 32 * 127^2 < 2^24: exact */
        MMG__FP_BARRIER(p);
        acc[b & 15] += p;
    }
    for (int i = 0; i < 8; i++) acc[i] += acc[i + 8];
    for (int i = 0; i < 4; i++) acc[i] += acc[i + 4];
    for (int i = 0; i < 2; i++) acc[i] += acc[i + 2];
    return acc[0] + acc[1];
}

/* Rows of W per task, as mmg__sgemm's matrix-vector blocks; and the work
 * below which one thread does it all (a parallel region costs more). */
#define Q8_ROWS_BLOCK 64
#define Q8_PAR_MIN 32768

void mmg__q8_linear(float *out, const float *inp, const mmg__q8_matrix *w, const float *bias,
                    const float *resid, int N, mmg__q8_scratch *scratch) {
    const int IC = w->cols, OC = w->rows, nb = IC / MMG__Q8_BLOCK;
    /* The base each output is added to: resid + bias, as the F32 path. */
    const int has_base = mmg__linear_base(out, bias, resid, N, OC);
    const mmg__q8_rows_fn kernel = mmg__q8_kernel_rows();
    const int n_blocks = (OC + Q8_ROWS_BLOCK - 1) / Q8_ROWS_BLOCK;
    for (int g0 = 0; g0 < N; g0 += MMG__Q8_SCRATCH_ROWS) {
        const int n = N - g0 < MMG__Q8_SCRATCH_ROWS ? N - g0 : MMG__Q8_SCRATCH_ROWS;
#pragma omp parallel for schedule(static) if ((size_t)n * IC >= Q8_PAR_MIN)
        for (int g = 0; g < n; g++)
            mmg__q8_quantize_act(inp + (size_t)(g0 + g) * IC, IC, scratch->q + (size_t)g * IC,
                                 scratch->d + (size_t)g * nb, scratch->s + (size_t)g * nb);
#pragma omp parallel for schedule(static) if (n_blocks > 1 && (size_t)OC * IC >= Q8_PAR_MIN)
        for (int jb = 0; jb < n_blocks; jb++) {
            const int r0 = jb * Q8_ROWS_BLOCK;
            const int rows = OC - r0 < Q8_ROWS_BLOCK ? OC - r0 : Q8_ROWS_BLOCK;
            const int8_t *wq = w->q + (size_t)r0 * IC;
            const uint16_t *wd = w->d + (size_t)r0 * nb;
            for (int g = 0; g < n; g++) {
                float *o = out + (size_t)(g0 + g) * OC + r0;
                kernel(o, has_base ? o : NULL, wq, wd, rows, nb, scratch->q + (size_t)g * IC,
                       scratch->d + (size_t)g * nb, scratch->s + (size_t)g * nb);
            }
        }
    }
}
