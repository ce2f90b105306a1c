/* tests/test_train_parallel.c - data-parallel training through
 * mmg_trainer_set_reducer, with the ranks as threads of this process and a
 * reducer made of a barrier and shared slots (no MPI: tests/check_mpi.sh
 * runs the same over Open MPI). Checks that N ranks follow one process on
 * the same global batches, that buckets change nothing, that a differing
 * setup or a failing rank stops every rank with a message, and that a
 * failing collective leaves the weights alone. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/mmgen.h"

#define MAX_RANKS 4
#define STEPS 6

/* ---- a reducer over threads ---------------------------------------------- */

typedef struct group {
    int n;
    pthread_barrier_t bar;
    const void *slot[MAX_RANKS]; /* each rank's buffer during a collective */
    int fail_start_sum_at;       /* > 0: every rank's Nth start_sum fails */
} group;

typedef struct rank_ctx {
    group *g;
    int rank;
    int n_start_sums;
    char err[128];
} rank_ctx;

/* Sums each rank's n values in rank order (the same result on every rank),
 * then writes them back once everyone has read. */
#define SUM_IN_RANK_ORDER(T)                                                  \
    static void sum_##T(rank_ctx *c, T *data, size_t n) {                     \
        group *g = c->g;                                                      \
        g->slot[c->rank] = data;                                              \
        pthread_barrier_wait(&g->bar);                                        \
        T *acc = calloc(n ? n : 1, sizeof *acc);                              \
        for (size_t i = 0; i < n; i++) {                                      \
            T s = 0;                                                          \
            for (int r = 0; r < g->n; r++) s += ((const T *)g->slot[r])[i];   \
            acc[i] = s;                                                       \
        }                                                                     \
        pthread_barrier_wait(&g->bar);                                        \
        memcpy(data, acc, n * sizeof *acc);                                   \
        free(acc);                                                            \
        pthread_barrier_wait(&g->bar);                                        \
    }
SUM_IN_RANK_ORDER(double)
SUM_IN_RANK_ORDER(float)

static mmg_status cb_sum_doubles(void *u, double *v, size_t n) {
    sum_double(u, v, n);
    return MMG_OK;
}

static mmg_status cb_start_sum(void *u, float *v, size_t n) {
    rank_ctx *c = u;
    c->n_start_sums++;
    sum_float(c, v, n);
    if (c->g->fail_start_sum_at == c->n_start_sums) { /* as a timeout seen by every rank */
        snprintf(c->err, sizeof c->err, "no answer from rank 0 within 0.1 s");
        return MMG_ERR_IO;
    }
    return MMG_OK;
}

static mmg_status cb_finish(void *u) {
    (void)u;
    return MMG_OK;
}

static mmg_status cb_broadcast(void *u, void *data, size_t bytes) {
    rank_ctx *c = u;
    group *g = c->g;
    if (c->rank == 0) g->slot[0] = data;
    pthread_barrier_wait(&g->bar);
    if (c->rank != 0) memcpy(data, g->slot[0], bytes);
    pthread_barrier_wait(&g->bar);
    return MMG_OK;
}

static const char *cb_error(void *u) { return ((rank_ctx *)u)->err; }

static mmg_grad_reducer reducer_for(rank_ctx *c, size_t bucket_bytes) {
    mmg_grad_reducer r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.rank = c->rank;
    r.n_ranks = c->g->n;
    r.user = c;
    r.sum_doubles = cb_sum_doubles;
    r.start_sum = cb_start_sum;
    r.finish_sums = cb_finish;
    r.broadcast = cb_broadcast;
    r.error_message = cb_error;
    r.bucket_bytes = bucket_bytes;
    return r;
}

/* ---- models, batches, runs ------------------------------------------------ */

static mmg_model *tiny_model(int enc, uint64_t seed) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = 13;
    c.d_model = 16;
    c.n_heads = 2;
    c.n_encoder_layers = enc;
    c.n_decoder_layers = 3;
    c.d_ff = 32;
    c.max_seq_len = 16;
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = seed;
    o.init_std = 0.1f;
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_OK, "%s", mmg_last_error());
    return m;
}

#define B 8
#define T 12

/* Global batch number k: pseudo-random tokens; with enc, a source and
 * targets of different lengths (padding masked and ignored). */
