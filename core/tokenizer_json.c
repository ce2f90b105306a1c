/* core/tokenizer_json.c - a tokenizer as one self-contained JSON document
 * (its plugin, config and base64 saved state), and the tokenizers a model
 * file carries in its metadata: the target tokenizer under "mmgen.tokenizer",
 * the source tokenizer of a cross-modal encoder-decoder under
 * "mmgen.source_tokenizer", and the offset that moves source ids past the
 * target vocabulary (mmgen/tokenizer.h, ABI.md). `mmgen tokenizer fit`
 * writes the same document to a file, so bindings, the CLI and model files
 * share one reader and writer. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "memory.h"
#include "mmgen/memory.h"
#include "mmgen/model.h"
#include "mmgen/tokenizer.h"
#include "tokenizer-impl.h"

#define DOC_FORMAT "mmgen-tokenizer"
#define DOC_VERSION 1

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* NULL when out of memory. */
static char *base64_encode(const uint8_t *p, size_t n) {
    char *out = mmg__malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = B64[v >> 18], *o++ = B64[(v >> 12) & 63], *o++ = B64[(v >> 6) & 63], *o++ = B64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = B64[v >> 18], *o++ = B64[(v >> 12) & 63];
        *o++ = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    return out;
}

/* 0 and an mmg__malloc'ed buffer; -1 for text that is not base64 (padding
 * only at the very end); -2 when out of memory. */
static int base64_decode(const char *s, uint8_t **out, size_t *out_size) {
    size_t n = strlen(s);
    if (n % 4) return -1;
    uint8_t *buf = mmg__malloc(n / 4 * 3 + 1);
    if (!buf) return -2;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = s[i + j];
            const char *at = c ? strchr(B64, c) : NULL;
            if (c == '=' && i + 4 == n && j >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!at || pad) {
                mmg__free(buf);
                return -1;
            }
            v = v << 6 | (uint32_t)(at - B64);
        }
        buf[k++] = (uint8_t)(v >> 16);
        if (pad < 2) buf[k++] = (uint8_t)(v >> 8);
        if (pad < 1) buf[k++] = (uint8_t)v;
    }
    *out = buf;
    *out_size = k;
    return 0;
}

mmg_status mmg_tokenizer_to_json(mmg_tokenizer *tokenizer, char **out_json) {
    if (!tokenizer || !out_json)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_tokenizer_to_json: NULL tokenizer or out_json");
    const mmg_plugin *p = mmg_tokenizer_plugin(tokenizer);
    const char *config = mmg_tokenizer_config(tokenizer);
    cJSON *cfg = config ? cJSON_Parse(config) : cJSON_CreateNull();
    if (!cfg && config)
        return mmg__error(MMG_ERR_CONFIG,
                          "mmg_tokenizer_to_json: the '%s' tokenizer's config is not JSON: %.64s",
                          mmg_plugin_name(p), config);
    uint8_t *state = NULL;
    size_t size = 0;
    mmg_status s = cfg ? mmg_tokenizer_save_state(tokenizer, &state, &size) : MMG_ERR_NOMEM;
    char *b64 = s == MMG_OK ? base64_encode(state, size) : NULL;
    mmg_free(state);
    cJSON *root = s == MMG_OK && b64 ? cJSON_CreateObject() : NULL;
    char *text = NULL;
    if (root) {
        int ok = cJSON_AddStringToObject(root, "format", DOC_FORMAT) &&
                 cJSON_AddNumberToObject(root, "version", DOC_VERSION) &&
                 cJSON_AddStringToObject(root, "plugin", mmg_plugin_name(p)) &&
                 cJSON_AddStringToObject(root, "plugin_version", mmg_plugin_version(p)) &&
                 cJSON_AddStringToObject(root, "modality", mmg_modality_name(mmg_plugin_modality(p)));
        if (ok && cJSON_AddItemToObject(root, "config", cfg)) cfg = NULL; /* root owns it now */
        else ok = 0;
        ok = ok && cJSON_AddNumberToObject(root, "vocab_size", mmg_tokenizer_vocab_size(tokenizer)) &&
             cJSON_AddStringToObject(root, "state", b64);
        if (ok) text = cJSON_Print(root);
    }
    cJSON_Delete(cfg);
    cJSON_Delete(root);
    mmg__free(b64);
    if (s != MMG_OK && s != MMG_ERR_NOMEM) return s; /* save_state's own error */
    char *copy = text ? mmg__strdup(text) : NULL; /* released with mmg_free, not cJSON's free */
    cJSON_free(text);
    if (!copy)
        return mmg__error(MMG_ERR_NOMEM, "out of memory writing the '%s' tokenizer as JSON",
                          mmg_plugin_name(p));
    *out_json = copy;
    return MMG_OK;
}

