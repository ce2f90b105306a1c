/* tests/test_model_params.c - what bindings use since ABI 1.3: parameters by
 * name (list, read, write), the trainer's gradients by name, loading a model
 * from memory, the opt-in check for non-finite logits, and the struct layout
 * table (mmgen/layout.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmgen/mmgen.h"
#include "model-impl.h"
#include "train_impl.h"

static mmg_model_config small_config(int n_encoder_layers) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = 31;
    c.d_model = 12;
    c.n_heads = 3;
    c.n_encoder_layers = n_encoder_layers;
    c.n_decoder_layers = 2;
    c.d_ff = 20;
    c.max_seq_len = 10;
    c.tied_output = 0;
    c.position_encoding = MMG_POS_LEARNED;
    return c;
}

static mmg_model *create(int n_encoder_layers, uint64_t seed) {
    mmg_model_config c = small_config(n_encoder_layers);
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = seed;
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_OK, "%s", mmg_last_error());
    return m;
}

static float *read_all(const mmg_model *m, const char *name, size_t n) {
    float *buf = malloc(n * sizeof *buf);
    cr_assert_eq(mmg_model_read_param(m, name, buf, n), MMG_OK, "%s", mmg_last_error());
    return buf;
}

Test(model_params, listed_with_names_and_shapes) {
    mmg_model *m = create(1, 1);
    size_t n = mmg_model_param_count(m);
    cr_assert_eq(n, (size_t)m->n_tensors);
    cr_assert_gt(n, 10);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        mmg_param_info info = {.struct_size = sizeof info};
        cr_assert_eq(mmg_model_param_info(m, i, &info), MMG_OK, "%s", mmg_last_error());
        cr_assert_str_eq(info.name, m->tensors[i].name);
        cr_assert(info.n_dims == 1 || info.n_dims == 2);
        uint64_t prod = 1;
        for (int d = 0; d < info.n_dims; d++) prod *= (uint64_t)info.shape[d];
        for (int d = info.n_dims; d < MMG_PARAM_MAX_DIMS; d++) cr_assert_eq(info.shape[d], 0);
        cr_assert_eq(prod, info.n_elements);
        total += info.n_elements;
        size_t index = 99;
        cr_assert_eq(mmg_model_param_find(m, info.name, &index), MMG_OK);
        cr_assert_eq(index, i);
    }
    cr_assert_eq(total, mmg_model_n_params(m), "the parameters tile the model");

    /* the embedding's shape is (vocab, d_model) */
    size_t e;
    cr_assert_eq(mmg_model_param_find(m, "tok_emb.weight", &e), MMG_OK, "%s", mmg_last_error());
    mmg_param_info info = {.struct_size = sizeof info};
    mmg_model_param_info(m, e, &info);
    cr_assert_eq(info.n_dims, 2);
    cr_assert_eq(info.shape[0], 31);
    cr_assert_eq(info.shape[1], 12);

    /* a caller that knows fewer fields gets only those bytes written */
    unsigned char small[sizeof(size_t) + sizeof(const char *) + 8];
    memset(small, 0xAB, sizeof small);
    size_t small_size = sizeof(size_t) + sizeof(const char *);
    memcpy(small, &small_size, sizeof small_size);
    cr_assert_eq(mmg_model_param_info(m, 0, (mmg_param_info *)(void *)small), MMG_OK);
    for (size_t k = small_size; k < sizeof small; k++) cr_assert_eq(small[k], 0xAB, "byte %zu", k);

    mmg_param_info bad = {.struct_size = sizeof bad, .name = "untouched"};
    cr_assert_eq(mmg_model_param_info(m, n, &bad), MMG_ERR_RANGE);
    cr_assert_str_eq(bad.name, "untouched");
    cr_assert(strstr(mmg_last_error(), "has"), "%s", mmg_last_error());
    bad.struct_size = 0;
    cr_assert_eq(mmg_model_param_info(m, 0, &bad), MMG_ERR_INVALID_ARG);
    size_t idx = 7;
    cr_assert_eq(mmg_model_param_find(m, "no.such.weight", &idx), MMG_ERR_NOT_FOUND);
    cr_assert_eq(idx, 7);
    cr_assert(strstr(mmg_last_error(), "no.such.weight"), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_param_count(NULL), 0);
    mmg_model_free(m);
}

