/* tests/test_text_plugin.c - the text plugin through its ABI: round trips of
 * arbitrary bytes, streaming decode, special tokens, saved state, bad
 * configurations and malformed vocabulary files. The plugin is dlopened with
 * a test-side host (text_plugin_host.h). Parity with tiktoken is in
 * test_text_tiktoken.c, training in test_text_train.c. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text_plugin_host.h"

static const mmg_plugin_descriptor *D;

static void setup(void) {
    D = th_open_text(NULL);
    cr_assert_not_null(D, "the text plugin must load");
}

TestSuite(text_plugin, .init = setup);

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* A corpus for tokenizers learned in the test: words made of syllables, some
 * multilingual words, numbers, punctuation. */
static char *make_corpus(size_t n_words) {
    static const char *words[] = {"Über", "naïve", "日本", "😀", "123", "4567", "!", "?",
                                  "it's", "we'll", "\n", "  ", "中文"};
    static const char *syl[] = {"ka", "to", "ri", "men", "sa", "lo", "ne", "the", "ing", "er",
                                "qu", "ab", "st", "ion", "el", "or", "un", "di", "ve", "pra"};
    size_t cap = n_words * 16 + 1, len = 0;
    char *s = malloc(cap);
    for (size_t i = 0; i < n_words; i++) {
        if (i) s[len++] = ' ';
        if (rnd() % 5 == 0) {
            len += (size_t)snprintf(s + len, cap - len, "%s", words[rnd() % (sizeof words / sizeof words[0])]);
        } else {
            int k = 1 + (int)(rnd() % 3);
            for (int j = 0; j < k; j++)
                len += (size_t)snprintf(s + len, cap - len, "%s", syl[(rnd() % 20) * (rnd() % 20) / 19]);
        }
    }
    s[len] = 0;
    return s;
}

static void *trained(const char *config, size_t n_words) {
    void *t = th_create(D, config);
    cr_assert_not_null(t, "create %s: %s", config, th_error);
    char *corpus = make_corpus(n_words);
    mmg_plugin_document doc = {(const uint8_t *)corpus, strlen(corpus)};
    cr_assert_eq(D->fit(t, &doc, 1), 0, "fit: %s", th_error);
    free(corpus);
    return t;
}

static void check_round_trip(void *t, const uint8_t *doc, size_t n) {
    int32_t *ids = NULL;
    size_t count = 0;
    cr_assert_eq(D->encode(t, doc, n, &ids, &count), 0, "encode: %s", th_error);
    int32_t vs = D->vocab_size(t);
    for (size_t i = 0; i < count; i++) cr_assert(ids[i] >= 0 && ids[i] < vs, "id %d out of range", ids[i]);
    uint8_t *back = NULL;
    size_t m = 0;
    cr_assert_eq(D->decode(t, ids, count, &back, &m), 0, "decode: %s", th_error);
    cr_assert_eq(m, n, "decoded %zu bytes, expected %zu", m, n);
    cr_assert(n == 0 || memcmp(back, doc, n) == 0, "decode(encode(x)) != x");
    free(ids);
    free(back);
}

/* Random bytes from several distributions: uniform (mostly invalid UTF-8),
 * ASCII-heavy, and fragments of multi-byte characters. */
static void round_trip_many(void *t) {
    static const char *frags[] = {"\xe2\x82", "\xac", "\xf0\x9f\x98", "\x80", " ", "  ", "\n", "a",
                                  "'s", "1", "\xff", "\xc3\xa9", "\r\n", "\xed\xa0\x80", "\t"};
    uint8_t buf[4096];
    for (int iter = 0; iter < 300; iter++) {
        size_t n = rnd() % sizeof buf, kind = iter % 3, k = 0;
        while (k < n) {
            if (kind == 0) buf[k++] = (uint8_t)rnd();
            else if (kind == 1) buf[k++] = (uint8_t)(rnd() % 10 == 0 ? rnd() : 32 + rnd() % 95);
            else {
                const char *f = frags[rnd() % (sizeof frags / sizeof frags[0])];
                for (; *f && k < n; f++) buf[k++] = (uint8_t)*f;
            }
        }
        check_round_trip(t, buf, n);
    }
    check_round_trip(t, (const uint8_t *)"", 0);
}

