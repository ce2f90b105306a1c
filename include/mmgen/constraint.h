/* mmgen/constraint.h - the token-mask callback shared by generation and
 * plugins.
 *
 * During generation, before each token is sampled, a constraint may forbid
 * tokens: it sees every token generated so far for this sequence and clears
 * the entries of `allowed` (one byte per vocabulary id, all 1 on entry) for the
 * ids that must not come next. A modality uses it to allow only its own tokens,
 * or exactly N patch tokens and then the end token. */
#ifndef MMGEN_CONSTRAINT_H
#define MMGEN_CONSTRAINT_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 to continue, or a nonzero mmg_status to stop generation with that
 * status (MMG_ERR_CANCELLED to stop on purpose). If it leaves no token
 * allowed, generation stops with MMG_ERR_STATE. Called on the generating
 * thread; it must not call back into the same context. */
typedef int (*mmg_token_mask_cb)(void *user_data, const int32_t *tokens, size_t n_tokens,
                                 uint8_t *allowed, size_t vocab_size);

#endif /* MMGEN_CONSTRAINT_H */