/* Opens plugin `name`, creates a tokenizer with `config` (NULL: defaults)
 * and loads `state` into it. */
static mmg_status create_and_load(const char *name, const char *config, const uint8_t *state,
                                  size_t size, mmg_tokenizer **out) {
    mmg_plugin *plugin = NULL;
    mmg_status s = mmg_plugin_open(name, &plugin);
    if (s) return s;
    mmg_tokenizer *tok = NULL;
    s = mmg_tokenizer_create(plugin, config, &tok);
    if (!s) s = mmg_tokenizer_load_state(tok, state, size);
    mmg_plugin_close(plugin); /* the tokenizer keeps the module loaded */
    if (s) {
        mmg_tokenizer_free(tok);
        return s;
    }
    *out = tok;
    return MMG_OK;
}

/* A plugin name as the search path resolves it (mmgen-NAME.so), never a
 * path: mmg_plugin_open opens a name with a '/' as a file. */
static int is_plugin_name(const char *name) {
    if (!name[0] || name[0] == '.') return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-' || *c == '.'))
            return 0;
    return 1;
}

/* The config first, for the settings that are not state (an image plugin's
 * png_compression); then, since a saved state is self-contained, none. */
static mmg_status restore(const char *name, const char *config, const uint8_t *state, size_t size,
                          mmg_tokenizer **out) {
    mmg_tokenizer *tok = NULL;
    mmg_status s = create_and_load(name, config, state, size, &tok);
    /* no plugin, no memory, or nothing to leave out: no second try */
    if (s == MMG_ERR_NOT_FOUND || s == MMG_ERR_ABI || s == MMG_ERR_NOMEM || (s && !config)) return s;
    if (s) {
        char first[MMG__ERROR_MAX];
        snprintf(first, sizeof first, "%s", mmg_last_error());
        mmg_status s2 = create_and_load(name, NULL, state, size, &tok);
        if (s2)
            return mmg__error(s2, "restoring the '%s' tokenizer from its state alone: %s (with its "
                                  "config: %s)", name, mmg_last_error(), first);
        mmg__log(MMG_LOG_INFO, "the '%s' tokenizer was restored from its state alone; its config "
                               "failed here: %s", name, first);
        s = mmg__tokenizer_keep_config(tok, config);
        if (s) {
            mmg_tokenizer_free(tok);
            return s;
        }
    }
    *out = tok;
    return MMG_OK;
}

