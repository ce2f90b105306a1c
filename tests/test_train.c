/* tests/test_train.c - the trainer's public API: options, batches, limits,
 * numeric failures, gradient accumulation, determinism and evaluation.
 * (Correctness of the gradients: test_grad_*.c and test_train_parity.c.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory.h"
#include "train_impl.h"
#include "mmgen/mmgen.h"

static mmg_model *tiny_model(int enc, uint64_t seed) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = 13;
    c.d_model = 16;
    c.n_heads = 2;
    c.n_encoder_layers = enc;
    c.n_decoder_layers = 2;
    c.d_ff = 32;
    c.max_seq_len = 16;
    c.norm_placement = MMG_NORM_PRE;
    c.activation = MMG_ACT_GELU_TANH;
    c.position_encoding = MMG_POS_LEARNED;
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = seed;
    o.init_std = 0.1f;
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_OK, "%s", mmg_last_error());
    return m;
}

/* A packed batch from a periodic sequence (learnable). */
typedef struct { mmg_batch b; int32_t tgt[8 * 16], lab[8 * 16]; } pbatch;

static void periodic_batch(pbatch *p, int B, int T, int offset) {
    for (int r = 0; r < B; r++)
        for (int t = 0; t < T; t++) {
            int k = offset + r * 3 + t;
            p->tgt[r * T + t] = (int32_t)(k % 7);
            p->lab[r * T + t] = (int32_t)((k + 1) % 7);
        }
    memset(&p->b, 0, sizeof p->b);
    p->b.struct_size = sizeof p->b;
    p->b.batch_size = B;
    p->b.tgt_len_max = T;
    p->b.tgt = p->tgt;
    p->b.labels = p->lab;
}

Test(train, options_are_validated_with_clear_messages) {
    mmg_model *m = tiny_model(0, 1);
    mmg_train_options o;
    mmg_trainer *t = (mmg_trainer *)0x1;
    mmg_train_options_init(&o, sizeof o);
    o.learning_rate = 0.0f;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "learning_rate") != NULL, "%s", mmg_last_error());
    o.learning_rate = -1e-3f;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_ERR_INVALID_ARG);
    o.learning_rate = NAN;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_ERR_INVALID_ARG);
    mmg_train_options_init(&o, sizeof o);
    o.beta2 = 1.0f;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "beta2") != NULL, "%s", mmg_last_error());
    mmg_train_options_init(&o, sizeof o);
    o.grad_accum_steps = 0;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_ERR_INVALID_ARG);
    mmg_train_options_init(&o, sizeof o);
    o.ignore_index = 3;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_ERR_INVALID_ARG);
    mmg_train_options_init(&o, sizeof o);
    o.dropout = 1.0f;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_ERR_INVALID_ARG);
    o.struct_size = 2;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_trainer_create(NULL, NULL, &t), MMG_ERR_INVALID_ARG);
    cr_assert_eq(t, (mmg_trainer *)0x1, "out untouched on error");
    /* NULL options: defaults */
    cr_assert_eq(mmg_trainer_create(m, NULL, &t), MMG_OK);
    cr_assert_float_eq(mmg_trainer_learning_rate(t), 1e-3f, 1e-9f);
    mmg_trainer_free(t);
    mmg_trainer_free(NULL);
    mmg_model_free(m);
}

Test(train, learns_a_periodic_sequence) {
    mmg_model *m = tiny_model(0, 2);
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.learning_rate = 1e-2f;
    o.weight_decay = 0.0f;
    mmg_trainer *t;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_OK);
    float first = 0.0f, loss = 0.0f;
    for (int i = 0; i < 60; i++) {
        pbatch p;
        periodic_batch(&p, 4, 12, i);
        cr_assert_eq(mmg_trainer_step(t, &p.b, &loss), MMG_OK, "%s", mmg_last_error());
        if (i == 0) first = loss;
    }
    cr_assert_gt(first, 2.0f, "an untrained model is near uniform (ln 13 = 2.56): %g", (double)first);
    cr_assert_lt(loss, 0.1f, "after 60 steps the pattern is learned: %g", (double)loss);
    cr_assert_eq(mmg_trainer_steps_done(t), 60);
    mmg_trainer_free(t);
    mmg_model_free(m);
}

