/* tests/test_grad_ops.c - finite-difference checks of every backward kernel.
 *
 * For each op, a scalar objective L = sum_i g_i * out_i (g fixed random
 * weights, summed in double) is differentiated two ways: the backward kernel
 * with dout = g, and central differences (L(x + h) - L(x - h)) / 2h on every
 * input element (tiny sizes, so all of them). The ops run in float, so the
 * tolerance allows float rounding in L: |fd - analytic| <= tol * max(1, max|analytic|). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <omp.h>
#include <string.h>

#include "loss.h"
#include "ops.h"
#include "ops_backward.h"
#include "rng.h"

static mmg__rng R;

static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * mmg__rng_normal(&R);
}

static double dot(const float *g, const float *y, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * (double)y[i];
    return s;
}

typedef double (*objective)(void *ctx);

/* Central differences of f over every element of x against `analytic`. */
static void fd_check(const char *what, float *x, size_t n, const float *analytic, objective f,
                     void *ctx, float h, double tol) {
    double amax = 1.0;
    for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs(analytic[i]));
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        float save = x[i];
        x[i] = save + h;
        double dp = (double)x[i] - (double)save;
        double lp = f(ctx);
        x[i] = save - h;
        double dm = (double)save - (double)x[i];
        double lm = f(ctx);
        x[i] = save;
        double fd = (lp - lm) / (dp + dm);
        double err = fabs(fd - (double)analytic[i]) / amax;
        if (err > worst) worst = err;
        cr_expect_leq(err, tol, "%s[%zu]: finite difference %.6g, backward %.6g", what, i, fd,
                      (double)analytic[i]);
    }
    cr_log_info("%s: %zu elements, worst error %.2g of max %.3g", what, n, worst, amax);
}

static void init(void) { mmg__rng_seed(&R, 1234); }

/* ---- LayerNorm ----------------------------------------------------------- */

typedef struct { float *out, *inp, *w, *b, *g; int N, C; } ln_ctx;

static double ln_obj(void *p) {
    ln_ctx *c = p;
    mmg__layernorm_forward(c->out, NULL, NULL, c->inp, c->w, c->b, c->N, c->C, 1e-5f);
    return dot(c->g, c->out, (size_t)c->N * c->C);
}

Test(grad_ops, layernorm, .init = init) {
    enum { N = 5, C = 7 };
    float inp[N * C], w[C], b[C], out[N * C], g[N * C], mean[N], rstd[N];
    float dinp[N * C] = {0}, dw[C] = {0}, db[C] = {0};
    fill(inp, N * C, 1.0f);
    fill(w, C, 0.5f);
    for (int i = 0; i < C; i++) w[i] += 1.0f;
    fill(b, C, 0.3f);
    fill(g, N * C, 1.0f);
    mmg__layernorm_forward(out, mean, rstd, inp, w, b, N, C, 1e-5f);
    mmg__layernorm_backward(dinp, dw, db, g, inp, w, mean, rstd, N, C);
    ln_ctx c = {out, inp, w, b, g, N, C};
    fd_check("layernorm dinp", inp, N * C, dinp, ln_obj, &c, 1e-2f, 2e-3);
    fd_check("layernorm dweight", w, C, dw, ln_obj, &c, 1e-2f, 2e-3);
    fd_check("layernorm dbias", b, C, db, ln_obj, &c, 1e-2f, 2e-3);
}

