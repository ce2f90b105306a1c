/* core/train_backward.c - the transformer's backward pass (see train_backward.h).
 *
 * Read it bottom-up against mmg__forward: the output projection, the final
 * LayerNorm, the decoder layers in reverse (feed-forward, cross-attention,
 * self-attention), the decoder embeddings; then the encoder the same way from
 * the gradient the cross-attentions left on its output.
 *
 * Every sub-layer is one of
 *   pre-LN : ln = LN(x);  res = x + f(ln);  out = res
 *   post-LN: res = x + f(x);  ln = LN(res);  out = ln
 * so one function (sublayer_backward) handles both placements around a branch
 * f that is self-attention, cross-attention or the feed-forward network. */
#include "train_backward.h"

#include <string.h>

#include "error.h"
#include "memory.h"
#include "ops.h"
#include "ops_backward.h"

/* The gradient of a parameter pointer: same offset in the gradient array. */
static inline float *grad_of(const mmg_model *m, float *grads, const float *p) {
    return p ? grads + (p - m->params) : NULL;
}

size_t mmg__backward_ws_bytes(const mmg_model *m, int B, int Ts, int Tt, int n_threads) {
    const mmg_model_config *c = &m->cfg;
    size_t C = (size_t)c->d_model, F = (size_t)c->d_ff;
    size_t T = (size_t)(Ts > Tt ? Ts : Tt);
    size_t bt = (size_t)B * T, bs = c->n_encoder_layers > 0 ? (size_t)B * (size_t)Ts : 0;
    if (n_threads < 1) n_threads = 1;
    /* the sizes are bounded by the activations (already checked), so plain
     * arithmetic on size_t cannot overflow for any batch the forward accepts */
    double total = (double)bt * (double)(8 * C + F) + (double)bs * (double)(3 * C) +
                   (double)n_threads * MMG__ATT_ROW_BLOCK * (double)T;
    if (total * sizeof(float) > (double)((size_t)-1 / 2)) return 0;
    return (bt * (8 * C + F) + bs * 3 * C + (size_t)n_threads * MMG__ATT_ROW_BLOCK * T) *
           sizeof(float);
}

mmg_status mmg__backward_ws_create(const mmg_model *m, int B, int Ts, int Tt, int n_threads,
                                   uint64_t memory_limit, mmg__backward_ws **out) {
    if (m->cfg.n_encoder_layers == 0) Ts = 0;
    if (n_threads < 1) n_threads = 1;
    size_t bytes = mmg__backward_ws_bytes(m, B, Ts, Tt, n_threads);
    if (bytes == 0)
        return mmg__error(MMG_ERR_LIMIT, "trainer: the backward workspace for batch %d x (%d, %d) "
                          "overflows the address space", B, Ts, Tt);
    if (memory_limit && bytes > memory_limit)
        return mmg__error(MMG_ERR_LIMIT, "trainer: the backward workspace for batch %d x (%d, %d) "
                          "needs %zu bytes, over the memory limit of %llu",
                          B, Ts, Tt, bytes, (unsigned long long)memory_limit);
    mmg__backward_ws *ws = mmg__calloc(1, sizeof *ws);
    float *mem = mmg__malloc(bytes);
    if (!ws || !mem) {
        mmg__free(ws);
        mmg__free(mem);
        return mmg__error(MMG_ERR_NOMEM, "trainer: cannot allocate %zu bytes of backward workspace",
                          bytes);
    }
    const size_t C = (size_t)m->cfg.d_model, F = (size_t)m->cfg.d_ff;
    const size_t T = (size_t)(Ts > Tt ? Ts : Tt);
    const size_t bt = (size_t)B * T, bs = (size_t)B * (size_t)Ts;
    float *p = mem;
    ws->d_p = p; p += bt * C;
    ws->d_q = p; p += bt * C;
    ws->d_r = p; p += bt * C;
    ws->d_y = p; p += bt * C;
    ws->d_drop = p; p += bt * C;
    ws->d_qkv = p; p += bt * 3 * C;
    ws->d_h = p; p += bt * F;
    ws->d_enc = bs ? p : NULL; p += bs * C;
    ws->d_kv = bs ? p : NULL; p += bs * 2 * C;
    ws->d_att = p;
    ws->mem = mem;
    ws->n_floats = bytes / sizeof(float);
    ws->B = B;
    ws->Ts = Ts;
    ws->Tt = Tt;
    ws->n_threads = n_threads;
    *out = ws;
    return MMG_OK;
}

void mmg__backward_ws_free(mmg__backward_ws *ws) {
    if (!ws) return;
    mmg__free(ws->mem);
    mmg__free(ws);
}

