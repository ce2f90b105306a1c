/* core/ops_backward.c - backward kernels for the transformer ops (see ops_backward.h).
 *
 * Each function is the chain rule of its forward in ops.c, written out as in
 * llm.c's train_gpt2.c. Matrix products go through mmg__sgemm (OpenBLAS, fixed
 * column blocks, so thread-count independent); everything else is a plain loop
 * split over rows, or over columns where a sum runs over rows. */
#include "ops_backward.h"

#include <math.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cblas.h>

#include "ops.h"
#include "threads.h"
#include "train_math.h"

/* One cblas_sgemm on the calling thread, row-major, for work already split
 * over threads (mmg__sgemm would split it again). */
static void sgemm_serial(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
                K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Columns per task when summing over rows: wide enough for vector loads,
 * narrow enough to spread C = 128 over a few threads. */
#define COL_BLOCK 64

void mmg__bias_backward(float *db, const float *dout, int N, int C) {
    int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int cb = 0; cb < nblocks; cb++) {
        int c0 = cb * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
        float acc[COL_BLOCK];
        for (int c = c0; c < c1; c++) acc[c - c0] = 0.0f;
        for (int n = 0; n < N; n++) {
            const float *row = dout + (size_t)n * C;
            for (int c = c0; c < c1; c++) acc[c - c0] += row[c];
        }
        for (int c = c0; c < c1; c++) db[c] += acc[c - c0];
    }
}

void mmg__matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int N, int IC, int OC) {
    if (dinp) mmg__sgemm(0, 0, N, IC, OC, 1.0f, dout, OC, w, IC, 1.0f, dinp, IC);
    if (dw) mmg__sgemm(1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    if (db) mmg__bias_backward(db, dout, N, OC);
}

void mmg__layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, const float *mean, const float *rstd, int N, int C) {
    /* dinp: rows are independent. */
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        const float mu = mean[n], rs = rstd[n];
        /* two reductions: mean(dnorm) and mean(dnorm * xhat) */
        float dnorm_mean = 0.0f, dnorm_xhat_mean = 0.0f;
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - mu) * rs;
            float dnorm = w[c] * dy[c];
            dnorm_mean += dnorm;
            dnorm_xhat_mean += dnorm * xhat;
        }
        dnorm_mean /= (float)C;
        dnorm_xhat_mean /= (float)C;
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - mu) * rs;
            float dnorm = w[c] * dy[c];
            dx[c] += rs * (dnorm - dnorm_mean - xhat * dnorm_xhat_mean);
        }
    }
    /* dw, db: sums over rows, split by columns. */
    int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int cb = 0; cb < nblocks; cb++) {
        int c0 = cb * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
        float aw[COL_BLOCK], ab[COL_BLOCK];
        for (int c = c0; c < c1; c++) aw[c - c0] = ab[c - c0] = 0.0f;
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            const float mu = mean[n], rs = rstd[n];
            for (int c = c0; c < c1; c++) {
                aw[c - c0] += (x[c] - mu) * rs * dy[c];
                ab[c - c0] += dy[c];
            }
        }
        for (int c = c0; c < c1; c++) {
            if (dw) dw[c] += aw[c - c0];
            if (db) db[c] += ab[c - c0];
        }
    }
}

/* d/dx of each activation, in vectorizable float arithmetic (train_math.h). */
#pragma omp declare simd notinbranch
static inline float gelu_grad(float x) {
    /* d/dx [x Phi(x)] = Phi(x) + x phi(x) */
    const float inv_sqrt2 = 0.70710678118654752440f, inv_sqrt_2pi = 0.39894228040143267794f;
    return 0.5f * (1.0f + mmg__erf(x * inv_sqrt2)) + x * inv_sqrt_2pi * mmg__exp_nonpos(-0.5f * x * x);
}

#pragma omp declare simd notinbranch
static inline float gelu_tanh_grad(float x) {
    const float s = 0.79788456080286535588f; /* sqrt(2/pi) */
    float u = s * (x + 0.044715f * x * x * x);
    float th = mmg__tanh(u);
    float sech2 = 1.0f - th * th;
    return 0.5f * (1.0f + th) + 0.5f * x * sech2 * s * (1.0f + 3.0f * 0.044715f * x * x);
}

/* dinp = (overwrite ? 0 : dinp) + dout * act'(inp) over [lo, hi) */
#define ACT_LOOP(GRAD)                                                                     \
    do {                                                                                   \
        if (overwrite) {                                                                   \
            _Pragma("omp simd") for (long i = lo; i < hi; i++) dinp[i] = dout[i] * GRAD(inp[i]); \
        } else {                                                                           \
            _Pragma("omp simd") for (long i = lo; i < hi; i++) dinp[i] += dout[i] * GRAD(inp[i]); \
        }                                                                                  \
    } while (0)