Test(model_params, read_and_write_by_name) {
    mmg_model *m = create(1, 1);
    const char *name = "decoder.layers.1.ff.fc1.weight";
    size_t i;
    cr_assert_eq(mmg_model_param_find(m, name, &i), MMG_OK, "%s", mmg_last_error());
    const mmg__param *p = &m->tensors[i];
    float *buf = read_all(m, name, p->numel);
    cr_assert_eq(memcmp(buf, p->data, p->numel * sizeof *buf), 0);

    for (size_t k = 0; k < p->numel; k++) buf[k] = (float)k * 0.5f;
    cr_assert_eq(mmg_model_write_param(m, name, buf, p->numel), MMG_OK, "%s", mmg_last_error());
    float *back = read_all(m, name, p->numel);
    cr_assert_eq(memcmp(back, buf, p->numel * sizeof *buf), 0);

    /* a buffer of the wrong size: the shape is named, nothing changes */
    float *before = malloc(m->n_params * sizeof *before);
    memcpy(before, m->params, m->n_params * sizeof *before);
    cr_assert_eq(mmg_model_write_param(m, name, buf, p->numel - 1), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "(20, 12)"), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_read_param(m, name, back, p->numel + 1), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "240 floats"), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_read_param(m, "decoder.layers.1.ff.fc1.bias", back, 3), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "(20)"), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_write_param(m, "nope", buf, 1), MMG_ERR_NOT_FOUND);
    cr_assert_eq(mmg_model_write_param(m, name, NULL, p->numel), MMG_ERR_INVALID_ARG);
    cr_assert_eq(memcmp(before, m->params, m->n_params * sizeof *before), 0, "model unchanged");
    free(before);
    free(back);
    free(buf);
    mmg_model_free(m);
}

/* Logits of one decoder-only forward over a fixed sequence. */
static void forward(const mmg_model *m, int check_finite, mmg_status want, float *logits) {
    mmg_context_options co;
    mmg_context_options_init(&co, sizeof co);
    co.n_threads = 1;
    co.check_finite = check_finite;
    mmg_context *ctx;
    cr_assert_eq(mmg_context_create(m, &co, &ctx), MMG_OK, "%s", mmg_last_error());
    const int32_t tgt[6] = {1, 5, 9, 30, 2, 7};
    cr_assert_eq(mmg_context_forward(ctx, 1, NULL, NULL, 0, tgt, NULL, 6, logits), want, "%s",
                 mmg_last_error());
    mmg_context_free(ctx);
}

Test(model_params, copying_every_parameter_copies_the_model) {
    mmg_model *a = create(0, 1), *b = create(0, 2);
    float la[6 * 31], lb[6 * 31];
    forward(a, 0, MMG_OK, la);
    forward(b, 0, MMG_OK, lb);
    cr_assert_neq(memcmp(la, lb, sizeof la), 0, "different seeds, different models");
    for (size_t i = 0; i < mmg_model_param_count(a); i++) {
        mmg_param_info info = {.struct_size = sizeof info};
        mmg_model_param_info(a, i, &info);
        float *w = read_all(a, info.name, info.n_elements);
        cr_assert_eq(mmg_model_write_param(b, info.name, w, info.n_elements), MMG_OK);
        free(w);
    }
    forward(b, 0, MMG_OK, lb);
    cr_assert_eq(memcmp(la, lb, sizeof la), 0, "written weights are the ones computed with");
    mmg_model_free(a);
    mmg_model_free(b);
}

static uint8_t *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

Test(model_params, load_from_memory_equals_load_from_path) {
    mmg_model *m = create(1, 4);
    cr_assert_eq(mmg_model_set_metadata(m, "note", "from memory"), MMG_OK);
    char path[128];
    snprintf(path, sizeof path, "/tmp/mmgen-test-params-%d.safetensors", (int)getpid());
    cr_assert_eq(mmg_model_save(m, path), MMG_OK, "%s", mmg_last_error());
    size_t size;
    uint8_t *bytes = slurp(path, &size);
    unlink(path);

    uint8_t *copy = malloc(size);
    memcpy(copy, bytes, size);
    mmg_model *l = NULL;
    cr_assert_eq(mmg_model_load_memory(copy, size, NULL, &l), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(memcmp(&l->cfg, &m->cfg, sizeof m->cfg), 0);
    cr_assert_eq(l->n_params, m->n_params);
    cr_assert_eq(memcmp(l->params, m->params, m->n_params * sizeof(float)), 0);
    const char *note;
    cr_assert_eq(mmg_model_get_metadata(l, "note", &note), MMG_OK);
    cr_assert_str_eq(note, "from memory");
    memset(copy, 0, size); /* the model keeps no pointer into the buffer */
    free(copy);
    cr_assert_eq(memcmp(l->params, m->params, m->n_params * sizeof(float)), 0);
    cr_assert_str_eq(note, "from memory");
    mmg_model_free(l);

    /* truncated and garbage buffers: a format error naming the memory source */
    mmg_model *bad = (mmg_model *)0x1;
    cr_assert_eq(mmg_model_load_memory(bytes, size - 9, NULL, &bad), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "<memory>"), "%s", mmg_last_error());
    cr_assert_eq(bad, (mmg_model *)0x1, "out untouched on error");
    cr_assert_eq(mmg_model_load_memory(bytes, 5, NULL, &bad), MMG_ERR_FORMAT);
    cr_assert_eq(mmg_model_load_memory(NULL, size, NULL, &bad), MMG_ERR_INVALID_ARG);
    free(bytes);
    mmg_model_free(m);
}