mmg_status mmg_tokenizer_from_json(const char *json, size_t len, mmg_tokenizer **out_tokenizer) {
    if (!json || !out_tokenizer)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_tokenizer_from_json: NULL json or out_tokenizer");
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mmg__error(MMG_ERR_FORMAT, "not a tokenizer document (expected the JSON object "
                                          "`mmgen tokenizer fit` writes)");
    }
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *plugin = cJSON_GetObjectItemCaseSensitive(root, "plugin");
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "state");
    mmg_status s = MMG_OK;
    if (!cJSON_IsString(format) || strcmp(format->valuestring, DOC_FORMAT) != 0)
        s = mmg__error(MMG_ERR_FORMAT, "\"format\" is not \"%s\"; not a tokenizer document", DOC_FORMAT);
    else if (!cJSON_IsNumber(version) || version->valuedouble != DOC_VERSION)
        s = mmg__error(MMG_ERR_UNSUPPORTED, "tokenizer document version %g is not supported (this "
                                            "mmgen reads %d)",
                       cJSON_IsNumber(version) ? version->valuedouble : -1.0, DOC_VERSION);
    else if (!cJSON_IsString(plugin) || !is_plugin_name(plugin->valuestring))
        s = mmg__error(MMG_ERR_FORMAT, "tokenizer document: \"plugin\" must be a plugin name (letters, digits, "
                                       "'_', '-', '.'), not a path: a document comes from files such as "
                                       "downloaded models, and a path would make them load any shared object");
    else if (!cJSON_IsString(state))
        s = mmg__error(MMG_ERR_FORMAT, "tokenizer document: \"state\" must be a base64 string");
    char *cfg_text = NULL;
    if (!s && config && !cJSON_IsNull(config) && !(cfg_text = cJSON_PrintUnformatted(config)))
        s = mmg__error(MMG_ERR_NOMEM, "out of memory reading a tokenizer document");
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (!s) {
        int b = base64_decode(state->valuestring, &bytes, &size);
        if (b == -1) s = mmg__error(MMG_ERR_FORMAT, "tokenizer document: \"state\" is not valid base64");
        if (b == -2) s = mmg__error(MMG_ERR_NOMEM, "out of memory reading a tokenizer document");
    }
    if (!s) s = restore(plugin->valuestring, cfg_text, bytes, size, out_tokenizer);
    mmg__free(bytes);
    cJSON_free(cfg_text);
    cJSON_Delete(root);
    return s;
}

/* The value of metadata `key`, or NULL; unlike mmg_model_get_metadata it
 * leaves the last error alone when the key is absent, which is no error
 * here. */
static const char *find_metadata(const mmg_model *model, const char *key) {
    const char *value = NULL;
    for (size_t i = 0, n = mmg_model_metadata_count(model); i < n; i++) {
        const char *k = mmg_model_metadata_key_at(model, i);
        if (k && strcmp(k, key) == 0 && mmg_model_get_metadata(model, key, &value) == MMG_OK) return value;
    }
    return NULL;
}

mmg_status mmg_model_tokenizer(const mmg_model *model, const char *key, mmg_tokenizer **out_tokenizer) {
    if (!model || !out_tokenizer)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_tokenizer: NULL model or out_tokenizer");
    if (!key) key = MMG_METADATA_TOKENIZER;
    const char *json = find_metadata(model, key);
    if (!json)
        return mmg__error(MMG_ERR_NOT_FOUND, "the model carries no tokenizer under \"%.64s\"", key);
    mmg_status s = mmg_tokenizer_from_json(json, strlen(json), out_tokenizer);
    if (s) mmg__error_prefix("the model's tokenizer \"%.64s\"", key);
    return s;
}

mmg_status mmg_model_set_tokenizer(mmg_model *model, const char *key, mmg_tokenizer *tokenizer) {
    if (!model || !tokenizer)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_set_tokenizer: NULL model or tokenizer");
    char *json = NULL;
    mmg_status s = mmg_tokenizer_to_json(tokenizer, &json);
    if (!s) s = mmg_model_set_metadata(model, key ? key : MMG_METADATA_TOKENIZER, json);
    mmg_free(json);
    return s;
}

mmg_status mmg_model_source_id_offset(const mmg_model *model, int32_t *out_offset) {
    if (!model || !out_offset)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_source_id_offset: NULL model or out_offset");
    const char *text = find_metadata(model, MMG_METADATA_SOURCE_ID_OFFSET);
    if (!text) {
        *out_offset = 0;
        return MMG_OK;
    }
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    mmg_model_get_config(model, &c);
    /* digits only: no sign, no spaces, no hex, as the writers spell it */
    long long v = 0;
    size_t n = strlen(text);
    int ok = n > 0 && n <= 10;
    for (size_t i = 0; ok && i < n; i++) {
        ok = text[i] >= '0' && text[i] <= '9';
        v = v * 10 + (text[i] - '0');
    }
    if (!ok || v >= c.vocab_size)
        return mmg__error(MMG_ERR_FORMAT, "model metadata \"%s\" is \"%.32s\"; expected a decimal "
                                          "integer in [0, %d), the model's vocabulary",
                          MMG_METADATA_SOURCE_ID_OFFSET, text, (int)c.vocab_size);
    *out_offset = (int32_t)v;
    return MMG_OK;
}