/* What a sub-layer's branch f reads and writes. */
enum branch_kind { BRANCH_SELF_ATTN, BRANCH_CROSS_ATTN, BRANCH_FF };

typedef struct bwd_ctx {
    const mmg_model *m;
    const mmg__activations *acts;
    mmg__backward_ws *ws;
    float *grads;
    int B, C, H, hs, F;
    const mmg__dropout *drop; /* NULL without dropout */
    const mmg__grad_ready *ready; /* NULL: nobody waits for finished gradients */
} bwd_ctx;

/* Tells the caller that every gradient from `first` (a float offset) to the
 * end of the array is final: data-parallel training starts summing it
 * across ranks while the backward goes on (train_parallel.c). */
static void mark_ready(const bwd_ctx *c, const float *first_param) {
    if (c->ready) c->ready->fn(c->ready->user, (size_t)(first_param - c->m->params));
}

/* f's backward: d_out (rows, C) is the gradient of f's output; in (rows, C)
 * is f's input; d_in (rows, C) receives (+=) the gradient of f's input. */
static void branch_backward(bwd_ctx *x, enum branch_kind kind, const mmg__layer *L,
                            const mmg__layer_acts *la, const mmg__layer_drop *ld, int T,
                            const float *d_out, const float *in, float *d_in) {
    const float p = x->drop ? x->drop->p : 0.0f;
    const mmg_model *m = x->m;
    mmg__backward_ws *ws = x->ws;
    const int C = x->C, N = x->B * T;
    float *g = x->grads;
    if (kind == BRANCH_SELF_ATTN) {
        /* y -> out projection */
        memset(ws->d_y, 0, sizeof(float) * (size_t)N * C);
        mmg__matmul_backward(ws->d_y, grad_of(m, g, L->sa_out_w), grad_of(m, g, L->sa_out_b), d_out,
                             la->sa_y, L->sa_out_w, N, C, C);
        /* attention over q, k, v packed (N, 3C) */
        memset(ws->d_qkv, 0, sizeof(float) * (size_t)N * 3 * C);
        mmg__attention_backward(ws->d_qkv, ws->d_qkv + C, ws->d_qkv + 2 * C, ws->d_att, ws->d_y,
                                la->sa_att, la->sa_qkv, 3 * C, la->sa_qkv + C, 3 * C,
                                la->sa_qkv + 2 * C, 3 * C, x->B, x->H, T, T, x->hs,
                                ld ? ld->sa_att : NULL, p);
        /* the qkv projection */
        mmg__matmul_backward(d_in, grad_of(m, g, L->sa_qkv_w), grad_of(m, g, L->sa_qkv_b),
                             ws->d_qkv, in, L->sa_qkv_w, N, C, 3 * C);
    } else if (kind == BRANCH_CROSS_ATTN) {
        const int Ts = x->acts->ts;
        const int Ns = x->B * Ts;
        memset(ws->d_y, 0, sizeof(float) * (size_t)N * C);
        mmg__matmul_backward(ws->d_y, grad_of(m, g, L->ca_out_w), grad_of(m, g, L->ca_out_b), d_out,
                             la->ca_y, L->ca_out_w, N, C, C);
        float *d_q = ws->d_qkv; /* (N, C) */
        memset(d_q, 0, sizeof(float) * (size_t)N * C);
        memset(ws->d_kv, 0, sizeof(float) * (size_t)Ns * 2 * C);
        mmg__attention_backward(d_q, ws->d_kv, ws->d_kv + C, ws->d_att, ws->d_y, la->ca_att,
                                la->ca_q, C, la->ca_kv, 2 * C, la->ca_kv + C, 2 * C, x->B, x->H, T,
                                Ts, x->hs, ld ? ld->ca_att : NULL, p);
        mmg__matmul_backward(d_in, grad_of(m, g, L->ca_q_w), grad_of(m, g, L->ca_q_b), d_q, in,
                             L->ca_q_w, N, C, C);
        /* keys and values come from the encoder output */
        mmg__matmul_backward(ws->d_enc, grad_of(m, g, L->ca_kv_w), grad_of(m, g, L->ca_kv_b),
                             ws->d_kv, x->acts->enc_out, L->ca_kv_w, Ns, C, 2 * C);
    } else {
        const int F = x->F;
        memset(ws->d_h, 0, sizeof(float) * (size_t)N * F);
        mmg__matmul_backward(ws->d_h, grad_of(m, g, L->ff_w2), grad_of(m, g, L->ff_b2), d_out,
                             la->ff_a, L->ff_w2, N, F, C);
        mmg__activation_backward(ws->d_h, ws->d_h, la->ff_h, (size_t)N * F, m->cfg.activation);
        mmg__matmul_backward(d_in, grad_of(m, g, L->ff_w1), grad_of(m, g, L->ff_b1), ws->d_h, in,
                             L->ff_w1, N, C, F);
    }
}

