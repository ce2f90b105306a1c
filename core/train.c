/* core/train.c - the trainer: forward, loss, backward, clipping, AdamW, evaluation.
 *
 * One mmg_trainer_step is llm.c's loop body:
 *   forward (mmg__forward_ex, keeping activations, with the dropout masks of
 *   the step when dropout > 0) -> fused softmax/cross-entropy
 *   writing dlogits over the logits -> backward (train_backward.c) adding into
 *   grads -> every grad_accum_steps calls: clip by global norm, AdamW with the
 *   scheduled learning rate, zero the gradients.
 * Every kernel is thread-count independent and the dropout masks come from the
 * trainer's RNG, so a run (and a resumed run) is bit-reproducible. */
#include "train_impl.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "dataset.h"
#include "error.h"
#include "log.h"
#include "loss.h"
#include "memory.h"
#include "options.h"
#include "threads.h"

static void train_defaults(mmg_train_options *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->learning_rate = 1e-3f;
    o->min_learning_rate = -1.0f;
    o->warmup_steps = 0;
    o->decay_steps = 0;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->weight_decay = 0.01f;
    o->grad_clip = 1.0f;
    o->grad_accum_steps = 1;
    o->dropout = 0.0f;
    o->label_smoothing = 0.0f;
    o->ignore_index = -100;
    o->seed = 0;
    o->memory_limit = 0;
    o->n_threads = 0;
}

void mmg_train_options_init(mmg_train_options *opts, size_t struct_size) {
    mmg_train_options d;
    train_defaults(&d);
    mmg__init_options(opts, struct_size, &d, sizeof d);
}

static mmg_status check_train_options(mmg_train_options *o) {
#define BAD(...) return mmg__error(MMG_ERR_INVALID_ARG, __VA_ARGS__)
    if (!(o->learning_rate > 0.0f) || !isfinite(o->learning_rate))
        BAD("trainer: learning_rate is %g; expected a finite value > 0", (double)o->learning_rate);
    if (o->min_learning_rate < 0.0f) o->min_learning_rate = o->learning_rate / 10.0f;
    if (!isfinite(o->min_learning_rate))
        BAD("trainer: min_learning_rate is %g; expected a finite value >= 0",
            (double)o->min_learning_rate);
    if (o->warmup_steps < 0) BAD("trainer: warmup_steps is %lld; expected >= 0", (long long)o->warmup_steps);
    if (o->decay_steps < 0) BAD("trainer: decay_steps is %lld; expected >= 0", (long long)o->decay_steps);
    if (!(o->beta1 >= 0.0f && o->beta1 < 1.0f)) BAD("trainer: beta1 is %g; expected [0, 1)", (double)o->beta1);
    if (!(o->beta2 >= 0.0f && o->beta2 < 1.0f)) BAD("trainer: beta2 is %g; expected [0, 1)", (double)o->beta2);
    if (!(o->eps > 0.0f) || !isfinite(o->eps)) BAD("trainer: eps is %g; expected > 0", (double)o->eps);
    if (!(o->weight_decay >= 0.0f) || !isfinite(o->weight_decay))
        BAD("trainer: weight_decay is %g; expected a finite value >= 0", (double)o->weight_decay);
    if (!(o->grad_clip >= 0.0f) || !isfinite(o->grad_clip))
        BAD("trainer: grad_clip is %g; expected >= 0 (0 = off)", (double)o->grad_clip);
    if (o->grad_accum_steps < 1)
        BAD("trainer: grad_accum_steps is %d; expected >= 1", (int)o->grad_accum_steps);
    if (!(o->dropout >= 0.0f && o->dropout < 1.0f))
        BAD("trainer: dropout is %g; expected [0, 1)", (double)o->dropout);
    if (!(o->label_smoothing >= 0.0f && o->label_smoothing < 1.0f))
        BAD("trainer: label_smoothing is %g; expected [0, 1)", (double)o->label_smoothing);
    if (o->ignore_index >= 0)
        BAD("trainer: ignore_index is %d; expected a negative value (token ids are >= 0)",
            (int)o->ignore_index);
    if (o->n_threads < 0) BAD("trainer: n_threads is %d; expected >= 0", (int)o->n_threads);
#undef BAD
    return MMG_OK;
}

