/* tests/test_sampler.c - the next-token sampler and its public options.
 *
 * Expected kept sets and probabilities come from PyTorch, by a transcription
 * of Hugging Face's logits processors (tests/fixtures/sampling/
 * sampling_reference.py; its output sampling_reference.txt is read here).
 * Frequencies over 200k draws are checked against those probabilities with a
 * chi-square bound; every random test uses a fixed seed, so none can flake. */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "mmgen/mmgen.h"
#include "sampler.h"

#define FIXTURE MMGEN_SOURCE_DIR "/tests/fixtures/sampling/sampling_reference.txt"

/* --- helpers -------------------------------------------------------------- */

static mmg_sampling_options opts_default(void) {
    mmg_sampling_options o;
    mmg_sampling_options_init(&o, sizeof o);
    return o;
}

static mmg__sampler *make(const mmg_sampling_options *o, size_t vocab, uint64_t stream) {
    mmg__sampler *s = NULL;
    mmg_status st = mmg__sampler_create(o, vocab, stream, &s);
    cr_assert_eq(st, MMG_OK, "sampler_create: %s", mmg_last_error());
    cr_assert_not_null(s);
    return s;
}

/* Draws one token from a private copy of `logits` (sampling modifies them). */
static int32_t draw(mmg__sampler *s, const float *logits, float *scratch, size_t V,
                    const uint8_t *allowed, const int32_t *hist, size_t n_hist) {
    memcpy(scratch, logits, V * sizeof *logits);
    int32_t tok = -1;
    mmg_status st = mmg__sampler_sample(s, scratch, allowed, hist, n_hist, &tok);
    cr_assert_eq(st, MMG_OK, "sample: %s", mmg_last_error());
    cr_assert(tok >= 0 && (size_t)tok < V, "token %d out of range", tok);
    return tok;
}

