/* core/model_context.c - contexts: KV caches, incremental encode/decode and
 * the public full forward.
 *
 * Incremental decoding processes a chunk of tokens of one slot at a time: the
 * new tokens' keys and values are appended to the slot's cache, then every
 * new query attends over the cache (causal by absolute position). A chunk of
 * one token is a decode step: every weight matrix is read once (sgemv), the
 * attention is a loop over the cache, the logits one sgemv over (V, C).
 * Longer chunks (prefill) use sgemm. A quantized model's linear layers run
 * on its Q8_0 weights instead (quant.h). Nothing is allocated per token. */
#include "model_context.h"

#include <cblas.h>
#include <omp.h>
#include <math.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "gemv.h"
#include "memory.h"
#include "ops.h"
#include "options.h"
#include "threads.h"

/* Prefill chunk (rows per matrix product) for decoder-only models. */
#define CHUNK_ROWS 256

static void options_defaults(mmg_context_options *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->n_threads = 0;
    o->n_slots = 1;
    o->max_seq_len = 0;
    o->memory_limit = 0;
    o->check_finite = 0;
}

/* With check_finite: the first NaN or infinity among `rows` rows of V
 * logits gives MMG_ERR_NUMERIC; row r is position first_pos + r of `slot`
 * (slot -1: row r is sequence r / per_seq, position r % per_seq of a full
 * forward; slots != NULL: row r is the next token of slots[r]). */
static mmg_status check_logits(const mmg_context *ctx, const float *logits, size_t rows, int V,
                               int slot, int first_pos, const int32_t *slots, int per_seq) {
    if (!ctx->check_finite || !logits) return MMG_OK;
    for (size_t r = 0; r < rows; r++) {
        const float *row = logits + r * (size_t)V;
        for (int j = 0; j < V; j++) {
            if (isfinite(row[j])) continue;
            const char *what = isnan(row[j]) ? "NaN" : "infinite";
            if (slots)
                return mmg__error(MMG_ERR_NUMERIC,
                                  "the logit of token id %d is %s at position %d of slot %d (a "
                                  "weight is NaN or infinite, or the activations overflowed)",
                                  j, what, ctx->pos[slots[r]] - 1, slots[r]);
            if (slot < 0)
                return mmg__error(MMG_ERR_NUMERIC,
                                  "the logit of token id %d is %s at position %d of sequence %d "
                                  "(a weight is NaN or infinite, or the activations overflowed)",
                                  j, what, (int)(r % (size_t)per_seq), (int)(r / (size_t)per_seq));
            return mmg__error(MMG_ERR_NUMERIC,
                              "the logit of token id %d is %s at position %d of slot %d (a weight "
                              "is NaN or infinite, or the activations overflowed)",
                              j, what, first_pos + (int)r, slot);
        }
    }
    return MMG_OK;
}

void mmg_context_options_init(mmg_context_options *opts, size_t struct_size) {
    mmg_context_options d;
    options_defaults(&d);
    mmg__init_options(opts, struct_size, &d, sizeof d);
}

int mmg__context_enter(const mmg_context *ctx) {
    int prev = omp_get_max_threads();
    mmg__threads_use(ctx->n_threads);
    return prev;
}

void mmg__context_leave(int previous) { omp_set_num_threads(previous); }

/* Bytes of caches and scratch for these sizes; 0 on overflow. */
static uint64_t context_bytes(const mmg_model *m, uint64_t slots, uint64_t T, uint64_t R,
                              uint64_t threads) {
    const uint64_t C = (uint64_t)m->cfg.d_model, F = (uint64_t)m->cfg.d_ff,
                   L = (uint64_t)m->cfg.n_decoder_layers;
    const int enc = m->cfg.n_encoder_layers > 0;
    /* All factors are < 2^31; check the few products that can grow large. */
    long double total = (long double)slots * L * T * C * (enc ? 4 : 2) +
                        (long double)R * (7 * C + F) + (long double)threads * MMG__ATT_BLOCK_Q * T;
    if (total * 4 > (long double)(SIZE_MAX / 2)) return 0;
    return (uint64_t)(total * 4);
}