mmg_status mmg_trainer_create(mmg_model *model, const mmg_train_options *opts, mmg_trainer **out) {
    if (!model || !out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_trainer_create: NULL model or out");
    if (model->quant != MMG__QUANT_NONE) return mmg__model_refuse_quantized(model, "mmg_trainer_create");
    mmg_train_options o;
    train_defaults(&o);
    mmg_status s = mmg__read_options(&o, sizeof o, opts, "mmg_train_options");
    if (!s) s = check_train_options(&o);
    if (s) return s;
    uint64_t limit = o.memory_limit ? o.memory_limit : mmg__physical_memory();
    /* params (already there) + grads + 2 moments */
    double fixed = 4.0 * (double)model->n_params * sizeof(float);
    if (limit && fixed > (double)limit)
        return mmg__error(MMG_ERR_LIMIT,
                          "trainer: %llu parameters need %.0f bytes for weights, gradients and "
                          "AdamW moments, over the memory limit of %llu bytes",
                          (unsigned long long)model->n_params, fixed, (unsigned long long)limit);
    mmg_trainer *t = mmg__calloc(1, sizeof *t);
    if (!t) return mmg__error(MMG_ERR_NOMEM, "trainer: out of memory");
    t->grads = mmg__calloc(model->n_params ? model->n_params : 1, sizeof(float));
    if (!t->grads) {
        mmg__free(t);
        return mmg__error(MMG_ERR_NOMEM, "trainer: cannot allocate gradients for %zu parameters",
                          model->n_params);
    }
    mmg__param_range *ranges = mmg__malloc(((size_t)model->n_tensors + 1) * sizeof *ranges);
    if (!ranges) {
        mmg__free(t->grads);
        mmg__free(t);
        return mmg__error(MMG_ERR_NOMEM, "trainer: out of memory");
    }
    for (int i = 0; i < model->n_tensors; i++) {
        ranges[i].offset = model->tensors[i].offset;
        ranges[i].count = model->tensors[i].numel;
        ranges[i].decay = model->tensors[i].decay;
    }
    s = mmg__adamw_init(&t->adam, model->n_params, ranges, (size_t)model->n_tensors, o.beta1,
                        o.beta2, o.eps, o.weight_decay);
    mmg__free(ranges);
    if (s) {
        mmg__free(t->grads);
        mmg__free(t);
        return s;
    }
    mmg__threads_init();
    t->model = model;
    mmg__model_retain(model);
    t->o = o;
    t->n_threads = mmg__threads_resolve(o.n_threads);
    t->memory_limit = limit;
    t->fixed_bytes = (uint64_t)fixed;
    mmg__rng_seed(&t->rng, o.seed);
    *out = t;
    return MMG_OK;
}

void mmg_trainer_free(mmg_trainer *t) {
    if (!t) return;
    mmg__trainer_reducer_release(t);
    mmg__adamw_release(&t->adam);
    mmg__free(t->grads);
    mmg__activations_free(t->acts);
    mmg__backward_ws_free(t->ws);
    mmg__dropout_free(t->drop);
    mmg__free(t->logits);
    mmg__model_release(t->model);
    mmg__free(t);
}

mmg_status mmg__trainer_reserve(mmg_trainer *t, int B, int Ts, int Tt) {
    const mmg_model *m = t->model;
    if (m->cfg.n_encoder_layers == 0) Ts = 0;
    int need_acts = !t->acts || B > t->acts->B || Ts > t->acts->Ts || Tt > t->acts->Tt;
    int need_ws = !t->ws || B > t->ws->B || Ts > t->ws->Ts || Tt > t->ws->Tt ||
                  t->n_threads > t->ws->n_threads;
    const int use_drop = t->o.dropout > 0.0f;
    int need_drop = use_drop && (!t->drop || B > t->drop->B || Ts > t->drop->Ts || Tt > t->drop->Tt);
    size_t logits_n = (size_t)B * (size_t)Tt * (size_t)m->cfg.vocab_size; /* B, Tt <= INT_MAX, V too */
    int need_logits = logits_n > t->logits_cap;
    if (!need_acts && !need_ws && !need_logits && !need_drop) return MMG_OK;
    /* grow to the maximum of old and new dims so alternating shapes do not thrash */
    if (t->acts) {
        if (t->acts->B > B) B = t->acts->B;
        if (t->acts->Ts > Ts) Ts = t->acts->Ts;
        if (t->acts->Tt > Tt) Tt = t->acts->Tt;
    }
    size_t acts_b = mmg__activations_bytes(m, B, Ts, Tt);
    size_t ws_b = mmg__backward_ws_bytes(m, B, Ts, Tt, t->n_threads);
    double logits_b = (double)B * Tt * m->cfg.vocab_size * sizeof(float);
    double drop_b = use_drop ? (double)mmg__dropout_bytes(m, B, Ts, Tt, t->n_threads) : 0.0;
    double total = (double)t->fixed_bytes + (double)acts_b + (double)ws_b + logits_b + drop_b;
    if (acts_b == 0 || ws_b == 0 || (t->memory_limit && total > (double)t->memory_limit))
        return mmg__error(MMG_ERR_LIMIT,
                          "trainer: a batch of %d x (source %d, target %d) tokens needs %.0f bytes "
                          "(parameters, gradients and moments %llu, activations %zu, backward %zu, "
                          "logits %.0f, dropout masks %.0f), over the memory limit of %llu bytes; "
                          "use a smaller batch or gradient accumulation",
                          B, Ts, Tt, total, (unsigned long long)t->fixed_bytes, acts_b, ws_b,
                          logits_b, drop_b, (unsigned long long)t->memory_limit);
    /* free first so old and new never coexist */
    mmg__activations_free(t->acts);
    t->acts = NULL;
    mmg__backward_ws_free(t->ws);
    t->ws = NULL;
    mmg__free(t->logits);
    t->logits = NULL;
    t->logits_cap = 0;
    mmg__dropout_free(t->drop);
    t->drop = NULL;
    t->drop_active = 0;
    mmg_status s = mmg__activations_create(m, B, Ts ? Ts : 0, Tt, 0, &t->acts);
    if (!s) s = mmg__backward_ws_create(m, B, Ts, Tt, t->n_threads, 0, &t->ws);
    if (!s && use_drop) s = mmg__dropout_create(m, t->o.dropout, B, Ts, Tt, t->n_threads, &t->drop);
    if (!s) {
        size_t n = (size_t)B * (size_t)Tt * (size_t)m->cfg.vocab_size;
        t->logits = mmg__malloc(n * sizeof(float));
        if (!t->logits) s = mmg__error(MMG_ERR_NOMEM, "trainer: cannot allocate %zu logits", n);
        else t->logits_cap = n;
    }
    if (s) {
        mmg__activations_free(t->acts);
        t->acts = NULL;
        mmg__backward_ws_free(t->ws);
        t->ws = NULL;
        mmg__dropout_free(t->drop);
        t->drop = NULL;
    }
    return s;
}

mmg_status mmg__trainer_check_batch(const mmg_trainer *t, const mmg_batch *b, size_t *count) {
    const mmg_model *m = t->model;
    const int n_enc = m->cfg.n_encoder_layers;
    if (b->struct_size < offsetof(mmg_batch, labels) + sizeof(b->labels))
        return mmg__error(MMG_ERR_INVALID_ARG, "batch: struct_size is %zu; set it to sizeof(mmg_batch)",
                          b->struct_size);
    if (b->batch_size < 1 || b->tgt_len_max < 1)
        return mmg__error(MMG_ERR_INVALID_ARG, "batch: batch_size %d and tgt_len_max %d must be >= 1",
                          (int)b->batch_size, (int)b->tgt_len_max);
    if (!b->tgt || !b->labels)
        return mmg__error(MMG_ERR_INVALID_ARG, "batch: tgt and labels must not be NULL");
    if (n_enc > 0 && (!b->src || b->src_len_max < 1))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "batch: this encoder-decoder model needs src with src_len_max >= 1");
    if (n_enc == 0 && (b->src || b->src_len_max != 0))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "batch: this decoder-only model takes no src (set src = NULL, "
                          "src_len_max = 0)");
    if (b->tgt_len_max > m->cfg.max_seq_len || b->src_len_max > m->cfg.max_seq_len)
        return mmg__error(MMG_ERR_RANGE, "batch: sequence length %d exceeds the model's max_seq_len %d",
                          (int)(b->tgt_len_max > b->src_len_max ? b->tgt_len_max : b->src_len_max),
                          (int)m->cfg.max_seq_len);
    size_t n = (size_t)b->batch_size * (size_t)b->tgt_len_max;
    return mmg__ce_count(b->labels, n, m->cfg.vocab_size, t->o.ignore_index, count);
}

