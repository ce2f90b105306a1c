/* core/ops.h - the transformer's forward kernels (private).
 *
 * Plain functions over row-major float arrays, llm.c style: `out` first, then
 * inputs, then sizes. None allocates. Parallel loops use OpenMP with the
 * calling thread's thread count (set it with omp_set_num_threads, as contexts
 * do); matrix products go through OpenBLAS running single-threaded inside
 * mmgen's own OpenMP split (see mmg__sgemm).
 *
 * Determinism: every kernel gives bit-identical results for any thread count:
 * loops are split over independent rows/heads, and mmg__sgemm splits the
 * output columns into fixed-size blocks that do not depend on the thread
 * count, so each block is the same single-threaded BLAS call whatever the
 * threads. Generation relies on this (a seed gives the same tokens on every
 * thread count). */
#ifndef MMGEN_CORE_OPS_H
#define MMGEN_CORE_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Activation ids match mmg_activation (mmgen/model.h). */

/* C = alpha * op(A) op(B) + beta * C, row-major like cblas_sgemm with
 * CblasRowMajor: op(A) is (M, K), op(B) is (K, N), C is (M, N) with leading
 * dimension ldc. trans_a/trans_b: 0 = as stored, 1 = transposed. Output
 * columns are split in fixed blocks of MMG__GEMM_BLOCK_N computed in parallel
 * (one single-threaded cblas_sgemm per block; cblas_sgemv per block when
 * M == 1 and trans_a == 0). Block sizes depend only on (M, N): smaller for
 * small products so they still spread over the threads. Safe for the
 * backward pass too, e.g.
 *   dinp (N, IC) += dout (N, OC) W (OC, IC):  mmg__sgemm(0, 0, N, IC, OC, 1, dout, OC, W, IC, 1, dinp, IC)
 *   dW (OC, IC) += dout^T inp:                mmg__sgemm(1, 0, OC, IC, N, 1, dout, OC, inp, IC, 1, dW, IC) */
#define MMG__GEMM_BLOCK_N 256
void mmg__sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);

/* A linear layer: out (N, OC) = inp (N, IC) W^T + bias, with W (OC, IC) and
 * bias (OC) or NULL. N == 1 uses sgemv (each weight read once). */
void mmg__matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N,
                         int IC, int OC);

/* A linear layer with its residual: out (N, OC) = resid + inp W^T + bias
 * (resid (N, OC)). out must not alias inp; it may equal resid. */
void mmg__matmul_residual_forward(float *out, const float *inp, const float *w, const float *bias,
                                  const float *resid, int N, int IC, int OC);

/* Writes into out (N, OC) what a linear layer's product is then added to:
 * resid + bias, resid, or bias (resid (N, OC) or NULL, bias (OC) or NULL;
 * out may equal resid). Returns 0 when there is neither, so the product
 * overwrites out. */
int mmg__linear_base(float *out, const float *bias, const float *resid, int N, int OC);

/* out (B, T, C) = wte[tokens] * scale + pos[pos0 + t] (pos (>= pos0 + T, C)
 * or NULL). tokens (B, T) must be in range (checked by callers). */
void mmg__embedding_forward(float *out, const int32_t *tokens, int B, int T, int pos0,
                            const float *wte, float scale, const float *pos, int C);

/* The same from a quantized (V, C) embedding (quant.h): each row read is
 * dequantized into out, then scaled and shifted as above. */
struct mmg__qmatrix;
void mmg__embedding_forward_q(float *out, const int32_t *tokens, int B, int T, int pos0,
                              const struct mmg__qmatrix *wte, float scale, const float *pos, int C);

/* The paper's table: pe[p][2i] = sin(p / 10000^(2i/C)), pe[p][2i+1] = cos(same),
 * computed in double; out (T, C). Odd C: the last column is a sin. */
void mmg__sinusoid_table(float *out, int T, int C);

/* out (N, C) = (inp - mean) * rstd * w + b per row (no b when b is NULL);
 * mean/rstd (N) are saved for the backward pass when non-NULL. Biased
 * variance, like PyTorch. out may equal inp. */
void mmg__layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                            const float *b, int N, int C, float eps);

/* out (n) = act(inp), act an mmg_activation. out may equal inp. The GELUs
 * use train_math.h's vectorizable mmg__erf / mmg__tanh (the backward
 * differentiates the same functions), and the loop is compiled for AVX-512,
 * AVX2 and the baseline, picked at load time; every version gives the same
 * bits. NaN stays NaN (ReLU too). */
