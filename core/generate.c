/* core/generate.c - the generation loop over a batch of independent
 * sequences.
 *
 * Sequences go through the context n_slots at a time. Within a group, each
 * step advances every live sequence by one token: one batched decode for all
 * of them (KV caches; each weight read once), then per sequence in order:
 * constraint mask -> sampler -> stream callback. A sequence's arithmetic is
 * exactly the single-sequence BLAS calls whatever else is in the group
 * (mmg__context_decode_batch), and each has its own sampler (own RNG), so its
 * tokens do not depend on the batch. */
#include "mmgen/generate.h"

#include <string.h>

#include "error.h"
#include "memory.h"
#include "model_context.h"
#include "options.h"
#include "sampler.h"

static void options_defaults(mmg_generate_options *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->sampling = NULL;
    o->max_new_tokens = 256;
    o->end_token = -1;
    o->start_token = -1;
}

void mmg_generate_options_init(mmg_generate_options *opts, size_t struct_size) {
    mmg_generate_options d;
    options_defaults(&d);
    mmg__init_options(opts, struct_size, &d, sizeof d);
}

/* Everything checked before any work, so a bad request writes nothing. */
static mmg_status validate(const mmg_context *ctx, const mmg_generate_options *o, int n_seq,
                           const int32_t *const *sources, const int32_t *source_lengths,
                           const int32_t *const *prompts, const int32_t *prompt_lengths) {
    const mmg_model *m = ctx->model;
    const int V = m->cfg.vocab_size, enc = m->cfg.n_encoder_layers > 0;
    mmg_status s;
    if (o->sampling && (s = mmg_sampling_options_validate(o->sampling))) return s;
    if (o->max_new_tokens < 1)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_generate_options.max_new_tokens is %d; expected >= 1",
                          o->max_new_tokens);
    if (o->end_token < -1 || o->end_token >= V)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_generate_options.end_token is %d; expected -1 (none) or an id in "
                          "[0, %d)",
                          o->end_token, V);
    if (o->start_token < -1 || o->start_token >= V)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_generate_options.start_token is %d; expected -1 (none) or an id in "
                          "[0, %d)",
                          o->start_token, V);
    if (enc && (!sources || !source_lengths))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_generate: the model is an encoder-decoder; sources and "
                          "source_lengths are required");
    if (!enc && sources)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_generate: the model is decoder-only; pass sources NULL");
    for (int i = 0; i < n_seq; i++) {
        if (enc) {
            if (!sources[i])
                return mmg__error(MMG_ERR_INVALID_ARG, "mmg_generate: sources[%d] is NULL", i);
            if (source_lengths[i] < 1 || source_lengths[i] > ctx->T)
                return mmg__error(MMG_ERR_RANGE,
                                  "mmg_generate: source %d has length %d; expected 1..%d (the "
                                  "context's max_seq_len)",
                                  i, source_lengths[i], ctx->T);
            if ((s = mmg__check_tokens(m, "source", sources[i], (size_t)source_lengths[i])))
                return mmg__error_prefix("mmg_generate: sequence %d", i);
        }
        int32_t n = prompt_lengths ? prompt_lengths[i] : 0;
        if (n < 0 || n > ctx->T)
            return mmg__error(MMG_ERR_RANGE,
                              "mmg_generate: prompt %d has length %d; expected 0..%d (the "
                              "context's max_seq_len)",
                              i, n, ctx->T);
        if (n == 0 && o->start_token < 0)
            return mmg__error(MMG_ERR_RANGE,
                              "mmg_generate: prompt %d is empty and no start_token is set", i);
        if (n > 0 && (!prompts || !prompts[i]))
            return mmg__error(MMG_ERR_INVALID_ARG, "mmg_generate: prompts[%d] is NULL", i);
        if (n > 0 && (s = mmg__check_tokens(m, "prompt", prompts[i], (size_t)n)))
            return mmg__error_prefix("mmg_generate: sequence %d", i);
    }
    return MMG_OK;
}