mmg_status mmg__trainer_forward_loss(mmg_trainer *t, const mmg_batch *b, int want_grad,
                                     size_t scale_count, double *loss_sum, size_t *count) {
    mmg_status s = mmg__trainer_check_batch(t, b, count);
    if (s) return s;
    const mmg_model *m = t->model;
    const int B = b->batch_size, Tt = b->tgt_len_max;
    const int Ts = m->cfg.n_encoder_layers > 0 ? b->src_len_max : 0;
    s = mmg__trainer_reserve(t, B, Ts, Tt);
    if (s) return s;
    mmg__threads_use(t->n_threads);
    /* dropout only while training; each forward draws the seed of its masks */
    t->drop_active = want_grad && t->drop != NULL;
    if (t->drop_active) {
        t->drop->seed = mmg__rng_next(&t->rng);
        /* ranks draw the same seed; each needs masks of its own */
        if (t->red.n_ranks > 1) t->drop->seed ^= (uint64_t)t->red.rank * 0x9E3779B97F4A7C15ull;
    }
    s = mmg__forward_ex(m, t->acts, t->drop_active ? t->drop : NULL, b->src, b->src_len, b->tgt,
                        b->tgt_len, B, Ts, Tt, t->logits);
    if (s) return s;
    if (scale_count == 0) scale_count = *count;
    float scale = scale_count ? (float)(1.0 / ((double)scale_count * t->o.grad_accum_steps)) : 0.0f;
    *loss_sum = 0.0;
    if (*count == 0) return MMG_OK;
    return mmg__ce_forward_backward(t->logits, b->labels, (size_t)B * Tt, m->cfg.vocab_size,
                                    t->o.ignore_index, t->o.label_smoothing, want_grad, scale,
                                    loss_sum);
}

