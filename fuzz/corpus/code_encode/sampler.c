/* core/sampler.c - the next-token sampler (private; options are public).
 *
 * One pass over the logits masks, checks for NaN and counts the tokens that
 * can still be drawn; the repetition penalty touches only the history; top-k
 * finds its threshold with a k-element min-heap (one compare per token when k
 * is small); softmax, top-p, min-p and the draw then run over the surviving
 * candidates only; top-p finds the nucleus with probability buckets and orders
 * only the tokens of one bucket (see keep_top_p). All scratch is allocated at
 * create time: sampling allocates nothing (no qsort, which may malloc). */
#include "sampler.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "error.h"
#include "memory.h"
#include "options.h"

/* top-p buckets: a probability p in [0, 1] goes to bucket (float bits of p)
 * >> 20, i.e. its exponent and 3 mantissa bits; buckets grow with p, each
 * 2^(1/8) ~ 9% wide. 1.0f is bucket 0x3f8 = 1016. */
#define MMG__NBUCKET 1017
#define MMG__BUCKET_SHIFT 20

typedef struct mmg__cand {
    float p;    /* the logit, then exp((logit - max) / temperature) */
    int32_t id; /* token id */
} mmg__cand;

struct mmg__sampler {
    mmg_sampling_options opts; /* full-size copy, validated */
    size_t vocab_size;
    mmg__rng rng;
    mmg__cand *cand;     /* (vocab_size) candidates of the current call */
    mmg__cand *boundary; /* (vocab_size) top-p's boundary bucket; NULL if top_p = 1 */
    float *heap;         /* (min(top_k, vocab_size)) min-heap of the k largest logits; NULL if top_k = 0 */
    uint32_t *seen;      /* (vocab_size) per-token call stamp for the penalty; NULL if penalty = 1 */
    uint32_t epoch;      /* the current call's stamp in `seen` */
    double bucket_mass[MMG__NBUCKET];    /* top-p: probability mass per bucket (see keep_top_p) */
    uint32_t bucket_count[MMG__NBUCKET]; /* top-p: tokens per bucket */
};

static const mmg_sampling_options k_defaults = {
    sizeof(mmg_sampling_options), /* struct_size */
    1.0f,                         /* temperature */
    0,                            /* top_k */
    1.0f,                         /* top_p */
    0.0f,                         /* min_p */
    1.0f,                         /* repetition_penalty */
    64,                           /* repetition_window */
    0,                            /* seed */
};

void mmg_sampling_options_init(mmg_sampling_options *opts, size_t struct_size) {
    mmg__init_options(opts, struct_size, &k_defaults, sizeof k_defaults);
}

/* Range checks on a full-size struct. */
static mmg_status check_options(const mmg_sampling_options *o) {
    if (!(isfinite(o->temperature) && o->temperature >= 0.0f))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_sampling_options.temperature is %g; expected a finite value >= 0 "
                          "(0 = greedy, 1 = unchanged)", (double)o->temperature);
    if (o->top_k < 0)
        return mmg__error(MMG_ERR_INVALID_ARG,
           