/* core/train_forward.h - the training forward pass with dropout (private).
 *
 * mmg__forward (forward.c) is the model's one forward; it has no dropout,
 * which inference never wants. Training with dropout > 0 runs this copy of its
 * layer loop with dropout where GPT-2 and nn.Transformer put it: on the
 * embeddings, on the attention probabilities, and on every sub-layer's branch
 * output before it joins the residual stream. With p = 0 it is never used
 * (the trainer calls mmg__forward), and test_train_dropout.c checks that this
 * copy run with p = 0 gives mmg__forward's logits (to float rounding: the
 * residual is added after the projection here, and attention's weighted sum is
 * a GEMM), so the two cannot drift apart unnoticed.
 *
 * Masks are counter-based (mmg__dropout_mask): a step's seed and a stream
 * number per site fix them, so the backward reads the same masks and a resumed
 * run draws the same ones. */
#ifndef MMGEN_CORE_TRAIN_FORWARD_H
#define MMGEN_CORE_TRAIN_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "model-impl.h"

/* One layer's masks; NULL where the layer has no such site. */
typedef struct mmg__layer_drop {
    uint8_t *sa_att; /* (B, H, T, T) */
    uint8_t *sa_out; /* (B, T, C) */
    uint8_t *ca_att; /* (B, H, Tt, Ts) */
    uint8_t *ca_out; /* (B, Tt, C) */
    uint8_t *ff_out; /* (B, T, C) */
} mmg__layer_drop;

typedef struct mmg__dropout {
    float p;
    uint64_t seed;          /* this step's masks */
    int B, Ts, Tt;          /* capacity */
    uint8_t *mem;           /* one allocation for every mask */
    size_t mask_bytes;
    uint8_t *enc_emb;       /* (B, Ts, C) */
    uint8_t *dec_emb;       /* (B, Tt, C) */
    mmg__layer_drop *enc;   /* (n_encoder_layers) */
    mmg__layer_drop *dec;   /* (n_decoder_layers) */
    float *tmp;             /* (B, T, C) a branch output before dropout */
    float *scratch;         /* (n_threads, T, T) dropped attention probabilities */
    int n_threads;
} mmg__dropout;

/* Bytes the masks and buffers for (B, Ts, Tt) take; 0 on overflow. */
size_t mmg__dropout_bytes(const mmg_model *m, int B, int Ts, int Tt, int n_threads);
mmg_status mmg__dropout_create(const mmg_model *m, float p, int B, int Ts, int Tt, int n_threads,
                               mmg__dropout **out);
void mmg__dropout_free(mmg__dropout *d);

/* mmg__forward's contract (arguments checked the same way) with dropout drawn
 * from d->seed. */
mmg_status mmg__forward_dropout(const mmg_model *m, mmg__activations *acts, mmg__dropout *d,
                                const int32_t *src, const int32_t *src_len, const int32_t *tgt,
                                const int32_t *tgt_len, int B, int Ts, int Tt, float *logits);

#endif /* MMGEN_CORE_TRAIN_FORWARD_H */