typedef struct gbatch {
    mmg_batch b;
    int32_t src[B * T], src_len[B], tgt[B * T], tgt_len[B], lab[B * T];
} gbatch;

static void make_batch(gbatch *g, int k, int enc) {
    uint32_t x = 2463534242u + (uint32_t)k * 7919u;
    memset(g, 0, sizeof *g);
    for (int i = 0; i < B * T; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        g->tgt[i] = (int32_t)(x % 11);
        g->src[i] = (int32_t)((x >> 8) % 13);
    }
    for (int r = 0; r < B; r++) {
        g->tgt_len[r] = enc ? T - (r * 5 + k) % 6 : T;
        g->src_len[r] = T - (r * 3 + k) % 7;
        for (int t = 0; t < T; t++)
            g->lab[r * T + t] = t < g->tgt_len[r] - 1 ? g->tgt[r * T + t + 1] : -100;
    }
    g->b.struct_size = sizeof g->b;
    g->b.batch_size = B;
    g->b.tgt_len_max = T;
    g->b.tgt = g->tgt;
    g->b.labels = g->lab;
    if (enc) {
        g->b.src = g->src;
        g->b.src_len = g->src_len;
        g->b.src_len_max = T;
        g->b.tgt_len = g->tgt_len;
    }
}

typedef struct run {
    int enc, accum, n_ranks;
    size_t bucket_bytes;
    float lr;                  /* 0: 3e-3 */
    uint64_t seed;             /* model init */
    int tight_memory;          /* rank 1 cannot allocate activations */
    int fail_start_sum_at;
    /* results */
    float loss[STEPS];
    float *params;             /* this rank's weights at the end (malloc) */
    float *grad0;              /* the gradient the first update applied (malloc) */
    size_t n_params;
    mmg_status set_status, step_status;
    char set_error[512], step_error[512];
    int n_start_sums;
} run;

typedef struct rank_arg {
    run *r;
    rank_ctx ctx;
    run out; /* this rank's results */
} rank_arg;

static void *train_rank(void *p) {
    rank_arg *a = p;
    run *r = &a->out;
    *r = *a->r;
    mmg_model *m = tiny_model(r->enc, r->seed + (uint64_t)a->ctx.rank * 101); /* rank 0's wins */
    size_t total = 0, np = mmg_model_param_count(m);
    for (size_t i = 0; i < np; i++) {
        mmg_param_info info = {.struct_size = sizeof info};
        mmg_model_param_info(m, i, &info);
        total += (size_t)info.n_elements;
    }
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.learning_rate = r->lr > 0 ? r->lr : 3e-3f;
    o.grad_accum_steps = r->accum;
    o.n_threads = 1;
    /* weights, gradients, moments and a little: no room for activations */
    if (a->ctx.rank == 1 && r->tight_memory) o.memory_limit = 16 * total + 1024;
    mmg_trainer *t = NULL;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_OK, "%s", mmg_last_error());
    if (r->n_ranks > 0) {
        mmg_grad_reducer red = reducer_for(&a->ctx, r->bucket_bytes);
        r->set_status = mmg_trainer_set_reducer(t, &red);
        snprintf(r->set_error, sizeof r->set_error, "%s", mmg_last_error());
    }
    for (int s = 0; !r->set_status && s < STEPS; s++) {
        float sum = 0;
        for (int k = 0; k < r->accum; k++) {
            gbatch g;
            make_batch(&g, s * r->accum + k, r->enc);
            mmg_batch bb = g.b;
            /* one process with accumulation: batch k of the window is its own rows */
            float loss;
            r->step_status = mmg_trainer_step(t, &bb, &loss);
            if (r->step_status) {
                snprintf(r->step_error, sizeof r->step_error, "%s", mmg_last_error());
                break;
            }
            sum += loss / (float)r->accum;
        }
        if (r->step_status) break;
        r->loss[s] = sum;
        if (s == 0) {
            r->grad0 = malloc(total * sizeof(float));
            size_t off = 0;
            for (size_t i = 0; i < np; i++) {
                mmg_param_info info = {.struct_size = sizeof info};
                mmg_model_param_info(m, i, &info);
                cr_assert_eq(mmg_trainer_read_grad(t, info.name, r->grad0 + off, (size_t)info.n_elements),
                             MMG_OK);
                off += (size_t)info.n_elements;
            }
        }
    }
    r->params = malloc(total * sizeof(float));
    r->n_params = total;
    size_t off = 0;
    for (size_t i = 0; i < np; i++) {
        mmg_param_info info = {.struct_size = sizeof info};
        mmg_model_param_info(m, i, &info);
        cr_assert_eq(mmg_model_read_param(m, info.name, r->params + off, (size_t)info.n_elements), MMG_OK);
        off += (size_t)info.n_elements;
    }
    r->n_start_sums = a->ctx.n_start_sums;
    mmg_trainer_free(t);
    mmg_model_free(m);
    return NULL;
}

