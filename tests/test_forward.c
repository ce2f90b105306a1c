/* tests/test_forward.c - the forward pass: incremental decoding with the KV
 * cache equals the full forward, padding is masked, results do not depend on
 * the thread count or on other sequences in the batch; the attention kernel
 * (with and without its training dropout) against a double-precision
 * reference, and non-finite values poison exactly what depends on them.
 * (Agreement with PyTorch is tests/test_model_parity.c.) */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "model-impl.h"
#include "mmgen/context.h"
#include "mmgen/model.h"
#include "mmgen/status.h"
#include "ops.h"
#include "ops_backward.h"

static mmg_model *make_model(int n_enc, int n_dec, int C, int H, int F, int V, int T, int pre,
                             int act, int pos, int tied, int bias) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = V;
    c.d_model = C;
    c.n_heads = H;
    c.n_encoder_layers = n_enc;
    c.n_decoder_layers = n_dec;
    c.d_ff = F;
    c.max_seq_len = T;
    c.norm_placement = pre;
    c.activation = act;
    c.position_encoding = pos;
    c.tied_output = tied;
    c.bias = bias;
    c.norm_bias = bias; /* bias 0: no biases anywhere, LayerNorms included */
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = 1234;
    o.init_std = 0.2f; /* large enough that layers change the stream visibly */
    mmg_model *m = NULL;
    mmg_status s = mmg_model_create(&c, &o, &m);
    cr_assert_eq(s, MMG_OK, "%s", mmg_last_error());
    return m;
}

static float max_abs(const float *a, size_t n) {
    float mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmaxf(mx, fabsf(a[i]));
    return mx;
}

/* Full forward of one sequence vs token-by-token decoding (and a prefill of
 * the first half followed by single steps). */
static void check_incremental(mmg_model *m, int n_src, int n_tgt) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    cr_assert_eq(mmg_model_get_config(m, &c), MMG_OK);
    const int V = c.vocab_size;
    int32_t src[64], tgt[64];
    for (int i = 0; i < n_src; i++) src[i] = (i * 7 + 3) % V;
    for (int i = 0; i < n_tgt; i++) tgt[i] = (i * 5 + 1) % V;
    mmg_context *ctx;
    cr_assert_eq(mmg_context_create(m, NULL, &ctx), MMG_OK, "%s", mmg_last_error());
    float *full = malloc(sizeof(float) * (size_t)n_tgt * V);
    float *step = malloc(sizeof(float) * (size_t)n_tgt * V);
    int enc = c.n_encoder_layers > 0;
    cr_assert_eq(mmg_context_forward(ctx, 1, enc ? src : NULL, NULL, enc ? n_src : 0, tgt, NULL,
                                     n_tgt, full),
                 MMG_OK, "%s", mmg_last_error());
    float scale = max_abs(full, (size_t)n_tgt * V);
    cr_assert_gt(scale, 0.0f);

    /* token by token */
    if (enc) cr_assert_eq(mmg_context_encode(ctx, 0, src, n_src), MMG_OK, "%s", mmg_last_error());
    for (int t = 0; t < n_tgt; t++)
        cr_assert_eq(mmg_context_decode(ctx, 0, tgt + t, 1, step + (size_t)t * V, 0), MMG_OK, "%s",
                     mmg_last_error());
    cr_assert_eq(mmg_context_position(ctx, 0), n_tgt);
    for (size_t i = 0; i < (size_t)n_tgt * V; i++)
        cr_assert(fabsf(full[i] - step[i]) <= 1e-5f * scale, "logit %zu: full %g, incremental %g",
                  i, full[i], step[i]);

    /* prefill half (all logits), then steps */
    cr_assert_eq(mmg_context_reset(ctx, 0), MMG_OK);
    int half = n_tgt / 2 > 0 ? n_tgt / 2 : 1;
    cr_assert_eq(mmg_context_decode(ctx, 0, tgt, half, step, 1), MMG_OK, "%s", mmg_last_error());
    for (int t = half; t < n_tgt; t++)
        cr_assert_eq(mmg_context_decode(ctx, 0, tgt + t, 1, step + (size_t)t * V, 0), MMG_OK);
    for (size_t i = 0; i < (size_t)n_tgt * V; i++)
        cr_assert(fabsf(full[i] - step[i]) <= 1e-5f * scale, "logit %zu: full %g, prefill %g", i,
                  full[i], step[i]);
    free(full);
    free(step);
    mmg_context_free(ctx);
}

