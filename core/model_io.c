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
 * bench/bench_model_load.c measures it.
 *
 * Quantized models (ABI.md, "Quantized weights"): a file with __metadata__ "mmgen.quant":
 * "q8_0" (or "q4_0") stores each linear weight W as the U8 tensor
 * "<name>.q8_0" of shape (rows, cols / 32 * 34) (".q4_0": cols / 32 * 18),
 * ggml's blocks row by row; "f16" stores them as plain F16 tensors. Loading
 * reads those into the model's matrices of that type (or dequantizes them for
 * an F32 model, or converts them to another type), or quantizes an F32
 * file's weights, 1 MiB at a time. */
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

/* Rows of a tensor converted per read while quantizing or dequantizing:
 * about 1 MiB of floats. */
static size_t chunk_rows(size_t cols) {
    size_t r = ((size_t)1 << 18) / (cols ? cols : 1);
    return r ? r : 1;
}

/* Reads F32/F16/BF16 tensor t into the quantized tensor p, a chunk of rows at
 * a time. */
static mmg_status read_quantizing(mmg__st_file *f, const mmg__st_tensor *t, const mmg__param *p) {
    const size_t rows = (size_t)p->shape[0], cols = (size_t)p->shape[1], per = chunk_rows(cols);
    const size_t es = mmg__dtype_size(t->dtype);
    float *buf = mmg__malloc((rows < per ? rows : per) * cols * sizeof(float));
    if (!buf)
        return mmg__error(MMG_ERR_NOMEM, "%s: out of memory quantizing tensor '%s'",
                          mmg__st_path(f), p->name);
    mmg_status s = MMG_OK;
    for (size_t r0 = 0; r0 < rows && !s; r0 += per) {
        size_t n = rows - r0 < per ? rows - r0 : per;
        mmg__st_tensor chunk = *t; /* rows [r0, r0 + n) of t */
        chunk.data = t->data + r0 * cols * es;
        chunk.numel = n * cols;
        chunk.nbytes = n * cols * es;
        s = mmg__st_pread_f32(f, &chunk, buf, n * cols);
        if (!s) s = mmg__param_quantize_rows(p, r0, n, buf, mmg__st_path(f));
    }
    mmg__free(buf);
    return s;
}

/* Reads the quantized tensor "<p->name>.<type>" of a file of type `ft` into
 * p: as it is when p has that type, else dequantized into p->data (an F32
 * model) or dequantized and quantized again to p's type. */
