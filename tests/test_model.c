/* tests/test_model.c - model configs, creation, save/load and every bad
 * input: invalid configs and limits, malformed model files, bad tokens and
 * lengths, misuse of contexts, allocation failures. */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "memory.h"
#include "mmgen/context.h"
#include "mmgen/memory.h"
#include "mmgen/model.h"
#include "model-impl.h"
#include "safetensors.h"

static mmg_model_config small_config(void) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = 31;
    c.d_model = 12;
    c.n_heads = 3;
    c.n_encoder_layers = 1;
    c.n_decoder_layers = 2;
    c.d_ff = 20;
    c.max_seq_len = 10;
    return c;
}

static mmg_model *create(const mmg_model_config *c, uint64_t seed) {
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = seed;
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_create(c, &o, &m), MMG_OK, "%s", mmg_last_error());
    return m;
}

static void expect_config_error(mmg_model_config c, const char *field) {
    cr_assert_eq(mmg_model_config_validate(&c), MMG_ERR_CONFIG, "field %s", field);
    cr_assert(strstr(mmg_last_error(), field), "message '%s' should name %s", mmg_last_error(),
              field);
    mmg_model *m = (mmg_model *)0x1;
    cr_assert_eq(mmg_model_create(&c, NULL, &m), MMG_ERR_CONFIG);
    cr_assert_eq(m, (mmg_model *)0x1, "out untouched on error");
}

Test(model, config_validation_names_the_field) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    expect_config_error(c, "vocab_size"); /* the default must be set */
    c = small_config();
    cr_assert_eq(mmg_model_config_validate(&c), MMG_OK, "%s", mmg_last_error());
    c.n_heads = 5;
    expect_config_error(c, "n_heads");
    c = small_config(), c.d_model = 0;
    expect_config_error(c, "d_model");
    c = small_config(), c.n_decoder_layers = 0;
    expect_config_error(c, "n_decoder_layers");
    c = small_config(), c.n_encoder_layers = -1;
    expect_config_error(c, "n_encoder_layers");
    c = small_config(), c.d_ff = -4;
    expect_config_error(c, "d_ff");
    c = small_config(), c.max_seq_len = 0;
    expect_config_error(c, "max_seq_len");
    c = small_config(), c.activation = 7;
    expect_config_error(c, "activation");
    c = small_config(), c.norm_placement = 2;
    expect_config_error(c, "norm_placement");
    c = small_config(), c.position_encoding = -1;
    expect_config_error(c, "position_encoding");
    c = small_config(), c.tied_output = 2;
    expect_config_error(c, "tied_output");
    c = small_config(), c.norm_bias = -1;
    expect_config_error(c, "norm_bias");
    c = small_config(), c.layernorm_eps = 0;
    expect_config_error(c, "layernorm_eps");
    c = small_config(), c.layernorm_eps = NAN;
    expect_config_error(c, "layernorm_eps");
    cr_assert_eq(mmg_model_config_validate(NULL), MMG_ERR_INVALID_ARG);
    c = small_config(), c.struct_size = 2;
    cr_assert_eq(mmg_model_config_validate(&c), MMG_ERR_INVALID_ARG);
}

Test(model, huge_configs_fail_before_allocating) {
    mmg_model_config c = small_config();
    c.vocab_size = 2147483647;
    c.d_model = 2147483646;
    c.n_heads = 2;
    c.d_ff = 2147483647;
    c.n_decoder_layers = 2147483647;
    /* ~2^124 parameters: the count overflows 64 bits */
    cr_assert_eq(mmg_model_config_validate(&c), MMG_ERR_CONFIG);
    cr_assert(strstr(mmg_last_error(), "overflow"), "%s", mmg_last_error());
    /* a model that fits 64 bits but not the machine */
    c = small_config();
    c.vocab_size = 1 << 30;
    c.d_model = 1 << 14;
    c.n_heads = 16;
    mmg_model *m = (mmg_model *)0x1;
    mmg_status s = mmg_model_create(&c, NULL, &m);
    cr_assert(s == MMG_ERR_LIMIT || s == MMG_ERR_CONFIG, "%s", mmg_last_error());
    cr_assert_eq(m, (mmg_model *)0x1);
    /* an explicit memory limit */
    c = small_config();
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.memory_limit = 1000;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_ERR_LIMIT);
    cr_assert(strstr(mmg_last_error(), "limit"), "%s", mmg_last_error());
    cr_assert_eq(m, (mmg_model *)0x1);
}

/* GPT-2 small (124M): the parameter count Hugging Face reports. */
Test(model, gpt2_small_parameter_count) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = 50257;
    c.d_model = 768;
    c.n_heads = 12;
    c.n_encoder_layers = 0;
    c.n_decoder_layers = 12;
    c.d_ff = 3072;
    c.max_seq_len = 1024;
    c.norm_placement = MMG_NORM_PRE;
    c.position_encoding = MMG_POS_LEARNED;
    c.activation = MMG_ACT_GELU_TANH;
    uint64_t n;
    cr_assert_eq(mmg__config_n_params(&c, &n), MMG_OK);
    cr_assert_eq(n, 124439808ull);
}

/* norm_bias = 0 (nanoGPT's bias=False): no LayerNorm has a bias tensor, the
 * count drops by C per LayerNorm, and a 1.0 caller's smaller config (without
 * the field) keeps the biases. */
Test(model, norm_bias_off_drops_every_layernorm_bias) {
    mmg_model_config c = small_config(); /* encoder-decoder: 2 + 3 + 3 LNs + 2 final */
    mmg_model *with = create(&c, 1);
    c.norm_bias = 0;
    mmg_model *without = create(&c, 1);
    const uint64_t n_ln = 2 * 1 + 3 * 2 + 2;
    cr_assert_eq(mmg_model_n_params(with) - mmg_model_n_params(without), n_ln * 12);
    int n_bias = 0;
    for (int i = 0; i < without->n_tensors; i++) {
        size_t len = strlen(without->tensors[i].name);
        cr_assert(len < 9 || strcmp(without->tensors[i].name + len - 9, "norm.bias"),
                  "%s", without->tensors[i].name);
    }
    for (int i = 0; i < with->n_tensors; i++) {
        size_t len = strlen(with->tensors[i].name);
        n_bias += len >= 9 && !strcmp(with->tensors[i].name + len - 9, "norm.bias");
    }
    cr_assert_eq((uint64_t)n_bias, n_ln);
    /* the same draws: weights of both models agree tensor by tensor */
    const mmg__param *w = mmg__model_find_param(with, "decoder.layers.1.ff.fc2.weight");
    const mmg__param *wo = mmg__model_find_param(without, "decoder.layers.1.ff.fc2.weight");
    cr_assert(w && wo);
    cr_assert_eq(memcmp(w->data, wo->data, w->numel * sizeof(float)), 0);
    /* nanoGPT's baby GPT (bias=False): 804,096 parameters with positions */
    mmg_model_config g;
    mmg_model_config_init(&g, sizeof g);
    g.vocab_size = 65, g.d_model = 128, g.n_heads = 4, g.n_encoder_layers = 0;
    g.n_decoder_layers = 4, g.d_ff = 512, g.max_seq_len = 64, g.norm_placement = MMG_NORM_PRE;
    g.position_encoding = MMG_POS_LEARNED, g.bias = 0, g.norm_bias = 0;
    uint64_t n;
    cr_assert_eq(mmg__config_n_params(&g, &n), MMG_OK);
    cr_assert_eq(n, 804096ull);
    /* a caller built against ABI 1.0 does not know the field: biases stay */
    mmg_model_config old = small_config();
    old.norm_bias = 0; /* past the old struct_size: must not be read */
    old.struct_size = offsetof(mmg_model_config, norm_bias);
    mmg_model *m = create(&old, 1);
    cr_assert_eq(mmg_model_n_params(m), mmg_model_n_params(with));
    mmg_model_free(m);
    mmg_model_free(with);
    mmg_model_free(without);
}

