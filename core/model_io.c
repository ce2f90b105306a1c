/* core/model_io.c - loading and saving models as safetensors.
 *
 * A model file carries __metadata__ {"format": "mmgen", "mmgen.config":
 * <config JSON>, ...the model's own metadata...} and exactly the tensors of
 * model->tensors (names and shapes in ABI.md). Loading is strict: a missing
 * tensor, an unexpected extra one, a shape or dtype that disagrees with the
 * config is MMG_ERR_FORMAT naming the tensor, so a file never half-loads
 * into the wrong architecture.
 *
 * Memory: tensors are read with pread() straight into the parameter block
 * (F16/BF16 through a 1 MiB buffer), never through the file's mapping, so the
 * peak is the parameters plus O(1 MiB), not the parameters plus the file
 * (mapped pages count in the resident set until unmapped).
 * bench/bench_model_load.c measures it. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "memory.h"
#include "model-impl.h"
#include "safetensors.h"

/* Copies the file's non-reserved metadata entries into the model. */
static mmg_status load_metadata(mmg__st_file *f, mmg_model *m) {
    size_t n = mmg__st_metadata_count(f);
    for (size_t i = 0; i < n; i++) {
        const char *key, *value;
        mmg__st_metadata_at(f, i, &key, &value);
        if (mmg__model_meta_reserved(key)) continue;
        mmg_status s = mmg_model_set_metadata(m, key, value);
        /* The reader accepted the header, so only an escape that decodes to
         * invalid UTF-8 (a lone surrogate) can be refused here. */
        if (s == MMG_ERR_INVALID_ARG)
            return mmg__error(MMG_ERR_FORMAT, "%s: __metadata__ \"%.64s\" is not valid UTF-8",
                              mmg__st_path(f), key);
        if (s) return mmg__error_prefix("%s", mmg__st_path(f));
    }
    return MMG_OK;
}

static mmg_status load_from(mmg__st_file *f, const mmg_model_options *o, mmg_model **out) {
    const char *path = mmg__st_path(f);
    const char *format = mmg__st_metadata(f, MMG__FORMAT_KEY);
    if (format && strcmp(format, MMG__FORMAT_VALUE) != 0)
        return mmg__error(MMG_ERR_FORMAT, "%s: __metadata__ \"%s\" is \"%s\"; expected \"%s\"",
                          path, MMG__FORMAT_KEY, format, MMG__FORMAT_VALUE);
    const char *json = mmg__st_metadata(f, MMG__CONFIG_KEY);
    if (!json)
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: __metadata__ has no \"%s\" entry; it is not an mmgen model file",
                          path, MMG__CONFIG_KEY);
    mmg_model_config cfg;
    mmg_status s = mmg__config_from_json(json, strlen(json), path, &cfg);
    if (s) return s;
    mmg_model *m;
    s = mmg__model_alloc(&cfg, o->memory_limit, &m);
    if (s) return mmg__error_prefix("%s", path);
    /* Every tensor in the file must be one the config asked for; checked
     * before reading any data. */
    size_t n = mmg__st_count(f);
    for (size_t i = 0; i < n && !s; i++) {
        const mmg__st_tensor *t = mmg__st_at(f, i);
        if (!mmg__model_find_param(m, t->name))
            s = mmg__error(MMG_ERR_FORMAT,
                           "%s: tensor \"%s\" is not part of the model the config describes "
                           "(check tied_output, bias, position_encoding, layer counts)",
                           path, t->name);
    }
    for (int i = 0; i < m->n_tensors && !s; i++) {
        const mmg__param *p = &m->tensors[i];
        const mmg__st_tensor *t;
        s = mmg__st_expect(f, p->name, p->ndim, p->shape, &t);
        if (!s) s = mmg__st_pread_f32(f, t, p->data, p->numel);
    }
    if (!s) s = load_metadata(f, m);
    if (s) {
        mmg__model_free_memory(m);
        return s;
    }
    *out = m;
    return MMG_OK;
}

mmg_status mmg_model_load(const char *path, const mmg_model_options *opts, mmg_model **out) {
    if (!path) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_load: path is NULL");
    if (!out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_load: out is NULL");
    mmg_model_options o;
    mmg_status s = mmg__model_options_read(opts, &o);
    if (s) return s;
    mmg__st_file *f;
    s = mmg__st_open(path, &f);
    if (s) return s;
    s = load_from(f, &o, out);
    mmg__st_close(f);
    return s;
}

mmg_status mmg_model_load_memory(const void *data, size_t size, const mmg_model_options *opts,
                                 mmg_model **out) {
    if (!data) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_load_memory: data is NULL");
    if (!out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_load_memory: out is NULL");
    mmg_model_options o;
    mmg_status s = mmg__model_options_read(opts, &o);
    if (s) return s;
    mmg__st_file *f;
    s = mmg__st_open_memory(data, size, &f);
    if (s) return s;
    s = load_from(f, &o, out); /* copies every tensor: nothing points into data */
    mmg__st_close(f);
    return s;
}

mmg_status mmg_model_save(const mmg_model *model, const char *path) {
    if (!model) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_save: model is NULL");
    if (!path) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_save: path is NULL");
    char *json = NULL;
    mmg__st_writer *w = NULL;
    mmg_status s = mmg__config_to_json(&model->cfg, &json);
    if (!s) s = mmg__st_writer_create(&w);
    if (!s) s = mmg__st_writer_metadata(w, MMG__FORMAT_KEY, MMG__FORMAT_VALUE);
    if (!s) s = mmg__st_writer_metadata(w, MMG__CONFIG_KEY, json);
    for (size_t i = 0; i < model->n_meta && !s; i++)
        s = mmg__st_writer_metadata(w, model->meta[i].key, model->meta[i].value);
    for (int i = 0; i < model->n_tensors && !s; i++) {
        const mmg__param *p = &model->tensors[i];
        s = mmg__st_writer_add(w, p->name, MMG__DT_F32, p->ndim, p->shape, p->data,
                               p->numel * sizeof(float));
    }
    if (!s) s = mmg__st_writer_write(w, path);
    mmg__st_writer_free(w);
    mmg__free(json);
    return s;
}
