/* tests/test_audio_tokens.c - the audio plugin's token stream: vocabulary
 * layout, special tokens, generation under the constraint (every stream it
 * allows decodes to a WAV of the announced length), decode errors, saved
 * states and configs, through the public tokenizer API. */
#include "audio_test.h"

#define RATE 8000

static mmg_tokenizer *fitted_learned(const char *extra) {
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"mode\":\"learned\",\"codebook_size\":16,\"stages\":2,"
             "\"kmeans_iterations\":4%s%s}", extra ? "," : "", extra ? extra : "");
    mmg_tokenizer *t = audio_test_tokenizer(cfg);
    const uint8_t *docs[3];
    size_t sizes[3];
    for (int d = 0; d < 3; d++) {
        float *x = audio_test_signal(RATE / 2, RATE, (uint32_t)d);
        docs[d] = audio_test_encode_file(x, RATE / 2, RATE, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16,
                                         &sizes[d]);
        free(x);
    }
    cr_assert_eq(mmg_tokenizer_fit(t, docs, sizes, 3), MMG_OK, "fit: %s", mmg_last_error());
    for (int d = 0; d < 3; d++) free((void *)docs[d]);
    return t;
}

Test(audio_tokens, vocabulary_and_special_tokens_follow_the_documented_layout) {
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\"}");
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 256 + 277);
    int32_t bos, eos, pad, other = -1;
    cr_assert_eq(mmg_tokenizer_special_token(t, "bos", &bos), MMG_OK);
    cr_assert_eq(mmg_tokenizer_special_token(t, "eos", &eos), MMG_OK);
    cr_assert_eq(mmg_tokenizer_special_token(t, "pad", &pad), MMG_OK);
    cr_assert_eq(bos, 256 + 274);
    cr_assert_eq(eos, 256 + 275);
    cr_assert_eq(pad, 256 + 276);
    cr_assert_eq(mmg_tokenizer_special_token(t, "audio", &other), MMG_ERR_NOT_FOUND);
    cr_assert_eq(other, -1, "out-param untouched on error");
    char *text = NULL;
    cr_assert_eq(mmg_tokenizer_describe_token(t, 200, &text), MMG_OK);
    cr_assert(strstr(text, "mu-law level 200"), "%s", text);
    mmg_free(text);
    cr_assert_eq(mmg_tokenizer_describe_token(t, 256 + 64 + 5, &text), MMG_OK);
    cr_assert(strstr(text, "length digit 1 = 5"), "%s", text);
    mmg_free(text);
    cr_assert_eq(mmg_tokenizer_describe_token(t, 256 + 256, &text), MMG_OK);
    cr_assert_str_eq(text, "codec mulaw");
    mmg_free(text);
    cr_assert_eq(mmg_tokenizer_describe_token(t, 256 + 265 + 3, &text), MMG_OK);
    cr_assert_str_eq(text, "rate 16000 Hz");
    mmg_free(text);
    cr_assert_eq(mmg_tokenizer_describe_token(t, 256 + 277, &text), MMG_ERR_RANGE);
    cr_assert_eq(mmg_tokenizer_has_extension(t, MMG_EXT_CONSTRAINT_V1), 1);
    mmg_tokenizer_free(t);

    /* codec2 700C: 28-bit frames as 12 + 12 + 4 bits */
    t = audio_test_tokenizer("{\"mode\":\"codec2\",\"codec2_mode\":\"700C\"}");
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 4096 + 4096 + 16 + 277);
    cr_assert_eq(mmg_tokenizer_describe_token(t, 8192 + 3, &text), MMG_OK);
    cr_assert(strstr(text, "bit group 2 (4 bits) = 3"), "%s", text);
    mmg_free(text);
    mmg_tokenizer_free(t);

    t = fitted_learned(NULL);
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 64 + 32 + 277);
    cr_assert_eq(mmg_tokenizer_describe_token(t, 64 + 16 + 2, &text), MMG_OK);
    cr_assert(strstr(text, "shape stage 2 #2"), "%s", text);
    mmg_free(text);
    mmg_tokenizer_free(t);
}