Test(text_plugin, descriptor_is_complete) {
    cr_assert_eq(D->struct_size, sizeof(mmg_plugin_descriptor));
    cr_assert_eq(D->abi_version, MMG_PLUGIN_ABI_VERSION);
    cr_assert_str_eq(D->name, "text");
    cr_assert_eq(D->modality, MMG_MODALITY_TEXT);
    cr_assert(D->fit && D->encode && D->decode && D->save_state && D->load_state && D->get_extension);
}

Test(text_plugin, learned_vocabulary_round_trips_any_bytes) {
    void *t = trained("{\"vocab_size\": 600, \"pattern\": \"gpt2\"}", 20000);
    round_trip_many(t);
    D->destroy(t);
    t = trained("{\"vocab_size\": 600, \"pattern\": \"cl100k\"}", 20000);
    round_trip_many(t);
    D->destroy(t);
}

Test(text_plugin, tiktoken_vocabularies_round_trip_any_bytes) {
    const char *data = th_data_dir();
    if (!data) cr_skip_test("shared data (gpt2/ vocabularies) not found; set MMGEN_TEST_DATA");
    const char *encs[] = {"gpt2", "cl100k_base"};
    for (int e = 0; e < 2; e++) {
        void *t = th_create(D, th_config(data, encs[e]));
        cr_assert_not_null(t, "%s: %s", encs[e], th_error);
        round_trip_many(t);
        D->destroy(t);
    }
}

/* Nonzero when s[0..n) is well-formed UTF-8 (no partial character). */
static int utf8_complete(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t need = c < 0x80 ? 0 : (c >= 0xC2 && c <= 0xDF) ? 1 : (c >= 0xE0 && c <= 0xEF) ? 2
                                 : (c >= 0xF0 && c <= 0xF4) ? 3 : 99;
        if (need == 99 || i + need >= n + (need ? 0 : 1)) {
            if (need == 99) return 0;
            if (i + need >= n) return 0;
        }
        for (size_t k = 1; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        i += need + 1;
    }
    return 1;
}

static void stream_check(void *t, const uint8_t *doc, size_t n, int expect_complete_chunks) {
    const mmg_ext_stream_decode_v1 *ext = D->get_extension(t, MMG_EXT_STREAM_DECODE_V1);
    cr_assert_not_null(ext);
    int32_t *ids;
    size_t count;
    cr_assert_eq(D->encode(t, doc, n, &ids, &count), 0);
    void *s;
    cr_assert_eq(ext->stream_create(t, &s), 0);
    uint8_t *all = malloc(n + 16);
    size_t m = 0;
    for (size_t i = 0; i < count; i++) {
        uint8_t *out;
        size_t k;
        cr_assert_eq(ext->stream_feed(s, &ids[i], 1, &out, &k), 0, "%s", th_error);
        if (expect_complete_chunks)
            cr_assert(utf8_complete(out, k), "chunk after token %zu splits a character", i);
        cr_assert_leq(m + k, n);
        memcpy(all + m, out, k);
        m += k;
        free(out);
    }
    uint8_t *out;
    size_t k;
    cr_assert_eq(ext->stream_flush(s, &out, &k), 0);
    cr_assert_leq(m + k, n);
    memcpy(all + m, out, k);
    m += k;
    free(out);
    cr_assert_eq(m, n);
    cr_assert(memcmp(all, doc, n) == 0, "stream output differs from the document");
    ext->stream_destroy(s);
    free(all);
    free(ids);
}