/* Runs r with r->n_ranks threads (0: one plain trainer); out[i] gets rank i's
 * results. */
static void run_ranks(run *r, run *out) {
    int n = r->n_ranks > 0 ? r->n_ranks : 1;
    group g;
    memset(&g, 0, sizeof g);
    g.n = n;
    g.fail_start_sum_at = r->fail_start_sum_at;
    pthread_barrier_init(&g.bar, NULL, (unsigned)n);
    rank_arg args[MAX_RANKS];
    pthread_t th[MAX_RANKS];
    for (int i = 0; i < n; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].r = r;
        args[i].ctx.g = &g;
        args[i].ctx.rank = i;
        pthread_create(&th[i], NULL, train_rank, &args[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        out[i] = args[i].out;
    }
    pthread_barrier_destroy(&g.bar);
}

static void free_runs(run *out, int n) {
    for (int i = 0; i < n; i++) free(out[i].params), free(out[i].grad0);
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double x = fabs((double)a[i] - (double)b[i]);
        if (x > d) d = x;
    }
    return d;
}

/* The first update's gradients agree to float summation order (relative to
 * the largest); the weights after STEPS updates to well under one step of
 * the learning rate (AdamW divides by sqrt(v), so a near-zero gradient's
 * rounding can move a weight by up to lr: weights are not bit-equal). */
static void check_close(const run *par, const run *one, int n_ranks) {
    double gmax = 0;
    for (size_t i = 0; i < one->n_params; i++)
        if (fabs(one->grad0[i]) > gmax) gmax = fabs(one->grad0[i]);
    double dg = max_abs_diff(par->grad0, one->grad0, one->n_params);
    cr_assert(dg <= 1e-5 * gmax, "%d ranks' first gradient is %.3g from one process's (max |g| %.3g)",
              n_ranks, dg, gmax);
    double dw = max_abs_diff(par->params, one->params, one->n_params);
    cr_assert(dw < 1e-3, "%d ranks end %.3g from one process's weights", n_ranks, dw);
    fprintf(stderr, "%d ranks vs one process: first gradient %.3g (max |g| %.3g), weights %.3g\n",
            n_ranks, dg, gmax, dw);
}

/* N ranks on global batches of 8 against one trainer on the same batches.
 * The ranks start from different weights (seed + 101 * rank): they end equal
 * to each other and to the one process started from rank 0's. */
static void check_follows_one_process(int enc, int n_ranks, size_t bucket_bytes) {
    run one = {.enc = enc, .accum = 1}, par = one;
    par.n_ranks = n_ranks;
    par.bucket_bytes = bucket_bytes;
    run r1[1], rn[MAX_RANKS];
    run_ranks(&one, r1);
    run_ranks(&par, rn);
    for (int i = 0; i < n_ranks; i++) {
        cr_assert_eq(rn[i].set_status, MMG_OK, "%s", rn[i].set_error);
        cr_assert_eq(rn[i].step_status, MMG_OK, "%s", rn[i].step_error);
        /* every rank ends with the same weights, bit for bit */
        cr_assert_eq(memcmp(rn[i].params, rn[0].params, rn[0].n_params * sizeof(float)), 0,
                     "rank %d's weights differ from rank 0's", i);
        for (int s = 0; s < STEPS; s++) cr_assert_eq(rn[i].loss[s], rn[0].loss[s]);
    }
    for (int s = 0; s < STEPS; s++)
        cr_assert(fabsf(rn[0].loss[s] - r1[0].loss[s]) <= 1e-5f * fabsf(r1[0].loss[s]),
                  "step %d: %d ranks loss %.9g, one process %.9g", s, n_ranks, (double)rn[0].loss[s],
                  (double)r1[0].loss[s]);
    cr_assert(r1[0].loss[STEPS - 1] < r1[0].loss[0], "the run did not learn");
    check_close(&rn[0], &r1[0], n_ranks);
    free_runs(r1, 1);
    free_runs(rn, n_ranks);
}

