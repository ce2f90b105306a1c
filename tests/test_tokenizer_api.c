/* tests/test_tokenizer_api.c - the public tokenizer API over the test byte
 * plugin (tests/plugins/testbytes.c): every function, the constraint and
 * stream-decode extensions, and the host catching a plugin that returns bad
 * ids, missing buffers, unknown statuses or errors without a message.
 *
 * The expected values come from the test plugin's definition: byte b is
 * token b when all 256 bytes are known, then bos=256, eos=257, pad=258. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "mmgen/mmgen.h"
#include "plugin_module.h"

#define TP(stem) MMGEN_TEST_HOST_PLUGIN_DIR "/mmgen-" stem ".so"

static mmg_plugin *plugin;

static void open_plugin(void) {
    cr_assert_eq(mmg_plugin_open(TP("testbytes"), &plugin), MMG_OK, "%s", mmg_last_error());
}
static void close_plugin(void) {
    mmg_plugin_close(plugin);
    cr_assert_eq(mmg__module_loaded_count(), 0, "every tokenizer must have been freed");
}

static mmg_tokenizer *make(const char *config) {
    mmg_tokenizer *t = NULL;
    mmg_status s = mmg_tokenizer_create(plugin, config, &t);
    cr_assert_eq(s, MMG_OK, "create(%s): %s", config ? config : "NULL", mmg_last_error());
    return t;
}

static const uint8_t *U(const char *s) { return (const uint8_t *)s; }

TestSuite(tokenizer, .init = open_plugin, .fini = close_plugin);

Test(tokenizer, encode_then_decode_gives_back_any_bytes) {
    mmg_tokenizer *t = make(NULL);
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 259);
    const uint8_t doc[] = {'h', 'i', 0x00, 0xff, 0xc3, '!'};
    int32_t *ids = NULL;
    size_t n = 0;
    cr_assert_eq(mmg_tokenizer_encode(t, doc, sizeof doc, &ids, &n), MMG_OK, "%s",
                 mmg_last_error());
    cr_assert_eq(n, sizeof doc);
    for (size_t i = 0; i < n; i++) cr_assert_eq(ids[i], doc[i]);
    uint8_t *back = NULL;
    size_t m = 0;
    cr_assert_eq(mmg_tokenizer_decode(t, ids, n, &back, &m), MMG_OK);
    cr_assert_eq(m, sizeof doc);
    cr_assert_eq(memcmp(back, doc, m), 0);
    mmg_free(ids);
    mmg_free(back);
    /* The empty document. */
    ids = NULL;
    cr_assert_eq(mmg_tokenizer_encode(t, NULL, 0, &ids, &n), MMG_OK);
    cr_assert_eq(n, 0);
    mmg_free(ids);
    mmg_tokenizer_free(t);
}

