/* core/ops.c - the transformer's forward kernels (see ops.h).
 *
 * Written for clarity first; the heavy work is in the BLAS calls, and the
 * loops here are split over independent rows so OpenMP can share them out
 * without changing any result bit. */
#include "ops.h"

/* mmgen never inspects floating-point exception flags, so let GCC assume
 * comparisons do not trap: that is what lets it turn the clamps and selects
 * of the loops below into vector code (with trapping math it keeps a branch
 * per element). Results are unchanged. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "gemv.h"
#include "mmgen/model.h"
#include "quant.h"
#include "threads.h"
#include "train_math.h"

/* ---- matrix products -------------------------------------------------------- */

/* Output rows per sgemv call: small enough that a few hundred rows still
 * spread over the threads, large enough that the call overhead vanishes. */
#define GEMV_BLOCK 64

void mmg__sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    mmg__threads_init();
    if (M == 1 && !trans_a) {
        /* A single row: matrix-vector products, each weight read once. A
         * layer's y = W x (alpha 1, beta 0 or 1, rows packed) goes through
         * gemv.h's fixed-order product, so decoding a sequence alone gives
         * the bits mmg_context_decode_batch gives it beside others. */
        if (trans_b && alpha == 1.0f && (beta == 0.0f || beta == 1.0f) && ldb == K) {
            /* Each thread one run of rows (GPT-2-small F32 decode, same runs:
             * 1 thread 50-53 -> 66-69 tok/s, 2 threads 95-97 -> 122-126 with
             * GEMV_BLOCK-row blocks before). */
            mmg__gemv_rows_par(C, ldc, beta == 1.0f, B, N, K, A, 1);
            return;
        }
        const int bn = GEMV_BLOCK, n_blocks = (N + bn - 1) / bn;
#pragma omp parallel for schedule(static) if (n_blocks > 1 && (size_t)N * K >= MMG__PAR_MIN)
        for (int jb = 0; jb < n_blocks; jb++) {
            int n0 = jb * bn, n = N - n0 < bn ? N - n0 : bn;
            if (trans_b) /* B is (N, K): y = B x */
                cblas_sgemv(CblasRowMajor, CblasNoTrans, n, K, alpha, B + (size_t)n0 * ldb, ldb, A,
                            1, beta, C + n0, 1);
            else /* B is (K, N): y = B^T x */
                cblas_sgemv(CblasRowMajor, CblasTrans, K, n, alpha, B + n0, ldb, A, 1, beta,
                            C + n0, 1);
        }
        return;
    }
    /* Blocks of at most MMG__GEMM_BLOCK_N x MMG__GEMM_BLOCK_N, halved (down to
     * 64) while there are fewer than two per core of the machine, so small
     * products still keep the cores busy without paying for repacking more
     * than needed. The sizes depend on the shape and the machine only, never
     * on a context's thread count. */
    const long want = 2L * mmg__threads_cores();
    int bm = MMG__GEMM_BLOCK_N, bn = MMG__GEMM_BLOCK_N;
    for (;;) {
        long tasks = (long)((M + bm - 1) / bm) * ((N + bn - 1) / bn);
        if (tasks >= want || (bm <= 64 && bn <= 64)) break;
        if (bn >= bm && bn > 64) bn /= 2;
        else bm /= 2;
    }
    const int n_blocks_m = (M + bm - 1) / bm, n_blocks_n = (N + bn - 1) / bn;
    const int n_blocks = n_blocks_m * n_blocks_n;
#pragma omp parallel for schedule(dynamic, 1) if (n_blocks > 1 && (size_t)M * N * K >= MMG__PAR_MIN)
    for (int blk = 0; blk < n_blocks; blk++) {
        int ib = blk / n_blocks_n, jb = blk % n_blocks_n;
        int m0 = ib * bm, m = M - m0 < bm ? M - m0 : bm;
        int n0 = jb * bn, n = N - n0 < bn ? N - n0 : bn;
        const float *a = trans_a ? A + m0 : A + (size_t)m0 * lda;
        const float *b = trans_b ? B + (size_t)n0 * ldb : B + n0;
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, m, n, K, alpha, a, lda, b, ldb, beta,
                    C + (size_t)m0 * ldc + n0, ldc);
    }
}

void mmg__matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N,
                         int IC, int OC) {
    if (bias) {
        /* Start from the bias and accumulate (beta = 1): no second pass. */
#pragma omp parallel for schedule(static) if ((size_t)N * OC >= MMG__PAR_MIN)
        for (int i = 0; i < N; i++) memcpy(out + (size_t)i * OC, bias, sizeof(float) * (size_t)OC);
        mmg__sgemm(0, 1, N, OC, IC, 1.0f, inp, IC, w, IC, 1.0f, out, OC);
    } else {
        mmg__sgemm(0, 1, N, OC, IC, 1.0f, inp, IC, w, IC, 0.0f, out, OC);
    }
}