static mmg_status alloc_att_scratch(mmg_context *ctx, int threads) {
    float *a = mmg__malloc((size_t)threads * MMG__ATT_BLOCK_Q * (size_t)ctx->T * sizeof(float));
    if (!a)
        return mmg__error(MMG_ERR_NOMEM, "out of memory for the attention scratch of %d threads",
                          threads);
    mmg__free(ctx->att);
    ctx->att = a;
    ctx->att_threads = threads;
    return MMG_OK;
}

mmg_status mmg_context_create(const mmg_model *model, const mmg_context_options *opts,
                              mmg_context **out) {
    if (!model) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_create: model is NULL");
    if (!out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_create: out is NULL");
    mmg_context_options o;
    options_defaults(&o);
    mmg_status s = mmg__read_options(&o, sizeof o, opts, "mmg_context_options");
    if (s) return s;
    const mmg_model_config *c = &model->cfg;
    if (o.n_threads < 0)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_context_options.n_threads is %d; expected >= 0 (0 = default)",
                          o.n_threads);
    if (o.n_slots < 1 || o.n_slots > 65536)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_context_options.n_slots is %d; expected 1..65536", o.n_slots);
    if (o.max_seq_len < 0 || o.max_seq_len > c->max_seq_len)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_context_options.max_seq_len is %d; expected 0..%d (the model's "
                          "max_seq_len; 0 = that)",
                          o.max_seq_len, c->max_seq_len);
    const int T = o.max_seq_len ? o.max_seq_len : c->max_seq_len;
    const int enc = c->n_encoder_layers > 0;
    int R = enc ? T : (T < CHUNK_ROWS ? T : CHUNK_ROWS);
    if (R < o.n_slots) R = o.n_slots; /* a batched step holds one row per slot */
    const int threads = mmg__threads_resolve(o.n_threads);
    uint64_t bytes = context_bytes(model, (uint64_t)o.n_slots, (uint64_t)T, (uint64_t)R,
                                   (uint64_t)threads);
    const int scratch = mmg__quant_needs_scratch(model->quant);
    if (bytes && scratch)
        bytes += mmg__q8_scratch_bytes(c->d_model > c->d_ff ? c->d_model : c->d_ff, threads);
    uint64_t limit = o.memory_limit ? o.memory_limit : mmg__physical_memory();
    if (bytes == 0 || (limit && bytes > limit))
        return mmg__error(MMG_ERR_LIMIT,
                          "a context with %d slots of %d tokens needs %llu bytes of KV cache and "
                          "scratch, over the memory limit of %llu bytes",
                          o.n_slots, T, (unsigned long long)bytes, (unsigned long long)limit);

    mmg_context *ctx = mmg__calloc(1, sizeof *ctx);
    if (!ctx) return mmg__error(MMG_ERR_NOMEM, "out of memory allocating a context");
    ctx->n_threads = threads;
    ctx->n_slots = o.n_slots;
    ctx->T = T;
    ctx->R = R;
    ctx->memory_limit = limit;
    ctx->check_finite = o.check_finite != 0;
    const size_t C = (size_t)c->d_model, F = (size_t)c->d_ff, L = (size_t)c->n_decoder_layers;
    const size_t cache = (size_t)o.n_slots * L * (size_t)T * C;
    ctx->pos = mmg__calloc((size_t)o.n_slots, sizeof *ctx->pos);
    ctx->n_src = mmg__calloc((size_t)o.n_slots, sizeof *ctx->n_src);
    ctx->att_rows = mmg__calloc((size_t)o.n_slots, sizeof *ctx->att_rows);
    ctx->k_cache = mmg__malloc(cache * sizeof(float));
    ctx->v_cache = mmg__malloc(cache * sizeof(float));
    if (enc) ctx->x_cache = mmg__malloc(2 * cache * sizeof(float));
    ctx->mem = mmg__malloc((size_t)R * (7 * C + F) * sizeof(float));
    if (scratch) mmg__q8_scratch_create(c->d_model > c->d_ff ? c->d_model : c->d_ff, threads, &ctx->q8);
    if (!ctx->pos || !ctx->n_src || !ctx->att_rows || !ctx->k_cache || !ctx->v_cache ||
        (enc && !ctx->x_cache) || !ctx->mem || (scratch && !ctx->q8) ||
        alloc_att_scratch(ctx, threads)) {
        ctx->model = NULL;
        mmg_context_free(ctx);
        return mmg__error(MMG_ERR_NOMEM, "out of memory allocating %llu bytes for a context",
                          (unsigned long long)bytes);
    }
    float *p = ctx->mem;
    ctx->x = p, p += (size_t)R * C;
    ctx->x2 = p, p += (size_t)R * C;
    ctx->h = p, p += (size_t)R * C;
    ctx->qkv = p, p += (size_t)R * 3 * C;
    ctx->y = p, p += (size_t)R * C;
    ctx->ff = p;
    /* The model is immutable; the reference count is the one field a context
     * changes, atomically. */
    ctx->model = (mmg_model *)model;
    mmg__model_retain(ctx->model);
    *out = ctx;
    return MMG_OK;
}

