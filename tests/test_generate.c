/* tests/test_generate.c - generation: greedy decoding agrees with the full
 * forward's argmax, a seed reproduces its tokens whatever the batch, slots
 * and thread count, end token / length limits, constraints, streaming and
 * cancellation, bad requests. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/generate.h"
#include "mmgen/model.h"

#define V 53

static mmg_model *make_model(int n_enc, int T) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = V;
    c.d_model = 32;
    c.n_heads = 4;
    c.n_encoder_layers = n_enc;
    c.n_decoder_layers = 2;
    c.d_ff = 48;
    c.max_seq_len = T;
    if (n_enc == 0) {
        c.norm_placement = MMG_NORM_PRE;
        c.activation = MMG_ACT_GELU_TANH;
        c.position_encoding = MMG_POS_LEARNED;
    }
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = 99;
    o.init_std = 0.3f;
    mmg_model *m;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_OK, "%s", mmg_last_error());
    return m;
}

static mmg_context *make_ctx(mmg_model *m, int slots, int threads, int T) {
    mmg_context_options o;
    mmg_context_options_init(&o, sizeof o);
    o.n_slots = slots;
    o.n_threads = threads;
    o.max_seq_len = T;
    mmg_context *ctx;
    cr_assert_eq(mmg_context_create(m, &o, &ctx), MMG_OK, "%s", mmg_last_error());
    return ctx;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Greedy tokens are the argmax of the full forward over prompt + generated
 * tokens at every position (an independent path: no KV cache). */
Test(generate, greedy_matches_full_forward_argmax) {
    mmg_model *m = make_model(0, 48);
    mmg_context *ctx = make_ctx(m, 1, 0, 0);
    mmg_sampling_options so;
    mmg_sampling_options_init(&so, sizeof so);
    so.temperature = 0;
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.sampling = &so;
    go.max_new_tokens = 20;
    int32_t prompt[5] = {1, 7, 3, 9, 2}, plen = 5;
    const int32_t *prompts[1] = {prompt};
    int32_t out[20], n = -1;
    cr_assert_eq(mmg_generate(ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n), MMG_OK,
                 "%s", mmg_last_error());
    cr_assert_eq(n, 20);
    int32_t seq[25];
    memcpy(seq, prompt, sizeof prompt);
    memcpy(seq + 5, out, sizeof(int32_t) * 20);
    float *logits = malloc(sizeof(float) * 25 * V);
    cr_assert_eq(mmg_context_forward(ctx, 1, NULL, NULL, 0, seq, NULL, 25, logits), MMG_OK);
    for (int t = 0; t < 20; t++)
        cr_assert_eq(out[t], argmax(logits + (size_t)(4 + t) * V, V), "token %d", t);
    free(logits);
    mmg_context_free(ctx);
    mmg_model_free(m);
}

Test(generate, greedy_encoder_decoder_with_start_token) {
    mmg_model *m = make_model(2, 32);
    mmg_context *ctx = make_ctx(m, 1, 0, 0);
    mmg_sampling_options so;
    mmg_sampling_options_init(&so, sizeof so);
    so.temperature = 0;
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.sampling = &so;
    go.max_new_tokens = 10;
    go.start_token = 0;
    int32_t src[6] = {5, 6, 7, 8, 9, 10}, slen = 6, plen = 0;
    const int32_t *sources[1] = {src};
    int32_t out[10], n = -1;
    cr_assert_eq(mmg_generate(ctx, &go, 1, sources, &slen, NULL, &plen, NULL, out, &n), MMG_OK,
                 "%s", mmg_last_error());
    cr_assert_eq(n, 10);
    int32_t tgt[11] = {0};
    memcpy(tgt + 1, out, sizeof out);
    float *logits = malloc(sizeof(float) * 11 * V);
    cr_assert_eq(mmg_context_forward(ctx, 1, src, NULL, 6, tgt, NULL, 11, logits), MMG_OK);
    for (int t = 0; t < 10; t++)
        cr_assert_eq(out[t], argmax(logits + (size_t)t * V, V), "token %d", t);
    free(logits);
    mmg_context_free(ctx);
    mmg_model_free(m);
}

