/* core/model.c - creating and freeing models: the parameter layout (one
 * allocation, pointers into it, a table of named tensors), seeded random
 * initialisation, reference counting for contexts. Loading and saving are in
 * model_io.c, string metadata in model_metadata.c, the forward pass in
 * forward.c. */
#include "model-impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "memory.h"
#include "ops.h"
#include "options.h"
#include "rng.h"

/* ---- options ---------------------------------------------------------------------- */

static void options_defaults(mmg_model_options *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->seed = 0;
    o->init_std = 0.02f;
    o->memory_limit = 0;
    o->init_scheme = MMG_INIT_NORMAL;
    o->weights = MMG_WEIGHTS_DEFAULT;
    o->quantize_embedding = 0;
}

void mmg_model_options_init(mmg_model_options *opts, size_t struct_size) {
    mmg_model_options d;
    options_defaults(&d);
    mmg__init_options(opts, struct_size, &d, sizeof d);
}

/* ---- layout --------------------------------------------------------------------- */

/* Builds the table of named tensors in canonical order. With `params` NULL it
 * only counts (n_tensors, n_floats, quant_bytes); otherwise it fills m->tensors
 * and points every field. One function for both passes, so counting and
 * pointing can never disagree. A quantized layout gives the linear weights
 * quantized matrices in quant_mem instead of floats. */
typedef struct layout {
    mmg_model *m;       /* NULL while counting */
    size_t n_floats;
    int n_tensors;
    int quant;          /* MMG__QUANT_* */
    int quant_emb;      /* 1: the token embedding in `quant` too */
    size_t quant_bytes;
} layout;

/* What a tensor is: a LayerNorm/bias vector, an embedding, the weight of
 * a linear layer, or a token embedding stored quantized (weight decay
 * applies to all but the first). */
enum { VEC = 0, EMB = 1, LIN = 2, QEMB = 3 };

/* Places a (rows, cols) quantized matrix at the end of quant_mem. */
static void add_qm(layout *L, mmg__qmatrix *q, int64_t rows, int64_t cols) {
    const size_t values = mmg__quant_values_bytes(L->quant, (size_t)rows, (size_t)cols);
    if (L->m) {
        q->q = (int8_t *)(L->m->quant_mem + L->quant_bytes);
        q->d = L->quant == MMG__QUANT_F16 ? NULL : (uint16_t *)(L->m->quant_mem + L->quant_bytes + values);
        q->rows = (int)rows;
        q->cols = (int)cols;
        q->type = L->quant;
    }
    L->quant_bytes += values + mmg__quant_scales_bytes(L->quant, (size_t)rows, (size_t)cols);
}

static float *add(layout *L, const char *name, int64_t d0, int64_t d1, int kind) {
    size_t numel = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
    const int quantized = (kind == LIN || kind == QEMB) && L->quant != MMG__QUANT_NONE;
    float *p = NULL;
    if (L->m) {
        mmg__param *t = &L->m->tensors[L->n_tensors];
        snprintf(t->name, sizeof t->name, "%s", name);
        t->offset = L->n_floats;
        t->data = quantized ? NULL : L->m->params + L->n_floats;
        t->numel = numel;
        t->ndim = d1 > 0 ? 2 : 1;
        t->shape[0] = d0;
        t->shape[1] = d1 > 0 ? d1 : 1;
        t->decay = kind != VEC;
        t->linear = kind == LIN;
        t->qm = quantized ? &L->m->qm[L->n_tensors] : NULL;
        p = t->data;
    }
    if (quantized) add_qm(L, L->m ? &L->m->qm[L->n_tensors] : NULL, d0, d1);
    else L->n_floats += numel;
    L->n_tensors++;
    return p;
}

/* The quantized matrix of the tensor added last (NULL while counting or F32). */
static const mmg__qmatrix *last_qm(const layout *L) {
    return L->m ? L->m->tensors[L->n_tensors - 1].qm : NULL;
}

