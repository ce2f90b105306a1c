/* fuzz/fuzz_model_file.c - safetensors model files: the header JSON, the
 * config in __metadata__, tensor names, dtypes, shapes and data offsets
 * (mmg_model_load_memory, the same reader as mmg_model_load). A file that
 * loads is loaded again as one other weight format (F32, Q8_0, Q4_0, F16:
 * the last byte picks), which runs the conversions between them. */
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
    const uint64_t n = mmg_model_n_params(m);
    mmg_model_free(m);
    o.weights = MMG_WEIGHTS_F32 + data[size - 1] % 4; /* F32, Q8_0, Q4_0, F16 */
    m = NULL;
    s = mmg_model_load_memory(data, size, &o, &m);
    FUZZ_NOTE(s, "model_load_memory as another weight format");
    if (s) return 0; /* a shape that is not whole blocks, a weight the type cannot hold */
    FUZZ_CHECK(mmg_model_n_params(m) == n, "another weight format changed the parameter count");
    mmg_model_free(m);
    return 0;
}
