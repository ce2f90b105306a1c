/* core/train_parallel.c - data-parallel training: each rank's share of a
 * global batch, and gradients summed across ranks through the caller's
 * collectives (mmg_grad_reducer, mmgen/train.h).
 *
 * One step on every rank:
 *   check the whole batch (every rank holds the same one, so every rank
 *   fails the same way) -> forward + loss on rows [B*r/n, B*(r+1)/n),
 *   scaled by the whole batch's label count -> sum {loss, failure flags}
 *   across ranks (so a rank that failed stops every rank before any
 *   gradient sum starts) -> backward; at the last micro-step of a window
 *   each bucket of finished gradients starts summing as soon as the
 *   backward has passed it -> wait for the sums -> the same clip and AdamW
 *   update as one process.
 * Buckets are fixed when the reducer is set (layer boundaries, gathered to
 * bucket_bytes), so every rank starts the same sums in the same order even
 * when its share of a batch is empty. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "memory.h"
#include "train_impl.h"

#define DEFAULT_BUCKET_BYTES ((size_t)4 << 20)

/* What every rank must share with rank 0, compared field by field. */
typedef struct rank_setup {
    mmg_model_config cfg;
    uint64_t n_params;
    mmg_train_options o; /* n_threads and memory_limit are per rank: zeroed */
} rank_setup;

/* The state rank 0 hands to every rank besides the weights and moments. */
typedef struct rank_state {
    int64_t adam_t;
    uint64_t rng[4];
    float last_grad_norm;
} rank_state;

static mmg_status reducer_error(const mmg_trainer *t, mmg_status s, const char *what) {
    const char *msg = t->red.error_message ? t->red.error_message(t->red.user) : NULL;
    return mmg__error(s ? s : MMG_ERR_IO, "rank %d: %s: %s", (int)t->red.rank, what,
                      msg && *msg ? msg : mmg_status_string(s));
}

static void fill_setup(const mmg_trainer *t, rank_setup *su) {
    memset(su, 0, sizeof *su); /* padding too: rank 0's bytes travel */
    su->cfg = t->model->cfg;
    su->n_params = t->model->n_params;
    su->o = t->o;
    su->o.n_threads = 0;
    su->o.memory_limit = 0;
}