Test(forward, incremental_equals_full_decoder_only_pre_ln) {
    mmg_model *m = make_model(0, 3, 36, 3, 50, 41, 32, MMG_NORM_PRE, MMG_ACT_GELU_TANH,
                              MMG_POS_LEARNED, 1, 1);
    check_incremental(m, 0, 32);
    mmg_model_free(m);
}

Test(forward, incremental_equals_full_decoder_only_post_ln) {
    mmg_model *m = make_model(0, 2, 20, 1, 30, 17, 16, MMG_NORM_POST, MMG_ACT_RELU,
                              MMG_POS_SINUSOIDAL, 0, 0);
    check_incremental(m, 0, 11);
    mmg_model_free(m);
}

Test(forward, incremental_equals_full_encoder_decoder) {
    mmg_model *m = make_model(2, 2, 24, 4, 40, 29, 20, MMG_NORM_POST, MMG_ACT_RELU,
                              MMG_POS_SINUSOIDAL, 1, 1);
    check_incremental(m, 13, 9);
    check_incremental(m, 1, 1);
    check_incremental(m, 20, 20);
    mmg_model_free(m);
}

Test(forward, incremental_equals_full_encoder_decoder_pre_ln_gelu) {
    mmg_model *m = make_model(1, 3, 30, 5, 44, 23, 12, MMG_NORM_PRE, MMG_ACT_GELU,
                              MMG_POS_LEARNED, 0, 1);
    check_incremental(m, 7, 12);
    mmg_model_free(m);
}

Test(forward, incremental_equals_full_encoder_decoder_no_biases) {
    mmg_model *m = make_model(2, 2, 24, 4, 40, 29, 20, MMG_NORM_POST, MMG_ACT_GELU,
                              MMG_POS_SINUSOIDAL, 1, 0);
    check_incremental(m, 9, 14);
    mmg_model_free(m);
}

/* A padded sequence in a batch gives the same logits (on its valid
 * positions) as that sequence alone: padding keys are masked. */
Test(forward, padding_is_masked) {
    mmg_model *m = make_model(2, 2, 16, 2, 32, 19, 12, MMG_NORM_POST, MMG_ACT_RELU,
                              MMG_POS_SINUSOIDAL, 1, 1);
    const int V = 19, Ts = 10, Tt = 8;
    int32_t src[2 * 10], tgt[2 * 8];
    for (int i = 0; i < 2 * Ts; i++) src[i] = (i * 3 + 1) % V;
    for (int i = 0; i < 2 * Tt; i++) tgt[i] = (i * 11 + 2) % V;
    int32_t src_len[2] = {Ts, 6}, tgt_len[2] = {Tt, 5};
    mmg_context *ctx;
    cr_assert_eq(mmg_context_create(m, NULL, &ctx), MMG_OK);
    float *batch = malloc(sizeof(float) * 2 * Tt * V), *alone = malloc(sizeof(float) * 5 * V);
    cr_assert_eq(mmg_context_forward(ctx, 2, src, src_len, Ts, tgt, tgt_len, Tt, batch), MMG_OK,
                 "%s", mmg_last_error());
    cr_assert_eq(mmg_context_forward(ctx, 1, src + Ts, NULL, 6, tgt + Tt, NULL, 5, alone), MMG_OK,
                 "%s", mmg_last_error());
    float scale = max_abs(alone, 5 * (size_t)V);
    for (int i = 0; i < 5 * V; i++)
        cr_assert(fabsf(batch[Tt * V + i] - alone[i]) <= 1e-5f * scale, "logit %d: %g vs %g", i,
                  batch[Tt * V + i], alone[i]);
    /* Changing a padding token changes nothing on valid positions. */
    float *again = malloc(sizeof(float) * 2 * Tt * V);
    src[Ts + 8] = (src[Ts + 8] + 1) % V;
    tgt[Tt + 6] = (tgt[Tt + 6] + 1) % V;
    cr_assert_eq(mmg_context_forward(ctx, 2, src, src_len, Ts, tgt, tgt_len, Tt, again), MMG_OK);
    cr_assert_eq(memcmp(batch + Tt * V, again + Tt * V, sizeof(float) * 5 * V), 0);
    free(batch);
    free(alone);
    free(again);
    mmg_context_free(ctx);
    mmg_model_free(m);
}

