/* core/forward.c - the batched full forward pass (teacher forcing, training).
 *
 * Reads like the architecture: embeddings, encoder layers, final encoder
 * LayerNorm, decoder layers (self-attention, cross-attention, feed-forward),
 * final decoder LayerNorm, output projection. Every intermediate the backward
 * pass needs is kept in mmg__activations (model-impl.h documents which).
 * Training's dropout is a hook of this same layer loop, active only when a
 * dropout descriptor is passed (mmg__forward_ex); inference passes none. */
#include <omp.h>
#include <string.h>

#include "error.h"
#include "memory.h"
#include "model-impl.h"
#include "ops.h"
#include "ops_backward.h"

/* ---- activation layout ----------------------------------------------------------- */

typedef struct acts_layout {
    mmg__activations *a; /* NULL while counting */
    uint64_t n;          /* floats so far */
    int overflow;
} acts_layout;

static float *take(acts_layout *L, uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3) {
    uint64_t n = d0;
    uint64_t dims[3] = {d1, d2, d3};
    for (int i = 0; i < 3; i++) {
        if (dims[i] != 0 && n > UINT64_MAX / dims[i]) L->overflow = 1;
        n *= dims[i];
    }
    /* Round each tensor up to 16 floats so every one starts 64-byte aligned. */
    n = (n + 15) & ~(uint64_t)15;
    if (n > UINT64_MAX - L->n) L->overflow = 1;
    float *p = (L->a && !L->overflow) ? L->a->mem + L->n : NULL;
    L->n += n;
    return p;
}

static void layout_layer(acts_layout *L, mmg__layer_acts *la, const mmg_model *m, uint64_t B,
                         uint64_t T, uint64_t Ts, int cross) {
    const uint64_t C = (uint64_t)m->cfg.d_model, H = (uint64_t)m->cfg.n_heads,
                   F = (uint64_t)m->cfg.d_ff;
    mmg__layer_acts tmp;
    if (!la) la = &tmp;
    memset(la, 0, sizeof *la);
    la->sa_ln = take(L, B, T, C, 1);
    la->sa_mean = take(L, B, T, 1, 1);
    la->sa_rstd = take(L, B, T, 1, 1);
    la->sa_qkv = take(L, B, T, 3 * C, 1);
    la->sa_att = take(L, B, H, T, T);
    la->sa_y = take(L, B, T, C, 1);
    la->sa_res = take(L, B, T, C, 1);
    if (cross) {
        la->ca_ln = take(L, B, T, C, 1);
        la->ca_mean = take(L, B, T, 1, 1);
        la->ca_rstd = take(L, B, T, 1, 1);
        la->ca_q = take(L, B, T, C, 1);
        la->ca_kv = take(L, B, Ts, 2 * C, 1);
        la->ca_att = take(L, B, H, T, Ts);
        la->ca_y = take(L, B, T, C, 1);
        la->ca_res = take(L, B, T, C, 1);
    }
    la->ff_ln = take(L, B, T, C, 1);
    la->ff_mean = take(L, B, T, 1, 1);
    la->ff_rstd = take(L, B, T, 1, 1);
    la->ff_h = take(L, B, T, F, 1);
    la->ff_a = take(L, B, T, F, 1);
    la->ff_res = take(L, B, T, C, 1);
    la->out = m->cfg.norm_placement == MMG_NORM_PRE ? la->ff_res : la->ff_ln;
}