Test(grad_ops, layernorm_accumulates, .init = init) {
    /* the backward adds: running it twice doubles every gradient */
    enum { N = 3, C = 130 }; /* more than one 64-column block */
    static float inp[N * C], w[C], b[C], out[N * C], g[N * C], mean[N], rstd[N];
    static float d1[N * C], dw1[C], db1[C], d2[N * C], dw2[C], db2[C];
    fill(inp, N * C, 1.0f);
    fill(w, C, 1.0f);
    fill(b, C, 1.0f);
    fill(g, N * C, 1.0f);
    mmg__layernorm_forward(out, mean, rstd, inp, w, b, N, C, 1e-5f);
    mmg__layernorm_backward(d1, dw1, db1, g, inp, w, mean, rstd, N, C);
    mmg__layernorm_backward(d2, dw2, db2, g, inp, w, mean, rstd, N, C);
    mmg__layernorm_backward(d2, dw2, db2, g, inp, w, mean, rstd, N, C);
    for (int i = 0; i < N * C; i++) cr_assert_float_eq(d2[i], 2 * d1[i], 1e-5f * (1 + fabsf(d1[i])));
    for (int i = 0; i < C; i++) {
        cr_assert_float_eq(dw2[i], 2 * dw1[i], 1e-5f * (1 + fabsf(dw1[i])));
        cr_assert_float_eq(db2[i], 2 * db1[i], 1e-5f * (1 + fabsf(db1[i])));
    }
}

/* ---- linear layer ----------------------------------------------------------- */

typedef struct { float *out, *inp, *w, *b, *g; int N, IC, OC; } mm_ctx;

static double mm_obj(void *p) {
    mm_ctx *c = p;
    mmg__matmul_forward(c->out, c->inp, c->w, c->b, c->N, c->IC, c->OC);
    return dot(c->g, c->out, (size_t)c->N * c->OC);
}

Test(grad_ops, matmul_with_bias, .init = init) {
    enum { N = 4, IC = 6, OC = 5 };
    float inp[N * IC], w[OC * IC], b[OC], out[N * OC], g[N * OC];
    float dinp[N * IC] = {0}, dw[OC * IC] = {0}, db[OC] = {0};
    fill(inp, N * IC, 1.0f);
    fill(w, OC * IC, 1.0f);
    fill(b, OC, 1.0f);
    fill(g, N * OC, 1.0f);
    mmg__matmul_backward(dinp, dw, db, g, inp, w, N, IC, OC);
    mm_ctx c = {out, inp, w, b, g, N, IC, OC};
    fd_check("matmul dinp", inp, N * IC, dinp, mm_obj, &c, 1e-2f, 1e-3);
    fd_check("matmul dweight", w, OC * IC, dw, mm_obj, &c, 1e-2f, 1e-3);
    fd_check("matmul dbias", b, OC, db, mm_obj, &c, 1e-2f, 1e-3);
}

Test(grad_ops, matmul_without_bias_large, .init = init) {
    /* wider than one GEMM block so the blocked BLAS path is exercised */
    enum { N = 3, IC = 300, OC = 270 };
    static float inp[N * IC], w[OC * IC], out[N * OC], g[N * OC], dinp[N * IC], dw[OC * IC];
    fill(inp, N * IC, 1.0f);
    fill(w, OC * IC, 0.1f);
    fill(g, N * OC, 1.0f);
    mmg__matmul_backward(dinp, dw, NULL, g, inp, w, N, IC, OC);
    mm_ctx c = {out, inp, w, NULL, g, N, IC, OC};
    /* a sample: the first and last rows of each */
    fd_check("matmul(large) dinp", inp, IC, dinp, mm_obj, &c, 1e-2f, 1e-3);
    fd_check("matmul(large) dweight tail", w + (OC - 1) * IC, IC, dw + (OC - 1) * IC, mm_obj, &c,
             1e-2f, 1e-3);
}

/* ---- activations -------------------------------------------------------------- */

typedef struct { float *out, *inp, *g; size_t n; int act; } act_ctx;

static double act_obj(void *p) {
    act_ctx *c = p;
    mmg__activation_forward(c->out, c->inp, c->n, c->act);
    return dot(c->g, c->out, c->n);
}