Test(tokenizer, special_tokens_are_found_by_name) {
    mmg_tokenizer *t = make("{}");
    int32_t id = -5;
    cr_assert_eq(mmg_tokenizer_special_token(t, "bos", &id), MMG_OK);
    cr_assert_eq(id, 256);
    cr_assert_eq(mmg_tokenizer_special_token(t, "pad", &id), MMG_OK);
    cr_assert_eq(id, 258);
    id = -5;
    cr_assert_eq(mmg_tokenizer_special_token(t, "unk", &id), MMG_ERR_NOT_FOUND);
    cr_assert_eq(id, -5, "out parameter untouched on error");
    cr_assert(strstr(mmg_last_error(), "plugin 'testbytes'") != NULL, "%s", mmg_last_error());
    cr_assert(strstr(mmg_last_error(), "'unk'") != NULL, "%s", mmg_last_error());
    /* Decoding a special token gives no bytes: it is never document content. */
    const int32_t ids[] = {256, 'a', 257};
    uint8_t *doc = NULL;
    size_t n = 0;
    cr_assert_eq(mmg_tokenizer_decode(t, ids, 3, &doc, &n), MMG_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(doc[0], 'a');
    mmg_free(doc);
    mmg_tokenizer_free(t);
}

Test(tokenizer, tokens_are_described_for_inspection) {
    mmg_tokenizer *t = make(NULL);
    char *text = NULL;
    cr_assert_eq(mmg_tokenizer_describe_token(t, 'a', &text), MMG_OK);
    cr_assert_str_eq(text, "byte 'a' (0x61)");
    mmg_free(text);
    cr_assert_eq(mmg_tokenizer_describe_token(t, 257, &text), MMG_OK);
    cr_assert_str_eq(text, "<eos>");
    mmg_free(text);
    /* A description longer than the host's first buffer (300 bytes). */
    cr_assert_eq(mmg_tokenizer_describe_token(t, 'L', &text), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(strlen(text), 300);
    cr_assert_eq(strspn(text, "L"), 300);
    mmg_free(text);
    text = NULL;
    cr_assert_eq(mmg_tokenizer_describe_token(t, 259, &text), MMG_ERR_RANGE);
    cr_assert_eq(mmg_tokenizer_describe_token(t, -1, &text), MMG_ERR_RANGE);
    cr_assert_null(text);
    mmg_tokenizer_free(t);
}

Test(tokenizer, fit_save_and_load_carry_the_learned_vocabulary) {
    mmg_tokenizer *t = make("{\"empty\": true}");
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 0, "nothing learned yet");
    uint8_t mask[4] = {1, 1, 1, 1};
    cr_assert_eq(mmg_tokenizer_mask_cb(t, NULL, 0, mask, sizeof mask), MMG_ERR_STATE);
    int32_t *ids = NULL;
    size_t n = 0;
    cr_assert_eq(mmg_tokenizer_encode(t, U("a"), 1, &ids, &n), MMG_ERR_STATE);
    cr_assert(strstr(mmg_last_error(), "fit or load") != NULL, "%s", mmg_last_error());

    const uint8_t *docs[] = {U("abc"), U("cab")};
    const size_t sizes[] = {3, 3};
    cr_assert_eq(mmg_tokenizer_fit(t, docs, sizes, 2), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 6); /* a b c bos eos pad */
    cr_assert_eq(mmg_tokenizer_encode(t, U("cab"), 3, &ids, &n), MMG_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(ids[0], 2);
    cr_assert_eq(ids[1], 0);
    cr_assert_eq(ids[2], 1);
    mmg_free(ids);
    ids = NULL;
    cr_assert_eq(mmg_tokenizer_encode(t, U("abd"), 3, &ids, &n), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "0x64 at offset 2") != NULL, "%s", mmg_last_error());
    cr_assert_null(ids);

    uint8_t *state = NULL;
    size_t state_size = 0;
    cr_assert_eq(mmg_tokenizer_save_state(t, &state, &state_size), MMG_OK);
    cr_assert_eq(state_size, 5 + 256);
    mmg_tokenizer *u = make("{\"empty\": true}");
    cr_assert_eq(mmg_tokenizer_load_state(u, state, state_size), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_vocab_size(u), 6);
    cr_assert_eq(mmg_tokenizer_encode(u, U("ba"), 2, &ids, &n), MMG_OK);
    cr_assert_eq(ids[0], 1);
    cr_assert_eq(ids[1], 0);
    mmg_free(ids);
    /* A damaged state is a format error, and the tokenizer keeps its state. */
    state[0] = 'X';
    cr_assert_eq(mmg_tokenizer_load_state(u, state, state_size), MMG_ERR_FORMAT);
    cr_assert_eq(mmg_tokenizer_load_state(u, state, 3), MMG_ERR_FORMAT);
    cr_assert_eq(mmg_tokenizer_vocab_size(u), 6);
    mmg_free(state);
    mmg_tokenizer_free(t);
    mmg_tokenizer_free(u);
}

Test(tokenizer, bad_arguments_are_refused_before_the_plugin_sees_them) {
    mmg_tokenizer *t = make(NULL);
    mmg_tokenizer *none = NULL;
    cr_assert_eq(mmg_tokenizer_create(NULL, NULL, &none), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_tokenizer_create(plugin, NULL, NULL), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_tokenizer_create(plugin, "not json", &none), MMG_ERR_CONFIG);
    cr_assert(strstr(mmg_last_error(), "plugin 'testbytes': config must be") != NULL, "%s",
              mmg_last_error());
    cr_assert_null(none);
    int32_t *ids = NULL;
    size_t n = 0;
    cr_assert_eq(mmg_tokenizer_encode(t, NULL, 3, &ids, &n), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_tokenizer_encode(NULL, U("a"), 1, &ids, &n), MMG_ERR_INVALID_ARG);
    uint8_t *doc = NULL;
    const int32_t bad[] = {'a', 300, 'b'};
    cr_assert_eq(mmg_tokenizer_decode(t, bad, 3, &doc, &n), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "token id 300 at position 1") != NULL, "%s",
              mmg_last_error());
    cr_assert_eq(mmg_tokenizer_decode(t, NULL, 2, &doc, &n), MMG_ERR_INVALID_ARG);
    cr_assert_null(doc);
    cr_assert_eq(mmg_tokenizer_fit(t, NULL, NULL, 1), MMG_ERR_INVALID_ARG);
    const uint8_t *docs[] = {NULL};
    const size_t sizes[] = {4};
    cr_assert_eq(mmg_tokenizer_fit(t, docs, sizes, 1), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_tokenizer_fit(t, NULL, NULL, 0), MMG_ERR_INVALID_ARG, "plugin refuses 0 docs");
    cr_assert_eq(mmg_tokenizer_load_state(t, NULL, 4), MMG_ERR_INVALID_ARG);
    int32_t id = 0;
    cr_assert_eq(mmg_tokenizer_special_token(t, NULL, &id), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_tokenizer_vocab_size(NULL), 0);
    cr_assert_null(mmg_tokenizer_plugin(NULL));
    cr_assert_eq(mmg_tokenizer_has_extension(NULL, MMG_EXT_CONSTRAINT_V1), 0);
    cr_assert_eq(mmg_tokenizer_has_extension(t, "mmgen.nosuch/1"), 0);
    mmg_tokenizer_free(NULL);
    mmg_decode_stream_free(NULL);
    mmg_tokenizer_free(t);
}