Test(model, seeded_init_is_reproducible) {
    mmg_model_config c = small_config();
    mmg_model *a = create(&c, 5), *b = create(&c, 5), *d = create(&c, 6);
    cr_assert_eq(mmg_model_n_params(a), a->n_params);
    uint64_t expect;
    cr_assert_eq(mmg__config_n_params(&c, &expect), MMG_OK);
    cr_assert_eq(a->n_params, expect);
    cr_assert_eq(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0);
    cr_assert_neq(memcmp(a->params, d->params, a->n_params * sizeof(float)), 0);
    /* LayerNorm weights 1, biases 0, matrices ~ N(0, 0.02^2) */
    const mmg__param *ln = mmg__model_find_param(a, "decoder.layers.1.ca_norm.weight");
    const mmg__param *bias = mmg__model_find_param(a, "encoder.layers.0.ff.fc1.bias");
    const mmg__param *w = mmg__model_find_param(a, "tok_emb.weight");
    cr_assert(ln && bias && w);
    cr_assert_eq(ln->data[3], 1.0f);
    cr_assert_eq(bias->data[3], 0.0f);
    double ss = 0;
    for (size_t i = 0; i < w->numel; i++) ss += (double)w->data[i] * w->data[i];
    double std = sqrt(ss / (double)w->numel);
    cr_assert(std > 0.015 && std < 0.025, "std %g", std);
    /* one allocation: the tensors tile params in order */
    size_t off = 0;
    for (int i = 0; i < a->n_tensors; i++) {
        cr_assert_eq(a->tensors[i].offset, off, "%s", a->tensors[i].name);
        off += a->tensors[i].numel;
    }
    cr_assert_eq(off, a->n_params);
    mmg_model_config got;
    mmg_model_config_init(&got, sizeof got);
    cr_assert_eq(mmg_model_get_config(a, &got), MMG_OK);
    cr_assert_eq(got.d_ff, 20);
    cr_assert_eq(got.n_encoder_layers, 1);
    mmg_model_free(a);
    mmg_model_free(b);
    mmg_model_free(d);
    mmg_model_free(NULL);
}

/* Ratio of every element of tensor `name` in b to the same element in a. */
static void expect_ratio(const mmg_model *a, const mmg_model *b, const char *name, double ratio) {
    const mmg__param *pa = mmg__model_find_param(a, name), *pb = mmg__model_find_param(b, name);
    cr_assert(pa && pb, "%s", name);
    for (size_t i = 0; i < pa->numel; i++) {
        double want = (double)pa->data[i] * ratio;
        cr_assert(fabs((double)pb->data[i] - want) <= 1e-6 * fabs(want) + 1e-30,
                  "%s[%zu]: %g, expected %g * %g", name, i, (double)pb->data[i],
                  (double)pa->data[i], ratio);
    }
}

Test(model, gpt2_init_scales_only_the_residual_projections) {
    /* encoder-decoder: encoder layers have 2 residual branches each, decoder
     * layers 3 (self-attention, cross-attention, feed-forward) */
    mmg_model_config c = small_config();
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    cr_assert_eq(o.init_scheme, MMG_INIT_NORMAL, "default keeps the plain normal init");
    o.seed = 9;
    mmg_model *a, *b;
    cr_assert_eq(mmg_model_create(&c, &o, &a), MMG_OK);
    o.init_scheme = MMG_INIT_GPT2;
    cr_assert_eq(mmg_model_create(&c, &o, &b), MMG_OK);
    const double enc = 1.0 / sqrt(2.0 * 1), dec = 1.0 / sqrt(3.0 * 2);
    int scaled = 0;
    for (int i = 0; i < a->n_tensors; i++) {
        const char *n = a->tensors[i].name;
        int is_res = strstr(n, "self_attn.out.weight") || strstr(n, "cross_attn.out.weight") ||
                     strstr(n, "ff.fc2.weight");
        double r = !is_res ? 1.0 : strncmp(n, "encoder.", 8) == 0 ? enc : dec;
        expect_ratio(a, b, n, r);
        scaled += is_res;
    }
    cr_assert_eq(scaled, 1 * 2 + 2 * 3, "every residual projection was checked");
    mmg_model_free(a);
    mmg_model_free(b);

    /* decoder-only, nanoGPT's baby GPT shape: c_proj std 0.02 / sqrt(2 * 4) */
    mmg_model_config g;
    mmg_model_config_init(&g, sizeof g);
    g.vocab_size = 65;
    g.d_model = 128;
    g.n_heads = 4;
    g.n_encoder_layers = 0;
    g.n_decoder_layers = 4;
    g.d_ff = 512;
    g.max_seq_len = 64;
    g.norm_placement = MMG_NORM_PRE;
    g.position_encoding = MMG_POS_LEARNED;
    g.bias = 0;
    cr_assert_eq(mmg_model_create(&g, &o, &b), MMG_OK);
    const char *names[] = {"decoder.layers.3.self_attn.out.weight", "decoder.layers.0.ff.fc2.weight",
                           "decoder.layers.2.self_attn.qkv.weight", "tok_emb.weight"};
    const double want[] = {0.02 / sqrt(8.0), 0.02 / sqrt(8.0), 0.02, 0.02};
    for (int k = 0; k < 4; k++) {
        const mmg__param *p = mmg__model_find_param(b, names[k]);
        cr_assert(p, "%s", names[k]);
        double ss = 0;
        for (size_t i = 0; i < p->numel; i++) ss += (double)p->data[i] * p->data[i];
        double sd = sqrt(ss / (double)p->numel);
        /* >= 8192 draws: the sample std is within 3% of the true one */
        cr_assert(fabs(sd / want[k] - 1.0) < 0.03, "%s std %g, expected %g", names[k], sd, want[k]);
    }
    mmg_model_free(b);
}