static void layout_acts(acts_layout *L, const mmg_model *m, uint64_t B, uint64_t Ts, uint64_t Tt) {
    mmg__activations *a = L->a;
    const uint64_t C = (uint64_t)m->cfg.d_model;
    const int n_enc = m->cfg.n_encoder_layers, n_dec = m->cfg.n_decoder_layers;
    const int fn = m->cfg.final_norm;
    float *p;
    if (n_enc > 0) {
        p = take(L, B, Ts, C, 1);
        if (a) a->enc_emb = p;
        for (int l = 0; l < n_enc; l++) layout_layer(L, a ? &a->enc[l] : NULL, m, B, Ts, Ts, 0);
        if (fn) {
            p = take(L, B, Ts, C, 1);
            if (a) a->enc_out = p;
            p = take(L, B, Ts, 1, 1);
            if (a) a->enc_mean = p;
            p = take(L, B, Ts, 1, 1);
            if (a) a->enc_rstd = p;
        } else if (a) {
            a->enc_out = a->enc[n_enc - 1].out;
        }
    }
    p = take(L, B, Tt, C, 1);
    if (a) a->dec_emb = p;
    for (int l = 0; l < n_dec; l++) layout_layer(L, a ? &a->dec[l] : NULL, m, B, Tt, Ts, n_enc > 0);
    if (fn) {
        p = take(L, B, Tt, C, 1);
        if (a) a->dec_out = p;
        p = take(L, B, Tt, 1, 1);
        if (a) a->dec_mean = p;
        p = take(L, B, Tt, 1, 1);
        if (a) a->dec_rstd = p;
    } else if (a) {
        a->dec_out = a->dec[n_dec - 1].out;
    }
}

size_t mmg__activations_bytes(const mmg_model *m, int B, int Ts, int Tt) {
    if (B <= 0 || Tt <= 0 || Ts < 0) return 0;
    if (m->cfg.n_encoder_layers == 0) Ts = 0;
    acts_layout L = {0};
    layout_acts(&L, m, (uint64_t)B, (uint64_t)Ts, (uint64_t)Tt);
    if (L.overflow || L.n > (uint64_t)(SIZE_MAX / sizeof(float)) - 16) return 0;
    return (size_t)L.n * sizeof(float);
}

mmg_status mmg__activations_create(const mmg_model *m, int B, int Ts, int Tt, uint64_t memory_limit,
                                   mmg__activations **out) {
    if (B <= 0 || Tt <= 0 || Ts < 0 || (m->cfg.n_encoder_layers > 0 && Ts <= 0))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "activations: batch %d, source length %d, target length %d must be > 0",
                          B, Ts, Tt);
    if (m->cfg.n_encoder_layers == 0) Ts = 0;
    size_t bytes = mmg__activations_bytes(m, B, Ts, Tt);
    if (bytes == 0)
        return mmg__error(MMG_ERR_LIMIT,
                          "activations for batch %d x (%d, %d) tokens overflow the address space",
                          B, Ts, Tt);
    if (memory_limit && bytes > memory_limit)
        return mmg__error(MMG_ERR_LIMIT,
                          "activations for batch %d x (%d, %d) tokens need %zu bytes, over the "
                          "limit of %llu bytes",
                          B, Ts, Tt, bytes, (unsigned long long)memory_limit);
    mmg__activations *a = mmg__calloc(1, sizeof *a);
    if (!a) return mmg__error(MMG_ERR_NOMEM, "out of memory allocating activations");
    a->B = B;
    a->Ts = Ts;
    a->Tt = Tt;
    a->n_floats = bytes / sizeof(float);
    a->enc = mmg__calloc((size_t)m->cfg.n_encoder_layers + 1, sizeof *a->enc);
    a->dec = mmg__calloc((size_t)m->cfg.n_decoder_layers, sizeof *a->dec);
    a->src_len = mmg__calloc((size_t)B, sizeof *a->src_len);
    a->tgt_len = mmg__calloc((size_t)B, sizeof *a->tgt_len);
    /* calloc: the padding rows of partially used buffers stay finite. */
    a->mem = mmg__calloc(a->n_floats, sizeof(float));
    const int scratch = mmg__quant_needs_scratch(m->quant);
    if (scratch)
        mmg__q8_scratch_create(m->cfg.d_model > m->cfg.d_ff ? m->cfg.d_model : m->cfg.d_ff,
                               omp_get_max_threads(), &a->q8);
    if (!a->enc || !a->dec || !a->src_len || !a->tgt_len || !a->mem || (scratch && !a->q8)) {
        mmg__activations_free(a);
        return mmg__error(MMG_ERR_NOMEM, "out of memory allocating %zu bytes of activations",
                          bytes);
    }
    acts_layout L = {a, 0, 0};
    layout_acts(&L, m, (uint64_t)B, (uint64_t)Ts, (uint64_t)Tt);
    *out = a;
    return MMG_OK;
}

