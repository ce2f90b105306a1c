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

    /* data-parallel training (train_parallel.c); n_ranks 0 when alone */
    mmg_grad_reducer red;
    size_t *bucket_lo;         /* (n_buckets) bucket i sums [bucket_lo[i], previous bucket's lo
                                  or n_params); in the order they are started */
    int n_buckets;
    int buckets_started;       /* during a backward */
    mmg_status sum_status;     /* the first start_sum failure during a backward */
};

/* Makes sure activations, workspace and logits hold a (B, Ts, Tt) batch:
 * MMG_ERR_LIMIT before allocating when the total would pass memory_limit. */
mmg_status mmg__trainer_reserve(mmg_trainer *t, int B, int Ts, int Tt);

/* Forward, loss and backward on one batch, adding into t->grads (scaled for
 * grad_accum_steps) without any update: the first half of mmg_trainer_step.
 * *loss_sum is the summed loss over the *count labels that count. */
mmg_status mmg__trainer_accumulate(mmg_trainer *t, const mmg_batch *batch, double *loss_sum,
                                   size_t *count);

/* Forward and loss of one batch; with want_grad, dlogits are left in
 * t->logits scaled by 1 / (scale_count * grad_accum_steps) (scale_count 0:
 * the batch's own label count). Sets *loss_sum and *count (the batch's
 * counted labels). Checks the batch first. */
mmg_status mmg__trainer_forward_loss(mmg_trainer *t, const mmg_batch *b, int want_grad,
                                     size_t scale_count, double *loss_sum, size_t *count);

/* Checks a batch against the model; *count = the labels that count. */
mmg_status mmg__trainer_check_batch(const mmg_trainer *t, const mmg_batch *b, size_t *count);

/* Zeroes the gradients when the previous window's update left them there
 * for mmg_trainer_read_grad. */
void mmg__trainer_begin_window(mmg_trainer *t);

/* Drops accumulated gradients after a failure, so the next step starts clean. */
void mmg__trainer_drop_gradients(mmg_trainer *t);

/* A step that failed before any update: drops the gradients, logs, and
 * prefixes mmg_last_error() with the step; returns the failure's status. */
mmg_status mmg__trainer_stop_step(mmg_trainer *t);

/* The backward of the last forward on `batch`, adding into t->grads;
 * `ready` (may be NULL) hears about finished gradients. */
void mmg__trainer_backward(mmg_trainer *t, const mmg_batch *batch, const mmg__grad_ready *ready);

/* Clipping and the AdamW update from t->grads (the end of a window).
 * MMG_ERR_NUMERIC (gradients dropped) when the norm is not finite. */
mmg_status mmg__trainer_apply_update(mmg_trainer *t);

/* mmg_trainer_step and one batch of mmg_trainer_evaluate for a trainer with
 * a reducer (train_parallel.c). */
mmg_status mmg__trainer_step_parallel(mmg_trainer *t, const mmg_batch *batch, float *out_loss);
mmg_status mmg__trainer_eval_parallel(mmg_trainer *t, const mmg_batch *batch, double *loss_sum,
                                      size_t *count);
void mmg__trainer_reducer_release(mmg_trainer *t);

#endif /* MMGEN_CORE_TRAIN_IMPL_H */