Test(text_plugin, stream_decode_never_splits_a_character) {
    /* A tiny learned vocabulary keeps multi-byte characters split across tokens. */
    void *t = trained("{\"vocab_size\": 300}", 2000);
    const char *text = "日本語 😀👍🏽 naïve Über 中文 ελληνικά 🇫🇷 ok";
    stream_check(t, (const uint8_t *)text, strlen(text), 1);
    /* Invalid bytes pass through; a trailing partial character comes out at flush. */
    const char bad[] = "a\xff\xfe b\xe2\x82 c\xc3\xa9\xf0\x9f\x98";
    stream_check(t, (const uint8_t *)bad, sizeof bad - 1, 0);
    /* The partial tail is held, then flushed. */
    const mmg_ext_stream_decode_v1 *ext = D->get_extension(t, MMG_EXT_STREAM_DECODE_V1);
    int32_t *ids;
    size_t count;
    cr_assert_eq(D->encode(t, (const uint8_t *)"x\xe2\x82", 3, &ids, &count), 0);
    void *s;
    uint8_t *out;
    size_t k;
    cr_assert_eq(ext->stream_create(t, &s), 0);
    cr_assert_eq(ext->stream_feed(s, ids, count, &out, &k), 0);
    cr_assert_eq(k, 1);
    cr_assert_eq(out[0], 'x');
    free(out);
    cr_assert_eq(ext->stream_flush(s, &out, &k), 0);
    cr_assert_eq(k, 2);
    cr_assert(memcmp(out, "\xe2\x82", 2) == 0);
    free(out);
    ext->stream_destroy(s);
    free(ids);
    D->destroy(t);
}

Test(text_plugin, special_tokens_of_each_vocabulary) {
    const char *data = th_data_dir();
    if (!data) cr_skip_test("shared data (gpt2/ vocabularies) not found; set MMGEN_TEST_DATA");
    /* Ids and vocabulary sizes as tiktoken defines them. */
    struct { const char *enc, *name; int32_t id, n_vocab; } cases[] = {
        {"gpt2", "<|endoftext|>", 50256, 50257},      {"r50k_base", "<|endoftext|>", 50256, 50257},
        {"p50k_base", "<|endoftext|>", 50256, 50281}, {"cl100k_base", "<|endoftext|>", 100257, 100277},
        {"cl100k_base", "<|fim_prefix|>", 100258, 100277}, {"cl100k_base", "<|fim_middle|>", 100259, 100277},
        {"cl100k_base", "<|fim_suffix|>", 100260, 100277}, {"cl100k_base", "<|endofprompt|>", 100276, 100277}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        void *t = th_create(D, th_config(data, cases[c].enc));
        cr_assert_not_null(t, "%s", th_error);
        int32_t id = -1;
        cr_assert_eq(D->special_token(t, cases[c].name, &id), 0);
        cr_assert_eq(id, cases[c].id, "%s %s", cases[c].enc, cases[c].name);
        cr_assert_eq(D->vocab_size(t), cases[c].n_vocab, "%s vocab size", cases[c].enc);
        for (int a = 0; a < 3; a++) {
            const char *alias = (const char *[]){"bos", "eos", "pad"}[a];
            int32_t aid = -1;
            cr_assert_eq(D->special_token(t, alias, &aid), 0);
            cr_assert_eq(aid, cases[c].id - (cases[c].id == 50256 ? 0 : cases[c].id - 100257));
        }
        /* The special token's text in a document is plain text. */
        int32_t *ids;
        size_t count;
        const char *doc = "a <|endoftext|> b <|fim_prefix|><|endofprompt|>";
        cr_assert_eq(D->encode(t, (const uint8_t *)doc, strlen(doc), &ids, &count), 0);
        for (size_t i = 0; i < count; i++) {
            int32_t sid;
            const char *names[] = {"<|endoftext|>", "<|fim_prefix|>", "<|endofprompt|>"};
            for (int k = 0; k < 3; k++)
                if (D->special_token(t, names[k], &sid) == 0) cr_assert_neq(ids[i], sid, "special token parsed from text");
        }
        free(ids);
        /* Decoding a special token gives its name, as tiktoken's decode does. */
        uint8_t *out;
        size_t n;
        cr_assert_eq(D->decode(t, &id, 1, &out, &n), 0);
        cr_assert_eq(n, strlen(cases[c].name));
        cr_assert(memcmp(out, cases[c].name, n) == 0);
        free(out);
        int32_t none;
        cr_assert_eq(D->special_token(t, "<|nope|>", &none), MMG_ERR_NOT_FOUND);
        D->destroy(t);
    }
}