void mmg__trainer_drop_gradients(mmg_trainer *t) {
    memset(t->grads, 0, t->model->n_params * sizeof(float));
    t->micro = 0;
}

void mmg__trainer_begin_window(mmg_trainer *t) {
    /* The last update's gradients stay readable (mmg_trainer_read_grad)
     * until a new window starts here. */
    if (t->micro == 0 && t->grads_applied) {
        memset(t->grads, 0, t->model->n_params * sizeof(float));
        t->grads_applied = 0;
    }
}

mmg_status mmg__trainer_stop_step(mmg_trainer *t) {
    mmg__trainer_drop_gradients(t);
    mmg__log(MMG_LOG_ERROR, "training stopped at step %lld: %s", (long long)t->adam.t,
             mmg_last_error());
    return mmg__error_prefix("step %lld (no update applied, weights unchanged)", (long long)t->adam.t);
}

void mmg__trainer_backward(mmg_trainer *t, const mmg_batch *batch, const mmg__grad_ready *ready) {
    mmg__threads_use(t->n_threads);
    mmg__backward(t->model, t->acts, t->ws, t->drop_active ? t->drop : NULL, t->grads, t->logits,
                  batch->src, batch->tgt, ready);
}

mmg_status mmg__trainer_accumulate(mmg_trainer *t, const mmg_batch *batch, double *loss_sum,
                                   size_t *count) {
    mmg__trainer_begin_window(t);
    mmg_status s = mmg__trainer_forward_loss(t, batch, 1, 0, loss_sum, count);
    if (s == MMG_ERR_NUMERIC) return mmg__trainer_stop_step(t);
    if (s) return s;
    if (*count > 0) mmg__trainer_backward(t, batch, NULL);
    return MMG_OK;
}