void mmg__activations_free(mmg__activations *a) {
    if (!a) return;
    mmg__free(a->mem);
    mmg__free(a->enc);
    mmg__free(a->dec);
    mmg__free(a->src_len);
    mmg__free(a->tgt_len);
    mmg__q8_scratch_free(a->q8);
    mmg__free(a);
}

/* ---- dropout masks ------------------------------------------------------------------ */

typedef struct drop_layout {
    mmg__dropout *d; /* NULL while counting */
    uint64_t n;      /* bytes so far */
    int overflow;
} drop_layout;

static uint8_t *take_mask(drop_layout *L, uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3) {
    uint64_t n = d0;
    uint64_t dims[3] = {d1, d2, d3};
    for (int i = 0; i < 3; i++) {
        if (dims[i] != 0 && n > UINT64_MAX / dims[i]) L->overflow = 1;
        n *= dims[i];
    }
    n = (n + 63) & ~(uint64_t)63; /* each mask 64-byte aligned */
    if (n > UINT64_MAX - L->n) L->overflow = 1;
    uint8_t *p = (L->d && !L->overflow) ? L->d->mem + L->n : NULL;
    L->n += n;
    return p;
}

static void layout_drop_layer(drop_layout *L, mmg__layer_drop *ld, const mmg_model *m, uint64_t B,
                              uint64_t T, uint64_t Ts, int cross) {
    const uint64_t C = (uint64_t)m->cfg.d_model, H = (uint64_t)m->cfg.n_heads;
    mmg__layer_drop tmp;
    if (!ld) ld = &tmp;
    memset(ld, 0, sizeof *ld);
    ld->sa_att = take_mask(L, B, H, T, T);
    ld->sa_out = take_mask(L, B, T, C, 1);
    if (cross) {
        ld->ca_att = take_mask(L, B, H, T, Ts);
        ld->ca_out = take_mask(L, B, T, C, 1);
    }
    ld->ff_out = take_mask(L, B, T, C, 1);
}

static void layout_drop(drop_layout *L, const mmg_model *m, uint64_t B, uint64_t Ts, uint64_t Tt) {
    const uint64_t C = (uint64_t)m->cfg.d_model;
    const int n_enc = m->cfg.n_encoder_layers, n_dec = m->cfg.n_decoder_layers;
    mmg__dropout *d = L->d;
    uint8_t *p;
    if (n_enc > 0) {
        p = take_mask(L, B, Ts, C, 1);
        if (d) d->enc_emb = p;
        for (int l = 0; l < n_enc; l++) layout_drop_layer(L, d ? &d->enc[l] : NULL, m, B, Ts, Ts, 0);
    }
    p = take_mask(L, B, Tt, C, 1);
    if (d) d->dec_emb = p;
    for (int l = 0; l < n_dec; l++)
        layout_drop_layer(L, d ? &d->dec[l] : NULL, m, B, Tt, Ts, n_enc > 0);
}

/* Floats of the two buffers: tmp (B, T, C) and scratch (n_threads, QB, T). */
static uint64_t drop_floats(const mmg_model *m, uint64_t B, uint64_t T, uint64_t n_threads) {
    return B * T * (uint64_t)m->cfg.d_model + n_threads * MMG__ATT_BLOCK_Q * T;
}

size_t mmg__dropout_bytes(const mmg_model *m, int B, int Ts, int Tt, int n_threads) {
    if (B <= 0 || Tt <= 0 || Ts < 0) return 0;
    if (m->cfg.n_encoder_layers == 0) Ts = 0;
    if (n_threads < 1) n_threads = 1;
    drop_layout L = {0};
    layout_drop(&L, m, (uint64_t)B, (uint64_t)Ts, (uint64_t)Tt);
    /* B, T, C, n_threads are ints: the float count cannot overflow 64 bits */
    uint64_t floats = drop_floats(m, (uint64_t)B, (uint64_t)(Ts > Tt ? Ts : Tt), (uint64_t)n_threads);
    if (L.overflow || floats > (UINT64_MAX - L.n) / sizeof(float)) return 0;
    uint64_t total = L.n + floats * sizeof(float);
    return total > (uint64_t)SIZE_MAX / 2 ? 0 : (size_t)total;
}