Test(train_parallel, two_ranks_follow_one_process_decoder_only) {
    check_follows_one_process(0, 2, 0);
}

Test(train_parallel, three_ranks_split_a_batch_of_8_unevenly) {
    check_follows_one_process(0, 3, 0);
}

Test(train_parallel, encoder_decoder_with_padding_follows_one_process) {
    check_follows_one_process(2, 2, 0);
    check_follows_one_process(2, 4, 0);
}

Test(train_parallel, buckets_change_nothing_and_start_per_layer) {
    /* bucket_bytes 1: a bucket per layer (3 decoder layers + embeddings);
     * SIZE_MAX: one sum after the backward. Sums are element-wise, so the
     * weights must agree bit for bit. */
    run a = {.n_ranks = 2, .accum = 1, .bucket_bytes = 1}, b = a;
    b.bucket_bytes = SIZE_MAX;
    run ra[2], rb[2];
    run_ranks(&a, ra);
    run_ranks(&b, rb);
    cr_assert_eq(ra[0].step_status, MMG_OK, "%s", ra[0].step_error);
    cr_assert_eq(rb[0].step_status, MMG_OK, "%s", rb[0].step_error);
    cr_assert_eq(memcmp(ra[0].params, rb[0].params, ra[0].n_params * sizeof(float)), 0);
    cr_assert_eq(ra[0].n_start_sums, STEPS * 4, "%d start_sum calls", ra[0].n_start_sums);
    cr_assert_eq(rb[0].n_start_sums, STEPS * 1, "%d start_sum calls", rb[0].n_start_sums);
    free_runs(ra, 2);
    free_runs(rb, 2);
}

Test(train_parallel, accumulation_with_ranks_follows_one_process) {
    run one = {.accum = 2}, par = {.accum = 2, .n_ranks = 2};
    run r1[1], rn[2];
    run_ranks(&one, r1);
    run_ranks(&par, rn);
    cr_assert_eq(rn[0].step_status, MMG_OK, "%s", rn[0].step_error);
    cr_assert_eq(memcmp(rn[0].params, rn[1].params, rn[0].n_params * sizeof(float)), 0);
    check_close(&rn[0], &r1[0], 2);
    free_runs(r1, 1);
    free_runs(rn, 2);
}

Test(train_parallel, a_differing_option_stops_every_rank_and_is_named) {
    run par = {.n_ranks = 2, .accum = 1};
    run rn[2];
    rank_arg args[2];
    group g;
    memset(&g, 0, sizeof g);
    g.n = 2;
    pthread_barrier_init(&g.bar, NULL, 2);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].r = &par;
        args[i].ctx.g = &g;
        args[i].ctx.rank = i;
    }
    run par1 = par;
    par1.lr = 5e-3f;
    args[1].r = &par1;
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, train_rank, &args[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL), rn[i] = args[i].out;
    pthread_barrier_destroy(&g.bar);
    cr_assert_eq(rn[0].set_status, MMG_ERR_CONFIG);
    cr_assert_eq(rn[1].set_status, MMG_ERR_CONFIG);
    cr_assert(strstr(rn[1].set_error, "learning_rate is 0.005") &&
                  strstr(rn[1].set_error, "rank 0's is 0.003"),
              "%s", rn[1].set_error);
    cr_assert(strstr(rn[0].set_error, "1 of 2 ranks differ"), "%s", rn[0].set_error);
    free_runs(rn, 2);
}

