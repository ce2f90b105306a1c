/* cli/tokfile.c - tokenizers as JSON documents, in files and in model
 * metadata (see tokfile.h): the CLI's side of the library's one reader and
 * writer (mmg_tokenizer_to_json/_from_json), with its error printing. */
#include "tokfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "files.h"

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

/* Fills `out` around a tokenizer it takes over (freed on failure). */
static int adopt(mmg_tokenizer *tok, cli_tok *out) {
    const mmg_plugin *plugin = mmg_tokenizer_plugin(tok);
    const char *config = mmg_tokenizer_config(tok);
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
    mmg_plugin_close(plugin); /* the tokenizer keeps the module loaded */
    return adopt(tok, out);
}

char *tokfile_serialize(cli_tok *t) {
    char *json = NULL;
    if (mmg_tokenizer_to_json(t->tok, &json) != MMG_OK) {
        cli_fail("writing the '%s' tokenizer as JSON", t->plugin);
        return NULL;
    }
    char *copy = strdup(json); /* callers free() it; the library's buffer goes to mmg_free */
    mmg_free(json);
    if (!copy) cli_error("out of memory");
    return copy;
}

int tokfile_parse(const char *json, const char *where, cli_tok *out) {
    mmg_tokenizer *tok = NULL;
    if (mmg_tokenizer_from_json(json, strlen(json), &tok) != MMG_OK)
        return cli_fail("%s", where);
    return adopt(tok, out);
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

/* Parses the tokenizer text under `key` of model `path`. */
static int from_metadata(const char *json, const char *path, const char *key, cli_tok *out) {
    char where[700];
    snprintf(where, sizeof where, "the tokenizer \"%s\" in '%s'", key, path);
    return tokfile_parse(json, where, out);
}

int tokfile_from_model_key(const char *path, const char *key, cli_tok *out, int *found) {
    char *json = NULL;
    mmg_status s = mmg_model_file_metadata(path, key, &json);
    if (s == MMG_ERR_NOT_FOUND) {
        mmg_clear_error();
        *found = 0;
        return 0;
    }
    if (s) return cli_fail("reading the metadata of '%s'", path);
    *found = 1;
    int rc = from_metadata(json, path, key, out);
    mmg_free(json);
    return rc;
}

int tokfile_from_model(const char *path, cli_tok *out, int *found) {
    return tokfile_from_model_key(path, TOKFILE_METADATA_KEY, out, found);
}

int tokfile_from_loaded_model_key(const mmg_model *model, const char *key, const char *path,
                                  cli_tok *out, int *found) {
    const char *json = NULL;
    if (mmg_model_get_metadata(model, key, &json) != MMG_OK) {
        mmg_clear_error();
        *found = 0;
        return 0;
    }
    *found = 1;
    return from_metadata(json, path, key, out);
}

int tokfile_from_loaded_model(const mmg_model *model, const char *path, cli_tok *out, int *found) {
    return tokfile_from_loaded_model_key(model, TOKFILE_METADATA_KEY, path, out, found);
}

int tokfile_embed_key(mmg_model *model, const char *key, cli_tok *t) {
    if (mmg_model_set_tokenizer(model, key, t->tok) != MMG_OK)
        return cli_fail("storing the '%s' tokenizer in the model's metadata (\"%s\")", t->plugin, key);
    return 0;
}

int tokfile_embed(mmg_model *model, cli_tok *t) { return tokfile_embed_key(model, TOKFILE_METADATA_KEY, t); }

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
