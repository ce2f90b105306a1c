/* cli/tokfile.c - tokenizers as JSON documents, in files and in model
 * metadata (see tokfile.h). */
#include "tokfile.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "files.h"

#define FORMAT "mmgen-tokenizer"
#define VERSION 1

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const uint8_t *p, size_t n) {
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
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

/* Returns 0 and a malloc'ed buffer, or -1 for text that is not base64. */
static int base64_decode(const char *s, uint8_t **out, size_t *out_size) {
    size_t n = strlen(s);
    if (n % 4) return -1;
    uint8_t *buf = malloc(n / 4 * 3 + 1);
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
                free(buf);
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

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

int tokfile_create(const char *name_or_path, const char *config, cli_tok *out) {
    mmg_plugin *plugin = NULL;
    if (mmg_plugin_open(name_or_path, &plugin) != MMG_OK)
        return cli_fail("opening plugin '%s'", name_or_path);
    mmg_tokenizer *tok = NULL;
    if (mmg_tokenizer_create(plugin, config, &tok) != MMG_OK) {
        int rc = cli_fail("creating a '%s' tokenizer", mmg_plugin_name(plugin));
        mmg_plugin_close(plugin);
        return rc;
    }
    memset(out, 0, sizeof *out);
    out->tok = tok;
    out->plugin = strdup(mmg_plugin_name(plugin));
    out->config = dup_or_null(config);
    out->modality = mmg_plugin_modality(plugin);
    mmg_plugin_close(plugin); /* the tokenizer keeps the module loaded */
    if (!out->plugin || (config && *config && !out->config)) {
        tokfile_free(out);
        return cli_error("out of memory");
    }
    return 0;
}

char *tokfile_serialize(cli_tok *t) {
    uint8_t *state = NULL;
    size_t size = 0;
    if (mmg_tokenizer_save_state(t->tok, &state, &size) != MMG_OK) {
        cli_fail("saving the '%s' tokenizer's state", t->plugin);
        return NULL;
    }
    char *b64 = base64_encode(state, size);
    mmg_free(state);
    const mmg_plugin *p = mmg_tokenizer_plugin(t->tok);
    cJSON *root = cJSON_CreateObject();
    cJSON *cfg = t->config ? cJSON_Parse(t->config) : cJSON_CreateNull();
    char *text = NULL;
    if (root && b64 && cfg) {
        cJSON_AddStringToObject(root, "format", FORMAT);
        cJSON_AddNumberToObject(root, "version", VERSION);
        cJSON_AddStringToObject(root, "plugin", t->plugin);
        cJSON_AddStringToObject(root, "plugin_version", mmg_plugin_version(p));
        cJSON_AddStringToObject(root, "modality", mmg_modality_name(t->modality));
        cJSON_AddItemToObject(root, "config", cfg);
        cfg = NULL;
        cJSON_AddNumberToObject(root, "vocab_size", mmg_tokenizer_vocab_size(t->tok));
        cJSON_AddStringToObject(root, "state", b64);
        text = cJSON_Print(root);
    }
    cJSON_Delete(cfg);
    cJSON_Delete(root);
    free(b64);
    if (!text) cli_error("serializing the tokenizer: out of memory (or its config is not JSON)");
    return text;
}

/* Opens plugin `name`, creates a tokenizer with `config` (NULL for none)
 * and loads `state` into it; 0, or the failing step's status with
 * mmg_last_error() set (nothing printed). */
static mmg_status create_and_load(const char *name, const char *config, const uint8_t *state,
                                  size_t size, mmg_tokenizer **out, const mmg_plugin **plugin_out) {
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
    *plugin_out = mmg_tokenizer_plugin(tok);
    return MMG_OK;
}

/* A saved state is self-contained, so a tokenizer comes back from it even
 * when its config no longer works here (e.g. it names vocabulary files this
 * machine lacks): the config is tried first, for the settings that are not
 * state (an image plugin's png_compression), then no config at all. */
static int restore(const char *name, const char *config, const uint8_t *state, size_t size,
                   const char *where, cli_tok *out) {
    mmg_tokenizer *tok = NULL;
    const mmg_plugin *plugin = NULL;
    mmg_status s = create_and_load(name, config, state, size, &tok, &plugin);
    if (s && config) {
        char first[512];
        snprintf(first, sizeof first, "%s", mmg_last_error());
        s = create_and_load(name, NULL, state, size, &tok, &plugin);
        if (s) {
            fprintf(stderr, "mmgen: %s: with its config: %s\n", where, first);
            return cli_fail("%s: restoring the '%s' tokenizer from its state alone", where, name);
        }
        mmg_clear_error();
    } else if (s) {
        return cli_fail("%s: restoring the '%s' tokenizer's state", where, name);
    }
    memset(out, 0, sizeof *out);
    out->tok = tok;
    out->plugin = strdup(mmg_plugin_name(plugin));
    out->config = dup_or_null(config);
    out->modality = mmg_plugin_modality(plugin);
    if (!out->plugin || (config && *config && !out->config)) {
        tokfile_free(out);
        return cli_error("out of memory");
    }
    return 0;
}

int tokfile_parse(const char *json, const char *where, cli_tok *out) {
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return cli_error("%s: not a tokenizer file (expected the JSON written by `mmgen tokenizer "
                         "fit`)", where);
    }
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *plugin = cJSON_GetObjectItemCaseSensitive(root, "plugin");
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "state");
    int rc = 0;
    if (!cJSON_IsString(format) || strcmp(format->valuestring, FORMAT) != 0)
        rc = cli_error("%s: \"format\" is not \"%s\"; not a tokenizer file", where, FORMAT);
    else if (!cJSON_IsNumber(version) || version->valuedouble != VERSION)
        rc = cli_error("%s: tokenizer file version %g is not supported (this mmgen reads %d)", where,
                       cJSON_IsNumber(version) ? version->valuedouble : -1.0, VERSION);
    else if (!cJSON_IsString(plugin) || !plugin->valuestring[0])
        rc = cli_error("%s: \"plugin\" must be a plugin name", where);
    else if (!cJSON_IsString(state))
        rc = cli_error("%s: \"state\" must be a base64 string", where);
    char *cfg_text = NULL;
    if (!rc && config && !cJSON_IsNull(config) && !(cfg_text = cJSON_PrintUnformatted(config)))
        rc = cli_error("%s: out of memory", where);
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (!rc) {
        int b = base64_decode(state->valuestring, &bytes, &size);
        if (b == -1) rc = cli_error("%s: \"state\" is not valid base64", where);
        if (b == -2) rc = cli_error("%s: out of memory", where);
    }
    if (!rc) rc = restore(plugin->valuestring, cfg_text, bytes, size, where, out);
    free(bytes);
    cJSON_free(cfg_text);
    cJSON_Delete(root);
    return rc;
}