mmg_status mmg__dropout_create(const mmg_model *m, float p, int B, int Ts, int Tt, int n_threads,
                               mmg__dropout **out) {
    if (m->cfg.n_encoder_layers == 0) Ts = 0;
    if (n_threads < 1) n_threads = 1;
    if (mmg__dropout_bytes(m, B, Ts, Tt, n_threads) == 0)
        return mmg__error(MMG_ERR_LIMIT, "dropout masks for batch %d x (%d, %d) tokens overflow "
                          "the address space", B, Ts, Tt);
    drop_layout L = {0};
    layout_drop(&L, m, (uint64_t)B, (uint64_t)Ts, (uint64_t)Tt);
    const size_t T = (size_t)(Ts > Tt ? Ts : Tt);
    mmg__dropout *d = mmg__calloc(1, sizeof *d);
    if (!d) return mmg__error(MMG_ERR_NOMEM, "trainer: out of memory for dropout masks");
    d->mask_bytes = (size_t)L.n;
    d->mem = mmg__malloc(d->mask_bytes ? d->mask_bytes : 1);
    d->enc = mmg__calloc((size_t)m->cfg.n_encoder_layers + 1, sizeof *d->enc);
    d->dec = mmg__calloc((size_t)m->cfg.n_decoder_layers, sizeof *d->dec);
    d->tmp = mmg__malloc((size_t)B * T * (size_t)m->cfg.d_model * sizeof(float));
    d->scratch = mmg__malloc((size_t)n_threads * MMG__ATT_BLOCK_Q * T * sizeof(float));
    if (!d->mem || !d->enc || !d->dec || !d->tmp || !d->scratch) {
        mmg__dropout_free(d);
        return mmg__error(MMG_ERR_NOMEM, "trainer: out of memory for %zu bytes of dropout masks",
                          (size_t)L.n);
    }
    L = (drop_layout){d, 0, 0};
    layout_drop(&L, m, (uint64_t)B, (uint64_t)Ts, (uint64_t)Tt);
    d->p = p;
    d->B = B;
    d->Ts = Ts;
    d->Tt = Tt;
    d->n_threads = n_threads;
    *out = d;
    return MMG_OK;
}

void mmg__dropout_free(mmg__dropout *d) {
    if (!d) return;
    mmg__free(d->mem);
    mmg__free(d->enc);
    mmg__free(d->dec);
    mmg__free(d->tmp);
    mmg__free(d->scratch);
    mmg__free(d);
}

/* The stream number of a dropout site: one per (stack, layer, site); layer -1
 * is the embeddings. Changing these changes every trained run's masks. */
enum { SITE_EMB = 0, SITE_SA_ATT = 1, SITE_SA_OUT = 2, SITE_CA_ATT = 3, SITE_CA_OUT = 4, SITE_FF_OUT = 5 };
static uint64_t stream_of(int decoder, int layer, int site) {
    return ((uint64_t)decoder << 40) | ((uint64_t)(layer + 1) << 8) | (uint64_t)site;
}

/* ---- forward --------------------------------------------------------------------- */

mmg_status mmg__check_tokens(const mmg_model *m, const char *what, const int32_t *tokens, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size)
            return mmg__error(MMG_ERR_RANGE, "%s token %zu is %d; ids must be in [0, %d)", what, i,
                              (int)tokens[i], m->cfg.vocab_size);
    return MMG_OK;
}

/* A sub-layer's branch joining the residual stream: out = resid + inp W^T + bias,
 * with dropout on the branch when `mask` is non-NULL (the descriptor's tmp
 * holds the branch output). Without dropout it is one fused pass. */
