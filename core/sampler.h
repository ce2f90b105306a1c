/* core/sampler.h - picking the next token from a logits vector (private).
 *
 * A sampler owns a copy of the options, its RNG, and scratch buffers of
 * vocab_size entries, so sampling allocates nothing per token. The order of
 * operations (Hugging Face's logits processors) is:
 *   mask disallowed tokens (-inf) -> repetition penalty ->
 *   (temperature 0: argmax among allowed, ties to the lowest id; no RNG draw) ->
 *   divide by temperature -> top-k -> softmax -> top-p -> min-p ->
 *   renormalize -> draw one uniform and invert the CDF.
 * Top-k keeps every token whose logit is >= the k-th largest (ties at the
 * boundary are all kept, as in HF's TopKLogitsWarper); top-p breaks ties in
 * probability by the lower id. The CDF is walked over the kept tokens in an
 * order that depends only on the logits (id order; with top-p, the tokens of
 * the boundary bucket come last, most likely first). The arithmetic is IEEE
 * float/double + - * / only (exp included: no libm), summed in a fixed
 * order, so a seed reproduces the token bit for bit on every IEEE-754
 * machine.
 * Cost per call: O(V) without top-k/top-p, O(V log k) worst case with top-k
 * (a k-element heap; about one compare per token for small k), and with top-p
 * O(m) over the m candidates that survive top-k plus ordering one
 * probability bucket (no sort of the vocabulary). No allocation per call. */
#ifndef MMGEN_CORE_SAMPLER_H
#define MMGEN_CORE_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/sampling.h"
#include "rng.h"

typedef struct mmg__sampler mmg__sampler;

/* Validates `opts` (NULL = defaults), allocates scratch for `vocab_size`
 * tokens and seeds the RNG with mmg__rng_seed_stream(opts->seed, stream)
 * (stream: e.g. the sequence index in a batch). Returns MMG_OK,
 * MMG_ERR_INVALID_ARG (bad options, vocab_size 0 or > INT32_MAX, NULL out)
 * or MMG_ERR_NOMEM. *out is untouched on error; free with mmg__sampler_free. */
mmg_status mmg__sampler_create(const mmg_sampling_options *opts, size_t vocab_size,
                               uint64_t stream, mmg__sampler **out);

/* Releases the sampler; NULL is a no-op. */
void mmg__sampler_free(mmg__sampler *s);

/* Picks the next token.
 *   logits    (vocab_size) raw scores; modified in place (scratch).
 *   allowed   (vocab_size) bytes, nonzero = allowed; NULL = all allowed.
 *   history   (n_history) tokens generated so far, oldest first, for the
 *             repetition penalty; may be NULL when n_history is 0. Ids outside
 *             [0, vocab_size) are ignored.
 * Returns MMG_OK with *out_token set; MMG_ERR_STATE if no token is allowed (or
 * every allowed logit is -inf); MMG_ERR_NUMERIC if any logit, allowed or
 * not, is NaN or +inf (the message names the first index); MMG_ERR_INVALID_ARG for NULL s, logits or
 * out_token. *out_token is untouched on error. [one thread per object] */
mmg_status mmg__sampler_sample(mmg__sampler *s, float *logits, const uint8_t *allowed,
                               const int32_t *history, size_t n_history, int32_t *out_token);

/* The distribution mmg__sampler_sample would draw from, without drawing
 * (for tests, log-probabilities and debugging). Same arguments and errors as
 * mmg__sampler_sample; `ids` and `probs` have room for vocab_size entries and
 * receive the *n_out kept tokens in draw order with their renormalized
 * probabilities. With temperature 0 that is the argmax with probability 1.
 * Does not advance the RNG. [one thread per object] */
mmg_status mmg__sampler_probs(mmg__sampler *s, float *logits, const uint8_t *allowed,
                              const int32_t *history, size_t n_history, int32_t *ids, float *probs,
                              size_t *n_out);

/* Copies the sampler's RNG state out (to checkpoint it). */
void mmg__sampler_get_rng(const mmg__sampler *s, mmg__rng *out);

/* Replaces the sampler's RNG state (to resume from a checkpoint). */
void mmg__sampler_set_rng(mmg__sampler *s, const mmg__rng *in);

/* The options the sampler uses (full-size copy, struct_size = sizeof). */
const mmg_sampling_options *mmg__sampler_options(const mmg__sampler *s);

/* The vocabulary size the sampler was created for. */
size_t mmg__sampler_vocab_size(const mmg__sampler *s);

#endif /* MMGEN_CORE_SAMPLER_H */
