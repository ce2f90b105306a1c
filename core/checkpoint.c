/* core/checkpoint.c - saving and resuming training (mmg_trainer_save / _load).
 *
 * One safetensors file holds everything a resumed run needs to continue
 * bit-identically:
 *   __metadata__: "format": "mmgen-checkpoint", "mmgen.config": the model config JSON,
 *                 "mmgen.checkpoint": "1"
 *   <name>                   F32  every model parameter, under its model-file name
 *   optim.exp_avg.<name>     F32  AdamW first moment, same shape
 *   optim.exp_avg_sq.<name>  F32  AdamW second moment
 *   train.state              U64  (8,) [version 1, updates done, dropout RNG s0..s3,
 *                                       n_params, grad_accum_steps]
 *   train.hparams            F32  (4,) beta1, beta2, eps, weight_decay (a resume with
 *                                       other values is allowed and logged)
 *   loader.state             U64  (11,) see dataset.h (only when a loader was given)
 * The file is written through mmg__st_writer_write: temporary file, fsync,
 * rename, so a crash mid-save leaves the previous checkpoint intact. Loading
 * checks the whole file against the trainer before changing anything. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "dataset.h"
#include "error.h"
#include "log.h"
#include "memory.h"
#include "safetensors.h"
#include "train_impl.h"

#define CKPT_FORMAT "mmgen-checkpoint"
#define CKPT_VERSION 1
#define STATE_LEN 8
#define PREFIX_M "optim.exp_avg."
#define PREFIX_V "optim.exp_avg_sq."

mmg_status mmg_trainer_save(mmg_trainer *t, const mmg_loader *loader, const char *path) {
    if (!t || !path) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_trainer_save: NULL trainer or path");
    if (t->micro != 0)
        return mmg__error(MMG_ERR_STATE,
                          "mmg_trainer_save: %d of %d accumulation steps are pending; save after "
                          "an optimizer update",
                          t->micro, (int)t->o.grad_accum_steps);
    const mmg_model *m = t->model;
    mmg__st_writer *w = NULL;
    char *cfg_json = NULL;
    char (*names)[2][MMG__PARAM_NAME_MAX + 32] = NULL;
    uint64_t state[STATE_LEN], lstate[MMG__LOADER_STATE_LEN];
    float hp[4] = {t->o.beta1, t->o.beta2, t->o.eps, t->o.weight_decay};
    mmg_status s = mmg__st_writer_create(&w);
    if (!s) s = mmg__config_to_json(&m->cfg, &cfg_json);
    if (!s) s = mmg__st_writer_metadata(w, "format", CKPT_FORMAT);
    if (!s) s = mmg__st_writer_metadata(w, MMG__CONFIG_KEY, cfg_json);
    if (!s) s = mmg__st_writer_metadata(w, "mmgen.checkpoint", "1");
    if (!s) {
        names = mmg__malloc(((size_t)m->n_tensors + 1) * sizeof *names);
        if (!names) s = mmg__error(MMG_ERR_NOMEM, "mmg_trainer_save: out of memory");
    }
    for (int i = 0; !s && i < m->n_tensors; i++) {
        const mmg__param *p = &m->tensors[i];
        size_t nb = p->numel * sizeof(float);
        snprintf(names[i][0], sizeof names[i][0], PREFIX_M "%s", p->name);
        snprintf(names[i][1], sizeof names[i][1], PREFIX_V "%s", p->name);
        s = mmg__st_writer_add(w, p->name, MMG__DT_F32, p->ndim, p->shape, p->data, nb);
        if (!s) s = mmg__st_writer_add(w, names[i][0], MMG__DT_F32, p->ndim, p->shape,
                                       t->adam.m + p->offset, nb);
        if (!s) s = mmg__st_writer_add(w, names[i][1], MMG__DT_F32, p->ndim, p->shape,
                                       t->adam.v + p->offset, nb);
    }
    if (!s) {
        state[0] = CKPT_VERSION;
        state[1] = (uint64_t)t->adam.t;
        for (int i = 0; i < 4; i++) state[2 + i] = t->rng.s[i];
        state[6] = (uint64_t)m->n_params;
        state[7] = (uint64_t)t->o.grad_accum_steps;
        int64_t shape = STATE_LEN;
        s = mmg__st_writer_add(w, "train.state", MMG__DT_U64, 1, &shape, state, sizeof state);
    }
    if (!s) {
        int64_t shape = 4;
        s = mmg__st_writer_add(w, "train.hparams", MMG__DT_F32, 1, &shape, hp, sizeof hp);
    }
    if (!s && loader) {
        mmg__loader_get_state(loader, lstate);
        int64_t shape = MMG__LOADER_STATE_LEN;
        s = mmg__st_writer_add(w, "loader.state", MMG__DT_U64, 1, &shape, lstate, sizeof lstate);
    }
    if (!s) s = mmg__st_writer_write(w, path);
    mmg__st_writer_free(w);
    mmg__free(cfg_json);
    mmg__free(names);
    if (s) return mmg__error_prefix("saving checkpoint %s", path);
    return MMG_OK;
}

/* A field-by-field comparison, so the message names what differs. */
static mmg_status compare_configs(const char *path, const mmg_model_config *file,
                                  const mmg_model_config *mine) {
#define CMP(field)                                                                                 \
    if (file->field != mine->field)                                                                \
        return mmg__error(MMG_ERR_CONFIG,                                                          \
                          "%s: the checkpoint is for another model: its " #field " is %g but "    \
                          "this model's is %g",                                                    \
                          path, (double)file->field, (double)mine->field);
    CMP(vocab_size) CMP(d_model) CMP(n_heads) CMP(n_encoder_layers) CMP(n_decoder_layers)
    CMP(d_ff) CMP(max_seq_len) CMP(norm_placement) CMP(final_norm) CMP(activation)
    CMP(position_encoding) CMP(tied_output) CMP(bias) CMP(scale_embeddings) CMP(layernorm_eps)
    CMP(norm_bias)
#undef CMP
    return MMG_OK;
}