#define RELU_GRAD(x) ((float)((x) > 0.0f))

MMG__VEC_CLONES
static void activation_backward_range(float *dinp, const float *dout, const float *inp, long lo,
                                      long hi, int act, int overwrite) {
    switch (act) {
    case 1: ACT_LOOP(gelu_grad); break;
    case 2: ACT_LOOP(gelu_tanh_grad); break;
    default: ACT_LOOP(RELU_GRAD); break;
    }
}

void mmg__activation_backward(float *dinp, const float *dout, const float *inp, size_t n, int act) {
    const long ln = (long)n, chunk = 4096;
    const long n_chunks = (ln + chunk - 1) / chunk;
    const int overwrite = dinp == dout;
#pragma omp parallel for schedule(static) if (ln > 32768)
    for (long c = 0; c < n_chunks; c++) {
        const long lo = c * chunk, hi = lo + chunk < ln ? lo + chunk : ln;
        activation_backward_range(dinp, dout, inp, lo, hi, act, overwrite);
    }
}

void mmg__softmax_backward(float *dx, const float *dy, const float *y, int n) {
    float dot = 0.0f;
    for (int i = 0; i < n; i++) dot += y[i] * dy[i];
    for (int i = 0; i < n; i++) dx[i] += y[i] * (dy[i] - dot);
}

void mmg__attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                             const float *att, const float *q, int q_stride, const float *k,
                             int k_stride, const float *v, int v_stride, int B, int H, int Tq,
                             int Tk, int hs, const uint8_t *drop_mask, float p) {
    const int C = H * hs;
    const float scale = 1.0f / sqrtf((float)hs);
    mmg__threads_init(); /* single-threaded BLAS inside our own split */
    /* Blocks of work are (batch, head) pairs; each runs single-threaded BLAS
     * on its own slices, so the split never changes a result. dk/dv of one
     * (b, h) are written only by that pair: no races. */
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
#ifdef _OPENMP
        float *dA = scratch + (size_t)omp_get_thread_num() * MMG__ATT_ROW_BLOCK * Tk;
#else
        float *dA = scratch;
#endif
        const float *Aall = att + (size_t)bh * Tq * Tk;
        const uint8_t *Mall = drop_mask ? drop_mask + (size_t)bh * Tq * Tk : NULL;
        const float *dOall = dout + (size_t)b * Tq * C + (size_t)h * hs;
        const float *Qall = q + (size_t)b * Tq * q_stride + (size_t)h * hs;
        const float *K = k + (size_t)b * Tk * k_stride + (size_t)h * hs;
        const float *Vv = v + (size_t)b * Tk * v_stride + (size_t)h * hs;
        float *dQall = dq + (size_t)b * Tq * q_stride + (size_t)h * hs;
        float *dK = dk + (size_t)b * Tk * k_stride + (size_t)h * hs;
        float *dV = dv + (size_t)b * Tk * v_stride + (size_t)h * hs;
        /* Blocks of query rows, each over only the keys it attends to
         * (probabilities past the last nonzero one are exact zeros: causal and
         * padding masks), which halves the work of causal attention. */
        for (int t0 = 0; t0 < Tq; t0 += MMG__ATT_ROW_BLOCK) {
            const int R = Tq - t0 < MMG__ATT_ROW_BLOCK ? Tq - t0 : MMG__ATT_ROW_BLOCK;
            const float *A = Aall + (size_t)t0 * Tk;
            int kn = 0; /* keys [0, kn) hold every nonzero probability of the block */
            for (int t = 0; t < R; t++) {
                const float *a = A + (size_t)t * Tk;
                int j = Tk;
                while (j > kn && a[j - 1] == 0.0f) j--;
                if (j > kn) kn = j;
            }
            if (kn == 0) continue;
            const float *dO = dOall + (size_t)t0 * C;
            const float *Q = Qall + (size_t)t0 * q_stride;
            float *dQ = dQall + (size_t)t0 * q_stride;
            if (Mall) {
                /* the forward multiplied V by A' = mask * A / (1-p): dV = A'^T dO */
                const uint8_t *M = Mall + (size_t)t0 * Tk;
                const float ks = 1.0f / (1.0f - p);
                for (int t = 0; t < R; t++)
                    for (int j = 0; j < kn; j++)
                        dA[(size_t)t * Tk + j] = M[(size_t)t * Tk + j] ? A[(size_t)t * Tk + j] * ks : 0.0f;
                sgemm_serial(1, 0, kn, hs, R, 1.0f, dA, Tk, dO, C, 1.0f, dV, v_stride);
                sgemm_serial(0, 1, R, kn, hs, 1.0f, dO, C, Vv, v_stride, 0.0f, dA, Tk);
                for (int t = 0; t < R; t++)
                    for (int j = 0; j < kn; j++)
                        dA[(size_t)t * Tk + j] = M[(size_t)t * Tk + j] ? dA[(size_t)t * Tk + j] * ks : 0.0f;
            } else {
                /* dV (kn, hs) += A^T (kn, R) dO (R, hs) */
                sgemm_serial(1, 0, kn, hs, R, 1.0f, A, Tk, dO, C, 1.0f, dV, v_stride);
                /* dA (R, kn) = dO (R, hs) V^T (hs, kn) */
                sgemm_serial(0, 1, R, kn, hs, 1.0f, dO, C, Vv, v_stride, 0.0f, dA, Tk);
            }
            /* dS = A * (dA - rowsum(A * dA)), scaled here once for both products */
            for (int t = 0; t < R; t++) {
                const float *a = A + (size_t)t * Tk;
                float *da = dA + (size_t)t * Tk;
                float dot = 0.0f;
                for (int j = 0; j < kn; j++) dot += a[j] * da[j];
                for (int j = 0; j < kn; j++) da[j] = scale * a[j] * (da[j] - dot);
            }
            /* dQ (R, hs) += dS (R, kn) K (kn, hs);  dK (kn, hs) += dS^T Q */
            sgemm_serial(0, 0, R, hs, kn, 1.0f, dA, Tk, K, k_stride, 1.0f, dQ, q_stride);
            sgemm_serial(1, 0, kn, hs, R, 1.0f, dA, Tk, Q, q_stride, 1.0f, dK, k_stride);
        }
    }
}

