/* core/config.c - model config defaults, validation, parameter count and JSON. */
#include "config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "memory.h"
#include "options.h"

void mmg__config_defaults(mmg_model_config *c) {
    memset(c, 0, sizeof *c);
    c->struct_size = sizeof *c;
    c->vocab_size = 0;
    c->d_model = 512;
    c->n_heads = 8;
    c->n_encoder_layers = 6;
    c->n_decoder_layers = 6;
    c->d_ff = 2048;
    c->max_seq_len = 512;
    c->norm_placement = MMG_NORM_POST;
    c->final_norm = 1;
    c->activation = MMG_ACT_RELU;
    c->position_encoding = MMG_POS_SINUSOIDAL;
    c->tied_output = 1;
    c->bias = 1;
    c->scale_embeddings = 0;
    c->layernorm_eps = 1e-5f;
}

void mmg_model_config_init(mmg_model_config *config, size_t struct_size) {
    mmg_model_config d;
    mmg__config_defaults(&d);
    mmg__init_options(config, struct_size, &d, sizeof d);
}

uint64_t mmg__physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return 0;
    return (uint64_t)pages * (uint64_t)page;
}

/* Overflow-checked helpers over uint64 (parameter counts stay far below 2^64
 * for valid int32 fields, but layers * per-layer can still overflow). */
static int mul64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a != 0 && b > UINT64_MAX / a) return -1;
    *out = a * b;
    return 0;
}
static int add64(uint64_t a, uint64_t b, uint64_t *out) {
    if (b > UINT64_MAX - a) return -1;
    *out = a + b;
    return 0;
}

mmg_status mmg__config_n_params(const mmg_model_config *c, uint64_t *out) {
    uint64_t C = (uint64_t)c->d_model, V = (uint64_t)c->vocab_size, F = (uint64_t)c->d_ff,
             T = (uint64_t)c->max_seq_len, bias = c->bias ? 1 : 0;
    int has_enc = c->n_encoder_layers > 0;
    /* per layer: self-attention 3C*C + C*C (+ 3C + C biases), LN 2C each,
     * FFN 2*F*C (+ F + C); decoder layers of an encoder-decoder add a
     * cross-attention C*C + 2C*C + C*C (+ 4C) and its LN. All terms < 2^64
     * individually because the fields are int32; sums are checked. */
    uint64_t attn = 4 * C * C + bias * 4 * C;
    uint64_t ffn = 2 * F * C + bias * (F + C);
    uint64_t enc_layer = attn + ffn + 4 * C;
    uint64_t dec_layer = enc_layer + (has_enc ? attn + 2 * C : 0);
    uint64_t n = V * C, t;
    if (c->position_encoding == MMG_POS_LEARNED && add64(n, T * C, &n)) goto overflow;
    if (mul64(enc_layer, (uint64_t)c->n_encoder_layers, &t) || add64(n, t, &n)) goto overflow;
    if (mul64(dec_layer, (uint64_t)c->n_decoder_layers, &t) || add64(n, t, &n)) goto overflow;
    if (c->final_norm && add64(n, (has_enc ? 4 : 2) * C, &n)) goto overflow;
    if (!c->tied_output && add64(n, V * C, &n)) goto overflow;
    *out = n;
    return MMG_OK;
overflow:
    return mmg__error(MMG_ERR_CONFIG, "model config: the parameter count overflows 64 bits "
                      "(vocab_size %d, d_model %d, d_ff %d, %d+%d layers)",
                      c->vocab_size, c->d_model, c->d_ff, c->n_encoder_layers, c->n_decoder_layers);
}