/* A small deterministic generator for test inputs (not the one under test). */
static uint64_t lcg_state = 88172645463325252ull;
static double lcg_uniform(void) {
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg_state >> 11) * 0x1.0p-53;
}
static float lcg_normal(void) {
    double u1 = 1.0 - lcg_uniform(), u2 = lcg_uniform();
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Upper chi-square quantile for p = 1e-4 (Wilson-Hilferty, z = 3.719). */
static double chi2_bound(int df) {
    double z = 3.719, k = df;
    double c = 1.0 - 2.0 / (9.0 * k) + z * sqrt(2.0 / (9.0 * k));
    return k * c * c * c;
}

/* Chi-square statistic of counts against probabilities; bins expected below
 * 5 are pooled, as the test requires. Returns the statistic, *df its degrees
 * of freedom. */
static double chi2(const long *count, const double *p, size_t n, long draws, int *df) {
    double stat = 0.0, pool_e = 0.0, pool_o = 0.0;
    int bins = 0;
    for (size_t i = 0; i < n; i++) {
        double e = p[i] * (double)draws;
        if (e < 5.0) {
            pool_e += e;
            pool_o += (double)count[i];
            continue;
        }
        stat += ((double)count[i] - e) * ((double)count[i] - e) / e;
        bins++;
    }
    if (pool_e > 0.0) {
        stat += (pool_o - pool_e) * (pool_o - pool_e) / (pool_e > 1e-9 ? pool_e : 1e-9);
        bins++;
    }
    *df = bins - 1;
    return stat;
}

/* --- the PyTorch fixture ---------------------------------------------------- */

typedef struct ref_case {
    char name[64];
    size_t vocab;
    mmg_sampling_options opts;
    float *logits;      /* (vocab) */
    uint8_t *allowed;   /* (vocab) or NULL = all */
    int32_t *history;   /* (n_history) */
    size_t n_history;
    size_t n_kept;
    int32_t *kept_ids;  /* (n_kept) ascending */
    float *kept_probs;  /* (n_kept) */
} ref_case;

static ref_case g_cases[64];
static size_t g_n_cases;

static void expect_word(FILE *f, const char *w) {
    char buf[64];
    cr_assert_eq(fscanf(f, "%63s", buf), 1, "fixture ended early, expected '%s'", w);
    cr_assert_str_eq(buf, w, "fixture: expected '%s', found '%s'", w, buf);
}

static float read_float(FILE *f) {
    char buf[64];
    cr_assert_eq(fscanf(f, "%63s", buf), 1, "fixture: expected a number");
    return strtof(buf, NULL); /* exact float32: the script prints %.9g */
}

static void load_cases(void) {
    FILE *f = fopen(FIXTURE, "r");
    cr_assert_not_null(f, "cannot open %s", FIXTURE);
    char word[64];
    while (fscanf(f, "%63s", word) == 1) {
        if (word[0] == '#') {
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {}
            continue;
        }
        cr_assert_str_eq(word, "case");
        cr_assert_lt(g_n_cases, sizeof g_cases / sizeof g_cases[0]);
        ref_case *c = &g_cases[g_n_cases++];
        c->opts = opts_default();
        cr_assert_eq(fscanf(f, "%63s %zu", c->name, &c->vocab), 2);
        c->opts.temperature = read_float(f);
        cr_assert_eq(fscanf(f, "%d", &c->opts.top_k), 1);
        c->opts.top_p = read_float(f);
        c->opts.min_p = read_float(f);
        c->opts.repetition_penalty = read_float(f);
        cr_assert_eq(fscanf(f, "%d", &c->opts.repetition_window), 1);
        expect_word(f, "logits");
        c->logits = malloc(c->vocab * sizeof *c->logits);
        for (size_t i = 0; i < c->vocab; i++) c->logits[i] = read_float(f);
        expect_word(f, "allowed");
        cr_assert_eq(fscanf(f, "%63s", word), 1);
        if (strcmp(word, "-") != 0) {
            c->allowed = malloc(c->vocab);
            c->allowed[0] = (uint8_t)atoi(word);
            for (size_t i = 1; i < c->vocab; i++) {
                int a;
                cr_assert_eq(fscanf(f, "%d", &a), 1);
                c->allowed[i] = (uint8_t)a;
            }
        }
        expect_word(f, "history");
        cr_assert_eq(fscanf(f, "%zu", &c->n_history), 1);
        c->history = malloc((c->n_history + 1) * sizeof *c->history);
        for (size_t i = 0; i < c->n_history; i++) cr_assert_eq(fscanf(f, "%d", &c->history[i]), 1);
        expect_word(f, "kept");
        cr_assert_eq(fscanf(f, "%zu", &c->n_kept), 1);
        c->kept_ids = malloc(c->n_kept * sizeof *c->kept_ids);
        c->kept_probs = malloc(c->n_kept * sizeof *c->kept_probs);
        for (size_t i = 0; i < c->n_kept; i++) {
            cr_assert_eq(fscanf(f, "%d", &c->kept_ids[i]), 1);
            c->kept_probs[i] = read_float(f);
        }
        expect_word(f, "end");
    }
    fclose(f);
    cr_assert_geq(g_n_cases, 20, "fixture has only %zu cases", g_n_cases);
}

static void free_cases(void) {
    for (size_t i = 0; i < g_n_cases; i++) {
        free(g_cases[i].logits);
        free(g_cases[i].allowed);
        free(g_cases[i].history);
        free(g_cases[i].kept_ids);
        free(g_cases[i].kept_probs);
    }
    g_n_cases = 0;
}

static const ref_case *find_case(const char *name) {
    for (size_t i = 0; i < g_n_cases; i++)
        if (strcmp(g_cases[i].name, name) == 0) return &g_cases[i];
    cr_assert_fail("fixture case '%s' not found", name);
    return NULL;
}

static int cmp_pair_by_id(const void *a, const void *b) {
    const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The sampler's kept tokens for a case, sorted by id into ids/probs. */
static size_t sampler_kept(const ref_case *c, int32_t *ids, float *probs) {
    mmg__sampler *s = make(&c->opts, c->vocab, 0);
    float *l = malloc(c->vocab * sizeof *l);
    memcpy(l, c->logits, c->vocab * sizeof *l);
    int32_t *raw_ids = malloc(c->vocab * sizeof *raw_ids);
    float *raw_p = malloc(c->vocab * sizeof *raw_p);
    size_t n = 0;
    mmg_status st = mmg__sampler_probs(s, l, c->allowed, c->history, c->n_history, raw_ids, raw_p, &n);
    cr_assert_eq(st, MMG_OK, "%s: %s", c->name, mmg_last_error());
    /* sort (id, prob) pairs by id */
    struct { int32_t id; float p; } *pairs = malloc(n * sizeof *pairs);
    for (size_t i = 0; i < n; i++) { pairs[i].id = raw_ids[i]; pairs[i].p = raw_p[i]; }
    qsort(pairs, n, sizeof *pairs, cmp_pair_by_id);
    for (size_t i = 0; i < n; i++) { ids[i] = pairs[i].id; probs[i] = pairs[i].p; }
    free(pairs); free(raw_p); free(raw_ids); free(l);
    mmg__sampler_free(s);
    return n;
}

TestSuite(sampler, .init = load_cases, .fini = free_cases);

/* --- kept sets and probabilities against PyTorch ----------------------------- */

Test(sampler, kept_sets_match_pytorch_reference) {
    for (size_t k = 0; k < g_n_cases; k++) {
        const ref_case *c = &g_cases[k];
        int32_t *ids = malloc(c->vocab * sizeof *ids);
        float *probs = malloc(c->vocab * sizeof *probs);
        size_t n = sampler_kept(c, ids, probs);
        cr_expect_eq(n, c->n_kept, "%s: kept %zu tokens, reference keeps %zu", c->name, n, c->n_kept);
        for (size_t i = 0; i < n && i < c->n_kept; i++) {
            cr_expect_eq(ids[i], c->kept_ids[i], "%s: kept token #%zu is %d, reference %d", c->name,
                         i, ids[i], c->kept_ids[i]);
            double want = c->kept_probs[i];
            cr_expect(fabs(probs[i] - want) <= 1e-6 + 2e-5 * want,
                      "%s: p(%d) = %.9g, reference %.9g", c->name, ids[i], probs[i], want);
        }
        free(ids);
        free(probs);
    }
}

/* The sets the fixture comments derive by hand, so a wrong reference script
 * cannot silently agree with a wrong sampler. */
Test(sampler, kept_sets_match_hand_derivation) {
    static const struct { const char *name; int n; int32_t ids[8]; } want[] = {
        {"top_k_3", 3, {1, 3, 6}},          /* logits 2.0, 3.0, 2.5 are the 3 largest */
        {"top_k_tie_2", 2, {1, 3}},         /* two 3.0s */
        {"top_k_tie_3", 4, {1, 2, 3, 4}},   /* the 3rd largest, 2.0, is tied: both kept */
        {"top_k_big", 3, {0, 1, 2}},        /* k > vocab keeps everything */
        {"top_p_08", 3, {1, 3, 4}},         /* 0.5 + 0.2 = 0.7 < 0.8 <= 0.85 */
        {"top_p_06", 2, {1, 3}},            /* 0.5 < 0.6 <= 0.7 */
        {"top_p_small", 1, {1}},            /* the argmax is always kept */
        {"min_p_025", 3, {0, 1, 2}},        /* cut 0.25 * 0.4 = 0.1 drops 0.09, 0.06 */
        {"min_p_1", 1, {1}},                /* only p_max survives */
        {"greedy_tie", 1, {3}},             /* ids 3 and 8 tie at 4.0: lowest id */
        {"penalty_greedy", 1, {2}},         /* 4.0 / 3 = 1.33 < 3.0 */
        {"mask_top_k", 3, {1, 6, 7}},       /* 2, 3 masked: 3.0 (7) then 2.0 tied (1, 6) */
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const ref_case *c = find_case(want[k].name);
        int32_t ids[64];
        float probs[64];
        cr_assert_leq(c->vocab, 64);
        size_t n = sampler_kept(c, ids, probs);
        cr_expect_eq(n, (size_t)want[k].n, "%s: kept %zu, expected %d", c->name, n, want[k].n);
        for (int i = 0; i < want[k].n && (size_t)i < n; i++)
            cr_expect_eq(ids[i], want[k].ids[i], "%s: token #%d is %d, expected %d", c->name, i,
                         ids[i], want[k].ids[i]);
    }
    /* penalty: logits [1 2 3 4 .5 -1 2 -3], window 4 of history [5 2 7 99 1]
     * = [2 7 99 1]: 3 -> 1.5, -3 -> -6, 2 -> 1 (99 is not a token; 5 is out
     * of the window). So p(0) = p(1) (both logit 1) and p(5) is unpenalized. */
    const ref_case *c = find_case("penalty");
    int32_t ids[8];
    float p[8];
    cr_assert_eq(sampler_kept(c, ids, p), 8);
    double z = exp(1) + exp(1) + exp(1.5) + exp(4) + exp(0.5) + exp(-1) + exp(2) + exp(-6);
    const double logit[8] = {1, 1, 1.5, 4, 0.5, -1, 2, -6};
    for (int i = 0; i < 8; i++)
        cr_expect(fabs(p[i] - exp(logit[i]) / z) < 1e-6, "penalty: p(%d) = %g, expected %g", i,
                  p[i], exp(logit[i]) / z);
}

/* --- draws ------------------------------------------------------------------- */

/* 200k draws per case: only kept tokens appear, and the frequencies pass a
 * chi-square test (p = 1e-4) against the PyTorch probabilities. */
Test(sampler, frequencies_match_reference_probabilities) {
    static const char *names[] = {"softmax", "temperature_half", "top_k_3", "top_p_08", "min_p_025",
                                  "penalty", "mask_top_k", "combined", "big_top_k_top_p"};
    const long draws = 200000;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const ref_case *c = find_case(names[k]);
        mmg_sampling_options o = c->opts;
        o.seed = 20240501 + k;
        mmg__sampler *s = make(&o, c->vocab, 0);
        long *count = calloc(c->vocab, sizeof *count);
        float *scratch = malloc(c->vocab * sizeof *scratch);
        for (long d = 0; d < draws; d++)
            count[draw(s, c->logits, scratch, c->vocab, c->allowed, c->history, c->n_history)]++;
        long *kc = calloc(c->n_kept, sizeof *kc);
        double *kp = calloc(c->n_kept, sizeof *kp);
        long seen = 0;
        for (size_t i = 0; i < c->n_kept; i++) {
            kc[i] = count[c->kept_ids[i]];
            kp[i] = c->kept_probs[i];
            seen += kc[i];
        }
        cr_expect_eq(seen, draws, "%s: %ld of %ld draws were tokens the reference drops", c->name,
                     draws - seen, draws);
        int df;
        double stat = chi2(kc, kp, c->n_kept, draws, &df);
        if (df > 0)
            cr_expect_lt(stat, chi2_bound(df), "%s: chi-square %.2f with %d df exceeds %.2f",
                         c->name, stat, df, chi2_bound(df));
        free(kp); free(kc); free(scratch); free(count);
        mmg__sampler_free(s);
    }
}

Test(sampler, greedy_is_argmax_with_ties_to_lowest_id) {
    mmg_sampling_options o = opts_default();
    o.temperature = 0.0f;
    o.top_k = 3; /* ignored by greedy */
    const float logits[6] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f, 2.0f};
    float scratch[6];
    mmg__sampler *s = make(&o, 6, 0);
    mmg__rng before, after;
    mmg__sampler_get_rng(s, &before);
    for (int i = 0; i < 100; i++) cr_assert_eq(draw(s, logits, scratch, 6, NULL, NULL, 0), 1);
    mmg__sampler_get_rng(s, &after);
    cr_expect_eq(memcmp(&before, &after, sizeof before), 0, "greedy must not consume randomness");
    const uint8_t allowed[6] = {1, 0, 1, 1, 1, 1};
    cr_expect_eq(draw(s, logits, scratch, 6, allowed, NULL, 0), 3, "argmax among the allowed");
    const float neg[6] = {-INFINITY, -7.0f, -3.0f, -3.0f, -INFINITY, -9.0f};
    cr_expect_eq(draw(s, neg, scratch, 6, NULL, NULL, 0), 2);
    mmg__sampler_free(s);
}

