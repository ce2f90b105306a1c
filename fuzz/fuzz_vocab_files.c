/* fuzz/fuzz_vocab_files.c - the vocabulary files the text plugin reads:
 *   FUZZ_VOCAB_TIKTOKEN  a tiktoken rank file ("base64 rank" lines);
 *   FUZZ_VOCAB_GPT2      GPT-2's encoder.json + vocab.bpe, the input split
 *                        at the first NUL byte into the two files.
 * Each goes in as a memory file named in the config; a vocabulary that
 * loads must encode and decode a sample back to itself. */
#include "fuzz.h"

static mmg_plugin *text;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    text = fuzz_plugin("text");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char config[256], a[64];
    int fa = -1, fb = -1;
#if defined(FUZZ_VOCAB_TIKTOKEN)
    if ((fa = fuzz_memfile(data, size, a)) < 0) return 0;
    snprintf(config, sizeof config, "{\"tiktoken\": \"%s\"}", a);
#else
    char b[64];
    const uint8_t *nul = memchr(data, 0, size);
    size_t n_json = nul ? (size_t)(nul - data) : size;
    size_t n_bpe = nul ? size - n_json - 1 : 0;
    if ((fa = fuzz_memfile(data, n_json, a)) < 0) return 0;
    if ((fb = fuzz_memfile(nul ? nul + 1 : data, n_bpe, b)) < 0) {
        close(fa);
        return 0;
    }
    snprintf(config, sizeof config, "{\"vocab\": \"gpt2\", \"encoder_json\": \"%s\", \"vocab_bpe\": \"%s\"}", a, b);
#endif
    mmg_tokenizer *t = NULL;
    mmg_status s = mmg_tokenizer_create(text, config, &t);
    FUZZ_NOTE(s, "tokenizer_create");
    close(fa);
    if (fb >= 0) close(fb);
    if (s) return 0;
    static const uint8_t sample[] = "Hello, world! 123 \xc3\xa9t\xc3\xa9";
    int32_t *ids = NULL;
    size_t n_ids = 0;
    s = mmg_tokenizer_encode(t, sample, sizeof sample - 1, &ids, &n_ids);
    if (s == MMG_OK) {
        uint8_t *back = NULL;
        size_t n_back = 0;
        FUZZ_CHECK(mmg_tokenizer_decode(t, ids, n_ids, &back, &n_back) == MMG_OK, "%s", mmg_last_error());
        FUZZ_CHECK(n_back == sizeof sample - 1 && !memcmp(back, sample, n_back),
                   "a vocabulary that loaded does not round-trip the sample");
        mmg_free(back);
    } else {
        /* a vocabulary missing some single bytes cannot encode every text */
        FUZZ_CHECK(s == MMG_ERR_RANGE || s == MMG_ERR_FORMAT || s == MMG_ERR_UNSUPPORTED,
                   "encode: %s: %s", mmg_status_name(s), mmg_last_error());
    }
    mmg_free(ids);
    mmg_tokenizer_free(t);
    return 0;
}
