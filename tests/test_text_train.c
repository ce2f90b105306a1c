/* tests/test_text_train.c - learning BPE merges (plugins/text/train.c).
 *
 * The incremental trainer must learn exactly what the obvious slow algorithm
 * learns (recount every pair, take the most frequent, ties to the smaller
 * pair, merge left to right everywhere, repeat), which is written out here.
 * Also: determinism, the vocabulary size reached, round trips. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_plugin_host.h"

static const mmg_plugin_descriptor *D;

static void setup(void) {
    D = th_open_text(NULL);
    cr_assert_not_null(D, "the text plugin must load");
}

TestSuite(text_train, .init = setup);

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

/* Lower-case words separated by single spaces: with the gpt2 pattern the
 * pieces are the first word and " word" for the others, so the test can
 * split the text itself. Skewed letters and runs like "aaaa" exercise ties
 * and overlapping merges. */
static char *tiny_corpus(size_t n_words) {
    char *s = malloc(n_words * 12 + 1);
    size_t len = 0;
    for (size_t w = 0; w < n_words; w++) {
        if (w) s[len++] = ' ';
        size_t k = 1 + rnd() % 8;
        int run = rnd() % 6 == 0;
        for (size_t i = 0; i < k; i++) s[len++] = run ? 'a' : (char)('a' + (rnd() % 6) * (rnd() % 6) / 4);
    }
    s[len] = 0;
    return s;
}

/* ---- the naive reference trainer ----------------------------------------- */

typedef struct naive_word {
    int32_t *sym;
    size_t n;
    long count;
} naive_word;

typedef struct naive_vocab {
    uint8_t *tok[8192];
    size_t len[8192];
    int32_t n;
} naive_vocab;

static int32_t naive_find(const naive_vocab *v, const uint8_t *p, size_t n) {
    for (int32_t i = 0; i < v->n; i++)
        if (v->len[i] == n && memcmp(v->tok[i], p, n) == 0) return i;
    return -1;
}

static void naive_train(const char *text, int32_t n_tokens, naive_vocab *v) {
    /* Words: "first", " second", ... counted. */
    naive_word *words = calloc(strlen(text) + 1, sizeof *words);
    size_t n_words = 0;
    for (const char *p = text; *p;) {
        const char *e = p + 1;
        while (*e && *e != ' ') e++;
        size_t n = (size_t)(e - p), w;
        for (w = 0; w < n_words; w++) {
            if (words[w].n != n) continue;
            size_t i = 0;
            while (i < n && words[w].sym[i] == (uint8_t)p[i]) i++;
            if (i == n) break;
        }
        if (w == n_words) {
            words[w].sym = malloc(n * sizeof(int32_t));
            for (size_t i = 0; i < n; i++) words[w].sym[i] = (uint8_t)p[i];
            words[w].n = n;
            n_words++;
        }
        words[w].count++;
        p = e;
    }
    v->n = 256;
    for (int b = 0; b < 256; b++) {
        v->tok[b] = malloc(1);
        v->tok[b][0] = (uint8_t)b;
        v->len[b] = 1;
    }
    int32_t next_id = 256, distinct = 256;
    while (distinct < n_tokens) {
        long best = 0;
        int32_t ba = 0, bb = 0;
        /* Count every pair (O(pairs^2), fine at this size). */
        for (size_t w = 0; w < n_words; w++) {
            for (size_t i = 0; i + 1 < words[w].n; i++) {
                int32_t a = words[w].sym[i], b = words[w].sym[i + 1];
                long c = 0;
                for (size_t x = 0; x < n_words; x++)
                    for (size_t j = 0; j + 1 < words[x].n; j++)
                        if (words[x].sym[j] == a && words[x].sym[j + 1] == b) c += words[x].count;
                if (c > best || (c == best && (a < ba || (a == ba && b < bb)))) best = c, ba = a, bb = b;
            }
        }
        if (best == 0) break;
        uint8_t buf[256];
        memcpy(buf, v->tok[ba], v->len[ba]);
        memcpy(buf + v->len[ba], v->tok[bb], v->len[bb]);
        size_t n = v->len[ba] + v->len[bb];
        int32_t id = naive_find(v, buf, n);
        if (id < 0) {
            id = next_id++;
            v->tok[id] = malloc(n);
            memcpy(v->tok[id], buf, n);
            v->len[id] = n;
            v->n = id + 1;
            distinct++;
        }
        for (size_t w = 0; w < n_words; w++) {
            size_t o = 0;
            for (size_t i = 0; i < words[w].n; i++) {
                if (i + 1 < words[w].n && words[w].sym[i] == ba && words[w].sym[i + 1] == bb) {
                    words[w].sym[o++] = id;
                    i++;
                } else {
                    words[w].sym[o++] = words[w].sym[i];
                }
            }
            words[w].n = o;
        }
    }
    for (size_t w = 0; w < n_words; w++) free(words[w].sym);
    free(words);
}