/* Names the first field where this rank differs from rank 0. */
static int setup_differs(int rank, const rank_setup *mine, const rank_setup *r0) {
#define CMP(field, what)                                                                          \
    if (mine->field != r0->field) {                                                               \
        const char *name = strrchr(#field, '.');                                                  \
        mmg__error(MMG_ERR_CONFIG, "rank %d: its %s %s is %g but rank 0's is %g", rank, what,      \
                   name ? name + 1 : #field, (double)mine->field, (double)r0->field);             \
        return 1;                                                                                 \
    }
    CMP(cfg.vocab_size, "model") CMP(cfg.d_model, "model") CMP(cfg.n_heads, "model")
    CMP(cfg.n_encoder_layers, "model") CMP(cfg.n_decoder_layers, "model") CMP(cfg.d_ff, "model")
    CMP(cfg.max_seq_len, "model") CMP(cfg.norm_placement, "model") CMP(cfg.final_norm, "model")
    CMP(cfg.activation, "model") CMP(cfg.position_encoding, "model")
    CMP(cfg.tied_output, "model") CMP(cfg.bias, "model") CMP(cfg.scale_embeddings, "model")
    CMP(cfg.layernorm_eps, "model") CMP(cfg.norm_bias, "model") CMP(n_params, "model")
    CMP(o.learning_rate, "training option") CMP(o.min_learning_rate, "training option")
    CMP(o.warmup_steps, "training option") CMP(o.decay_steps, "training option")
    CMP(o.beta1, "training option") CMP(o.beta2, "training option") CMP(o.eps, "training option")
    CMP(o.weight_decay, "training option") CMP(o.grad_clip, "training option")
    CMP(o.grad_accum_steps, "training option") CMP(o.dropout, "training option")
    CMP(o.label_smoothing, "training option") CMP(o.ignore_index, "training option")
    CMP(o.seed, "training option")
#undef CMP
    return 0;
}

/* Bucket boundaries in the order the backward finishes them: the decoder's
 * layers last to first, then the encoder's, then the embeddings at 0. */
static mmg_status plan_buckets(mmg_trainer *t, size_t bucket_bytes) {
    const mmg_model *m = t->model;
    const int n_dec = m->cfg.n_decoder_layers, n_enc = m->cfg.n_encoder_layers;
    size_t *lo = mmg__malloc(((size_t)n_dec + (size_t)n_enc + 1) * sizeof *lo);
    if (!lo) return mmg__error(MMG_ERR_NOMEM, "mmg_trainer_set_reducer: out of memory");
    const size_t want = bucket_bytes == 0 ? DEFAULT_BUCKET_BYTES / sizeof(float)
                                          : bucket_bytes / sizeof(float);
    size_t hi = m->n_params;
    int n = 0;
    for (int k = 0; k < n_dec + n_enc; k++) {
        const mmg__layer *L = k < n_dec ? &m->dec[n_dec - 1 - k] : &m->enc[n_enc - 1 - (k - n_dec)];
        size_t x = (size_t)(L->sa_ln_w - m->params);
        if (hi - x >= want) lo[n++] = x, hi = x;
    }
    if (hi > 0 || n == 0) lo[n++] = 0;
    mmg__free(t->bucket_lo);
    t->bucket_lo = lo;
    t->n_buckets = n;
    return MMG_OK;
}

static void start_bucket(mmg_trainer *t) {
    const int i = t->buckets_started++;
    if (t->sum_status) return;
    size_t lo = t->bucket_lo[i], hi = i == 0 ? t->model->n_params : t->bucket_lo[i - 1];
    mmg_status s = t->red.start_sum(t->red.user, t->grads + lo, hi - lo);
    if (s) t->sum_status = reducer_error(t, s, "summing gradients across ranks");
}

/* mmg__grad_ready: the backward has finished every gradient from `first` on. */
static void on_ready(void *user, size_t first) {
    mmg_trainer *t = user;
    while (t->buckets_started < t->n_buckets && t->bucket_lo[t->buckets_started] >= first)
        start_bucket(t);
}

void mmg__trainer_reducer_release(mmg_trainer *t) {
    mmg__free(t->bucket_lo);
    t->bucket_lo = NULL;
    t->n_buckets = 0;
    memset(&t->red, 0, sizeof t->red);
}

mmg_status mmg_trainer_set_reducer(mmg_trainer *t, const mmg_grad_reducer *r) {
    if (!t) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_trainer_set_reducer: NULL trainer");
    if (!r) {
        mmg__trainer_reducer_release(t);
        return MMG_OK;
    }
    if (r->struct_size < offsetof(mmg_grad_reducer, bucket_bytes) + sizeof r->bucket_bytes)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_trainer_set_reducer: struct_size is %zu; set it to "
                          "sizeof(mmg_grad_reducer)",
                          r->struct_size);
    if (!r->sum_doubles || !r->start_sum || !r->finish_sums || !r->broadcast)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_trainer_set_reducer: sum_doubles, start_sum, "
                          "finish_sums and broadcast are all required");
    if (r->n_ranks < 1 || r->rank < 0 || r->rank >= r->n_ranks)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_trainer_set_reducer: rank %d of %d ranks; expected 0 <= rank < "
                          "n_ranks",
                          (int)r->rank, (int)r->n_ranks);
    mmg_grad_reducer old = t->red;
    t->red = *r;
    t->red.struct_size = sizeof t->red;
    /* 1. every rank compares its setup with rank 0's; all learn if any differs */
    rank_setup mine, r0;
    fill_setup(t, &mine);
    r0 = mine;
    mmg_status s = t->red.broadcast(t->red.user, &r0, sizeof r0);
    if (s) s = reducer_error(t, s, "sharing rank 0's model config and options");
    int differs = !s && setup_differs(r->rank, &mine, &r0);
    char own[512] = "";
    if (differs) snprintf(own, sizeof own, "%s", mmg_last_error());
    /* {ranks that differ, ranks with accumulated gradients pending} */
    double flags[2] = {differs, t->micro != 0};
    if (!s) {
        s = t->red.sum_doubles(t->red.user, flags, 2);
        if (s) s = reducer_error(t, s, "comparing the ranks' setups");
    }
    if (!s && flags[1] > 0)
        s = mmg__error(MMG_ERR_STATE,
                       "rank %d: %g of %d ranks have accumulated gradients pending (this one: %d "
                       "of %d steps); join between optimizer updates",
                       (int)r->rank, flags[1], (int)r->n_ranks, t->micro,
                       (int)t->o.grad_accum_steps);
    else if (!s && flags[0] > 0)
        s = differs ? mmg__error(MMG_ERR_CONFIG, "%s", own)
                    : mmg__error(MMG_ERR_CONFIG,
                                 "rank %d: %g of %d ranks differ from rank 0 in their model config "
                                 "or training options (their messages name the field)",
                                 (int)r->rank, flags[0], (int)r->n_ranks);
    /* 2. rank 0's weights, moments and counters everywhere */
    const size_t n = t->model->n_params;
    rank_state st = {t->adam.t, {t->rng.s[0], t->rng.s[1], t->rng.s[2], t->rng.s[3]},
                     t->last_grad_norm};
    void *const parts[4] = {t->model->params, t->adam.m, t->adam.v, &st};
    const size_t sizes[4] = {n * sizeof(float), n * sizeof(float), n * sizeof(float), sizeof st};
    if (!s) s = plan_buckets(t, r->bucket_bytes);
    for (int i = 0; !s && i < 4; i++) {
        s = t->red.broadcast(t->red.user, parts[i], sizes[i]);
        if (s) s = reducer_error(t, s, "copying rank 0's weights and optimizer state");
    }
    if (!s) {
        t->adam.t = st.adam_t;
        memcpy(t->rng.s, st.rng, sizeof st.rng);
        t->last_grad_norm = st.last_grad_norm;
    }
    if (s) {
        mmg__free(t->bucket_lo);
        t->bucket_lo = NULL;
        t->n_buckets = 0;
        t->red = old;
        if (old.n_ranks > 0) (void)plan_buckets(t, old.bucket_bytes);
        return s;
    }
    if (r->n_ranks > 1)
        mmg__log(MMG_LOG_INFO, "trainer: rank %d of %d, %d gradient bucket%s", (int)r->rank,
                 (int)r->n_ranks, t->n_buckets, t->n_buckets == 1 ? "" : "s");
    return MMG_OK;
}