/* Per-slot state of a sequence being generated. */
typedef struct seq_state {
    int index;           /* sequence index in the call, -1 = slot unused */
    int done;
    int n_new;           /* tokens generated */
    int n_hist;          /* prompt + generated tokens (the repetition history) */
    int32_t *hist;       /* (T + max_new) */
    mmg__sampler *sampler;
} seq_state;

/* Samples the next token of sequence st from ctx's logits, applies the
 * constraint, streams it, and records it. */
static mmg_status step_sample(const mmg_generate_options *o, seq_state *st, float *logits,
                              uint8_t *allowed, int V, int n_prompt, int32_t *out_row) {
    const uint8_t *mask = NULL;
    if (o->constraint) {
        memset(allowed, 1, (size_t)V);
        void *ud = o->constraint_user_data_each ? o->constraint_user_data_each[st->index]
                                                : o->constraint_user_data;
        int rc = o->constraint(ud, st->hist + n_prompt, (size_t)st->n_new, allowed, (size_t)V);
        if (rc != 0)
            return mmg__error((mmg_status)rc,
                              "mmg_generate: the constraint callback stopped sequence %d at "
                              "token %d with status %d",
                              st->index, st->n_new, rc);
        mask = allowed;
    }
    int32_t tok;
    mmg_status s = mmg__sampler_sample(st->sampler, logits, mask, st->hist, (size_t)st->n_hist, &tok);
    if (s) return mmg__error_prefix("mmg_generate: sequence %d, token %d", st->index, st->n_new);
    if (o->on_token) {
        int rc = o->on_token(o->on_token_user_data, st->index, st->n_new, tok);
        if (rc != 0)
            return mmg__error((mmg_status)rc,
                              "mmg_generate: the token callback stopped sequence %d at token %d "
                              "with status %d",
                              st->index, st->n_new, rc);
    }
    out_row[st->n_new] = tok;
    st->hist[st->n_hist++] = tok;
    st->n_new++;
    return MMG_OK;
}