void mmg_context_free(mmg_context *ctx) {
    if (!ctx) return;
    mmg__activations_free(ctx->acts);
    mmg__free(ctx->pos);
    mmg__free(ctx->n_src);
    mmg__free(ctx->att_rows);
    mmg__free(ctx->k_cache);
    mmg__free(ctx->v_cache);
    mmg__free(ctx->x_cache);
    mmg__free(ctx->mem);
    mmg__free(ctx->att);
    mmg__q8_scratch_free(ctx->q8);
    if (ctx->model) mmg__model_release(ctx->model);
    mmg__free(ctx);
}

const mmg_model *mmg_context_model(const mmg_context *ctx) { return ctx ? ctx->model : NULL; }

mmg_status mmg_context_set_threads(mmg_context *ctx, int32_t n_threads) {
    if (!ctx) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_set_threads: ctx is NULL");
    if (n_threads < 0)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_context_set_threads: n_threads is %d; expected >= 0 (0 = default)",
                          n_threads);
    int n = mmg__threads_resolve(n_threads);
    if (n > ctx->att_threads) {
        mmg_status s = alloc_att_scratch(ctx, n);
        if (s) return s;
    }
    if (ctx->q8 && n > ctx->q8->threads) { /* each thread's work area */
        mmg__q8_scratch *q8;
        mmg_status s = mmg__q8_scratch_create(ctx->q8->cols, n, &q8);
        if (s) return s;
        mmg__q8_scratch_free(ctx->q8);
        ctx->q8 = q8;
    }
    ctx->n_threads = n;
    return MMG_OK;
}

int32_t mmg_context_threads(const mmg_context *ctx) { return ctx ? ctx->n_threads : 0; }
int32_t mmg_context_n_slots(const mmg_context *ctx) { return ctx ? ctx->n_slots : 0; }
int32_t mmg_context_max_seq_len(const mmg_context *ctx) { return ctx ? ctx->T : 0; }

int32_t mmg_context_position(const mmg_context *ctx, int32_t slot) {
    if (!ctx || slot < 0 || slot >= ctx->n_slots) return -1;
    return ctx->pos[slot];
}

static mmg_status check_slot(const mmg_context *ctx, int32_t slot, const char *fn) {
    if (slot < 0 || slot >= ctx->n_slots)
        return mmg__error(MMG_ERR_RANGE, "%s: slot %d is outside [0, %d)", fn, slot, ctx->n_slots);
    return MMG_OK;
}

mmg_status mmg_context_reset(mmg_context *ctx, int32_t slot) {
    if (!ctx) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_reset: ctx is NULL");
    mmg_status s = check_slot(ctx, slot, "mmg_context_reset");
    if (s) return s;
    ctx->pos[slot] = 0;
    return MMG_OK;
}

/* ---- the layer over a chunk ---------------------------------------------------------- */

/* A linear layer over n rows: out = [resid +] inp W^T [+ b], with the F32
 * weight through BLAS exactly as before quantization existed, or with the
 * Q8_0 weight wq when the model is quantized (quant.h). */
static void linear(mmg_context *ctx, float *out, const float *inp, const float *w,
                   const mmg__qmatrix *wq, const float *b, const float *resid, int n, int IC,
                   int OC) {
    if (wq) mmg__quant_linear(out, inp, wq, b, resid, n, ctx->q8);
    else if (resid) mmg__matmul_residual_forward(out, inp, w, b, resid, n, IC, OC);
    else mmg__matmul_forward(out, inp, w, b, n, IC, OC);
}