/* Runs a sampled batch and returns tokens (n, 16) and lengths. */
static void run_batch(mmg_model *m, int slots, int threads, int n, const int *which,
                      int32_t *out, int32_t *len) {
    static const int32_t prompts_all[4][3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}};
    static const uint64_t seeds_all[4] = {11, 22, 33, 44};
    const int32_t *prompts[4];
    int32_t plen[4];
    uint64_t seeds[4];
    for (int i = 0; i < n; i++) {
        prompts[i] = prompts_all[which[i]];
        plen[i] = which[i] == 3 ? 2 : 3;
        seeds[i] = seeds_all[which[i]];
    }
    mmg_context *ctx = make_ctx(m, slots, threads, 0);
    mmg_sampling_options so;
    mmg_sampling_options_init(&so, sizeof so);
    so.temperature = 1.3f;
    so.top_k = 20;
    so.top_p = 0.95f;
    so.min_p = 0.01f;
    so.repetition_penalty = 1.2f;
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.sampling = &so;
    go.max_new_tokens = 16;
    go.end_token = 52;
    cr_assert_eq(mmg_generate(ctx, &go, n, NULL, NULL, prompts, plen, seeds, out, len), MMG_OK,
                 "%s", mmg_last_error());
    mmg_context_free(ctx);
}

Test(generate, sequences_independent_of_batch_slots_and_threads) {
    mmg_model *m = make_model(0, 64);
    int all[4] = {0, 1, 2, 3};
    int32_t ref[4 * 16], ref_len[4];
    run_batch(m, 4, 1, 4, all, ref, ref_len);
    int differ = 0;
    for (int i = 1; i < 4; i++) differ |= memcmp(ref, ref + 16 * i, sizeof(int32_t) * 8) != 0;
    cr_assert(differ, "different prompts and seeds should give different tokens");
    /* each alone, other slot counts and thread counts, other orders */
    int configs[][3] = {{1, 1, 0}, {2, 2, 0}, {3, 3, 0}, {4, 2, 0}, {1, 3, 0}};
    for (int k = 0; k < 5; k++) {
        int slots = configs[k][0], threads = configs[k][1];
        int order[4] = {3, 1, 0, 2};
        int32_t out[4 * 16], len[4];
        run_batch(m, slots, threads, 4, order, out, len);
        for (int i = 0; i < 4; i++) {
            int j = order[i];
            cr_assert_eq(len[i], ref_len[j], "slots %d threads %d seq %d", slots, threads, j);
            cr_assert_eq(memcmp(out + 16 * i, ref + 16 * j, sizeof(int32_t) * (size_t)len[i]), 0,
                         "slots %d threads %d: sequence %d differs", slots, threads, j);
        }
    }
    for (int j = 0; j < 4; j++) {
        int32_t out[16], len;
        run_batch(m, 1, 2, 1, &j, out, &len);
        cr_assert_eq(len, ref_len[j]);
        cr_assert_eq(memcmp(out, ref + 16 * j, sizeof(int32_t) * (size_t)len), 0,
                     "sequence %d alone differs", j);
    }
    mmg_model_free(m);
}

/* Tokens the end token stops; max_new_tokens and the context length limit. */
static int only_even_then_end(void *ud, const int32_t *tokens, size_t n, uint8_t *allowed,
                              size_t vocab) {
    int limit = *(int *)ud;
    for (size_t i = 0; i < vocab; i++) {
        if ((int)n < limit)
            allowed[i] = (i % 2 == 0) && i != 52; /* even ids, not the end token */
        else
            allowed[i] = i == 52; /* exactly `limit` tokens, then the end */
    }
    for (size_t i = 0; i < n; i++) cr_assert(i < (size_t)limit ? tokens[i] % 2 == 0 : 1);
    return 0;
}

