/* tests/test_checkpoint.c - saving and resuming training.
 *
 * The central check (issue 4): N steps straight and N/2 + save + load into a
 * fresh model/trainer/loader + N/2 give bit-identical losses and weights
 * (memcmp). Then the failure paths: another architecture, a corrupt or foreign
 * file, a failed save, pending accumulation - each a clear error with nothing
 * overwritten. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory.h"
#include "train_impl.h"
#include "mmgen/mmgen.h"

static char dir[256];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/mmgen-test-ckpt-%d", (int)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)system(cmd);
}

static mmg_model *make_model(int d_model, int enc, uint64_t seed) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = 17;
    c.d_model = d_model;
    c.n_heads = 2;
    c.n_encoder_layers = enc;
    c.n_decoder_layers = 2;
    c.d_ff = 24;
    c.max_seq_len = 12;
    c.norm_placement = MMG_NORM_PRE;
    c.activation = MMG_ACT_GELU;
    c.position_encoding = MMG_POS_LEARNED;
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = seed;
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_OK, "%s", mmg_last_error());
    return m;
}

typedef struct run {
    mmg_model *m;
    mmg_trainer *t;
    mmg_loader *l;
} run;

static mmg_dataset *data(void) {
    static int32_t tok[3000];
    for (int i = 0; i < 3000; i++) tok[i] = (int32_t)((i * i + 3 * i) % 17);
    mmg_dataset *ds;
    cr_assert_eq(mmg_dataset_from_tokens(tok, 3000, &ds), MMG_OK);
    return ds;
}

static void start(run *r, mmg_dataset *ds, uint64_t model_seed, int accum) {
    r->m = make_model(16, 0, model_seed);
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.learning_rate = 3e-3f;
    o.warmup_steps = 2;
    o.decay_steps = 8;
    o.grad_accum_steps = accum;
    o.weight_decay = 0.1f;
    o.seed = 77;
    cr_assert_eq(mmg_trainer_create(r->m, &o, &r->t), MMG_OK, "%s", mmg_last_error());
    mmg_loader_options lo;
    mmg_loader_options_init(&lo, sizeof lo);
    lo.batch_size = 3;
    lo.seq_len = 10;
    lo.seed = 5;
    cr_assert_eq(mmg_loader_create_packed(ds, &lo, &r->l), MMG_OK);
}

static void stop(run *r) {
    mmg_loader_free(r->l);
    mmg_trainer_free(r->t);
    mmg_model_free(r->m);
}

static void steps(run *r, int n, float *losses) {
    for (int i = 0; i < n; i++) {
        const mmg_batch *b;
        cr_assert_eq(mmg_loader_next(r->l, &b), MMG_OK);
        cr_assert_eq(mmg_trainer_step(r->t, b, &losses[i]), MMG_OK, "%s", mmg_last_error());
    }
}

static void path_of(char *out, const char *name) { snprintf(out, 512, "%s/%s", dir, name); }

static void resume_is_bit_identical(int accum) {
    enum { N = 8 };
    mmg_dataset *ds = data();
    char p[512];
    path_of(p, "half.safetensors");
    float straight[N * 2], resumed[N * 2];
    run a;
    start(&a, ds, 1, accum);
    steps(&a, N * accum, straight);
    run b;
    start(&b, ds, 1, accum);
    steps(&b, N / 2 * accum, resumed);
    cr_assert_eq(mmg_trainer_save(b.t, b.l, p), MMG_OK, "%s", mmg_last_error());
    stop(&b);
    /* a fresh process state: another random init, a fresh loader and trainer */
    run c;
    start(&c, ds, 999, accum);
    cr_assert_neq(memcmp(c.m->params, a.m->params, a.m->n_params * sizeof(float)), 0);
    cr_assert_eq(mmg_trainer_load(c.t, c.l, p), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_trainer_steps_done(c.t), N / 2);
    steps(&c, N / 2 * accum, resumed + N / 2 * accum);
    cr_assert_eq(memcmp(straight, resumed, sizeof(float) * N * accum), 0,
                 "losses differ after resuming");
    cr_assert_eq(memcmp(a.m->params, c.m->params, a.m->n_params * sizeof(float)), 0,
                 "weights differ after resuming");
    cr_assert_eq(memcmp(a.t->adam.m, c.t->adam.m, a.m->n_params * sizeof(float)), 0);
    cr_assert_eq(memcmp(a.t->adam.v, c.t->adam.v, a.m->n_params * sizeof(float)), 0);
    cr_assert_eq(mmg_trainer_steps_done(a.t), mmg_trainer_steps_done(c.t));
    stop(&a);
    stop(&c);
    mmg_dataset_free(ds);
}

Test(checkpoint, resume_is_bit_identical, .init = setup, .fini = teardown) { resume_is_bit_identical(1); }

Test(checkpoint, resume_is_bit_identical_with_accumulation, .init = setup, .fini = teardown) {
    resume_is_bit_identical(2);
}