Test(model_params, check_finite_reports_nan_logits) {
    mmg_model *m = create(0, 5);
    float clean[6 * 31], checked[6 * 31];
    forward(m, 0, MMG_OK, clean);
    forward(m, 1, MMG_OK, checked);
    cr_assert_eq(memcmp(clean, checked, sizeof clean), 0, "the check changes nothing when finite");

    /* one NaN weight in the output projection's row for token 17 */
    size_t i;
    cr_assert_eq(mmg_model_param_find(m, "lm_head.weight", &i), MMG_OK, "%s", mmg_last_error());
    float *w = read_all(m, "lm_head.weight", m->tensors[i].numel);
    w[17 * 12 + 3] = NAN;
    cr_assert_eq(mmg_model_write_param(m, "lm_head.weight", w, m->tensors[i].numel), MMG_OK);
    free(w);

    forward(m, 0, MMG_OK, clean); /* unchecked: NaN logits, MMG_OK (the old behaviour) */
    cr_assert(isnan(clean[17]));
    forward(m, 1, MMG_ERR_NUMERIC, checked);
    cr_assert(strstr(mmg_last_error(), "token id 17 is NaN at position 0 of sequence 0"), "%s",
              mmg_last_error());

    mmg_context_options co;
    mmg_context_options_init(&co, sizeof co);
    co.n_threads = 1;
    co.n_slots = 2;
    co.check_finite = 1;
    mmg_context *ctx;
    cr_assert_eq(mmg_context_create(m, &co, &ctx), MMG_OK, "%s", mmg_last_error());
    const int32_t toks[3] = {4, 8, 15};
    float logits[3 * 31];
    cr_assert_eq(mmg_context_decode(ctx, 1, toks, 3, logits, 1), MMG_ERR_NUMERIC);
    cr_assert(strstr(mmg_last_error(), "position 0 of slot 1"), "%s", mmg_last_error());
    cr_assert_eq(mmg_context_reset(ctx, 1), MMG_OK);
    cr_assert_eq(mmg_context_decode(ctx, 1, toks, 3, logits, 0), MMG_ERR_NUMERIC);
    cr_assert(strstr(mmg_last_error(), "position 2 of slot 1"), "%s", mmg_last_error());
    const int32_t slots[2] = {0, 1}, next[2] = {3, 4};
    cr_assert_eq(mmg_context_decode_batch(ctx, 2, slots, next, logits), MMG_ERR_NUMERIC);
    cr_assert(strstr(mmg_last_error(), "slot 0"), "%s", mmg_last_error());
    /* no logits asked for: nothing to check */
    cr_assert_eq(mmg_context_reset(ctx, 0), MMG_OK);
    cr_assert_eq(mmg_context_decode(ctx, 0, toks, 3, NULL, 0), MMG_OK, "%s", mmg_last_error());

    /* generation stops with the same error */
    cr_assert_eq(mmg_context_reset(ctx, 0), MMG_OK);
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.max_new_tokens = 4;
    const int32_t *prompts[1] = {toks};
    int32_t plen = 3, out[4] = {-1, -1, -1, -1}, n_out = -1;
    cr_assert_eq(mmg_generate(ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n_out),
                 MMG_ERR_NUMERIC);
    cr_assert(strstr(mmg_last_error(), "NaN"), "%s", mmg_last_error());
    mmg_context_free(ctx);
    mmg_model_free(m);
}

