/* mmgen/generate.h - generating tokens: a batch of independent sequences,
 * sampled (mmgen/sampling.h), constrained (mmgen/constraint.h) and streamed.
 *
 * Each sequence: (encoder-decoder) its source is encoded once; its prompt is
 * prefilled into the KV cache; then one token at a time is sampled from the
 * logits and fed back, until the end token, max_new_tokens, or the context's
 * max_seq_len. Sequences never influence each other: a sequence's tokens
 * depend only on its source, prompt, seed and the options — not on the other
 * sequences in the call, their order, the context's n_slots or its thread
 * count (tested). */
#ifndef MMGEN_GENERATE_H
#define MMGEN_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "constraint.h"
#include "context.h"
#include "export.h"
#include "sampling.h"
#include "status.h"

/* Called for every generated token, in order, on the generating thread:
 * `sequence` is the index in the call, `index` the token's position among the
 * sequence's new tokens (0, 1, ...). Return 0 to continue, or a nonzero
 * mmg_status (MMG_ERR_CANCELLED to stop on purpose) to end the whole call with
 * that status. Must not call back into the same context. */
typedef int (*mmg_token_cb)(void *user_data, int32_t sequence, int32_t index, int32_t token);

/* Fill with mmg_generate_options_init(&o, sizeof o). Grows only at the end. */
typedef struct mmg_generate_options {
    size_t struct_size;
    const mmg_sampling_options *sampling; /* NULL: defaults (temperature 1, seed 0) */
    int32_t max_new_tokens;               /* >= 1; default 256 */
    int32_t end_token;                    /* stop after sampling it (it is kept as the
                                             last output token); -1 = none (default) */
    int32_t start_token;                  /* used as the prompt of a sequence whose
                                             prompt is empty; -1 = none (default) */
    mmg_token_mask_cb constraint;         /* NULL = every token allowed (default) */
    void *constraint_user_data;           /* passed to constraint */
    void *const *constraint_user_data_each; /* (n_sequences) per-sequence user data
                                             for constraint; NULL = constraint_user_data */
    mmg_token_cb on_token;                /* NULL = no streaming (default) */
    void *on_token_user_data;
} mmg_generate_options;

MMG_EXTERN_C_BEGIN

/* Fills `opts` with defaults, writing only `struct_size` bytes. [thread-safe] */
MMG_API void mmg_generate_options_init(mmg_generate_options *opts, size_t struct_size);

/* Generates up to max_new_tokens tokens for each of n_sequences sequences.
 *   sources         (n_sequences) source token arrays: encoder-decoder models
 *                   only (NULL for decoder-only); source_lengths (n_sequences)
 *                   in [1, max_seq_len]
 *   prompts         (n_sequences) decoder prompts; prompts may be NULL and a
 *                   prompt may be NULL when its length is 0 (then start_token
 *                   must be set); prompt_lengths (n_sequences), or NULL = all 0
 *   seeds           (n_sequences) per-sequence seeds, or NULL: sequence i
 *                   then uses sampling->seed on RNG stream i (so it depends
 *                   on its index; pass seeds to make it independent of it)
 *   out_tokens      (n_sequences, max_new_tokens) row-major, caller-owned
 *   out_lengths     (n_sequences) tokens written per row
 * Sequences are run n_slots at a time through the context's KV caches
 * (overwriting whatever the slots held).
 * Returns MMG_OK; MMG_ERR_INVALID_ARG (NULL arguments, bad options: message
 * names the field); MMG_ERR_RANGE (token ids outside the vocabulary, empty or
 * too long sources/prompts); MMG_ERR_STATE (a constraint allowed no token);
 * the nonzero status a callback returned; MMG_ERR_NUMERIC (NaN logits);
 * MMG_ERR_NOMEM. On error out_tokens and out_lengths are untouched (tokens
 * already streamed stay streamed). [one thread per object: the context] */
MMG_API mmg_status mmg_generate(mmg_context *ctx, const mmg_generate_options *opts,
                                int32_t n_sequences, const int32_t *const *sources,
                                const int32_t *source_lengths, const int32_t *const *prompts,
                                const int32_t *prompt_lengths, const uint64_t *seeds,
                                int32_t *out_tokens, int32_t *out_lengths);

MMG_EXTERN_C_END

#endif /* MMGEN_GENERATE_H */