Test(text_plugin, configured_special_tokens) {
    const char *data = th_data_dir();
    if (!data) cr_skip_test("shared data (gpt2/ vocabularies) not found; set MMGEN_TEST_DATA");
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"tiktoken\": \"%s/gpt2/cl100k_base.tiktoken\", \"special_tokens\": {\"<|im_start|>\": 100264, "
             "\"<|im_end|>\": 100265}, \"bos\": \"<|im_start|>\", \"eos\": \"<|im_end|>\"}",
             data);
    void *t = th_create(D, cfg);
    cr_assert_not_null(t, "%s", th_error);
    int32_t id;
    cr_assert_eq(D->special_token(t, "bos", &id), 0);
    cr_assert_eq(id, 100264);
    cr_assert_eq(D->special_token(t, "eos", &id), 0);
    cr_assert_eq(id, 100265);
    cr_assert_eq(D->special_token(t, "pad", &id), 0);
    cr_assert_eq(id, 100257);
    D->destroy(t);
    /* Appended modality markers get the next ids. */
    snprintf(cfg, sizeof cfg, "{\"tiktoken\": \"%s/gpt2/r50k_base.tiktoken\", \"special_tokens\": [\"<|image|>\", \"<|audio|>\"]}", data);
    t = th_create(D, cfg);
    cr_assert_not_null(t, "%s", th_error);
    cr_assert_eq(D->special_token(t, "<|image|>", &id), 0);
    cr_assert_eq(id, 50257);
    cr_assert_eq(D->special_token(t, "<|audio|>", &id), 0);
    cr_assert_eq(id, 50258);
    cr_assert_eq(D->vocab_size(t), 50259);
    D->destroy(t);
    /* A special token on a taken id is a configuration error. */
    snprintf(cfg, sizeof cfg, "{\"tiktoken\": \"%s/gpt2/r50k_base.tiktoken\", \"special_tokens\": {\"<|x|>\": 100}}", data);
    cr_assert_null(th_create(D, cfg));
    cr_assert_eq(th_status, MMG_ERR_CONFIG);
    cr_assert(strstr(th_error, "<|x|>") && strstr(th_error, "100"), "%s", th_error);
}

Test(text_plugin, describe_token) {
    void *t = trained("{\"vocab_size\": 400}", 3000);
    char buf[64];
    size_t len;
    cr_assert_eq(D->describe_token(t, 'a', buf, sizeof buf, &len), 0);
    cr_assert_str_eq(buf, "\"a\"");
    cr_assert_eq(D->describe_token(t, '\n', buf, sizeof buf, &len), 0);
    cr_assert_str_eq(buf, "\"\\n\"");
    cr_assert_eq(D->describe_token(t, 0xff, buf, sizeof buf, &len), 0);
    cr_assert_str_eq(buf, "\"\\xff\"");
    int32_t eot;
    cr_assert_eq(D->special_token(t, "eos", &eot), 0);
    cr_assert_eq(D->describe_token(t, eot, buf, sizeof buf, &len), 0);
    cr_assert_str_eq(buf, "<|endoftext|>");
    /* Truncation reports the full length. */
    cr_assert_eq(D->describe_token(t, eot, buf, 4, &len), 0);
    cr_assert_str_eq(buf, "<|e");
    cr_assert_eq(len, strlen("<|endoftext|>"));
    cr_assert_eq(D->describe_token(t, D->vocab_size(t), buf, sizeof buf, &len), MMG_ERR_RANGE);
    cr_assert_eq(D->describe_token(t, -1, buf, sizeof buf, &len), MMG_ERR_RANGE);
    D->destroy(t);
}

Test(text_plugin, decode_rejects_ids_outside_the_vocabulary) {
    void *t = trained("{\"vocab_size\": 400}", 3000);
    int32_t ids[] = {65, 400};
    uint8_t *out = (uint8_t *)&out;
    size_t n = 7;
    cr_assert_eq(D->decode(t, ids, 2, &out, &n), MMG_ERR_RANGE);
    cr_assert(strstr(th_error, "400"), "%s", th_error);
    cr_assert_eq(n, 7, "out-parameters untouched on error");
    int32_t neg = -5;
    cr_assert_eq(D->decode(t, &neg, 1, &out, &n), MMG_ERR_RANGE);
    D->destroy(t);
}