/* One sub-layer's "x = x + f(norm(x))" or "x = norm(x + f(x))" bookkeeping:
 * returns the sub-layer's input. */
static const float *sublayer_in(const mmg_context *ctx, const float *ln_w, const float *ln_b,
                                int n) {
    const mmg_model *m = ctx->model;
    if (m->cfg.norm_placement != MMG_NORM_PRE) return ctx->x;
    mmg__layernorm_forward(ctx->h, NULL, NULL, ctx->x, ln_w, ln_b, n, m->cfg.d_model,
                           m->cfg.layernorm_eps);
    return ctx->h;
}

/* x2 holds x + f(...); makes it the new x (post-LN normalizes it first). */
static void sublayer_out(mmg_context *ctx, const float *ln_w, const float *ln_b, int n) {
    const mmg_model *m = ctx->model;
    if (m->cfg.norm_placement == MMG_NORM_PRE) {
        float *t = ctx->x;
        ctx->x = ctx->x2;
        ctx->x2 = t;
    } else {
        mmg__layernorm_forward(ctx->x, NULL, NULL, ctx->x2, ln_w, ln_b, n, m->cfg.d_model,
                               m->cfg.layernorm_eps);
    }
}

/* Attention of the first G query rows in ctx->att_rows, keys and values
 * kv_stride floats apart, in the context's attention scratch: decoding one
 * token, alone or for a batch of slots, goes through this one call. */
static void attend_rows(mmg_context *ctx, int G, int kv_stride) {
    const mmg_model *m = ctx->model;
    mmg__attention_decode(ctx->att_rows, G, m->cfg.n_heads, m->hs, kv_stride, kv_stride, ctx->att,
                          (size_t)MMG__ATT_BLOCK_Q * ctx->T);
}

/* Runs one layer over the chunk in ctx->x (n rows at absolute positions
 * pos..pos+n-1). Self-attention keys/values: when k_cache is NULL (encoder)
 * they are the chunk's own (bidirectional); else the chunk's are appended to
 * k_cache/v_cache (T, C) and the queries attend causally over pos + n keys.
 * xkv (n_src, 2C): cross-attention keys|values, or NULL. */
static void chunk_layer(mmg_context *ctx, const mmg__layer *p, int n, int pos, float *k_cache,
                        float *v_cache, const float *xkv, int n_src) {
    const mmg_model *m = ctx->model;
    const int C = m->cfg.d_model, H = m->cfg.n_heads, hs = m->hs, F = m->cfg.d_ff;
    const float *in = sublayer_in(ctx, p->sa_ln_w, p->sa_ln_b, n);
    linear(ctx, ctx->qkv, in, p->sa_qkv_w, p->sa_qkv_q, p->sa_qkv_b, NULL, n, C, 3 * C);
    if (k_cache) {
        for (int i = 0; i < n; i++) {
            memcpy(k_cache + (size_t)(pos + i) * C, ctx->qkv + (size_t)i * 3 * C + C,
                   sizeof(float) * (size_t)C);
            memcpy(v_cache + (size_t)(pos + i) * C, ctx->qkv + (size_t)i * 3 * C + 2 * C,
                   sizeof(float) * (size_t)C);
        }
        if (n == 1) { /* decoding: as a batched step does for each of its rows */
            ctx->att_rows[0] = (mmg__att_query){ctx->y, ctx->qkv, k_cache, v_cache, pos + 1};
            attend_rows(ctx, 1, C);
        } else {
            mmg__attention_forward(ctx->y, NULL, ctx->att, ctx->qkv, 3 * C, k_cache, C, v_cache, C,
                                   NULL, 1, H, n, pos + n, hs, 1, pos);
        }
    } else {
        mmg__attention_forward(ctx->y, NULL, ctx->att, ctx->qkv, 3 * C, ctx->qkv + C, 3 * C,
                               ctx->qkv + 2 * C, 3 * C, NULL, 1, H, n, n, hs, 0, 0);
    }
    linear(ctx, ctx->x2, ctx->y, p->sa_out_w, p->sa_out_q, p->sa_out_b, ctx->x, n, C, C);
    sublayer_out(ctx, p->sa_ln_w, p->sa_ln_b, n);

    if (xkv) {
        in = sublayer_in(ctx, p->ca_ln_w, p->ca_ln_b, n);
        linear(ctx, ctx->qkv, in, p->ca_q_w, p->ca_q_q, p->ca_q_b, NULL, n, C, C);
        if (n == 1) { /* decoding */
            ctx->att_rows[0] = (mmg__att_query){ctx->y, ctx->qkv, xkv, xkv + C, n_src};
            attend_rows(ctx, 1, 2 * C);
        } else {
            mmg__attention_forward(ctx->y, NULL, ctx->att, ctx->qkv, C, xkv, 2 * C, xkv + C, 2 * C,
                                   NULL, 1, H, n, n_src, hs, 0, 0);
        }
        linear(ctx, ctx->x2, ctx->y, p->ca_out_w, p->ca_out_q, p->ca_out_b, ctx->x, n, C, C);
        sublayer_out(ctx, p->ca_ln_w, p->ca_ln_b, n);
    }

    in = sublayer_in(ctx, p->ff_ln_w, p->ff_ln_b, n);
    linear(ctx, ctx->ff, in, p->ff_w1, p->ff_w1_q, p->ff_b1, NULL, n, C, F);
    mmg__activation_forward(ctx->ff, ctx->ff, (size_t)n * F, m->cfg.activation);
    linear(ctx, ctx->x2, ctx->ff, p->ff_w2, p->ff_w2_q, p->ff_b2, ctx->x, n, F, C);
    sublayer_out(ctx, p->ff_ln_w, p->ff_ln_b, n);
}