Test(generate, constraint_allows_only_even_then_forces_end) {
    mmg_model *m = make_model(0, 64);
    mmg_context *ctx = make_ctx(m, 1, 0, 0);
    int limit = 7;
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.max_new_tokens = 30;
    go.end_token = 52;
    go.constraint = only_even_then_end;
    go.constraint_user_data = &limit;
    int32_t prompt[2] = {3, 4}, plen = 2;
    const int32_t *prompts[1] = {prompt};
    int32_t out[30], n;
    cr_assert_eq(mmg_generate(ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n), MMG_OK,
                 "%s", mmg_last_error());
    cr_assert_eq(n, limit + 1);
    for (int i = 0; i < limit; i++) cr_assert_eq(out[i] % 2, 0);
    cr_assert_eq(out[limit], 52);
    mmg_context_free(ctx);
    mmg_model_free(m);
}

static int block_all(void *ud, const int32_t *t, size_t n, uint8_t *allowed, size_t vocab) {
    memset(allowed, 0, vocab);
    return 0;
}

typedef struct stream_log {
    int n;
    int32_t seq[64], idx[64], tok[64];
    int cancel_at;
} stream_log;

static int on_token(void *ud, int32_t sequence, int32_t index, int32_t token) {
    stream_log *l = ud;
    if (l->n == l->cancel_at) return MMG_ERR_CANCELLED;
    l->seq[l->n] = sequence;
    l->idx[l->n] = index;
    l->tok[l->n] = token;
    l->n++;
    return 0;
}

Test(generate, streaming_callback_and_cancel) {
    mmg_model *m = make_model(0, 64);
    mmg_context *ctx = make_ctx(m, 2, 0, 0);
    stream_log log = {.cancel_at = -1};
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.max_new_tokens = 5;
    go.on_token = on_token;
    go.on_token_user_data = &log;
    int32_t p0[1] = {1}, p1[2] = {2, 3}, plen[2] = {1, 2};
    const int32_t *prompts[2] = {p0, p1};
    int32_t out[10], n[2];
    cr_assert_eq(mmg_generate(ctx, &go, 2, NULL, NULL, prompts, plen, NULL, out, n), MMG_OK);
    cr_assert_eq(log.n, n[0] + n[1]);
    int seen[2] = {0, 0};
    for (int i = 0; i < log.n; i++) {
        int s = log.seq[i];
        cr_assert_eq(log.idx[i], seen[s], "tokens of a sequence arrive in order");
        cr_assert_eq(log.tok[i], out[s * 5 + seen[s]]);
        seen[s]++;
    }
    /* cancel: the status comes back and nothing is written */
    stream_log log2 = {.cancel_at = 3};
    go.on_token_user_data = &log2;
    int32_t out2[10] = {-7, -7, -7, -7, -7, -7, -7, -7, -7, -7}, n2[2] = {-7, -7};
    cr_assert_eq(mmg_generate(ctx, &go, 2, NULL, NULL, prompts, plen, NULL, out2, n2),
                 MMG_ERR_CANCELLED);
    cr_assert(strstr(mmg_last_error(), "callback") != NULL, "%s", mmg_last_error());
    for (int i = 0; i < 10; i++) cr_assert_eq(out2[i], -7);
    cr_assert_eq(n2[0], -7);
    /* a constraint that allows nothing */
    go.on_token = NULL;
    go.constraint = block_all;
    cr_assert_eq(mmg_generate(ctx, &go, 2, NULL, NULL, prompts, plen, NULL, out2, n2),
                 MMG_ERR_STATE);
    cr_assert_eq(n2[0], -7);
    mmg_context_free(ctx);
    mmg_model_free(m);
}

Test(generate, stops_at_context_length) {
    mmg_model *m = make_model(0, 64);
    mmg_context *ctx = make_ctx(m, 1, 0, 10); /* cache of 10 tokens */
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.max_new_tokens = 50;
    int32_t prompt[4] = {1, 2, 3, 4}, plen = 4;
    const int32_t *prompts[1] = {prompt};
    int32_t out[50], n;
    cr_assert_eq(mmg_generate(ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n), MMG_OK);
    /* 4 prompt tokens + 6 fed-back tokens fill the cache; the 7th sampled
     * token is the last one there are logits for. */
    cr_assert_eq(n, 7);
    mmg_context_free(ctx);
    mmg_model_free(m);
}