/* Generates one stream by picking uniformly among the allowed ids. */
static size_t random_stream(mmg_tokenizer *t, int32_t *ids, size_t cap, uint64_t *rng) {
    int32_t v = mmg_tokenizer_vocab_size(t), eos;
    cr_assert_eq(mmg_tokenizer_special_token(t, "eos", &eos), MMG_OK);
    uint8_t *allowed = (uint8_t *)malloc((size_t)v);
    size_t n = 0;
    for (;;) {
        memset(allowed, 1, (size_t)v);
        cr_assert_eq(mmg_tokenizer_allowed_next(t, ids, n, allowed, (size_t)v), MMG_OK, "%s",
                     mmg_last_error());
        int32_t count = 0;
        for (int32_t i = 0; i < v; i++) count += allowed[i];
        cr_assert_gt(count, 0, "some id is always allowed (position %zu)", n);
        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        int32_t pick = (int32_t)((*rng >> 33) % (uint64_t)count);
        for (int32_t i = 0; i < v; i++)
            if (allowed[i] && pick-- == 0) {
                ids[n++] = i;
                break;
            }
        if (ids[n - 1] == eos) break;
        cr_assert_lt(n, cap, "the stream ends");
    }
    free(allowed);
    return n;
}

static void check_generated(mmg_tokenizer *t, const char *what) {
    uint64_t rng = 42;
    int32_t *ids = (int32_t *)malloc(sizeof(int32_t) * 20000);
    int32_t digit0 = -1;
    for (int trial = 0; trial < 8; trial++) {
        size_t n = random_stream(t, ids, 20000, &rng);
        uint8_t *wav = NULL;
        size_t size;
        cr_assert_eq(mmg_tokenizer_decode(t, ids, n, &wav, &size), MMG_OK, "%s: %s", what,
                     mmg_last_error());
        /* length digits are ids 2..5; decode's WAV holds exactly that many */
        char *d = NULL;
        int64_t len = 0;
        for (int k = 2; k < 6; k++) {
            cr_assert_eq(mmg_tokenizer_describe_token(t, ids[k], &d), MMG_OK);
            int digit, value;
            cr_assert_eq(sscanf(d, "length digit %d = %d", &digit, &value), 2, "%s", d);
            len = len * 64 + value;
            mmg_free(d);
        }
        if (digit0 < 0) digit0 = ids[5];
        size_t ns;
        float *y = audio_test_decode_file(wav, size, &ns, NULL, NULL);
        cr_assert_eq((int64_t)ns, len, "%s: %zu samples for a header of %lld", what, ns,
                     (long long)len);
        free(y);
        mmg_free(wav);
    }
    free(ids);
}

Test(audio_tokens, every_stream_the_constraint_allows_decodes) {
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\",\"max_seconds\":0.05}");
    check_generated(t, "mulaw");
    mmg_tokenizer_free(t);
    t = audio_test_tokenizer("{\"mode\":\"codec2\",\"codec2_mode\":\"3200\",\"max_seconds\":0.5}");
    check_generated(t, "codec2 3200");
    mmg_tokenizer_free(t);
    t = fitted_learned("\"max_seconds\":0.6");
    check_generated(t, "learned");
    mmg_tokenizer_free(t);
}

