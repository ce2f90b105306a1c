/* core/config.c - model config defaults, validation, parameter count and the
 * JSON form (the one reader and writer behind model files, checkpoints and
 * mmg_model_config_to_json/_from_json). */
#include "config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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
    c->norm_bias = 1;
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
    uint64_t ln = c->norm_bias ? 2 * C : C; /* one LayerNorm: weight (+ bias) */
    int has_enc = c->n_encoder_layers > 0;
    /* per layer: self-attention 3C*C + C*C (+ 3C + C biases), two LNs,
     * FFN 2*F*C (+ F + C); decoder layers of an encoder-decoder add a
     * cross-attention C*C + 2C*C + C*C (+ 4C) and its LN. All terms < 2^64
     * individually because the fields are int32; sums are checked. */
    uint64_t attn = 4 * C * C + bias * 4 * C;
    uint64_t ffn = 2 * F * C + bias * (F + C);
    uint64_t enc_layer = attn + ffn + 2 * ln;
    uint64_t dec_layer = enc_layer + (has_enc ? attn + ln : 0);
    uint64_t n = V * C, t;
    if (c->position_encoding == MMG_POS_LEARNED && add64(n, T * C, &n)) goto overflow;
    if (mul64(enc_layer, (uint64_t)c->n_encoder_layers, &t) || add64(n, t, &n)) goto overflow;
    if (mul64(dec_layer, (uint64_t)c->n_decoder_layers, &t) || add64(n, t, &n)) goto overflow;
    if (c->final_norm && add64(n, (has_enc ? 2 : 1) * ln, &n)) goto overflow;
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
    FLAG(norm_bias)
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

/* ---- JSON ------------------------------------------------------------------------
 *
 * One key table serves the writer and the reader, for model files (their
 * "mmgen.config" metadata), checkpoints and the public
 * mmg_model_config_to_json/_from_json. A key is added here when the config
 * grows; files without it keep the default. */

typedef enum key_kind { K_INT, K_BOOL, K_ENUM, K_FLOAT } key_kind;

typedef struct key_spec {
    const char *name;
    key_kind kind;
    size_t offset;             /* of the int32_t (or float) field */
    const char *const *names;  /* K_ENUM: the spellings of 0, 1, ... */
    int n_names;
} key_spec;

static const char *const norm_names[] = {"post", "pre"};
static const char *const act_names[] = {"relu", "gelu", "gelu_tanh"};
static const char *const pos_names[] = {"sinusoidal", "learned", "none"};

#define OFF(f) offsetof(mmg_model_config, f)
static const key_spec KEYS[] = {
    {"vocab_size", K_INT, OFF(vocab_size), NULL, 0},
    {"d_model", K_INT, OFF(d_model), NULL, 0},
    {"n_heads", K_INT, OFF(n_heads), NULL, 0},
    {"n_encoder_layers", K_INT, OFF(n_encoder_layers), NULL, 0},
    {"n_decoder_layers", K_INT, OFF(n_decoder_layers), NULL, 0},
    {"d_ff", K_INT, OFF(d_ff), NULL, 0},
    {"max_seq_len", K_INT, OFF(max_seq_len), NULL, 0},
    {"norm_placement", K_ENUM, OFF(norm_placement), norm_names, 2},
    {"final_norm", K_BOOL, OFF(final_norm), NULL, 0},
    {"activation", K_ENUM, OFF(activation), act_names, 3},
    {"position_encoding", K_ENUM, OFF(position_encoding), pos_names, 3},
    {"tied_output", K_BOOL, OFF(tied_output), NULL, 0},
    {"bias", K_BOOL, OFF(bias), NULL, 0},
    {"scale_embeddings", K_BOOL, OFF(scale_embeddings), NULL, 0},
    {"layernorm_eps", K_FLOAT, OFF(layernorm_eps), NULL, 0},
    {"norm_bias", K_BOOL, OFF(norm_bias), NULL, 0},
};
#undef OFF
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])
/* The parser marks seen keys in a 32-bit mask. */
_Static_assert(N_KEYS <= 32, "too many config keys for the seen-mask");

static int32_t *int_field(mmg_model_config *c, const key_spec *k) {
    return (int32_t *)(void *)((char *)c + k->offset);
}
static int32_t int_value(const mmg_model_config *c, const key_spec *k) {
    int32_t v;
    memcpy(&v, (const char *)c + k->offset, sizeof v);
    return v;
}

/* "\"relu\", \"gelu\" or \"gelu_tanh\"" into buf. */
static void list_names(const key_spec *k, char *buf, size_t n) {
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < k->n_names && at < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == k->n_names ? " or " : ", ";
        int w = snprintf(buf + at, n - at, "%s\"%s\"", sep, k->names[i]);
        if (w < 0) break;
        at += (size_t)w;
    }
}

