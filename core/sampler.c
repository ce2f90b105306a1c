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
                          "mmg_sampling_options.top_k is %d; expected >= 0 (0 = off)", (int)o->top_k);
    if (!(o->top_p > 0.0f && o->top_p <= 1.0f))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_sampling_options.top_p is %g; expected a value in (0, 1] (1 = off)",
                          (double)o->top_p);
    if (!(o->min_p >= 0.0f && o->min_p <= 1.0f))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_sampling_options.min_p is %g; expected a value in [0, 1] (0 = off)",
                          (double)o->min_p);
    if (!(isfinite(o->repetition_penalty) && o->repetition_penalty > 0.0f))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_sampling_options.repetition_penalty is %g; expected a finite value > 0 "
                          "(1 = off, > 1 discourages repeats)", (double)o->repetition_penalty);
    if (o->repetition_window < 0)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_sampling_options.repetition_window is %d; expected >= 0 "
                          "(0 = every generated token)", (int)o->repetition_window);
    return MMG_OK;
}

/* Reads the caller's struct (by its struct_size) over the defaults, then checks it. */
static mmg_status read_options(mmg_sampling_options *dst, const mmg_sampling_options *src) {
    *dst = k_defaults;
    mmg_status st = mmg__read_options(dst, sizeof *dst, src, "mmg_sampling_options");
    if (st != MMG_OK) return st;
    return check_options(dst);
}

mmg_status mmg_sampling_options_validate(const mmg_sampling_options *opts) {
    if (!opts)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_sampling_options is NULL; fill one with mmg_sampling_options_init()");
    mmg_sampling_options o;
    return read_options(&o, opts);
}

mmg_status mmg__sampler_create(const mmg_sampling_options *opts, size_t vocab_size, uint64_t stream,
                               mmg__sampler **out) {
    if (!out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg__sampler_create: out is NULL");
    if (vocab_size == 0 || vocab_size > (size_t)INT32_MAX)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "sampler vocab_size is %zu; expected 1 to %d", vocab_size, (int)INT32_MAX);
    mmg_sampling_options o;
    mmg_status st = read_options(&o, opts);
    if (st != MMG_OK) return st;

    mmg__sampler *s = mmg__calloc(1, sizeof *s);
    if (!s) return mmg__error(MMG_ERR_NOMEM, "out of memory allocating a sampler");
    s->opts = o;
    s->vocab_size = vocab_size;
    size_t bytes;
    if (mmg__mul_size(vocab_size, sizeof *s->cand, &bytes) != 0 || !(s->cand = mmg__malloc(bytes)))
        goto nomem;
    if (o.top_p < 1.0f && !(s->boundary = mmg__malloc(bytes))) goto nomem;
    if (o.top_k > 0) {
        size_t k = (size_t)o.top_k < vocab_size ? (size_t)o.top_k : vocab_size;
        if (!(s->heap = mmg__malloc(k * sizeof *s->heap))) goto nomem;
    }
    if (o.repetition_penalty != 1.0f) {
        if (!(s->seen = mmg__calloc(vocab_size, sizeof *s->seen))) goto nomem;
    }
    mmg__rng_seed_stream(&s->rng, o.seed, stream);
    *out = s;
    return MMG_OK;
nomem:
    mmg__sampler_free(s);
    return mmg__error(MMG_ERR_NOMEM, "out of memory allocating sampler scratch for %zu tokens",
                      vocab_size);
}

void mmg__sampler_free(mmg__sampler *s) {
    if (!s) return;
    mmg__free(s->cand);
    mmg__free(s->boundary);
    mmg__free(s->heap);
    mmg__free(s->seen);
    mmg__free(s);
}

void mmg__sampler_get_rng(const mmg__sampler *s, mmg__rng *out) { *out = s->rng; }
void mmg__sampler_set_rng(mmg__sampler *s, const mmg__rng *in) { s->rng = *in; }
const mmg_sampling_options *mmg__sampler_options(const mmg__sampler *s) { return &s->opts; }
size_t mmg__sampler_vocab_size(const mmg__sampler *s) { return s->vocab_size; }

/* --- the pipeline --------------------------------------------------------- */