/* Bit-identical logits for 1, 2, 3 and 5 threads, full forward and decode. */
Test(forward, thread_count_does_not_change_bits) {
    mmg_model *m = make_model(0, 2, 300, 4, 520, 700, 40, MMG_NORM_PRE, MMG_ACT_GELU_TANH,
                              MMG_POS_LEARNED, 1, 1);
    const int V = 700, T = 40;
    int32_t tgt[40];
    for (int i = 0; i < T; i++) tgt[i] = (i * 37 + 5) % V;
    float *ref_full = malloc(sizeof(float) * T * V), *ref_step = malloc(sizeof(float) * V);
    float *full = malloc(sizeof(float) * T * V), *step = malloc(sizeof(float) * V);
    int threads[] = {1, 2, 3, 5};
    for (int k = 0; k < 4; k++) {
        mmg_context_options o;
        mmg_context_options_init(&o, sizeof o);
        o.n_threads = threads[k];
        mmg_context *ctx;
        cr_assert_eq(mmg_context_create(m, &o, &ctx), MMG_OK);
        cr_assert_eq(mmg_context_threads(ctx), threads[k]);
        cr_assert_eq(mmg_context_forward(ctx, 1, NULL, NULL, 0, tgt, NULL, T, k ? full : ref_full),
                     MMG_OK);
        cr_assert_eq(mmg_context_decode(ctx, 0, tgt, T - 1, NULL, 0), MMG_OK);
        cr_assert_eq(mmg_context_decode(ctx, 0, tgt + T - 1, 1, k ? step : ref_step, 0), MMG_OK);
        if (k) {
            cr_assert_eq(memcmp(full, ref_full, sizeof(float) * T * V), 0,
                         "full forward differs with %d threads", threads[k]);
            cr_assert_eq(memcmp(step, ref_step, sizeof(float) * V), 0,
                         "decode differs with %d threads", threads[k]);
        }
        mmg_context_free(ctx);
    }
    free(ref_full);
    free(ref_step);
    free(full);
    free(step);
    mmg_model_free(m);
}

/* The context keeps the model alive: freeing the model first is safe. */
Test(forward, model_freed_before_context) {
    mmg_model *m = make_model(0, 1, 8, 2, 16, 11, 8, MMG_NORM_PRE, MMG_ACT_RELU, MMG_POS_LEARNED,
                              1, 1);
    mmg_context *ctx;
    cr_assert_eq(mmg_context_create(m, NULL, &ctx), MMG_OK);
    mmg_model_free(m);
    int32_t t = 3;
    float logits[11];
    cr_assert_eq(mmg_context_decode(ctx, 0, &t, 1, logits, 0), MMG_OK);
    cr_assert(isfinite(logits[0]));
    mmg_context_free(ctx);
}

