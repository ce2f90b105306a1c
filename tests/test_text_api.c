/* tests/test_text_api.c - the text plugin end to end through the library's
 * public API (mmgen/plugin_host.h, mmgen/tokenizer.h): open it by path,
 * learn a vocabulary, encode/decode, special tokens, saved state, streaming
 * decode and the constraint. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/mmgen.h"
#include "mmgen/plugin_host.h"
#include "mmgen/tokenizer.h"
#include "memory.h" /* core: fault injection */

static mmg_plugin *P;

static void setup(void) {
    const char *dir = getenv("MMGEN_TEST_PLUGIN_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/mmgen-text.so", dir ? dir : MMGEN_TEST_PLUGIN_DIR);
    cr_assert_eq(mmg_plugin_open(path, &P), MMG_OK, "%s", mmg_last_error());
}

static void teardown(void) { mmg_plugin_close(P); }

TestSuite(text_api, .init = setup, .fini = teardown);

static const char *CORPUS =
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
    "age of foolishness, it was the epoch of belief, it was the epoch of incredulity. "
    "Naïve café, 日本語, 😀 emoji — and numbers 1234 5678.";

Test(text_api, learn_encode_decode_stream) {
    cr_assert_str_eq(mmg_plugin_name(P), "text");
    cr_assert_eq(mmg_plugin_modality(P), MMG_MODALITY_TEXT);
    mmg_tokenizer *t;
    cr_assert_eq(mmg_tokenizer_create(P, "{\"vocab_size\": 320}", &t), MMG_OK, "%s", mmg_last_error());
    const uint8_t *docs[] = {(const uint8_t *)CORPUS};
    size_t sizes[] = {strlen(CORPUS)};
    cr_assert_eq(mmg_tokenizer_fit(t, docs, sizes, 1), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 320);
    int32_t *ids;
    size_t n;
    cr_assert_eq(mmg_tokenizer_encode(t, docs[0], sizes[0], &ids, &n), MMG_OK, "%s", mmg_last_error());
    cr_assert_lt(n, sizes[0]);
    uint8_t *back;
    size_t m;
    cr_assert_eq(mmg_tokenizer_decode(t, ids, n, &back, &m), MMG_OK);
    cr_assert_eq(m, sizes[0]);
    cr_assert(memcmp(back, CORPUS, m) == 0);
    mmg_free(back);
    /* Streaming decode token by token gives the same bytes. */
    cr_assert(mmg_tokenizer_has_extension(t, MMG_EXT_STREAM_DECODE_V1));
    mmg_decode_stream *s;
    cr_assert_eq(mmg_decode_stream_create(t, &s), MMG_OK, "%s", mmg_last_error());
    char *all = calloc(1, sizes[0] + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *out;
        size_t len;
        cr_assert_eq(mmg_decode_stream_feed(s, &ids[i], 1, &out, &len), MMG_OK);
        memcpy(all + k, out, len);
        k += len;
        mmg_free(out);
    }
    uint8_t *out;
    size_t len;
    cr_assert_eq(mmg_decode_stream_flush(s, &out, &len), MMG_OK);
    memcpy(all + k, out, len);
    k += len;
    mmg_free(out);
    mmg_decode_stream_free(s);
    cr_assert_eq(k, sizes[0]);
    cr_assert(memcmp(all, CORPUS, k) == 0);
    free(all);
    /* Special tokens and the saved state. */
    int32_t eos;
    cr_assert_eq(mmg_tokenizer_special_token(t, "eos", &eos), MMG_OK);
    cr_assert_eq(eos, 319);
    char *desc;
    cr_assert_eq(mmg_tokenizer_describe_token(t, eos, &desc), MMG_OK);
    cr_assert_str_eq(desc, "<|endoftext|>");
    mmg_free(desc);
    uint8_t *state;
    size_t state_size;
    cr_assert_eq(mmg_tokenizer_save_state(t, &state, &state_size), MMG_OK);
    mmg_tokenizer *u;
    cr_assert_eq(mmg_tokenizer_create(P, "{\"vocab_size\": 320}", &u), MMG_OK);
    cr_assert_eq(mmg_tokenizer_load_state(u, state, state_size - 1), MMG_ERR_FORMAT);
    cr_assert_eq(mmg_tokenizer_load_state(u, state, state_size), MMG_OK, "%s", mmg_last_error());
    int32_t *ids2;
    size_t n2;
    cr_assert_eq(mmg_tokenizer_encode(u, docs[0], sizes[0], &ids2, &n2), MMG_OK);
    cr_assert_eq(n2, n);
    cr_assert(memcmp(ids, ids2, n * sizeof *ids) == 0);
    /* Out of range ids are the library's MMG_ERR_RANGE. */
    int32_t bad = 320;
    cr_assert_eq(mmg_tokenizer_decode(u, &bad, 1, &back, &m), MMG_ERR_RANGE);
    mmg_free(ids), mmg_free(ids2), mmg_free(state);
    mmg_tokenizer_free(u);
    mmg_tokenizer_free(t);
}