Test(model, init_scheme_is_checked_and_optional) {
    mmg_model_config c = small_config();
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.init_scheme = 2;
    mmg_model *m = (mmg_model *)0x1;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "init_scheme"), "%s", mmg_last_error());
    cr_assert_eq(m, (mmg_model *)0x1, "out untouched on error");
    o.init_scheme = -1;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_ERR_INVALID_ARG);
    /* a caller built before init_scheme existed: the bytes past its
     * struct_size are not read, the default (plain normal) applies */
    o.init_scheme = 77;
    o.seed = 4;
    o.struct_size = offsetof(mmg_model_options, init_scheme);
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_OK, "%s", mmg_last_error());
    mmg_model *ref = create(&c, 4);
    cr_assert_eq(memcmp(m->params, ref->params, m->n_params * sizeof(float)), 0);
    mmg_model_free(m);
    mmg_model_free(ref);
}

static char tmp_path[256];
static void tmp_file(const char *tag) {
    snprintf(tmp_path, sizeof tmp_path, "/tmp/mmgen-test-model-%d-%s.safetensors", (int)getpid(),
             tag);
}

Test(model, save_load_roundtrip) {
    mmg_model_config c = small_config();
    c.tied_output = 0;
    c.position_encoding = MMG_POS_LEARNED;
    c.norm_placement = MMG_NORM_PRE;
    c.activation = MMG_ACT_GELU;
    c.scale_embeddings = 1;
    c.layernorm_eps = 1e-6f;
    mmg_model *m = create(&c, 3);
    tmp_file("roundtrip");
    cr_assert_eq(mmg_model_save(m, tmp_path), MMG_OK, "%s", mmg_last_error());
    mmg_model *l;
    cr_assert_eq(mmg_model_load(tmp_path, NULL, &l), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(memcmp(&l->cfg, &m->cfg, sizeof m->cfg), 0, "config survives the round trip");
    cr_assert_eq(l->n_params, m->n_params);
    cr_assert_eq(memcmp(l->params, m->params, m->n_params * sizeof(float)), 0);
    unlink(tmp_path);
    mmg_model_free(m);
    mmg_model_free(l);
}

/* Writes a model file from `m`, changing one thing. */
typedef enum { SKIP_TENSOR, WRONG_SHAPE, WRONG_DTYPE, EXTRA_TENSOR, BAD_JSON, UNKNOWN_KEY,
               NO_CONFIG, BAD_FORMAT, INCONSISTENT_CONFIG, BAD_ENUM, DROP_KEY } damage;

static void write_damaged(const mmg_model *m, damage d, const char *victim) {
    mmg__st_writer *w;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    char *json;
    cr_assert_eq(mmg__config_to_json(&m->cfg, &json), MMG_OK);
    const char *meta = json;
    char buf[1200];
    if (d == BAD_JSON) meta = "{\"vocab_size\": 31, \"d_model\": ";
    if (d == UNKNOWN_KEY) {
        snprintf(buf, sizeof buf, "%s", json);
        char *p = strstr(buf, "\"d_ff\"");
        memcpy(p, "\"d_fx\"", 6);
        meta = buf;
    }
    if (d == DROP_KEY) { /* a file from before "bias" existed: the default applies */
        snprintf(buf, sizeof buf, "%s", json);
        char *p = strstr(buf, ", \"bias\": true");
        cr_assert_not_null(p);
        memmove(p, p + 14, strlen(p + 14) + 1);
        meta = buf;
    }
    if (d == BAD_ENUM) {
        snprintf(buf, sizeof buf, "%s", json);
        char *p = strstr(buf, "\"relu\"");
        memcpy(p, "\"relx\"", 6);
        meta = buf;
    }
    if (d == INCONSISTENT_CONFIG) {
        snprintf(buf, sizeof buf, "%s", json);
        char *p = strstr(buf, "\"n_heads\": 3");
        memcpy(p, "\"n_heads\": 5", 12);
        meta = buf;
    }
    if (d != NO_CONFIG) cr_assert_eq(mmg__st_writer_metadata(w, MMG__CONFIG_KEY, meta), MMG_OK);
    cr_assert_eq(mmg__st_writer_metadata(w, "format", d == BAD_FORMAT ? "gguf" : "mmgen"), MMG_OK);
    static int32_t ints[4096];
    for (int i = 0; i < m->n_tensors; i++) {
        const mmg__param *p = &m->tensors[i];
        int hit = strcmp(p->name, victim) == 0;
        if (hit && d == SKIP_TENSOR) continue;
        int64_t shape[2] = {p->shape[0], p->shape[1]};
        if (hit && d == WRONG_SHAPE) shape[0] += 1;
        if (hit && d == WRONG_DTYPE) {
            cr_assert(p->numel <= 4096);
            cr_assert_eq(mmg__st_writer_add(w, p->name, MMG__DT_I32, p->ndim, shape, ints,
                                            p->numel * 4),
                         MMG_OK);
            continue;
        }
        size_t n = (size_t)shape[0] * (size_t)(p->ndim > 1 ? shape[1] : 1);
        static float big[1 << 16];
        const float *data = n > p->numel ? big : p->data;
        cr_assert(n <= (1 << 16));
        cr_assert_eq(mmg__st_writer_add(w, p->name, MMG__DT_F32, p->ndim, shape, data, n * 4),
                     MMG_OK);
    }
    if (d == EXTRA_TENSOR) {
        int64_t shape[1] = {4};
        static float extra[4];
        cr_assert_eq(mmg__st_writer_add(w, victim, MMG__DT_F32, 1, shape, extra, 16), MMG_OK);
    }
    cr_assert_eq(mmg__st_writer_write(w, tmp_path), MMG_OK, "%s", mmg_last_error());
    mmg__st_writer_free(w);
    mmg__free(json);
}

static void expect_load_error(const mmg_model *m, damage d, const char *victim, mmg_status want,
                              const char *must_mention) {
    write_damaged(m, d, victim);
    mmg_model *l = (mmg_model *)0x1;
    cr_assert_eq(mmg_model_load(tmp_path, NULL, &l), want, "damage %d: %s", d, mmg_last_error());
    cr_assert_eq(l, (mmg_model *)0x1);
    cr_assert(strstr(mmg_last_error(), must_mention), "damage %d: '%s' should mention '%s'", d,
              mmg_last_error(), must_mention);
    unlink(tmp_path);
}

Test(model, malformed_model_files_name_the_problem) {
    mmg_model_config c = small_config();
    mmg_model *m = create(&c, 1);
    tmp_file("damaged");
    const char *t = "decoder.layers.1.cross_attn.kv.weight";
    expect_load_error(m, SKIP_TENSOR, t, MMG_ERR_FORMAT, t);
    expect_load_error(m, WRONG_SHAPE, t, MMG_ERR_FORMAT, t);
    expect_load_error(m, WRONG_DTYPE, "encoder.layers.0.ff.fc2.bias", MMG_ERR_FORMAT,
                      "encoder.layers.0.ff.fc2.bias");
    expect_load_error(m, EXTRA_TENSOR, "lm_head.weight", MMG_ERR_FORMAT, "lm_head.weight");
    expect_load_error(m, BAD_JSON, "", MMG_ERR_FORMAT, "mmgen.config");
    expect_load_error(m, UNKNOWN_KEY, "", MMG_ERR_FORMAT, "unknown key \"d_fx\"");
    expect_load_error(m, BAD_ENUM, "", MMG_ERR_FORMAT, "\"activation\" is \"relx\"");
    expect_load_error(m, NO_CONFIG, "", MMG_ERR_FORMAT, "mmgen.config");
    expect_load_error(m, BAD_FORMAT, "", MMG_ERR_FORMAT, "gguf");
    expect_load_error(m, INCONSISTENT_CONFIG, "", MMG_ERR_FORMAT, "n_heads");
    mmg_model *l = (mmg_model *)0x1;
    cr_assert_eq(mmg_model_load("/nonexistent/model.safetensors", NULL, &l), MMG_ERR_IO);
    cr_assert_eq(mmg_model_load(NULL, NULL, &l), MMG_ERR_INVALID_ARG);
    cr_assert_eq(l, (mmg_model *)0x1);
    /* truncated file */
    cr_assert_eq(mmg_model_save(m, tmp_path), MMG_OK);
    FILE *f = fopen(tmp_path, "r+");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(tmp_path, size - 100), 0);
    cr_assert_eq(mmg_model_load(tmp_path, NULL, &l), MMG_ERR_FORMAT);
    cr_assert_eq(l, (mmg_model *)0x1);
    unlink(tmp_path);
    mmg_model_free(m);
}