/* exp(x) for x <= 0 (or -inf), in float arithmetic with + and * only.
 * libm's expf may differ in the last bit between libraries and
 * architectures; this gives the same bits on every IEEE-754 machine (the
 * build is ISO C11, so the compiler does not contract into FMAs), which is
 * what makes a seed reproduce a token everywhere.
 * exp(x) = 2^k * exp(r), k = round(x / ln2), r = x - k ln2 in [-ln2/2, ln2/2]
 * (ln2 split in two so k * ln2_hi is exact); exp(r) by its degree-7 Taylor
 * polynomial. Measured against exp() in double over every float in
 * [-87, 0]: at most 1.02e-7 relative (~1 ulp). exp(0) is exactly 1. Below
 * -87 (where the result would be under FLT_MIN) it returns 0. */
static inline float det_expf(float x) {
    const float xc = x > -87.0f ? x : -87.0f; /* keeps 2^k a normal float */
    const float shifter = 0x1.8p23f; /* adding it rounds to an integer, kept in the low bits */
    const float t = xc * 1.44269504f + shifter;
    const float k = t - shifter;
    const float r = (xc - k * 0x1.62e400p-1f) - k * 0x1.7f7d1cp-20f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* 2^k: the low bits of t's representation hold k (two's complement);
     * k + 127 in [1, 127] is the biased exponent of a normal float */
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x > -87.0f ? p * scale : 0.0f;
}

/* Sum of c[0..m).p in double, in a fixed order: four interleaved partial sums
 * (so the additions pipeline) combined as (s0 + s1) + (s2 + s3), then the tail. */
static double cand_sum(const mmg__cand *c, size_t m) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= m; i += 4) {
        s0 += c[i].p;
        s1 += c[i + 1].p;
        s2 += c[i + 2].p;
        s3 += c[i + 3].p;
    }
    double sum = (s0 + s1) + (s2 + s3);
    for (; i < m; i++) sum += c[i].p;
    return sum;
}

static void heap_sift_down(float *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l] < h[m]) m = l;
        if (r < n && h[r] < h[m]) m = r;
        if (m == i) return;
        float t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}

/* The k-th largest finite logit (k < number of finite logits). Ties count
 * separately, so every token >= the result is kept, as in Hugging Face's
 * TopKLogitsWarper (all tokens tied with the k-th are kept). */
static float kth_largest(float *heap, const float *logits, size_t V, size_t k) {
    size_t n = 0;
    for (size_t i = 0; i < V; i++) {
        float l = logits[i];
        if (l == -INFINITY) continue;
        if (n < k) {
            heap[n++] = l;
            if (n == k)
                for (size_t j = k / 2; j-- > 0;) heap_sift_down(heap, k, j);
        } else if (l > heap[0]) {
            heap[0] = l;
            heap_sift_down(heap, k, 0);
        }
    }
    return heap[0];
}

/* "x comes before y": higher probability, then lower id. A total order, so
 * the result never depends on the input order. */
static inline int cand_before(const mmg__cand *x, const mmg__cand *y) {
    return x->p > y->p || (x->p == y->p && x->id < y->id);
}

/* Max-heap (by cand_before) sift-down over c[0..n). */
static void cand_sift_down(mmg__cand *c, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && cand_before(&c[l], &c[m])) m = l;
        if (r < n && cand_before(&c[r], &c[m])) m = r;
        if (m == i) return;
        mmg__cand t = c[i]; c[i] = c[m]; c[m] = t;
        i = m;
    }
}

static inline uint32_t bucket_of(float p) {
    uint32_t bits;
    memcpy(&bits, &p, sizeof bits);
    return bits >> MMG__BUCKET_SHIFT; /* p in [0, 1]: 0 .. MMG__NBUCKET - 1 */
}

/* Keeps the nucleus of c[0..m): the smallest most-likely-first prefix whose
 * mass reaches top_p * total. That is exactly the set HF's TopPLogitsWarper
 * keeps (it drops a token when the mass at or below it is <= 1 - top_p).
 *
 * No sort of the candidates: one pass sums the mass per probability bucket,
 * a walk down the buckets finds the one where the cumulative mass crosses
 * the target, every token in a higher bucket is kept, and only the tokens of
 * that boundary bucket are ordered (partial heapsort, popping until the mass
 * is reached). O(m + b log b) for b tokens in the boundary bucket.
 * Leaves the kept tokens in c[0..kept): those above the boundary in id order,
 * then the boundary ones most likely first. Returns kept. */