static void add_layer(layout *L, mmg__layer *ly, const char *prefix, int i, int cross,
                      const mmg_model_config *c) {
    const int64_t C = c->d_model, F = c->d_ff;
    const int bias = c->bias, nb = c->norm_bias;
    char n[MMG__PARAM_NAME_MAX];
    mmg__layer tmp;
    if (!ly) ly = &tmp;
    memset(ly, 0, sizeof *ly);
#define P(field, suffix, d0, d1, kind)                                   \
    (snprintf(n, sizeof n, "%s.layers.%d.%s", prefix, i, suffix),        \
     ly->field = add(L, n, d0, d1, kind))
/* a linear layer's weight: F32 field and Q8_0 field */
#define W(field, qfield, suffix, d0, d1) (P(field, suffix, d0, d1, LIN), ly->qfield = last_qm(L))
    P(sa_ln_w, "sa_norm.weight", C, 0, VEC);
    if (nb) P(sa_ln_b, "sa_norm.bias", C, 0, VEC);
    W(sa_qkv_w, sa_qkv_q, "self_attn.qkv.weight", 3 * C, C);
    if (bias) P(sa_qkv_b, "self_attn.qkv.bias", 3 * C, 0, VEC);
    W(sa_out_w, sa_out_q, "self_attn.out.weight", C, C);
    if (bias) P(sa_out_b, "self_attn.out.bias", C, 0, VEC);
    if (cross) {
        P(ca_ln_w, "ca_norm.weight", C, 0, VEC);
        if (nb) P(ca_ln_b, "ca_norm.bias", C, 0, VEC);
        W(ca_q_w, ca_q_q, "cross_attn.q.weight", C, C);
        if (bias) P(ca_q_b, "cross_attn.q.bias", C, 0, VEC);
        W(ca_kv_w, ca_kv_q, "cross_attn.kv.weight", 2 * C, C);
        if (bias) P(ca_kv_b, "cross_attn.kv.bias", 2 * C, 0, VEC);
        W(ca_out_w, ca_out_q, "cross_attn.out.weight", C, C);
        if (bias) P(ca_out_b, "cross_attn.out.bias", C, 0, VEC);
    }
    P(ff_ln_w, "ff_norm.weight", C, 0, VEC);
    if (nb) P(ff_ln_b, "ff_norm.bias", C, 0, VEC);
    W(ff_w1, ff_w1_q, "ff.fc1.weight", F, C);
    if (bias) P(ff_b1, "ff.fc1.bias", F, 0, VEC);
    W(ff_w2, ff_w2_q, "ff.fc2.weight", C, F);
    if (bias) P(ff_b2, "ff.fc2.bias", C, 0, VEC);
#undef W
#undef P
}

/* A stack's final LayerNorm: "<stack>.norm.weight" and, with norm_bias,
 * "<stack>.norm.bias". w and b are NULL while counting. */
static void add_final_norm(layout *L, const char *stack, float **w, float **b,
                           const mmg_model_config *c) {
    char n[MMG__PARAM_NAME_MAX];
    snprintf(n, sizeof n, "%s.norm.weight", stack);
    float *p = add(L, n, c->d_model, 0, VEC);
    if (w) *w = p;
    if (!c->norm_bias) return;
    snprintf(n, sizeof n, "%s.norm.bias", stack);
    p = add(L, n, c->d_model, 0, VEC);
    if (b) *b = p;
}

static void build_layout(layout *L, const mmg_model_config *c) {
    mmg_model *m = L->m;
    const int64_t C = c->d_model, V = c->vocab_size, T = c->max_seq_len;
    const int has_enc = c->n_encoder_layers > 0;
    float *p;
    p = add(L, "tok_emb.weight", V, C, L->quant_emb ? QEMB : EMB);
    if (m) m->wte = p, m->wte_qm = last_qm(L);
    if (c->position_encoding == MMG_POS_LEARNED) {
        p = add(L, "pos_emb.weight", T, C, EMB);
        if (m) m->wpe = p;
    }
    for (int i = 0; i < c->n_encoder_layers; i++)
        add_layer(L, m ? &m->enc[i] : NULL, "encoder", i, 0, c);
    if (has_enc && c->final_norm)
        add_final_norm(L, "encoder", m ? &m->enc_ln_w : NULL, m ? &m->enc_ln_b : NULL, c);
    for (int i = 0; i < c->n_decoder_layers; i++)
        add_layer(L, m ? &m->dec[i] : NULL, "decoder", i, has_enc, c);
    if (c->final_norm)
        add_final_norm(L, "decoder", m ? &m->dec_ln_w : NULL, m ? &m->dec_ln_b : NULL, c);
    if (!c->tied_output) {
        p = add(L, "lm_head.weight", V, C, LIN);
        if (m) m->lm_head = p, m->lm_head_qm = last_qm(L);
    } else {
        if (m) m->lm_head = m->wte;
        /* the logits read the quantized embedding, or a quantized copy of it */
        if (m && m->wte_qm) {
            m->lm_head_qm = m->wte_qm;
        } else if (L->quant != MMG__QUANT_NONE && !L->quant_emb) {
            add_qm(L, m ? &m->tied_qm : NULL, V, C);
            if (m) m->lm_head_qm = &m->tied_qm;
        }
    }
}