Test(sampler, temperature_toward_zero_becomes_greedy) {
    const size_t V = 1000;
    float *logits = malloc(V * sizeof *logits), *scratch = malloc(V * sizeof *scratch);
    for (size_t i = 0; i < V; i++) logits[i] = lcg_normal();
    logits[417] = logits[0] + 10.0f; /* a clear maximum */
    for (size_t i = 0; i < V; i++)
        if (i != 417 && logits[i] >= logits[417]) logits[i] = logits[417] - 1.0f;
    static const float temps[] = {1e-3f, 1e-6f, 1e-30f, 1e-45f /* subnormal */};
    for (size_t t = 0; t < sizeof temps / sizeof temps[0]; t++) {
        mmg_sampling_options o = opts_default();
        o.temperature = temps[t];
        o.seed = t;
        mmg__sampler *s = make(&o, V, 0);
        for (int i = 0; i < 2000; i++)
            cr_assert_eq(draw(s, logits, scratch, V, NULL, NULL, 0), 417, "T = %g", (double)temps[t]);
        mmg__sampler_free(s);
    }
    /* Two tied maxima at T -> 0: only they appear, each about half the time. */
    logits[600] = logits[417];
    mmg_sampling_options o = opts_default();
    o.temperature = 1e-6f;
    mmg__sampler *s = make(&o, V, 0);
    long n417 = 0, n600 = 0;
    for (int i = 0; i < 20000; i++) {
        int32_t tok = draw(s, logits, scratch, V, NULL, NULL, 0);
        cr_assert(tok == 417 || tok == 600, "token %d", tok);
        n417 += tok == 417;
        n600 += tok == 600;
    }
    cr_expect(labs(n417 - n600) < 4 * (long)sqrt(20000.0), "417: %ld, 600: %ld", n417, n600);
    mmg__sampler_free(s);
    free(logits); free(scratch);
}

