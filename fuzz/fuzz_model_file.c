/* fuzz/fuzz_model_file.c - safetensors model files: the header JSON, the
 * config in __metadata__, tensor names, dtypes, shapes and data offsets
 * (mmg_model_load_memory, the same reader as mmg_model_load). A file that
 * loads is loaded again as one other weight format (F32, Q8_0, Q4_0, F16,
 * each with or without the token embedding quantized: the last byte picks), which runs the conversions between them, and its
 * parameters' stored bytes (mmg_model_read_param_data) must dequantize to
 * what mmg_model_read_param gives. */
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
    o.quantize_embedding = data[size - 1] / 4 % 2;    /* and the token embedding too, or not */
    m = NULL;
    s = mmg_model_load_memory(data, size, &o, &m);
    FUZZ_NOTE(s, "model_load_memory as another weight format");
    if (s) return 0; /* a shape that is not whole blocks, a weight the type cannot hold */
    FUZZ_CHECK(mmg_model_n_params(m) == n, "another weight format changed the parameter count");
    /* each parameter's stored bytes dequantize to what mmg_model_read_param gives */
    for (size_t i = 0; i < mmg_model_param_count(m); i++) {
        mmg_param_info info = {.struct_size = sizeof info};
        FUZZ_CHECK(mmg_model_param_info(m, i, &info) == MMG_OK, "param_info of a listed index");
        FUZZ_CHECK(info.n_bytes == mmg_weights_size(info.weights, info.n_elements), "n_bytes of a parameter");
        void *raw = malloc(info.n_bytes);
        float *a = malloc(info.n_elements * sizeof *a), *b = malloc(info.n_elements * sizeof *b);
        if (raw && a && b) {
            FUZZ_CHECK(mmg_model_read_param_data(m, info.name, raw, info.n_bytes) == MMG_OK, "read_param_data");
            FUZZ_CHECK(mmg_dequantize(info.weights, raw, info.n_bytes, a, info.n_elements) == MMG_OK, "dequantize");
            FUZZ_CHECK(mmg_model_read_param(m, info.name, b, info.n_elements) == MMG_OK, "read_param");
            FUZZ_CHECK(memcmp(a, b, info.n_elements * sizeof *a) == 0, "stored bytes dequantize differently");
        }
        free(raw), free(a), free(b);
    }
    mmg_model_free(m);
    return 0;
}