static void *aligned_alloc64(size_t bytes) {
    /* Through mmg__malloc (fault injection), over-allocated and aligned by
     * hand; the original pointer sits just before the aligned block. */
    void *raw = mmg__malloc(bytes + 64 + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    ((void **)a)[-1] = raw;
    return (void *)a;
}

static void aligned_free64(void *p) {
    if (p) mmg__free(((void **)p)[-1]);
}


mmg_status mmg__model_alloc(const mmg_model_config *cfg, uint64_t memory_limit, mmg_model **out) {
    return mmg__model_alloc_quant(cfg, memory_limit, MMG__QUANT_NONE, 0, MMG_ERR_UNSUPPORTED, out);
}

/* Q8_0 and Q4_0 cut rows into blocks of 32: every row length (d_model,
 * d_ff) must be a multiple of 32. */
mmg_status mmg__model_check_quant_shapes(const mmg_model_config *c, int quant, mmg_status refusal) {
    const char *field = c->d_model % MMG__QUANT_BLOCK ? "d_model" : c->d_ff % MMG__QUANT_BLOCK ? "d_ff" : NULL;
    if (!field) return MMG_OK;
    return mmg__error(refusal,
                      "%s weights need rows of whole 32-weight blocks, but %s is %d (not a "
                      "multiple of 32)",
                      mmg__quant_type_of(quant)->label, field, field[2] == 'm' ? c->d_model : c->d_ff);
}

mmg_status mmg__model_alloc_quant(const mmg_model_config *cfg, uint64_t memory_limit, int quant,
                                  int quant_emb, mmg_status refusal, mmg_model **out) {
    mmg_model_config c;
    mmg_status s = mmg__config_read(cfg, &c);
    if (s) return s;
    uint64_t n;
    s = mmg__config_n_params(&c, &n);
    if (s) return s;
    if (quant != MMG__QUANT_NONE && (s = mmg__model_check_quant_shapes(&c, quant, refusal))) return s;
    quant_emb = quant_emb && quant != MMG__QUANT_NONE;
    layout count = {0};
    count.quant = quant;
    count.quant_emb = quant_emb;
    build_layout(&count, &c);
    uint64_t limit = memory_limit ? memory_limit : mmg__physical_memory();
    uint64_t bytes = (uint64_t)count.n_floats * sizeof(float) + count.quant_bytes;
    if (c.position_encoding == MMG_POS_SINUSOIDAL)
        bytes += (uint64_t)c.max_seq_len * (uint64_t)c.d_model * sizeof(float);
    if (limit && bytes > limit)
        return mmg__error(MMG_ERR_LIMIT,
                          "model needs %llu bytes of parameters (%llu weights), over the memory "
                          "limit of %llu bytes",
                          (unsigned long long)bytes, (unsigned long long)n,
                          (unsigned long long)limit);

    mmg_model *m = mmg__calloc(1, sizeof *m);
    if (!m) return mmg__error(MMG_ERR_NOMEM, "out of memory allocating a model");
    m->cfg = c;
    m->hs = c.d_model / c.n_heads;
    m->emb_scale = c.scale_embeddings ? sqrtf((float)c.d_model) : 1.0f;
    m->refcount = 1;
    m->quant = quant;
    m->n_params = count.n_floats;
    m->n_tensors = count.n_tensors;
    m->quant_bytes = count.quant_bytes;
    m->tensors = mmg__calloc((size_t)count.n_tensors, sizeof *m->tensors);
    m->enc = mmg__calloc((size_t)c.n_encoder_layers + 1, sizeof *m->enc);
    m->dec = mmg__calloc((size_t)c.n_decoder_layers, sizeof *m->dec);
    m->params = aligned_alloc64(m->n_params * sizeof(float));
    if (quant != MMG__QUANT_NONE) {
        m->qm = mmg__calloc((size_t)count.n_tensors, sizeof *m->qm);
        m->quant_mem = aligned_alloc64(m->quant_bytes);
    }
    if (c.position_encoding == MMG_POS_SINUSOIDAL)
        m->sinusoid = mmg__malloc((size_t)c.max_seq_len * (size_t)c.d_model * sizeof(float));
    if (!m->tensors || !m->enc || !m->dec || !m->params ||
        (quant != MMG__QUANT_NONE && (!m->qm || !m->quant_mem)) ||
        (c.position_encoding == MMG_POS_SINUSOIDAL && !m->sinusoid)) {
        mmg__model_free_memory(m);
        return mmg__error(MMG_ERR_NOMEM, "out of memory allocating %llu bytes of parameters",
                          (unsigned long long)bytes);
    }
    memset(m->params, 0, m->n_params * sizeof(float));
    if (m->quant_mem) memset(m->quant_mem, 0, m->quant_bytes);
    layout point = {0};
    point.m = m;
    point.quant = quant;
    point.quant_emb = quant_emb;
    build_layout(&point, &c);
    if (m->sinusoid) mmg__sinusoid_table(m->sinusoid, c.max_seq_len, c.d_model);
    m->pos = c.position_encoding == MMG_POS_LEARNED ? m->wpe : m->sinusoid;
    *out = m;
    return MMG_OK;
}

mmg_status mmg__param_quantize_rows(const mmg__param *p, size_t row0, size_t n_rows,
                                    const float *src, const char *where) {
    const mmg__quant_type *qt = mmg__quant_type_of(p->qm->type);
    const size_t cols = (size_t)p->shape[1], nb = cols / MMG__QUANT_BLOCK;
    /* F16 has no scales (d is NULL: no arithmetic on it) */
    uint16_t *d = p->qm->d ? p->qm->d + row0 * nb : NULL;
    size_t bad = mmg__quant_quantize(p->qm->type, src, n_rows * nb, p->qm->q + row0 * nb * qt->value_bytes, d);
    if (!bad) return MMG_OK;
    size_t k = bad - 1;
    return mmg__error(MMG_ERR_NUMERIC,
                      "%s%stensor '%s': row %zu, columns %zu..%zu hold a NaN, an infinity or a "
                      "magnitude above %s, which %s cannot store",
                      where ? where : "", where ? ": " : "", p->name, row0 + k / nb,
                      (k % nb) * MMG__QUANT_BLOCK, (k % nb) * MMG__QUANT_BLOCK + MMG__QUANT_BLOCK - 1,
                      qt->limit, qt->label);
}

mmg_status mmg__model_quantize_tied(mmg_model *m) {
    if (m->quant == MMG__QUANT_NONE || !m->cfg.tied_output || m->wte_qm) return MMG_OK;
    const size_t V = (size_t)m->cfg.vocab_size, C = (size_t)m->cfg.d_model;
    const mmg__quant_type *qt = mmg__quant_type_of(m->quant);
    size_t bad = mmg__quant_quantize(m->quant, m->wte, V * C / MMG__QUANT_BLOCK, m->tied_qm.q, m->tied_qm.d);
    if (!bad) return MMG_OK;
    size_t k = bad - 1, nb = C / MMG__QUANT_BLOCK;
    return mmg__error(MMG_ERR_NUMERIC,
                      "tensor 'tok_emb.weight' (the tied output projection): row %zu, columns "
                      "%zu..%zu hold a NaN, an infinity or a magnitude above %s, which %s "
                      "cannot store",
                      k / nb, (k % nb) * MMG__QUANT_BLOCK, (k % nb) * MMG__QUANT_BLOCK + MMG__QUANT_BLOCK - 1,
                      qt->limit, qt->label);
}

void mmg__model_embed(const mmg_model *m, float *out, const int32_t *tokens, int B, int T, int pos0) {
    if (m->wte_qm) mmg__embedding_forward_q(out, tokens, B, T, pos0, m->wte_qm, m->emb_scale, m->pos, m->cfg.d_model);
    else mmg__embedding_forward(out, tokens, B, T, pos0, m->wte, m->emb_scale, m->pos, m->cfg.d_model);
}

mmg_status mmg__model_refuse_quantized(const mmg_model *m, const char *what) {
    const mmg__quant_type *qt = mmg__quant_type_of(m->quant);
    return mmg__error(MMG_ERR_UNSUPPORTED,
                      "%s: the model's weights are quantized (%s), for inference only; to "
                      "train it, load the file with mmg_model_options.weights = MMG_WEIGHTS_F32 "
                      "(dequantized)",
                      what, qt ? qt->label : "?");
}

void mmg__model_free_memory(mmg_model *m) {
    if (!m) return;
    mmg__model_meta_clear(m);
    aligned_free64(m->params);
    aligned_free64(m->quant_mem);
    mmg__free(m->qm);
    mmg__free(m->sinusoid);
    mmg__free(m->tensors);
    mmg__free(m->enc);
    mmg__free(m->dec);
    mmg__free(m);
}

const mmg__param *mmg__model_find_param(const mmg_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

void mmg__model_retain(mmg_model *m) { __atomic_add_fetch(&m->refcount, 1, __ATOMIC_RELAXED); }

void mmg__model_release(mmg_model *m) {
    if (m && __atomic_sub_fetch(&m->refcount, 1, __ATOMIC_ACQ_REL) == 0) mmg__model_free_memory(m);
}

/* ---- public ------------------------------------------------------------------------ */

mmg_status mmg__model_options_read(const mmg_model_options *user, mmg_model_options *out) {
    options_defaults(out);
    return mmg__read_options(out, sizeof *out, user, "mmg_model_options");
}

mmg_status mmg__model_options_check_weights(const mmg_model_options *o) {
    if (o->quantize_embedding != 0 && o->quantize_embedding != 1)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_options.quantize_embedding is %d; expected 0 or 1",
                          (int)o->quantize_embedding);
    if (o->weights >= MMG_WEIGHTS_DEFAULT && o->weights <= MMG_WEIGHTS_F16) return MMG_OK;
    return mmg__error(MMG_ERR_INVALID_ARG,
                      "mmg_model_options.weights is %d; expected MMG_WEIGHTS_DEFAULT (0), "
                      "MMG_WEIGHTS_F32 (1), MMG_WEIGHTS_Q8_0 (2), MMG_WEIGHTS_Q4_0 (3) or "
                      "MMG_WEIGHTS_F16 (4)",
                      (int)o->weights);
}

int mmg__quant_of_weights(int32_t weights) {
    return weights == MMG_WEIGHTS_Q8_0   ? MMG__QUANT_Q8_0
           : weights == MMG_WEIGHTS_Q4_0 ? MMG__QUANT_Q4_0
           : weights == MMG_WEIGHTS_F16  ? MMG__QUANT_F16
                                         : MMG__QUANT_NONE;
}

/* A model quantized to `quant` (its token embedding too with `quant_emb`)
 * with the weights of the F32 model `src` (its metadata too). */
static mmg_status quantize_model(const mmg_model *src, int quant, int quant_emb, uint64_t memory_limit,
                                 mmg_model **out) {
    mmg_model *q = NULL;
    mmg_status s = mmg__model_alloc_quant(&src->cfg, memory_limit, quant, quant_emb, MMG_ERR_UNSUPPORTED, &q);
    if (s) return s;
    for (int i = 0; i < q->n_tensors && !s; i++) {
        const mmg__param *p = &q->tensors[i], *f = &src->tensors[i];
        if (p->qm) s = mmg__param_quantize_rows(p, 0, (size_t)p->shape[0], f->data, NULL);
        else memcpy(p->data, f->data, p->numel * sizeof(float));
    }
    if (!s) s = mmg__model_quantize_tied(q);
    for (size_t i = 0; i < src->n_meta && !s; i++)
        s = mmg_model_set_metadata(q, src->meta[i].key, src->meta[i].value);
    if (s) {
        mmg__model_free_memory(q);
        return s;
    }
    *out = q;
    return MMG_OK;
}

/* dst (n) ~ N(0, std^2): Box-Muller in double precision using both values
 * of each pair (twice as fast as one normal per pair for large models). */
static void fill_normal(mmg__rng *rng, float *dst, size_t n, float std) {
    for (size_t j = 0; j < n; j += 2) {
        double u1 = 1.0 - mmg__rng_uniform_double(rng); /* (0, 1]: log is finite */
        double u2 = mmg__rng_uniform_double(rng);
        double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586476925 * u2;
        dst[j] = (float)(std * r * cos(a));
        if (j + 1 < n) dst[j + 1] = (float)(std * r * sin(a));
    }
}

static void scale_by(float *w, size_t n, float s) {
    for (size_t i = 0; i < n; i++) w[i] *= s;
}

/* GPT-2's scaled init ("we scale the weights of residual layers at
 * initialization by a factor of 1/sqrt(N) where N is the number of residual
 * layers"): the matrices whose output is added to the residual stream of one
 * stack, N = its residual branches (2 per layer, 3 with cross-attention).
 * Applied after the draws, so both schemes use the same random numbers. */
static void scale_residual_projections(mmg__layer *layers, int n_layers, int cross,
                                       const mmg_model_config *c) {
    if (n_layers <= 0) return;
    const size_t C = (size_t)c->d_model, F = (size_t)c->d_ff;
    const float s = 1.0f / sqrtf((float)((cross ? 3 : 2) * n_layers));
    for (int l = 0; l < n_layers; l++) {
        scale_by(layers[l].sa_out_w, C * C, s);       /* (C, C) */
        if (cross) scale_by(layers[l].ca_out_w, C * C, s); /* (C, C) */
        scale_by(layers[l].ff_w2, C * F, s);          /* (C, F) */
    }
}

mmg_status mmg_model_create(const mmg_model_config *config, const mmg_model_options *opts,
                            mmg_model **out) {
    if (!out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_create: out is NULL");
    mmg_model_options o;
    mmg_status s = mmg__model_options_read(opts, &o);
    if (s) return s;
    if (!(o.init_std >= 0.0f) || !isfinite(o.init_std))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_model_options.init_std is %g; it must be finite and >= 0",
                          (double)o.init_std);
    if (o.init_scheme != MMG_INIT_NORMAL && o.init_scheme != MMG_INIT_GPT2)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_model_options.init_scheme is %d; expected MMG_INIT_NORMAL (0) or "
                          "MMG_INIT_GPT2 (1)",
                          (int)o.init_scheme);
    if ((s = mmg__model_options_check_weights(&o))) return s;
    const int quant = mmg__quant_of_weights(o.weights);
    if (quant != MMG__QUANT_NONE) {
        /* refuse before drawing the F32 weights */
        mmg_model_config c;
        if (!mmg__config_read(config, &c) &&
            (s = mmg__model_check_quant_shapes(&c, quant, MMG_ERR_UNSUPPORTED)))
            return s;
    }
    mmg_model *m;
    s = mmg__model_alloc(config, o.memory_limit, &m);
    if (s) return s;
    /* Tensors in canonical order, each filled by one sequential RNG stream:
     * the same seed gives the same weights on every machine. */
    mmg__rng rng;
    mmg__rng_seed(&rng, o.seed);
    for (int i = 0; i < m->n_tensors; i++) {
        mmg__param *t = &m->tensors[i];
        if (t->ndim == 2) {
            fill_normal(&rng, t->data, t->numel, o.init_std);
        } else {
            size_t len = strlen(t->name);
            int is_ln_weight = len > 11 && strcmp(t->name + len - 11, "norm.weight") == 0;
            float v = is_ln_weight ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) t->data[j] = v;
        }
    }
    if (o.init_scheme == MMG_INIT_GPT2) {
        const mmg_model_config *c = &m->cfg;
        scale_residual_projections(m->enc, c->n_encoder_layers, 0, c);
        scale_residual_projections(m->dec, c->n_decoder_layers, c->n_encoder_layers > 0, c);
    }
    if (quant != MMG__QUANT_NONE) {
        mmg_model *q = NULL;
        s = quantize_model(m, quant, o.quantize_embedding, o.memory_limit, &q);
        mmg__model_free_memory(m);
        if (s) return s;
        m = q;
    }
    *out = m;
    return MMG_OK;
}

void mmg_model_free(mmg_model *model) { mmg__model_release(model); }

mmg_status mmg_model_get_config(const mmg_model *model, mmg_model_config *config) {
    if (!model) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_get_config: model is NULL");
    if (!config) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_model_get_config: config is NULL");
    size_t size;
    memcpy(&size, config, sizeof size);
    if (size < sizeof(size_t))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_model_config.struct_size is %zu; set it with mmg_model_config_init",
                          size);
    size_t n = size < sizeof model->cfg ? size : sizeof model->cfg;
    memcpy((char *)config + sizeof(size_t), (const char *)&model->cfg + sizeof(size_t),
           n - sizeof(size_t));
    return MMG_OK;
}

uint64_t mmg_model_n_params(const mmg_model *model) {
    if (!model) return 0;
    uint64_t n = model->n_params;
    for (int i = 0; i < model->n_tensors; i++)
        if (model->tensors[i].qm) n += model->tensors[i].numel;
    return n;
}
