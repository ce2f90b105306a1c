/* core/train_forward.c - mmg__forward with dropout (see train_forward.h).
 *
 * The layer loop follows forward.c's layer_forward line for line; the only
 * additions are the three dropout sites, marked DROPOUT. */
#include "train_forward.h"

#include <string.h>

#include "error.h"
#include "memory.h"
#include "ops.h"
#include "ops_backward.h"

/* Stream numbers of the dropout sites: one per (stack, layer, site). */
enum { SITE_EMB = 0, SITE_SA_ATT = 1, SITE_SA_OUT = 2, SITE_CA_ATT = 3, SITE_CA_OUT = 4, SITE_FF_OUT = 5 };
static uint64_t stream_of(int decoder, int layer, int site) {
    return ((uint64_t)decoder << 40) | ((uint64_t)(layer + 1) << 8) | (uint64_t)site;
}

typedef struct drop_layout {
    mmg__dropout *d; /* NULL while counting */
    uint64_t n;
} drop_layout;

static uint8_t *take(drop_layout *L, uint64_t a, uint64_t b, uint64_t c, uint64_t e) {
    uint64_t n = a * b * c * e;
    n = (n + 63) & ~(uint64_t)63;
    uint8_t *p = L->d ? L->d->mem + L->n : NULL;
    L->n += n;
    return p;
}

static void layout(drop_layout *L, const mmg_model *m, uint64_t B, uint64_t Ts, uint64_t Tt) {
    const uint64_t C = (uint64_t)m->cfg.d_model, H = (uint64_t)m->cfg.n_heads;
    const int n_enc = m->cfg.n_encoder_layers, n_dec = m->cfg.n_decoder_layers;
    mmg__dropout *d = L->d;
    uint8_t *p;
    if (n_enc > 0) {
        p = take(L, B, Ts, C, 1);
        if (d) d->enc_emb = p;
        for (int l = 0; l < n_enc; l++) {
            mmg__layer_drop tmp, *ld = d ? &d->enc[l] : &tmp;
            memset(ld, 0, sizeof *ld);
            ld->sa_att = take(L, B, H, Ts, Ts);
            ld->sa_out = take(L, B, Ts, C, 1);
            ld->ff_out = take(L, B, Ts, C, 1);
        }
    }
    p = take(L, B, Tt, C, 1);
    if (d) d->dec_emb = p;
    for (int l = 0; l < n_dec; l++) {
        mmg__layer_drop tmp, *ld = d ? &d->dec[l] : &tmp;
        memset(ld, 0, sizeof *ld);
        ld->sa_att = take(L, B, H, Tt, Tt);
        ld->sa_out = take(L, B, Tt, C, 1);
        if (n_enc > 0) {
            ld->ca_att = take(L, B, H, Tt, Ts);
            ld->ca_out = take(L, B, Tt, C, 1);
        }
        ld->ff_out = take(L, B, Tt, C, 1);
    }
}

size_t mmg__dropout_bytes(const mmg_model *m, int B, int Ts, int Tt, int n_threads) {
    if (m->cfg.n_encoder_layers == 0) Ts = 0;
    drop_layout L = {NULL, 0};
    layout(&L, m, (uint64_t)B, (uint64_t)Ts, (uint64_t)Tt);
    uint64_t T = (uint64_t)(Ts > Tt ? Ts : Tt);
    uint64_t floats = (uint64_t)B * T * (uint64_t)m->cfg.d_model + (uint64_t)n_threads * T * T;
    return (size_t)(L.n + floats * sizeof(float));
}