static size_t cache_offset(const mmg_context *ctx, int slot, int layer) {
    return (((size_t)slot * (size_t)ctx->model->cfg.n_decoder_layers + (size_t)layer) *
            (size_t)ctx->T) * (size_t)ctx->model->cfg.d_model;
}

mmg_status mmg__context_encode(mmg_context *ctx, int slot, const int32_t *src, int n) {
    const mmg_model *m = ctx->model;
    const mmg_model_config *c = &m->cfg;
    const int C = c->d_model;
    mmg__model_embed(m, ctx->x, src, 1, n, 0);
    for (int l = 0; l < c->n_encoder_layers; l++) chunk_layer(ctx, &m->enc[l], n, 0, NULL, NULL, NULL, 0);
    if (c->final_norm)
        mmg__layernorm_forward(ctx->x, NULL, NULL, ctx->x, m->enc_ln_w, m->enc_ln_b, n, C,
                               c->layernorm_eps);
    for (int l = 0; l < c->n_decoder_layers; l++) {
        float *xkv = ctx->x_cache + 2 * cache_offset(ctx, slot, l);
        linear(ctx, xkv, ctx->x, m->dec[l].ca_kv_w, m->dec[l].ca_kv_q, m->dec[l].ca_kv_b, NULL, n,
               C, 2 * C);
    }
    ctx->n_src[slot] = n;
    ctx->pos[slot] = 0;
    return MMG_OK;
}

mmg_status mmg__context_decode(mmg_context *ctx, int slot, const int32_t *tokens, int n,
                               float *logits, int all_logits) {
    const mmg_model *m = ctx->model;
    const mmg_model_config *c = &m->cfg;
    const int C = c->d_model, V = c->vocab_size;
    const int has_enc = c->n_encoder_layers > 0;
    for (int done = 0; done < n;) {
        int k = n - done < ctx->R ? n - done : ctx->R;
        int pos = ctx->pos[slot];
        mmg__model_embed(m, ctx->x, tokens + done, 1, k, pos);
        for (int l = 0; l < c->n_decoder_layers; l++) {
            size_t off = cache_offset(ctx, slot, l);
            chunk_layer(ctx, &m->dec[l], k, pos, ctx->k_cache + off, ctx->v_cache + off,
                        has_enc ? ctx->x_cache + 2 * off : NULL, ctx->n_src[slot]);
        }
        ctx->pos[slot] = pos + k;
        done += k;
        if (!logits) continue;
        /* Only the rows whose logits are wanted go through the final norm
         * and the (V, C) projection. */
        int first = all_logits ? 0 : k - 1;
        if (!all_logits && done < n) continue;
        const float *rows = ctx->x + (size_t)first * C;
        if (c->final_norm) {
            mmg__layernorm_forward(ctx->h, NULL, NULL, rows, m->dec_ln_w, m->dec_ln_b, k - first,
                                   C, c->layernorm_eps);
            rows = ctx->h;
        }
        float *dst = all_logits ? logits + (size_t)(done - k) * V : logits;
        linear(ctx, dst, rows, m->lm_head, m->lm_head_qm, NULL, NULL, k - first, C, V);
    }
    const int end = ctx->pos[slot];
    return check_logits(ctx, logits, all_logits ? (size_t)n : 1, V, slot,
                        all_logits ? end - n : end - 1, NULL, 0);
}