static unsigned char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "%s", p);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *d = malloc(*n);
    cr_assert_eq(fread(d, 1, *n, f), *n);
    fclose(f);
    return d;
}

Test(checkpoint, another_architecture_is_refused_and_nothing_changes, .init = setup, .fini = teardown) {
    mmg_dataset *ds = data();
    char p[512];
    path_of(p, "wide.safetensors");
    mmg_model *wide = make_model(16, 0, 1);
    mmg_trainer *tw;
    cr_assert_eq(mmg_trainer_create(wide, NULL, &tw), MMG_OK);
    cr_assert_eq(mmg_trainer_save(tw, NULL, p), MMG_OK);
    mmg_model *narrow = make_model(8, 0, 2);
    mmg_trainer *tn;
    cr_assert_eq(mmg_trainer_create(narrow, NULL, &tn), MMG_OK);
    float *before = malloc(narrow->n_params * sizeof(float));
    memcpy(before, narrow->params, narrow->n_params * sizeof(float));
    cr_assert_eq(mmg_trainer_load(tn, NULL, p), MMG_ERR_CONFIG);
    cr_assert(strstr(mmg_last_error(), "d_model") != NULL, "%s", mmg_last_error());
    cr_assert(strstr(mmg_last_error(), p) != NULL, "the message names the file: %s", mmg_last_error());
    cr_assert_eq(memcmp(before, narrow->params, narrow->n_params * sizeof(float)), 0);
    /* an encoder-decoder checkpoint into a decoder-only trainer */
    mmg_model *ed = make_model(16, 1, 3);
    mmg_trainer *te;
    cr_assert_eq(mmg_trainer_create(ed, NULL, &te), MMG_OK);
    char q[512];
    path_of(q, "encdec.safetensors");
    cr_assert_eq(mmg_trainer_save(te, NULL, q), MMG_OK);
    float *wbefore = malloc(wide->n_params * sizeof(float));
    memcpy(wbefore, wide->params, wide->n_params * sizeof(float));
    cr_assert_eq(mmg_trainer_load(tw, NULL, q), MMG_ERR_CONFIG);
    cr_assert(strstr(mmg_last_error(), "n_encoder_layers") != NULL, "%s", mmg_last_error());
    cr_assert_eq(memcmp(wbefore, wide->params, wide->n_params * sizeof(float)), 0);
    /* a loader of another shape: refused before the trainer changes */
    mmg_loader_options lo;
    mmg_loader_options_init(&lo, sizeof lo);
    lo.seq_len = 10;
    mmg_loader *l10, *l11;
    cr_assert_eq(mmg_loader_create_packed(ds, &lo, &l10), MMG_OK);
    lo.seq_len = 11;
    cr_assert_eq(mmg_loader_create_packed(ds, &lo, &l11), MMG_OK);
    char r[512];
    path_of(r, "withloader.safetensors");
    cr_assert_eq(mmg_trainer_save(tw, l10, r), MMG_OK);
    mmg_trainer *tw2;
    mmg_model *wide2 = make_model(16, 0, 9);
    cr_assert_eq(mmg_trainer_create(wide2, NULL, &tw2), MMG_OK);
    memcpy(wbefore, wide2->params, wide2->n_params * sizeof(float));
    cr_assert_eq(mmg_trainer_load(tw2, l11, r), MMG_ERR_CONFIG);
    cr_assert(strstr(mmg_last_error(), "seq_len") != NULL, "%s", mmg_last_error());
    cr_assert_eq(memcmp(wbefore, wide2->params, wide2->n_params * sizeof(float)), 0);
    /* a checkpoint saved without a loader cannot restore one */
    cr_assert_eq(mmg_trainer_load(tw2, l10, p), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "without a loader") != NULL, "%s", mmg_last_error());
    cr_assert_eq(mmg_trainer_load(tw2, l10, r), MMG_OK, "%s", mmg_last_error());
    free(before);
    free(wbefore);
    mmg_loader_free(l10);
    mmg_loader_free(l11);
    mmg_trainer_free(tw);
    mmg_trainer_free(tw2);
    mmg_trainer_free(tn);
    mmg_trainer_free(te);
    mmg_model_free(wide);
    mmg_model_free(wide2);
    mmg_model_free(narrow);
    mmg_model_free(ed);
    mmg_dataset_free(ds);
}