static void check_activation(int act, const char *name) {
    enum { N = 40 };
    float inp[N], out[N], g[N], dinp[N] = {0};
    fill(inp, N, 2.0f);
    for (int i = 0; i < N; i++) /* keep ReLU's kink out of the difference */
        if (fabsf(inp[i]) < 0.05f) inp[i] = 0.3f;
    fill(g, N, 1.0f);
    mmg__activation_backward(dinp, g, inp, N, act);
    act_ctx c = {out, inp, g, N, act};
    fd_check(name, inp, N, dinp, act_obj, &c, 1e-2f, 1e-3);
    /* the in-place form (dinp == dout) gives the same */
    float inplace[N];
    memcpy(inplace, g, sizeof g);
    mmg__activation_backward(inplace, inplace, inp, N, act);
    for (int i = 0; i < N; i++) cr_assert_float_eq(inplace[i], dinp[i], 1e-6f);
}

Test(grad_ops, relu, .init = init) { check_activation(0, "relu"); }
Test(grad_ops, gelu_exact, .init = init) { check_activation(1, "gelu"); }
Test(grad_ops, gelu_tanh, .init = init) { check_activation(2, "gelu_tanh"); }

/* ---- softmax ---------------------------------------------------------------------- */

typedef struct { float *y, *x, *g; int n; } sm_ctx;

static double sm_obj(void *p) {
    sm_ctx *c = p;
    memcpy(c->y, c->x, sizeof(float) * (size_t)c->n);
    mmg__softmax_forward(c->y, c->n);
    return dot(c->g, c->y, (size_t)c->n);
}

Test(grad_ops, softmax, .init = init) {
    enum { N = 9 };
    float x[N], y[N], g[N], dx[N] = {0};
    fill(x, N, 2.0f);
    fill(g, N, 1.0f);
    memcpy(y, x, sizeof x);
    mmg__softmax_forward(y, N);
    mmg__softmax_backward(dx, g, y, N);
    sm_ctx c = {y, x, g, N};
    fd_check("softmax", x, N, dx, sm_obj, &c, 1e-2f, 1e-3);
}

/* ---- attention ------------------------------------------------------------------- */

typedef struct {
    float *out, *att, *q, *k, *v, *g;
    int qs, ks, vs, B, H, Tq, Tk, hs, causal;
    const int32_t *key_len;
} at_ctx;

static double at_obj(void *p) {
    at_ctx *c = p;
    mmg__attention_forward(c->out, c->att, NULL, c->q, c->qs, c->k, c->ks, c->v, c->vs, c->key_len,
                           c->B, c->H, c->Tq, c->Tk, c->hs, c->causal, 0);
    return dot(c->g, c->out, (size_t)c->B * c->Tq * c->H * c->hs);
}

/* Self-attention over packed qkv (stride 3C), causal, with key padding. */
Test(grad_ops, attention_self_causal_padded, .init = init) {
    enum { B = 2, H = 2, hs = 3, C = H * hs, T = 5 };
    float qkv[B * T * 3 * C], out[B * T * C], att[B * H * T * T], g[B * T * C];
    float dqkv[B * T * 3 * C] = {0};
    float *scratch = malloc(sizeof(float) * (size_t)omp_get_max_threads() * MMG__ATT_ROW_BLOCK * T);
    const int32_t key_len[B] = {5, 3};
    fill(qkv, B * T * 3 * C, 1.0f);
    fill(g, B * T * C, 1.0f);
    at_ctx c = {out, att, qkv, qkv + C, qkv + 2 * C, g, 3 * C, 3 * C, 3 * C, B, H, T, T, hs, 1,
                key_len};
    at_obj(&c);
    mmg__attention_backward(dqkv, dqkv + C, dqkv + 2 * C, scratch, g, att, qkv, 3 * C, qkv + C, 3 * C,
                            qkv + 2 * C, 3 * C, B, H, T, T, hs, NULL, 0.0f);
    fd_check("self-attention dqkv", qkv, B * T * 3 * C, dqkv, at_obj, &c, 1e-2f, 2e-3);
    /* masked keys get exactly no gradient: batch 1 keys 3, 4 (k and v) */
    for (int j = 3; j < T; j++)
        for (int i = 0; i < 2 * C; i++)
            cr_assert_eq(dqkv[((size_t)1 * T + j) * 3 * C + C + i], 0.0f, "masked key %d got a gradient", j);
    free(scratch);
}

