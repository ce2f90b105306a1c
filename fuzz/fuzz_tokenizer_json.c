/* fuzz/fuzz_tokenizer_json.c - tokenizer documents (the JSON that
 * `mmgen tokenizer fit` writes and model files embed: plugin name, config,
 * base64 state), through mmg_tokenizer_from_json, which opens the named
 * plugin from MMGEN_PLUGIN_PATH (the build's plugins) and loads the state. */
#include "fuzz.h"

static mmg_plugin *pinned[4]; /* held to the end, and referenced: not a leak */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    setenv("MMGEN_PLUGIN_PATH", MMGEN_FUZZ_PLUGIN_DIR, 1);
    /* Held open for the whole run: libFuzzer's coverage tables would point
     * into a plugin unloaded by the last close of an input (a SEGV inside
     * libFuzzer, not in mmgen). */
    static const char *const names[] = {"text", "code", "image", "audio"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) pinned[i] = fuzz_plugin(names[i]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mmg_tokenizer *t = NULL;
    mmg_status s = mmg_tokenizer_from_json((const char *)data, size, &t);
    FUZZ_NOTE(s, "tokenizer_from_json");
    if (s) return 0;
    char *json = NULL;
    if (mmg_tokenizer_to_json(t, &json) == MMG_OK) {
        mmg_tokenizer *back = NULL;
        FUZZ_CHECK(mmg_tokenizer_from_json(json, strlen(json), &back) == MMG_OK,
                   "a written tokenizer document does not read back: %s", mmg_last_error());
        mmg_tokenizer_free(back);
        mmg_free(json);
    }
    mmg_tokenizer_free(t);
    return 0;
}