mmg_status mmg_generate(mmg_context *ctx, const mmg_generate_options *opts, int32_t n_sequences,
                        const int32_t *const *sources, const int32_t *source_lengths,
                        const int32_t *const *prompts, const int32_t *prompt_lengths,
                        const uint64_t *seeds, int32_t *out_tokens, int32_t *out_lengths) {
    if (!ctx) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_generate: ctx is NULL");
    if (!out_tokens || !out_lengths)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_generate: %s is NULL",
                          !out_tokens ? "out_tokens" : "out_lengths");
    if (n_sequences < 1)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_generate: n_sequences is %d; expected >= 1",
                          n_sequences);
    mmg_generate_options o;
    options_defaults(&o);
    mmg_status s = mmg__read_options(&o, sizeof o, opts, "mmg_generate_options");
    if (s) return s;
    s = validate(ctx, &o, n_sequences, sources, source_lengths, prompts, prompt_lengths);
    if (s) return s;

    const mmg_model *m = ctx->model;
    const int V = m->cfg.vocab_size, T = ctx->T, G = ctx->n_slots;
    const size_t max_new = (size_t)o.max_new_tokens;
    mmg_sampling_options so;
    mmg_sampling_options_init(&so, sizeof so);
    if (o.sampling) {
        /* A copy of the caller's (possibly smaller) struct over the defaults. */
        s = mmg__read_options(&so, sizeof so, o.sampling, "mmg_sampling_options");
        if (s) return s;
    }

    /* Per-call buffers; nothing below allocates per token. */
    size_t out_n;
    if (mmg__mul_size((size_t)n_sequences, max_new, &out_n))
        return mmg__error(MMG_ERR_LIMIT, "mmg_generate: %d sequences x %d tokens overflow",
                          n_sequences, o.max_new_tokens);
    int32_t *tokens = mmg__malloc(out_n * sizeof(int32_t));
    int32_t *lengths = mmg__calloc((size_t)n_sequences, sizeof(int32_t));
    float *logits = mmg__malloc((size_t)G * (size_t)V * sizeof(float));
    int32_t *live_slots = mmg__malloc((size_t)G * 2 * sizeof(int32_t));
    int32_t *live_tokens = live_slots ? live_slots + G : NULL;
    uint8_t *allowed = mmg__malloc((size_t)V);
    seq_state *st = mmg__calloc((size_t)G, sizeof *st);
    int32_t *hist = mmg__malloc((size_t)G * ((size_t)T + max_new) * sizeof(int32_t));
    if (!tokens || !lengths || !logits || !live_slots || !allowed || !st || !hist) {
        s = mmg__error(MMG_ERR_NOMEM, "mmg_generate: out of memory for %d sequences",
                       n_sequences);
        goto done;
    }
    for (int g = 0; g < G; g++) st[g].hist = hist + (size_t)g * ((size_t)T + max_new);

    int prev = mmg__context_enter(ctx);
    for (int first = 0; first < n_sequences && !s; first += G) {
        int group = n_sequences - first < G ? n_sequences - first : G;
        /* Start each sequence of the group: encode, prefill, first token. */
        for (int g = 0; g < group && !s; g++) {
            seq_state *q = &st[g];
            int i = first + g;
            q->index = i;
            q->done = 0;
            q->n_new = 0;
            mmg_sampling_options sq = so;
            uint64_t stream = (uint64_t)i;
            if (seeds) {
                sq.seed = seeds[i];
                stream = 0;
            }
            mmg__sampler_free(q->sampler);
            q->sampler = NULL;
            if ((s = mmg__sampler_create(&sq, (size_t)V, stream, &q->sampler))) break;
            int32_t n_prompt = prompt_lengths ? prompt_lengths[i] : 0;
            if (n_prompt > 0)
                memcpy(q->hist, prompts[i], (size_t)n_prompt * sizeof(int32_t));
            else
                q->hist[n_prompt++] = o.start_token;
            q->n_hist = n_prompt;
            ctx->pos[g] = 0;
            if (m->cfg.n_encoder_layers > 0 &&
                (s = mmg__context_encode(ctx, g, sources[i], source_lengths[i])))
                break;
            if ((s = mmg__context_decode(ctx, g, q->hist, n_prompt, logits, 0))) break;
            s = step_sample(&o, q, logits, allowed, V, n_prompt, tokens + (size_t)i * max_new);
        }
        /* Then one token per live sequence per step, all of them in one
         * batched decode (each weight read once per step). */
        while (!s) {
            int n_live = 0;
            for (int g = 0; g < group; g++) {
                seq_state *q = &st[g];
                if (q->done) continue;
                int32_t last = q->hist[q->n_hist - 1];
                if ((size_t)q->n_new >= max_new || last == o.end_token || ctx->pos[g] >= T) {
                    q->done = 1;
                    lengths[q->index] = q->n_new;
                    continue;
                }
                live_slots[n_live] = g;
                live_tokens[n_live++] = last;
            }
            if (n_live == 0) break;
            if ((s = mmg__context_decode_batch(ctx, live_slots, live_tokens, n_live, logits))) break;
            for (int k = 0; k < n_live && !s; k++) {
                seq_state *q = &st[live_slots[k]];
                s = step_sample(&o, q, logits + (size_t)k * V, allowed, V, q->n_hist - q->n_new,
                                tokens + (size_t)q->index * max_new);
            }
        }
    }
    mmg__context_leave(prev);
    if (!s) {
        for (int i = 0; i < n_sequences; i++) {
            memcpy(out_tokens + (size_t)i * max_new, tokens + (size_t)i * max_new,
                   (size_t)lengths[i] * sizeof(int32_t));
            out_lengths[i] = lengths[i];
        }
    }
done:
    if (st)
        for (int g = 0; g < G; g++) mmg__sampler_free(st[g].sampler);
    mmg__free(st);
    mmg__free(hist);
    mmg__free(allowed);
    mmg__free(logits);
    mmg__free(live_slots);
    mmg__free(lengths);
    mmg__free(tokens);
    return s;
}
