/* mmgen/sampling.h - how generation picks the next token from the logits.
 *
 * The options apply Hugging Face's logits processors in this fixed order:
 *   1. mask: tokens a constraint forbids get -inf
 *   2. repetition penalty (CTRL): for each distinct token in the last
 *      `repetition_window` generated tokens, logit > 0 ? logit / pen : logit * pen
 *   3. temperature 0: argmax among the allowed tokens, ties to the lowest id (stop)
 *   4. divide by temperature
 *   5. top-k: keep the tokens whose logit is >= the k-th largest (tokens tied
 *      with the k-th are all kept)
 *   6. softmax over the kept tokens
 *   7. top-p: keep the smallest most-likely-first prefix whose cumulative
 *      probability reaches top_p (the most likely token is always kept;
 *      equal probabilities are ordered by the lower id first)
 *   8. min-p: drop tokens with p < min_p * p_max
 *   9. renormalize, draw one uniform number and invert the cumulative
 *      distribution, walking the kept tokens in a fixed order that depends
 *      only on the logits
 * The same seed, options and logits give the same token on every run and
 * machine: the random numbers come from xoshiro256** seeded by splitmix64,
 * whose output is specified bit for bit. */
#ifndef MMGEN_SAMPLING_H
#define MMGEN_SAMPLING_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"

/* Fill with mmg_sampling_options_init(&o, sizeof o), then change fields.
 * Grows only at the end. */
typedef struct mmg_sampling_options {
    size_t struct_size;
    float temperature;         /* 0 = greedy (argmax); default 1.0; >= 0 and finite */
    int32_t top_k;             /* keep the k most likely; 0 = off (default); >= 0 */
    float top_p;               /* nucleus: smallest set with cumulative prob >= top_p;
                                  1.0 = off (default); in (0, 1] */
    float min_p;               /* drop tokens with p < min_p * p_max; 0 = off (default); in [0, 1] */
    float repetition_penalty;  /* CTRL-style penalty on tokens seen in the window;
                                  1.0 = off (default); > 0 and finite */
    int32_t repetition_window; /* how many recent tokens count; 0 = all generated so far;
                                  default 64; >= 0 */
    uint64_t seed;             /* random seed; default 0, which is a valid seed */
} mmg_sampling_options;

MMG_EXTERN_C_BEGIN

/* Fills `opts` with the defaults above, writing only `struct_size` bytes, and
 * sets opts->struct_size. Does nothing if opts is NULL or struct_size is
 * smaller than a size_t. [thread-safe] */
MMG_API void mmg_sampling_options_init(mmg_sampling_options *opts, size_t struct_size);

/* Checks every field's range. Returns MMG_OK, or MMG_ERR_INVALID_ARG with a
 * message naming the field, its value and the allowed range (also for NULL
 * opts or a struct_size smaller than a size_t). Fields beyond the caller's
 * struct_size are not read. [thread-safe] */
MMG_API mmg_status mmg_sampling_options_validate(const mmg_sampling_options *opts);

MMG_EXTERN_C_END

#endif /* MMGEN_SAMPLING_H */
