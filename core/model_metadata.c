/* core/model_metadata.c - a model's string metadata: what an application
 * stores beside the weights (a tokenizer's state, a description, a licence),
 * saved into the safetensors __metadata__ by mmg_model_save and restored by
 * mmg_model_load, so one file carries everything a model needs. Also reads
 * one metadata entry of a file without loading its weights.
 *
 * Entries live in a small array in the order keys were first set; key and
 * value are separate copies, so removing or replacing one entry never moves
 * the strings of the others (their pointers stay valid). */
#include <string.h>

#include "config.h"
#include "error.h"
#include "memory.h"
#include "model-impl.h"
#include "safetensors.h"

int mmg__model_meta_reserved(const char *key) {
    return strcmp(key, MMG__FORMAT_KEY) == 0 || strcmp(key, MMG__CONFIG_KEY) == 0 ||
           strcmp(key, MMG__QUANT_KEY) == 0;
}

void mmg__model_meta_clear(mmg_model *m) {
    for (size_t i = 0; i < m->n_meta; i++) {
        mmg__free(m->meta[i].key);
        mmg__free(m->meta[i].value);
    }
    mmg__free(m->meta);
    m->meta = NULL;
    m->n_meta = m->cap_meta = 0;
}

static mmg__model_meta *find(const mmg_model *m, const char *key) {
    for (size_t i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta[i].key, key) == 0) return &m->meta[i];
    return NULL;
}

mmg_status mmg_model_set_metadata(mmg_model *model, const char *key, const char *value) {
    if (!model) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_set_metadata: model is NULL");
    if (!key) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_set_metadata: the key is NULL");
    if (mmg__model_meta_reserved(key))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_model_set_metadata: \"%s\" is written by mmgen itself (reserved keys: "
                          "\"%s\", \"%s\")", key, MMG__FORMAT_KEY, MMG__CONFIG_KEY);
    if (!mmg__st_valid_utf8(key))
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_set_metadata: the key is not valid UTF-8");
    if (value && !mmg__st_valid_utf8(value))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_model_set_metadata: the value of \"%.64s\" is not valid UTF-8", key);
    mmg__model_meta *e = find(model, key);
    if (!value) { /* remove; removing an absent key is fine */
        if (e) {
            mmg__free(e->key);
            mmg__free(e->value);
            size_t i = (size_t)(e - model->meta);
            memmove(e, e + 1, (model->n_meta - i - 1) * sizeof *e);
            model->n_meta--;
        }
        return MMG_OK;
    }
    /* Copy first, so a failure leaves the model as it was. */
    char *v = mmg__strdup(value);
    if (!v) return mmg__error(MMG_ERR_NOMEM, "out of memory copying metadata \"%.64s\"", key);
    if (e) {
        mmg__free(e->value);
        e->value = v;
        return MMG_OK;
    }
    char *k = mmg__strdup(key);
    if (k && model->n_meta == model->cap_meta) {
        size_t cap = model->cap_meta ? 2 * model->cap_meta : 4;
        mmg__model_meta *grown = mmg__realloc(model->meta, cap * sizeof *grown);
        if (grown) {
            model->meta = grown;
            model->cap_meta = cap;
        }
    }
    if (!k || model->n_meta == model->cap_meta) {
        mmg__free(k);
        mmg__free(v);
        return mmg__error(MMG_ERR_NOMEM, "out of memory adding metadata \"%.64s\"", key);
    }
    model->meta[model->n_meta].key = k;
    model->meta[model->n_meta].value = v;
    model->n_meta++;
    return MMG_OK;
}

mmg_status mmg_model_get_metadata(const mmg_model *model, const char *key, const char **out_value) {
    if (!model || !key || !out_value)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_get_metadata: NULL model, key or out_value");
    const mmg__model_meta *e = find(model, key);
    if (!e) {
        if (mmg__model_meta_reserved(key))
            return mmg__error(MMG_ERR_NOT_FOUND,
                              "model metadata \"%s\" is reserved and not kept with the model; the "
                              "config is mmg_model_get_config / mmg_model_config_to_json", key);
        return mmg__error(MMG_ERR_NOT_FOUND, "the model has no metadata \"%.64s\"", key);
    }
    *out_value = e->value;
    return MMG_OK;
}

size_t mmg_model_metadata_count(const mmg_model *model) { return model ? model->n_meta : 0; }

const char *mmg_model_metadata_key_at(const mmg_model *model, size_t index) {
    return model && index < model->n_meta ? model->meta[index].key : NULL;
}

mmg_status mmg_model_file_metadata(const char *path, const char *key, char **out_value) {
    if (!path || !key || !out_value)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_file_metadata: NULL path, key or out_value");
    mmg__st_file *f;
    mmg_status s = mmg__st_open(path, &f);
    if (s) return s;
    const char *v = mmg__st_metadata(f, key);
    char *copy = NULL;
    if (!v)
        s = mmg__error(MMG_ERR_NOT_FOUND, "%s: __metadata__ has no entry \"%.64s\"", path, key);
    else if (!(copy = mmg__strdup(v)))
        s = mmg__error(MMG_ERR_NOMEM, "%s: out of memory copying metadata \"%.64s\"", path, key);
    mmg__st_close(f);
    if (s) return s;
    *out_value = copy;
    return MMG_OK;
}
