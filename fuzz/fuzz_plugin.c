/* fuzz/fuzz_plugin.c - one shipped plugin, one operation, chosen at compile
 * time (fuzz/CMakeLists.txt builds every pair):
 *   FUZZ_OP_STATE   load_state of arbitrary bytes; a state that loads must
 *                   save again to bytes that load, and encode a sample;
 *   FUZZ_OP_ENCODE  encode of arbitrary bytes (text, code, PNG, any format
 *                   libsndfile reads); text and code must decode back to
 *                   the same bytes, images and audio must decode;
 *   FUZZ_OP_DECODE  decode of arbitrary id streams (two bytes per id, ids
 *                   from -2 to vocab_size + 1): MMG_OK or a clean error.
 * The tokenizer is made once from a small fixed config and fitted on fixed
 * samples, with limits (pixels, seconds) that keep one input cheap. */
#include "fuzz.h"
#include "fuzz_media.h"

#ifndef FUZZ_AUDIO_MODE
#define FUZZ_AUDIO_MODE "mulaw"
#endif

#define FUZZ_OP_STATE 1
#define FUZZ_OP_ENCODE 2
#define FUZZ_OP_DECODE 3

static mmg_tokenizer *tok;

static const char *config_of(const char *plugin) {
    if (!strcmp(plugin, "text")) return "{\"vocab_size\": 300}";
    if (!strcmp(plugin, "code")) return "{\"vocab_size\": 300}";
    if (!strcmp(plugin, "image"))
        return "{\"patch_size\": 2, \"codebook_size\": 8, \"kmeans_iterations\": 2, "
               "\"max_pixels\": 65536, \"threads\": 1}";
    if (!strcmp(plugin, "audio"))
        return "{\"mode\": \"" FUZZ_AUDIO_MODE "\", \"max_seconds\": 4, \"threads\": 1, "
               "\"griffin_lim_iterations\": 2, \"kmeans_iterations\": 2, \"stages\": 1, "
               "\"codebook_size\": 8}";
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    mmg_plugin *p = fuzz_plugin(FUZZ_PLUGIN);
    FUZZ_SETUP(mmg_tokenizer_create(p, config_of(FUZZ_PLUGIN), &tok));
    mmg_plugin_close(p);
    static const char text[] =
        "def fuzz(data):\n    return [b ^ 0x5A for b in data]  # a comment\n"
        "int main(void) { return printf(\"%d\\n\", 42) == 3 ? 0 : 1; }\n"
        "To be, or not to be, that is the question.\n";
    static uint8_t wav[44 + 2 * 8000];
    const uint8_t *docs[2];
    size_t sizes[2], n = 1;
    if (!strcmp(FUZZ_PLUGIN, "image")) {
        docs[0] = fuzz_tiny_png, sizes[0] = sizeof fuzz_tiny_png;
    } else if (!strcmp(FUZZ_PLUGIN, "audio")) {
        docs[0] = wav, sizes[0] = fuzz_make_wav(wav, 8000, 8000);
    } else {
        docs[0] = (const uint8_t *)text, sizes[0] = sizeof text - 1;
    }
    mmg_tokenizer_fit(tok, docs, sizes, n); /* nothing to fit for mulaw: its status is ignored */
    return 0;
}

static void expect_clean(mmg_status s, const char *what) {
    FUZZ_CHECK(s == MMG_OK || s == MMG_ERR_FORMAT || s == MMG_ERR_RANGE || s == MMG_ERR_LIMIT ||
                   s == MMG_ERR_UNSUPPORTED || s == MMG_ERR_CONFIG || s == MMG_ERR_ABI,
               "%s: unexpected %s: %s", what, mmg_status_name(s), mmg_last_error());
}