Test(text_plugin, constraint_forbids_gaps_and_other_specials) {
    const char *data = th_data_dir();
    if (!data) cr_skip_test("shared data (gpt2/ vocabularies) not found; set MMGEN_TEST_DATA");
    void *t = th_create(D, th_config(data, "cl100k_base"));
    cr_assert_not_null(t);
    const mmg_ext_constraint_v1 *c = D->get_extension(t, MMG_EXT_CONSTRAINT_V1);
    cr_assert_not_null(c);
    size_t n = (size_t)D->vocab_size(t);
    uint8_t *allowed = malloc(n);
    memset(allowed, 1, n);
    cr_assert_eq(c->allowed_next(t, NULL, 0, allowed, n), 0);
    cr_assert_eq(allowed[100256], 0, "unused id");
    cr_assert_eq(allowed[100261], 0, "unused id");
    cr_assert_eq(allowed[100257], 1, "eos may end the document");
    cr_assert_eq(allowed[100258], 0, "other specials are not generated as text");
    cr_assert_eq(allowed[0], 1);
    cr_assert_eq(allowed[100255], 1);
    free(allowed);
    cr_assert_eq(D->decode(t, (int32_t[]){100256}, 1, &(uint8_t *){NULL}, &(size_t){0}), MMG_ERR_RANGE);
    cr_assert_null(D->get_extension(t, "mmgen.nothing/1"));
    D->destroy(t);
}

static void *load_into_fresh(const uint8_t *state, size_t n, int *rc) {
    void *t = th_create(D, "{\"vocab_size\": 1000}");
    cr_assert_not_null(t);
    *rc = D->load_state(t, state, n);
    return t;
}

Test(text_plugin, state_round_trips) {
    void *t = trained("{\"vocab_size\": 700, \"pattern\": \"cl100k\", \"special_tokens\": [\"<|image|>\"], \"pad\": \"<|image|>\"}", 20000);
    uint8_t *state;
    size_t n;
    cr_assert_eq(D->save_state(t, &state, &n), 0);
    int rc;
    void *u = load_into_fresh(state, n, &rc);
    cr_assert_eq(rc, 0, "%s", th_error);
    cr_assert_eq(D->vocab_size(u), D->vocab_size(t));
    cr_assert_eq(D->vocab_size(u), 700);
    int32_t a, b;
    cr_assert_eq(D->special_token(u, "pad", &a), 0);
    cr_assert_eq(D->special_token(t, "<|image|>", &b), 0);
    cr_assert_eq(a, b);
    char *corpus = make_corpus(3000);
    int32_t *i1, *i2;
    size_t c1, c2;
    cr_assert_eq(D->encode(t, (uint8_t *)corpus, strlen(corpus), &i1, &c1), 0);
    cr_assert_eq(D->encode(u, (uint8_t *)corpus, strlen(corpus), &i2, &c2), 0);
    cr_assert_eq(c1, c2);
    cr_assert(memcmp(i1, i2, c1 * sizeof *i1) == 0, "same ids after load_state");
    /* Saving the loaded state gives the same bytes. */
    uint8_t *state2;
    size_t n2;
    cr_assert_eq(D->save_state(u, &state2, &n2), 0);
    cr_assert_eq(n2, n);
    cr_assert(memcmp(state, state2, n) == 0);
    free(i1), free(i2), free(corpus), free(state), free(state2);
    D->destroy(t);
    D->destroy(u);
}

Test(text_plugin, malformed_state_is_a_format_error) {
    void *t = trained("{\"vocab_size\": 300}", 2000);
    uint8_t *state;
    size_t n;
    cr_assert_eq(D->save_state(t, &state, &n), 0);
    /* Every truncation. */
    for (size_t k = 0; k < n; k++) {
        int rc;
        void *u = load_into_fresh(state, k, &rc);
        cr_assert_eq(rc, MMG_ERR_FORMAT, "truncated to %zu bytes: %d", k, rc);
        cr_assert_eq(D->vocab_size(u), 0, "a failed load leaves no vocabulary");
        D->destroy(u);
    }
    /* Every flipped byte: the checksum or a field check catches it. */
    for (size_t k = 0; k < n; k++) {
        state[k] ^= 0x40;
        int rc;
        void *u = load_into_fresh(state, n, &rc);
        cr_assert(rc == MMG_ERR_FORMAT || rc == MMG_ERR_ABI, "byte %zu flipped: %d", k, rc);
        D->destroy(u);
        state[k] ^= 0x40;
    }
    /* A future version is refused as such. */
    state[15] = 2;
    int rc;
    void *u = load_into_fresh(state, n, &rc);
    cr_assert_eq(rc, MMG_ERR_ABI);
    cr_assert(strstr(th_error, "version 2"), "%s", th_error);
    D->destroy(u);
    free(state);
    D->destroy(t);
}