/* A batched step gives each slot exactly the logits it gets alone. */
static void check_batch_step(int n_enc) {
    mmg_model *m = make_model(n_enc, 2, 96, 4, 130, 300, 24, n_enc ? MMG_NORM_POST : MMG_NORM_PRE,
                              MMG_ACT_GELU, MMG_POS_LEARNED, 0, 1);
    const int V = 300, S = 3;
    mmg_context_options o;
    mmg_context_options_init(&o, sizeof o);
    o.n_slots = S;
    mmg_context *a, *b;
    cr_assert_eq(mmg_context_create(m, &o, &a), MMG_OK);
    cr_assert_eq(mmg_context_create(m, &o, &b), MMG_OK);
    int32_t toks[3][8] = {{1, 2, 3, 4, 5, 6, 7, 8}, {9, 10, 11, 12, 13, 14, 15, 16}, {20, 21, 22, 23, 24, 25, 26, 27}};
    int lens[3] = {5, 2, 7}; /* different positions per slot */
    for (int s = 0; s < S; s++) {
        if (n_enc) {
            cr_assert_eq(mmg_context_encode(a, s, toks[(s + 1) % S], 3 + s), MMG_OK);
            cr_assert_eq(mmg_context_encode(b, s, toks[(s + 1) % S], 3 + s), MMG_OK);
        }
        cr_assert_eq(mmg_context_decode(a, s, toks[s], lens[s], NULL, 0), MMG_OK);
        cr_assert_eq(mmg_context_decode(b, s, toks[s], lens[s], NULL, 0), MMG_OK);
    }
    int32_t slots[3] = {2, 0, 1}, next[3] = {40, 41, 42};
    float batch[3 * 300], alone[300];
    cr_assert_eq(mmg_context_decode_batch(a, 3, slots, next, batch), MMG_OK, "%s", mmg_last_error());
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(mmg_context_decode(b, slots[k], next + k, 1, alone, 0), MMG_OK);
        cr_assert_eq(memcmp(batch + k * V, alone, sizeof alone), 0, "slot %d differs", slots[k]);
        cr_assert_eq(mmg_context_position(a, slots[k]), lens[slots[k]] + 1);
    }
    /* bad requests change nothing */
    int32_t dup[2] = {1, 1}, bad_tok[2] = {3, 300};
    cr_assert_eq(mmg_context_decode_batch(a, 2, dup, next, batch), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_context_decode_batch(a, 2, slots, bad_tok, batch), MMG_ERR_RANGE);
    cr_assert_eq(mmg_context_decode_batch(a, 4, slots, next, batch), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_context_decode_batch(a, 1, slots, NULL, batch), MMG_ERR_INVALID_ARG);
    for (int s = 0; s < S; s++) cr_assert_eq(mmg_context_position(a, s), lens[s] + 1);
    mmg_context_free(a);
    mmg_context_free(b);
    mmg_model_free(m);
}

Test(forward, batched_step_equals_single_slot_decoder_only) { check_batch_step(0); }
Test(forward, batched_step_equals_single_slot_encoder_decoder) { check_batch_step(2); }

/* ---- the attention kernel against a double-precision reference ---------------------- */

enum { AB = 2, AH = 2, AHS = 4, AC = AH * AHS, AT = 70 }; /* 70 rows: two query blocks */

typedef struct att_case {
    float qkv[AB * AT * 3 * AC]; /* (B, T, 3C) packed like the model's sa_qkv */
    int32_t key_len[AB];
} att_case;

static void att_fill(att_case *c, unsigned seed) {
    for (size_t i = 0; i < sizeof c->qkv / sizeof c->qkv[0]; i++) {
        seed = seed * 1664525u + 1013904223u;
        c->qkv[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    c->key_len[0] = AT;
    c->key_len[1] = 45;
}

/* Causal, padded attention in double. att (B, H, T, T) gets the
 * probabilities, out (B, T, C) the weighted values with dropout mask (or
 * NULL) at probability p. */
static void att_ref(double *out, double *att, const att_case *c, const uint8_t *mask, float p) {
    const double scale = 1.0 / sqrt((double)AHS);
    for (int b = 0; b < AB; b++)
        for (int h = 0; h < AH; h++)
            for (int t = 0; t < AT; t++) {
                const float *q = c->qkv + ((size_t)b * AT + t) * 3 * AC + h * AHS;
                int nk = t + 1 < c->key_len[b] ? t + 1 : c->key_len[b];
                double s[AT], mx = -INFINITY, sum = 0.0;
                for (int j = 0; j < nk; j++) {
                    const float *k = c->qkv + ((size_t)b * AT + j) * 3 * AC + AC + h * AHS;
                    s[j] = 0.0;
                    for (int i = 0; i < AHS; i++) s[j] += (double)q[i] * k[i];
                    s[j] *= scale;
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < nk; j++) sum += s[j] = exp(s[j] - mx);
                double *a = att + (((size_t)b * AH + h) * AT + t) * AT;
                for (int j = 0; j < AT; j++) a[j] = j < nk ? s[j] / sum : 0.0;
                double *y = out + ((size_t)b * AT + t) * AC + h * AHS;
                for (int i = 0; i < AHS; i++) y[i] = 0.0;
                for (int j = 0; j < nk; j++) {
                    double w = a[j];
                    if (mask) w = mask[(((size_t)b * AH + h) * AT + t) * AT + j] ? w / (1.0 - p) : 0.0;
                    const float *v = c->qkv + ((size_t)b * AT + j) * 3 * AC + 2 * AC + h * AHS;
                    for (int i = 0; i < AHS; i++) y[i] += w * v[i];
                }
            }
}

static void att_run(float *out, float *att, const att_case *c, const uint8_t *mask, float p) {
    float *scratch = malloc(sizeof(float) * (size_t)omp_get_max_threads() * MMG__ATT_BLOCK_Q * AT);
    mmg__attention_forward_ex(out, att, scratch, c->qkv, 3 * AC, c->qkv + AC, 3 * AC, c->qkv + 2 * AC,
                              3 * AC, c->key_len, AB, AH, AT, AT, AHS, 1, 0, mask, p);
    free(scratch);
}

static void expect_near(const char *what, const float *got, const double *ref, size_t n, double tol) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        worst = fmax(worst, e);
        cr_expect(e <= tol, "%s[%zu]: %.9g, expected %.9g", what, i, (double)got[i], ref[i]);
    }
    cr_log_info("%s: worst error %.3g", what, worst);
}

