/* tests/test_model_tokenizer.c - tokenizers as JSON documents and the
 * tokenizers a model file carries (ABI 1.2, mmgen/tokenizer.h): a document
 * round trip keeps plugin, config and state; a config that fails here falls
 * back to the state alone and is still reported; every malformed document is
 * refused with its own status; a model with two tokenizers and a source id
 * offset saves and loads them, while a model with one tokenizer (as 1.0/1.1
 * wrote it) reads as before; every allocation failure is reported, leaking
 * nothing.
 *
 * The plugin is the test byte tokenizer (tests/plugins/testbytes.c): 256
 * bytes + bos, eos, pad = 259 ids; {"empty": true} knows only the bytes fit()
 * saw. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory.h"
#include "mmgen/mmgen.h"
#include "plugin_module.h"

#define PLUGIN_DIR MMGEN_BINARY_DIR "/tests/plugins"

static mmg_plugin *plugin;

static void setup(void) {
    setenv("MMGEN_PLUGIN_PATH", PLUGIN_DIR, 1);
    cr_assert_eq(mmg_plugin_open("testbytes", &plugin), MMG_OK, "%s", mmg_last_error());
}
static void teardown(void) {
    mmg_plugin_close(plugin);
    cr_assert_eq(mmg__module_loaded_count(), 0, "every tokenizer must have been freed");
}

TestSuite(model_tokenizer, .init = setup, .fini = teardown);

/* A tokenizer that knows only the bytes of `doc`. */
static mmg_tokenizer *fitted(const char *doc) {
    mmg_tokenizer *t = NULL;
    cr_assert_eq(mmg_tokenizer_create(plugin, "{\"empty\": true}", &t), MMG_OK, "%s", mmg_last_error());
    const uint8_t *docs[1] = {(const uint8_t *)doc};
    size_t sizes[1] = {strlen(doc)};
    cr_assert_eq(mmg_tokenizer_fit(t, docs, sizes, 1), MMG_OK, "%s", mmg_last_error());
    return t;
}

static void expect_same_encoding(mmg_tokenizer *a, mmg_tokenizer *b, const char *doc) {
    int32_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    cr_assert_eq(mmg_tokenizer_encode(a, (const uint8_t *)doc, strlen(doc), &x, &nx), MMG_OK);
    cr_assert_eq(mmg_tokenizer_encode(b, (const uint8_t *)doc, strlen(doc), &y, &ny), MMG_OK);
    cr_assert_eq(nx, ny);
    cr_assert_eq(memcmp(x, y, nx * sizeof *x), 0);
    mmg_free(x);
    mmg_free(y);
}

Test(model_tokenizer, a_document_round_trip_keeps_plugin_config_and_state) {
    mmg_tokenizer *t = fitted("cab");
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 3 + 3);
    cr_assert_str_eq(mmg_tokenizer_config(t), "{\"empty\": true}");
    char *json = NULL;
    cr_assert_eq(mmg_tokenizer_to_json(t, &json), MMG_OK, "%s", mmg_last_error());
    cr_assert(strstr(json, "\"format\":\t\"mmgen-tokenizer\""), "%s", json);
    cr_assert(strstr(json, "\"plugin\":\t\"testbytes\""), "%s", json);
    cr_assert(strstr(json, "\"vocab_size\":\t6"), "%s", json);
    cr_assert(strstr(json, "\"empty\":\ttrue"), "%s", json);
    mmg_tokenizer *back = NULL;
    cr_assert_eq(mmg_tokenizer_from_json(json, strlen(json), &back), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_vocab_size(back), 6);
    cr_assert_str_eq(mmg_plugin_name(mmg_tokenizer_plugin(back)), "testbytes");
    cr_assert_str_eq(mmg_tokenizer_config(back), "{\"empty\":true}");
    expect_same_encoding(t, back, "abcabc");
    /* writing the restored one gives the same document */
    char *again = NULL;
    cr_assert_eq(mmg_tokenizer_to_json(back, &again), MMG_OK);
    cr_assert_str_eq(again, json);
    mmg_free(again);
    mmg_free(json);
    mmg_tokenizer_free(back);
    mmg_tokenizer_free(t);
}