void mmg__activation_forward(float *out, const float *inp, size_t n, int act);
float mmg__gelu(float x);      /* "exact": 0.5 x (1 + erf(x / sqrt 2)) */
float mmg__gelu_tanh(float x); /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */

/* out (n) = a + b. out may equal a or b. */
void mmg__residual_forward(float *out, const float *a, const float *b, size_t n);

/* In-place numerically stable softmax of one row x (n); entries that are
 * -INFINITY become 0 (all of them: a row of zeros). A NaN or +INFINITY
 * anywhere gives a row of NaN. Returns the row max used (for tests). */
float mmg__softmax_forward(float *x, int n);

/* Multi-head scaled dot-product attention, per head and block of
 * MMG__ATT_BLOCK_Q query rows: scores S = scale * Q K^T by cblas_sgemm (only
 * over the keys the block can see), a masked softmax per row, Y = S V by
 * cblas_sgemm.
 *   out      (B, Tq, H*hs) heads concatenated
 *   att      (B, H, Tq, Tk) probabilities saved for backward (0 where masked),
 *            or NULL: then `scratch` holds one block per OpenMP thread
 *            (omp_get_max_threads() * MMG__ATT_BLOCK_Q * Tk floats) and
 *            nothing is saved
 *   q        query of (b, t, head h) at q + (b*Tq + t)*q_stride + h*hs
 *   k, v     key/value of (b, j, h) at k + (b*Tk + j)*k_stride + h*hs (same for v)
 *   key_len  (B) keys j >= key_len[b] are masked (padding); NULL = none
 *   causal   query t (absolute position q_pos0 + t) sees keys j <= q_pos0 + t
 * Scores are scaled by 1/sqrt(hs). Every query row has at least key 0. A
 * non-finite score (from NaN or inf in q or k) makes its row NaN. */
#define MMG__ATT_BLOCK_Q 64
void mmg__attention_forward(float *out, float *att, float *scratch, const float *q, int q_stride,
                            const float *k, int k_stride, const float *v, int v_stride,
                            const int32_t *key_len, int B, int H, int Tq, int Tk, int hs, int causal,
                            int q_pos0);

/* mmg__attention_forward with dropout on the probabilities (training), or
 * exactly mmg__attention_forward when drop_mask is NULL.
 *   drop_mask (B, H, Tq, Tk) 1 = keep (mmg__dropout_mask), drop probability
 *             drop_p < 1
 * att (required with a mask) keeps the probabilities BEFORE dropout, as the
 * backward reads them together with the mask; each block's weighted sum uses
 * mask * att / (1 - drop_p), built in `scratch` (omp_get_max_threads() *
 * MMG__ATT_BLOCK_Q * Tk floats). */
void mmg__attention_forward_ex(float *out, float *att, float *scratch, const float *q, int q_stride,
                               const float *k, int k_stride, const float *v, int v_stride,
                               const int32_t *key_len, int B, int H, int Tq, int Tk, int hs,
                               int causal, int q_pos0, const uint8_t *drop_mask, float drop_p);

/* Attention for decoding: one query row per sequence, every head, over that
 * sequence's first n_keys keys (its self-attention cache so far, or its
 * encoded source); what mmg__attention_forward computes for one query row,
 * without its matrix-product calls (a matrix product packs its operands,
 * which for one row costs more than the work). Rows are
 * independent and each (row, head) pair is one task, whatever the thread
 * count, so a row's result never depends on the rows beside it.
 *   rows[r].out   (H*hs) heads concatenated
 *   rows[r].q     query heads at q + h*hs
 *   rows[r].k, v  key/value j of head h at k + j*k_stride + h*hs (same for v)
 *   rows[r].n_keys keys 0..n_keys-1 (>= 1) are seen
 * scratch: omp_get_max_threads() * scratch_per_thread floats, scratch_per_thread
 * >= every n_keys. */
typedef struct mmg__att_query {
    float *out;
    const float *q, *k, *v;
    int n_keys;
} mmg__att_query;
void mmg__attention_decode(const mmg__att_query *rows, int n_rows, int H, int hs, int k_stride,
                           int v_stride, float *scratch, size_t scratch_per_thread);

#endif /* MMGEN_CORE_OPS_H */
