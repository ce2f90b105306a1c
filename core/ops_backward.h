/* core/ops_backward.h - the backward kernels of the forward ops in ops.h (private).
 *
 * Same conventions as ops.h: row-major floats, llm.c argument order (gradients
 * out first, then upstream gradients, then the forward's saved inputs, then
 * sizes). Every gradient is ACCUMULATED (+=) into its output, so a tensor used
 * twice (the tied embedding / output projection, the encoder output read by
 * every cross-attention) gets the sum of its uses; callers zero gradients once
 * per optimizer step.
 *
 * Determinism: as in ops.h, results are bit-identical for any thread count.
 * Row-wise gradients are split over rows; sums over rows (bias, LayerNorm and
 * embedding gradients) are split over columns, each thread walking all rows in
 * order, so no reduction order depends on the number of threads. */
#ifndef MMGEN_CORE_OPS_BACKWARD_H
#define MMGEN_CORE_OPS_BACKWARD_H

#include <stddef.h>
#include <stdint.h>

/* Linear layer out (N, OC) = inp (N, IC) W^T + b, W (OC, IC):
 *   dinp (N, IC) += dout W        (skipped when dinp is NULL)
 *   dw  (OC, IC) += dout^T inp    (skipped when dw is NULL)
 *   db  (OC)     += sum_n dout    (skipped when db is NULL) */
void mmg__matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int N, int IC, int OC);

/* db (C) += sum over N rows of dout (N, C). */
void mmg__bias_backward(float *db, const float *dout, int N, int C);

/* LayerNorm out = (inp - mean) * rstd * w + b over rows of C:
 *   dinp (N, C) += ..., dw (C) += sum dout * xhat, db (C) += sum dout.
 * mean, rstd (N) are the forward's saved statistics. */
void mmg__layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, const float *mean, const float *rstd, int N, int C);

/* dinp (n) += dout * act'(inp) for an mmg_activation (relu, exact gelu, tanh
 * gelu); inp is the activation's input. dinp may equal dout (then the result
 * is written, not added: dinp = dout * act'(inp)). */
void mmg__activation_backward(float *dinp, const float *dout, const float *inp, size_t n, int act);

/* Softmax y = softmax(x) of one row: dx (n) += y * (dy - sum(y * dy)). */
void mmg__softmax_backward(float *dx, const float *dy, const float *y, int n);

/* Multi-head attention (see mmg__attention_forward for the layout):
 *   dout (B, Tq, H*hs), att (B, H, Tq, Tk) the forward's probabilities (0 at
 *   masked keys, so masked keys get no gradient), q/k/v as in the forward.
 *   dq, dk, dv: gradients with the same layout and strides as q, k, v
 *   (accumulated).
 * Per (batch, head), with S = scale * Q K^T, A = softmax(S):
 *   dV = A^T dO, dA = dO V^T, dS = A * (dA - rowsum(A * dA)),
 *   dQ = scale * dS K, dK = scale * dS^T Q.
 * Work goes in blocks of MMG__ATT_ROW_BLOCK query rows over the keys up to the
 * last nonzero probability of the block (causal and padding masks leave exact
 * zeros), so causal attention costs half of the full product.
 * scratch: omp_get_max_threads() * MMG__ATT_ROW_BLOCK * Tk floats.
 * With attention dropout (drop_mask (B, H, Tq, Tk) non-NULL, probability p)
 * the forward used A' = mask * A / (1 - p): dV = A'^T dO and dA = mask * dA' / (1-p). */
#define MMG__ATT_ROW_BLOCK 64
void mmg__attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                             const float *att, const float *q, int q_stride, const float *k,
                             int k_stride, const float *v, int v_stride, int B, int H, int Tq,
                             int Tk, int hs, const uint8_t *drop_mask, float p);

/* Embedding out[b,t] = wte[tokens[b,t]] * scale + pos[pos0 + t]:
 *   dwte (V, C) += scale * dout at each token's row (scatter-add; repeated
 *   tokens sum in (b, t) order), dpos (>= pos0+T, C) += sum_b dout (NULL: the
 *   positions are not a parameter). */
void mmg__embedding_backward(float *dwte, float *dpos, const float *dout, const int32_t *tokens,
                             int B, int T, int pos0, float scale, int C);

/* Inverted dropout: out = inp * mask / (1 - p) where mask[i] = 1 with
 * probability 1 - p drawn from `seed`/`stream` (counter-based, so any thread
 * count gives the same mask). mask (n) bytes is written when non-NULL. out may
 * equal inp. p == 0 copies. */
void mmg__dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p,
                          uint64_t seed, uint64_t stream);
/* Only the mask of mmg__dropout_forward (the same bits for the same
 * seed/stream/n). */
void mmg__dropout_mask(uint8_t *mask, size_t n, float p, uint64_t seed, uint64_t stream);
/* dinp (n) = dout * mask / (1 - p). dinp may equal dout. */
void mmg__dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p);

#endif /* MMGEN_CORE_OPS_BACKWARD_H */