Test(sampler, top_k_1_equals_greedy) {
    const size_t V = 2048;
    float *logits = malloc(V * sizeof *logits), *scratch = malloc(V * sizeof *scratch);
    mmg_sampling_options ok = opts_default(), og = opts_default();
    ok.top_k = 1;
    ok.temperature = 1.7f;
    ok.top_p = 0.5f;
    og.temperature = 0.0f;
    mmg__sampler *sk = make(&ok, V, 3), *sg = make(&og, V, 0);
    for (int r = 0; r < 200; r++) {
        for (size_t i = 0; i < V; i++) logits[i] = lcg_normal() * 4.0f; /* distinct maxima */
        cr_assert_eq(draw(sk, logits, scratch, V, NULL, NULL, 0),
                     draw(sg, logits, scratch, V, NULL, NULL, 0), "round %d", r);
    }
    mmg__sampler_free(sk);
    mmg__sampler_free(sg);
    free(logits); free(scratch);
}

/* top-p over a GPT-2 sized vocabulary against a naive full sort done here:
 * same nucleus on peaked and flat distributions. */
static int cmp_desc_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

Test(sampler, top_p_large_vocab_matches_full_sort) {
    const size_t V = 50257;
    float *logits = malloc(V * sizeof *logits), *l = malloc(V * sizeof *l);
    float *all_p = malloc(V * sizeof *all_p), *kept_p = malloc(V * sizeof *kept_p);
    int32_t *all_id = malloc(V * sizeof *all_id), *kept_id = malloc(V * sizeof *kept_id);
    static const struct { float scale, temperature, top_p; } runs[] = {
        {3.0f, 1.0f, 0.9f}, {5.0f, 0.7f, 0.95f}, {0.01f, 1.0f, 0.9f} /* nearly flat */,
        {1.0f, 1.0f, 0.5f}, {8.0f, 1.0f, 0.99f},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        for (size_t i = 0; i < V; i++) logits[i] = lcg_normal() * runs[r].scale;
        mmg_sampling_options full = opts_default(), nuc = opts_default();
        full.temperature = nuc.temperature = runs[r].temperature;
        nuc.top_p = runs[r].top_p;
        mmg__sampler *sf = make(&full, V, 0), *sn = make(&nuc, V, 0);
        size_t n_all = 0, n_kept = 0;
        memcpy(l, logits, V * sizeof *l);
        cr_assert_eq(mmg__sampler_probs(sf, l, NULL, NULL, 0, all_id, all_p, &n_all), MMG_OK);
        memcpy(l, logits, V * sizeof *l);
        cr_assert_eq(mmg__sampler_probs(sn, l, NULL, NULL, 0, kept_id, kept_p, &n_kept), MMG_OK);
        cr_assert_eq(n_all, V);
        /* naive: sort all probabilities, take the shortest prefix reaching top_p */
        qsort(all_p, V, sizeof *all_p, cmp_desc_float);
        double cum = 0.0;
        size_t want = V;
        for (size_t i = 0; i < V; i++) {
            cum += all_p[i];
            if (cum >= runs[r].top_p) { want = i + 1; break; }
        }
        /* rounding can move the cut by one token only when cum is within
         * float precision of top_p at the boundary */
        double margin = fabs(cum - runs[r].top_p);
        if (margin > 1e-5)
            cr_expect_eq(n_kept, want, "run %zu: nucleus has %zu tokens, full sort gives %zu", r,
                         n_kept, want);
        else
            cr_expect(n_kept + 1 >= want && n_kept <= want + 1, "run %zu", r);
        /* the kept tokens are the most likely ones, renormalized:
         * sorted, kept_p[i] * (their mass) = all_p[i] */
        qsort(kept_p, n_kept, sizeof *kept_p, cmp_desc_float);
        double mass = 0.0;
        for (size_t i = 0; i < n_kept; i++) mass += all_p[i];
        for (size_t i = 0; i < n_kept; i++)
            cr_assert(fabs(kept_p[i] * mass - all_p[i]) <= 1e-4 * all_p[i] + 1e-9,
                      "run %zu: kept #%zu has p %g, full sort %g", r, i, kept_p[i] * mass, all_p[i]);
        mmg__sampler_free(sf);
        mmg__sampler_free(sn);
    }
    free(logits); free(l); free(all_p); free(kept_p); free(all_id); free(kept_id);
}