/* The tensor `name` must be F32 with the parameter's shape. */
static mmg_status expect_f32(mmg__st_file *f, const char *path, const char *name, const mmg__param *p,
                             const mmg__st_tensor **out) {
    const mmg__st_tensor *x = mmg__st_find(f, name);
    if (!x) return mmg__error(MMG_ERR_FORMAT, "%s: the checkpoint has no tensor %s", path, name);
    int same = x->dtype == MMG__DT_F32 && x->ndim == p->ndim && x->shape[0] == p->shape[0] &&
               (p->ndim < 2 || x->shape[1] == p->shape[1]);
    if (!same)
        return mmg__error(MMG_ERR_CONFIG,
                          "%s: tensor %s is %s with %d dims [%lld, %lld]; this model needs F32 "
                          "[%lld, %lld]",
                          path, name, mmg__dtype_name(x->dtype), x->ndim, (long long)x->shape[0],
                          (long long)(x->ndim > 1 ? x->shape[1] : 1), (long long)p->shape[0],
                          (long long)p->shape[1]);
    *out = x;
    return MMG_OK;
}

static mmg_status expect_u64(mmg__st_file *f, const char *path, const char *name, size_t n,
                             uint64_t *dst) {
    const mmg__st_tensor *x = mmg__st_find(f, name);
    if (!x) return mmg__error(MMG_ERR_FORMAT, "%s: the checkpoint has no tensor %s", path, name);
    if (x->dtype != MMG__DT_U64 || x->ndim != 1 || x->numel != n)
        return mmg__error(MMG_ERR_FORMAT, "%s: tensor %s must be U64 of shape [%zu]", path, name, n);
    memcpy(dst, x->data, n * sizeof(uint64_t));
    return MMG_OK;
}