Test(model, forward_rejects_bad_input_and_writes_nothing) {
    mmg_model_config c = small_config();
    mmg_model *m = create(&c, 1);
    mmg_context *ctx;
    cr_assert_eq(mmg_context_create(m, NULL, &ctx), MMG_OK);
    int32_t src[12] = {1, 2, 3, 4}, tgt[12] = {5, 6, 7}, len[2] = {3, 3};
    float logits[2 * 12 * 31];
    for (int i = 0; i < 2 * 12 * 31; i++) logits[i] = -9;
#define BAD(expect, ...)                                                             \
    do {                                                                             \
        cr_assert_eq(mmg_context_forward(__VA_ARGS__), expect, "%s", mmg_last_error()); \
        cr_assert(mmg_last_error()[0]);                                              \
        for (int i = 0; i < 2 * 12 * 31; i++) cr_assert_eq(logits[i], -9);           \
    } while (0)
    BAD(MMG_ERR_INVALID_ARG, NULL, 1, src, NULL, 4, tgt, NULL, 3, logits);
    BAD(MMG_ERR_INVALID_ARG, ctx, 1, NULL, NULL, 4, tgt, NULL, 3, logits); /* enc-dec needs src */
    BAD(MMG_ERR_INVALID_ARG, ctx, 1, src, NULL, 4, NULL, NULL, 3, logits);
    BAD(MMG_ERR_INVALID_ARG, ctx, 0, src, NULL, 4, tgt, NULL, 3, logits);
    BAD(MMG_ERR_RANGE, ctx, 1, src, NULL, 0, tgt, NULL, 3, logits);   /* empty source */
    BAD(MMG_ERR_RANGE, ctx, 1, src, NULL, 4, tgt, NULL, 0, logits);   /* empty target */
    BAD(MMG_ERR_RANGE, ctx, 1, src, NULL, 11, tgt, NULL, 3, logits);  /* > max_seq_len */
    src[2] = 31;
    BAD(MMG_ERR_RANGE, ctx, 1, src, NULL, 4, tgt, NULL, 3, logits);
    cr_assert(strstr(mmg_last_error(), "source token 2 is 31"), "%s", mmg_last_error());
    src[2] = 3;
    tgt[1] = -5;
    BAD(MMG_ERR_RANGE, ctx, 1, src, NULL, 4, tgt, NULL, 3, logits);
    cr_assert(strstr(mmg_last_error(), "-5"), "%s", mmg_last_error());
    tgt[1] = 6;
    len[1] = 0;
    BAD(MMG_ERR_RANGE, ctx, 2, src, len, 4, tgt, NULL, 3, logits);
    len[1] = 5;
    BAD(MMG_ERR_RANGE, ctx, 2, src, len, 4, tgt, NULL, 3, logits);
#undef BAD
    mmg_context_free(ctx);
    mmg_model_free(m);
}

