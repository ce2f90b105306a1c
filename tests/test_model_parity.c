/* tests/test_model_parity.c - mmgen's logits equal PyTorch's on committed
 * fixtures, without needing torch.
 *
 * tests/fixtures/parity/ holds models written by tests/parity/torch_parity.py
 * --fixtures (nn.Transformer post-LN/ReLU/sinusoidal, a causal
 * nn.TransformerEncoder stack, a nanoGPT-style GPT-2, in F32, F16 and BF16)
 * and PyTorch's logits for a padded batch. The check is the script's:
 * max|mmgen - torch| <= 1e-4 * max|torch| over the valid positions. The
 * incremental (KV cache) path is checked against the same logits. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/context.h"
#include "mmgen/model.h"
#include "safetensors.h"

#define FIXDIR MMGEN_SOURCE_DIR "/tests/fixtures/parity/"

typedef struct fixture {
    mmg__st_file *f;
    int B, Ts, Tt, V;
    int32_t *src, *src_len, *tgt, *tgt_len;
    float *logits;
} fixture;

static int32_t *read_i32(mmg__st_file *f, const char *name, int *d0, int *d1) {
    const mmg__st_tensor *t = mmg__st_find(f, name);
    if (!t) return NULL;
    cr_assert_eq(t->dtype, MMG__DT_I32);
    int32_t *v = malloc(t->nbytes ? t->nbytes : 1);
    memcpy(v, t->data, t->nbytes);
    *d0 = (int)t->shape[0];
    if (d1) *d1 = t->ndim > 1 ? (int)t->shape[1] : 1;
    return v;
}

static void load_fixture(const char *name, fixture *x) {
    char path[1024];
    snprintf(path, sizeof path, FIXDIR "%s.expected.safetensors", name);
    memset(x, 0, sizeof *x);
    cr_assert_eq(mmg__st_open(path, &x->f), MMG_OK, "%s", mmg_last_error());
    int b;
    x->src = read_i32(x->f, "src", &b, &x->Ts);
    x->src_len = read_i32(x->f, "src_len", &b, NULL);
    x->tgt = read_i32(x->f, "tgt", &x->B, &x->Tt);
    x->tgt_len = read_i32(x->f, "tgt_len", &b, NULL);
    if (!x->src) x->Ts = 0;
    const mmg__st_tensor *t = mmg__st_find(x->f, "logits");
    cr_assert(t && t->ndim == 3);
    x->V = (int)t->shape[2];
    x->logits = malloc(t->numel * sizeof(float));
    cr_assert_eq(mmg__st_read_f32(t, x->logits, t->numel), MMG_OK);
}

static void free_fixture(fixture *x) {
    free(x->src);
    free(x->src_len);
    free(x->tgt);
    free(x->tgt_len);
    free(x->logits);
    mmg__st_close(x->f);
}

/* max|got - ref| <= 1e-4 max|ref| over the valid rows of sequence b. */
static void compare_rows(const fixture *x, int b, const float *got, int n_rows, const char *what) {
    const float *ref = x->logits + (size_t)b * x->Tt * x->V;
    float worst = 0, scale = 0;
    for (size_t i = 0; i < (size_t)n_rows * x->V; i++) {
        worst = fmaxf(worst, fabsf(got[i] - ref[i]));
        scale = fmaxf(scale, fabsf(ref[i]));
    }
    cr_assert_gt(scale, 0.1f);
    cr_assert(worst <= 1e-4f * scale, "%s, sequence %d: max|diff| %g > 1e-4 * %g", what, b,
              (double)worst, (double)scale);
}

static void check(const char *name) {
    fixture x;
    load_fixture(name, &x);
    char path[1024];
    snprintf(path, sizeof path, FIXDIR "%s.safetensors", name);
    mmg_model *m;
    cr_assert_eq(mmg_model_load(path, NULL, &m), MMG_OK, "%s", mmg_last_error());
    mmg_context_options o;
    mmg_context_options_init(&o, sizeof o);
    o.n_slots = x.B;
    mmg_context *ctx;
    cr_assert_eq(mmg_context_create(m, &o, &ctx), MMG_OK, "%s", mmg_last_error());

    /* full forward, the padded batch at once */
    float *got = malloc(sizeof(float) * (size_t)x.B * x.Tt * x.V);
    cr_assert_eq(mmg_context_forward(ctx, x.B, x.src, x.src_len, x.Ts, x.tgt, x.tgt_len, x.Tt, got),
                 MMG_OK, "%s", mmg_last_error());
    for (int b = 0; b < x.B; b++)
        compare_rows(&x, b, got + (size_t)b * x.Tt * x.V, x.tgt_len[b], "full forward");

    /* incremental: encode each sequence's valid source, decode token by token */
    for (int b = 0; b < x.B; b++) {
        if (x.src)
            cr_assert_eq(mmg_context_encode(ctx, b, x.src + (size_t)b * x.Ts, x.src_len[b]), MMG_OK,
                         "%s", mmg_last_error());
        for (int t = 0; t < x.tgt_len[b]; t++)
            cr_assert_eq(mmg_context_decode(ctx, b, x.tgt + (size_t)b * x.Tt + t, 1,
                                            got + (size_t)t * x.V, 0),
                         MMG_OK, "%s", mmg_last_error());
        compare_rows(&x, b, got, x.tgt_len[b], "incremental decode");
    }
    free(got);
    mmg_context_free(ctx);
    mmg_model_free(m);
    free_fixture(&x);
}

Test(model_parity, nn_transformer_post_ln_relu_sinusoidal) { check("paper_base"); }
Test(model_parity, nn_transformer_odd_width_one_head) { check("paper_odd_width_1head"); }
Test(model_parity, nn_transformer_f16_weights) { check("paper_f16"); }
Test(model_parity, nn_transformer_pre_ln_exact_gelu) { check("paper_pre_ln_gelu"); }
Test(model_parity, causal_encoder_stack_post_ln) { check("causal_post_ln"); }
Test(model_parity, gpt2_pre_ln_gelu_learned_tied) { check("gpt2_base"); }
Test(model_parity, gpt2_odd_width_one_head_no_bias_length_1) { check("gpt2_odd_1head_nobias"); }
Test(model_parity, gpt2_bf16_weights_full_length) { check("gpt2_bf16"); }
Test(model_parity, gpt2_no_biases_layernorm_without_beta) { check("gpt2_no_biases"); }