Test(model_tokenizer, no_config_is_null_and_comes_back_as_defaults) {
    mmg_tokenizer *t = NULL;
    cr_assert_eq(mmg_tokenizer_create(plugin, "", &t), MMG_OK);
    cr_assert_null(mmg_tokenizer_config(t));
    cr_assert_null(mmg_tokenizer_config(NULL));
    char *json = NULL;
    cr_assert_eq(mmg_tokenizer_to_json(t, &json), MMG_OK, "%s", mmg_last_error());
    cr_assert(strstr(json, "\"config\":\tnull"), "%s", json);
    mmg_tokenizer *back = NULL;
    cr_assert_eq(mmg_tokenizer_from_json(json, strlen(json), &back), MMG_OK, "%s", mmg_last_error());
    cr_assert_null(mmg_tokenizer_config(back));
    cr_assert_eq(mmg_tokenizer_vocab_size(back), 259);
    mmg_free(json);
    mmg_tokenizer_free(back);
    mmg_tokenizer_free(t);
}

/* The document of a tokenizer, with its "config" replaced by `config`. */
static char *document_with_config(mmg_tokenizer *t, const char *config) {
    char *json = NULL;
    cr_assert_eq(mmg_tokenizer_to_json(t, &json), MMG_OK);
    const char *at = strstr(json, "\"config\":");
    cr_assert(at);
    const char *end = strstr(at, "\"vocab_size\""); /* the key after "config" */
    cr_assert(end);
    size_t n = strlen(json) + strlen(config) + 32;
    char *out = malloc(n);
    snprintf(out, n, "%.*s\"config\": %s, %s", (int)(at - json), json, config, end);
    mmg_free(json);
    return out;
}

Test(model_tokenizer, a_config_that_fails_here_falls_back_to_the_state_alone) {
    mmg_tokenizer *t = fitted("xy");
    char *doc = document_with_config(t, "{\"misbehave\": \"no-such-mode\"}");
    mmg_tokenizer *back = NULL;
    cr_assert_eq(mmg_tokenizer_from_json(doc, strlen(doc), &back), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_vocab_size(back), 2 + 3, "the state, not the defaults, was loaded");
    cr_assert_str_eq(mmg_tokenizer_config(back), "{\"misbehave\":\"no-such-mode\"}");
    expect_same_encoding(t, back, "xyyx");
    free(doc);
    mmg_tokenizer_free(back);
    mmg_tokenizer_free(t);
}

static void expect_refused(const char *doc, mmg_status status, const char *needle) {
    mmg_tokenizer *sentinel = (mmg_tokenizer *)&plugin, *out = sentinel;
    mmg_status s = mmg_tokenizer_from_json(doc, strlen(doc), &out);
    cr_assert_eq(s, status, "%s: got %s (%s)", doc, mmg_status_name(s), mmg_last_error());
    cr_assert_eq(out, sentinel, "the out-parameter is untouched on error");
    cr_assert(strstr(mmg_last_error(), needle), "%s: message '%s' lacks '%s'", doc, mmg_last_error(),
              needle);
}

Test(model_tokenizer, malformed_documents_are_refused_by_name) {
    mmg_tokenizer *t = fitted("ab");
    char *json = NULL;
    cr_assert_eq(mmg_tokenizer_to_json(t, &json), MMG_OK);
    expect_refused("not json", MMG_ERR_FORMAT, "not a tokenizer document");
    expect_refused("[1, 2]", MMG_ERR_FORMAT, "not a tokenizer document");
    expect_refused("{\"format\": \"other\", \"version\": 1}", MMG_ERR_FORMAT, "\"format\" is not");
    expect_refused("{\"format\": \"mmgen-tokenizer\", \"version\": 2, \"plugin\": \"testbytes\", "
                   "\"state\": \"\"}", MMG_ERR_UNSUPPORTED, "version 2 is not supported");
    expect_refused("{\"format\": \"mmgen-tokenizer\", \"version\": 1, \"state\": \"\"}", MMG_ERR_FORMAT,
                   "\"plugin\" must be");
    expect_refused("{\"format\": \"mmgen-tokenizer\", \"version\": 1, \"plugin\": \"testbytes\"}",
                   MMG_ERR_FORMAT, "\"state\" must be");
    /* a path, even to a real plugin, is never opened from a document: model files travel */
    expect_refused("{\"format\": \"mmgen-tokenizer\", \"version\": 1, \"plugin\": \"" PLUGIN_DIR
                   "/mmgen-testbytes.so\", \"state\": \"\"}", MMG_ERR_FORMAT, "not a path");
    expect_refused("{\"format\": \"mmgen-tokenizer\", \"version\": 1, \"plugin\": \"../testbytes\", "
                   "\"state\": \"\"}", MMG_ERR_FORMAT, "not a path");
    expect_refused("{\"format\": \"mmgen-tokenizer\", \"version\": 1, \"plugin\": \"testbytes\", "
                   "\"state\": \"ab!=\"}", MMG_ERR_FORMAT, "not valid base64");
    expect_refused("{\"format\": \"mmgen-tokenizer\", \"version\": 1, \"plugin\": \"nosuchplugin\", "
                   "\"state\": \"\"}", MMG_ERR_NOT_FOUND, "nosuchplugin");
    /* "AAAA" decodes to 3 zero bytes: not a testbytes state */
    expect_refused("{\"format\": \"mmgen-tokenizer\", \"version\": 1, \"plugin\": \"testbytes\", "
                   "\"state\": \"AAAA\"}", MMG_ERR_FORMAT, "not a testbytes v1 state");
    cr_assert_eq(mmg_tokenizer_from_json(NULL, 0, &t), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_tokenizer_to_json(NULL, &json), MMG_ERR_INVALID_ARG);
    mmg_free(json);
    mmg_tokenizer_free(t);
}