Test(forward, attention_matches_double_reference_with_and_without_dropout) {
    static att_case c;
    static float out[AB * AT * AC], att[AB * AH * AT * AT], att_d[AB * AH * AT * AT];
    static float out_d[AB * AT * AC];
    static double ref_out[AB * AT * AC], ref_att[AB * AH * AT * AT];
    static uint8_t mask[AB * AH * AT * AT];
    att_fill(&c, 7);
    mmg__attention_forward(out, att, NULL, c.qkv, 3 * AC, c.qkv + AC, 3 * AC, c.qkv + 2 * AC, 3 * AC,
                           c.key_len, AB, AH, AT, AT, AHS, 1, 0);
    att_ref(ref_out, ref_att, &c, NULL, 0.0f);
    expect_near("probabilities", att, ref_att, sizeof att / sizeof att[0], 2e-7);
    expect_near("output", out, ref_out, sizeof out / sizeof out[0], 4e-7);

    /* dropout: the saved probabilities are the undropped ones, bit for bit;
     * the output uses mask * att / (1 - p) */
    const float p = 0.3f;
    mmg__dropout_mask(mask, sizeof mask, p, 1234, 5);
    size_t dropped = 0;
    for (size_t i = 0; i < sizeof mask; i++) dropped += !mask[i];
    cr_assert(dropped > sizeof mask / 4 && dropped < sizeof mask * 7 / 20, "dropped %zu", dropped);
    att_run(out_d, att_d, &c, mask, p);
    cr_assert_eq(memcmp(att, att_d, sizeof att), 0, "dropout must not change the saved probabilities");
    att_ref(ref_out, ref_att, &c, mask, p);
    expect_near("dropout output", out_d, ref_out, sizeof out_d / sizeof out_d[0], 4e-7);

    /* an all-ones mask at p = 0 is the plain kernel, bit for bit */
    memset(mask, 1, sizeof mask);
    att_run(out_d, att_d, &c, mask, 0.0f);
    cr_assert_eq(memcmp(out, out_d, sizeof out), 0);
}

/* A NaN key poisons exactly the rows that can see it; huge scores give
 * one-hot rows like the double reference; no undefined behaviour on the way
 * (the sanitizer build checks). */