Test(audio_tokens, the_constraint_refuses_what_does_not_fit) {
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\",\"max_seconds\":1}");
    int32_t v = mmg_tokenizer_vocab_size(t);
    uint8_t *allowed = (uint8_t *)malloc((size_t)v);
    /* the first token is the codec, then the rate */
    memset(allowed, 1, (size_t)v);
    cr_assert_eq(mmg_tokenizer_allowed_next(t, NULL, 0, allowed, (size_t)v), MMG_OK);
    for (int32_t i = 0; i < v; i++) cr_assert_eq(allowed[i], i == 256 + 256, "id %d", i);
    /* 8000 samples at most: L3 must be 0, L2 at most 1 (8000 = 1*4096 + ...) */
    int32_t h[6] = {256 + 256, 256 + 265, 256 + 0, 256 + 64 + 1, 256 + 128 + 61, 256 + 192};
    memset(allowed, 1, (size_t)v);
    cr_assert_eq(mmg_tokenizer_allowed_next(t, h, 2, allowed, (size_t)v), MMG_OK);
    for (int32_t e = 0; e < 64; e++) cr_assert_eq(allowed[256 + e], e == 0, "L3 digit %d", e);
    memset(allowed, 1, (size_t)v);
    cr_assert_eq(mmg_tokenizer_allowed_next(t, h, 3, allowed, (size_t)v), MMG_OK);
    for (int32_t e = 0; e < 64; e++) cr_assert_eq(allowed[256 + 64 + e], e <= 1, "L2 digit %d", e);
    /* 1*4096 + 61*64 = 8000: the last digit may only be 0 */
    memset(allowed, 1, (size_t)v);
    cr_assert_eq(mmg_tokenizer_allowed_next(t, h, 5, allowed, (size_t)v), MMG_OK);
    for (int32_t e = 0; e < 64; e++) cr_assert_eq(allowed[256 + 192 + e], e == 0, "L0 digit %d", e);
    /* a stream that broke the layout is an error, not a silent mask */
    int32_t bad[3] = {256 + 256, 17, 0};
    cr_assert_eq(mmg_tokenizer_allowed_next(t, bad, 2, allowed, (size_t)v), MMG_ERR_RANGE);
    free(allowed);
    mmg_tokenizer_free(t);
}

Test(audio_tokens, decode_names_what_is_wrong) {
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\"}");
    uint8_t *wav = NULL;
    size_t size = 0;
    int32_t ok[9] = {512, 521, 256, 320, 384, 448 + 3, 10, 20, 30}; /* 3 samples */
    cr_assert_eq(mmg_tokenizer_decode(t, ok, 9, &wav, &size), MMG_OK, "%s", mmg_last_error());
    mmg_free(wav);
    wav = NULL;
    int32_t ids[9];
    memcpy(ids, ok, sizeof ids);
    ids[7] = 533;
    cr_assert_eq(mmg_tokenizer_decode(t, ids, 9, &wav, &size), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "outside the vocabulary"), "%s", mmg_last_error());
    ids[7] = -1;
    cr_assert_eq(mmg_tokenizer_decode(t, ids, 9, &wav, &size), MMG_ERR_RANGE);
    memcpy(ids, ok, sizeof ids);
    ids[0] = 513; /* codec2 3200, not this tokenizer's */
    cr_assert_eq(mmg_tokenizer_decode(t, ids, 9, &wav, &size), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "codec token"), "%s", mmg_last_error());
    memcpy(ids, ok, sizeof ids);
    cr_assert_eq(mmg_tokenizer_decode(t, ids, 8, &wav, &size), MMG_ERR_FORMAT, "one sample short");
    cr_assert(strstr(mmg_last_error(), "got 8"), "%s", mmg_last_error());
    ids[5] = 448; /* a length of 0 */
    cr_assert_eq(mmg_tokenizer_decode(t, ids, 6, &wav, &size), MMG_ERR_FORMAT);
    memcpy(ids, ok, sizeof ids);
    ids[6] = 300; /* a length digit where a sample belongs */
    cr_assert_eq(mmg_tokenizer_decode(t, ids, 9, &wav, &size), MMG_ERR_FORMAT);
    cr_assert_null(wav, "out-param untouched on error");
    mmg_tokenizer_free(t);
}

