/* tests/test_train_dropout.c - dropout in training: its gradient, its seeding,
 * and that the dropout forward is the model's forward when nothing drops. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loss.h"
#include "train_impl.h"
#include "mmgen/mmgen.h"

static mmg_model *model(int enc, int post, uint64_t seed) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = 11;
    c.d_model = 8;
    c.n_heads = 2;
    c.n_encoder_layers = enc;
    c.n_decoder_layers = 2;
    c.d_ff = 12;
    c.max_seq_len = 8;
    c.norm_placement = post ? MMG_NORM_POST : MMG_NORM_PRE;
    c.activation = MMG_ACT_GELU;
    c.position_encoding = MMG_POS_LEARNED;
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = seed;
    o.init_std = 0.3f;
    mmg_model *m;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_OK, "%s", mmg_last_error());
    return m;
}

typedef struct bat {
    mmg_batch b;
    int32_t src[16], slen[2], tgt[16], tlen[2], lab[16];
} bat;

static void make_batch(bat *x, int enc) {
    memset(x, 0, sizeof *x);
    for (int i = 0; i < 12; i++) {
        x->tgt[i] = (i * 5 + 1) % 11;
        x->lab[i] = (i * 7 + 2) % 11;
        x->src[i] = (i * 3 + 4) % 11;
    }
    x->tlen[0] = 6;
    x->tlen[1] = 4;
    x->lab[10] = x->lab[11] = -100;
    x->slen[0] = 5;
    x->slen[1] = 6;
    x->b.struct_size = sizeof x->b;
    x->b.batch_size = 2;
    x->b.tgt_len_max = 6;
    x->b.tgt = x->tgt;
    x->b.tgt_len = x->tlen;
    x->b.labels = x->lab;
    if (enc) {
        x->b.src = x->src;
        x->b.src_len = x->slen;
        x->b.src_len_max = 6;
    }
}

/* mean loss with the trainer's current masks (same seed every call) */
static double loss_with_masks(mmg_trainer *t, const mmg_batch *b) {
    const mmg_model *m = t->model;
    cr_assert_eq(mmg__forward_ex(m, t->acts, t->drop, b->src, b->src_len, b->tgt, b->tgt_len,
                                 b->batch_size, b->src_len_max, b->tgt_len_max, t->logits),
                 MMG_OK, "%s", mmg_last_error());
    size_t n = (size_t)b->batch_size * b->tgt_len_max, count;
    double sum;
    cr_assert_eq(mmg__ce_count(b->labels, n, m->cfg.vocab_size, -100, &count), MMG_OK);
    cr_assert_eq(mmg__ce_forward_backward(t->logits, b->labels, n, m->cfg.vocab_size, -100, 0.0f, 0,
                                          0.0f, &sum), MMG_OK);
    return sum / (double)count;
}

static void fd_through_dropout(int enc, int post) {
    mmg_model *m = model(enc, post, 5);
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.dropout = 0.3f;
    o.seed = 9;
    mmg_trainer *t;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_OK, "%s", mmg_last_error());
    bat x;
    make_batch(&x, enc);
    double s;
    size_t k;
    cr_assert_eq(mmg__trainer_accumulate(t, &x.b, &s, &k), MMG_OK, "%s", mmg_last_error());
    cr_assert(t->drop_active);
    /* some of every mask dropped */
    size_t zeros = 0;
    for (size_t i = 0; i < t->drop->mask_bytes; i++) zeros += t->drop->mem[i] == 0;
    cr_assert_gt(zeros, 0);
    cr_assert_float_eq(loss_with_masks(t, &x.b), s / (double)k, 1e-6, "same seed, same loss");
    double worst = 0.0;
    for (int i = 0; i < m->n_tensors; i++) {
        mmg__param *p = &m->tensors[i];
        const float *g = t->grads + p->offset;
        double gmax = 0.0;
        size_t jmax = 0;
        for (size_t j = 0; j < p->numel; j++)
            if (fabs(g[j]) > gmax) gmax = fabs(g[j]), jmax = j;
        size_t pick[3] = {jmax, p->numel / 2, p->numel - 1};
        for (int q = 0; q < 3; q++) {
            size_t j = pick[q];
            const float h = 2e-3f;
            float save = p->data[j];
            p->data[j] = save + h;
            double lp = loss_with_masks(t, &x.b);
            p->data[j] = save - h;
            double lm = loss_with_masks(t, &x.b);
            p->data[j] = save;
            double fd = (lp - lm) / (2.0 * h), err = fabs(fd - g[j]) / fmax(gmax, 1e-2);
            if (err > worst) worst = err;
            cr_expect_leq(err, 2e-2, "%s[%zu]: finite difference %.6g, backward %.6g", p->name, j, fd,
                          (double)g[j]);
        }
    }
    cr_log_info("dropout (enc %d, post %d): worst error %.3g of max", enc, post, worst);
    mmg_trainer_free(t);
    mmg_model_free(m);
}

