/* core/model_context.h - the context: KV caches, scratch and thread count
 * (private). Public API in mmgen/context.h; generation (generate.c) drives it
 * through the functions below. */
#ifndef MMGEN_CORE_MODEL_CONTEXT_H
#define MMGEN_CORE_MODEL_CONTEXT_H

#include "mmgen/context.h"
#include "model-impl.h"
#include "ops.h"

struct mmg_context {
    mmg_model *model;     /* a counted reference */
    int n_threads;
    int n_slots;
    int T;                /* cache length per slot (<= model max_seq_len) */
    uint64_t memory_limit;
    int check_finite;     /* mmg_context_options.check_finite */

    int32_t *pos;         /* (n_slots) decoder tokens in each slot's cache */
    int32_t *n_src;       /* (n_slots) encoded source length, 0 = not encoded */
    float *k_cache;       /* (n_slots, L, T, C) self-attention keys, L = decoder layers */
    float *v_cache;       /* (n_slots, L, T, C) self-attention values */
    float *x_cache;       /* (n_slots, L, T, 2C) cross-attention keys|values, or NULL */

    int R;                /* rows the scratch holds: a prefill chunk, or T when
                             the model has an encoder (the whole source); at
                             least n_slots (a batched step) */
    float *mem;           /* one allocation for the scratch below */
    float *x;             /* (R, C) the residual stream */
    float *x2;            /* (R, C) */
    float *h;             /* (R, C) LayerNorm output */
    float *qkv;           /* (R, 3C) also the cross-attention query (R, C) */
    float *y;             /* (R, C) attention output */
    float *ff;            /* (R, F) */
    float *att;           /* (att_threads, MMG__ATT_BLOCK_Q, T) attention scratch per thread */
    int att_threads;
    mmg__att_query *att_rows; /* (n_slots) a decoding step's query rows */
    mmg__q8_scratch *q8;  /* a quantized model's quantized input rows, else NULL */

    mmg__activations *acts; /* for mmg_context_forward, grown on demand */
};

/* Runs `n` tokens of `slot` through the decoder and writes logits like
 * mmg_context_decode, without checking arguments or setting threads (the
 * caller did both). */
mmg_status mmg__context_decode(mmg_context *ctx, int slot, const int32_t *tokens, int n,
                               float *logits, int all_logits);

/* One new token for each of G distinct slots (tokens (G), logits (G, V) or
 * NULL), without argument checks or thread setup. Each row's logits are
 * bit-identical to mmg__context_decode of that slot alone (the same calls),
 * but every weight block is read from memory once for all G rows. */
mmg_status mmg__context_decode_batch(mmg_context *ctx, const int32_t *slots, const int32_t *tokens,
                                     int G, float *logits);

/* Encodes like mmg_context_encode without argument checks or thread setup. */
mmg_status mmg__context_encode(mmg_context *ctx, int slot, const int32_t *src, int n);

/* Sets the calling thread's OpenMP thread count to the context's and returns
 * the previous one, to pass to mmg__context_leave. */
int mmg__context_enter(const mmg_context *ctx);
void mmg__context_leave(int previous);

#endif /* MMGEN_CORE_MODEL_CONTEXT_H */