/* One sub-layer: d_out (rows, C) is the gradient of its output, x its input
 * stream; writes the gradient of x into d_x (may not alias d_out). */
static void sublayer_backward(bwd_ctx *c, enum branch_kind kind, const mmg__layer *L,
                              const mmg__layer_acts *la, const mmg__layer_drop *ld, int T,
                              const float *x_in, const float *d_out, float *d_x) {
    const mmg_model *m = c->m;
    float *g = c->grads;
    const size_t n = (size_t)c->B * T * c->C;
    const float *ln, *mean, *rstd, *res, *ln_w, *ln_b;
    switch (kind) {
    case BRANCH_SELF_ATTN:
        ln = la->sa_ln; mean = la->sa_mean; rstd = la->sa_rstd; res = la->sa_res;
        ln_w = L->sa_ln_w; ln_b = L->sa_ln_b;
        break;
    case BRANCH_CROSS_ATTN:
        ln = la->ca_ln; mean = la->ca_mean; rstd = la->ca_rstd; res = la->ca_res;
        ln_w = L->ca_ln_w; ln_b = L->ca_ln_b;
        break;
    default:
        ln = la->ff_ln; mean = la->ff_mean; rstd = la->ff_rstd; res = la->ff_res;
        ln_w = L->ff_ln_w; ln_b = L->ff_ln_b;
        break;
    }
    /* with dropout the branch's output was masked before joining the residual */
    const uint8_t *out_mask = !ld ? NULL
                              : kind == BRANCH_SELF_ATTN ? ld->sa_out
                              : kind == BRANCH_CROSS_ATTN ? ld->ca_out : ld->ff_out;
    float *d_r = c->ws->d_r;
    const int N = c->B * T, C = c->C;
    memset(d_r, 0, n * sizeof(float));
    if (m->cfg.norm_placement == MMG_NORM_PRE) {
        /* res = x + f(ln), ln = LN(x): d_ln = f'(d_out); d_x = d_out + LN'(d_ln) */
        const float *d_branch = d_out;
        if (out_mask) {
            mmg__dropout_backward(c->ws->d_drop, d_out, out_mask, n, c->drop->p);
            d_branch = c->ws->d_drop;
        }
        branch_backward(c, kind, L, la, ld, T, d_branch, ln, d_r);
        memcpy(d_x, d_out, n * sizeof(float));
        mmg__layernorm_backward(d_x, grad_of(m, g, ln_w), grad_of(m, g, ln_b), d_r, x_in, ln_w, mean,
                                rstd, N, C);
    } else {
        /* ln = LN(res), res = x + f(x): d_res = LN'(d_out); d_x = d_res + f'(d_res) */
        mmg__layernorm_backward(d_r, grad_of(m, g, ln_w), grad_of(m, g, ln_b), d_out, res, ln_w, mean,
                                rstd, N, C);
        memcpy(d_x, d_r, n * sizeof(float));
        const float *d_branch = d_r;
        if (out_mask) {
            mmg__dropout_backward(c->ws->d_drop, d_r, out_mask, n, c->drop->p);
            d_branch = c->ws->d_drop;
        }
        branch_backward(c, kind, L, la, ld, T, d_branch, x_in, d_x);
    }
}

/* The output of a sub-layer, i.e. the input stream of the next one. */
static const float *sublayer_out(const mmg_model *m, const float *ln, const float *res) {
    return m->cfg.norm_placement == MMG_NORM_PRE ? res : ln;
}

/* A stack's layers in reverse. On entry ws->d_p holds the gradient of the last
 * layer's output; on return *d_final points at the gradient of the stack's
 * input (the embeddings), in d_p or d_q. */
static float *stack_backward(bwd_ctx *c, const mmg__layer *layers, const mmg__layer_acts *acts_l,
                             const mmg__layer_drop *drops, int n_layers, const float *emb, int T,
                             int is_decoder) {
    const mmg_model *m = c->m;
    float *d_cur = c->ws->d_p, *d_next = c->ws->d_q;
    const int cross = is_decoder && m->cfg.n_encoder_layers > 0;
    for (int l = n_layers - 1; l >= 0; l--) {
        const mmg__layer *L = &layers[l];
        const mmg__layer_acts *la = &acts_l[l];
        const mmg__layer_drop *ld = drops ? &drops[l] : NULL;
        const float *x_layer = l == 0 ? emb : acts_l[l - 1].out;
        const float *sa_out = sublayer_out(m, la->sa_ln, la->sa_res);
        const float *ca_out = cross ? sublayer_out(m, la->ca_ln, la->ca_res) : sa_out;
        float *tmp;
        /* feed-forward: input is ca_out (or sa_out) */
        sublayer_backward(c, BRANCH_FF, L, la, ld, T, ca_out, d_cur, d_next);
        tmp = d_cur; d_cur = d_next; d_next = tmp;
        if (cross) {
            sublayer_backward(c, BRANCH_CROSS_ATTN, L, la, ld, T, sa_out, d_cur, d_next);
            tmp = d_cur; d_cur = d_next; d_next = tmp;
        }
        sublayer_backward(c, BRANCH_SELF_ATTN, L, la, ld, T, x_layer, d_cur, d_next);
        tmp = d_cur; d_cur = d_next; d_next = tmp;
        /* a layer's tensors are contiguous and start with sa_norm.weight;
         * everything laid out after them is already done */
        mark_ready(c, L->sa_ln_w);
    }
    return d_cur;
}