Test(sampler, repetition_penalty_discourages_repeats) {
    /* Four equal logits; token 0 was generated twice, token 3 long ago. */
    const float logits[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    const int32_t hist[] = {3, 0, -5, 0, 7000};
    mmg_sampling_options o = opts_default();
    o.repetition_penalty = 2.0f;
    o.repetition_window = 4; /* 3 is outside; -5 and 7000 are not tokens */
    mmg__sampler *s = make(&o, 4, 0);
    int32_t ids[4];
    float p[4];
    size_t n;
    float l[4];
    memcpy(l, logits, sizeof l);
    cr_assert_eq(mmg__sampler_probs(s, l, NULL, hist, 5, ids, p, &n), MMG_OK);
    cr_assert_eq(n, 4);
    /* id order (no top-p): logit of 0 halved once, not twice */
    double z = exp(0.5) + 3 * exp(1.0);
    cr_expect(fabs(p[0] - exp(0.5) / z) < 1e-6, "p(0) = %g", p[0]);
    cr_expect(fabs(p[3] - exp(1.0) / z) < 1e-6, "p(3) = %g", p[3]);
    /* negative logits are multiplied: more negative */
    const float neg[2] = {-1.0f, -1.0f};
    const int32_t h1[] = {1};
    mmg__sampler *s2 = make(&o, 2, 0);
    memcpy(l, neg, sizeof neg);
    cr_assert_eq(mmg__sampler_probs(s2, l, NULL, h1, 1, ids, p, &n), MMG_OK);
    cr_expect(fabs(p[1] - exp(-2.0) / (exp(-1.0) + exp(-2.0))) < 1e-6, "p(1) = %g", p[1]);
    /* window 0 = whole history: now 3 is penalized too */
    o.repetition_window = 0;
    mmg__sampler *s3 = make(&o, 4, 0);
    memcpy(l, logits, sizeof l);
    cr_assert_eq(mmg__sampler_probs(s3, l, NULL, hist, 5, ids, p, &n), MMG_OK);
    cr_expect(fabs(p[3] - p[0]) < 1e-7 && p[3] < p[1], "p = %g %g %g %g", p[0], p[1], p[2], p[3]);
    /* frequency effect over draws */
    float scratch[4];
    long c0 = 0;
    for (int i = 0; i < 20000; i++) c0 += draw(s, logits, scratch, 4, NULL, hist, 5) == 0;
    double e0 = 20000 * exp(0.5) / z; /* ~3000 rather than 5000 */
    cr_expect(fabs((double)c0 - e0) < 5 * sqrt(e0), "token 0 drawn %ld times, expected ~%.0f", c0, e0);
    /* A tiny penalty cannot turn a finite logit into inf or NaN. */
    mmg_sampling_options t = opts_default();
    t.repetition_penalty = 1e-38f;
    mmg__sampler *s4 = make(&t, 4, 0);
    const float big[4] = {1000.0f, 0.0f, 999.0f, -1000.0f};
    const int32_t h2[] = {0, 3};
    cr_expect_eq(draw(s4, big, scratch, 4, NULL, h2, 2), 0);
    memcpy(l, big, sizeof big);
    cr_assert_eq(mmg__sampler_probs(s4, l, NULL, h2, 2, ids, p, &n), MMG_OK);
    for (size_t i = 0; i < n; i++) cr_expect(isfinite(p[i]), "p(%d) = %g", ids[i], p[i]);
    mmg__sampler_free(s);
    mmg__sampler_free(s2);
    mmg__sampler_free(s3);
    mmg__sampler_free(s4);
}

Test(sampler, mask_only_allowed_tokens_are_returned) {
    const size_t V = 300;
    float *logits = malloc(V * sizeof *logits), *scratch = malloc(V * sizeof *scratch);
    uint8_t *allowed = malloc(V);
    for (size_t i = 0; i < V; i++) {
        logits[i] = lcg_normal() * 2.0f;
        allowed[i] = (uint8_t)(lcg_uniform() < 0.3 ? 7 : 0); /* any nonzero means allowed */
    }
    logits[5] = 50.0f; /* the favourite is forbidden */
    allowed[5] = 0;
    static const struct { float t; int k; float p, m; } cfg[] = {
        {1.0f, 0, 1.0f, 0.0f}, {1.0f, 5, 1.0f, 0.0f}, {0.8f, 0, 0.9f, 0.0f}, {1.5f, 20, 0.95f, 0.05f},
        {0.0f, 0, 1.0f, 0.0f}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        mmg_sampling_options o = opts_default();
        o.temperature = cfg[c].t;
        o.top_k = cfg[c].k;
        o.top_p = cfg[c].p;
        o.min_p = cfg[c].m;
        mmg__sampler *s = make(&o, V, c);
        for (int i = 0; i < 10000; i++) {
            int32_t tok = draw(s, logits, scratch, V, allowed, NULL, 0);
            cr_assert(allowed[tok], "config %zu drew forbidden token %d", c, tok);
        }
        mmg__sampler_free(s);
    }
    free(logits); free(scratch); free(allowed);
}

Test(sampler, nothing_allowed_is_a_state_error) {
    float l[4] = {1, 2, 3, 4};
    const uint8_t none[4] = {0, 0, 0, 0};
    mmg__sampler *s = make(NULL, 4, 0);
    int32_t tok = 12345;
    cr_expect_eq(mmg__sampler_sample(s, l, none, NULL, 0, &tok), MMG_ERR_STATE);
    cr_expect_eq(tok, 12345, "out_token untouched on error");
    cr_expect(strstr(mmg_last_error(), "allowed") != NULL, "%s", mmg_last_error());
    /* allowed tokens whose logits are all -inf */
    float l2[4] = {-INFINITY, 2, -INFINITY, 4};
    const uint8_t odd[4] = {1, 0, 1, 0};
    cr_expect_eq(mmg__sampler_sample(s, l2, odd, NULL, 0, &tok), MMG_ERR_STATE);
    float l3[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    cr_expect_eq(mmg__sampler_sample(s, l3, NULL, NULL, 0, &tok), MMG_ERR_STATE);
    cr_expect_eq(tok, 12345);
    /* ... also for greedy */
    mmg_sampling_options o = opts_default();
    o.temperature = 0.0f;
    mmg__sampler *g = make(&o, 4, 0);
    float l4[4] = {1, 2, 3, 4};
    cr_expect_eq(mmg__sampler_sample(g, l4, none, NULL, 0, &tok), MMG_ERR_STATE);
    mmg__sampler_free(g);
    mmg__sampler_free(s);
}

Test(sampler, nan_and_inf_logits_are_numeric_errors) {
    float l[32];
    for (int i = 0; i < 32; i++) l[i] = (float)i;
    l[17] = NAN;
    mmg__sampler *s = make(NULL, 32, 0);
    int32_t tok = -7;
    cr_expect_eq(mmg__sampler_sample(s, l, NULL, NULL, 0, &tok), MMG_ERR_NUMERIC);
    cr_expect(strstr(mmg_last_error(), "logits[17]") != NULL, "%s", mmg_last_error());
    cr_expect_eq(tok, -7);
    /* a NaN under the mask is still reported: the model is broken */
    uint8_t allowed[32];
    memset(allowed, 1, sizeof allowed);
    allowed[17] = 0;
    cr_expect_eq(mmg__sampler_sample(s, l, allowed, NULL, 0, &tok), MMG_ERR_NUMERIC);
    for (int i = 0; i < 32; i++) l[i] = (float)i;
    l[3] = INFINITY;
    cr_expect_eq(mmg__sampler_sample(s, l, NULL, NULL, 0, &tok), MMG_ERR_NUMERIC);
    cr_expect(strstr(mmg_last_error(), "logits[3]") != NULL, "%s", mmg_last_error());
    int32_t ids[32];
    float p[32];
    size_t n = 99;
    l[3] = NAN;
    cr_expect_eq(mmg__sampler_probs(s, l, NULL, NULL, 0, ids, p, &n), MMG_ERR_NUMERIC);
    cr_expect_eq(n, 99);
    mmg__sampler_free(s);
}

/* At the min-p boundary a token whose p equals min_p * p_max is kept (HF drops
 * only p < min_p * p_max). Exact equality is set up with the sampler's own
 * arithmetic: the max has p = 1, the other exp(-1) as float, min_p that. */
Test(sampler, min_p_boundary_keeps_equal) {
    mmg_sampling_options o = opts_default();
    o.min_p = expf(-1.0f);
    mmg__sampler *s = make(&o, 3, 0);
    float l[3] = {0.0f, -1.0f, -1.5f};
    int32_t ids[3];
    float p[3];
    size_t n = 0;
    cr_assert_eq(mmg__sampler_probs(s, l, NULL, NULL, 0, ids, p, &n), MMG_OK);
    cr_expect_eq(n, 2, "kept %zu tokens, expected ids 0 and 1", n);
    cr_expect(n >= 2 && ids[0] == 0 && ids[1] == 1);
    mmg__sampler_free(s);
}

/* Ties at the top-p boundary go to the lower ids: four equal logits, top_p
 * 0.6 -> cumulative 0.25, 0.5, 0.75: three tokens, the three lowest ids. */
Test(sampler, top_p_ties_keep_lowest_ids) {
    mmg_sampling_options o = opts_default();
    o.top_p = 0.6f;
    mmg__sampler *s = make(&o, 7, 0);
    float l[7] = {-5.0f, 1.0f, -5.0f, 1.0f, 1.0f, -6.0f, 1.0f}; /* tied: 1, 3, 4, 6 */
    int32_t ids[7];
    float p[7];
    size_t n = 0;
    cr_assert_eq(mmg__sampler_probs(s, l, NULL, NULL, 0, ids, p, &n), MMG_OK);
    /* mass of the tied four: 4e / (4e + 2e^-5 + e^-6) ~ 0.9993; 0.6 of the
     * total needs three of them (3/4 of 0.9993 = 0.749 >= 0.6 > 0.4997) */
    cr_assert_eq(n, 3, "kept %zu", n);
    int32_t want[3] = {1, 3, 4};
    for (int i = 0; i < 3; i++) {
        int found = 0;
        for (int j = 0; j < 3; j++) found |= ids[j] == want[i];
        cr_expect(found, "token %d should be kept (lower ids win ties)", want[i]);
    }
    mmg__sampler_free(s);
}

/* Probabilities against a softmax in double precision (libm exp), over
 * logits spread across many multiples of ln 2 and fractions between: the
 * sampler's own exp must be float-accurate (~1 ulp), not just close. */
Test(sampler, probabilities_are_float_accurate) {
    enum { V = 400 };
    float l[V], p[V];
    int32_t ids[V];
    for (int i = 0; i < V; i++) l[i] = -25.0f * (float)i / V + 0.0137f * (float)(i % 7);
    static const float temps[] = {1.0f, 0.37f, 2.5f};
    for (size_t t = 0; t < sizeof temps / sizeof temps[0]; t++) {
        mmg_sampling_options o = opts_default();
        o.temperature = temps[t];
        mmg__sampler *s = make(&o, V, 0);
        float w[V];
        memcpy(w, l, sizeof w);
        size_t n = 0;
        cr_assert_eq(mmg__sampler_probs(s, w, NULL, NULL, 0, ids, p, &n), MMG_OK);
        cr_assert_eq(n, V);
        double mx = -INFINITY, z = 0.0;
        for (int i = 0; i < V; i++) mx = fmax(mx, (double)l[i]);
        for (int i = 0; i < V; i++) z += exp(((double)l[i] - mx) / temps[t]);
        for (int i = 0; i < V; i++) {
            double arg = ((double)l[ids[i]] - mx) / temps[t];
            double want = exp(arg) / z;
            if (want < 1e-30) continue; /* below FLT_MIN territory */
            /* exp itself: ~1 ulp; plus the float rounding of the argument
             * (l - max) / T, which scales with |arg| (as in float32 PyTorch) */
            double tol = 2.5e-7 + 0.6e-7 * fabs(arg);
            cr_expect(fabs(p[i] - want) <= tol * want, "T %g, token %d: p %.9g, want %.9g (rel %.2g)",
                      (double)temps[t], ids[i], (double)p[i], want, fabs(p[i] - want) / want);
        }
        mmg__sampler_free(s);
    }
}

/* --- options ------------------------------------------------------------------- */

Test(sampler, options_defaults) {
    mmg_sampling_options o;
    memset(&o, 0xAB, sizeof o);
    mmg_sampling_options_init(&o, sizeof o);
    cr_expect_eq(o.struct_size, sizeof o);
    cr_expect_eq(o.temperature, 1.0f);
    cr_expect_eq(o.top_k, 0);
    cr_expect_eq(o.top_p, 1.0f);
    cr_expect_eq(o.min_p, 0.0f);
    cr_expect_eq(o.repetition_penalty, 1.0f);
    cr_expect_eq(o.repetition_window, 64);
    cr_expect_eq(o.seed, 0);
    cr_expect_eq(mmg_sampling_options_validate(&o), MMG_OK);
    mmg_sampling_options_init(NULL, sizeof o); /* no crash */
}

typedef struct bad_case {
    const char *field;
    void (*set)(mmg_sampling_options *);
} bad_case;
static void t_neg(mmg_sampling_options *o) { o->temperature = -0.5f; }
static void t_nan(mmg_sampling_options *o) { o->temperature = NAN; }
static void t_inf(mmg_sampling_options *o) { o->temperature = INFINITY; }
static void k_neg(mmg_sampling_options *o) { o->top_k = -1; }
static void p_zero(mmg_sampling_options *o) { o->top_p = 0.0f; }
static void p_big(mmg_sampling_options *o) { o->top_p = 1.01f; }
static void p_nan(mmg_sampling_options *o) { o->top_p = NAN; }
static void p_neg(mmg_sampling_options *o) { o->top_p = -0.3f; }
static void m_big(mmg_sampling_options *o) { o->min_p = 1.5f; }
static void m_neg(mmg_sampling_options *o) { o->min_p = -0.1f; }
static void m_nan(mmg_sampling_options *o) { o->min_p = NAN; }
static void r_zero(mmg_sampling_options *o) { o->repetition_penalty = 0.0f; }
static void r_neg(mmg_sampling_options *o) { o->repetition_penalty = -1.2f; }
static void r_nan(mmg_sampling_options *o) { o->repetition_penalty = NAN; }
static void r_inf(mmg_sampling_options *o) { o->repetition_penalty = INFINITY; }
static void w_neg(mmg_sampling_options *o) { o->repetition_window = -3; }

Test(sampler, invalid_options_name_the_field) {
    static const bad_case bad[] = {
        {"temperature", t_neg}, {"temperature", t_nan}, {"temperature", t_inf}, {"top_k", k_neg},
        {"top_p", p_zero}, {"top_p", p_big}, {"top_p", p_nan}, {"top_p", p_neg}, {"min_p", m_big},
        {"min_p", m_neg}, {"min_p", m_nan}, {"repetition_penalty", r_zero},
        {"repetition_penalty", r_neg}, {"repetition_penalty", r_nan}, {"repetition_penalty", r_inf},
        {"repetition_window", w_neg},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mmg_sampling_options o = opts_default();
        bad[i].set(&o);
        mmg_clear_error();
        cr_expect_eq(mmg_sampling_options_validate(&o), MMG_ERR_INVALID_ARG, "case %zu", i);
        cr_expect(strstr(mmg_last_error(), bad[i].field) != NULL, "case %zu: '%s' lacks '%s'", i,
                  mmg_last_error(), bad[i].field);
        mmg__sampler *s = (mmg__sampler *)0x1;
        cr_expect_eq(mmg__sampler_create(&o, 10, 0, &s), MMG_ERR_INVALID_ARG, "case %zu", i);
        cr_expect_eq(s, (mmg__sampler *)0x1, "out untouched on error");
    }
    cr_expect_eq(mmg_sampling_options_validate(NULL), MMG_ERR_INVALID_ARG);
    /* The edges of each range are valid. */
    mmg_sampling_options o = opts_default();
    o.temperature = 0.0f;
    o.top_p = 1.0f;
    o.min_p = 1.0f;
    o.top_k = 0;
    o.repetition_window = 0;
    o.repetition_penalty = 1e-30f;
    cr_expect_eq(mmg_sampling_options_validate(&o), MMG_OK, "%s", mmg_last_error());
    o.top_p = 1e-7f;
    o.min_p = 0.0f;
    o.top_k = 1000000; /* larger than any vocabulary is fine */
    cr_expect_eq(mmg_sampling_options_validate(&o), MMG_OK, "%s", mmg_last_error());
    mmg__sampler *s = make(&o, 10, 0);
    mmg__sampler_free(s);
}

Test(sampler, older_smaller_struct_gets_defaults) {
    /* A caller built when the struct ended after top_p. */
    mmg_sampling_options store;
    mmg_sampling_options *o = &store;
    unsigned char *buf = (unsigned char *)&store;
    memset(buf, 0xAB, sizeof store);
    const size_t old_size = offsetof(mmg_sampling_options, min_p);
    mmg_sampling_options_init(o, old_size);
    cr_expect_eq(o->struct_size, old_size);
    for (size_t i = old_size; i < sizeof store; i++)
        cr_assert_eq(buf[i], 0xAB, "init wrote byte %zu beyond struct_size %zu", i, old_size);
    o->temperature = 0.5f;
    o->top_k = 7;
    o->top_p = 0.75f;
    /* The bytes beyond it are garbage (min_p = NaN pattern etc.), never read. */
    memset(buf + old_size, 0xFF, sizeof store - old_size);
    cr_expect_eq(mmg_sampling_options_validate(o), MMG_OK, "%s", mmg_last_error());
    mmg__sampler *s = make(o, 100, 0);
    const mmg_sampling_options *u = mmg__sampler_options(s);
    cr_expect_eq(u->struct_size, sizeof(mmg_sampling_options));
    cr_expect_eq(u->temperature, 0.5f);
    cr_expect_eq(u->top_k, 7);
    cr_expect_eq(u->top_p, 0.75f);
    cr_expect_eq(u->min_p, 0.0f);
    cr_expect_eq(u->repetition_penalty, 1.0f);
    cr_expect_eq(u->repetition_window, 64);
    cr_expect_eq(u->seed, 0);
    mmg__sampler_free(s);
    /* Too small to hold struct_size itself. */
    mmg_sampling_options tiny = opts_default();
    tiny.struct_size = 4;
    cr_expect_eq(mmg_sampling_options_validate(&tiny), MMG_ERR_INVALID_ARG);
    cr_expect(strstr(mmg_last_error(), "struct_size") != NULL, "%s", mmg_last_error());
    tiny.struct_size = 0;
    mmg__sampler *t = NULL;
    cr_expect_eq(mmg__sampler_create(&tiny, 10, 0, &t), MMG_ERR_INVALID_ARG);
    cr_expect_null(t);
    /* A newer, larger caller struct: the known prefix is used. */
    struct { mmg_sampling_options o; double future_field; } newer;
    mmg_sampling_options_init(&newer.o, sizeof newer);
    cr_expect_eq(newer.future_field, 0.0, "init zeroes fields it does not know");
    newer.o.top_k = 3;
    newer.future_field = 42.0;
    cr_expect_eq(mmg_sampling_options_validate(&newer.o), MMG_OK);
    s = make(&newer.o, 10, 0);
    cr_expect_eq(mmg__sampler_options(s)->top_k, 3);
    mmg__sampler_free(s);
    /* NULL options: all defaults. */
    s = make(NULL, 10, 0);
    cr_expect_eq(mmg__sampler_options(s)->temperature, 1.0f);
    cr_expect_eq(mmg__sampler_vocab_size(s), 10);
    mmg__sampler_free(s);
}

/* --- determinism, RNG state, arguments, allocation ------------------------------ */

static void draw_seq(uint64_t seed, uint64_t stream, int32_t *out, int n) {
    const size_t V = 64;
    float logits[64], scratch[64];
    for (size_t i = 0; i < V; i++) logits[i] = (float)sin((double)i) * 2.0f;
    mmg_sampling_options o = opts_default();
    o.seed = seed;
    o.top_p = 0.95f;
    mmg__sampler *s = make(&o, V, stream);
    for (int i = 0; i < n; i++) out[i] = draw(s, logits, scratch, V, NULL, NULL, 0);
    mmg__sampler_free(s);
}

Test(sampler, same_seed_same_tokens_other_seed_or_stream_differs) {
    int32_t a[500], b[500], c[500], d[500];
    draw_seq(7, 0, a, 500);
    draw_seq(7, 0, b, 500);
    draw_seq(8, 0, c, 500);
    draw_seq(7, 1, d, 500);
    cr_expect_eq(memcmp(a, b, sizeof a), 0, "same seed and stream must repeat");
    int diff_seed = 0, diff_stream = 0;
    for (int i = 0; i < 500; i++) {
        diff_seed += a[i] != c[i];
        diff_stream += a[i] != d[i];
    }
    cr_expect_gt(diff_seed, 250, "seeds 7 and 8 agree on %d of 500", 500 - diff_seed);
    cr_expect_gt(diff_stream, 250, "streams 0 and 1 agree on %d of 500", 500 - diff_stream);
    /* The sampler's RNG is exactly the documented stream. */
    mmg_sampling_options o = opts_default();
    o.seed = 99;
    mmg__sampler *s = make(&o, 4, 5);
    mmg__rng want, got;
    mmg__rng_seed_stream(&want, 99, 5);
    mmg__sampler_get_rng(s, &got);
    cr_expect_eq(memcmp(&want, &got, sizeof want), 0);
    mmg__sampler_free(s);
}

Test(sampler, rng_checkpoint_resumes_the_same_tokens) {
    const size_t V = 128;
    float logits[128], scratch[128];
    for (size_t i = 0; i < V; i++) logits[i] = (float)cos((double)i * 0.37) * 3.0f;
    mmg_sampling_options o = opts_default();
    o.seed = 1234;
    o.top_k = 40;
    mmg__sampler *s = make(&o, V, 0);
    for (int i = 0; i < 100; i++) draw(s, logits, scratch, V, NULL, NULL, 0);
    mmg__rng saved;
    mmg__sampler_get_rng(s, &saved);
    int32_t first[200], again[200];
    for (int i = 0; i < 200; i++) first[i] = draw(s, logits, scratch, V, NULL, NULL, 0);
    mmg__sampler *s2 = make(&o, V, 77); /* another stream, then restored */
    mmg__sampler_set_rng(s2, &saved);
    for (int i = 0; i < 200; i++) again[i] = draw(s2, logits, scratch, V, NULL, NULL, 0);
    cr_expect_eq(memcmp(first, again, sizeof first), 0);
    mmg__sampler_free(s);
    mmg__sampler_free(s2);
}

Test(sampler, bad_arguments) {
    mmg__sampler *s = NULL;
    cr_expect_eq(mmg__sampler_create(NULL, 0, 0, &s), MMG_ERR_INVALID_ARG);
    cr_expect(strstr(mmg_last_error(), "vocab_size") != NULL, "%s", mmg_last_error());
    cr_expect_eq(mmg__sampler_create(NULL, (size_t)INT32_MAX + 1, 0, &s), MMG_ERR_INVALID_ARG);
    cr_expect_eq(mmg__sampler_create(NULL, 10, 0, NULL), MMG_ERR_INVALID_ARG);
    cr_expect_null(s);
    mmg__sampler_free(NULL);
    s = make(NULL, 4, 0);
    float l[4] = {0, 1, 2, 3};
    int32_t tok = 3;
    cr_expect_eq(mmg__sampler_sample(NULL, l, NULL, NULL, 0, &tok), MMG_ERR_INVALID_ARG);
    cr_expect_eq(mmg__sampler_sample(s, NULL, NULL, NULL, 0, &tok), MMG_ERR_INVALID_ARG);
    cr_expect_eq(mmg__sampler_sample(s, l, NULL, NULL, 0, NULL), MMG_ERR_INVALID_ARG);
    cr_expect_eq(mmg__sampler_sample(s, l, NULL, NULL, 3, &tok), MMG_ERR_INVALID_ARG);
    cr_expect(strstr(mmg_last_error(), "history") != NULL, "%s", mmg_last_error());
    cr_expect_eq(tok, 3);
    mmg__sampler_free(s);
}

Test(sampler, allocation_failures_report_nomem_and_leak_nothing) {
    mmg_sampling_options o = opts_default();
    o.top_k = 50;
    o.repetition_penalty = 1.3f;
    int ok = 0;
    for (long n = 1; n < 20 && !ok; n++) {
        mmg__sampler *s = (mmg__sampler *)0x1;
        mmg__fault_fail_after(n);
        mmg_status st = mmg__sampler_create(&o, 1000, 0, &s);
        mmg__fault_fail_after(0);
        if (st == MMG_OK) {
            ok = 1;
            cr_expect_geq(n, 4, "create should need 4 allocations, succeeded at %ld", n);
            mmg__sampler_free(s);
        } else {
            cr_expect_eq(st, MMG_ERR_NOMEM, "allocation %ld: %s", n, mmg_last_error());
            cr_expect_eq(s, (mmg__sampler *)0x1);
        }
    }
    cr_expect(ok, "create never succeeded");
    /* Sampling itself allocates nothing: with every allocation failing it works. */
    mmg__sampler *s = make(&o, 1000, 0);
    float *logits = malloc(1000 * sizeof *logits), *scratch = malloc(1000 * sizeof *scratch);
    for (int i = 0; i < 1000; i++) logits[i] = lcg_normal();
    const int32_t hist[3] = {1, 2, 3};
    mmg__fault_fail_after(1);
    for (int i = 0; i < 100; i++) draw(s, logits, scratch, 1000, NULL, hist, 3);
    cr_expect_eq(mmg__fault_count(), 0, "sampling tried %ld allocations", mmg__fault_count());
    mmg__fault_fail_after(0);
    free(logits); free(scratch);
    mmg__sampler_free(s);
}