Test(train_dropout, gradient_through_dropout_decoder_only) { fd_through_dropout(0, 0); }
Test(train_dropout, gradient_through_dropout_encoder_decoder) { fd_through_dropout(1, 1); }

Test(train_dropout, without_dropping_it_is_the_models_forward) {
    for (int enc = 0; enc <= 1; enc++) {
        mmg_model *m = model(enc, enc, 6);
        mmg_train_options o;
        mmg_train_options_init(&o, sizeof o);
        o.dropout = 0.5f; /* allocates masks; p is then set to 0 below */
        mmg_trainer *t;
        cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_OK);
        bat x;
        make_batch(&x, enc);
        double s;
        size_t k;
        cr_assert_eq(mmg__trainer_accumulate(t, &x.b, &s, &k), MMG_OK);
        size_t nl = (size_t)2 * 6 * 11;
        float *ref = malloc(nl * sizeof(float));
        cr_assert_eq(mmg__forward(m, t->acts, x.b.src, x.b.src_len, x.b.tgt, x.b.tgt_len, 2,
                                  x.b.src_len_max, 6, ref), MMG_OK);
        t->drop->p = 0.0f;
        cr_assert_eq(mmg__forward_ex(m, t->acts, t->drop, x.b.src, x.b.src_len, x.b.tgt,
                                     x.b.tgt_len, 2, x.b.src_len_max, 6, t->logits), MMG_OK);
        double worst = 0.0, mx = 0.0;
        for (size_t i = 0; i < nl; i++) {
            worst = fmax(worst, fabs((double)ref[i] - t->logits[i]));
            mx = fmax(mx, fabs(ref[i]));
        }
        cr_assert_leq(worst, 1e-5 * mx, "enc %d: logits differ by %g (max %g)", enc, worst, mx);
        free(ref);
        mmg_trainer_free(t);
        mmg_model_free(m);
    }
}