/* Gradient through an optional final LayerNorm: d_in (rows, C) = LN'(d_out),
 * or a copy when there is none. */
static void final_norm_backward(bwd_ctx *c, float *d_in, const float *d_out, const float *inp,
                                const float *w, const float *b, const float *mean,
                                const float *rstd, int N) {
    if (w) {
        memset(d_in, 0, sizeof(float) * (size_t)N * c->C);
        mmg__layernorm_backward(d_in, grad_of(c->m, c->grads, w), grad_of(c->m, c->grads, b), d_out,
                                inp, w, mean, rstd, N, c->C);
    } else {
        memcpy(d_in, d_out, sizeof(float) * (size_t)N * c->C);
    }
}

void mmg__backward(const mmg_model *m, const mmg__activations *acts, mmg__backward_ws *ws,
                   const mmg__dropout *drop, float *grads, const float *dlogits,
                   const int32_t *src, const int32_t *tgt, const mmg__grad_ready *ready) {
    const mmg_model_config *cfg = &m->cfg;
    bwd_ctx c = {m,           acts,       ws,   grads, acts->b, cfg->d_model, cfg->n_heads,
                 m->hs,       cfg->d_ff,  drop, ready};
    const int B = acts->b, Tt = acts->tt, Ts = acts->ts, C = cfg->d_model, V = cfg->vocab_size;
    const int Nt = B * Tt;
    const int n_dec = cfg->n_decoder_layers, n_enc = cfg->n_encoder_layers;
    float *pos_grad = grad_of(m, grads, m->wpe);

    /* logits = dec_out lm_head^T: d_dec_out -> d_r (scratch), d lm_head (wte when tied) */
    float *d_dec_out = ws->d_r;
    if (dlogits) {
        memset(d_dec_out, 0, sizeof(float) * (size_t)Nt * C);
        mmg__matmul_backward(d_dec_out, grad_of(m, grads, m->lm_head), NULL, dlogits, acts->dec_out,
                             m->lm_head, Nt, C, V);
    } else {
        memcpy(d_dec_out, ws->d_p, sizeof(float) * (size_t)Nt * C);
    }
    /* final decoder LayerNorm: input is the last layer's output */
    final_norm_backward(&c, ws->d_p, d_dec_out, acts->dec[n_dec - 1].out, m->dec_ln_w, m->dec_ln_b,
                        acts->dec_mean, acts->dec_rstd, Nt);
    if (n_enc > 0) memset(ws->d_enc, 0, sizeof(float) * (size_t)B * Ts * C);
    float *d_emb = stack_backward(&c, m->dec, acts->dec, drop ? drop->dec : NULL, n_dec,
                                  acts->dec_emb, Tt, 1);
    if (drop) mmg__dropout_backward(d_emb, d_emb, drop->dec_emb, (size_t)Nt * C, drop->p);
    mmg__embedding_backward(grads + (m->wte - m->params), pos_grad, d_emb, tgt, B, Tt, 0,
                            m->emb_scale, C);
    if (n_enc == 0) return;

    /* encoder: its output's gradient was summed into d_enc by every cross-attention */
    const int Ns = B * Ts;
    final_norm_backward(&c, ws->d_p, ws->d_enc, acts->enc[n_enc - 1].out, m->enc_ln_w, m->enc_ln_b,
                        acts->enc_mean, acts->enc_rstd, Ns);
    d_emb = stack_backward(&c, m->enc, acts->enc, drop ? drop->enc : NULL, n_enc, acts->enc_emb,
                           Ts, 0);
    if (drop) mmg__dropout_backward(d_emb, d_emb, drop->enc_emb, (size_t)Ns * C, drop->p);
    mmg__embedding_backward(grads + (m->wte - m->params), pos_grad, d_emb, src, B, Ts, 0,
                            m->emb_scale, C);
}