Test(text_plugin, bad_configurations) {
    const char *bad[] = {"{", "[]", "{\"vocab_size\": 10}", "{\"vocab_size\": \"big\"}",
                         "{\"pattern\": \"gpt5\", \"vocab_size\": 500}", "{\"vocb_size\": 500}",
                         "{\"vocab\": \"gpt3\", \"encoder_json\": \"a\", \"vocab_bpe\": \"b\"}",
                         "{\"vocab\": \"gpt2\"}", "{}", "{\"tiktoken\": \"x\", \"vocab_size\": 500}",
                         "{\"vocab_size\": 500, \"special_tokens\": [1]}",
                         "{\"vocab_size\": 500, \"default_special_tokens\": 3}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *t = th_create(D, bad[i]);
        cr_assert_null(t, "config %s must fail", bad[i]);
        cr_assert_eq(th_status, MMG_ERR_CONFIG, "config %s: status %d (%s)", bad[i], th_status, th_error);
        cr_assert(strlen(th_error) > 10);
    }
    cr_assert(strstr(th_error, "default_special_tokens"), "%s", th_error);
    /* No vocabulary yet: encode is a state error. */
    void *t = th_create(D, "{\"vocab_size\": 500}");
    int32_t *ids;
    size_t count;
    cr_assert_eq(D->vocab_size(t), 0);
    cr_assert_eq(D->encode(t, (const uint8_t *)"x", 1, &ids, &count), MMG_ERR_STATE);
    D->destroy(t);
    D->destroy(NULL);
}

/* ---- malformed vocabulary files ------------------------------------------- */

static char tmpdir[256];