static mmg_status read_quant(mmg__st_file *f, const mmg__param *p, int ft) {
    const mmg__quant_type *qt = mmg__quant_type_of(ft);
    const char *path = mmg__st_path(f);
    char name[MMG__PARAM_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s.%s", p->name, qt->name);
    const size_t rows = (size_t)p->shape[0], cols = (size_t)p->shape[1], nb = cols / MMG__QUANT_BLOCK;
    const int64_t want1 = (int64_t)(nb * qt->block_bytes);
    const mmg__st_tensor *t = mmg__st_find(f, name);
    if (!t)
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: tensor '%s' (U8 [%zu, %lld]: the %s blocks of '%s' (%zu, %zu)) "
                          "is missing",
                          path, name, rows, (long long)want1, qt->label, p->name, rows, cols);
    if (t->dtype != MMG__DT_U8 || t->ndim != 2 || t->shape[0] != (int64_t)rows || t->shape[1] != want1) {
        char got[128] = "[";
        for (int i = 0; i < t->ndim; i++) {
            size_t len = strlen(got);
            snprintf(got + len, sizeof got - len, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        }
        strncat(got, "]", sizeof got - strlen(got) - 1);
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: tensor '%s' is %s of shape %s; expected U8 [%zu, %lld] (%zu rows of "
                          "%zu %zu-byte %s blocks for '%s' (%zu, %zu))",
                          path, name, mmg__dtype_name(t->dtype), got, rows, (long long)want1, rows,
                          nb, qt->block_bytes, qt->label, p->name, rows, cols);
    }
    const int as_is = p->qm && p->qm->type == ft;
    const size_t per = chunk_rows(cols), max_rows = rows < per ? rows : per;
    uint8_t *buf = mmg__malloc(max_rows * nb * qt->block_bytes);
    int8_t *q = NULL;
    uint16_t *d = NULL;
    float *x = NULL;
    if (buf && !as_is) { /* converting: split each chunk here first */
        q = mmg__malloc(max_rows * nb * qt->value_bytes);
        d = mmg__malloc(max_rows * nb * sizeof *d);
        if (p->qm) x = mmg__malloc(max_rows * cols * sizeof *x);
    }
    mmg_status s = MMG_OK;
    if (!buf || (!as_is && (!q || !d || (p->qm && !x))))
        s = mmg__error(MMG_ERR_NOMEM, "%s: out of memory reading tensor '%s'", path, name);
    for (size_t r0 = 0; r0 < rows && !s; r0 += per) {
        const size_t n = rows - r0 < per ? rows - r0 : per, blocks = n * nb;
        s = mmg__st_pread_bytes(f, t, r0 * nb * qt->block_bytes, buf, blocks * qt->block_bytes);
        if (s) break;
        int8_t *cq = as_is ? p->qm->q + r0 * nb * qt->value_bytes : q;
        uint16_t *cd = as_is ? p->qm->d + r0 * nb : d;
        size_t bad = mmg__quant_unpack(ft, buf, blocks, cq, cd);
        if (bad) {
            size_t k = r0 * nb + bad - 1;
            s = mmg__error(MMG_ERR_FORMAT,
                           "%s: tensor '%s': block %zu (row %zu) holds the value -128; Q8_0 "
                           "values are in [-127, 127]",
                           path, name, k, k / nb);
            break;
        }
        if (as_is) continue;
        mmg__quant_dequantize(ft, q, d, blocks, p->qm ? x : p->data + r0 * cols);
        if (p->qm) s = mmg__param_quantize_rows(p, r0, n, x, path);
    }
    mmg__free(buf);
    mmg__free(q);
    mmg__free(d);
    mmg__free(x);
    return s;
}

/* Whether a file of type `file_quant` stores linear weights as U8 tensors
 * of blocks "<name>.q8_0" / "<name>.q4_0" (F16 files hold plain F16 tensors). */
static int in_blocks(int file_quant) {
    return file_quant == MMG__QUANT_Q8_0 || file_quant == MMG__QUANT_Q4_0;
}

#define TOK_EMB "tok_emb.weight"

/* Whether a file of type `file_quant` stores p in blocks: its linear
 * weights, and its token embedding when `file_emb` (the file has
 * "tok_emb.weight.<type>", mmg_model_options.quantize_embedding). */
static int stored_in_blocks(const mmg__param *p, int file_quant, int file_emb) {
    return in_blocks(file_quant) && (p->linear || (file_emb && strcmp(p->name, TOK_EMB) == 0));
}

/* Which tensor of a file p is: "<name>.q8_0" (or ".q4_0") when the file
 * stores it in blocks, else "<name>" (F16 files too). Writes the name into
 * buf. */
static const char *file_name(const mmg__param *p, int file_quant, int file_emb, char *buf, size_t n) {
    if (stored_in_blocks(p, file_quant, file_emb))
        snprintf(buf, n, "%s.%s", p->name, mmg__quant_type_of(file_quant)->name);
    else
        snprintf(buf, n, "%s", p->name);
    return buf;
}

/* Finds the model tensor a file tensor stands for: NULL when none. */
static const mmg__param *param_of(const mmg_model *m, const char *name, int file_quant, int file_emb) {
    char want[MMG__PARAM_NAME_MAX + 8];
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(file_name(&m->tensors[i], file_quant, file_emb, want, sizeof want), name) == 0)
            return &m->tensors[i];
    return NULL;
}