static void branch_residual(const mmg__dropout *d, uint8_t *mask, uint64_t stream, float *out,
                            const float *inp, const float *w, const mmg__qmatrix *wq,
                            const float *bias, const float *resid, int N, int IC, int OC,
                            mmg__q8_scratch *q8) {
    if (wq) { /* a quantized model: inference only, no dropout */
        mmg__quant_linear(out, inp, wq, bias, resid, N, q8);
        return;
    }
    if (!mask) {
        mmg__matmul_residual_forward(out, inp, w, bias, resid, N, IC, OC);
        return;
    }
    const size_t n = (size_t)N * OC;
    mmg__matmul_forward(d->tmp, inp, w, bias, N, IC, OC);
    mmg__dropout_forward(d->tmp, mask, d->tmp, n, d->p, d->seed, stream);
    mmg__residual_forward(out, resid, d->tmp, n);
}

/* A linear layer: out = inp W^T + bias, with W in F32 or in Q8_0 (wq). */
static void linear(float *out, const float *inp, const float *w, const mmg__qmatrix *wq,
                   const float *bias, int N, int IC, int OC, mmg__q8_scratch *q8) {
    if (wq) mmg__quant_linear(out, inp, wq, bias, NULL, N, q8);
    else mmg__matmul_forward(out, inp, w, bias, N, IC, OC);
}

/* Attention with its dropout: the mask is drawn first, the kernel applies it
 * per block of query rows. */
static void attention(const mmg__dropout *d, uint8_t *mask, uint64_t stream, float *out, float *att,
                      const float *q, int q_stride, const float *k, int k_stride, const float *v,
                      int v_stride, const int32_t *key_len, int B, int H, int Tq, int Tk, int hs,
                      int causal) {
    if (mask) mmg__dropout_mask(mask, (size_t)B * H * Tq * Tk, d->p, d->seed, stream);
    mmg__attention_forward_ex(out, att, d ? d->scratch : NULL, q, q_stride, k, k_stride, v,
                              v_stride, key_len, B, H, Tq, Tk, hs, causal, 0, mask,
                              d ? d->p : 0.0f);
}

/* One layer over x (B, T, C). Encoder layers: causal 0, no cross. Decoder
 * layers: causal 1, and cross-attention over enc (B, Ts, C) when the model
 * has an encoder. d/ld: the dropout descriptor and this layer's masks, or
 * NULL (inference); `stream` is stream_of(stack, layer, 0). */