static mmg_model *small_model(int32_t vocab) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = vocab;
    c.d_model = 8;
    c.n_heads = 2;
    c.n_encoder_layers = 1;
    c.n_decoder_layers = 1;
    c.d_ff = 16;
    c.max_seq_len = 16;
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_create(&c, NULL, &m), MMG_OK, "%s", mmg_last_error());
    return m;
}

Test(model_tokenizer, a_model_saves_and_loads_two_tokenizers_and_the_offset) {
    mmg_tokenizer *target = fitted("0123456789"), *source = fitted("abc");
    int32_t tv = mmg_tokenizer_vocab_size(target), sv = mmg_tokenizer_vocab_size(source);
    mmg_model *m = small_model(tv + sv);
    cr_assert_eq(mmg_model_set_tokenizer(m, NULL, target), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_model_set_tokenizer(m, MMG_METADATA_SOURCE_TOKENIZER, source), MMG_OK);
    char offset[16];
    snprintf(offset, sizeof offset, "%d", (int)tv);
    cr_assert_eq(mmg_model_set_metadata(m, MMG_METADATA_SOURCE_ID_OFFSET, offset), MMG_OK);
    char path[] = "/tmp/mmgen-test-model-tokenizer-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(mmg_model_save(m, path), MMG_OK, "%s", mmg_last_error());
    mmg_model_free(m);

    mmg_model *loaded = NULL;
    cr_assert_eq(mmg_model_load(path, NULL, &loaded), MMG_OK, "%s", mmg_last_error());
    mmg_tokenizer *t2 = NULL, *s2 = NULL;
    cr_assert_eq(mmg_model_tokenizer(loaded, MMG_METADATA_TOKENIZER, &t2), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_model_tokenizer(loaded, MMG_METADATA_SOURCE_TOKENIZER, &s2), MMG_OK, "%s",
                 mmg_last_error());
    expect_same_encoding(target, t2, "2024");
    expect_same_encoding(source, s2, "cab");
    int32_t off = -1;
    cr_assert_eq(mmg_model_source_id_offset(loaded, &off), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(off, tv);
    /* the file's entries read without loading the weights, too */
    char *raw = NULL;
    cr_assert_eq(mmg_model_file_metadata(path, MMG_METADATA_SOURCE_TOKENIZER, &raw), MMG_OK);
    mmg_tokenizer *s3 = NULL;
    cr_assert_eq(mmg_tokenizer_from_json(raw, strlen(raw), &s3), MMG_OK, "%s", mmg_last_error());
    expect_same_encoding(source, s3, "abba");
    mmg_free(raw);
    mmg_tokenizer_free(s3);
    mmg_tokenizer_free(t2);
    mmg_tokenizer_free(s2);
    mmg_model_free(loaded);
    mmg_tokenizer_free(target);
    mmg_tokenizer_free(source);
    close(fd);
    remove(path);
}

Test(model_tokenizer, a_model_with_one_tokenizer_reads_as_before) {
    /* what a 1.0 writer stored: the document text under "mmgen.tokenizer" */
    mmg_tokenizer *t = fitted("hello");
    char *json = NULL;
    cr_assert_eq(mmg_tokenizer_to_json(t, &json), MMG_OK);
    mmg_model *m = small_model(mmg_tokenizer_vocab_size(t));
    cr_assert_eq(mmg_model_set_metadata(m, "mmgen.tokenizer", json), MMG_OK);
    mmg_tokenizer *back = NULL;
    cr_assert_eq(mmg_model_tokenizer(m, NULL, &back), MMG_OK, "%s", mmg_last_error());
    expect_same_encoding(t, back, "hole");
    mmg_clear_error();
    int32_t off = -1;
    cr_assert_eq(mmg_model_source_id_offset(m, &off), MMG_OK);
    cr_assert_eq(off, 0);
    cr_assert_str_eq(mmg_last_error(), "", "an absent offset is no error: the last error stays clear");
    mmg_tokenizer *none = NULL;
    cr_assert_eq(mmg_model_tokenizer(m, MMG_METADATA_SOURCE_TOKENIZER, &none), MMG_ERR_NOT_FOUND);
    cr_assert_null(none);
    cr_assert(strstr(mmg_last_error(), "mmgen.source_tokenizer"), "%s", mmg_last_error());
    mmg_free(json);
    mmg_tokenizer_free(back);
    mmg_model_free(m);
    mmg_tokenizer_free(t);
}

Test(model_tokenizer, a_bad_offset_or_tokenizer_entry_is_named) {
    mmg_model *m = small_model(300);
    const char *bad[] = {"abc", "-1", "300", "", " 5", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(mmg_model_set_metadata(m, MMG_METADATA_SOURCE_ID_OFFSET, bad[i]), MMG_OK);
        int32_t off = -7;
        cr_assert_eq(mmg_model_source_id_offset(m, &off), MMG_ERR_FORMAT, "'%s' accepted", bad[i]);
        cr_assert_eq(off, -7);
        cr_assert(strstr(mmg_last_error(), "mmgen.source_id_offset"), "%s", mmg_last_error());
    }
    cr_assert_eq(mmg_model_set_metadata(m, MMG_METADATA_SOURCE_ID_OFFSET, "299"), MMG_OK);
    int32_t off = 0;
    cr_assert_eq(mmg_model_source_id_offset(m, &off), MMG_OK);
    cr_assert_eq(off, 299);
    cr_assert_eq(mmg_model_set_metadata(m, MMG_METADATA_SOURCE_TOKENIZER, "{\"format\": 3}"), MMG_OK);
    mmg_tokenizer *t = NULL;
    cr_assert_eq(mmg_model_tokenizer(m, MMG_METADATA_SOURCE_TOKENIZER, &t), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "mmgen.source_tokenizer"), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_tokenizer(NULL, NULL, &t), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_set_tokenizer(m, NULL, NULL), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_source_id_offset(m, NULL), MMG_ERR_INVALID_ARG);
    mmg_model_free(m);
}