Test(train, batches_that_do_not_fit_the_model_are_refused) {
    mmg_model *m = tiny_model(0, 3);
    mmg_trainer *t;
    cr_assert_eq(mmg_trainer_create(m, NULL, &t), MMG_OK);
    pbatch p;
    periodic_batch(&p, 2, 8, 0);
    int32_t src[16] = {0};
    mmg_batch b = p.b;
    b.src = src;
    b.src_len_max = 8;
    cr_assert_eq(mmg_trainer_step(t, &b, NULL), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "decoder-only") != NULL, "%s", mmg_last_error());
    b = p.b;
    p.tgt[3] = 13;
    cr_assert_eq(mmg_trainer_step(t, &b, NULL), MMG_ERR_RANGE);
    p.tgt[3] = 0;
    p.lab[5] = 40;
    cr_assert_eq(mmg_trainer_step(t, &b, NULL), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "40") != NULL, "%s", mmg_last_error());
    p.lab[5] = 1;
    b.tgt_len_max = 17; /* > max_seq_len 16 */
    cr_assert_eq(mmg_trainer_step(t, &b, NULL), MMG_ERR_RANGE);
    b = p.b;
    b.struct_size = 8;
    cr_assert_eq(mmg_trainer_step(t, &b, NULL), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_trainer_steps_done(t), 0, "no update after refused batches");
    /* an encoder-decoder needs a source */
    mmg_model *ed = tiny_model(1, 3);
    mmg_trainer *te;
    cr_assert_eq(mmg_trainer_create(ed, NULL, &te), MMG_OK);
    cr_assert_eq(mmg_trainer_step(te, &p.b, NULL), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "src") != NULL, "%s", mmg_last_error());
    mmg_trainer_free(te);
    mmg_model_free(ed);
    mmg_trainer_free(t);
    mmg_model_free(m);
}

Test(train, a_batch_too_large_for_memory_fails_before_allocating) {
    mmg_model *m = tiny_model(0, 4);
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.memory_limit = 4 * mmg_model_n_params(m) * sizeof(float) + 100000;
    mmg_trainer *t;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_OK, "%s", mmg_last_error());
    pbatch p;
    periodic_batch(&p, 8, 16, 0);
    /* every allocation from here on would fail: a LIMIT (not NOMEM) answer
     * shows the check ran before any allocation */
    mmg__fault_fail_after(1);
    mmg_status s = mmg_trainer_step(t, &p.b, NULL);
    long attempts = mmg__fault_count();
    mmg__fault_fail_after(0);
    cr_assert_eq(s, MMG_ERR_LIMIT, "%s", mmg_last_error());
    cr_assert_eq(attempts, 0, "%ld allocations were attempted before the limit check", attempts);
    cr_assert(strstr(mmg_last_error(), "memory limit") != NULL, "%s", mmg_last_error());
    /* a small batch fits */
    periodic_batch(&p, 1, 4, 0);
    cr_assert_eq(mmg_trainer_step(t, &p.b, NULL), MMG_OK, "%s", mmg_last_error());
    mmg_trainer_free(t);
    /* and the trainer itself refuses a limit below params + grads + moments */
    o.memory_limit = 3 * mmg_model_n_params(m) * sizeof(float);
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_ERR_LIMIT);
    mmg_model_free(m);
}

Test(train, nan_stops_with_a_clear_error_and_leaves_weights_alone) {
    mmg_model *m = tiny_model(0, 5);
    mmg_trainer *t;
    cr_assert_eq(mmg_trainer_create(m, NULL, &t), MMG_OK);
    pbatch p;
    periodic_batch(&p, 2, 8, 0);
    cr_assert_eq(mmg_trainer_step(t, &p.b, NULL), MMG_OK);
    /* a NaN weight (as a diverged run would produce) poisons the logits; it
     * sits in the final LayerNorm so no attention softmax sees it */
    size_t n = m->n_params;
    float *before = malloc(n * sizeof(float));
    m->dec_ln_w[3] = NAN;
    memcpy(before, m->params, n * sizeof(float));
    float loss = 123.0f;
    cr_assert_eq(mmg_trainer_step(t, &p.b, &loss), MMG_ERR_NUMERIC);
    cr_assert(strstr(mmg_last_error(), "NaN") != NULL, "%s", mmg_last_error());
    cr_assert(strstr(mmg_last_error(), "weights unchanged") != NULL, "%s", mmg_last_error());
    cr_assert_eq(memcmp(before, m->params, n * sizeof(float)), 0, "no update was applied");
    cr_assert_eq(loss, 123.0f, "out_loss untouched on error");
    cr_assert_eq(mmg_trainer_steps_done(t), 1);
    /* repaired, training continues from clean gradients */
    m->dec_ln_w[3] = 1.0f;
    cr_assert_eq(mmg_trainer_step(t, &p.b, &loss), MMG_OK);
    cr_assert(isfinite(loss));
    free(before);
    mmg_trainer_free(t);
    mmg_model_free(m);
}