/* This rank's rows of a global batch: [B*r/n, B*(r+1)/n). */
static int shard_of(const mmg_trainer *t, const mmg_batch *b, mmg_batch *out) {
    const int64_t B = b->batch_size, r = t->red.rank, n = t->red.n_ranks;
    const int r0 = (int)(B * r / n), r1 = (int)(B * (r + 1) / n);
    *out = *b;
    out->batch_size = r1 - r0;
    if (b->src) out->src = b->src + (size_t)r0 * (size_t)b->src_len_max;
    if (b->src_len) out->src_len = b->src_len + r0;
    out->tgt = b->tgt + (size_t)r0 * (size_t)b->tgt_len_max;
    if (b->tgt_len) out->tgt_len = b->tgt_len + r0;
    out->labels = b->labels + (size_t)r0 * (size_t)b->tgt_len_max;
    return r1 - r0;
}

/* Sums {loss, numeric failures, other failures} over ranks. After it,
 * every rank knows whether any rank failed this micro-step. */
static mmg_status agree_on_forward(mmg_trainer *t, mmg_status local, double *loss_sum,
                                   const char *what) {
    double v[3] = {*loss_sum, local == MMG_ERR_NUMERIC, local && local != MMG_ERR_NUMERIC};
    char own[512] = "";
    if (local) snprintf(own, sizeof own, "%s", mmg_last_error());
    mmg_status s = t->red.sum_doubles(t->red.user, v, 3);
    if (s) return reducer_error(t, s, "summing the loss across ranks");
    if (local) return mmg__error(local, "rank %d: %s", (int)t->red.rank, own);
    if (v[1] > 0 || v[2] > 0)
        return mmg__error(v[2] > 0 ? MMG_ERR_STATE : MMG_ERR_NUMERIC,
                          "rank %d: %s failed on %g other rank%s (their messages say why)",
                          (int)t->red.rank, what, v[1] + v[2], v[1] + v[2] == 1 ? "" : "s");
    *loss_sum = v[0];
    return MMG_OK;
}

mmg_status mmg__trainer_step_parallel(mmg_trainer *t, const mmg_batch *batch, float *out_loss) {
    size_t count_all = 0;
    mmg_status s = mmg__trainer_check_batch(t, batch, &count_all);
    if (s) return s; /* the same batch on every rank: every rank stops here */
    mmg__trainer_begin_window(t);
    mmg_batch shard;
    const int rows = shard_of(t, batch, &shard);
    double loss_sum = 0.0;
    size_t count = 0;
    mmg_status local = rows > 0 ? mmg__trainer_forward_loss(t, &shard, 1, count_all, &loss_sum, &count)
                                : MMG_OK;
    s = agree_on_forward(t, local, &loss_sum, "the forward pass");
    if (s) return mmg__trainer_stop_step(t);
    const int last = t->micro + 1 >= t->o.grad_accum_steps;
    t->buckets_started = 0;
    t->sum_status = MMG_OK;
    mmg__grad_ready ready = {on_ready, t};
    if (rows > 0 && count > 0) mmg__trainer_backward(t, &shard, last ? &ready : NULL);
    if (last) {
        while (t->buckets_started < t->n_buckets) start_bucket(t);
        s = t->red.finish_sums(t->red.user);
        if (s && !t->sum_status) t->sum_status = reducer_error(t, s, "summing gradients across ranks");
        if (t->sum_status) {
            mmg__trainer_drop_gradients(t);
            return mmg__error_prefix("step %lld (no update applied)", (long long)t->adam.t);
        }
    }
    if (++t->micro >= t->o.grad_accum_steps) {
        s = mmg__trainer_apply_update(t);
        if (s) return s;
    }
    if (out_loss) *out_loss = count_all ? (float)(loss_sum / (double)count_all) : NAN;
    return MMG_OK;
}

mmg_status mmg__trainer_eval_parallel(mmg_trainer *t, const mmg_batch *batch, double *loss_sum,
                                      size_t *count) {
    size_t count_all = 0;
    mmg_status s = mmg__trainer_check_batch(t, batch, &count_all);
    if (s) return s;
    mmg_batch shard;
    size_t mine = 0;
    *loss_sum = 0.0;
    mmg_status local = shard_of(t, batch, &shard) > 0
                           ? mmg__trainer_forward_loss(t, &shard, 0, 0, loss_sum, &mine)
                           : MMG_OK;
    s = agree_on_forward(t, local, loss_sum, "evaluation");
    if (s) return s;
    *count = count_all;
    return MMG_OK;
}