void mmg__embedding_backward(float *dwte, float *dpos, const float *dout, const int32_t *tokens,
                             int B, int T, int pos0, float scale, int C) {
    /* Split by columns: each task owns columns [c0, c1) of every table row, so
     * repeated tokens accumulate in (b, t) order without atomics. */
    int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if ((long)B * T * C > 32768)
    for (int cb = 0; cb < nblocks; cb++) {
        int c0 = cb * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                const float *g = dout + ((size_t)b * T + t) * C;
                float *wrow = dwte + (size_t)tokens[(size_t)b * T + t] * C;
                for (int c = c0; c < c1; c++) wrow[c] += scale * g[c];
                if (dpos) {
                    float *prow = dpos + (size_t)(pos0 + t) * C;
                    for (int c = c0; c < c1; c++) prow[c] += g[c];
                }
            }
        }
    }
}

/* splitmix64's finalizer: a counter-based hash giving independent bits per
 * element, whatever thread computes it. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void mmg__dropout_mask(uint8_t *mask, size_t n, float p, uint64_t seed, uint64_t stream) {
    long ln = (long)n;
    const uint64_t key = mix64(seed ^ mix64(stream + UINT64_C(0x9e3779b97f4a7c15)));
#pragma omp parallel for schedule(static) if (ln > 32768)
    for (long i = 0; i < ln; i++) {
        uint64_t r = mix64(key + (uint64_t)i * UINT64_C(0x9e3779b97f4a7c15));
        mask[i] = (float)(r >> 40) * 0x1.0p-24f >= p;
    }
}

void mmg__dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p,
                          uint64_t seed, uint64_t stream) {
    long ln = (long)n;
    if (p <= 0.0f) {
        if (out != inp) memmove(out, inp, n * sizeof *out);
        if (mask) memset(mask, 1, n);
        return;
    }
    const float keep_scale = 1.0f / (1.0f - p);
    /* keep when the top 24 bits, as a uniform in [0,1), are >= p */
    const uint64_t key = mix64(seed ^ mix64(stream + UINT64_C(0x9e3779b97f4a7c15)));
#pragma omp parallel for schedule(static) if (ln > 32768)
    for (long i = 0; i < ln; i++) {
        uint64_t r = mix64(key + (uint64_t)i * UINT64_C(0x9e3779b97f4a7c15));
        float u = (float)(r >> 40) * 0x1.0p-24f;
        uint8_t keep = u >= p;
        if (mask) mask[i] = keep;
        out[i] = keep ? inp[i] * keep_scale : 0.0f;
    }
}

void mmg__dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p) {
    long ln = (long)n;
    const float keep_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static) if (ln > 32768)
    for (long i = 0; i < ln; i++) dinp[i] = mask[i] ? dout[i] * keep_scale : 0.0f;
}
