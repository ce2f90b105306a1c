/* core/train_backward.h - the transformer's backward pass (private).
 *
 * The chain rule through mmg__forward (core/model-impl.h), layer by layer in
 * reverse, for every configuration the forward supports: encoder-decoder and
 * decoder-only stacks, pre- and post-LN, optional final LayerNorms, ReLU /
 * exact GELU / tanh GELU, learned or fixed positions, biases on or off, tied or
 * separate output projection. Gradients accumulate (+=) into a float array laid
 * out exactly like model->params, so the gradient of tensors[i] starts at
 * grads + tensors[i].offset.
 *
 * The workspace holds the gradients of activations for one sub-layer at a time
 * (llm.c keeps one per layer; reusing them keeps the backward's memory at a few
 * (B, T, C) buffers). */
#ifndef MMGEN_CORE_TRAIN_BACKWARD_H
#define MMGEN_CORE_TRAIN_BACKWARD_H

#include <stddef.h>
#include <stdint.h>

#include "model-impl.h"

typedef struct mmg__backward_ws {
    int B, Ts, Tt;      /* capacity */
    size_t n_floats;
    float *mem;         /* one allocation */
    float *d_p, *d_q;   /* (B, T, C) the stream's gradient, ping-pong; T = max(Ts, Tt) */
    float *d_r;         /* (B, T, C) LayerNorm / residual gradient of a sub-layer */
    float *d_y;         /* (B, T, C) attention output (heads concatenated) */
    float *d_drop;      /* (B, T, C) a branch output's gradient through its dropout mask */
    float *d_qkv;       /* (B, T, 3C) */
    float *d_h;         /* (B, T, F) feed-forward hidden */
    float *d_enc;       /* (B, Ts, C) encoder output, summed over the cross-attentions */
    float *d_kv;        /* (B, Ts, 2C) */
    float *d_att;       /* (n_threads, MMG__ATT_ROW_BLOCK, T) attention rows per thread */
    int n_threads;
} mmg__backward_ws;

/* Bytes a workspace for (B, Ts, Tt) and n_threads takes; 0 on overflow. */
size_t mmg__backward_ws_bytes(const mmg_model *m, int B, int Ts, int Tt, int n_threads);
/* Allocates; MMG_ERR_LIMIT above memory_limit bytes (0 = none), MMG_ERR_NOMEM. */
mmg_status mmg__backward_ws_create(const mmg_model *m, int B, int Ts, int Tt, int n_threads,
                                   uint64_t memory_limit, mmg__backward_ws **out);
void mmg__backward_ws_free(mmg__backward_ws *ws);

/* Called during the backward each time the gradients from float offset
 * `first` to the end of the parameter array are final (after each layer,
 * with `first` decreasing; the embeddings at offset 0 finish last). */
typedef struct mmg__grad_ready {
    void (*fn)(void *user, size_t first);
    void *user;
} mmg__grad_ready;

/* Backward from dlogits (b, tt, V) (or from d_dec_out (b, tt, C) when dlogits is
 * NULL and ws->d_p holds it) through the activations of the last mmg__forward
 * on (src, tgt) with acts->b/ts/tt, adding into grads (n_params). `drop` holds
 * the masks of the last mmg__forward_ex, or is NULL when it ran without one.
 * The batch must fit the workspace, and omp_get_max_threads() must not exceed
 * ws->n_threads. `ready` (may be NULL) hears about finished gradients. */
void mmg__backward(const mmg_model *m, const mmg__activations *acts, mmg__backward_ws *ws,
                   const mmg__dropout *drop, float *grads, const float *dlogits,
                   const int32_t *src, const int32_t *tgt, const mmg__grad_ready *ready);

#endif /* MMGEN_CORE_TRAIN_BACKWARD_H */