/* Whether a file of type `file_quant` holds its token embedding quantized
 * too: "tok_emb.weight.<type>" in a Q8_0 / Q4_0 file, an F16
 * "tok_emb.weight" in an F16 one. */
static int file_has_quantized_embedding(mmg__st_file *f, int file_quant) {
    if (in_blocks(file_quant)) {
        char name[64];
        snprintf(name, sizeof name, "%s.%s", TOK_EMB, mmg__quant_type_of(file_quant)->name);
        return mmg__st_find(f, name) != NULL;
    }
    const mmg__st_tensor *t = file_quant == MMG__QUANT_F16 ? mmg__st_find(f, TOK_EMB) : NULL;
    return t && t->dtype == MMG__DT_F16;
}

/* The block type whose suffix ("<param>.q8_0") name ends with, or
 * MMG__QUANT_NONE. */
static int suffix_type(const char *name) {
    const char *dot = strrchr(name, '.');
    const int t = dot ? mmg__quant_type_by_name(dot + 1) : MMG__QUANT_NONE;
    return in_blocks(t) ? t : MMG__QUANT_NONE;
}

/* Reads F16 tensor t into the F16 matrix of p as it is (no rounding). */
static mmg_status read_f16(mmg__st_file *f, const mmg__st_tensor *t, const mmg__param *p) {
    return mmg__st_pread_bytes(f, t, 0, p->qm->q, p->numel * sizeof(uint16_t));
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
    const char *quant = mmg__st_metadata(f, MMG__QUANT_KEY);
    const int file_quant = quant ? mmg__quant_type_by_name(quant) : MMG__QUANT_NONE;
    if (quant && !file_quant)
        return mmg__error(MMG_ERR_UNSUPPORTED,
                          "%s: __metadata__ \"%s\" is \"%.32s\"; this mmgen reads \"q8_0\", "
                          "\"q4_0\" and \"f16\" files",
                          path, MMG__QUANT_KEY, quant);
    const int want = o->weights == MMG_WEIGHTS_F32       ? MMG__QUANT_NONE
                     : o->weights == MMG_WEIGHTS_DEFAULT ? file_quant
                                                         : mmg__quant_of_weights(o->weights);
    /* the token embedding: quantized when the file has it so, or when asked */
    const int file_emb = file_has_quantized_embedding(f, file_quant);
    const int want_emb = want != MMG__QUANT_NONE && (o->quantize_embedding || file_emb);
    mmg_model_config cfg;
    mmg_status s = mmg__config_from_json(json, strlen(json), path, &cfg);
    if (s) return s;
    mmg_model *m;
    /* a quantized file's own shapes must be whole blocks, whatever it loads as */
    if (file_quant && mmg_model_config_validate(&cfg) == MMG_OK &&
        mmg__model_check_quant_shapes(&cfg, file_quant, MMG_ERR_FORMAT))
        return mmg__error_prefix("%s", path);
    s = mmg__model_alloc_quant(&cfg, o->memory_limit, want, want_emb, MMG_ERR_UNSUPPORTED, &m);
    if (s) return mmg__error_prefix("%s", path);
    /* Every tensor in the file must be one the config asked for; checked
     * before reading any data. */
    size_t n = mmg__st_count(f);
    for (size_t i = 0; i < n && !s; i++) {
        const mmg__st_tensor *t = mmg__st_at(f, i);
        if (param_of(m, t->name, file_quant, file_emb)) continue;
        const int st = suffix_type(t->name);
        if (st && st != file_quant)
            s = mmg__error(MMG_ERR_FORMAT,
                           "%s: tensor \"%s\" holds %s blocks, but __metadata__ has %s\"%s\": "
                           "\"%s\"",
                           path, t->name, mmg__quant_type_of(st)->label, file_quant ? "" : "no ",
                           MMG__QUANT_KEY, file_quant ? quant : mmg__quant_type_of(st)->name);
        else if (file_quant && param_of(m, t->name, 0, 0))
            s = mmg__error(MMG_ERR_FORMAT,
                           "%s: tensor \"%s\" is stored unquantized in a %s file; expected "
                           "\"%s.%s\"",
                           path, t->name, mmg__quant_type_of(file_quant)->label, t->name, quant);
        else
            s = mmg__error(MMG_ERR_FORMAT,
                           "%s: tensor \"%s\" is not part of the model the config describes "
                           "(check tied_output, bias, position_encoding, layer counts)",
                           path, t->name);
    }
    for (int i = 0; i < m->n_tensors && !s; i++) {
        const mmg__param *p = &m->tensors[i];
        const mmg__st_tensor *t;
        if (stored_in_blocks(p, file_quant, file_emb)) {
            s = read_quant(f, p, file_quant);
        } else {
            s = mmg__st_expect(f, p->name, p->ndim, p->shape, &t);
            if (!s && file_quant == MMG__QUANT_F16 && p->linear && t->dtype != MMG__DT_F16)
                s = mmg__error(MMG_ERR_FORMAT,
                               "%s: tensor '%s' is %s in a file whose __metadata__ \"%s\" is "
                               "\"f16\"; its linear weights must be F16",
                               path, p->name, mmg__dtype_name(t->dtype), MMG__QUANT_KEY);
            if (!s)
                s = p->qm && p->qm->type == MMG__QUANT_F16 && t->dtype == MMG__DT_F16 ? read_f16(f, t, p)
                    : p->qm ? read_quantizing(f, t, p)
                            : mmg__st_pread_f32(f, t, p->data, p->numel);
        }
    }
    if (!s) s = mmg__model_quantize_tied(m);
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
    if (!s) s = mmg__model_options_check_weights(&o);
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
    if (!s) s = mmg__model_options_check_weights(&o);
    if (s) return s;
    mmg__st_file *f;
    s = mmg__st_open_memory(data, size, &f);
    if (s) return s;
    s = load_from(f, &o, out); /* copies every tensor: nothing points into data */
    mmg__st_close(f);
    return s;
}