/* Cross-attention: Tq != Tk, q stride C, kv packed with stride 2C, padding. */
Test(grad_ops, attention_cross_padded, .init = init) {
    enum { B = 2, H = 3, hs = 2, C = H * hs, Tq = 4, Tk = 6 };
    float q[B * Tq * C], kv[B * Tk * 2 * C], out[B * Tq * C], att[B * H * Tq * Tk], g[B * Tq * C];
    float dq[B * Tq * C] = {0}, dkv[B * Tk * 2 * C] = {0};
    float *scratch = malloc(sizeof(float) * (size_t)omp_get_max_threads() * MMG__ATT_ROW_BLOCK * Tk);
    const int32_t key_len[B] = {6, 2};
    fill(q, B * Tq * C, 1.0f);
    fill(kv, B * Tk * 2 * C, 1.0f);
    fill(g, B * Tq * C, 1.0f);
    at_ctx c = {out, att, q, kv, kv + C, g, C, 2 * C, 2 * C, B, H, Tq, Tk, hs, 0, key_len};
    at_obj(&c);
    mmg__attention_backward(dq, dkv, dkv + C, scratch, g, att, q, C, kv, 2 * C, kv + C, 2 * C, B, H,
                            Tq, Tk, hs, NULL, 0.0f);
    fd_check("cross-attention dq", q, B * Tq * C, dq, at_obj, &c, 1e-2f, 2e-3);
    fd_check("cross-attention dkv", kv, B * Tk * 2 * C, dkv, at_obj, &c, 1e-2f, 2e-3);
    free(scratch);
}

/* ---- embeddings ------------------------------------------------------------------ */

typedef struct { float *out, *wte, *pos, *g; const int32_t *tok; int B, T, C; float scale; } em_ctx;

static double em_obj(void *p) {
    em_ctx *c = p;
    mmg__embedding_forward(c->out, c->tok, c->B, c->T, 0, c->wte, c->scale, c->pos, c->C);
    return dot(c->g, c->out, (size_t)c->B * c->T * c->C);
}

Test(grad_ops, embedding_scatter_add_and_positions, .init = init) {
    enum { V = 7, C = 5, B = 2, T = 4 };
    const int32_t tok[B * T] = {3, 1, 3, 3, 0, 6, 1, 3}; /* repeats must sum */
    float wte[V * C], pos[T * C], out[B * T * C], g[B * T * C];
    float dwte[V * C] = {0}, dpos[T * C] = {0};
    fill(wte, V * C, 1.0f);
    fill(pos, T * C, 1.0f);
    fill(g, B * T * C, 1.0f);
    mmg__embedding_backward(dwte, dpos, g, tok, B, T, 0, 1.7f, C);
    em_ctx c = {out, wte, pos, g, tok, B, T, C, 1.7f};
    fd_check("embedding dwte", wte, V * C, dwte, em_obj, &c, 1e-2f, 1e-3);
    fd_check("embedding dpos", pos, T * C, dpos, em_obj, &c, 1e-2f, 1e-3);
    for (int i = 0; i < C; i++) cr_assert_eq(dwte[2 * C + i], 0.0f, "unused token 2 got a gradient");
}

/* ---- tied output projection -------------------------------------------------------- */

/* logits = x wte^T with wte also the embedding table: the table's gradient is
 * the sum of both uses, which the accumulate-only kernels give when both
 * write into the same buffer. */
typedef struct { float *emb, *logits, *wte, *g; const int32_t *tok; int N, C, V; } tied_ctx;

