/* mmgen/context.h - computing with a model: full forward passes and
 * incremental decoding with a KV cache.
 *
 * A context holds everything a computation writes: per-sequence KV caches
 * ("slots"), scratch buffers and its thread count. Make one per thread that
 * computes; a model can serve many contexts at once.
 *
 * Incremental decoding, per slot:
 *   mmg_context_encode(ctx, slot, src, n)    encoder-decoder only: runs the
 *       encoder once and stores every decoder layer's cross-attention K/V;
 *   mmg_context_decode(ctx, slot, toks, n, ...)  appends n tokens to the
 *       slot's self-attention cache and returns logits; n > 1 is a prefill
 *       done with matrix-matrix products, n == 1 reads each weight once.
 *   mmg_context_decode_batch(ctx, n, slots, toks, ...)  one token for each
 *       of n slots in one pass over the weights (serving many sequences).
 * The logits equal those of mmg_context_forward on the whole sequence within
 * float rounding (tested).
 *
 * Lifetime: a context holds a reference to its model, so mmg_model_free
 * before mmg_context_free is safe (the model's memory goes with the last
 * context). Using a context after mmg_context_free is undefined.
 *
 * Threads: every function taking a context is [one thread per object]. A
 * context computes with n_threads threads (OpenMP inside; OpenBLAS is run
 * single-threaded inside mmgen's own loops, so mmgen sets OpenBLAS's global
 * thread count to 1 on first use). Results do not depend on the thread count:
 * the same inputs give bit-identical logits for every n_threads. */
#ifndef MMGEN_CONTEXT_H
#define MMGEN_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "model.h"
#include "status.h"

/* Fill with mmg_context_options_init(&o, sizeof o). Grows only at the end. */
typedef struct mmg_context_options {
    size_t struct_size;
    int32_t n_threads;     /* 0 (default): $MMGEN_NUM_THREADS if set, else the cores */
    int32_t n_slots;       /* sequences with their own KV cache; default 1 */
    int32_t max_seq_len;   /* cache length per slot (source and target);
                              0 (default) = the model's max_seq_len */
    uint64_t memory_limit; /* bytes for caches and scratch; 0 (default) = the
                              machine's physical memory */
    int32_t check_finite;  /* 1: every call that computes logits checks them
                              and fails with MMG_ERR_NUMERIC, naming the slot,
                              position and token id, when one is NaN or
                              infinite (a corrupt or diverged weight) instead
                              of returning them; generation stops the same
                              way. (Sampling refuses NaN and +inf logits
                              anyway, without the position; this also
                              catches -inf, which sampling takes as "never
                              this token", and covers callers that read
                              logits themselves.) Costs one pass over the
                              logits. Default 0. Since ABI 1.3. */
} mmg_context_options;

typedef struct mmg_context mmg_context;

MMG_EXTERN_C_BEGIN

/* Fills `opts` with defaults, writing only `struct_size` bytes. [thread-safe] */
MMG_API void mmg_context_options_init(mmg_context_options *opts, size_t struct_size);

/* Creates a context for `model` (opts may be NULL). Allocates every cache up
 * front: nothing is allocated per token. Returns MMG_OK; MMG_ERR_INVALID_ARG
 * (NULL model/out, negative or too large option values, named);
 * MMG_ERR_LIMIT (caches over memory_limit); MMG_ERR_NOMEM. *out untouched on
 * error; release with mmg_context_free. [thread-safe] */
MMG_API mmg_status mmg_context_create(const mmg_model *model, const mmg_context_options *opts,
                                      mmg_context **out);

/* Releases the context (and its model reference). NULL is a no-op.
 * [one thread per object] */
MMG_API void mmg_context_free(mmg_context *ctx);

/* The model the context computes with (valid while the context lives).
 * [one thread per object] */
MMG_API const mmg_model *mmg_context_model(const mmg_context *ctx);

/* Changes the thread count (0 = the default above). Returns MMG_OK or
 * MMG_ERR_INVALID_ARG (NULL, negative). [one thread per object] */
MMG_API mmg_status mmg_context_set_threads(mmg_context *ctx, int32_t n_threads);

/* The thread count the context uses; 0 for NULL. [one thread per object] */
MMG_API int32_t mmg_context_threads(const mmg_context *ctx);