Test(text_api, tiktoken_vocabulary_through_the_library) {
    const char *data = getenv("MMGEN_TEST_DATA");
    char cfg[4400], probe[4200];
    snprintf(probe, sizeof probe, "%s/gpt2/cl100k_base.tiktoken", data ? data : "");
    FILE *f = data ? fopen(probe, "rb") : NULL;
    if (!f) cr_skip_test("shared data (gpt2/cl100k_base.tiktoken) not found; set MMGEN_TEST_DATA");
    fclose(f);
    snprintf(cfg, sizeof cfg, "{\"tiktoken\": \"%s\"}", probe);
    mmg_tokenizer *t;
    cr_assert_eq(mmg_tokenizer_create(P, cfg, &t), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 100277);
    /* tiktoken 1.0.22 gives [15339, 1917] for "hello world" in cl100k_base. */
    int32_t *ids;
    size_t n;
    cr_assert_eq(mmg_tokenizer_encode(t, (const uint8_t *)"hello world", 11, &ids, &n), MMG_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(ids[0], 15339);
    cr_assert_eq(ids[1], 1917);
    mmg_free(ids);
    uint8_t *allowed = malloc(100277);
    memset(allowed, 1, 100277);
    cr_assert_eq(mmg_tokenizer_allowed_next(t, NULL, 0, allowed, 100277), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(allowed[100256], 0);
    cr_assert_eq(allowed[100257], 1);
    free(allowed);
    mmg_tokenizer_free(t);
}

/* Fails the n-th allocation (the plugin allocates through the host, so its
 * allocations count too) for every n until a whole session succeeds: each
 * failure must come back as a status with a message, never a crash; ASan
 * builds also catch leaks on these paths. */
Test(text_api, every_allocation_failure_is_reported) {
    const uint8_t *docs[] = {(const uint8_t *)CORPUS};
    size_t sizes[] = {strlen(CORPUS)};
    long n;
    for (n = 1; n < 100000; n++) {
        mmg_tokenizer *t = NULL;
        int32_t *ids = NULL;
        uint8_t *back = NULL, *state = NULL;
        size_t count = 0, m = 0, state_size = 0;
        mmg_clear_error();
        mmg__fault_fail_after(n);
        mmg_status st = mmg_tokenizer_create(P, "{\"vocab_size\": 300}", &t);
        if (st == MMG_OK) st = mmg_tokenizer_fit(t, docs, sizes, 1);
        if (st == MMG_OK) st = mmg_tokenizer_encode(t, docs[0], sizes[0], &ids, &count);
        if (st == MMG_OK) st = mmg_tokenizer_decode(t, ids, count, &back, &m);
        if (st == MMG_OK) st = mmg_tokenizer_save_state(t, &state, &state_size);
        if (st == MMG_OK) st = mmg_tokenizer_load_state(t, state, state_size);
        mmg__fault_fail_after(0);
        if (st == MMG_OK) {
            cr_assert_eq(m, sizes[0]);
            cr_assert(memcmp(back, CORPUS, m) == 0);
        } else {
            cr_assert(st == MMG_ERR_NOMEM || st == MMG_ERR_PLUGIN, "allocation %ld: status %d (%s)", n, st, mmg_last_error());
            cr_assert(mmg_last_error()[0], "allocation %ld failed without a message", n);
        }
        mmg_free(ids), mmg_free(back), mmg_free(state);
        mmg_tokenizer_free(t);
        if (st == MMG_OK) break;
    }
    cr_assert_gt(n, 20, "the session allocates");
    cr_log_info("%ld allocation failures handled", n - 1);
}

/* Encodes `doc` with both tokenizers and expects the same ids. */
static void expect_same_encoding(mmg_tokenizer *a, mmg_tokenizer *b, const char *doc) {
    int32_t *x, *y;
    size_t nx, ny;
    cr_assert_eq(mmg_tokenizer_encode(a, (const uint8_t *)doc, strlen(doc), &x, &nx), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_encode(b, (const uint8_t *)doc, strlen(doc), &y, &ny), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(nx, ny);
    cr_assert(memcmp(x, y, nx * sizeof *x) == 0);
    mmg_free(x);
    mmg_free(y);
}

/* Restores `state` into tokenizers created without a config (NULL and ""),
 * and checks they are `orig` again: vocabulary size, special tokens and
 * aliases, encoding, and a saved state identical byte for byte. */
static void expect_restores_without_config(mmg_tokenizer *orig, const char *doc,
                                           const char *const *specials, size_t n_specials) {
    uint8_t *state;
    size_t size;
    cr_assert_eq(mmg_tokenizer_save_state(orig, &state, &size), MMG_OK, "%s", mmg_last_error());
    const char *configs[] = {NULL, ""};
    for (int c = 0; c < 2; c++) {
        mmg_tokenizer *u = NULL;
        cr_assert_eq(mmg_tokenizer_create(P, configs[c], &u), MMG_OK, "config %d: %s", c, mmg_last_error());
        /* nothing to work with before the state arrives */
        int32_t *ids;
        size_t n;
        cr_assert_eq(mmg_tokenizer_vocab_size(u), 0);
        cr_assert_eq(mmg_tokenizer_encode(u, (const uint8_t *)"x", 1, &ids, &n), MMG_ERR_STATE);
        cr_assert_eq(mmg_tokenizer_load_state(u, state, size), MMG_OK, "%s", mmg_last_error());
        cr_assert_eq(mmg_tokenizer_vocab_size(u), mmg_tokenizer_vocab_size(orig));
        for (size_t i = 0; i < n_specials; i++) {
            int32_t a = -1, b = -2;
            cr_assert_eq(mmg_tokenizer_special_token(orig, specials[i], &a), MMG_OK, "%s", specials[i]);
            cr_assert_eq(mmg_tokenizer_special_token(u, specials[i], &b), MMG_OK, "%s", specials[i]);
            cr_assert_eq(a, b, "special token %s", specials[i]);
        }
        expect_same_encoding(orig, u, doc);
        uint8_t *again;
        size_t again_size;
        cr_assert_eq(mmg_tokenizer_save_state(u, &again, &again_size), MMG_OK);
        cr_assert_eq(again_size, size);
        cr_assert(memcmp(again, state, size) == 0, "the restored tokenizer saves the same state");
        mmg_free(again);
        /* it cannot learn: it was not made with a vocab_size */
        const uint8_t *docs[] = {(const uint8_t *)doc};
        size_t sizes[] = {strlen(doc)};
        cr_assert_eq(mmg_tokenizer_fit(u, docs, sizes, 1), MMG_ERR_STATE);
        cr_assert(strstr(mmg_last_error(), "vocab_size"), "%s", mmg_last_error());
        mmg_tokenizer_free(u);
    }
    mmg_free(state);
}

/* A saved state is self-contained: a tokenizer created with no config at
 * all takes it, with its special tokens and bos/eos/pad choices. */
Test(text_api, state_loads_into_a_tokenizer_created_without_config) {
    mmg_tokenizer *t;
    cr_assert_eq(mmg_tokenizer_create(P,
                                      "{\"vocab_size\": 330, \"pattern\": \"cl100k\", \"special_tokens\": "
                                      "[\"<|im_start|>\", \"<|im_end|>\"], \"bos\": \"<|im_start|>\", "
                                      "\"eos\": \"<|im_end|>\"}",
                                      &t),
                 MMG_OK, "%s", mmg_last_error());
    const uint8_t *docs[] = {(const uint8_t *)CORPUS};
    size_t sizes[] = {strlen(CORPUS)};
    cr_assert_eq(mmg_tokenizer_fit(t, docs, sizes, 1), MMG_OK, "%s", mmg_last_error());
    const char *specials[] = {"bos", "eos", "pad", "<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    expect_restores_without_config(t, CORPUS, specials, 6);
    int32_t bos;
    cr_assert_eq(mmg_tokenizer_special_token(t, "bos", &bos), MMG_OK);
    int32_t im_start;
    cr_assert_eq(mmg_tokenizer_special_token(t, "<|im_start|>", &im_start), MMG_OK);
    cr_assert_eq(bos, im_start, "the alias came from the config, and the state carries it");
    mmg_tokenizer_free(t);
    /* an explicit config without a vocabulary is still refused */
    mmg_tokenizer *u = (mmg_tokenizer *)0x1;
    cr_assert_eq(mmg_tokenizer_create(P, "{}", &u), MMG_ERR_CONFIG);
    cr_assert_eq(u, (mmg_tokenizer *)0x1);
}

/* The same for GPT-2's vocabulary files: after save_state, the files are
 * no longer needed. */
Test(text_api, gpt2_state_loads_without_the_vocabulary_files) {
    const char *data = getenv("MMGEN_TEST_DATA");
    char enc[4200], bpe[4200], cfg[8600];
    snprintf(enc, sizeof enc, "%s/gpt2/encoder.json", data ? data : "");
    snprintf(bpe, sizeof bpe, "%s/gpt2/vocab.bpe", data ? data : "");
    FILE *f = data ? fopen(enc, "rb") : NULL;
    if (!f) cr_skip_test("shared data (gpt2/encoder.json) not found; set MMGEN_TEST_DATA");
    fclose(f);
    snprintf(cfg, sizeof cfg, "{\"vocab\": \"gpt2\", \"encoder_json\": \"%s\", \"vocab_bpe\": \"%s\"}", enc, bpe);
    mmg_tokenizer *t;
    cr_assert_eq(mmg_tokenizer_create(P, cfg, &t), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 50257);
    const char *specials[] = {"bos", "eos", "<|endoftext|>"};
    expect_restores_without_config(t, CORPUS, specials, 3);
    mmg_tokenizer_free(t);
}