Test(forward, attention_non_finite_and_huge_scores) {
    static att_case c;
    static float out[AB * AT * AC], att[AB * AH * AT * AT];
    static double ref_out[AB * AT * AC], ref_att[AB * AH * AT * AT];
    att_fill(&c, 11);
    const int bad = 10;
    c.qkv[((size_t)0 * AT + bad) * 3 * AC + AC + 1] = NAN; /* key of (b 0, position 10, head 0) */
    c.qkv[((size_t)1 * AT + bad) * 3 * AC + AC + AHS] = INFINITY; /* key of (b 1, 10, head 1) */
    mmg__attention_forward(out, att, NULL, c.qkv, 3 * AC, c.qkv + AC, 3 * AC, c.qkv + 2 * AC, 3 * AC,
                           c.key_len, AB, AH, AT, AT, AHS, 1, 0);
    att_ref(ref_out, ref_att, &c, NULL, 0.0f);
    int n_nan = 0;
    for (int b = 0; b < AB; b++)
        for (int t = 0; t < AT; t++)
            for (int i = 0; i < AC; i++) {
                const int h = i / AHS;
                const size_t at = ((size_t)b * AT + t) * AC + i;
                const float y = out[at];
                /* the NaN key: every row that sees it; the inf key: the rows
                 * where its score is +inf (inf - inf), not where it is -inf */
                if (b == 0 && h == 0 && t >= bad)
                    cr_expect(isnan(y), "b %d t %d head %d sees the NaN key: %g", b, t, h, (double)y);
                if (isnan(ref_out[at])) {
                    n_nan++;
                    cr_expect(isnan(y), "b %d t %d head %d: %g, expected NaN", b, t, h, (double)y);
                } else {
                    cr_expect(fabs(y - ref_out[at]) <= 4e-7, "b %d t %d head %d: %.9g, expected %.9g",
                              b, t, h, (double)y, ref_out[at]);
                }
            }
    cr_assert_gt(n_nan, (AT - bad) * AHS, "the +inf key poisons some rows of b 1 too");

    /* queries scaled by 1e6: scores of millions, softmax rows one-hot */
    att_fill(&c, 13);
    for (int b = 0; b < AB; b++)
        for (int t = 0; t < AT; t++)
            for (int i = 0; i < AC; i++) c.qkv[((size_t)b * AT + t) * 3 * AC + i] *= 1e6f;
    mmg__attention_forward(out, att, NULL, c.qkv, 3 * AC, c.qkv + AC, 3 * AC, c.qkv + 2 * AC, 3 * AC,
                           c.key_len, AB, AH, AT, AT, AHS, 1, 0);
    att_ref(ref_out, ref_att, &c, NULL, 0.0f);
    expect_near("huge-score probabilities", att, ref_att, sizeof att / sizeof att[0], 2e-7);
    expect_near("huge-score output", out, ref_out, sizeof out / sizeof out[0], 4e-7);
}

/* A NaN in one token's embedding row poisons, in a causal decoder, every
 * logit at and after that token, and never another sequence of the batch
 * (bit for bit). Runs every kernel of the forward (LayerNorm, attention, GELU,
 * the output projection) on NaN input. Earlier positions of the same sequence
 * may turn NaN too: their probability 0 for the later key still multiplies
 * its NaN value inside the block's product, as in PyTorch's masked attention. */
Test(forward, a_nan_embedding_poisons_its_sequence_only) {
    mmg_model *m = make_model(0, 2, 16, 2, 24, 13, 12, MMG_NORM_PRE, MMG_ACT_GELU,
                              MMG_POS_LEARNED, 0, 1); /* untied: wte is not the output projection */
    const int V = 13, T = 9, bad_tok = 7, bad_pos = 4;
    int32_t tgt[2 * 9];
    for (int i = 0; i < 2 * T; i++) tgt[i] = (i * 5 + 1) % V == bad_tok ? 3 : (i * 5 + 1) % V;
    tgt[bad_pos] = bad_tok; /* sequence 0 only */
    mmg_context *ctx;
    cr_assert_eq(mmg_context_create(m, NULL, &ctx), MMG_OK);
    float *ref = malloc(sizeof(float) * 2 * T * V), *got = malloc(sizeof(float) * 2 * T * V);
    cr_assert_eq(mmg_context_forward(ctx, 2, NULL, NULL, 0, tgt, NULL, T, ref), MMG_OK);
    m->wte[(size_t)bad_tok * 16 + 5] = NAN; /* the test owns the model: poke one weight */
    cr_assert_eq(mmg_context_forward(ctx, 2, NULL, NULL, 0, tgt, NULL, T, got), MMG_OK);
    for (int i = bad_pos * V; i < T * V; i++)
        cr_expect(isnan(got[i]), "logit %d (position %d) is %g, expected NaN", i, i / V, (double)got[i]);
    cr_assert_eq(memcmp(ref + T * V, got + T * V, sizeof(float) * T * V), 0,
                 "the other sequence of the batch changed");
    free(ref);
    free(got);
    mmg_context_free(ctx);
    mmg_model_free(m);
}