Test(train_dropout, seeded_deterministic_and_off_in_evaluation) {
    float la[4], lb[4], lc[4], l0[4];
    mmg_model *ma = model(0, 0, 7), *mb = model(0, 0, 7), *mc = model(0, 0, 7), *m0 = model(0, 0, 7);
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.dropout = 0.2f;
    o.seed = 1;
    mmg_trainer *ta, *tb, *tc, *t0;
    cr_assert_eq(mmg_trainer_create(ma, &o, &ta), MMG_OK);
    cr_assert_eq(mmg_trainer_create(mb, &o, &tb), MMG_OK);
    o.seed = 2;
    cr_assert_eq(mmg_trainer_create(mc, &o, &tc), MMG_OK);
    o.dropout = 0.0f;
    cr_assert_eq(mmg_trainer_create(m0, &o, &t0), MMG_OK);
    bat x;
    make_batch(&x, 0);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(mmg_trainer_step(ta, &x.b, &la[i]), MMG_OK);
        cr_assert_eq(mmg_trainer_step(tb, &x.b, &lb[i]), MMG_OK);
        cr_assert_eq(mmg_trainer_step(tc, &x.b, &lc[i]), MMG_OK);
        cr_assert_eq(mmg_trainer_step(t0, &x.b, &l0[i]), MMG_OK);
    }
    cr_assert_eq(memcmp(la, lb, sizeof la), 0, "same seed, same run");
    cr_assert_eq(memcmp(ma->params, mb->params, ma->n_params * sizeof(float)), 0);
    cr_assert_neq(memcmp(la, lc, sizeof la), 0, "another seed, other masks");
    cr_assert_neq(la[0], l0[0], "dropout changes the training loss");
    /* evaluation never drops: a dropout trainer and a plain one agree on the same weights */
    memcpy(m0->params, ma->params, ma->n_params * sizeof(float));
    int32_t tok[40];
    for (int i = 0; i < 40; i++) tok[i] = (i * 3) % 11;
    mmg_dataset *ds;
    cr_assert_eq(mmg_dataset_from_tokens(tok, 40, &ds), MMG_OK);
    mmg_loader_options lo;
    mmg_loader_options_init(&lo, sizeof lo);
    lo.batch_size = 2;
    lo.seq_len = 6;
    lo.shuffle = 0;
    mmg_loader *l1, *l2;
    cr_assert_eq(mmg_loader_create_packed(ds, &lo, &l1), MMG_OK);
    cr_assert_eq(mmg_loader_create_packed(ds, &lo, &l2), MMG_OK);
    double e1, e2;
    cr_assert_eq(mmg_trainer_evaluate(ta, l1, 0, 1.0, &e1, NULL, NULL), MMG_OK);
    cr_assert_eq(mmg_trainer_evaluate(t0, l2, 0, 1.0, &e2, NULL, NULL), MMG_OK);
    cr_assert_eq(e1, e2);
    mmg_loader_free(l1);
    mmg_loader_free(l2);
    mmg_dataset_free(ds);
    mmg_trainer_free(ta);
    mmg_trainer_free(tb);
    mmg_trainer_free(tc);
    mmg_trainer_free(t0);
    mmg_model_free(ma);
    mmg_model_free(mb);
    mmg_model_free(mc);
    mmg_model_free(m0);
}

Test(train_dropout, resume_with_dropout_is_bit_identical) {
    char p[128];
    snprintf(p, sizeof p, "/tmp/mmgen-test-dropout-%d.safetensors", (int)getpid());
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.dropout = 0.25f;
    o.seed = 3;
    bat x;
    make_batch(&x, 1);
    mmg_model *a = model(1, 0, 8), *b = model(1, 0, 8), *c = model(1, 0, 99);
    mmg_trainer *ta, *tb, *tc;
    cr_assert_eq(mmg_trainer_create(a, &o, &ta), MMG_OK);
    cr_assert_eq(mmg_trainer_create(b, &o, &tb), MMG_OK);
    cr_assert_eq(mmg_trainer_create(c, &o, &tc), MMG_OK);
    float la[6], lb[6];
    for (int i = 0; i < 6; i++) cr_assert_eq(mmg_trainer_step(ta, &x.b, &la[i]), MMG_OK);
    for (int i = 0; i < 3; i++) cr_assert_eq(mmg_trainer_step(tb, &x.b, &lb[i]), MMG_OK);
    cr_assert_eq(mmg_trainer_save(tb, NULL, p), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_trainer_load(tc, NULL, p), MMG_OK, "%s", mmg_last_error());
    for (int i = 3; i < 6; i++) cr_assert_eq(mmg_trainer_step(tc, &x.b, &lb[i]), MMG_OK);
    cr_assert_eq(memcmp(la, lb, sizeof la), 0);
    cr_assert_eq(memcmp(a->params, c->params, a->n_params * sizeof(float)), 0);
    remove(p);
    mmg_trainer_free(ta);
    mmg_trainer_free(tb);
    mmg_trainer_free(tc);
    mmg_model_free(a);
    mmg_model_free(b);
    mmg_model_free(c);
}