static size_t keep_top_p(mmg__sampler *s, size_t m, double total) {
    mmg__cand *c = s->cand;
    const double target = (double)s->opts.top_p * total;
    memset(s->bucket_mass, 0, sizeof s->bucket_mass);
    memset(s->bucket_count, 0, sizeof s->bucket_count);
    for (size_t i = 0; i < m; i++) {
        uint32_t b = bucket_of(c[i].p);
        s->bucket_mass[b] += c[i].p;
        s->bucket_count[b]++;
    }
    double cum = 0.0; /* mass of the buckets above the boundary */
    uint32_t kb = MMG__NBUCKET;
    for (uint32_t b = MMG__NBUCKET; b-- > 0;) {
        if (s->bucket_count[b] == 0) continue;
        if (cum + s->bucket_mass[b] >= target) {
            kb = b;
            break;
        }
        cum += s->bucket_mass[b];
    }
    if (kb == MMG__NBUCKET) return m; /* rounding kept the mass short of target: keep all */

    mmg__cand *bd = s->boundary;
    size_t kept = 0, nb = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t b = bucket_of(c[i].p);
        if (b > kb)
            c[kept++] = c[i]; /* kept <= i: compacting in place is safe */
        else if (b == kb)
            bd[nb++] = c[i];
    }
    for (size_t i = nb / 2; i-- > 0;) cand_sift_down(bd, nb, i);
    while (nb > 0) {
        mmg__cand top = bd[0];
        bd[0] = bd[--nb];
        cand_sift_down(bd, nb, 0);
        c[kept++] = top;
        cum += top.p;
        if (cum >= target) break;
    }
    return kept;
}

/* Runs the pipeline up to the final distribution. On success either
 * *greedy >= 0 (temperature 0: that token, no randomness), or s->cand[0..*n)
 * holds the kept tokens with unnormalized probabilities, in draw order, and
 * *total is their sum. */
static mmg_status prepare(mmg__sampler *s, float *logits, const uint8_t *allowed,
                          const int32_t *history, size_t n_history, size_t *n, double *total,
                          int32_t *greedy) {
    if (!s || !logits)
        return mmg__error(MMG_ERR_INVALID_ARG, "sampler: %s is NULL", !s ? "sampler" : "logits");
    if (!history && n_history > 0)
        return mmg__error(MMG_ERR_INVALID_ARG, "sampler: history is NULL but n_history is %zu",
                          n_history);
    const size_t V = s->vocab_size;
    const mmg_sampling_options *o = &s->opts;

    /* 1. Mask, and reject non-numbers (!(l < inf) catches NaN and +inf in one
     * compare). -inf is a legitimate "impossible". */
    size_t n_ok = 0, best = V; /* best: the argmax so far, lowest id on ties */
    float best_l = -INFINITY;
    for (size_t i = 0; i < V; i++) {
        float l = logits[i];
        if (!(l < INFINITY))
            return mmg__error(MMG_ERR_NUMERIC, "logits[%zu] is %s (of %zu); the model produced "
                              "a non-finite value, check the weights and inputs", i,
                              isnan(l) ? "NaN" : "+inf", V);
        if (allowed && !allowed[i]) logits[i] = l = -INFINITY;
        n_ok += l != -INFINITY;
        if (l > best_l) {
            best_l = l;
            best = i;
        }
    }
    if (n_ok == 0)
        return mmg__error(MMG_ERR_STATE, allowed
                          ? "no token can come next: the constraint allowed none of the %zu tokens "
                            "(or only tokens whose logit is -inf)"
                          : "no token can come next: all %zu logits are -inf", V);

    /* 2. Repetition penalty, once per distinct token in the window. Clamped so
     * a finite logit stays finite (a tiny penalty could overflow it). */
    int penalized = 0;
    if (s->seen && n_history > 0) {
        penalized = 1;
        const float pen = o->repetition_penalty;
        size_t w = (size_t)o->repetition_window;
        size_t start = (w > 0 && n_history > w) ? n_history - w : 0;
        if (++s->epoch == 0) { /* stamps wrapped: forget them all */
            memset(s->seen, 0, V * sizeof *s->seen);
            s->epoch = 1;
        }
        for (size_t j = start; j < n_history; j++) {
            int32_t t = history[j];
            if (t < 0 || (size_t)t >= V || s->seen[t] == s->epoch) continue;
            s->seen[t] = s->epoch;
            float l = logits[t];
            if (l == -INFINITY) continue;
            l = l > 0.0f ? l / pen : l * pen;
            if (l > FLT_MAX) l = FLT_MAX;
            if (l < -FLT_MAX) l = -FLT_MAX;
            logits[t] = l;
        }
    }

    /* 3. Greedy: argmax among the allowed, ties to the lowest id. */
    if (o->temperature == 0.0f) {
        if (penalized) { /* the penalty may have moved the maximum: look again */
            best = V;
            for (size_t i = 0; i < V; i++)
                if (logits[i] != -INFINITY && (best == V || logits[i] > logits[best])) best = i;
        }
        *greedy = (int32_t)best;
        return MMG_OK;
    }
    *greedy = -1;

    /* 4-5. Top-k threshold on the logits (dividing by a positive temperature
     * keeps their order), then gather the candidates in id order. */
    float thresh = -INFINITY;
    if (o->top_k > 0 && (size_t)o->top_k < n_ok)
        thresh = kth_largest(s->heap, logits, V, (size_t)o->top_k);
    mmg__cand *c = s->cand;
    size_t m = 0;
    float max = -INFINITY;
    for (size_t i = 0; i < V; i++) {
        float l = logits[i];
        if (l != -INFINITY && l >= thresh) {
            c[m].p = l;
            c[m].id = (int32_t)i;
            m++;
            if (l > max) max = l;
        }
    }

    /* 6. Softmax numerators, with the temperature: exp((l - max) / T) in
     * [0, 1], exactly 1 for the maximum. */
    const float temp = o->temperature;
    for (size_t i = 0; i < m; i++) c[i].p = det_expf((c[i].p - max) / temp);
    double sum = cand_sum(c, m);
    const size_t m_all = m;

    /* 7. Top-p. */
    if (o->top_p < 1.0f) m = keep_top_p(s, m, sum);

    /* 8. Min-p against the most likely kept token (renormalizing does not
     * change the ratio, so unnormalized values compare the same). */
    if (o->min_p > 0.0f) {
        float pmax = 0.0f;
        for (size_t i = 0; i < m; i++)
            if (c[i].p > pmax) pmax = c[i].p;
        const float cut = o->min_p * pmax;
        size_t j = 0;
        for (size_t i = 0; i < m; i++)
            if (c[i].p >= cut) c[j++] = c[i];
        m = j;
    }

    /* 9. Renormalize: the sum over the kept tokens (unchanged if none went). */
    if (m != m_all) sum = cand_sum(c, m);
    *n = m;
    *total = sum;
    return MMG_OK;
}