mmg_status mmg__config_check(const mmg_model_config *c) {
#define POSITIVE(field)                                                                        \
    if (c->field <= 0)                                                                         \
        return mmg__error(MMG_ERR_CONFIG, "model config: " #field " is %d; it must be > 0",     \
                          (int)c->field);
    POSITIVE(vocab_size)
    POSITIVE(d_model)
    POSITIVE(n_heads)
    POSITIVE(n_decoder_layers)
    POSITIVE(d_ff)
    POSITIVE(max_seq_len)
#undef POSITIVE
    if (c->n_encoder_layers < 0)
        return mmg__error(MMG_ERR_CONFIG,
                          "model config: n_encoder_layers is %d; it must be >= 0 (0 = decoder-only)",
                          c->n_encoder_layers);
    if (c->d_model % c->n_heads != 0)
        return mmg__error(MMG_ERR_CONFIG,
                          "model config: n_heads %d does not divide d_model %d", c->n_heads,
                          c->d_model);
    if (c->norm_placement != MMG_NORM_POST && c->norm_placement != MMG_NORM_PRE)
        return mmg__error(MMG_ERR_CONFIG,
                          "model config: norm_placement is %d; expected 0 (post) or 1 (pre)",
                          c->norm_placement);
    if (c->activation < MMG_ACT_RELU || c->activation > MMG_ACT_GELU_TANH)
        return mmg__error(MMG_ERR_CONFIG,
                          "model config: activation is %d; expected 0 (relu), 1 (gelu) or "
                          "2 (gelu_tanh)", c->activation);
    if (c->position_encoding < MMG_POS_SINUSOIDAL || c->position_encoding > MMG_POS_NONE)
        return mmg__error(MMG_ERR_CONFIG,
                          "model config: position_encoding is %d; expected 0 (sinusoidal), "
                          "1 (learned) or 2 (none)", c->position_encoding);
#define FLAG(field)                                                                            \
    if (c->field != 0 && c->field != 1)                                                        \
        return mmg__error(MMG_ERR_CONFIG, "model config: " #field " is %d; expected 0 or 1",    \
                          (int)c->field);
    FLAG(final_norm)
    FLAG(tied_output)
    FLAG(bias)
    FLAG(scale_embeddings)
#undef FLAG
    if (!(c->layernorm_eps > 0.0f) || !isfinite(c->layernorm_eps))
        return mmg__error(MMG_ERR_CONFIG,
                          "model config: layernorm_eps is %g; it must be finite and > 0",
                          (double)c->layernorm_eps);
    uint64_t n;
    mmg_status s = mmg__config_n_params(c, &n);
    if (s) return s;
    /* Floats must be addressable: n * 4 bytes within size_t. */
    if (n > (uint64_t)(SIZE_MAX / sizeof(float)))
        return mmg__error(MMG_ERR_CONFIG,
                          "model config: %llu parameters do not fit in this address space",
                          (unsigned long long)n);
    return MMG_OK;
}

mmg_status mmg__config_read(const mmg_model_config *user, mmg_model_config *out) {
    if (!user) return mmg__error(MMG_ERR_INVALID_ARG, "model config is NULL");
    mmg_model_config c;
    mmg__config_defaults(&c);
    mmg_status s = mmg__read_options(&c, sizeof c, user, "mmg_model_config");
    if (s) return s;
    s = mmg__config_check(&c);
    if (s) return s;
    *out = c;
    return MMG_OK;
}

mmg_status mmg_model_config_validate(const mmg_model_config *config) {
    mmg_model_config c;
    return mmg__config_read(config, &c);
}

/* ---- JSON ------------------------------------------------------------------------ */

static const char *norm_names[] = {"post", "pre"};
static const char *act_names[] = {"relu", "gelu", "gelu_tanh"};
static const char *pos_names[] = {"sinusoidal", "learned", "none"};

mmg_status mmg__config_to_json(const mmg_model_config *c, char **out) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf,
                     "{\"vocab_size\": %d, \"d_model\": %d, \"n_heads\": %d, "
                     "\"n_encoder_layers\": %d, \"n_decoder_layers\": %d, \"d_ff\": %d, "
                     "\"max_seq_len\": %d, \"norm_placement\": \"%s\", \"final_norm\": %s, "
                     "\"activation\": \"%s\", \"position_encoding\": \"%s\", "
                     "\"tied_output\": %s, \"bias\": %s, \"scale_embeddings\": %s, "
                     "\"layernorm_eps\": %.9g}",
                     c->vocab_size, c->d_model, c->n_heads, c->n_encoder_layers,
                     c->n_decoder_layers, c->d_ff, c->max_seq_len,
                     norm_names[c->norm_placement], c->final_norm ? "true" : "false",
                     act_names[c->activation], pos_names[c->position_encoding],
                     c->tied_output ? "true" : "false", c->bias ? "true" : "false",
                     c->scale_embeddings ? "true" : "false", (double)c->layernorm_eps);
    if (n < 0 || (size_t)n >= sizeof buf)
        return mmg__error(MMG_ERR_INTERNAL, "model config JSON does not fit %zu bytes", sizeof buf);
    char *s = mmg__strdup(buf);
    if (!s) return mmg__error(MMG_ERR_NOMEM, "out of memory writing the model config JSON");
    *out = s;
    return MMG_OK;
}