Test(model, context_misuse_is_reported) {
    mmg_model_config c = small_config();
    mmg_model *m = create(&c, 1);
    mmg_context_options o;
    mmg_context_options_init(&o, sizeof o);
    mmg_context *ctx = (mmg_context *)0x1;
    o.n_threads = -1;
    cr_assert_eq(mmg_context_create(m, &o, &ctx), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "n_threads"));
    o.n_threads = 0, o.n_slots = 0;
    cr_assert_eq(mmg_context_create(m, &o, &ctx), MMG_ERR_INVALID_ARG);
    o.n_slots = 1, o.max_seq_len = 11;
    cr_assert_eq(mmg_context_create(m, &o, &ctx), MMG_ERR_INVALID_ARG);
    o.max_seq_len = 0, o.memory_limit = 100;
    cr_assert_eq(mmg_context_create(m, &o, &ctx), MMG_ERR_LIMIT);
    cr_assert_eq(mmg_context_create(NULL, NULL, &ctx), MMG_ERR_INVALID_ARG);
    cr_assert_eq(ctx, (mmg_context *)0x1);
    o.memory_limit = 0, o.n_slots = 2;
    cr_assert_eq(mmg_context_create(m, &o, &ctx), MMG_OK);
    int32_t toks[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    float logits[31];
    /* decode before encode on an encoder-decoder */
    cr_assert_eq(mmg_context_decode(ctx, 0, toks, 1, logits, 0), MMG_ERR_STATE);
    cr_assert_eq(mmg_context_encode(ctx, 2, toks, 3), MMG_ERR_RANGE);
    cr_assert_eq(mmg_context_encode(ctx, 0, toks, 11), MMG_ERR_RANGE);
    cr_assert_eq(mmg_context_encode(ctx, 0, toks, 0), MMG_ERR_RANGE);
    cr_assert_eq(mmg_context_encode(ctx, 0, NULL, 3), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_context_encode(ctx, 0, toks, 3), MMG_OK);
    cr_assert_eq(mmg_context_decode(ctx, 0, toks, 8, logits, 0), MMG_OK);
    /* 8 + 3 > 10 tokens: refused, the cache unchanged */
    cr_assert_eq(mmg_context_decode(ctx, 0, toks, 3, logits, 0), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "max_seq_len"), "%s", mmg_last_error());
    cr_assert_eq(mmg_context_position(ctx, 0), 8);
    toks[0] = 31;
    cr_assert_eq(mmg_context_decode(ctx, 0, toks, 1, logits, 0), MMG_ERR_RANGE);
    cr_assert_eq(mmg_context_position(ctx, 0), 8);
    cr_assert_eq(mmg_context_decode(ctx, 0, toks, 0, logits, 0), MMG_ERR_RANGE);
    cr_assert_eq(mmg_context_decode(ctx, -1, toks, 1, logits, 0), MMG_ERR_RANGE);
    cr_assert_eq(mmg_context_position(ctx, 5), -1);
    cr_assert_eq(mmg_context_set_threads(ctx, -2), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_context_set_threads(ctx, 3), MMG_OK);
    cr_assert_eq(mmg_context_threads(ctx), 3);
    mmg_context_free(ctx);
    mmg_context_free(NULL);

    /* decoder-only: encode is a state error */
    c.n_encoder_layers = 0;
    mmg_model *d = create(&c, 1);
    cr_assert_eq(mmg_context_create(d, NULL, &ctx), MMG_OK);
    cr_assert_eq(mmg_context_encode(ctx, 0, toks + 1, 3), MMG_ERR_STATE);
    cr_assert_eq(mmg_context_forward(ctx, 1, toks + 1, NULL, 3, toks + 1, NULL, 3, logits),
                 MMG_ERR_INVALID_ARG);
    mmg_context_free(ctx);
    mmg_model_free(d);
    mmg_model_free(m);
}

Test(model, thread_count_from_environment) {
    setenv("MMGEN_NUM_THREADS", "3", 1);
    mmg_model_config c = small_config();
    mmg_model *m = create(&c, 1);
    mmg_context *ctx;
    cr_assert_eq(mmg_context_create(m, NULL, &ctx), MMG_OK);
    cr_assert_eq(mmg_context_threads(ctx), 3);
    mmg_context_free(ctx);
    setenv("MMGEN_NUM_THREADS", "junk", 1);
    cr_assert_eq(mmg_context_create(m, NULL, &ctx), MMG_OK);
    cr_assert_eq(mmg_context_threads(ctx), (int)sysconf(_SC_NPROCESSORS_ONLN));
    mmg_context_free(ctx);
    mmg_model_free(m);
}

/* Every allocation failure in create, save, load and context creation is
 * reported as MMG_ERR_NOMEM (or the writer's IO error) and leaks nothing
 * (the sanitizer build checks leaks). */
Test(model, allocation_failures) {
    mmg_model_config c = small_config();
    mmg_model *ref = create(&c, 1);
    tmp_file("fault");
    cr_assert_eq(mmg_model_save(ref, tmp_path), MMG_OK);
    for (int what = 0; what < 3; what++) {
        for (long n = 1;; n++) {
            mmg__fault_fail_after(n);
            mmg_status s;
            mmg_model *m = NULL;
            mmg_context *ctx = NULL;
            if (what == 0) s = mmg_model_create(&c, NULL, &m);
            else if (what == 1) s = mmg_model_load(tmp_path, NULL, &m);
            else s = mmg_context_create(ref, NULL, &ctx);
            mmg__fault_fail_after(0);
            if (s == MMG_OK) {
                mmg_model_free(m);
                mmg_context_free(ctx);
                break;
            }
            cr_assert_eq(s, MMG_ERR_NOMEM, "case %d, allocation %ld: %s", what, n,
                         mmg_last_error());
            cr_assert_null(m);
            cr_assert_null(ctx);
            cr_assert(n < 1000);
        }
    }
    unlink(tmp_path);
    mmg_model_free(ref);
}

/* ---- config JSON (mmg_model_config_to_json / _from_json) ---------------------- */

Test(model_config_json, round_trip_every_field) {
    mmg_model_config c = small_config();
    c.n_encoder_layers = 0;
    c.norm_placement = MMG_NORM_PRE;
    c.final_norm = 0;
    c.activation = MMG_ACT_GELU_TANH;
    c.position_encoding = MMG_POS_NONE;
    c.tied_output = 0;
    c.bias = 0;
    c.scale_embeddings = 1;
    c.layernorm_eps = 1e-6f;
    c.norm_bias = 0;
    char *json = NULL;
    cr_assert_eq(mmg_model_config_to_json(&c, &json), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(json,
                     "{\"vocab_size\": 31, \"d_model\": 12, \"n_heads\": 3, \"n_encoder_layers\": 0, "
                     "\"n_decoder_layers\": 2, \"d_ff\": 20, \"max_seq_len\": 10, "
                     "\"norm_placement\": \"pre\", \"final_norm\": false, \"activation\": "
                     "\"gelu_tanh\", \"position_encoding\": \"none\", \"tied_output\": false, "
                     "\"bias\": false, \"scale_embeddings\": true, \"layernorm_eps\": 1e-06, "
                     "\"norm_bias\": false}");
    mmg_model_config back;
    mmg_model_config_init(&back, sizeof back);
    cr_assert_eq(mmg_model_config_from_json(json, strlen(json), &back), MMG_OK, "%s",
                 mmg_last_error());
    cr_assert_eq(memcmp(&back, &c, sizeof c), 0, "every field survives the round trip");
    /* the same text is what a saved model carries as "mmgen.config" */
    mmg_model *m = create(&c, 2);
    tmp_file("cfgjson");
    cr_assert_eq(mmg_model_save(m, tmp_path), MMG_OK);
    char *stored = NULL;
    cr_assert_eq(mmg_model_file_metadata(tmp_path, "mmgen.config", &stored), MMG_OK, "%s",
                 mmg_last_error());
    cr_assert_str_eq(stored, json);
    mmg_free(stored);
    unlink(tmp_path);
    mmg_model_free(m);
    mmg_free(json);
    /* odd floats: the shortest text that reads back as the same float */
    float eps[] = {1e-5f, 3.14159274f, 1.17549435e-38f, 0.1f, 123456792.f};
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        c.layernorm_eps = eps[i];
        cr_assert_eq(mmg_model_config_to_json(&c, &json), MMG_OK);
        cr_assert_eq(mmg_model_config_from_json(json, strlen(json), &back), MMG_OK, "%s", json);
        cr_assert_eq(back.layernorm_eps, eps[i], "%s", json);
        mmg_free(json);
    }
}