/* Full forward (teacher forcing) over a batch.
 *   src          (batch, src_len) source tokens; NULL for decoder-only models
 *   src_lengths  (batch) valid lengths in [1, src_len], or NULL (all src_len)
 *   tgt          (batch, tgt_len) decoder input tokens
 *   tgt_lengths  (batch) valid lengths in [1, tgt_len], or NULL
 *   logits       (batch, tgt_len, vocab_size) written on success; rows at
 *                padding positions are computed but meaningless
 * Positions past a sequence's length are padding: masked as keys everywhere.
 * Returns MMG_OK; MMG_ERR_INVALID_ARG (NULL pointers, batch < 1, a source
 * given to a decoder-only model or missing for an encoder-decoder);
 * MMG_ERR_RANGE (token id outside [0, vocab), length 0 or above the model's
 * max_seq_len, a bad per-sequence length); MMG_ERR_LIMIT/NOMEM for the
 * activation memory. Nothing is written on error. [one thread per object] */
MMG_API mmg_status mmg_context_forward(mmg_context *ctx, int32_t batch, const int32_t *src,
                                       const int32_t *src_lengths, int32_t src_len,
                                       const int32_t *tgt, const int32_t *tgt_lengths,
                                       int32_t tgt_len, float *logits);

/* Encoder-decoder models: encodes `src` (n_src tokens, 1..max_seq_len) for
 * `slot` and stores the cross-attention K/V of every decoder layer; clears
 * the slot's decoder cache. MMG_ERR_STATE for a decoder-only model;
 * MMG_ERR_RANGE for a bad slot, length or token. [one thread per object] */
MMG_API mmg_status mmg_context_encode(mmg_context *ctx, int32_t slot, const int32_t *src,
                                      int32_t n_src);

/* Appends `n_tokens` (>= 1) tokens to `slot`'s decoder cache and computes
 * their logits: (n_tokens, vocab_size) into `logits` when all_logits is
 * nonzero, else only the last token's (vocab_size). logits may be NULL to
 * only fill the cache. Returns MMG_OK; MMG_ERR_STATE (encoder-decoder slot not
 * encoded); MMG_ERR_RANGE (bad slot or token, or the cache would pass
 * max_seq_len: the message gives the position); MMG_ERR_INVALID_ARG.
 * Nothing changes on error. [one thread per object] */
MMG_API mmg_status mmg_context_decode(mmg_context *ctx, int32_t slot, const int32_t *tokens,
                                      int32_t n_tokens, float *logits, int32_t all_logits);

/* Appends one token to each of `n` distinct slots (slots (n), tokens (n))
 * and writes their logits (n, vocab_size) (logits may be NULL). Each row is
 * bit-identical to mmg_context_decode of that slot alone, but each weight is
 * read from memory once and used for all n slots while in registers: a step
 * of 8 sequences takes about twice one sequence's (GPT-2 small, F32).
 * Returns MMG_OK; MMG_ERR_INVALID_ARG (NULL, n outside 1..n_slots, a
 * repeated slot); MMG_ERR_RANGE (bad slot or token, a full slot);
 * MMG_ERR_STATE (a slot without its encoded source). Nothing changes on
 * error. [one thread per object] */
MMG_API mmg_status mmg_context_decode_batch(mmg_context *ctx, int32_t n, const int32_t *slots,
                                            const int32_t *tokens, float *logits);

/* Forgets `slot`'s decoder tokens (keeps its encoded source). Returns MMG_OK
 * or MMG_ERR_RANGE. [one thread per object] */
MMG_API mmg_status mmg_context_reset(mmg_context *ctx, int32_t slot);

/* Tokens in `slot`'s decoder cache; -1 for a bad slot or NULL.
 * [one thread per object] */
MMG_API int32_t mmg_context_position(const mmg_context *ctx, int32_t slot);

/* Slots and cache length the context was made with; 0 for NULL.
 * [one thread per object] */
MMG_API int32_t mmg_context_n_slots(const mmg_context *ctx);
MMG_API int32_t mmg_context_max_seq_len(const mmg_context *ctx);

MMG_EXTERN_C_END

#endif /* MMGEN_CONTEXT_H */