/* ---- one token for several slots at once ------------------------------------------------ */

/* out (G, OC) = inp (G, IC) W^T (+ bias) (+ resid when resid is non-NULL), for
 * G independent rows. Each thread takes one run of the weight's rows, as
 * mmg__sgemm's matrix-vector path does, through the same product (gemv.h)
 * for all G rows at once: the weight is read from memory once, every weight
 * vector is used for all G inputs while it is in registers, and each row's
 * result is bit-identical to computing it alone (the product's summation
 * order never depends on G). A quantized or F16 weight (wq) goes through
 * mmg__quant_linear, whose rows never depend on each other either. */
static void rows_linear(mmg_context *ctx, float *out, const float *inp, const float *w,
                        const mmg__qmatrix *wq, const float *bias, const float *resid, int G,
                        int IC, int OC) {
    if (wq) {
        mmg__quant_linear(out, inp, wq, bias, resid, G, ctx->q8);
        return;
    }
    const int beta = mmg__linear_base(out, bias, resid, G, OC);
    mmg__gemv_rows_par(out, OC, beta, w, OC, IC, inp, G);
}

static const float *rows_sublayer_in(mmg_context *ctx, const float *ln_w, const float *ln_b,
                                     int G) {
    return sublayer_in(ctx, ln_w, ln_b, G);
}

mmg_status mmg__context_decode_batch(mmg_context *ctx, const int32_t *slots, const int32_t *tokens,
                                     int G, float *logits) {
    const mmg_model *m = ctx->model;
    const mmg_model_config *c = &m->cfg;
    const int C = c->d_model, F = c->d_ff, V = c->vocab_size;
    const int has_enc = c->n_encoder_layers > 0;
    for (int g = 0; g < G; g++)
        mmg__model_embed(m, ctx->x + (size_t)g * C, tokens + g, 1, 1, ctx->pos[slots[g]]);
    for (int l = 0; l < c->n_decoder_layers; l++) {
        const mmg__layer *p = &m->dec[l];
        const float *in = rows_sublayer_in(ctx, p->sa_ln_w, p->sa_ln_b, G);
        rows_linear(ctx, ctx->qkv, in, p->sa_qkv_w, p->sa_qkv_q, p->sa_qkv_b, NULL, G, C, 3 * C);
        for (int g = 0; g < G; g++) {
            size_t off = cache_offset(ctx, slots[g], l);
            int pos = ctx->pos[slots[g]];
            float *kc = ctx->k_cache + off, *vc = ctx->v_cache + off;
            memcpy(kc + (size_t)pos * C, ctx->qkv + (size_t)g * 3 * C + C, sizeof(float) * (size_t)C);
            memcpy(vc + (size_t)pos * C, ctx->qkv + (size_t)g * 3 * C + 2 * C,
                   sizeof(float) * (size_t)C);
            ctx->att_rows[g] =
                (mmg__att_query){ctx->y + (size_t)g * C, ctx->qkv + (size_t)g * 3 * C, kc, vc, pos + 1};
        }
        attend_rows(ctx, G, C);
        rows_linear(ctx, ctx->x2, ctx->y, p->sa_out_w, p->sa_out_q, p->sa_out_b, ctx->x, G, C, C);
        sublayer_out(ctx, p->sa_ln_w, p->sa_ln_b, G);
        if (has_enc) {
            in = rows_sublayer_in(ctx, p->ca_ln_w, p->ca_ln_b, G);
            rows_linear(ctx, ctx->qkv, in, p->ca_q_w, p->ca_q_q, p->ca_q_b, NULL, G, C, C);
            for (int g = 0; g < G; g++) {
                const float *xkv = ctx->x_cache + 2 * cache_offset(ctx, slots[g], l);
                ctx->att_rows[g] = (mmg__att_query){ctx->y + (size_t)g * C, ctx->qkv + (size_t)g * C,
                                                    xkv, xkv + C, ctx->n_src[slots[g]]};
            }
            attend_rows(ctx, G, 2 * C);
            rows_linear(ctx, ctx->x2, ctx->y, p->ca_out_w, p->ca_out_q, p->ca_out_b, ctx->x, G, C,
                        C);
            sublayer_out(ctx, p->ca_ln_w, p->ca_ln_b, G);
        }
        in = rows_sublayer_in(ctx, p->ff_ln_w, p->ff_ln_b, G);
        rows_linear(ctx, ctx->ff, in, p->ff_w1, p->ff_w1_q, p->ff_b1, NULL, G, C, F);
        mmg__activation_forward(ctx->ff, ctx->ff, (size_t)G * F, c->activation);
        rows_linear(ctx, ctx->x2, ctx->ff, p->ff_w2, p->ff_w2_q, p->ff_b2, ctx->x, G, F, C);
        sublayer_out(ctx, p->ff_ln_w, p->ff_ln_b, G);
    }
    for (int g = 0; g < G; g++) ctx->pos[slots[g]]++;
    if (!logits) return MMG_OK;
    const float *rows = ctx->x;
    if (c->final_norm) {
        mmg__layernorm_forward(ctx->h, NULL, NULL, ctx->x, m->dec_ln_w, m->dec_ln_b, G, C,
                               c->layernorm_eps);
        rows = ctx->h;
    }
    rows_linear(ctx, logits, rows, m->lm_head, m->lm_head_qm, NULL, NULL, G, C, V);
    return check_logits(ctx, logits, (size_t)G, V, 0, 0, slots, 0);
}