/* ---- a misbehaving plugin is caught ------------------------------------- */

static mmg_tokenizer *misbehaving(const char *mode) {
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"misbehave\": \"%s\"}", mode);
    return make(cfg);
}

static void expect_plugin_error(mmg_status s, const char *part1, const char *part2) {
    cr_assert_eq(s, MMG_ERR_PLUGIN, "got %s: %s", mmg_status_name(s), mmg_last_error());
    const char *msg = mmg_last_error();
    cr_assert(strstr(msg, "plugin 'testbytes'") != NULL, "%s", msg);
    cr_assert(strstr(msg, part1) != NULL, "'%s' lacks '%s'", msg, part1);
    if (part2) cr_assert(strstr(msg, part2) != NULL, "'%s' lacks '%s'", msg, part2);
}

Test(tokenizer, encode_ids_outside_the_vocabulary_are_a_plugin_error) {
    mmg_tokenizer *t = misbehaving("encode_range");
    int32_t *sentinel = (int32_t *)(uintptr_t)0x99, *ids = sentinel;
    size_t n = 77;
    expect_plugin_error(mmg_tokenizer_encode(t, U("abcd"), 4, &ids, &n), "token id 259",
                        "position 3");
    cr_assert_eq(ids, sentinel);
    cr_assert_eq(n, 77);
    mmg_tokenizer_free(t);
    t = misbehaving("encode_negative");
    expect_plugin_error(mmg_tokenizer_encode(t, U("abcd"), 4, &ids, &n), "token id -1",
                        "position 0");
    mmg_tokenizer_free(t);
}

Test(tokenizer, a_missing_buffer_with_a_length_is_a_plugin_error) {
    mmg_tokenizer *t = misbehaving("encode_null");
    int32_t *ids = NULL;
    size_t n = 0;
    expect_plugin_error(mmg_tokenizer_encode(t, U("ab"), 2, &ids, &n), "encode()", "NULL buffer");
    mmg_tokenizer_free(t);
}