static double tied_obj(void *p) {
    tied_ctx *c = p;
    mmg__embedding_forward(c->emb, c->tok, 1, c->N, 0, c->wte, 1.0f, NULL, c->C);
    mmg__matmul_forward(c->logits, c->emb, c->wte, NULL, c->N, c->C, c->V);
    return dot(c->g, c->logits, (size_t)c->N * c->V);
}

Test(grad_ops, tied_embedding_and_output_projection, .init = init) {
    enum { V = 6, C = 4, N = 5 };
    const int32_t tok[N] = {1, 4, 1, 0, 5};
    float wte[V * C], emb[N * C], logits[N * V], g[N * V];
    float dwte[V * C] = {0}, demb[N * C] = {0};
    fill(wte, V * C, 1.0f);
    fill(g, N * V, 1.0f);
    tied_ctx c = {emb, logits, wte, g, tok, N, C, V};
    tied_obj(&c);
    mmg__matmul_backward(demb, dwte, NULL, g, emb, wte, N, C, V);
    mmg__embedding_backward(dwte, NULL, demb, tok, 1, N, 0, 1.0f, C);
    fd_check("tied wte", wte, V * C, dwte, tied_obj, &c, 1e-2f, 1e-3);
}

/* ---- cross-entropy ----------------------------------------------------------------- */

typedef struct { float *logits, *work; const int32_t *y; int N, V; float smooth; size_t count; } ce_ctx;

static double ce_obj(void *p) {
    ce_ctx *c = p;
    memcpy(c->work, c->logits, sizeof(float) * (size_t)c->N * c->V);
    double sum = 0.0;
    cr_assert_eq(mmg__ce_forward_backward(c->work, c->y, (size_t)c->N, c->V, -100, c->smooth, 0, 0.0f,
                                          &sum), MMG_OK);
    return sum / (double)c->count;
}

static void check_ce(float smooth, const char *name) {
    enum { N = 6, V = 5 };
    const int32_t y[N] = {2, -100, 0, 4, 4, -100};
    float logits[N * V], work[N * V], d[N * V];
    fill(logits, N * V, 2.0f);
    size_t count = 0;
    cr_assert_eq(mmg__ce_count(y, N, V, -100, &count), MMG_OK);
    cr_assert_eq(count, 4);
    memcpy(d, logits, sizeof d);
    double sum = 0.0;
    cr_assert_eq(mmg__ce_forward_backward(d, y, N, V, -100, smooth, 1, 1.0f / (float)count, &sum),
                 MMG_OK);
    for (int j = 0; j < V; j++) cr_assert_eq(d[1 * V + j], 0.0f, "ignored row has a gradient");
    ce_ctx c = {logits, work, y, N, V, smooth, count};
    fd_check(name, logits, N * V, d, ce_obj, &c, 1e-2f, 1e-3);
}

Test(grad_ops, cross_entropy_ignore_index, .init = init) { check_ce(0.0f, "cross-entropy"); }
Test(grad_ops, cross_entropy_label_smoothing, .init = init) { check_ce(0.1f, "cross-entropy smoothed"); }

Test(grad_ops, cross_entropy_rejects_bad_targets_and_nan, .init = init) {
    const int32_t bad[2] = {1, 5};
    size_t count = 0;
    cr_assert_eq(mmg__ce_count(bad, 2, 5, -100, &count), MMG_ERR_RANGE);
    float logits[4] = {0.0f, NAN, 1.0f, 2.0f};
    const int32_t y[2] = {0, 1};
    double sum = 0.0;
    cr_assert_eq(mmg__ce_forward_backward(logits, y, 2, 2, -100, 0.0f, 1, 1.0f, &sum), MMG_ERR_NUMERIC);
    cr_assert_eq(sum, 0.0, "the loss is untouched on error");
}

/* ---- dropout ------------------------------------------------------------------------ */