Test(model_config_json, missing_keys_take_the_defaults) {
    mmg_model_config want, got;
    mmg_model_config_init(&want, sizeof want);
    want.vocab_size = 100;
    want.activation = MMG_ACT_GELU;
    /* the caller's values are not kept: only defaults and the text */
    got = small_config();
    const char *json = "  {\"activation\": \"gelu\", \"vocab_size\": 100}\n";
    cr_assert_eq(mmg_model_config_from_json(json, strlen(json), &got), MMG_OK, "%s",
                 mmg_last_error());
    cr_assert_eq(memcmp(&got, &want, sizeof got), 0);
    /* an empty object is the defaults; a NUL after the text is allowed */
    cr_assert_eq(mmg_model_config_from_json("{}", 3, &got), MMG_OK, "%s", mmg_last_error());
    mmg_model_config_init(&want, sizeof want);
    cr_assert_eq(memcmp(&got, &want, sizeof got), 0);
    /* not validated as a whole: vocab_size 0 is left to validate() */
    cr_assert_eq(mmg_model_config_validate(&got), MMG_ERR_CONFIG);
}

/* Expects from_json to fail with `status`, name `needle` and leave out alone. */
static void expect_json_error(const char *json, mmg_status status, const char *needle) {
    mmg_model_config c = small_config(), before = c;
    cr_assert_eq(mmg_model_config_from_json(json, strlen(json), &c), status, "%s: %s", json,
                 mmg_last_error());
    cr_assert(strstr(mmg_last_error(), needle), "%s: message '%s' should contain '%s'", json,
              mmg_last_error(), needle);
    cr_assert_eq(memcmp(&c, &before, sizeof c), 0, "out untouched on error");
}

Test(model_config_json, bad_keys_and_values_are_named) {
    expect_json_error("{\"vocab_size\": 10, \"d_modle\": 64}", MMG_ERR_CONFIG,
                      "unknown key \"d_modle\"");
    expect_json_error("{\"activation\": \"swish\"}", MMG_ERR_CONFIG,
                      "\"activation\" is \"swish\"; expected \"relu\", \"gelu\" or \"gelu_tanh\"");
    expect_json_error("{\"norm_placement\": 1}", MMG_ERR_CONFIG,
                      "\"norm_placement\" is 1; expected \"post\" or \"pre\"");
    expect_json_error("{\"position_encoding\": \"Learned\"}", MMG_ERR_CONFIG, "\"Learned\"");
    expect_json_error("{\"d_model\": \"big\"}", MMG_ERR_CONFIG, "\"d_model\" is \"big\"; expected an integer");
    expect_json_error("{\"d_model\": 12.5}", MMG_ERR_CONFIG, "\"d_model\" is 12.5");
    expect_json_error("{\"n_heads\": 3000000000}", MMG_ERR_CONFIG, "\"n_heads\" is 3000000000");
    expect_json_error("{\"bias\": 1}", MMG_ERR_CONFIG, "\"bias\" is 1; expected true or false");
    expect_json_error("{\"tied_output\": \"yes\"}", MMG_ERR_CONFIG, "\"tied_output\"");
    expect_json_error("{\"layernorm_eps\": 1e999}", MMG_ERR_CONFIG, "\"layernorm_eps\"");
    expect_json_error("{\"layernorm_eps\": 1e300}", MMG_ERR_CONFIG, "expected a finite number");
    expect_json_error("{\"layernorm_eps\": null}", MMG_ERR_CONFIG, "\"layernorm_eps\" is null");
    expect_json_error("{\"d_ff\": 8, \"d_ff\": 16}", MMG_ERR_CONFIG, "\"d_ff\" appears twice");
    expect_json_error("{\"d_ff\": 8", MMG_ERR_FORMAT, "not valid JSON");
    expect_json_error("[1, 2]", MMG_ERR_FORMAT, "expected one JSON object");
    expect_json_error("{\"d_ff\": 8} {}", MMG_ERR_FORMAT, "nothing after it");
    expect_json_error("", MMG_ERR_FORMAT, "not valid JSON");
    /* only `len` bytes are read */
    mmg_model_config c = small_config();
    cr_assert_eq(mmg_model_config_from_json("{\"d_ff\": 8}garbage", 11, &c), MMG_OK, "%s",
                 mmg_last_error());
    cr_assert_eq(c.d_ff, 8);
    /* bad arguments */
    cr_assert_eq(mmg_model_config_from_json(NULL, 0, &c), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_config_from_json("{}", 2, NULL), MMG_ERR_INVALID_ARG);
    c.struct_size = 3;
    cr_assert_eq(mmg_model_config_from_json("{}", 2, &c), MMG_ERR_INVALID_ARG);
    char *json = (char *)0x1;
    c = small_config();
    cr_assert_eq(mmg_model_config_to_json(NULL, &json), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_config_to_json(&c, NULL), MMG_ERR_INVALID_ARG);
    /* what JSON cannot spell */
    c.activation = 9;
    cr_assert_eq(mmg_model_config_to_json(&c, &json), MMG_ERR_CONFIG);
    cr_assert(strstr(mmg_last_error(), "activation is 9"), "%s", mmg_last_error());
    c = small_config(), c.bias = 2;
    cr_assert_eq(mmg_model_config_to_json(&c, &json), MMG_ERR_CONFIG);
    cr_assert(strstr(mmg_last_error(), "bias is 2"), "%s", mmg_last_error());
    c = small_config(), c.layernorm_eps = INFINITY;
    cr_assert_eq(mmg_model_config_to_json(&c, &json), MMG_ERR_CONFIG);
    cr_assert(strstr(mmg_last_error(), "layernorm_eps"), "%s", mmg_last_error());
    cr_assert_eq(json, (char *)0x1, "out untouched on error");
}

/* A caller built against an older, smaller mmg_model_config: only its
 * struct_size bytes are read and written; the fields it lacks take their
 * defaults when writing JSON. */
