/* tests/quant_test.h - what the tests of the quantized weight types (Q8_0,
 * Q4_0, F16) share: a small model config, creating, loading and decoding
 * with one, a seeded random stream, the batch-decode check. */
#ifndef MMGEN_TESTS_QUANT_TEST_H
#define MMGEN_TESTS_QUANT_TEST_H

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmgen/mmgen.h"
#include "memory.h"
#include "model-impl.h"

static uint32_t rng_state = 12345;
static inline uint32_t rnd(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}
static inline float frand(void) { return (float)rnd() / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */

static char tmp_path[256];
static inline const char *tmp_file(const char *tag) {
    snprintf(tmp_path, sizeof tmp_path, "/tmp/mmgen-test-quant-type-%d-%s.safetensors", (int)getpid(), tag);
    return tmp_path;
}

static inline mmg_model_config small_config(int n_encoder_layers, int tied) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = 97;
    c.d_model = 64;
    c.n_heads = 4;
    c.n_encoder_layers = n_encoder_layers;
    c.n_decoder_layers = 2;
    c.d_ff = 160; /* 5 blocks: a row that is not a whole group of 16 */
    c.max_seq_len = 40;
    c.tied_output = tied;
    c.norm_placement = MMG_NORM_PRE;
    c.activation = MMG_ACT_GELU_TANH;
    c.position_encoding = MMG_POS_LEARNED;
    return c;
}

static inline mmg_model *create(const mmg_model_config *c, int weights, uint64_t seed) {
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = seed;
    o.init_std = 0.1f; /* logits of a useful size */
    o.weights = weights;
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_create(c, &o, &m), MMG_OK, "%s", mmg_last_error());
    return m;
}

/* Loads `path` with `weights` (and mmg_model_options.quantize_embedding). */
static inline mmg_model *load_with(const char *path, int weights, int quantize_embedding) {
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.weights = weights;
    o.quantize_embedding = quantize_embedding;
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_load(path, &o, &m), MMG_OK, "%s", mmg_last_error());
    return m;
}

static inline mmg_model *load(const char *path, int weights) { return load_with(path, weights, 0); }

static inline mmg_context *context(const mmg_model *m, int threads, int slots) {
    mmg_context_options o;
    mmg_context_options_init(&o, sizeof o);
    o.n_threads = threads;
    o.n_slots = slots;
    mmg_context *ctx = NULL;
    cr_assert_eq(mmg_context_create(m, &o, &ctx), MMG_OK, "%s", mmg_last_error());
    return ctx;
}

/* All logits of decoding `n` tokens in one call (n rows of V). */
static inline float *decode_all(const mmg_model *m, const int32_t *toks, int n, int threads) {
    const int V = m->cfg.vocab_size;
    mmg_context *ctx = context(m, threads, 1);
    float *logits = malloc(sizeof(float) * (size_t)n * V);
    if (m->cfg.n_encoder_layers > 0)
        cr_assert_eq(mmg_context_encode(ctx, 0, toks, 5), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_context_decode(ctx, 0, toks, n, logits, 1), MMG_OK, "%s", mmg_last_error());
    mmg_context_free(ctx);
    return logits;
}

static inline int same_bits(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* mmg_context_decode_batch of a model in `weights` gives each slot the bits
 * of decoding it alone. */
static inline void quant_test_batch_equals_single(int weights) {
    mmg_model_config c = small_config(0, 1);
    mmg_model *q = create(&c, weights, 3);
    const int V = c.vocab_size;
    int32_t prompts[3][4] = {{1, 2, 3, 4}, {9, 8, 7, 6}, {50, 51, 52, 53}};
    mmg_context *batch = context(q, 2, 3);
    float *single = malloc(sizeof(float) * V), *rows = malloc(sizeof(float) * 3 * V);
    for (int s = 0; s < 3; s++) cr_assert_eq(mmg_context_decode(batch, s, prompts[s], 4, NULL, 0), MMG_OK);
    int32_t slots[3] = {0, 1, 2}, next[3] = {5, 10, 54};
    cr_assert_eq(mmg_context_decode_batch(batch, 3, slots, next, rows), MMG_OK, "%s", mmg_last_error());
    for (int s = 0; s < 3; s++) {
        mmg_context *one = context(q, 1, 1);
        cr_assert_eq(mmg_context_decode(one, 0, prompts[s], 4, NULL, 0), MMG_OK);
        cr_assert_eq(mmg_context_decode(one, 0, &next[s], 1, single, 0), MMG_OK);
        cr_assert(same_bits(single, rows + (size_t)s * V, V), "slot %d", s);
        mmg_context_free(one);
    }
    mmg_context_free(batch);
    free(single), free(rows);
    mmg_model_free(q);
}

/* One operation of an allocation sweep: load `path` with `weights` (and
 * quantize_embedding), or (path NULL) create a small_config(0, 1) model with
 * them. */
typedef struct quant_test_op {
    const char *path;
    int32_t weights;
    int32_t quantize_embedding;
} quant_test_op;

/* Every allocation of each operation fails in turn: MMG_ERR_NOMEM with a
 * message, *out untouched, until the operation succeeds (the sanitizer
 * build checks that nothing leaks). */
static inline void quant_test_sweep(const char *what, const quant_test_op *ops, int n_ops) {
    const mmg_model_config c = small_config(0, 1);
    for (int op = 0; op < n_ops; op++) {
        long n;
        mmg_status s = MMG_OK;
        for (n = 1; n < 100000; n++) {
            mmg_model_options o;
            mmg_model_options_init(&o, sizeof o);
            o.weights = ops[op].weights;
            o.quantize_embedding = ops[op].quantize_embedding;
            mmg_model *m = (mmg_model *)0x5e47;
            mmg_clear_error();
            mmg__fault_fail_after(n);
            s = ops[op].path ? mmg_model_load(ops[op].path, &o, &m) : mmg_model_create(&c, &o, &m);
            mmg__fault_fail_after(0);
            if (s == MMG_OK) {
                mmg_model_free(m);
                break;
            }
            cr_assert_eq(s, MMG_ERR_NOMEM, "%s op %d, allocation %ld: %s", what, op, n, mmg_last_error());
            cr_assert(mmg_last_error()[0], "%s op %d, allocation %ld: no message", what, op, n);
            cr_assert_eq(m, (mmg_model *)0x5e47, "%s op %d: out written on error", what, op);
        }
        cr_assert_eq(s, MMG_OK);
        cr_log_info("%s op %d: %ld allocations swept", what, op, n - 1);
    }
}

#endif /* MMGEN_TESTS_QUANT_TEST_H */