Test(text_train, learns_what_the_naive_trainer_learns) {
    for (int round = 0; round < 3; round++) {
        char *text = tiny_corpus(300 + 300 * (size_t)round);
        int32_t vocab_size = 256 + 1 + 60 + 40 * round; /* bytes + <|endoftext|> + merges */
        char cfg[128];
        snprintf(cfg, sizeof cfg, "{\"vocab_size\": %d, \"pattern\": \"gpt2\"}", vocab_size);
        void *t = th_create(D, cfg);
        cr_assert_not_null(t);
        mmg_plugin_document doc = {(const uint8_t *)text, strlen(text)};
        cr_assert_eq(D->fit(t, &doc, 1), 0, "%s", th_error);
        static naive_vocab v;
        naive_train(text, vocab_size - 1, &v);
        cr_assert_eq(D->vocab_size(t), v.n + 1, "round %d: vocabulary %d, naive %d + 1", round, D->vocab_size(t), v.n);
        for (int32_t id = 256; id < v.n; id++) {
            uint8_t *out;
            size_t n;
            cr_assert_eq(D->decode(t, &id, 1, &out, &n), 0);
            cr_assert(n == v.len[id] && memcmp(out, v.tok[id], n) == 0,
                      "round %d: token %d is \"%.*s\", the naive trainer learned \"%.*s\"", round, id,
                      (int)n, (char *)out, (int)v.len[id], (char *)v.tok[id]);
            free(out);
        }
        int32_t eot;
        cr_assert_eq(D->special_token(t, "eos", &eot), 0);
        cr_assert_eq(eot, v.n, "<|endoftext|> right after the merges");
        for (int32_t i = 0; i < v.n; i++) free(v.tok[i]);
        D->destroy(t);
        free(text);
    }
}

static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)size + 1);
    *n = fread(s, 1, (size_t)size, f);
    fclose(f);
    s[*n] = 0;
    return s;
}

/* Shakespeare when the shared data is there, else a generated corpus. */
static char *corpus(size_t *n) {
    const char *data = th_data_dir();
    if (data) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tinyshakespeare/input.txt", data);
        char *s = read_file(path, n);
        if (s) return s;
    }
    cr_log_info("tinyshakespeare not found; training on a generated corpus");
    char *s = tiny_corpus(200000);
    *n = strlen(s);
    return s;
}

Test(text_train, deterministic_reaches_the_size_and_round_trips) {
    size_t n;
    char *text = corpus(&n);
    mmg_plugin_document docs[2] = {{(const uint8_t *)text, n / 2}, {(const uint8_t *)text + n / 2, n - n / 2}};
    uint8_t *state[2];
    size_t size[2];
    for (int run = 0; run < 2; run++) {
        void *t = th_create(D, "{\"vocab_size\": 4096, \"pattern\": \"cl100k\"}");
        cr_assert_not_null(t);
        cr_assert_eq(D->fit(t, docs, 2), 0, "%s", th_error);
        cr_assert_eq(D->vocab_size(t), 4096);
        cr_assert_eq(D->save_state(t, &state[run], &size[run]), 0);
        if (run == 0) {
            int32_t *ids;
            size_t count;
            cr_assert_eq(D->encode(t, (const uint8_t *)text, n, &ids, &count), 0);
            cr_assert_lt(count, n / 2, "a 4096 vocabulary compresses English at least 2x (%zu tokens for %zu bytes)", count, n);
            uint8_t *back;
            size_t m;
            cr_assert_eq(D->decode(t, ids, count, &back, &m), 0);
            cr_assert(m == n && memcmp(back, text, n) == 0);
            free(ids), free(back);
        }
        D->destroy(t);
    }
    cr_assert_eq(size[0], size[1]);
    cr_assert(memcmp(state[0], state[1], size[0]) == 0, "two trainings differ");
    free(state[0]), free(state[1]), free(text);
}

Test(text_train, fit_errors) {
    const char *data = th_data_dir();
    void *t = th_create(D, "{\"vocab_size\": 257, \"special_tokens\": [\"<|a|>\"]}");
    cr_assert_not_null(t);
    mmg_plugin_document doc = {(const uint8_t *)"abc", 3};
    cr_assert_eq(D->fit(t, &doc, 1), MMG_ERR_CONFIG, "257 leaves no room for two special tokens");
    D->destroy(t);
    /* Stops early when the corpus has no more pairs; says so in the size. */
    t = th_create(D, "{\"vocab_size\": 5000}");
    cr_assert_eq(D->fit(t, &doc, 1), 0);
    cr_assert_eq(D->vocab_size(t), 256 + 2 + 1, "ab, abc, <|endoftext|>");
    D->destroy(t);
    if (!data) return;
    t = th_create(D, th_config(data, "r50k_base"));
    cr_assert_eq(D->fit(t, &doc, 1), MMG_ERR_STATE);
    D->destroy(t);
}