mmg_status mmg__sampler_sample(mmg__sampler *s, float *logits, const uint8_t *allowed,
                               const int32_t *history, size_t n_history, int32_t *out_token) {
    if (!out_token) return mmg__error(MMG_ERR_INVALID_ARG, "sampler: out_token is NULL");
    size_t m = 0;
    double total = 0.0;
    int32_t greedy = -1;
    mmg_status st = prepare(s, logits, allowed, history, n_history, &m, &total, &greedy);
    if (st != MMG_OK) return st;
    if (greedy >= 0) {
        *out_token = greedy;
        return MMG_OK;
    }
    /* Invert the CDF with one uniform draw. */
    const mmg__cand *c = s->cand;
    const double u = mmg__rng_uniform_double(&s->rng) * total;
    double cum = 0.0;
    size_t last = 0;
    for (size_t i = 0; i < m; i++) {
        if (c[i].p <= 0.0f) continue;
        cum += c[i].p;
        last = i;
        if (u < cum) break;
    }
    /* If rounding leaves u >= the final cum, `last` is the last token with
     * nonzero probability. */
    *out_token = c[last].id;
    return MMG_OK;
}

mmg_status mmg__sampler_probs(mmg__sampler *s, float *logits, const uint8_t *allowed,
                              const int32_t *history, size_t n_history, int32_t *ids, float *probs,
                              size_t *n_out) {
    if (!ids || !probs || !n_out)
        return mmg__error(MMG_ERR_INVALID_ARG, "sampler: ids, probs or n_out is NULL");
    size_t m = 0;
    double total = 0.0;
    int32_t greedy = -1;
    mmg_status st = prepare(s, logits, allowed, history, n_history, &m, &total, &greedy);
    if (st != MMG_OK) return st;
    if (greedy >= 0) {
        ids[0] = greedy;
        probs[0] = 1.0f;
        *n_out = 1;
        return MMG_OK;
    }
    for (size_t i = 0; i < m; i++) {
        ids[i] = s->cand[i].id;
        probs[i] = (float)(s->cand[i].p / total);
    }
    *n_out = m;
    return MMG_OK;
}
