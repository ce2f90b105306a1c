/* tests/test_model.c - model configs, creation, save/load and every bad
 * input: invalid configs and limits, malformed model files, bad tokens and
 * lengths, misuse of contexts, allocation failures. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "memory.h"
#include "mmgen/context.h"
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
typedef enum { SKIP_TENSOR, WRONG_SHAPE, WRONG_DTYPE, EXTRA_TENSOR, BAD_JSON, MISSING_FIELD,
               NO_CONFIG, BAD_FORMAT, INCONSISTENT_CONFIG } damage;

static void write_damaged(const mmg_model *m, damage d, const char *victim) {
    mmg__st_writer *w;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    char *json;
    cr_assert_eq(mmg__config_to_json(&m->cfg, &json), MMG_OK);
    const char *meta = json;
    char buf[1200];
    if (d == BAD_JSON) meta = "{\"vocab_size\": 31, \"d_model\": ";
    if (d == MISSING_FIELD) {
        snprintf(buf, sizeof buf, "%s", json);
        char *p = strstr(buf, "\"d_ff\"");
        memcpy(p, "\"d_fx\"", 6);
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
    expect_load_error(m, MISSING_FIELD, "", MMG_ERR_FORMAT, "d_ff");
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