mmg_status mmg__trainer_apply_update(mmg_trainer *t) {
    const size_t n = t->model->n_params;
    double norm = mmg__clip_grad_norm(t->grads, n, 0.0f); /* measure first */
    if (!isfinite(norm)) {
        mmg__trainer_drop_gradients(t);
        mmg_status s = mmg__error(MMG_ERR_NUMERIC,
                                  "step %lld: the gradient norm is %s; no update applied, weights "
                                  "unchanged (lower the learning rate or check the data)",
                                  (long long)t->adam.t, isnan(norm) ? "NaN" : "infinite");
        mmg__log(MMG_LOG_ERROR, "%s", mmg_last_error());
        return s;
    }
    if (t->o.grad_clip > 0.0f) {
        float coef = (float)((double)t->o.grad_clip / (norm + 1e-6));
        if (coef < 1.0f) {
            float *g = t->grads;
            long ln = (long)n;
#pragma omp parallel for schedule(static) if (ln > 65536)
            for (long i = 0; i < ln; i++) g[i] *= coef;
        }
    }
    t->last_grad_norm = (float)norm;
    float lr = mmg_trainer_learning_rate(t);
    mmg__adamw_update(&t->adam, t->model->params, t->grads, lr);
    t->grads_applied = 1; /* cleared when the next window starts */
    t->micro = 0;
    return MMG_OK;
}

mmg_status mmg_trainer_step(mmg_trainer *t, const mmg_batch *batch, float *out_loss) {
    if (!t || !batch) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_trainer_step: NULL trainer or batch");
    if (t->red.n_ranks > 0) return mmg__trainer_step_parallel(t, batch, out_loss);
    double loss_sum = 0.0;
    size_t count = 0;
    mmg_status s = mmg__trainer_accumulate(t, batch, &loss_sum, &count);
    if (s) return s;
    if (++t->micro >= t->o.grad_accum_steps) {
        s = mmg__trainer_apply_update(t);
        if (s) return s;
    }
    if (out_loss) *out_loss = count ? (float)(loss_sum / (double)count) : NAN;
    return MMG_OK;
}

int64_t mmg_trainer_steps_done(const mmg_trainer *t) { return t ? t->adam.t : 0; }

float mmg_trainer_learning_rate(const mmg_trainer *t) {
    if (!t) return 0.0f;
    return mmg__lr_at(t->adam.t, t->o.learning_rate, t->o.min_learning_rate, t->o.warmup_steps,
                      t->o.decay_steps);
}

float mmg_trainer_last_grad_norm(const mmg_trainer *t) { return t ? t->last_grad_norm : 0.0f; }

mmg_status mmg_trainer_read_grad(const mmg_trainer *t, const char *name, float *dst,
                                 size_t n_elements) {
    if (!t || !name || !dst)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_trainer_read_grad: NULL argument");
    const mmg__param *p;
    mmg_status s = mmg__param_lookup(t->model, name, n_elements, "mmg_trainer_read_grad", &p);
    if (s) return s;
    memcpy(dst, t->grads + p->offset, p->numel * sizeof *dst);
    return MMG_OK;
}

mmg_status mmg_trainer_evaluate(mmg_trainer *t, mmg_loader *loader, int64_t max_batches,
                                double bytes_per_token, double *loss, double *perplexity,
                                double *bits_per_byte) {
    if (!t || !loader) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_trainer_evaluate: NULL trainer or loader");
    if (max_batches < 0 || !(bytes_per_token >= 0.0) || !isfinite(bytes_per_token))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_trainer_evaluate: max_batches %lld must be >= 0 and bytes_per_token "
                          "%g finite and >= 0",
                          (long long)max_batches, bytes_per_token);
    if (max_batches == 0 && mmg__loader_shuffles(loader))
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_trainer_evaluate: a shuffling loader never "
                          "ends an epoch; give max_batches > 0");
    double total = 0.0;
    uint64_t tokens = 0;
    for (int64_t i = 0; max_batches == 0 || i < max_batches; i++) {
        const mmg_batch *b = NULL;
        mmg_status s = mmg_loader_next(loader, &b);
        if (s) return s;
        if (!b) break; /* end of a sequential epoch */
        double sum = 0.0;
        size_t count = 0;
        s = t->red.n_ranks > 0 ? mmg__trainer_eval_parallel(t, b, &sum, &count)
                               : mmg__trainer_forward_loss(t, b, 0, 0, &sum, &count);
        if (s) return s;
        total += sum;
        tokens += count;
    }
    if (tokens == 0)
        return mmg__error(MMG_ERR_STATE, "mmg_trainer_evaluate: no label was counted (empty loader?)");
    double mean = total / (double)tokens;
    if (loss) *loss = mean;
    if (perplexity) *perplexity = exp(mean);
    if (bits_per_byte) *bits_per_byte = bytes_per_token > 0.0 ? mean / (log(2.0) * bytes_per_token) : 0.0;
    return MMG_OK;
}