Test(model_config_json, older_smaller_struct) {
    size_t old_size = offsetof(mmg_model_config, activation);
    unsigned char buf[sizeof(mmg_model_config) + 16];
    memset(buf, 0xAB, sizeof buf);
    mmg_model_config *c = (mmg_model_config *)(void *)buf;
    mmg_model_config_init(c, old_size);
    cr_assert_eq(c->struct_size, old_size);
    for (size_t i = old_size; i < sizeof buf; i++) cr_assert_eq(buf[i], 0xAB, "init wrote byte %zu", i);
    const char *json = "{\"vocab_size\": 77, \"norm_placement\": \"pre\", \"activation\": \"gelu\", "
                       "\"layernorm_eps\": 0.001}";
    cr_assert_eq(mmg_model_config_from_json(json, strlen(json), c), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(c->struct_size, old_size);
    cr_assert_eq(c->vocab_size, 77);
    cr_assert_eq(c->norm_placement, MMG_NORM_PRE);
    cr_assert_eq(c->d_model, 512);
    for (size_t i = old_size; i < sizeof buf; i++)
        cr_assert_eq(buf[i], 0xAB, "from_json wrote byte %zu past struct_size", i);
    /* to_json ignores the 0xAB bytes past struct_size: defaults there */
    char *out = NULL;
    cr_assert_eq(mmg_model_config_to_json(c, &out), MMG_OK, "%s", mmg_last_error());
    cr_assert(strstr(out, "\"vocab_size\": 77"), "%s", out);
    cr_assert(strstr(out, "\"norm_placement\": \"pre\""), "%s", out);
    cr_assert(strstr(out, "\"activation\": \"relu\""), "%s", out);
    cr_assert(strstr(out, "\"layernorm_eps\": 1e-05"), "%s", out);
    mmg_free(out);
}

Test(model_config_json, files_missing_a_key_load_with_its_default) {
    mmg_model_config c = small_config();
    mmg_model *m = create(&c, 4);
    tmp_file("dropkey");
    write_damaged(m, DROP_KEY, "");
    mmg_model *l = NULL;
    cr_assert_eq(mmg_model_load(tmp_path, NULL, &l), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(memcmp(&l->cfg, &m->cfg, sizeof c), 0);
    cr_assert_eq(memcmp(l->params, m->params, m->n_params * sizeof(float)), 0);
    unlink(tmp_path);
    mmg_model_free(l);
    mmg_model_free(m);
}

/* ---- metadata ----------------------------------------------------------------- */

static void expect_meta(const mmg_model *m, const char *key, const char *value) {
    const char *v = NULL;
    cr_assert_eq(mmg_model_get_metadata(m, key, &v), MMG_OK, "%s: %s", key, mmg_last_error());
    cr_assert_str_eq(v, value, "metadata %s", key);
}

Test(model_metadata, round_trip_through_save_and_load) {
    mmg_model_config c = small_config();
    mmg_model *m = create(&c, 7);
    cr_assert_eq(mmg_model_metadata_count(m), 0);
    size_t big_n = 300000;
    char *big = malloc(big_n + 1);
    for (size_t i = 0; i < big_n; i++) big[i] = (char)('a' + i % 26);
    big[big_n] = 0;
    cr_assert_eq(mmg_model_set_metadata(m, "mmgen.tokenizer", "{\"plugin\": \"text\"}"), MMG_OK,
                 "%s", mmg_last_error());
    cr_assert_eq(mmg_model_set_metadata(m, "description", "caf\xc3\xa9 \"quoted\"\n\ttab"), MMG_OK);
    cr_assert_eq(mmg_model_set_metadata(m, "empty", ""), MMG_OK);
    cr_assert_eq(mmg_model_set_metadata(m, "big", big), MMG_OK);
    cr_assert_eq(mmg_model_set_metadata(m, "gone", "x"), MMG_OK);
    /* replace keeps the position; remove shifts the ones after */
    const char *old_desc;
    cr_assert_eq(mmg_model_get_metadata(m, "description", &old_desc), MMG_OK);
    cr_assert_eq(mmg_model_set_metadata(m, "mmgen.tokenizer", "{\"plugin\": \"image\"}"), MMG_OK);
    cr_assert_eq(mmg_model_set_metadata(m, "empty", NULL), MMG_OK);
    cr_assert_eq(mmg_model_set_metadata(m, "never-set", NULL), MMG_OK);
    cr_assert_str_eq(old_desc, "caf\xc3\xa9 \"quoted\"\n\ttab", "other keys' pointers stay valid");
    const char *order[] = {"mmgen.tokenizer", "description", "big", "gone"};
    cr_assert_eq(mmg_model_metadata_count(m), 4);
    for (size_t i = 0; i < 4; i++) cr_assert_str_eq(mmg_model_metadata_key_at(m, i), order[i]);
    cr_assert_null(mmg_model_metadata_key_at(m, 4));
    cr_assert_null(mmg_model_metadata_key_at(NULL, 0));
    cr_assert_eq(mmg_model_metadata_count(NULL), 0);
    cr_assert_eq(mmg_model_set_metadata(m, "gone", NULL), MMG_OK);

    tmp_file("meta");
    cr_assert_eq(mmg_model_save(m, tmp_path), MMG_OK, "%s", mmg_last_error());
    mmg_model *l = NULL;
    cr_assert_eq(mmg_model_load(tmp_path, NULL, &l), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_model_metadata_count(l), 3);
    for (size_t i = 0; i < 3; i++) cr_assert_str_eq(mmg_model_metadata_key_at(l, i), order[i]);
    expect_meta(l, "mmgen.tokenizer", "{\"plugin\": \"image\"}");
    expect_meta(l, "description", "caf\xc3\xa9 \"quoted\"\n\ttab");
    expect_meta(l, "big", big);
    const char *v = (const char *)0x1;
    cr_assert_eq(mmg_model_get_metadata(l, "empty", &v), MMG_ERR_NOT_FOUND);
    cr_assert_eq(mmg_model_get_metadata(l, "gone", &v), MMG_ERR_NOT_FOUND);
    cr_assert(strstr(mmg_last_error(), "gone"), "%s", mmg_last_error());
    cr_assert_eq(v, (const char *)0x1, "out untouched on error");
    cr_assert_eq(memcmp(l->params, m->params, m->n_params * sizeof(float)), 0);
    /* one entry of the file without loading it; reserved entries too */
    char *fv = NULL;
    cr_assert_eq(mmg_model_file_metadata(tmp_path, "description", &fv), MMG_OK);
    cr_assert_str_eq(fv, "caf\xc3\xa9 \"quoted\"\n\ttab");
    mmg_free(fv);
    cr_assert_eq(mmg_model_file_metadata(tmp_path, "format", &fv), MMG_OK);
    cr_assert_str_eq(fv, "mmgen");
    mmg_free(fv);
    fv = (char *)0x1;
    cr_assert_eq(mmg_model_file_metadata(tmp_path, "gone", &fv), MMG_ERR_NOT_FOUND);
    cr_assert_eq(mmg_model_file_metadata("/nonexistent/x.safetensors", "a", &fv), MMG_ERR_IO);
    cr_assert_eq(mmg_model_file_metadata(NULL, "a", &fv), MMG_ERR_INVALID_ARG);
    cr_assert_eq(fv, (char *)0x1);
    /* saving the loaded model again gives the same file, byte for byte */
    char again[300];
    snprintf(again, sizeof again, "%s.again", tmp_path);
    cr_assert_eq(mmg_model_save(l, again), MMG_OK);
    FILE *a = fopen(tmp_path, "rb"), *b = fopen(again, "rb");
    int ca, cb;
    do {
        ca = fgetc(a), cb = fgetc(b);
        cr_assert_eq(ca, cb);
    } while (ca != EOF);
    fclose(a);
    fclose(b);
    unlink(again);
    unlink(tmp_path);
    free(big);
    mmg_model_free(l);
    mmg_model_free(m);
}

Test(model_metadata, reserved_and_invalid_keys_are_refused) {
    mmg_model_config c = small_config();
    mmg_model *m = create(&c, 7);
    cr_assert_eq(mmg_model_set_metadata(m, "format", "gguf"), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "\"format\""), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_set_metadata(m, "mmgen.config", "{}"), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "mmgen.config"), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_set_metadata(m, "format", NULL), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_set_metadata(m, "bad\xff", "v"), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_set_metadata(m, "k", "\xc3\x28"), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "UTF-8"), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_set_metadata(m, NULL, "v"), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_set_metadata(NULL, "k", "v"), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_metadata_count(m), 0, "nothing was added");
    const char *v;
    cr_assert_eq(mmg_model_get_metadata(m, "mmgen.config", &v), MMG_ERR_NOT_FOUND);
    cr_assert(strstr(mmg_last_error(), "mmg_model_get_config"), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_get_metadata(m, NULL, &v), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_get_metadata(m, "k", NULL), MMG_ERR_INVALID_ARG);
    mmg_model_free(m);
}

