/* core/train_impl.h - the trainer's state (private), shared by train.c and
 * checkpoint.c.
 *
 * Memory: grads and the two AdamW moments are n_params floats each; the
 * activations, the backward workspace and the logits grow to the largest batch
 * seen (checked against memory_limit before anything is allocated). */
#ifndef MMGEN_CORE_TRAIN_IMPL_H
#define MMGEN_CORE_TRAIN_IMPL_H

#include <stdint.h>

#include "mmgen/train.h"
#include "model-impl.h"
#include "optimizer.h"
#include "rng.h"
#include "train_backward.h"

struct mmg_trainer {
    mmg_model *model;          /* updated in place; the trainer holds a reference */
    mmg_train_options o;       /* full size, min_learning_rate resolved */
    int n_threads;
    uint64_t memory_limit;     /* resolved (physical memory when 0 was given) */
    uint64_t fixed_bytes;      /* params + grads + moments */

    float *grads;              /* (n_params) laid out like model->params */
    mmg__adamw adam;           /* moments and update count (adam.t = updates done) */
    int micro;                 /* mmg_trainer_step calls accumulated since the last update */
    int grads_applied;         /* grads hold the last update's gradients (zeroed when
                                  the next window starts) */
    float last_grad_norm;
    mmg__rng rng;              /* dropout masks: one 64-bit seed drawn per step */

    mmg__activations *acts;    /* capacity grows with the batches */
    mmg__backward_ws *ws;
    mmg__dropout *drop;        /* masks, when dropout > 0 (model-impl.h) */
    int drop_active;           /* the last forward used dropout (its masks are valid) */
    float *logits;             /* (B, Tt, V) logits, then their gradient in place */
    size_t logits_cap;         /* floats */
};

/* Makes sure activations, workspace and logits hold a (B, Ts, Tt) batch:
 * MMG_ERR_LIMIT before allocating when the total would pass memory_limit. */
mmg_status mmg__trainer_reserve(mmg_trainer *t, int B, int Ts, int Tt);

/* Forward, loss and backward on one batch, adding into t->grads (scaled for
 * grad_accum_steps) without any update: the first half of mmg_trainer_step.
 * *loss_sum is the summed loss over the *count labels that count. */
mmg_status mmg__trainer_accumulate(mmg_trainer *t, const mmg_batch *batch, double *loss_sum,
                                   size_t *count);

#endif /* MMGEN_CORE_TRAIN_IMPL_H */