mmg_status mmg_trainer_load(mmg_trainer *t, mmg_loader *loader, const char *path) {
    if (!t || !path) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_trainer_load: NULL trainer or path");
    mmg_model *m = t->model;
    mmg__st_file *f = NULL;
    const mmg__st_tensor **tens = NULL;
    mmg_status s = mmg__st_open(path, &f);
    if (s) return s;
    /* 1. what the file is, and for which model */
    const char *format = mmg__st_metadata(f, "format");
    const char *json = mmg__st_metadata(f, MMG__CONFIG_KEY);
    mmg_model_config cfg;
    if (!format || strcmp(format, CKPT_FORMAT) != 0)
        s = mmg__error(MMG_ERR_FORMAT,
                       "%s: not an mmgen training checkpoint (__metadata__ format is \"%s\", "
                       "expected \"%s\")",
                       path, format ? format : "(none)", CKPT_FORMAT);
    else if (!json)
        s = mmg__error(MMG_ERR_FORMAT, "%s: the checkpoint has no %s metadata", path, MMG__CONFIG_KEY);
    if (!s) s = mmg__config_from_json(json, strlen(json), path, &cfg);
    if (!s) s = compare_configs(path, &cfg, &m->cfg);
    /* 2. every tensor present with the right shape */
    uint64_t state[STATE_LEN], lstate[MMG__LOADER_STATE_LEN];
    if (!s) s = expect_u64(f, path, "train.state", STATE_LEN, state);
    if (!s && state[0] != CKPT_VERSION)
        s = mmg__error(MMG_ERR_FORMAT, "%s: checkpoint version %llu; this mmgen reads version %d",
                       path, (unsigned long long)state[0], CKPT_VERSION);
    if (!s && state[6] != (uint64_t)m->n_params)
        s = mmg__error(MMG_ERR_CONFIG, "%s: the checkpoint has %llu parameters, this model %zu", path,
                       (unsigned long long)state[6], m->n_params);
    if (!s && (state[2] | state[3] | state[4] | state[5]) == 0)
        s = mmg__error(MMG_ERR_FORMAT, "%s: train.state holds an all-zero RNG state", path);
    if (!s && state[1] > (uint64_t)INT64_MAX)
        s = mmg__error(MMG_ERR_FORMAT, "%s: train.state step %llu is out of range", path,
                       (unsigned long long)state[1]);
    if (!s) {
        tens = mmg__calloc((size_t)m->n_tensors * 3 + 1, sizeof *tens);
        if (!tens) s = mmg__error(MMG_ERR_NOMEM, "%s: out of memory", path);
    }
    char name[MMG__PARAM_NAME_MAX + 32];
    for (int i = 0; !s && i < m->n_tensors; i++) {
        const mmg__param *p = &m->tensors[i];
        s = expect_f32(f, path, p->name, p, &tens[3 * i]);
        snprintf(name, sizeof name, PREFIX_M "%s", p->name);
        if (!s) s = expect_f32(f, path, name, p, &tens[3 * i + 1]);
        snprintf(name, sizeof name, PREFIX_V "%s", p->name);
        if (!s) s = expect_f32(f, path, name, p, &tens[3 * i + 2]);
    }
    if (!s && loader) {
        s = expect_u64(f, path, "loader.state", MMG__LOADER_STATE_LEN, lstate);
        if (s == MMG_ERR_FORMAT && !mmg__st_find(f, "loader.state"))
            s = mmg__error(MMG_ERR_FORMAT, "%s: the checkpoint was saved without a loader; pass "
                           "NULL as the loader to resume from it", path);
        /* 3. the loader validates its state and applies it only if it fits */
        if (!s) s = mmg__loader_set_state(loader, lstate);
        if (s) mmg__error_prefix("%s", path);
    }
    if (!s) {
        const mmg__st_tensor *hp = mmg__st_find(f, "train.hparams");
        float h[4];
        if (hp && hp->dtype == MMG__DT_F32 && hp->numel == 4) {
            memcpy(h, hp->data, sizeof h);
            if (h[0] != t->o.beta1 || h[1] != t->o.beta2 || h[2] != t->o.eps || h[3] != t->o.weight_decay)
                mmg__log(MMG_LOG_WARN,
                         "%s: resuming with other AdamW settings (checkpoint beta1 %g beta2 %g eps "
                         "%g weight_decay %g)",
                         path, (double)h[0], (double)h[1], (double)h[2], (double)h[3]);
        }
        /* 4. nothing can fail from here on: copy everything in */
        for (int i = 0; i < m->n_tensors; i++) {
            const mmg__param *p = &m->tensors[i];
            memcpy(p->data, tens[3 * i]->data, p->numel * sizeof(float));
            memcpy(t->adam.m + p->offset, tens[3 * i + 1]->data, p->numel * sizeof(float));
            memcpy(t->adam.v + p->offset, tens[3 * i + 2]->data, p->numel * sizeof(float));
        }
        t->adam.t = (int64_t)state[1];
        for (int i = 0; i < 4; i++) t->rng.s[i] = state[2 + i];
        memset(t->grads, 0, m->n_params * sizeof(float));
        t->micro = 0;
        t->last_grad_norm = 0.0f;
        if (state[7] != (uint64_t)t->o.grad_accum_steps)
            mmg__log(MMG_LOG_WARN, "%s: saved with grad_accum_steps %llu, resuming with %d", path,
                     (unsigned long long)state[7], (int)t->o.grad_accum_steps);
    }
    mmg__free(tens);
    mmg__st_close(f);
    return s;
}