static void layer_forward(const mmg_model *m, const mmg__layer *p, mmg__layer_acts *a,
                          const mmg__dropout *d, const mmg__layer_drop *ld, uint64_t stream,
                          const float *x, int B, int T, const int32_t *len, int causal,
                          const float *enc, int Ts, const int32_t *src_len, mmg__q8_scratch *q8) {
    const int C = m->cfg.d_model, H = m->cfg.n_heads, hs = m->hs, F = m->cfg.d_ff;
    const int N = B * T;
    const int pre = m->cfg.norm_placement == MMG_NORM_PRE;
    const float eps = m->cfg.layernorm_eps;
    const mmg__layer_drop none = {0};
    if (!ld) ld = &none;
    const float *in;

    /* self-attention */
    if (pre) {
        mmg__layernorm_forward(a->sa_ln, a->sa_mean, a->sa_rstd, x, p->sa_ln_w, p->sa_ln_b, N, C,
                               eps);
        in = a->sa_ln;
    } else {
        in = x;
    }
    linear(a->sa_qkv, in, p->sa_qkv_w, p->sa_qkv_q, p->sa_qkv_b, N, C, 3 * C, q8);
    attention(d, ld->sa_att, stream + SITE_SA_ATT, a->sa_y, a->sa_att, a->sa_qkv, 3 * C,
              a->sa_qkv + C, 3 * C, a->sa_qkv + 2 * C, 3 * C, len, B, H, T, T, hs, causal);
    branch_residual(d, ld->sa_out, stream + SITE_SA_OUT, a->sa_res, a->sa_y, p->sa_out_w,
                    p->sa_out_q, p->sa_out_b, x, N, C, C, q8);
    if (pre) {
        x = a->sa_res;
    } else {
        mmg__layernorm_forward(a->sa_ln, a->sa_mean, a->sa_rstd, a->sa_res, p->sa_ln_w,
                               p->sa_ln_b, N, C, eps);
        x = a->sa_ln;
    }

    /* cross-attention */
    if (enc) {
        if (pre) {
            mmg__layernorm_forward(a->ca_ln, a->ca_mean, a->ca_rstd, x, p->ca_ln_w, p->ca_ln_b, N,
                                   C, eps);
            in = a->ca_ln;
        } else {
            in = x;
        }
        linear(a->ca_q, in, p->ca_q_w, p->ca_q_q, p->ca_q_b, N, C, C, q8);
        linear(a->ca_kv, enc, p->ca_kv_w, p->ca_kv_q, p->ca_kv_b, B * Ts, C, 2 * C, q8);
        attention(d, ld->ca_att, stream + SITE_CA_ATT, a->ca_y, a->ca_att, a->ca_q, C, a->ca_kv,
                  2 * C, a->ca_kv + C, 2 * C, src_len, B, H, T, Ts, hs, 0);
        branch_residual(d, ld->ca_out, stream + SITE_CA_OUT, a->ca_res, a->ca_y, p->ca_out_w,
                        p->ca_out_q, p->ca_out_b, x, N, C, C, q8);
        if (pre) {
            x = a->ca_res;
        } else {
            mmg__layernorm_forward(a->ca_ln, a->ca_mean, a->ca_rstd, a->ca_res, p->ca_ln_w,
                                   p->ca_ln_b, N, C, eps);
            x = a->ca_ln;
        }
    }

    /* feed-forward */
    if (pre) {
        mmg__layernorm_forward(a->ff_ln, a->ff_mean, a->ff_rstd, x, p->ff_ln_w, p->ff_ln_b, N, C,
                               eps);
        in = a->ff_ln;
    } else {
        in = x;
    }
    linear(a->ff_h, in, p->ff_w1, p->ff_w1_q, p->ff_b1, N, C, F, q8);
    mmg__activation_forward(a->ff_a, a->ff_h, (size_t)N * F, m->cfg.activation);
    branch_residual(d, ld->ff_out, stream + SITE_FF_OUT, a->ff_res, a->ff_a, p->ff_w2, p->ff_w2_q,
                    p->ff_b2, x, N, F, C, q8);
    if (!pre)
        mmg__layernorm_forward(a->ff_ln, a->ff_mean, a->ff_rstd, a->ff_res, p->ff_ln_w,
                               p->ff_ln_b, N, C, eps);
}

static mmg_status check_lengths(const char *what, const int32_t *len, int B, int T) {
    if (!len) return MMG_OK;
    for (int b = 0; b < B; b++)
        if (len[b] < 1 || len[b] > T)
            return mmg__error(MMG_ERR_RANGE, "%s length %d of sequence %d is outside [1, %d]", what,
                              (int)len[b], b, T);
    return MMG_OK;
}

mmg_status mmg__forward(const mmg_model *m, mmg__activations *acts, const int32_t *src,
                        const int32_t *src_len, const int32_t *tgt, const int32_t *tgt_len, int B,
                        int Ts, int Tt, float *logits) {
    return mmg__forward_ex(m, acts, NULL, src, src_len, tgt, tgt_len, B, Ts, Tt, logits);
}