/* Another writer's file: its own metadata entries come along; the reserved
 * ones are not copied. */
Test(model_metadata, foreign_entries_are_loaded) {
    mmg_model_config c = small_config();
    mmg_model *m = create(&c, 1);
    tmp_file("foreign");
    mmg__st_writer *w;
    char *json;
    cr_assert_eq(mmg__config_to_json(&m->cfg, &json), MMG_OK);
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    cr_assert_eq(mmg__st_writer_metadata(w, "exporter", "torch_parity.py"), MMG_OK);
    cr_assert_eq(mmg__st_writer_metadata(w, "mmgen.config", json), MMG_OK);
    for (int i = 0; i < m->n_tensors; i++) {
        const mmg__param *p = &m->tensors[i];
        cr_assert_eq(mmg__st_writer_add(w, p->name, MMG__DT_F32, p->ndim, p->shape, p->data,
                                        p->numel * 4), MMG_OK);
    }
    cr_assert_eq(mmg__st_writer_write(w, tmp_path), MMG_OK);
    mmg__st_writer_free(w);
    mmg__free(json);
    mmg_model *l;
    cr_assert_eq(mmg_model_load(tmp_path, NULL, &l), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_model_metadata_count(l), 1);
    expect_meta(l, "exporter", "torch_parity.py");
    unlink(tmp_path);
    mmg_model_free(l);
    mmg_model_free(m);
}

/* Every allocation failure while setting, saving and loading metadata is
 * MMG_ERR_NOMEM (or the writer's error), leaves the model as it was and
 * leaks nothing (the sanitizer build checks leaks). */
Test(model_metadata, allocation_failures) {
    mmg_model_config c = small_config();
    mmg_model *m = create(&c, 1);
    cr_assert_eq(mmg_model_set_metadata(m, "a", "1"), MMG_OK);
    cr_assert_eq(mmg_model_set_metadata(m, "b", "2"), MMG_OK);
    cr_assert_eq(mmg_model_set_metadata(m, "c", "3"), MMG_OK);
    cr_assert_eq(mmg_model_set_metadata(m, "d", "4"), MMG_OK); /* the array is full: the next grows it */
    const char *keys[] = {"e", "b"}; /* a new key (grows the array), a replaced value */
    for (int what = 0; what < 2; what++) {
        for (long n = 1;; n++) {
            mmg__fault_fail_after(n);
            mmg_status s = mmg_model_set_metadata(m, keys[what], "new");
            mmg__fault_fail_after(0);
            if (s == MMG_OK) break;
            cr_assert_eq(s, MMG_ERR_NOMEM, "%s", mmg_last_error());
            cr_assert_eq(mmg_model_metadata_count(m), (size_t)(4 + what), "unchanged after a failure");
            expect_meta(m, "b", "2");
            cr_assert(n < 100);
        }
    }
    cr_assert_eq(mmg_model_metadata_count(m), 5);
    expect_meta(m, "b", "new");
    tmp_file("metafault");
    for (long n = 1;; n++) {
        mmg__fault_fail_after(n);
        mmg_status s = mmg_model_save(m, tmp_path);
        mmg__fault_fail_after(0);
        if (s == MMG_OK) break;
        cr_assert(s == MMG_ERR_NOMEM || s == MMG_ERR_IO, "%s", mmg_last_error());
        cr_assert(n < 1000);
    }
    for (long n = 1;; n++) {
        mmg__fault_fail_after(n);
        mmg_model *l = NULL;
        mmg_status s = mmg_model_load(tmp_path, NULL, &l);
        mmg__fault_fail_after(0);
        if (s == MMG_OK) {
            cr_assert_eq(mmg_model_metadata_count(l), 5);
            expect_meta(l, "e", "new");
            mmg_model_free(l);
            break;
        }
        cr_assert_eq(s, MMG_ERR_NOMEM, "allocation %ld: %s", n, mmg_last_error());
        cr_assert_null(l);
        cr_assert(n < 1000);
    }
    char *v = NULL;
    for (long n = 1;; n++) {
        mmg__fault_fail_after(n);
        mmg_status s = mmg_model_file_metadata(tmp_path, "c", &v);
        mmg__fault_fail_after(0);
        if (s == MMG_OK) break;
        cr_assert_eq(s, MMG_ERR_NOMEM, "%s", mmg_last_error());
        cr_assert_null(v);
        cr_assert(n < 100);
    }
    cr_assert_str_eq(v, "3");
    mmg_free(v);
    unlink(tmp_path);
    mmg_model_free(m);
}