Test(audio_tokens, states_and_configs_are_checked) {
    mmg_tokenizer *learned = fitted_learned(NULL);
    uint8_t *state = NULL;
    size_t size = 0;
    cr_assert_eq(mmg_tokenizer_save_state(learned, &state, &size), MMG_OK);
    /* a state of another mode */
    mmg_tokenizer *mulaw = audio_test_tokenizer("{\"mode\":\"mulaw\"}");
    cr_assert_eq(mmg_tokenizer_load_state(mulaw, state, size), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "mode learned"), "%s", mmg_last_error());
    uint8_t *mstate = NULL;
    size_t msize = 0;
    cr_assert_eq(mmg_tokenizer_save_state(mulaw, &mstate, &msize), MMG_OK);
    mmg_tokenizer *fresh = audio_test_tokenizer("{\"mode\":\"learned\"}");
    cr_assert_eq(mmg_tokenizer_load_state(fresh, mstate, msize), MMG_ERR_FORMAT);
    /* without a mode in its config a tokenizer takes the state's: states are self-contained */
    for (int i = 0; i < 2; i++) {
        mmg_tokenizer *blank = audio_test_tokenizer(i ? "{}" : NULL);
        cr_assert_eq(mmg_tokenizer_load_state(blank, mstate, msize), MMG_OK, "%s", mmg_last_error());
        cr_assert_eq(mmg_tokenizer_vocab_size(blank), mmg_tokenizer_vocab_size(mulaw), "a mu-law vocabulary");
        uint8_t *again = NULL;
        size_t again_size = 0;
        cr_assert_eq(mmg_tokenizer_save_state(blank, &again, &again_size), MMG_OK);
        cr_assert(again_size == msize && !memcmp(again, mstate, msize), "the same state saved back");
        mmg_free(again);
        mmg_tokenizer_free(blank);
    }
    /* a state of another plugin, a flipped byte, a truncated state */
    const char *png_like = "\x89PNG\r\n\x1a\n not an audio state at all, padded out to size......"
                           "...........................................................";
    cr_assert_eq(mmg_tokenizer_load_state(fresh, (const uint8_t *)png_like, strlen(png_like)),
                 MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "not an audio tokenizer state"), "%s", mmg_last_error());
    state[200] ^= 0x10;
    cr_assert_eq(mmg_tokenizer_load_state(fresh, state, size), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "checksum"), "%s", mmg_last_error());
    state[200] ^= 0x10;
    cr_assert_eq(mmg_tokenizer_load_state(fresh, state, size - 9), MMG_ERR_FORMAT);
    cr_assert_eq(mmg_tokenizer_vocab_size(fresh), 0, "a failed load leaves the instance as it was");
    cr_assert_eq(mmg_tokenizer_load_state(fresh, state, size), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_vocab_size(fresh), 64 + 32 + 277);
    mmg_free(state);
    mmg_free(mstate);
    mmg_tokenizer_free(fresh);
    mmg_tokenizer_free(mulaw);
    mmg_tokenizer_free(learned);

    /* configs */
    static const char *bad[] = {
        "{\"mode\":\"wavenet\"}", "{\"sample_rate\":9000}", "{\"stages\":0}",
        "{\"mode\":\"codec2\",\"sample_rate\":16000}", "{\"codec2_mode\":\"450\"}",
        "{\"n_mels\":128,\"window_ms\":8}", "{\"frame_ms\":7,\"sample_rate\":11025}",
        "{\"colour\":1}", "{\"max_seconds\":-1}", "[1,2]", "{\"output\":\"mp3\"}"};
    mmg_plugin *plugin = NULL;
    cr_assert_eq(mmg_plugin_open(AUDIO_PLUGIN_PATH, &plugin), MMG_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mmg_tokenizer *t = NULL;
        cr_assert_eq(mmg_tokenizer_create(plugin, bad[i], &t), MMG_ERR_CONFIG, "%s", bad[i]);
        cr_assert_null(t);
        cr_assert(strstr(mmg_last_error(), "audio config"), "%s: %s", bad[i], mmg_last_error());
    }
    mmg_plugin_close(plugin);
}

Test(audio_tokens, learned_codec_needs_fit_and_enough_audio) {
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"learned\"}");
    float *x = audio_test_signal(800, RATE, 1);
    size_t size;
    uint8_t *doc = audio_test_encode_file(x, 800, RATE, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, &size);
    int32_t *ids = NULL;
    size_t count = 0;
    cr_assert_eq(mmg_tokenizer_encode(t, doc, size, &ids, &count), MMG_ERR_STATE);
    cr_assert(strstr(mmg_last_error(), "fit"), "%s", mmg_last_error());
    const uint8_t *docs[1] = {doc};
    cr_assert_eq(mmg_tokenizer_fit(t, docs, &size, 1), MMG_ERR_CONFIG, "5 frames for K = 1024");
    cr_assert(strstr(mmg_last_error(), "codebook_size 1024"), "%s", mmg_last_error());
    free(doc);
    free(x);
    mmg_tokenizer_free(t);
}