void mmg__matmul_residual_forward(float *out, const float *inp, const float *w, const float *bias,
                                  const float *resid, int N, int IC, int OC) {
    /* The residual (and bias) first, then the product accumulates onto it
     * (beta = 1): one pass over out instead of two. */
#pragma omp parallel for schedule(static) if ((size_t)N * OC >= MMG__PAR_MIN)
    for (int i = 0; i < N; i++) {
        float *o = out + (size_t)i * OC;
        const float *r = resid + (size_t)i * OC;
        if (bias)
            for (int j = 0; j < OC; j++) o[j] = r[j] + bias[j];
        else if (o != r)
            memcpy(o, r, sizeof(float) * (size_t)OC);
    }
    mmg__sgemm(0, 1, N, OC, IC, 1.0f, inp, IC, w, IC, 1.0f, out, OC);
}

int mmg__linear_base(float *out, const float *bias, const float *resid, int N, int OC) {
    for (int g = 0; g < N; g++) {
        float *o = out + (size_t)g * OC;
        if (resid) {
            const float *r = resid + (size_t)g * OC;
            if (bias)
                for (int j = 0; j < OC; j++) o[j] = r[j] + bias[j];
            else if (o != r)
                memcpy(o, r, sizeof(float) * (size_t)OC);
        } else if (bias) {
            memcpy(o, bias, sizeof(float) * (size_t)OC);
        }
    }
    return resid || bias;
}

/* ---- embeddings --------------------------------------------------------------- */

void mmg__embedding_forward_q(float *out, const int32_t *tokens, int B, int T, int pos0,
                              const mmg__qmatrix *wte, float scale, const float *pos, int C) {
    const size_t nb = (size_t)C / MMG__QUANT_BLOCK, vb = mmg__quant_type_of(wte->type)->value_bytes;
#pragma omp parallel for schedule(static) if ((size_t)B * T * C >= MMG__PAR_MIN)
    for (int bt = 0; bt < B * T; bt++) {
        int t = bt % T;
        float *o = out + (size_t)bt * C;
        const size_t row = (size_t)tokens[bt];
        /* the row's weights, then mmg__embedding_forward's arithmetic on them
         * (F16 has no scales: no arithmetic on its NULL d) */
        mmg__quant_dequantize(wte->type, wte->q + row * nb * vb, wte->d ? wte->d + row * nb : NULL, nb, o);
        if (pos) {
            const float *p = pos + (size_t)(pos0 + t) * C;
            for (int i = 0; i < C; i++) o[i] = o[i] * scale + p[i];
        } else {
            for (int i = 0; i < C; i++) o[i] = o[i] * scale;
        }
    }
}

void mmg__embedding_forward(float *out, const int32_t *tokens, int B, int T, int pos0,
                            const float *wte, float scale, const float *pos, int C) {
#pragma omp parallel for schedule(static) if ((size_t)B * T * C >= MMG__PAR_MIN)
    for (int bt = 0; bt < B * T; bt++) {
        int t = bt % T;
        float *o = out + (size_t)bt * C;
        const float *e = wte + (size_t)tokens[bt] * C;
        if (pos) {
            const float *p = pos + (size_t)(pos0 + t) * C;
            for (int i = 0; i < C; i++) o[i] = e[i] * scale + p[i];
        } else {
            for (int i = 0; i < C; i++) o[i] = e[i] * scale;
        }
    }
}

void mmg__sinusoid_table(float *out, int T, int C) {
    for (int p = 0; p < T; p++) {
        for (int i = 0; i < C; i += 2) {
            double freq = exp(-log(10000.0) * (double)i / (double)C);
            out[(size_t)p * C + i] = (float)sin(p * freq);
            if (i + 1 < C) out[(size_t)p * C + i + 1] = (float)cos(p * freq);
        }
    }
}

/* ---- LayerNorm -------------------------------------------------------------------- */

void mmg__layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                            const float *b, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= MMG__PAR_MIN)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        /* Two passes (mean, then variance of the deviations), biased
         * variance (divide by C) as PyTorch. */
        float m = 0.0f;
#pragma omp simd reduction(+ : m)
        for (int j = 0; j < C; j++) m += x[j];
        m /= (float)C;
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int j = 0; j < C; j++) {
            float d = x[j] - m;
            v += d * d;
        }
        v /= (float)C;
        float s = 1.0f / sqrtf(v + eps);
        if (b)
            for (int j = 0; j < C; j++) o[j] = (x[j] - m) * s * w[j] + b[j];
        else
            for (int j = 0; j < C; j++) o[j] = (x[j] - m) * s * w[j];
        if (mean) mean[i] = m;
        if (rstd) rstd[i] = s;
    }
}