/* ---- public ---------------------------------------------------------------------------- */

mmg_status mmg_context_encode(mmg_context *ctx, int32_t slot, const int32_t *src, int32_t n_src) {
    if (!ctx) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_encode: ctx is NULL");
    if (!src) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_encode: src is NULL");
    if (ctx->model->cfg.n_encoder_layers == 0)
        return mmg__error(MMG_ERR_STATE,
                          "mmg_context_encode: the model is decoder-only (n_encoder_layers 0)");
    mmg_status s = check_slot(ctx, slot, "mmg_context_encode");
    if (s) return s;
    if (n_src < 1 || n_src > ctx->T)
        return mmg__error(MMG_ERR_RANGE,
                          "mmg_context_encode: source length %d is outside [1, %d] (the "
                          "context's max_seq_len)",
                          n_src, ctx->T);
    s = mmg__check_tokens(ctx->model, "source", src, (size_t)n_src);
    if (s) return s;
    int prev = mmg__context_enter(ctx);
    s = mmg__context_encode(ctx, slot, src, n_src);
    mmg__context_leave(prev);
    return s;
}

mmg_status mmg_context_decode(mmg_context *ctx, int32_t slot, const int32_t *tokens,
                              int32_t n_tokens, float *logits, int32_t all_logits) {
    if (!ctx) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_decode: ctx is NULL");
    if (!tokens) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_decode: tokens is NULL");
    mmg_status s = check_slot(ctx, slot, "mmg_context_decode");
    if (s) return s;
    if (n_tokens < 1)
        return mmg__error(MMG_ERR_RANGE, "mmg_context_decode: n_tokens is %d; expected >= 1",
                          n_tokens);
    if (ctx->model->cfg.n_encoder_layers > 0 && ctx->n_src[slot] == 0)
        return mmg__error(MMG_ERR_STATE,
                          "mmg_context_decode: slot %d has no encoded source; call "
                          "mmg_context_encode first",
                          slot);
    if (n_tokens > ctx->T - ctx->pos[slot])
        return mmg__error(MMG_ERR_RANGE,
                          "mmg_context_decode: slot %d holds %d tokens; %d more would pass the "
                          "context's max_seq_len %d",
                          slot, ctx->pos[slot], n_tokens, ctx->T);
    s = mmg__check_tokens(ctx->model, "decoder", tokens, (size_t)n_tokens);
    if (s) return s;
    int prev = mmg__context_enter(ctx);
    s = mmg__context_decode(ctx, slot, tokens, n_tokens, logits, all_logits);
    mmg__context_leave(prev);
    return s;
}