mmg_status mmg__forward_ex(const mmg_model *m, mmg__activations *acts, mmg__dropout *drop,
                           const int32_t *src, const int32_t *src_len, const int32_t *tgt,
                           const int32_t *tgt_len, int B, int Ts, int Tt, float *logits) {
    const mmg_model_config *c = &m->cfg;
    const int C = c->d_model, n_enc = c->n_encoder_layers;
    if (!acts || !tgt) return mmg__error(MMG_ERR_INVALID_ARG, "forward: NULL activations or target");
    if (n_enc > 0 && !src)
        return mmg__error(MMG_ERR_INVALID_ARG, "forward: an encoder-decoder model needs a source");
    if (n_enc == 0) Ts = 0;
    if (B < 1 || B > acts->B || Tt < 1 || Tt > acts->Tt || Ts > acts->Ts ||
        (n_enc > 0 && Ts < 1))
        return mmg__error(MMG_ERR_RANGE,
                          "forward: batch %d x (source %d, target %d) is outside the activations' "
                          "capacity %d x (%d, %d)",
                          B, Ts, Tt, acts->B, acts->Ts, acts->Tt);
    if (drop && (B > drop->B || Ts > drop->Ts || Tt > drop->Tt))
        return mmg__error(MMG_ERR_RANGE,
                          "forward: batch %d x (source %d, target %d) is outside the dropout "
                          "masks' capacity %d x (%d, %d)",
                          B, Ts, Tt, drop->B, drop->Ts, drop->Tt);
    if (drop && omp_get_max_threads() > drop->n_threads)
        return mmg__error(MMG_ERR_RANGE,
                          "forward: %d OpenMP threads, but the dropout scratch holds %d",
                          omp_get_max_threads(), drop->n_threads);
    if (Ts > c->max_seq_len || Tt > c->max_seq_len)
        return mmg__error(MMG_ERR_RANGE, "forward: sequence length %d exceeds max_seq_len %d",
                          Ts > Tt ? Ts : Tt, c->max_seq_len);
    if (m->quant != MMG__QUANT_NONE && (drop || (mmg__quant_needs_scratch(m->quant) && !acts->q8)))
        return drop ? mmg__model_refuse_quantized(m, "forward with dropout")
                    : mmg__error(MMG_ERR_INVALID_ARG,
                                 "forward: activations made for an F32 model, used with a "
                                 "quantized one");
    mmg_status s = check_lengths("source", src_len, B, Ts);
    if (!s) s = check_lengths("target", tgt_len, B, Tt);
    if (!s && n_enc > 0) s = mmg__check_tokens(m, "source", src, (size_t)B * Ts);
    if (!s) s = mmg__check_tokens(m, "target", tgt, (size_t)B * Tt);
    if (s) return s;
    acts->b = B;
    acts->ts = Ts;
    acts->tt = Tt;
    for (int b = 0; b < B; b++) {
        acts->src_len[b] = src_len ? src_len[b] : Ts;
        acts->tgt_len[b] = tgt_len ? tgt_len[b] : Tt;
    }

    const float *enc = NULL;
    if (n_enc > 0) {
        mmg__model_embed(m, acts->enc_emb, src, B, Ts, 0);
        if (drop)
            mmg__dropout_forward(acts->enc_emb, drop->enc_emb, acts->enc_emb, (size_t)B * Ts * C,
                                 drop->p, drop->seed, stream_of(0, -1, SITE_EMB));
        const float *x = acts->enc_emb;
        for (int l = 0; l < n_enc; l++) {
            layer_forward(m, &m->enc[l], &acts->enc[l], drop, drop ? &drop->enc[l] : NULL,
                          stream_of(0, l, 0), x, B, Ts, acts->src_len, 0, NULL, 0, NULL, acts->q8);
            x = acts->enc[l].out;
        }
        if (c->final_norm)
            mmg__layernorm_forward(acts->enc_out, acts->enc_mean, acts->enc_rstd, x, m->enc_ln_w,
                                   m->enc_ln_b, B * Ts, C, c->layernorm_eps);
        enc = acts->enc_out;
    }

    mmg__model_embed(m, acts->dec_emb, tgt, B, Tt, 0);
    if (drop)
        mmg__dropout_forward(acts->dec_emb, drop->dec_emb, acts->dec_emb, (size_t)B * Tt * C,
                             drop->p, drop->seed, stream_of(1, -1, SITE_EMB));
    const float *x = acts->dec_emb;
    for (int l = 0; l < c->n_decoder_layers; l++) {
        layer_forward(m, &m->dec[l], &acts->dec[l], drop, drop ? &drop->dec[l] : NULL,
                      stream_of(1, l, 0), x, B, Tt, acts->tgt_len, 1, enc, Ts, acts->src_len,
                      acts->q8);
        x = acts->dec[l].out;
    }
    if (c->final_norm)
        mmg__layernorm_forward(acts->dec_out, acts->dec_mean, acts->dec_rstd, x, m->dec_ln_w,
                               m->dec_ln_b, B * Tt, C, c->layernorm_eps);
    if (logits)
        linear(logits, acts->dec_out, m->lm_head, m->lm_head_qm, NULL, B * Tt, C, c->vocab_size,
               acts->q8);
    return MMG_OK;
}