/* The shortest decimal that reads back as the same float ("1e-05", not
 * "9.99999975e-06"). */
static void format_float(float f, char *buf, size_t n) {
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, n, "%.*g", digits, (double)f);
        if (strtof(buf, NULL) == f) return;
    }
}

mmg_status mmg__config_to_json(const mmg_model_config *c, char **out) {
    char buf[1024];
    size_t at = 0;
    buf[at++] = '{';
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_spec *k = &KEYS[i];
        char value[64];
        if (k->kind == K_FLOAT) {
            float f;
            memcpy(&f, (const char *)c + k->offset, sizeof f);
            /* JSON has no spelling for infinities and NaN. */
            if (!isfinite(f))
                return mmg__error(MMG_ERR_CONFIG, "model config: %s is %g; it must be finite", k->name,
                                  (double)f);
            format_float(f, value, sizeof value);
        } else {
            int32_t v = int_value(c, k);
            if (k->kind == K_INT) {
                snprintf(value, sizeof value, "%d", (int)v);
            } else if (k->kind == K_BOOL) {
                if (v != 0 && v != 1)
                    return mmg__error(MMG_ERR_CONFIG, "model config: %s is %d; expected 0 or 1",
                                      k->name, (int)v);
                snprintf(value, sizeof value, "%s", v ? "true" : "false");
            } else {
                if (v < 0 || v >= k->n_names) {
                    char names[128];
                    list_names(k, names, sizeof names);
                    return mmg__error(MMG_ERR_CONFIG,
                                      "model config: %s is %d; expected 0..%d (%s)", k->name,
                                      (int)v, k->n_names - 1, names);
                }
                snprintf(value, sizeof value, "\"%s\"", k->names[v]);
            }
        }
        int w = snprintf(buf + at, sizeof buf - at, "%s\"%s\": %s", i ? ", " : "", k->name, value);
        if (w < 0 || (size_t)w >= sizeof buf - at)
            return mmg__error(MMG_ERR_INTERNAL, "model config JSON does not fit %zu bytes", sizeof buf);
        at += (size_t)w;
    }
    if (at + 2 > sizeof buf)
        return mmg__error(MMG_ERR_INTERNAL, "model config JSON does not fit %zu bytes", sizeof buf);
    buf[at++] = '}';
    buf[at] = 0;
    char *s = mmg__strdup(buf);
    if (!s) return mmg__error(MMG_ERR_NOMEM, "out of memory writing the model config JSON");
    *out = s;
    return MMG_OK;
}

/* A short rendering of a JSON value for messages: at most ~48 bytes. */
static void describe_value(const cJSON *v, char *buf, size_t n) {
    char *text = cJSON_PrintUnformatted(v);
    if (!text) {
        snprintf(buf, n, "(a JSON value)");
        return;
    }
    if (strlen(text) > 48) snprintf(buf, n, "%.45s...", text);
    else snprintf(buf, n, "%s", text);
    cJSON_free(text);
}

/* Applies one entry to *c. MMG_ERR_CONFIG names the key and the value. */
static mmg_status apply_key(const key_spec *k, const cJSON *v, const char *prefix,
                            mmg_model_config *c) {
    char shown[64];
    switch (k->kind) {
    case K_INT: {
        double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (cJSON_IsNumber(v) && d == floor(d) && d >= -2147483648.0 && d <= 2147483647.0) {
            *int_field(c, k) = (int32_t)d;
            return MMG_OK;
        }
        describe_value(v, shown, sizeof shown);
        return mmg__error(MMG_ERR_CONFIG, "%smodel config: \"%s\" is %s; expected an integer "
                          "(int32)", prefix, k->name, shown);
    }
    case K_BOOL:
        if (cJSON_IsBool(v)) {
            *int_field(c, k) = cJSON_IsTrue(v) ? 1 : 0;
            return MMG_OK;
        }
        describe_value(v, shown, sizeof shown);
        return mmg__error(MMG_ERR_CONFIG, "%smodel config: \"%s\" is %s; expected true or false",
                          prefix, k->name, shown);
    case K_ENUM:
        if (cJSON_IsString(v))
            for (int i = 0; i < k->n_names; i++)
                if (strcmp(v->valuestring, k->names[i]) == 0) {
                    *int_field(c, k) = i;
                    return MMG_OK;
                }
        {
            char names[128];
            list_names(k, names, sizeof names);
            describe_value(v, shown, sizeof shown);
            return mmg__error(MMG_ERR_CONFIG, "%smodel config: \"%s\" is %s; expected %s", prefix,
                              k->name, shown, names);
        }
    case K_FLOAT: {
        float f = cJSON_IsNumber(v) ? (float)v->valuedouble : NAN;
        if (isfinite(f)) {
            memcpy((char *)c + k->offset, &f, sizeof f);
            return MMG_OK;
        }
        describe_value(v, shown, sizeof shown);
        return mmg__error(MMG_ERR_CONFIG, "%smodel config: \"%s\" is %s; expected a finite number",
                          prefix, k->name, shown);
    }
    }
    return mmg__error(MMG_ERR_INTERNAL, "model config: bad key table");
}