int tokfile_load(const char *path, const char *plugin, const char *config, cli_tok *out) {
    uint8_t *data;
    size_t size;
    if (files_read(path, &data, &size) != 0) return CLI_ERR;
    int rc;
    const char *p = (const char *)data;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    int found = 0;
    if (*p == '{' && !plugin) {
        rc = tokfile_parse((const char *)data, path, out);
    } else if (!plugin && size >= 9 && data[8] == '{') {
        /* a safetensors model file: its embedded tokenizer */
        rc = tokfile_from_model(path, out, &found);
        if (!rc && !found)
            rc = cli_error("model '%s' carries no tokenizer; give a tokenizer file", path);
    } else if (plugin) {
        /* a plugin's raw state, as mmg_tokenizer_save_state wrote it */
        rc = tokfile_create(plugin, config, out);
        if (!rc && mmg_tokenizer_load_state(out->tok, data, size) != MMG_OK) {
            rc = cli_fail("loading '%s' as a '%s' tokenizer state", path, plugin);
            tokfile_free(out);
        }
    } else {
        rc = cli_error("'%s' is not a tokenizer file written by `mmgen tokenizer fit`; for a "
                       "plugin's raw state add --plugin NAME", path);
    }
    free(data);
    return rc;
}

/* Parses the "mmgen.tokenizer" text of a model; `where` names it. */
static int from_metadata(const char *json, const char *path, cli_tok *out) {
    char where[512];
    snprintf(where, sizeof where, "the tokenizer in '%s'", path);
    return tokfile_parse(json, where, out);
}

int tokfile_from_model(const char *path, cli_tok *out, int *found) {
    char *json = NULL;
    mmg_status s = mmg_model_file_metadata(path, TOKFILE_METADATA_KEY, &json);
    if (s == MMG_ERR_NOT_FOUND) {
        mmg_clear_error();
        *found = 0;
        return 0;
    }
    if (s) return cli_fail("reading the metadata of '%s'", path);
    *found = 1;
    int rc = from_metadata(json, path, out);
    mmg_free(json);
    return rc;
}

int tokfile_from_loaded_model(const mmg_model *model, const char *path, cli_tok *out, int *found) {
    const char *json = NULL;
    if (mmg_model_get_metadata(model, TOKFILE_METADATA_KEY, &json) != MMG_OK) {
        mmg_clear_error();
        *found = 0;
        return 0;
    }
    *found = 1;
    return from_metadata(json, path, out);
}

int tokfile_embed(mmg_model *model, cli_tok *t) {
    char *json = tokfile_serialize(t);
    if (!json) return CLI_ERR;
    int rc = 0;
    if (mmg_model_set_metadata(model, TOKFILE_METADATA_KEY, json) != MMG_OK)
        rc = cli_fail("storing the tokenizer in the model's metadata");
    free(json);
    return rc;
}

int32_t tokfile_special(cli_tok *t, const char *name) {
    int32_t id = -1;
    if (mmg_tokenizer_special_token(t->tok, name, &id) != MMG_OK) {
        mmg_clear_error();
        return -1;
    }
    return id;
}

void tokfile_free(cli_tok *t) {
    if (!t) return;
    mmg_tokenizer_free(t->tok);
    free(t->plugin);
    free(t->config);
    memset(t, 0, sizeof *t);
}