/* ---- activations ------------------------------------------------------------------ */

/* The float helpers are train_math.h's, shared with the backward kernels
 * (ops_backward.c differentiates these same formulas). */
#pragma omp declare simd notinbranch
static inline float gelu_erf(float x) { return 0.5f * x * (1.0f + mmg__erf(x * 0.70710678118654752440f)); }

/* PyTorch's formula (approximate="tanh"); the backward uses the same tanh. */
#pragma omp declare simd notinbranch
static inline float gelu_tanh(float x) {
    const float k = 0.79788456080286535588f; /* sqrt(2 / pi) */
    return 0.5f * x * (1.0f + mmg__tanh(k * (x + 0.044715f * x * x * x)));
}

float mmg__gelu(float x) { return gelu_erf(x); }
float mmg__gelu_tanh(float x) { return gelu_tanh(x); }

/* One chunk, compiled for AVX-512, AVX2 and the baseline (MMG__VEC_CLONES):
 * element-wise, so every version gives the same bits. */
MMG__VEC_CLONES
static void activation_range(float *out, const float *inp, long lo, long hi, int act) {
    switch (act) {
    case MMG_ACT_GELU:
#pragma omp simd
        for (long i = lo; i < hi; i++) out[i] = gelu_erf(inp[i]);
        break;
    case MMG_ACT_GELU_TANH:
#pragma omp simd
        for (long i = lo; i < hi; i++) out[i] = gelu_tanh(inp[i]);
        break;
    default: /* MMG_ACT_RELU; NaN stays NaN */
#pragma omp simd
        for (long i = lo; i < hi; i++) out[i] = inp[i] <= 0.0f ? 0.0f : inp[i];
        break;
    }
}

void mmg__activation_forward(float *out, const float *inp, size_t n, int act) {
    const long ln = (long)n, chunk = 4096;
    const long n_chunks = (ln + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n >= MMG__PAR_MIN)
    for (long c = 0; c < n_chunks; c++) {
        const long lo = c * chunk, hi = lo + chunk < ln ? lo + chunk : ln;
        activation_range(out, inp, lo, hi, act);
    }
}

void mmg__residual_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static) if (n >= MMG__PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* ---- softmax and attention ------------------------------------------------------- */

/* Softmax of p (n >= 1) in place. The row max is exact in any order, so the
 * vector reduction gives the same bits as a scalar loop. exp(NaN) is NaN: a
 * NaN or +inf in the row (inf - inf) makes the whole sum, hence the whole row,
 * NaN, so a poisoned row is never passed on as probabilities. */
static inline void softmax_row(float *p, int n) {
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < n; j++) mx = p[j] > mx ? p[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) {
        p[j] = mmg__exp_nonpos(p[j] - mx); /* argument <= 0; 0 for -inf */
        sum += p[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < n; j++) p[j] *= inv;
}

float mmg__softmax_forward(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    if (mx == -INFINITY) { /* everything masked: zeros, unless a NaN hides there */
        int nan = 0;
        for (int i = 0; i < n; i++) nan |= x[i] != x[i];
        for (int i = 0; i < n; i++) x[i] = nan ? NAN : 0.0f;
        return mx;
    }
    softmax_row(x, n);
    return mx;
}

/* One block of query rows of one head. S (rows, ld Tk) gets the scores and
 * then the probabilities; y (rows, ld y_stride) the weighted values. With
 * dropout (mask M (rows, ld Tk) non-NULL) S keeps the probabilities for the
 * backward and the product uses P (rows, ld Tk) = M * S * keep_scale. */
static void attend_block(float *y, int y_stride, float *S, const float *q, int q_stride,
                         const float *k, int k_stride, const float *v, int v_stride, int rows,
                         int t0, int Tk, int key_len, int causal, int q_pos0, int hs, float scale,
                         const uint8_t *M, float *P, float keep_scale) {
    /* keys any row of the block may see */
    int nk_max = key_len < Tk ? key_len : Tk;
    if (causal && q_pos0 + t0 + rows < nk_max) nk_max = q_pos0 + t0 + rows;
    if (nk_max < 1) nk_max = 1;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, nk_max, hs, scale, q, q_stride, k,
                k_stride, 0.0f, S, Tk);
    for (int i = 0; i < rows; i++) {
        float *p = S + (size_t)i * Tk;
        int nk = nk_max;
        if (causal && q_pos0 + t0 + i + 1 < nk) nk = q_pos0 + t0 + i + 1;
        if (nk < 1) nk = 1; /* never an empty row: key 0 always counts */
        softmax_row(p, nk);
        for (int j = nk; j < Tk; j++) p[j] = 0.0f;
    }
    const float *A = S;
    if (M) {
        for (int i = 0; i < rows; i++) {
            const float *s = S + (size_t)i * Tk;
            const uint8_t *m = M + (size_t)i * Tk;
            float *d = P + (size_t)i * Tk;
            for (int j = 0; j < nk_max; j++) d[j] = m[j] ? s[j] * keep_scale : 0.0f;
        }
        A = P;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hs, nk_max, 1.0f, A, Tk, v,
                v_stride, 0.0f, y, y_stride);
}

