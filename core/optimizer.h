/* core/optimizer.h - AdamW, clipping by global gradient norm, and the learning-rate
 * schedule (private).
 *
 * The optimizer works on one flat float array of parameters (the model's single
 * allocation) and a gradient array with the same layout. Weight decay is applied
 * per tensor: the model lists its tensors with a decay flag (matrices and
 * embeddings decay; biases and LayerNorm gains/shifts do not), and the optimizer
 * keeps that list as (offset, count, decay) ranges.
 *
 * The update follows torch.optim.AdamW (PyTorch 1.13, single-tensor path) step
 * by step, in the same float operation order, so a run matches PyTorch's loss
 * curve closely:
 *   p *= 1 - lr*wd                       (decoupled decay, only where decay=1)
 *   m  = b1*m + (1-b1)*g
 *   v  = b2*v + (1-b2)*g*g
 *   p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * Every loop is element-wise, so results do not depend on the thread count. */
#ifndef MMGEN_CORE_OPTIMIZER_H
#define MMGEN_CORE_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/status.h"

/* One contiguous range of the parameter array with its weight-decay flag. */
typedef struct mmg__param_range {
    size_t offset; /* first float of the tensor in the parameter array */
    size_t count;  /* number of floats */
    int decay;     /* nonzero: apply weight decay */
} mmg__param_range;

typedef struct mmg__adamw {
    size_t n_params;
    float *m;                 /* (n_params) first moment */
    float *v;                 /* (n_params) second moment */
    int64_t t;                /* updates done so far; the next update uses t+1 */
    mmg__param_range *ranges; /* (n_ranges) covering the tensors that are trained */
    size_t n_ranges;
    float beta1, beta2, eps, weight_decay;
} mmg__adamw;

/* Allocates zeroed moments for n_params floats and copies the ranges (which must
 * lie inside [0, n_params); MMG_ERR_INVALID_ARG otherwise). MMG_ERR_NOMEM on
 * allocation failure; *opt is left zeroed then. */
mmg_status mmg__adamw_init(mmg__adamw *opt, size_t n_params, const mmg__param_range *ranges,
                           size_t n_ranges, float beta1, float beta2, float eps,
                           float weight_decay);
/* Frees the moments; the struct may be re-initialized. NULL-safe. */
void mmg__adamw_release(mmg__adamw *opt);

/* One AdamW update of params (n_params) from grads (n_params) with learning rate
 * lr; increments opt->t. */
void mmg__adamw_update(mmg__adamw *opt, float *params, const float *grads, float lr);

/* The L2 norm of grads (n) over all elements, accumulated in double. */
double mmg__grad_norm(const float *grads, size_t n);

/* Clips by global norm as torch.nn.utils.clip_grad_norm_: when
 * max_norm / (norm + 1e-6) < 1, multiplies every gradient by it. Returns the
 * norm before clipping. max_norm <= 0 only measures. */
double mmg__clip_grad_norm(float *grads, size_t n, float max_norm);

/* nanoGPT's schedule: linear warm-up lr*(step+1)/(warmup+1) for step < warmup,
 * then cosine from lr down to min_lr at step decay_steps, then min_lr.
 * decay_steps <= warmup_steps means a constant lr after warm-up. step counts
 * optimizer updates from 0. */
float mmg__lr_at(int64_t step, float lr, float min_lr, int64_t warmup_steps, int64_t decay_steps);

#endif /* MMGEN_CORE_OPTIMIZER_H */