Test(model_tokenizer, every_allocation_failure_is_reported_and_leaks_nothing) {
    mmg_tokenizer *t = fitted("abc");
    mmg_model *m = small_model(64);
    char *ref = NULL;
    cr_assert_eq(mmg_tokenizer_to_json(t, &ref), MMG_OK);
    int done = 0;
    for (long n = 1; n < 10000 && !done; n++) {
        char *json = NULL;
        mmg_tokenizer *back = NULL;
        mmg__fault_fail_after(n);
        mmg_status a = mmg_tokenizer_to_json(t, &json);
        mmg_status b = mmg_tokenizer_from_json(ref, strlen(ref), &back);
        mmg_status c = mmg_model_set_tokenizer(m, NULL, t);
        mmg__fault_fail_after(0);
        cr_assert(a == MMG_OK || a == MMG_ERR_NOMEM, "to_json: %s", mmg_status_name(a));
        cr_assert(c == MMG_OK || c == MMG_ERR_NOMEM, "set_tokenizer: %s", mmg_status_name(c));
        if (a) cr_assert_null(json);
        if (b) cr_assert_null(back);
        done = a == MMG_OK && b == MMG_OK && c == MMG_OK;
        mmg_free(json);
        mmg_tokenizer_free(back);
    }
    cr_assert(done, "never succeeded");
    mmg_free(ref);
    mmg_model_free(m);
    mmg_tokenizer_free(t);
}