Test(train, accumulating_two_halves_equals_one_full_batch) {
    /* Gradients, not weights, are compared: AdamW moves a weight by ~lr even
     * when its gradient is rounding noise, so weights would differ by ~lr
     * wherever a gradient is ~0 whatever the summation order. */
    mmg_model *a = tiny_model(0, 6), *b = tiny_model(0, 6);
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    mmg_trainer *ta, *tb;
    cr_assert_eq(mmg_trainer_create(a, &o, &ta), MMG_OK);
    o.grad_accum_steps = 2;
    cr_assert_eq(mmg_trainer_create(b, &o, &tb), MMG_OK);
    pbatch full, h1, h2;
    periodic_batch(&full, 4, 10, 0);
    periodic_batch(&h1, 2, 10, 0);
    periodic_batch(&h2, 2, 10, 6); /* rows 2, 3 of the full batch */
    cr_assert_eq(memcmp(h2.tgt, full.tgt + 20, 20 * sizeof(int32_t)), 0);
    double s;
    size_t k;
    cr_assert_eq(mmg__trainer_accumulate(ta, &full.b, &s, &k), MMG_OK);
    cr_assert_eq(mmg__trainer_accumulate(tb, &h1.b, &s, &k), MMG_OK);
    cr_assert_eq(mmg__trainer_accumulate(tb, &h2.b, &s, &k), MMG_OK);
    double worst = 0.0, gmax = 0.0;
    for (size_t i = 0; i < a->n_params; i++) {
        worst = fmax(worst, fabs((double)ta->grads[i] - (double)tb->grads[i]));
        gmax = fmax(gmax, fabs((double)ta->grads[i]));
    }
    cr_assert_gt(gmax, 1e-3);
    cr_assert_lt(worst, 1e-5 * gmax, "accumulated and full-batch gradients differ by %g (max %g)",
                 worst, gmax);
    mmg_trainer_free(ta);
    mmg_trainer_free(tb);
    /* through the public API: an update happens every second call */
    cr_assert_eq(mmg_trainer_create(b, &o, &tb), MMG_OK);
    for (int step = 0; step < 3; step++) {
        cr_assert_eq(mmg_trainer_step(tb, &h1.b, NULL), MMG_OK);
        cr_assert_eq(mmg_trainer_steps_done(tb), step, "no update after the first half");
        cr_assert_eq(mmg_trainer_step(tb, &h2.b, NULL), MMG_OK);
        cr_assert_eq(mmg_trainer_steps_done(tb), step + 1);
    }
    mmg_trainer_free(tb);
    mmg_model_free(a);
    mmg_model_free(b);
}

Test(train, results_do_not_depend_on_the_thread_count) {
    mmg_model *a = tiny_model(1, 7), *b = tiny_model(1, 7);
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.n_threads = 1;
    mmg_trainer *ta, *tb;
    cr_assert_eq(mmg_trainer_create(a, &o, &ta), MMG_OK);
    o.n_threads = 3;
    cr_assert_eq(mmg_trainer_create(b, &o, &tb), MMG_OK);
    int32_t src[3 * 9], slen[3] = {9, 4, 7};
    for (int i = 0; i < 27; i++) src[i] = (i * 5) % 13;
    for (int step = 0; step < 3; step++) {
        pbatch p;
        periodic_batch(&p, 3, 11, step);
        p.b.src = src;
        p.b.src_len = slen;
        p.b.src_len_max = 9;
        float la, lb;
        cr_assert_eq(mmg_trainer_step(ta, &p.b, &la), MMG_OK, "%s", mmg_last_error());
        cr_assert_eq(mmg_trainer_step(tb, &p.b, &lb), MMG_OK);
        cr_assert_eq(memcmp(&la, &lb, sizeof la), 0, "loss differs at step %d", step);
    }
    cr_assert_eq(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0,
                 "weights differ between 1 and 3 threads");
    mmg_trainer_free(ta);
    mmg_trainer_free(tb);
    mmg_model_free(a);
    mmg_model_free(b);
}