Test(checkpoint, corrupt_and_foreign_files_are_refused, .init = setup, .fini = teardown) {
    mmg_model *m = make_model(16, 0, 1);
    mmg_trainer *t;
    cr_assert_eq(mmg_trainer_create(m, NULL, &t), MMG_OK);
    char p[512], q[512];
    path_of(p, "good.safetensors");
    cr_assert_eq(mmg_trainer_save(t, NULL, p), MMG_OK);
    size_t n;
    unsigned char *good = slurp(p, &n);
    float *before = malloc(m->n_params * sizeof(float));
    memcpy(before, m->params, m->n_params * sizeof(float));
    /* truncated in the data, and in the header */
    size_t cuts[3] = {n - 4, n / 2, 20};
    for (int i = 0; i < 3; i++) {
        path_of(q, "cut.safetensors");
        FILE *f = fopen(q, "wb");
        fwrite(good, 1, cuts[i], f);
        fclose(f);
        mmg_status s = mmg_trainer_load(t, NULL, q);
        cr_assert(s == MMG_ERR_FORMAT || s == MMG_ERR_IO, "cut at %zu: %s", cuts[i], mmg_status_name(s));
        cr_assert_eq(memcmp(before, m->params, m->n_params * sizeof(float)), 0);
    }
    /* a model file is not a checkpoint */
    path_of(q, "model.safetensors");
    cr_assert_eq(mmg_model_save(m, q), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_trainer_load(t, NULL, q), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "not an mmgen training checkpoint") != NULL, "%s",
              mmg_last_error());
    cr_assert_eq(mmg_trainer_load(t, NULL, "/nonexistent/ckpt.safetensors"), MMG_ERR_IO);
    free(good);
    free(before);
    mmg_trainer_free(t);
    mmg_model_free(m);
}

Test(checkpoint, a_failed_save_keeps_the_previous_checkpoint, .init = setup, .fini = teardown) {
    mmg_dataset *ds = data();
    run r;
    start(&r, ds, 1, 1);
    float l[4];
    steps(&r, 2, l);
    char p[512];
    path_of(p, "ckpt.safetensors");
    cr_assert_eq(mmg_trainer_save(r.t, r.l, p), MMG_OK);
    size_t n0;
    unsigned char *v1 = slurp(p, &n0);
    steps(&r, 2, l);
    /* fail each allocation of the save in turn: an error every time, and the
     * file on disk stays the previous checkpoint, byte for byte */
    int failures = 0;
    for (long k = 1; k < 200; k++) {
        mmg__fault_fail_after(k);
        mmg_status s = mmg_trainer_save(r.t, r.l, p);
        mmg__fault_fail_after(0);
        if (s == MMG_OK) break;
        failures++;
        cr_assert_eq(s, MMG_ERR_NOMEM, "allocation %ld: %s", k, mmg_last_error());
        size_t n1;
        unsigned char *now = slurp(p, &n1);
        cr_assert(n1 == n0 && memcmp(now, v1, n0) == 0, "allocation %ld: the old checkpoint changed", k);
        free(now);
    }
    cr_assert_gt(failures, 0);
    /* an unwritable destination: IO error naming the path */
    cr_assert_eq(mmg_trainer_save(r.t, r.l, "/nonexistent-dir/ckpt.safetensors"), MMG_ERR_IO);
    cr_assert(strstr(mmg_last_error(), "/nonexistent-dir/ckpt.safetensors") != NULL, "%s",
              mmg_last_error());
    /* no temporary files left behind */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls %s | grep tmp)\"", dir);
    cr_assert_eq(system(cmd), 0, "a temporary file was left in %s", dir);
    free(v1);
    stop(&r);
    mmg_dataset_free(ds);
}

Test(checkpoint, after_a_nan_the_last_good_checkpoint_resumes, .init = setup, .fini = teardown) {
    mmg_dataset *ds = data();
    run r;
    start(&r, ds, 1, 1);
    float l[3];
    steps(&r, 3, l);
    char p[512];
    path_of(p, "good.safetensors");
    cr_assert_eq(mmg_trainer_save(r.t, r.l, p), MMG_OK);
    float *good = malloc(r.m->n_params * sizeof(float));
    memcpy(good, r.m->params, r.m->n_params * sizeof(float));
    r.m->dec_ln_w[5] = INFINITY; /* the run blows up */
    const mmg_batch *b;
    cr_assert_eq(mmg_loader_next(r.l, &b), MMG_OK);
    cr_assert_eq(mmg_trainer_step(r.t, b, NULL), MMG_ERR_NUMERIC);
    cr_assert_eq(mmg_trainer_load(r.t, r.l, p), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(memcmp(good, r.m->params, r.m->n_params * sizeof(float)), 0);
    cr_assert_eq(mmg_trainer_steps_done(r.t), 3);
    steps(&r, 2, l);
    free(good);
    stop(&r);
    mmg_dataset_free(ds);
}

Test(checkpoint, saving_with_pending_accumulation_is_refused, .init = setup, .fini = teardown) {
    mmg_dataset *ds = data();
    run r;
    start(&r, ds, 1, 2);
    float l[1];
    steps(&r, 1, l);
    char p[512];
    path_of(p, "pending.safetensors");
    cr_assert_eq(mmg_trainer_save(r.t, r.l, p), MMG_ERR_STATE);
    cr_assert(strstr(mmg_last_error(), "pending") != NULL, "%s", mmg_last_error());
    cr_assert_neq(access(p, F_OK), 0, "no file written");
    stop(&r);
    mmg_dataset_free(ds);
}