Test(model_params, trainer_gradients_by_name) {
    mmg_model *m = create(0, 6);
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.n_threads = 1;
    o.grad_accum_steps = 2;
    o.grad_clip = 0.0f;
    mmg_trainer *t;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_OK, "%s", mmg_last_error());
    const char *name = "decoder.layers.0.self_attn.qkv.weight";
    size_t i;
    cr_assert_eq(mmg_model_param_find(m, name, &i), MMG_OK, "%s", mmg_last_error());
    const mmg__param *p = &m->tensors[i];
    float *g = malloc(p->numel * sizeof *g);
    cr_assert_eq(mmg_trainer_read_grad(t, name, g, p->numel), MMG_OK, "%s", mmg_last_error());
    for (size_t k = 0; k < p->numel; k++) cr_assert_eq(g[k], 0.0f, "zeros before the first step");

    int32_t tgt[2 * 8], lab[2 * 8];
    for (int k = 0; k < 16; k++) tgt[k] = (int32_t)((k * 7) % 31), lab[k] = (int32_t)((k * 7 + 3) % 31);
    mmg_batch b = {.struct_size = sizeof b, .batch_size = 2, .tgt_len_max = 8, .tgt = tgt,
                   .labels = lab};
    /* mid-window: the sum accumulated so far */
    cr_assert_eq(mmg_trainer_step(t, &b, NULL), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_trainer_read_grad(t, name, g, p->numel), MMG_OK);
    cr_assert_eq(memcmp(g, t->grads + p->offset, p->numel * sizeof *g), 0);
    double norm = 0;
    for (size_t k = 0; k < p->numel; k++) norm += (double)g[k] * g[k];
    cr_assert_gt(norm, 0.0);
    /* after the update: the gradient that update applied stays readable */
    cr_assert_eq(mmg_trainer_step(t, &b, NULL), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_trainer_steps_done(t), 1);
    float *applied = malloc(p->numel * sizeof *applied);
    cr_assert_eq(mmg_trainer_read_grad(t, name, applied, p->numel), MMG_OK);
    double diff = 0;
    for (size_t k = 0; k < p->numel; k++) diff += fabs((double)applied[k] - 2.0 * g[k]);
    cr_assert_lt(diff, 1e-4 * sqrt(norm) * (double)p->numel, "same batch twice: twice the half window");
    /* a new window starts from zero */
    cr_assert_eq(mmg_trainer_step(t, &b, NULL), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_trainer_read_grad(t, name, g, p->numel), MMG_OK);
    cr_assert_eq(memcmp(g, t->grads + p->offset, p->numel * sizeof *g), 0);
    cr_assert_neq(memcmp(g, applied, p->numel * sizeof *g), 0);

    cr_assert_eq(mmg_trainer_read_grad(t, name, g, 5), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "(36, 12)"), "%s", mmg_last_error());
    cr_assert_eq(mmg_trainer_read_grad(t, "missing", g, 5), MMG_ERR_NOT_FOUND);
    free(applied);
    free(g);
    mmg_trainer_free(t);
    mmg_model_free(m);
}

Test(layout, sizes_and_offsets_of_the_public_structs) {
    cr_assert_eq(mmg_struct_size("mmg_model_config"), sizeof(mmg_model_config));
    cr_assert_eq(mmg_struct_size("mmg_context_options"), sizeof(mmg_context_options));
    cr_assert_eq(mmg_struct_field_offset("mmg_context_options", "check_finite"),
                 (int64_t)offsetof(mmg_context_options, check_finite));
    cr_assert_eq(mmg_struct_field_offset("mmg_train_options", "n_threads"),
                 (int64_t)offsetof(mmg_train_options, n_threads));
    cr_assert_eq(mmg_struct_field_offset("mmg_param_info", "shape"),
                 (int64_t)offsetof(mmg_param_info, shape));
    cr_assert_eq(mmg_struct_size("mmg_nothing"), 0);
    cr_assert_eq(mmg_struct_size(NULL), 0);
    cr_assert_eq(mmg_struct_field_offset("mmg_batch", "nothing"), -1);
    cr_assert_eq(mmg_struct_field_offset(NULL, "labels"), -1);
    size_t n = 0;
    while (mmg_struct_name_at(n)) {
        cr_assert_gt(mmg_struct_size(mmg_struct_name_at(n)), 0);
        cr_assert_eq(mmg_struct_field_offset(mmg_struct_name_at(n), "struct_size") > 0, 0,
                     "struct_size, where present, comes first");
        n++;
    }
    cr_assert_geq(n, 12);
}
