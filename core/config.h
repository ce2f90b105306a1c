/* core/config.h - model configs: validation, sizes and their JSON form (private).
 *
 * The JSON form is what safetensors files carry in __metadata__["mmgen.config"]:
 *   {"vocab_size": 50257, "d_model": 768, "n_heads": 12, "n_encoder_layers": 0,
 *    "n_decoder_layers": 12, "d_ff": 3072, "max_seq_len": 1024,
 *    "norm_placement": "pre", "final_norm": true, "activation": "gelu_tanh",
 *    "position_encoding": "learned", "tied_output": true, "bias": true,
 *    "scale_embeddings": false, "layernorm_eps": 1e-05, "norm_bias": true}
 * Enums are spelled "post"/"pre", "relu"/"gelu"/"gelu_tanh",
 * "sinusoidal"/"learned"/"none", flags true/false. A missing key keeps its
 * default (so files written before a field existed still load); an unknown
 * or repeated key is an error (a field this library does not know would
 * change the architecture it builds). The same code serves model files,
 * checkpoints and the public mmg_model_config_to_json/_from_json. */
#ifndef MMGEN_CORE_CONFIG_H
#define MMGEN_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/model.h"

/* The metadata key holding the config JSON, and the "format" value. */
#define MMG__CONFIG_KEY "mmgen.config"
#define MMG__FORMAT_KEY "format"
#define MMG__FORMAT_VALUE "mmgen"

/* The defaults of mmg_model_config_init, full size. */
void mmg__config_defaults(mmg_model_config *cfg);

/* Copies a caller's config (any struct_size) into a full-size one with
 * defaults for missing fields and validates it. MMG_ERR_INVALID_ARG for NULL
 * or a bad struct_size, MMG_ERR_CONFIG naming the field otherwise. */
mmg_status mmg__config_read(const mmg_model_config *user, mmg_model_config *out);

/* Validates a full-size config (see mmg_model_config_validate). */
mmg_status mmg__config_check(const mmg_model_config *cfg);

/* The number of parameter floats the config needs; MMG_ERR_CONFIG on
 * overflow. The config must have passed the per-field checks. */
mmg_status mmg__config_n_params(const mmg_model_config *cfg, uint64_t *out);

/* Writes the JSON form of a full-size config into a new mmg__malloc'ed
 * string. MMG_ERR_CONFIG when a field has no JSON spelling (an enum out of
 * range, a flag other than 0/1, a non-finite layernorm_eps); no other
 * validation. */
mmg_status mmg__config_to_json(const mmg_model_config *cfg, char **out);

/* Applies the keys of the JSON object text (len bytes; trailing whitespace
 * and NULs allowed) to the full-size config *cfg, which keeps the fields the
 * text does not name; *cfg is unchanged on error. No validation across
 * fields. MMG_ERR_FORMAT: not one JSON object; MMG_ERR_CONFIG: an unknown or
 * repeated key, a value of the wrong type or outside its range (the message
 * names key and value). `prefix`, when not NULL, starts the message (e.g. the
 * file name). */
mmg_status mmg__config_parse_json(const char *json, size_t len, const char *prefix,
                                  mmg_model_config *cfg);

/* A file's config: defaults, then mmg__config_parse_json, then
 * mmg__config_check. Every failure is MMG_ERR_FORMAT with a message starting
 * "<where>: metadata "mmgen.config": " and naming the key or field. */
mmg_status mmg__config_from_json(const char *json, size_t len, const char *where,
                                 mmg_model_config *out);

/* The machine's physical memory in bytes (0 if unknown). */
uint64_t mmg__physical_memory(void);

#endif /* MMGEN_CORE_CONFIG_H */