mmg_status mmg__config_parse_json(const char *json, size_t len, const char *where,
                                  mmg_model_config *c) {
    /* `where` starts messages: "file.safetensors: ..." or nothing. */
    char prefix[700] = "";
    if (where) snprintf(prefix, sizeof prefix, "%s: ", where);
    if (!json) return mmg__error(MMG_ERR_INVALID_ARG, "%smodel config: the JSON text is NULL", prefix);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    /* Only whitespace (or NULs) may follow the object. */
    size_t at = end ? (size_t)(end - json) : 0;
    int trailing = 0;
    for (size_t i = at; root && i < len && !trailing; i++)
        trailing = !(json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r' ||
                     json[i] == 0);
    if (!root || !cJSON_IsObject(root) || trailing) {
        cJSON_Delete(root);
        if (!root)
            return mmg__error(MMG_ERR_FORMAT, "%smodel config: not valid JSON (near byte %zu of %zu)",
                              prefix, at, len);
        return mmg__error(MMG_ERR_FORMAT, "%smodel config: expected one JSON object %s", prefix,
                          trailing ? "and nothing after it" : "{\"key\": value, ...}");
    }
    mmg_model_config tmp = *c;
    unsigned seen = 0;
    mmg_status s = MMG_OK;
    for (const cJSON *e = root->child; e && !s; e = e->next) {
        size_t i = 0;
        while (i < N_KEYS && strcmp(KEYS[i].name, e->string) != 0) i++;
        if (i == N_KEYS) {
            char known[400];
            size_t k = 0;
            known[0] = 0;
            for (size_t j = 0; j < N_KEYS && k < sizeof known; j++) {
                int w = snprintf(known + k, sizeof known - k, "%s%s", j ? ", " : "", KEYS[j].name);
                if (w < 0) break;
                k += (size_t)w;
            }
            s = mmg__error(MMG_ERR_CONFIG, "%smodel config: unknown key \"%.64s\" (known: %s)",
                           prefix, e->string, known);
        } else if (seen & (1u << i)) {
            s = mmg__error(MMG_ERR_CONFIG, "%smodel config: key \"%s\" appears twice", prefix,
                           KEYS[i].name);
        } else {
            seen |= 1u << i;
            s = apply_key(&KEYS[i], e, prefix, &tmp);
        }
    }
    cJSON_Delete(root);
    if (!s) *c = tmp;
    return s;
}

mmg_status mmg__config_from_json(const char *json, size_t len, const char *where,
                                 mmg_model_config *out) {
    char ctx[600];
    snprintf(ctx, sizeof ctx, "%s: metadata \"%s\"", where ? where : "<config>", MMG__CONFIG_KEY);
    mmg_model_config c;
    mmg__config_defaults(&c);
    mmg_status s = mmg__config_parse_json(json, len, ctx, &c);
    if (s == MMG_OK) {
        s = mmg__config_check(&c);
        if (s) mmg__error_prefix("%s", ctx);
    }
    /* Whatever is wrong with the config of a file is a format error naming it. */
    if (s) return mmg__error(MMG_ERR_FORMAT, "%s", mmg_last_error());
    *out = c;
    return MMG_OK;
}

/* ---- public JSON ------------------------------------------------------------------ */

mmg_status mmg_model_config_to_json(const mmg_model_config *config, char **out_json) {
    if (!config) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_config_to_json: config is NULL");
    if (!out_json)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_config_to_json: out_json is NULL");
    mmg_model_config c;
    mmg__config_defaults(&c);
    mmg_status s = mmg__read_options(&c, sizeof c, config, "mmg_model_config");
    if (s) return s;
    return mmg__config_to_json(&c, out_json);
}

mmg_status mmg_model_config_from_json(const char *json, size_t len, mmg_model_config *out) {
    if (!out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_config_from_json: out is NULL");
    size_t size;
    memcpy(&size, out, sizeof size);
    if (size < sizeof(size_t))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_model_config.struct_size is %zu; set it with mmg_model_config_init",
                          size);
    mmg_model_config c;
    mmg__config_defaults(&c);
    mmg_status s = mmg__config_parse_json(json, len, NULL, &c);
    if (s) return s;
    size_t n = size < sizeof c ? size : sizeof c;
    memcpy((char *)out + sizeof(size_t), (const char *)&c + sizeof(size_t), n - sizeof(size_t));
    return MMG_OK;
}