Test(train_parallel, a_rank_that_fails_stops_every_rank_with_weights_unchanged) {
    /* rank 1 may not allocate its activations: it fails in its forward; rank
     * 0 learns of it before any gradient is summed */
    run par = {.n_ranks = 2, .accum = 1, .tight_memory = 1};
    run rn[2];
    run_ranks(&par, rn);
    cr_assert_eq(rn[1].step_status, MMG_ERR_LIMIT, "%s", rn[1].step_error);
    cr_assert_eq(rn[0].step_status, MMG_ERR_STATE, "%s", rn[0].step_error);
    cr_assert(strstr(rn[0].step_error, "1 other rank"), "%s", rn[0].step_error);
    cr_assert(strstr(rn[1].step_error, "memory limit"), "%s", rn[1].step_error);
    /* no update happened: both still hold rank 0's initial weights */
    mmg_model *m = tiny_model(0, 0);
    size_t off = 0, np = mmg_model_param_count(m);
    for (size_t i = 0; i < np; i++) {
        mmg_param_info info = {.struct_size = sizeof info};
        mmg_model_param_info(m, i, &info);
        float *w = malloc((size_t)info.n_elements * sizeof *w);
        mmg_model_read_param(m, info.name, w, (size_t)info.n_elements);
        cr_assert_eq(memcmp(w, rn[0].params + off, (size_t)info.n_elements * sizeof *w), 0, "%s", info.name);
        cr_assert_eq(memcmp(w, rn[1].params + off, (size_t)info.n_elements * sizeof *w), 0, "%s", info.name);
        off += (size_t)info.n_elements;
        free(w);
    }
    mmg_model_free(m);
    free_runs(rn, 2);
}

Test(train_parallel, a_failing_collective_is_reported_with_its_message) {
    run par = {.n_ranks = 2, .accum = 1, .bucket_bytes = 1, .fail_start_sum_at = 3};
    run rn[2];
    run_ranks(&par, rn);
    cr_assert_eq(rn[1].step_status, MMG_ERR_IO, "%s", rn[1].step_error);
    cr_assert(strstr(rn[1].step_error, "summing gradients across ranks: no answer from rank 0"),
              "%s", rn[1].step_error);
    cr_assert(strstr(rn[1].step_error, "no update applied"), "%s", rn[1].step_error);
    free_runs(rn, 2);
}

Test(train_parallel, joining_mid_window_is_refused) {
    mmg_model *m = tiny_model(0, 1);
    mmg_train_options o;
    mmg_train_options_init(&o, sizeof o);
    o.grad_accum_steps = 2;
    mmg_trainer *t = NULL;
    cr_assert_eq(mmg_trainer_create(m, &o, &t), MMG_OK);
    gbatch g;
    make_batch(&g, 0, 0);
    cr_assert_eq(mmg_trainer_step(t, &g.b, NULL), MMG_OK); /* 1 of 2 accumulation steps */
    group grp;
    memset(&grp, 0, sizeof grp);
    grp.n = 1;
    pthread_barrier_init(&grp.bar, NULL, 1);
    rank_ctx c = {.g = &grp, .rank = 0};
    mmg_grad_reducer r = reducer_for(&c, 0);
    cr_assert_eq(mmg_trainer_set_reducer(t, &r), MMG_ERR_STATE);
    cr_assert(strstr(mmg_last_error(), "1 of 2 steps"), "%s", mmg_last_error());
    cr_assert_eq(mmg_trainer_step(t, &g.b, NULL), MMG_OK); /* the window completes alone */
    cr_assert_eq(mmg_trainer_set_reducer(t, &r), MMG_OK);
    pthread_barrier_destroy(&grp.bar);
    mmg_trainer_free(t);
    mmg_model_free(m);
}

Test(train_parallel, bad_reducers_are_refused) {
    mmg_model *m = tiny_model(0, 1);
    mmg_trainer *t = NULL;
    cr_assert_eq(mmg_trainer_create(m, NULL, &t), MMG_OK);
    group g = {.n = 2};
    rank_ctx c = {.g = &g, .rank = 2};
    mmg_grad_reducer r = reducer_for(&c, 0);
    cr_assert_eq(mmg_trainer_set_reducer(t, &r), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "rank 2 of 2"), "%s", mmg_last_error());
    c.rank = 0;
    r = reducer_for(&c, 0);
    r.start_sum = NULL;
    cr_assert_eq(mmg_trainer_set_reducer(t, &r), MMG_ERR_INVALID_ARG);
    r = reducer_for(&c, 0);
    r.struct_size = 16;
    cr_assert_eq(mmg_trainer_set_reducer(t, &r), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "struct_size"), "%s", mmg_last_error());
    cr_assert_eq(mmg_trainer_set_reducer(t, NULL), MMG_OK); /* alone again */
    mmg_trainer_free(t);
    mmg_model_free(m);
}