Test(grad_ops, dropout_is_seeded_and_its_backward_uses_the_mask, .init = init) {
    enum { N = 20000 };
    static float x[N], y1[N], y2[N], g[N], dx[N];
    static uint8_t m1[N], m2[N];
    fill(x, N, 1.0f);
    fill(g, N, 1.0f);
    mmg__dropout_forward(y1, m1, x, N, 0.25f, 42, 7);
    mmg__dropout_forward(y2, m2, x, N, 0.25f, 42, 7);
    cr_assert_eq(memcmp(y1, y2, sizeof y1), 0, "same seed and stream, same output");
    mmg__dropout_forward(y2, m2, x, N, 0.25f, 42, 8);
    cr_assert_neq(memcmp(m1, m2, sizeof m1), 0, "another stream, another mask");
    size_t dropped = 0;
    for (int i = 0; i < N; i++) {
        dropped += !m1[i];
        cr_assert_float_eq(y1[i], m1[i] ? x[i] / 0.75f : 0.0f, 1e-6f);
    }
    cr_assert(dropped > N * 0.23 && dropped < N * 0.27, "dropped %zu of %d at p = 0.25", dropped, N);
    mmg__dropout_backward(dx, g, m1, N, 0.25f);
    for (int i = 0; i < N; i++) cr_assert_float_eq(dx[i], m1[i] ? g[i] / 0.75f : 0.0f, 1e-6f);
    mmg__dropout_forward(y2, NULL, x, N, 0.0f, 42, 7);
    cr_assert_eq(memcmp(y2, x, sizeof x), 0, "p = 0 copies");
}

/* Longer than one block of query rows (MMG__ATT_ROW_BLOCK), causal with
 * padding: the blocks only visit the keys their rows attend to. A sample of
 * elements across the blocks is checked. */
Test(grad_ops, attention_backward_across_row_blocks, .init = init) {
    enum { B = 2, H = 2, hs = 4, C = H * hs, T = 150 };
    static float qkv[B * T * 3 * C], out[B * T * C], att[B * H * T * T], g[B * T * C];
    static float dqkv[B * T * 3 * C];
    const int32_t key_len[B] = {150, 97};
    float *scratch = malloc(sizeof(float) * (size_t)omp_get_max_threads() * MMG__ATT_ROW_BLOCK * T);
    fill(qkv, B * T * 3 * C, 1.0f);
    fill(g, B * T * C, 1.0f);
    at_ctx c = {out, att, qkv, qkv + C, qkv + 2 * C, g, 3 * C, 3 * C, 3 * C, B, H, T, T, hs, 1,
                key_len};
    at_obj(&c);
    mmg__attention_backward(dqkv, dqkv + C, dqkv + 2 * C, scratch, g, att, qkv, 3 * C, qkv + C, 3 * C,
                            qkv + 2 * C, 3 * C, B, H, T, T, hs, NULL, 0.0f);
    /* every 37th element: rows in all three blocks, q, k and v columns, both sequences */
    enum { S = B * T * 3 * C / 37 };
    double amax = 1.0, worst = 0.0;
    for (int i = 0; i < B * T * 3 * C; i++) amax = fmax(amax, fabs(dqkv[i]));
    for (int s = 0; s < S; s++) {
        int i = s * 37;
        float save = qkv[i];
        qkv[i] = save + 1e-2f;
        double lp = at_obj(&c);
        qkv[i] = save - 1e-2f;
        double lm = at_obj(&c);
        qkv[i] = save;
        double fd = (lp - lm) / 2e-2;
        double err = fabs(fd - dqkv[i]) / amax;
        worst = fmax(worst, err);
        cr_expect_leq(err, 2e-3, "qkv[%d]: finite difference %.6g, backward %.6g", i, fd, (double)dqkv[i]);
    }
    cr_log_info("attention (T = %d, 3 row blocks): %d elements, worst error %.2g of max %.3g", T, S,
                worst, amax);
    free(scratch);
}
