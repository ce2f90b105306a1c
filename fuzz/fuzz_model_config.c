/* fuzz/fuzz_model_config.c - model config JSON (the "mmgen.config" entry of
 * model files and checkpoints, `mmgen train --config`). Whatever parses
 * must write back to JSON that parses to the same config. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    if (mmg_model_config_from_json((const char *)data, size, &c) != MMG_OK) return 0;
    mmg_model_config_validate(&c);
    char *json = NULL;
    if (mmg_model_config_to_json(&c, &json) != MMG_OK) return 0; /* e.g. a flag of 7 */
    mmg_model_config back;
    mmg_model_config_init(&back, sizeof back);
    FUZZ_CHECK(mmg_model_config_from_json(json, strlen(json), &back) == MMG_OK, "%s: %s", json,
               mmg_last_error());
    FUZZ_CHECK(memcmp(&back, &c, sizeof c) == 0, "the config changed through JSON: %s", json);
    mmg_free(json);
    return 0;
}