Test(train, evaluate_reports_loss_perplexity_and_bits_per_byte) {
    mmg_model *m = tiny_model(0, 8);
    mmg_trainer *t;
    cr_assert_eq(mmg_trainer_create(m, NULL, &t), MMG_OK);
    int32_t tok[200];
    for (int i = 0; i < 200; i++) tok[i] = (i * 7) % 13;
    mmg_dataset *ds;
    cr_assert_eq(mmg_dataset_from_tokens(tok, 200, &ds), MMG_OK);
    mmg_loader_options lo;
    mmg_loader_options_init(&lo, sizeof lo);
    lo.batch_size = 4;
    lo.seq_len = 16;
    lo.shuffle = 0;
    mmg_loader *l;
    cr_assert_eq(mmg_loader_create_packed(ds, &lo, &l), MMG_OK);
    float *before = malloc(m->n_params * sizeof(float));
    memcpy(before, m->params, m->n_params * sizeof(float));
    double loss, ppl, bpb;
    cr_assert_eq(mmg_trainer_evaluate(t, l, 0, 2.0, &loss, &ppl, &bpb), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(memcmp(before, m->params, m->n_params * sizeof(float)), 0, "evaluation changed weights");
    cr_assert_float_eq(ppl, exp(loss), 1e-9 * ppl);
    cr_assert_float_eq(bpb, loss / (log(2.0) * 2.0), 1e-12);
    /* the same number by hand: sum of every batch's loss * labels / labels */
    mmg_loader_reset(l);
    double sum = 0.0;
    size_t count = 0;
    for (;;) {
        const mmg_batch *b;
        cr_assert_eq(mmg_loader_next(l, &b), MMG_OK);
        if (!b) break;
        size_t c = 0;
        for (int i = 0; i < b->batch_size * b->tgt_len_max; i++) c += b->labels[i] != -100;
        mmg_trainer *fresh;
        cr_assert_eq(mmg_trainer_create(m, NULL, &fresh), MMG_OK);
        double s;
        size_t k;
        cr_assert_eq(mmg__trainer_accumulate(fresh, b, &s, &k), MMG_OK);
        cr_assert_eq(k, c);
        sum += s;
        count += k;
        mmg_trainer_free(fresh);
    }
    cr_assert_eq(count, 199, "every label of the split counts once");
    cr_assert_float_eq(loss, sum / (double)count, 1e-9);
    /* a shuffling loader needs a batch count */
    mmg_loader *r;
    lo.shuffle = 1;
    cr_assert_eq(mmg_loader_create_packed(ds, &lo, &r), MMG_OK);
    cr_assert_eq(mmg_trainer_evaluate(t, r, 0, 1.0, &loss, NULL, NULL), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_trainer_evaluate(t, r, 3, 1.0, &loss, NULL, NULL), MMG_OK);
    free(before);
    mmg_loader_free(r);
    mmg_loader_free(l);
    mmg_dataset_free(ds);
    mmg_trainer_free(t);
    mmg_model_free(m);
}

Test(train, a_batch_with_no_counted_label_gives_nan_loss_and_no_gradient) {
    mmg_model *m = tiny_model(0, 9);
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.weight_decay = 0.0f;
    mmg_trainer *t;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_OK);
    pbatch p;
    periodic_batch(&p, 2, 4, 0);
    for (int i = 0; i < 8; i++) p.lab[i] = -100;
    float *before = malloc(m->n_params * sizeof(float));
    memcpy(before, m->params, m->n_params * sizeof(float));
    float loss = 0.0f;
    cr_assert_eq(mmg_trainer_step(t, &p.b, &loss), MMG_OK);
    cr_assert(isnan(loss));
    cr_assert_eq(memcmp(before, m->params, m->n_params * sizeof(float)), 0,
                 "zero gradients and no decay leave the weights as they were");
    free(before);
    mmg_trainer_free(t);
    mmg_model_free(m);
}

/* Every allocation of trainer creation, a step (activations, workspace,
 * logits, dropout masks) and a save fails in turn: each failure is NOMEM with
 * nothing leaked or half-built (the sanitizer build checks the leaks). */
Test(train, each_failed_allocation_is_a_clean_nomem) {
    mmg_model *m = tiny_model(1, 10);
    int32_t src[2 * 5] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, slen[2] = {5, 3};
    pbatch p;
    periodic_batch(&p, 2, 6, 0);
    p.b.src = src;
    p.b.src_len = slen;
    p.b.src_len_max = 5;
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.dropout = 0.1f;
    char path[128];
    snprintf(path, sizeof path, "/tmp/mmgen-test-train-fault-%d.safetensors", (int)getpid());
    int completed = 0;
    for (long k = 1; k < 400 && !completed; k++) {
        mmg_trainer *t = NULL;
        mmg__fault_fail_after(k);
        mmg_status s = mmg_trainer_create(m, &o, &t);
        if (!s) s = mmg_trainer_step(t, &p.b, NULL);
        if (!s) s = mmg_trainer_save(t, NULL, path);
        mmg__fault_fail_after(0);
        cr_assert(s == MMG_OK || s == MMG_ERR_NOMEM, "allocation %ld: %s (%s)", k, mmg_status_name(s),
                  mmg_last_error());
        if (s == MMG_OK) completed = 1;
        /* a trainer that failed mid-step still works once memory is back */
        if (t && s == MMG_ERR_NOMEM) cr_assert_eq(mmg_trainer_step(t, &p.b, NULL), MMG_OK, "%s", mmg_last_error());
        mmg_trainer_free(t);
    }
    cr_assert(completed, "never completed within the allocation budget");
    remove(path);
    mmg_model_free(m);
}