/* mmg__st_fill_fn of a quantized matrix: its file blocks. */
static void pack_qm(const void *ctx, size_t offset, void *dst, size_t n) {
    const mmg__qmatrix *q = ctx;
    mmg__quant_pack(q->type, q->q, q->d, offset, dst, n);
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
    if (!s && model->quant != MMG__QUANT_NONE)
        s = mmg__st_writer_metadata(w, MMG__QUANT_KEY, mmg__quant_type_of(model->quant)->name);
    for (size_t i = 0; i < model->n_meta && !s; i++)
        s = mmg__st_writer_metadata(w, model->meta[i].key, model->meta[i].value);
    for (int i = 0; i < model->n_tensors && !s; i++) {
        const mmg__param *p = &model->tensors[i];
        if (p->qm && p->qm->type == MMG__QUANT_F16) {
            s = mmg__st_writer_add(w, p->name, MMG__DT_F16, p->ndim, p->shape, p->qm->q,
                                   p->numel * sizeof(uint16_t));
        } else if (p->qm) {
            const mmg__quant_type *qt = mmg__quant_type_of(p->qm->type);
            char name[MMG__PARAM_NAME_MAX + 8];
            snprintf(name, sizeof name, "%s.%s", p->name, qt->name);
            const size_t blocks = p->numel / MMG__QUANT_BLOCK;
            const int64_t shape[2] = {p->shape[0], (int64_t)(p->shape[1] / MMG__QUANT_BLOCK * qt->block_bytes)};
            s = mmg__st_writer_add_fill(w, name, MMG__DT_U8, 2, shape, blocks * qt->block_bytes,
                                        pack_qm, p->qm);
        } else {
            s = mmg__st_writer_add(w, p->name, MMG__DT_F32, p->ndim, p->shape, p->data,
                                   p->numel * sizeof(float));
        }
    }
    if (!s) s = mmg__st_writer_write(w, path);
    mmg__st_writer_free(w);
    mmg__free(json);
    return s;
}