mmg_status mmg_context_forward(mmg_context *ctx, int32_t batch, const int32_t *src,
                               const int32_t *src_lengths, int32_t src_len, const int32_t *tgt,
                               const int32_t *tgt_lengths, int32_t tgt_len, float *logits) {
    if (!ctx) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_forward: ctx is NULL");
    if (!tgt || !logits)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_forward: %s is NULL",
                          !tgt ? "tgt" : "logits");
    const mmg_model *m = ctx->model;
    const int enc = m->cfg.n_encoder_layers > 0;
    if (batch < 1)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_forward: batch is %d; expected >= 1",
                          batch);
    if (enc && !src)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_context_forward: the model is an encoder-decoder; src is NULL");
    if (!enc && (src || src_len != 0))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_context_forward: the model is decoder-only; pass src NULL and "
                          "src_len 0");
    if (tgt_len < 1 || tgt_len > m->cfg.max_seq_len || (enc && (src_len < 1 || src_len > m->cfg.max_seq_len)))
        return mmg__error(MMG_ERR_RANGE,
                          "mmg_context_forward: lengths (source %d, target %d) must be in [1, %d]",
                          src_len, tgt_len, m->cfg.max_seq_len);
    if (!ctx->acts || ctx->acts->B < batch || ctx->acts->Ts < src_len || ctx->acts->Tt < tgt_len) {
        mmg__activations *a;
        mmg_status s = mmg__activations_create(m, batch, src_len, tgt_len, ctx->memory_limit, &a);
        if (s) return s;
        mmg__activations_free(ctx->acts);
        ctx->acts = a;
    }
    int prev = mmg__context_enter(ctx);
    mmg_status s = mmg__forward(m, ctx->acts, src, src_lengths, tgt, tgt_lengths, batch, src_len,
                                tgt_len, logits);
    mmg__context_leave(prev);
    if (s) return s;
    return check_logits(ctx, logits, (size_t)batch * (size_t)tgt_len, m->cfg.vocab_size, -1, 0,
                        NULL, tgt_len);
}

mmg_status mmg_context_decode_batch(mmg_context *ctx, int32_t n, const int32_t *slots,
                                    const int32_t *tokens, float *logits) {
    if (!ctx) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_decode_batch: ctx is NULL");
    if (!slots || !tokens)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_context_decode_batch: %s is NULL",
                          !slots ? "slots" : "tokens");
    if (n < 1 || n > ctx->n_slots)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_context_decode_batch: n is %d; expected 1..%d (the context's "
                          "n_slots)",
                          n, ctx->n_slots);
    for (int i = 0; i < n; i++) {
        mmg_status s = check_slot(ctx, slots[i], "mmg_context_decode_batch");
        if (s) return s;
        for (int j = 0; j < i; j++)
            if (slots[j] == slots[i])
                return mmg__error(MMG_ERR_INVALID_ARG,
                                  "mmg_context_decode_batch: slot %d appears twice", slots[i]);
        if (ctx->model->cfg.n_encoder_layers > 0 && ctx->n_src[slots[i]] == 0)
            return mmg__error(MMG_ERR_STATE,
                              "mmg_context_decode_batch: slot %d has no encoded source",
                              slots[i]);
        if (ctx->pos[slots[i]] >= ctx->T)
            return mmg__error(MMG_ERR_RANGE,
                              "mmg_context_decode_batch: slot %d is full (max_seq_len %d)",
                              slots[i], ctx->T);
    }
    mmg_status s = mmg__check_tokens(ctx->model, "decoder", tokens, (size_t)n);
    if (s) return s;
    int prev = mmg__context_enter(ctx);
    s = mmg__context_decode_batch(ctx, slots, tokens, n, logits);
    mmg__context_leave(prev);
    return s;
}