Test(generate, same_seed_same_tokens_other_seed_other_tokens) {
    mmg_model *m = make_model(0, 64);
    mmg_context *ctx = make_ctx(m, 1, 0, 0);
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.max_new_tokens = 24;
    int32_t prompt[1] = {5}, plen = 1;
    const int32_t *prompts[1] = {prompt};
    int32_t a[24], b[24], c[24], na, nb, nc;
    uint64_t s1 = 7, s2 = 8;
    cr_assert_eq(mmg_generate(ctx, &go, 1, NULL, NULL, prompts, &plen, &s1, a, &na), MMG_OK);
    cr_assert_eq(mmg_generate(ctx, &go, 1, NULL, NULL, prompts, &plen, &s1, b, &nb), MMG_OK);
    cr_assert_eq(mmg_generate(ctx, &go, 1, NULL, NULL, prompts, &plen, &s2, c, &nc), MMG_OK);
    cr_assert_eq(na, 24);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_neq(memcmp(a, c, sizeof a), 0);
    mmg_context_free(ctx);
    mmg_model_free(m);
}

Test(generate, bad_requests_write_nothing) {
    mmg_model *m = make_model(0, 16);
    mmg_context *ctx = make_ctx(m, 1, 0, 0);
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.max_new_tokens = 4;
    int32_t prompt[20] = {1, 2, 3}, plen = 3;
    const int32_t *prompts[1] = {prompt};
    int32_t out[4] = {-7, -7, -7, -7}, n = -7;
#define BAD(expect, ...)                                                                      \
    do {                                                                                      \
        cr_assert_eq(mmg_generate(__VA_ARGS__), expect, "%s", mmg_last_error());              \
        cr_assert(mmg_last_error()[0] != '\0');                                               \
        cr_assert_eq(out[0], -7);                                                             \
        cr_assert_eq(n, -7);                                                                  \
    } while (0)
    BAD(MMG_ERR_INVALID_ARG, NULL, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n);
    BAD(MMG_ERR_INVALID_ARG, ctx, &go, 0, NULL, NULL, prompts, &plen, NULL, out, &n);
    BAD(MMG_ERR_INVALID_ARG, ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, NULL, &n);
    prompt[1] = V;
    BAD(MMG_ERR_RANGE, ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n);
    cr_assert(strstr(mmg_last_error(), "53") != NULL, "%s", mmg_last_error());
    prompt[1] = -1;
    BAD(MMG_ERR_RANGE, ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n);
    prompt[1] = 2;
    int32_t long_len = 17, zero = 0;
    BAD(MMG_ERR_RANGE, ctx, &go, 1, NULL, NULL, prompts, &long_len, NULL, out, &n);
    BAD(MMG_ERR_RANGE, ctx, &go, 1, NULL, NULL, prompts, &zero, NULL, out, &n); /* no start token */
    const int32_t *srcs[1] = {prompt};
    BAD(MMG_ERR_INVALID_ARG, ctx, &go, 1, srcs, &plen, prompts, &plen, NULL, out, &n);
    mmg_sampling_options so;
    mmg_sampling_options_init(&so, sizeof so);
    so.top_p = 1.5f;
    go.sampling = &so;
    BAD(MMG_ERR_INVALID_ARG, ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n);
    cr_assert(strstr(mmg_last_error(), "top_p") != NULL, "%s", mmg_last_error());
    so.top_p = 1.0f;
    so.temperature = -1;
    BAD(MMG_ERR_INVALID_ARG, ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n);
    so.temperature = 1;
    go.max_new_tokens = 0;
    BAD(MMG_ERR_INVALID_ARG, ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n);
    go.max_new_tokens = 4;
    go.end_token = V;
    BAD(MMG_ERR_INVALID_ARG, ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n);
    go.end_token = -1;
    go.struct_size = 3;
    BAD(MMG_ERR_INVALID_ARG, ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n);
#undef BAD
    mmg_context_free(ctx);
    mmg_model_free(m);
}