Test(tokenizer, a_status_outside_the_known_range_is_a_plugin_error) {
    mmg_tokenizer *t = misbehaving("bad_status");
    uint8_t *doc = NULL;
    size_t n = 0;
    const int32_t ids[] = {'a'};
    expect_plugin_error(mmg_tokenizer_decode(t, ids, 1, &doc, &n), "decode() returned 1234",
                        NULL);
    mmg_tokenizer_free(t);
    t = misbehaving("constraint_status");
    uint8_t allowed[259];
    memset(allowed, 1, sizeof allowed);
    expect_plugin_error(mmg_tokenizer_allowed_next(t, NULL, 0, allowed, sizeof allowed),
                        "allowed_next() returned -7", NULL);
    mmg_tokenizer_free(t);
}

Test(tokenizer, an_error_without_a_message_gets_one_naming_plugin_and_function) {
    mmg_tokenizer *t = misbehaving("silent_error");
    mmg_clear_error();
    uint8_t *state = NULL;
    size_t n = 0;
    cr_assert_eq(mmg_tokenizer_save_state(t, &state, &n), MMG_ERR_FORMAT);
    const char *msg = mmg_last_error();
    cr_assert(strstr(msg, "plugin 'testbytes'") != NULL, "%s", msg);
    cr_assert(strstr(msg, "save_state()") != NULL, "%s", msg);
    cr_assert(strstr(msg, "without a message") != NULL, "%s", msg);
    cr_assert_null(state);
    mmg_tokenizer_free(t);
}

Test(tokenizer, special_and_describe_outputs_are_checked) {
    mmg_tokenizer *t = misbehaving("special_range");
    int32_t id = -5;
    expect_plugin_error(mmg_tokenizer_special_token(t, "eos", &id), "special_token(\"eos\")",
                        "id 357");
    cr_assert_eq(id, -5);
    mmg_tokenizer_free(t);
    t = misbehaving("describe_huge");
    char *text = NULL;
    expect_plugin_error(mmg_tokenizer_describe_token(t, 'a', &text), "describe_token(97)", NULL);
    cr_assert_null(text);
    mmg_tokenizer_free(t);
}

/* ---- constraint extension ------------------------------------------------ */

Test(tokenizer, the_constraint_goes_straight_to_generation_as_a_mask_callback) {
    mmg_tokenizer *t = make(NULL);
    cr_assert(mmg_tokenizer_has_extension(t, MMG_EXT_CONSTRAINT_V1));
    mmg_token_mask_cb cb = mmg_tokenizer_mask_cb; /* the exact type generation takes */
    uint8_t allowed[259];
    memset(allowed, 1, sizeof allowed);
    cr_assert_eq(cb(t, NULL, 0, allowed, sizeof allowed), 0, "%s", mmg_last_error());
    cr_assert_eq(allowed[256], 1, "bos may start a document");
    cr_assert_eq(allowed[258], 0, "pad never");
    cr_assert_eq(allowed[0xe9], 1);
    const int32_t so_far[] = {256, 'h'};
    memset(allowed, 1, sizeof allowed);
    cr_assert_eq(cb(t, so_far, 2, allowed, sizeof allowed), 0);
    cr_assert_eq(allowed[256], 0, "no bos after the first token");
    cr_assert_eq(allowed[257], 1);
    /* A model vocabulary larger than the tokenizer's: the rest is not ours. */
    uint8_t big[300];
    memset(big, 1, sizeof big);
    cr_assert_eq(cb(t, so_far, 2, big, sizeof big), 0);
    for (size_t i = 259; i < sizeof big; i++) cr_assert_eq(big[i], 0, "id %zu", i);
    cr_assert_eq(big['h'], 1);
    /* A smaller one: the plugin never writes past the caller's array (ASan). */
    uint8_t small[257];
    memset(small, 1, sizeof small);
    cr_assert_eq(cb(t, so_far, 2, small, sizeof small), 0);
    cr_assert_eq(small[256], 0);
    cr_assert_eq(small['x'], 1);
    /* A token that is not in the vocabulary. */
    const int32_t bad[] = {'a', 1000};
    cr_assert_eq(cb(t, bad, 2, allowed, sizeof allowed), MMG_ERR_RANGE);
    mmg_tokenizer_free(t);

    t = make("{\"ascii_only\": true}");
    memset(allowed, 1, sizeof allowed);
    cr_assert_eq(mmg_tokenizer_allowed_next(t, NULL, 0, allowed, sizeof allowed), MMG_OK);
    cr_assert_eq(allowed[0x7f], 1);
    for (int b = 0x80; b < 256; b++) cr_assert_eq(allowed[b], 0, "byte %d", b);
    mmg_tokenizer_free(t);
}

