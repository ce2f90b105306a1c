/* core/model_params.c - a model's parameters by name: listing them with
 * their shapes, copying them out and writing them back (mmgen/model.h,
 * since ABI 1.3), and the name + size check the trainer's gradient reader
 * shares. A quantized model's Q8_0 / Q4_0 / F16 tensors read back dequantized
 * (or as stored, mmg_model_read_param_data) and cannot be written. */
#include <string.h>

#include "error.h"
#include "model-impl.h"

size_t mmg_model_param_count(const mmg_model *model) {
    return model ? (size_t)model->n_tensors : 0;
}

/* How tensor p is stored, as a public mmg_weight_format. */
static int32_t stored_weights(const mmg__param *p) {
    if (!p->qm) return MMG_WEIGHTS_F32;
    switch (p->qm->type) {
    case MMG__QUANT_Q4_0: return MMG_WEIGHTS_Q4_0;
    case MMG__QUANT_F16: return MMG_WEIGHTS_F16;
    default: return MMG_WEIGHTS_Q8_0;
    }
}

mmg_status mmg_model_param_info(const mmg_model *model, size_t index, mmg_param_info *info) {
    if (!model || !info) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_param_info: NULL argument");
    size_t caller_size = info->struct_size;
    if (caller_size < sizeof(size_t))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_model_param_info: info->struct_size is %zu; set it to "
                          "sizeof(mmg_param_info)",
                          caller_size);
    if (index >= (size_t)model->n_tensors)
        return mmg__error(MMG_ERR_RANGE,
                          "mmg_model_param_info: index %zu is past the last parameter (the "
                          "model has %d)",
                          index, model->n_tensors);
    const mmg__param *p = &model->tensors[index];
    mmg_param_info full;
    memset(&full, 0, sizeof full);
    full.struct_size = caller_size < sizeof full ? caller_size : sizeof full;
    full.name = p->name;
    full.n_dims = p->ndim;
    for (int d = 0; d < p->ndim; d++) full.shape[d] = p->shape[d];
    full.n_elements = p->numel;
    full.weights = stored_weights(p);
    full.n_bytes = mmg_weights_size(full.weights, p->numel);
    memcpy(info, &full, full.struct_size);
    return MMG_OK;
}

mmg_status mmg_model_param_find(const mmg_model *model, const char *name, size_t *out_index) {
    if (!model || !name || !out_index)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_param_find: NULL argument");
    const mmg__param *p = mmg__model_find_param(model, name);
    if (!p)
        return mmg__error(MMG_ERR_NOT_FOUND,
                          "the model has no parameter \"%.80s\" (mmg_model_param_info lists "
                          "the %d it has)",
                          name, model->n_tensors);
    *out_index = (size_t)(p - model->tensors);
    return MMG_OK;
}

mmg_status mmg__param_lookup(const mmg_model *model, const char *name, size_t n_elements,
                             const char *fn, const mmg__param **out) {
    const mmg__param *p = mmg__model_find_param(model, name);
    if (!p)
        return mmg__error(MMG_ERR_NOT_FOUND,
                          "%s: the model has no parameter \"%.80s\" (mmg_model_param_info "
                          "lists the %d it has)",
                          fn, name, model->n_tensors);
    if (n_elements != p->numel) {
        if (p->ndim == 1)
            return mmg__error(MMG_ERR_RANGE,
                              "%s: \"%s\" has shape (%lld) = %zu floats; the buffer holds %zu",
                              fn, p->name, (long long)p->shape[0], p->numel, n_elements);
        return mmg__error(MMG_ERR_RANGE,
                          "%s: \"%s\" has shape (%lld, %lld) = %zu floats; the buffer holds %zu",
                          fn, p->name, (long long)p->shape[0], (long long)p->shape[1], p->numel,
                          n_elements);
    }
    *out = p;
    return MMG_OK;
}

mmg_status mmg_model_read_param(const mmg_model *model, const char *name, float *dst,
                                size_t n_elements) {
    if (!model || !name || !dst)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_read_param: NULL argument");
    const mmg__param *p = NULL;
    mmg_status s = mmg__param_lookup(model, name, n_elements, "mmg_model_read_param", &p);
    if (s) return s;
    if (p->qm) mmg__quant_dequantize(p->qm->type, p->qm->q, p->qm->d, p->numel / MMG__QUANT_BLOCK, dst);
    else memcpy(dst, p->data, p->numel * sizeof *dst);
    return MMG_OK;
}

mmg_status mmg_model_write_param(mmg_model *model, const char *name, const float *src,
                                 size_t n_elements) {
    if (!model || !name || !src)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_write_param: NULL argument");
    const mmg__param *p = NULL;
    mmg_status s = mmg__param_lookup(model, name, n_elements, "mmg_model_write_param", &p);
    if (s) return s;
    if (p->qm || (model->quant != MMG__QUANT_NONE && p->data == model->wte && model->cfg.tied_output))
        return mmg__error(MMG_ERR_UNSUPPORTED,
                          "mmg_model_write_param: \"%s\" is held in %s%s; a quantized model's "
                          "weights cannot be written (load the file with "
                          "mmg_model_options.weights = MMG_WEIGHTS_F32 to edit them)",
                          p->name, mmg__quant_type_of(model->quant)->label,
                          p->qm ? "" : " too (the tied output projection's copy)");
    /* memmove: a caller may pass a pointer into another parameter's copy. */
    memmove(p->data, src, p->numel * sizeof *src);
    return MMG_OK;
}

mmg_status mmg_model_read_param_data(const mmg_model *model, const char *name, void *dst,
                                     size_t dst_size) {
    if (!model || !name || !dst)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_read_param_data: NULL argument");
    const mmg__param *p = mmg__model_find_param(model, name);
    if (!p) return mmg__param_lookup(model, name, 0, "mmg_model_read_param_data", &p);
    const int32_t weights = stored_weights(p);
    const uint64_t bytes = mmg_weights_size(weights, p->numel);
    if ((uint64_t)dst_size != bytes)
        return mmg__error(MMG_ERR_RANGE,
                          "mmg_model_read_param_data: \"%s\" is stored in %llu bytes (%s); the "
                          "buffer holds %zu",
                          p->name, (unsigned long long)bytes,
                          p->qm ? mmg__quant_type_of(p->qm->type)->label : "F32", dst_size);
    if (!p->qm) memcpy(dst, p->data, (size_t)bytes);
    else if (p->qm->type == MMG__QUANT_F16) memcpy(dst, p->qm->q, (size_t)bytes);
    else mmg__quant_pack(p->qm->type, p->qm->q, p->qm->d, 0, dst, (size_t)bytes);
    return MMG_OK;
}