static mmg_status json_int(const cJSON *root, const char *where, const char *name, int32_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!it)
        return mmg__error(MMG_ERR_FORMAT, "%s: model config: field \"%s\" is missing", where, name);
    double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    if (!cJSON_IsNumber(it) || v != floor(v) || v < -2147483648.0 || v > 2147483647.0)
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: model config: field \"%s\" must be an integer in int32 range",
                          where, name);
    *out = (int32_t)v;
    return MMG_OK;
}

static mmg_status json_bool(const cJSON *root, const char *where, const char *name, int32_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!it)
        return mmg__error(MMG_ERR_FORMAT, "%s: model config: field \"%s\" is missing", where, name);
    if (!cJSON_IsBool(it))
        return mmg__error(MMG_ERR_FORMAT, "%s: model config: field \"%s\" must be true or false",
                          where, name);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return MMG_OK;
}

static mmg_status json_enum(const cJSON *root, const char *where, const char *name,
                            const char *const *names, int n_names, int32_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!it)
        return mmg__error(MMG_ERR_FORMAT, "%s: model config: field \"%s\" is missing", where, name);
    if (cJSON_IsString(it))
        for (int i = 0; i < n_names; i++)
            if (strcmp(it->valuestring, names[i]) == 0) {
                *out = i;
                return MMG_OK;
            }
    char allowed[128] = "";
    for (int i = 0; i < n_names; i++) {
        strncat(allowed, i ? ", \"" : "\"", sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, names[i], sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, "\"", sizeof allowed - strlen(allowed) - 1);
    }
    return mmg__error(MMG_ERR_FORMAT, "%s: model config: field \"%s\" must be one of %s", where,
                      name, allowed);
}

mmg_status mmg__config_from_json(const char *json, size_t len, const char *where,
                                 mmg_model_config *out) {
    if (!where) where = "<config>";
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mmg__error(MMG_ERR_FORMAT, "%s: model config (metadata \"%s\") is not a JSON object",
                          where, MMG__CONFIG_KEY);
    }
    mmg_model_config c;
    mmg__config_defaults(&c);
    mmg_status s = MMG_OK;
    if (!s) s = json_int(root, where, "vocab_size", &c.vocab_size);
    if (!s) s = json_int(root, where, "d_model", &c.d_model);
    if (!s) s = json_int(root, where, "n_heads", &c.n_heads);
    if (!s) s = json_int(root, where, "n_encoder_layers", &c.n_encoder_layers);
    if (!s) s = json_int(root, where, "n_decoder_layers", &c.n_decoder_layers);
    if (!s) s = json_int(root, where, "d_ff", &c.d_ff);
    if (!s) s = json_int(root, where, "max_seq_len", &c.max_seq_len);
    if (!s) s = json_enum(root, where, "norm_placement", norm_names, 2, &c.norm_placement);
    if (!s) s = json_bool(root, where, "final_norm", &c.final_norm);
    if (!s) s = json_enum(root, where, "activation", act_names, 3, &c.activation);
    if (!s) s = json_enum(root, where, "position_encoding", pos_names, 3, &c.position_encoding);
    if (!s) s = json_bool(root, where, "tied_output", &c.tied_output);
    if (!s) s = json_bool(root, where, "bias", &c.bias);
    if (!s) s = json_bool(root, where, "scale_embeddings", &c.scale_embeddings);
    if (!s) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "layernorm_eps");
        if (!it)
            s = mmg__error(MMG_ERR_FORMAT, "%s: model config: field \"layernorm_eps\" is missing",
                           where);
        else if (!cJSON_IsNumber(it))
            s = mmg__error(MMG_ERR_FORMAT,
                           "%s: model config: field \"layernorm_eps\" must be a number", where);
        else
            c.layernorm_eps = (float)it->valuedouble;
    }
    cJSON_Delete(root);
    if (s) return s;
    s = mmg__config_check(&c);
    if (s) {
        /* An inconsistent config in a file is a format error naming the file. */
        mmg__error_prefix("%s", where);
        return mmg__error(MMG_ERR_FORMAT, "%s", mmg_last_error());
    }
    *out = c;
    return MMG_OK;
}