/* ---- stream decode extension --------------------------------------------- */

/* Whether `s` (n bytes) is complete UTF-8: no sequence cut at its end. */
static int ends_on_a_character(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t len = s[i] < 0x80 ? 1 : s[i] < 0xe0 ? 2 : s[i] < 0xf0 ? 3 : 4;
        if (i + len > n) return 0;
        i += len;
    }
    return 1;
}

Test(tokenizer, streaming_decode_never_splits_a_utf8_character) {
    mmg_tokenizer *t = make(NULL);
    cr_assert(mmg_tokenizer_has_extension(t, MMG_EXT_STREAM_DECODE_V1));
    const char *text = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e!"; /* héllo € 𝄞! */
    int32_t *ids = NULL;
    size_t n = 0;
    cr_assert_eq(mmg_tokenizer_encode(t, U(text), strlen(text), &ids, &n), MMG_OK);
    mmg_decode_stream *ds = NULL;
    cr_assert_eq(mmg_decode_stream_create(t, &ds), MMG_OK, "%s", mmg_last_error());
    uint8_t all[64];
    size_t total = 0, empty_chunks = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *chunk = NULL;
        size_t m = 0;
        cr_assert_eq(mmg_decode_stream_feed(ds, &ids[i], 1, &chunk, &m), MMG_OK);
        cr_assert(ends_on_a_character(chunk, m), "chunk %zu cuts a character", i);
        if (!m) empty_chunks++;
        memcpy(all + total, chunk, m);
        total += m;
        mmg_free(chunk);
    }
    cr_assert_eq(empty_chunks, 1 + 2 + 3, "bytes held while a character was incomplete");
    uint8_t *rest = NULL;
    size_t m = 99;
    cr_assert_eq(mmg_decode_stream_flush(ds, &rest, &m), MMG_OK);
    cr_assert_eq(m, 0);
    mmg_free(rest);
    cr_assert_eq(total, strlen(text));
    cr_assert_eq(memcmp(all, text, total), 0);

    /* An incomplete character at the end comes out at flush. */
    const int32_t cut[] = {'a', 0xe2, 0x82};
    uint8_t *chunk = NULL;
    cr_assert_eq(mmg_decode_stream_feed(ds, cut, 3, &chunk, &m), MMG_OK);
    cr_assert_eq(m, 1);
    mmg_free(chunk);
    cr_assert_eq(mmg_decode_stream_flush(ds, &chunk, &m), MMG_OK);
    cr_assert_eq(m, 2);
    cr_assert_eq(chunk[0], 0xe2);
    mmg_free(chunk);
    const int32_t bad[] = {5000};
    chunk = NULL;
    cr_assert_eq(mmg_decode_stream_feed(ds, bad, 1, &chunk, &m), MMG_ERR_RANGE);
    cr_assert_null(chunk);
    mmg_decode_stream_free(ds);
    mmg_free(ids);
    mmg_tokenizer_free(t);
}

Test(tokenizer, an_extension_the_plugin_lacks_is_unsupported) {
    mmg_plugin *fx = NULL;
    cr_assert_eq(mmg_plugin_open(TP("v1fixture"), &fx), MMG_OK, "%s", mmg_last_error());
    mmg_tokenizer *t = NULL;
    cr_assert_eq(mmg_tokenizer_create(fx, NULL, &t), MMG_OK);
    mmg_decode_stream *ds = NULL;
    cr_assert_eq(mmg_decode_stream_create(t, &ds), MMG_ERR_UNSUPPORTED);
    cr_assert(strstr(mmg_last_error(), MMG_EXT_STREAM_DECODE_V1) != NULL, "%s", mmg_last_error());
    cr_assert_null(ds);
    mmg_tokenizer_free(t);
    mmg_plugin_close(fx);
}