static const char *write_tmp(const char *name, const char *content) {
    static char path[512];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/mmgen-text-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

/* A tiktoken file with all 256 bytes, then `extra` lines. */
static const char *tiktoken_file(const char *name, const char *extra) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t cap = 256 * 16 + strlen(extra) + 1, len = 0;
    char *s = malloc(cap);
    for (int b = 0; b < 256; b++)
        len += (size_t)snprintf(s + len, cap - len, "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], b);
    snprintf(s + len, cap - len, "%s", extra);
    const char *p = write_tmp(name, s);
    free(s);
    return p;
}

static void expect_fail(const char *config, int status, const char *needle1, const char *needle2) {
    void *t = th_create(D, config);
    cr_assert_null(t, "%s must fail", config);
    cr_assert_eq(th_status, status, "%s: status %d: %s", config, th_status, th_error);
    cr_assert(strstr(th_error, needle1), "message \"%s\" should name \"%s\"", th_error, needle1);
    if (needle2) cr_assert(strstr(th_error, needle2), "message \"%s\" should say \"%s\"", th_error, needle2);
}

Test(text_plugin, malformed_tiktoken_files) {
    char cfg[1024];
    const char *p = tiktoken_file("good.tiktoken", "aGk= 256\n");
    snprintf(cfg, sizeof cfg, "{\"tiktoken\": \"%s\"}", p);
    void *t = th_create(D, cfg);
    cr_assert_not_null(t, "%s", th_error);
    cr_assert_eq(D->vocab_size(t), 258, "256 bytes, \"hi\", then <|endoftext|>");
    int32_t *ids;
    size_t count;
    cr_assert_eq(D->encode(t, (const uint8_t *)"hi", 2, &ids, &count), 0);
    cr_assert_eq(count, 1);
    cr_assert_eq(ids[0], 256);
    free(ids);
    D->destroy(t);

    struct { const char *extra, *needle1, *needle2; } cases[] = {
        {"a$k= 256\n", ":257:", "base64"},
        {"aGk 256\n", ":257:", "base64"},
        {"aGk= 255\n", ":257:", "rank 255 appears twice"},
        {"AA== 300\n", ":257:", "appears twice"},
        {"aGk=\n", ":257:", "expected"},
        {"aGk= 12x\n", ":257:", "not a number"},
        {"aGk= 99999999999\n", ":257:", "not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p = tiktoken_file("bad.tiktoken", cases[i].extra);
        snprintf(cfg, sizeof cfg, "{\"tiktoken\": \"%s\"}", p);
        expect_fail(cfg, MMG_ERR_FORMAT, "bad.tiktoken:257:", cases[i].needle2);
    }
    p = write_tmp("bytes.tiktoken", "aGk= 0\n");
    snprintf(cfg, sizeof cfg, "{\"tiktoken\": \"%s\"}", p);
    expect_fail(cfg, MMG_ERR_FORMAT, "bytes.tiktoken", "single byte");
    expect_fail("{\"tiktoken\": \"/nonexistent/dir/none.tiktoken\"}", MMG_ERR_IO, "/nonexistent/dir/none.tiktoken", "cannot open");
}

Test(text_plugin, malformed_gpt2_files) {
    char cfg[2048], bpe[512];
    snprintf(bpe, sizeof bpe, "%s", write_tmp("vocab.bpe", "#version: 0.2\n"));
    const char *enc = write_tmp("encoder.json", "{\n\"a\": 1,\n\"b\": }\n");
    snprintf(cfg, sizeof cfg, "{\"vocab\": \"gpt2\", \"encoder_json\": \"%s\", \"vocab_bpe\": \"%s\"}", enc, bpe);
    expect_fail(cfg, MMG_ERR_FORMAT, "encoder.json:3:", "JSON");
    snprintf(bpe, sizeof bpe, "%s", write_tmp("vocab.bpe", "#version: 0.2\nh i\nh i j\n"));
    snprintf(cfg, sizeof cfg, "{\"vocab\": \"gpt2\", \"encoder_json\": \"%s\", \"vocab_bpe\": \"%s\"}", enc, bpe);
    expect_fail(cfg, MMG_ERR_FORMAT, "vocab.bpe:3:", "two tokens");
    snprintf(bpe, sizeof bpe, "%s", write_tmp("vocab.bpe", "#version: 0.2\nh i\nh i\n"));
    snprintf(cfg, sizeof cfg, "{\"vocab\": \"gpt2\", \"encoder_json\": \"%s\", \"vocab_bpe\": \"%s\"}", enc, bpe);
    expect_fail(cfg, MMG_ERR_FORMAT, "vocab.bpe:3:", "repeats");
    snprintf(bpe, sizeof bpe, "%s", write_tmp("vocab.bpe", "#version: 0.2\nh \xe2\x82\xac\n"));
    snprintf(cfg, sizeof cfg, "{\"vocab\": \"gpt2\", \"encoder_json\": \"%s\", \"vocab_bpe\": \"%s\"}", enc, bpe);
    expect_fail(cfg, MMG_ERR_FORMAT, "vocab.bpe:2:", "alphabet");
    snprintf(cfg, sizeof cfg, "{\"vocab\": \"gpt2\", \"encoder_json\": \"/nonexistent/e.json\", \"vocab_bpe\": \"%s\"}", bpe);
    snprintf(bpe, sizeof bpe, "%s", write_tmp("vocab.bpe", "#version: 0.2\nh i\n"));
    snprintf(cfg, sizeof cfg, "{\"vocab\": \"gpt2\", \"encoder_json\": \"/nonexistent/e.json\", \"vocab_bpe\": \"%s\"}", bpe);
    expect_fail(cfg, MMG_ERR_IO, "/nonexistent/e.json", NULL);
    /* The real files, with encoder.json from another vocabulary. */
    const char *data = th_data_dir();
    if (!data) cr_skip_test("shared data (gpt2/ vocabularies) not found; set MMGEN_TEST_DATA");
    snprintf(cfg, sizeof cfg, "{\"vocab\": \"gpt2\", \"encoder_json\": \"%s/gpt2/encoder.json\", \"vocab_bpe\": \"%s\"}", data, bpe);
    expect_fail(cfg, MMG_ERR_FORMAT, "encoder.json", "do not belong together");
}