void mmg__attention_forward(float *out, float *att, float *scratch, const float *q, int q_stride,
                            const float *k, int k_stride, const float *v, int v_stride,
                            const int32_t *key_len, int B, int H, int Tq, int Tk, int hs, int causal,
                            int q_pos0) {
    mmg__attention_forward_ex(out, att, scratch, q, q_stride, k, k_stride, v, v_stride, key_len, B,
                              H, Tq, Tk, hs, causal, q_pos0, NULL, 0.0f);
}

void mmg__attention_forward_ex(float *out, float *att, float *scratch, const float *q, int q_stride,
                               const float *k, int k_stride, const float *v, int v_stride,
                               const int32_t *key_len, int B, int H, int Tq, int Tk, int hs,
                               int causal, int q_pos0, const uint8_t *drop_mask, float drop_p) {
    mmg__threads_init();
    const int C = H * hs;
    const float scale = 1.0f / sqrtf((float)hs);
    const float keep_scale = drop_mask ? 1.0f / (1.0f - drop_p) : 1.0f;
    const int QB = MMG__ATT_BLOCK_Q;
    const int n_qb = (Tq + QB - 1) / QB;
    const long tasks = (long)B * H * n_qb;
    /* One task = one block of query rows of one head: a fixed set of BLAS
     * calls, whatever the thread count. */
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1 && (size_t)Tq * Tk * C >= MMG__PAR_MIN)
    for (long r = 0; r < tasks; r++) {
        int qb = (int)(r % n_qb);
        int h = (int)((r / n_qb) % H);
        int b = (int)(r / ((long)n_qb * H));
        int t0 = qb * QB, rows = Tq - t0 < QB ? Tq - t0 : QB;
        const size_t at = (((size_t)b * H + h) * Tq + t0) * Tk; /* the block in (B, H, Tq, Tk) */
        float *mine = scratch ? scratch + (size_t)omp_get_thread_num() * QB * Tk : NULL;
        float *S = att ? att + at : mine;
        attend_block(out + ((size_t)b * Tq + t0) * C + (size_t)h * hs, C, S,
                     q + ((size_t)b * Tq + t0) * q_stride + (size_t)h * hs, q_stride,
                     k + (size_t)b * Tk * k_stride + (size_t)h * hs, k_stride,
                     v + (size_t)b * Tk * v_stride + (size_t)h * hs, v_stride, rows, t0, Tk,
                     key_len ? key_len[b] : Tk, causal, q_pos0, hs, scale,
                     drop_mask ? drop_mask + at : NULL, mine, keep_scale);
    }
}

void mmg__attention_decode(const mmg__att_query *rows, int n_rows, int H, int hs, int k_stride,
                           int v_stride, float *scratch, size_t scratch_per_thread) {
    mmg__threads_init();
    const float scale = 1.0f / sqrtf((float)hs);
    const int tasks = n_rows * H;
    size_t work = 0;
    for (int r = 0; r < n_rows; r++) work += (size_t)rows[r].n_keys * H * hs;
#pragma omp parallel for schedule(static) if (tasks > 1 && work >= MMG__PAR_MIN)
    for (int t = 0; t < tasks; t++) {
        const mmg__att_query *row = &rows[t / H];
        const size_t h = (size_t)(t % H) * hs;
        float *s = scratch + (size_t)omp_get_thread_num() * scratch_per_thread;
        const int nk = row->n_keys;
        /* scores: the keys (nk, hs) times the query; then the probabilities;
         * then out = probabilities times the values (nk, hs) */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, nk, hs, scale, row->k + h, k_stride, row->q + h, 1,
                    0.0f, s, 1);
        softmax_row(s, nk);
        cblas_sgemv(CblasRowMajor, CblasTrans, nk, hs, 1.0f, row->v + h, v_stride, s, 1, 0.0f,
                    row->out + h, 1);
    }
}