mmg_status mmg__dropout_create(const mmg_model *m, float p, int B, int Ts, int Tt, int n_threads,
                               mmg__dropout **out) {
    if (m->cfg.n_encoder_layers == 0) Ts = 0;
    if (n_threads < 1) n_threads = 1;
    mmg__dropout *d = mmg__calloc(1, sizeof *d);
    if (!d) return mmg__error(MMG_ERR_NOMEM, "trainer: out of memory for dropout masks");
    drop_layout L = {NULL, 0};
    layout(&L, m, (uint64_t)B, (uint64_t)Ts, (uint64_t)Tt);
    const size_t T = (size_t)(Ts > Tt ? Ts : Tt);
    d->mask_bytes = (size_t)L.n;
    d->mem = mmg__malloc(d->mask_bytes ? d->mask_bytes : 1);
    d->enc = mmg__calloc((size_t)m->cfg.n_encoder_layers + 1, sizeof *d->enc);
    d->dec = mmg__calloc((size_t)m->cfg.n_decoder_layers, sizeof *d->dec);
    d->tmp = mmg__malloc((size_t)B * T * (size_t)m->cfg.d_model * sizeof(float));
    d->scratch = mmg__malloc((size_t)n_threads * T * T * sizeof(float));
    if (!d->mem || !d->enc || !d->dec || !d->tmp || !d->scratch) {
        mmg__dropout_free(d);
        return mmg__error(MMG_ERR_NOMEM, "trainer: out of memory for %zu bytes of dropout masks",
                          L.n);
    }
    L.d = d;
    L.n = 0;
    layout(&L, m, (uint64_t)B, (uint64_t)Ts, (uint64_t)Tt);
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

/* DROPOUT: out = resid + drop(inp W^T + bias), the branch joining the residual. */
static void linear_dropout_residual(mmg__dropout *d, uint8_t *mask, uint64_t stream, float *out,
                                    const float *inp, const float *w, const float *bias,
                                    const float *resid, int N, int IC, int OC) {
    const size_t n = (size_t)N * OC;
    mmg__matmul_forward(d->tmp, inp, w, bias, N, IC, OC);
    mmg__dropout_forward(d->tmp, mask, d->tmp, n, d->p, d->seed, stream);
    mmg__residual_forward(out, resid, d->tmp, n);
}

static void layer_forward(const mmg_model *m, const mmg__layer *p, mmg__layer_acts *a,
                          mmg__dropout *d, mmg__layer_drop *ld, int decoder, int l, const float *x,
                          int B, int T, const int32_t *len, int causal, const float *enc, int Ts,
                          const int32_t *src_len) {
    const int C = m->cfg.d_model, H = m->cfg.n_heads, hs = m->hs, F = m->cfg.d_ff;
    const int N = B * T;
    const int pre = m->cfg.norm_placement == MMG_NORM_PRE;
    const float eps = m->cfg.layernorm_eps;
    const float *in;

    /* self-attention */
    if (pre) {
        mmg__layernorm_forward(a->sa_ln, a->sa_mean, a->sa_rstd, x, p->sa_ln_w, p->sa_ln_b, N, C,
                               eps);
        in = a->sa_ln;
    } else {
        in = x;
    }
    mmg__matmul_forward(a->sa_qkv, in, p->sa_qkv_w, p->sa_qkv_b, N, C, 3 * C);
    mmg__attention_forward(a->sa_y, a->sa_att, NULL, a->sa_qkv, 3 * C, a->sa_qkv + C, 3 * C,
                           a->sa_qkv + 2 * C, 3 * C, len, B, H, T, T, hs, causal, 0);
    /* DROPOUT on the attention probabilities: y = (mask * att / (1-p)) V */
    mmg__dropout_mask(ld->sa_att, (size_t)B * H * T * T, d->p, d->seed,
                      stream_of(decoder, l, SITE_SA_ATT));
    mmg__attention_dropout_forward(a->sa_y, d->scratch, a->sa_att, ld->sa_att, d->p,
                                   a->sa_qkv + 2 * C, 3 * C, B, H, T, T, hs);
    linear_dropout_residual(d, ld->sa_out, stream_of(decoder, l, SITE_SA_OUT), a->sa_res, a->sa_y,
                            p->sa_out_w, p->sa_out_b, x, N, C, C);
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
        mmg__matmul_forward(a->ca_q, in, p->ca_q_w, p->ca_q_b, N, C, C);
        mmg__matmul_forward(a->ca_kv, enc, p->ca_kv_w, p->ca_kv_b, B * Ts, C, 2 * C);
        mmg__attention_forward(a->ca_y, a->ca_att, NULL, a->ca_q, C, a->ca_kv, 2 * C,
                               a->ca_kv + C, 2 * C, src_len, B, H, T, Ts, hs, 0, 0);
        mmg__dropout_mask(ld->ca_att, (size_t)B * H * T * Ts, d->p, d->seed,
                          stream_of(decoder, l, SITE_CA_ATT));
        mmg__attention_dropout_forward(a->ca_y, d->scratch, a->ca_att, ld->ca_att, d->p,
                                       a->ca_kv + C, 2 * C, B, H, T, Ts, hs);
        linear_dropout_residual(d, ld->ca_out, stream_of(decoder, l, SITE_CA_OUT), a->ca_res,
                                a->ca_y, p->ca_out_w, p->ca_out_b, x, N, C, C);
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
    mmg__matmul_forward(a->ff_h, in, p->ff_w1, p->ff_b1, N, C, F);
    mmg__activation_forward(a->ff_a, a->ff_h, (size_t)N * F, m->cfg.activation);
    linear_dropout_residual(d, ld->ff_out, stream_of(decoder, l, SITE_FF_OUT), a->ff_res, a->ff_a,
                            p->ff_w2, p->ff_b2, x, N, F, C);
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

mmg_status mmg__forward_dropout(const mmg_model *m, mmg__activations *acts, mmg__dropout *d,
                                const int32_t *src, const int32_t *src_len, const int32_t *tgt,
                                const int32_t *tgt_len, int B, int Ts, int Tt, float *logits) {
    const mmg_model_config *c = &m->cfg;
    const int C = c->d_model, n_enc = c->n_encoder_layers;
    if (!acts || !d || !tgt || (n_enc > 0 && !src))
        return mmg__error(MMG_ERR_INVALID_ARG, "forward: NULL activations, masks, source or target");
    if (n_enc == 0) Ts = 0;
    if (B < 1 || B > acts->B || B > d->B || Tt < 1 || Tt > acts->Tt || Tt > d->Tt ||
        Ts > acts->Ts || Ts > d->Ts || (n_enc > 0 && Ts < 1) || Ts > c->max_seq_len ||
        Tt > c->max_seq_len)
        return mmg__error(MMG_ERR_RANGE, "forward: batch %d x (source %d, target %d) does not fit "
                          "the activations or max_seq_len %d", B, Ts, Tt, c->max_seq_len);
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
        mmg__embedding_forward(acts->enc_emb, src, B, Ts, 0, m->wte, m->emb_scale, m->pos, C);
        /* DROPOUT on the embeddings */
        mmg__dropout_forward(acts->enc_emb, d->enc_emb, acts->enc_emb, (size_t)B * Ts * C, d->p,
                             d->seed, stream_of(0, -1, SITE_EMB));
        const float *x = acts->enc_emb;
        for (int l = 0; l < n_enc; l++) {
            layer_forward(m, &m->enc[l], &acts->enc[l], d, &d->enc[l], 0, l, x, B, Ts,
                          acts->src_len, 0, NULL, 0, NULL);
            x = acts->enc[l].out;
        }
        if (c->final_norm)
            mmg__layernorm_forward(acts->enc_out, acts->enc_mean, acts->enc_rstd, x, m->enc_ln_w,
                                   m->enc_ln_b, B * Ts, C, c->layernorm_eps);
        enc = acts->enc_out;
    }

    mmg__embedding_forward(acts->dec_emb, tgt, B, Tt, 0, m->wte, m->emb_scale, m->pos, C);
    mmg__dropout_forward(acts->dec_emb, d->dec_emb, acts->dec_emb, (size_t)B * Tt * C, d->p, d->seed,
                         stream_of(1, -1, SITE_EMB));
    const float *x = acts->dec_emb;
    for (int l = 0; l < c->n_decoder_layers; l++) {
        layer_forward(m, &m->dec[l], &acts->dec[l], d, &d->dec[l], 1, l, x, B, Tt, acts->tgt_len, 1,
                      enc, Ts, acts->src_len);
        x = acts->dec[l].out;
    }
    if (c->final_norm)
        mmg__layernorm_forward(acts->dec_out, acts->dec_mean, acts->dec_rstd, x, m->dec_ln_w,
                               m->dec_ln_b, B * Tt, C, c->layernorm_eps);
    if (logits) mmg__matmul_forward(logits, acts->dec_out, m->lm_head, NULL, B * Tt, C, c->vocab_size);
    return MMG_OK;
}