#if FUZZ_OP == FUZZ_OP_STATE
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mmg_plugin *p = fuzz_plugin(FUZZ_PLUGIN);
    mmg_tokenizer *t = NULL;
    FUZZ_SETUP(mmg_tokenizer_create(p, config_of(FUZZ_PLUGIN), &t));
    mmg_plugin_close(p);
    mmg_status s = mmg_tokenizer_load_state(t, data, size);
    FUZZ_NOTE(s, "load_state");
    expect_clean(s, "load_state");
    if (s == MMG_OK) {
        uint8_t *saved = NULL, *again = NULL;
        size_t n_saved = 0, n_again = 0;
        FUZZ_CHECK(mmg_tokenizer_save_state(t, &saved, &n_saved) == MMG_OK, "%s", mmg_last_error());
        FUZZ_CHECK(mmg_tokenizer_load_state(t, saved, n_saved) == MMG_OK,
                   "a saved state does not load: %s", mmg_last_error());
        FUZZ_CHECK(mmg_tokenizer_save_state(t, &again, &n_again) == MMG_OK, "%s", mmg_last_error());
        FUZZ_CHECK(n_again == n_saved && memcmp(saved, again, n_saved) == 0, "save/load/save differs");
        static const uint8_t sample[] = "state sample 123";
        int32_t *ids = NULL;
        size_t n_ids = 0;
        if (!strcmp(FUZZ_PLUGIN, "text") || !strcmp(FUZZ_PLUGIN, "code")) {
            FUZZ_CHECK(mmg_tokenizer_encode(t, sample, sizeof sample - 1, &ids, &n_ids) == MMG_OK,
                       "%s", mmg_last_error());
            uint8_t *back = NULL;
            size_t n_back = 0;
            FUZZ_CHECK(mmg_tokenizer_decode(t, ids, n_ids, &back, &n_back) == MMG_OK, "%s",
                       mmg_last_error());
            FUZZ_CHECK(n_back == sizeof sample - 1 && !memcmp(back, sample, n_back),
                       "a loaded state does not round-trip text");
            mmg_free(back);
        }
        mmg_free(ids);
        mmg_free(saved);
        mmg_free(again);
    }
    mmg_tokenizer_free(t);
    return 0;
}
#elif FUZZ_OP == FUZZ_OP_ENCODE
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int32_t *ids = NULL;
    size_t n_ids = 0;
    mmg_status s = mmg_tokenizer_encode(tok, data, size, &ids, &n_ids);
    FUZZ_NOTE(s, "encode");
    expect_clean(s, "encode");
    if (s) return 0;
    int32_t vocab = mmg_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < n_ids; i++)
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < vocab, "id %d at %zu outside [0, %d)", ids[i], i, vocab);
    uint8_t *back = NULL;
    size_t n_back = 0;
    s = mmg_tokenizer_decode(tok, ids, n_ids, &back, &n_back);
    FUZZ_CHECK(s == MMG_OK, "decode of what encode gave: %s", mmg_last_error());
    if (!strcmp(FUZZ_PLUGIN, "text") || !strcmp(FUZZ_PLUGIN, "code"))
        FUZZ_CHECK(n_back == size && !memcmp(back, data, size), "decode(encode(x)) != x");
    mmg_free(back);
    mmg_free(ids);
    return 0;
}
#elif FUZZ_OP == FUZZ_OP_DECODE
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int32_t vocab = mmg_tokenizer_vocab_size(tok);
    size_t n = size / 2;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)data[2 * i] | (unsigned)data[2 * i + 1] << 8;
        ids[i] = (int32_t)(v % (unsigned)(vocab + 4)) - 2;
    }
    uint8_t *doc = NULL;
    size_t n_doc = 0;
    mmg_status s = mmg_tokenizer_decode(tok, ids, n, &doc, &n_doc);
    FUZZ_NOTE(s, "decode");
    expect_clean(s, "decode");
    int out_of_range = 0;
    for (size_t i = 0; i < n; i++) out_of_range |= ids[i] < 0 || ids[i] >= vocab;
    if (out_of_range) FUZZ_CHECK(s == MMG_ERR_RANGE, "an id outside the vocabulary gave %s", mmg_status_name(s));
    mmg_free(doc);
    free(ids);
    return 0;
}
#else
#error "define FUZZ_OP"
#endif
