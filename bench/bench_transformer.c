/* bench/bench_transformer.c - inference speed of mmgen's transformer and the
 * machine's BLAS ceilings, for bench/run_transformer.sh.
 *
 *   bench_transformer blas  --threads N
 *       measures cblas_sgemm GFLOP/s (OpenBLAS's own threading, N threads)
 *       and sgemv GB/s over a matrix far larger than the caches, the better
 *       of one cblas_sgemv call (N OpenBLAS threads) and 64-row calls over N
 *       OpenMP threads (how mmgen calls it).
 *   bench_transformer model --preset small|gpt2 --threads N [--prefill P]
 *                           [--decode D] [--repeat R] [--weights W]
 *       creates a random GPT-2-style decoder-only model (its weight
 *       matrices in W: f32, the default, f16, q8_0 or q4_0), prefills P tokens
 *       into the KV cache and decodes D more one at a time; reports tokens/s
 *       (best of R runs), the weights and KV cache bytes, and peak RSS; then
 *       8 sequences (64-token prompts) decoded together with
 *       mmg_context_decode_batch: tokens/s over all of them, and one
 *       sequence on the same terms in alternation with it (64-token prompt,
 *       as many steps): tokens/s and the batch's ratio to it. Peak RSS is
 *       read before the batch run (the single-sequence context of ctx
 *       tokens). decode_gbs counts W's bytes per weight; weights_bytes is
 *       given for f32 only (null otherwise).
 * Each prints one JSON object on stdout. Two modes in two processes, so the
 * BLAS test matrices never count in the model's peak RSS. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "mmgen/context.h"
#include "mmgen/model.h"
#include "mmgen/status.h"
#include "model-impl.h"
#include "ops.h"
#include "threads.h"

#include "bench_common.h"

void openblas_set_num_threads(int);

static long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* The current resident set (VmRSS), to subtract the process baseline
 * (libraries, OpenBLAS) from the peak. */
static long current_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static void fill(float *x, size_t n) {
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 24) - 0.5f;
    }
}

static int blas(int threads) {
    mmg__threads_init();
    openblas_set_num_threads(threads);
    /* sgemm: the shape of a GPT-2-small FFN product over a 512-token prefill */
    const int M = 512, N = 3072, K = 768;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K),
          *C = malloc(sizeof(float) * M * N);
    fill(A, (size_t)M * K);
    fill(B, (size_t)N * K);
    double best = 1e30;
    for (int r = 0; r < 7; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, A, K, B, K, 0, C, N);
        double t = bench_now() - t0;
        if (r > 0 && t < best) best = t;
    }
    double gflops = 2.0 * M * N * K / best * 1e-9;
    free(A), free(B), free(C);
    /* sgemv: a (V, C) = (50257, 768) output projection, 154 MB, no cache reuse */
    const int R = 50257, Cc = 768;
    float *W = malloc(sizeof(float) * (size_t)R * Cc), *x = malloc(sizeof(float) * Cc),
          *y = malloc(sizeof(float) * R);
    fill(W, (size_t)R * Cc);
    fill(x, Cc);
    double bestv = 1e30;
    for (int r = 0; r < 9; r++) {
        double t0 = bench_now();
        cblas_sgemv(CblasRowMajor, CblasNoTrans, R, Cc, 1, W, Cc, x, 1, 0, y, 1);
        double t = bench_now() - t0;
        if (r > 0 && t < bestv) bestv = t;
    }
    double gbs = (double)R * Cc * sizeof(float) / bestv * 1e-9;
    /* The same product as mmgen issues it: 64-row cblas_sgemv calls spread
     * over N OpenMP threads (OpenBLAS single-threaded). OpenBLAS's one big
     * call can be slower than that; the ceiling is the better of the two. */
    openblas_set_num_threads(1);
    omp_set_num_threads(threads);
    double bestb = 1e30;
    for (int r = 0; r < 9; r++) {
        double t0 = bench_now();
        mmg__sgemm(0, 1, 1, R, Cc, 1.0f, x, Cc, W, Cc, 0.0f, y, R);
        double t = bench_now() - t0;
        if (r > 0 && t < bestb) bestb = t;
    }
    double gbs_blocked = (double)R * Cc * sizeof(float) / bestb * 1e-9;
    free(W), free(x), free(y);
    printf("{\"mode\": \"blas\", \"threads\": %d, \"sgemm_shape\": [%d, %d, %d], "
           "\"sgemm_gflops\": %.2f, \"sgemv_shape\": [%d, %d], \"sgemv_gbs\": %.2f, "
           "\"sgemv_one_call_gbs\": %.2f, \"sgemv_blocked_gbs\": %.2f}\n",
           threads, M, N, K, gflops, R, Cc, gbs > gbs_blocked ? gbs : gbs_blocked, gbs,
           gbs_blocked);
    return 0;
}

/* The weight types a model can be made in, with the bytes each matrix weight
 * takes. */
static const struct {
    const char *name;
    int32_t format;
    double bytes;
} WEIGHT_TYPES[] = {{"f32", MMG_WEIGHTS_F32, 4},
                    {"f16", MMG_WEIGHTS_F16, 2},
                    {"q8_0", MMG_WEIGHTS_Q8_0, BENCH_Q8_0_BYTES_PER_WEIGHT},
                    {"q4_0", MMG_WEIGHTS_Q4_0, BENCH_Q4_0_BYTES_PER_WEIGHT}};

static int model(const char *preset, int threads, int prefill, int decode, int repeat, int wt) {
    long baseline_kb = current_rss_kb();
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.n_encoder_layers = 0;
    c.norm_placement = MMG_NORM_PRE;
    c.activation = MMG_ACT_GELU_TANH;
    c.position_encoding = MMG_POS_LEARNED;
    c.tied_output = 1;
    if (strcmp(preset, "gpt2") == 0) {
        c.vocab_size = 50257, c.d_model = 768, c.n_heads = 12, c.n_decoder_layers = 12;
        c.d_ff = 3072, c.max_seq_len = 1024;
    } else {
        c.vocab_size = 8192, c.d_model = 256, c.n_heads = 4, c.n_decoder_layers = 4;
        c.d_ff = 1024, c.max_seq_len = 512;
    }
    if (prefill + decode > c.max_seq_len) {
        fprintf(stderr, "prefill + decode must be <= %d\n", c.max_seq_len);
        return 2;
    }
    mmg_model *m;
    mmg_context *ctx;
    mmg_model_options mo;
    mmg_model_options_init(&mo, sizeof mo);
    mo.weights = WEIGHT_TYPES[wt].format;
    if (mmg_model_create(&c, &mo, &m) != MMG_OK) {
        fprintf(stderr, "create: %s\n", mmg_last_error());
        return 1;
    }
    mmg_context_options o;
    mmg_context_options_init(&o, sizeof o);
    o.n_threads = threads;
    if (mmg_context_create(m, &o, &ctx) != MMG_OK) {
        fprintf(stderr, "context: %s\n", mmg_last_error());
        return 1;
    }
    /* Serving several sequences (below): BATCH slots, each prefilled with
     * BATCH_PROMPT tokens, then BATCH_STEPS batched steps; the token list
     * covers both runs. */
    enum { BATCH = 8, BATCH_PROMPT = 64, BATCH_STEPS = 32 };
    const int n_toks = prefill + decode > BATCH_PROMPT + BATCH + BATCH_STEPS ? prefill + decode
                                                                             : BATCH_PROMPT + BATCH + BATCH_STEPS;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)n_toks);
    for (int i = 0; i < n_toks; i++) toks[i] = (i * 7919) % c.vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)c.vocab_size);
    double best_prefill = 1e30, best_decode = 1e30;
    for (int r = 0; r < repeat; r++) {
        mmg_context_reset(ctx, 0);
        double t0 = bench_now();
        if (mmg_context_decode(ctx, 0, toks, prefill, logits, 0) != MMG_OK) {
            fprintf(stderr, "prefill: %s\n", mmg_last_error());
            return 1;
        }
        double t1 = bench_now();
        for (int i = 0; i < decode; i++)
            if (mmg_context_decode(ctx, 0, toks + prefill + i, 1, logits, 0) != MMG_OK) {
                fprintf(stderr, "decode: %s\n", mmg_last_error());
                return 1;
            }
        double t2 = bench_now();
        if (t1 - t0 < best_prefill) best_prefill = t1 - t0;
        if (t2 - t1 < best_decode) best_decode = t2 - t1;
    }
    /* Serving several sequences: one batched step per token for all of them. */
    double best_batch = 1e30, best_one = 1e30;
    long single_peak_kb = peak_rss_kb();
    mmg_context *bctx;
    o.n_slots = BATCH;
    o.max_seq_len = BATCH_PROMPT + BATCH_STEPS + 32; /* only what the run needs */
    if (mmg_context_create(m, &o, &bctx) != MMG_OK) {
        fprintf(stderr, "batch context: %s\n", mmg_last_error());
        return 1;
    }
    float *blogits = malloc(sizeof(float) * (size_t)c.vocab_size * BATCH);
    int32_t slots[BATCH], next[BATCH];
    for (int r = 0; r < repeat; r++) {
        for (int b = 0; b < BATCH; b++) {
            slots[b] = b;
            mmg_context_reset(bctx, b);
            mmg_context_decode(bctx, b, toks + b, BATCH_PROMPT, NULL, 0);
        }
        double t0 = bench_now();
        for (int i = 0; i < BATCH_STEPS; i++) {
            for (int b = 0; b < BATCH; b++) next[b] = toks[BATCH_PROMPT + b + i];
            if (mmg_context_decode_batch(bctx, BATCH, slots, next, blogits) != MMG_OK) {
                fprintf(stderr, "batch decode: %s\n", mmg_last_error());
                return 1;
            }
        }
        double t = bench_now() - t0;
        if (t < best_batch) best_batch = t;
        /* One sequence on the same terms (prompt, steps), right after: the
         * batch's speedup from runs seconds apart, not minutes. */
        mmg_context_reset(ctx, 0);
        mmg_context_decode(ctx, 0, toks, BATCH_PROMPT, NULL, 0);
        t0 = bench_now();
        for (int i = 0; i < BATCH_STEPS; i++)
            if (mmg_context_decode(ctx, 0, toks + BATCH_PROMPT + i, 1, logits, 0) != MMG_OK) {
                fprintf(stderr, "decode: %s\n", mmg_last_error());
                return 1;
            }
        t = bench_now() - t0;
        if (t < best_one) best_one = t;
    }
    mmg_context_free(bctx);
    free(blogits);

    const double C = c.d_model, L = c.n_decoder_layers, V = c.vocab_size, F = c.d_ff;
    /* Bytes each decode step must read: every weight matrix once (the token
     * and position embeddings only one row each, but the tied (V, C) table
     * once for the logits), LayerNorms, and the KV cache so far (average
     * position over the decode run). */
    double weights_bytes = (double)m->n_params * 4;
    double matrix_floats = L * (4 * C * C + 2 * C * F) + V * C;
    double avg_pos = prefill + decode / 2.0;
    double decode_bytes = matrix_floats * WEIGHT_TYPES[wt].bytes + 2 * L * avg_pos * C * 4;
    double kv_bytes = 2 * L * (double)c.max_seq_len * C * 4;
    /* Prefill FLOPs: 2 per weight per token for the layer matrices, causal
     * attention (QK^T and AV over on average P/2 keys), logits of the last
     * token only. */
    double P = prefill;
    double prefill_flops = 2 * L * (4 * C * C + 2 * C * F) * P + 2 * 2 * L * C * P * (P + 1) / 2 +
                           2 * V * C;
    char weights_bytes_json[32] = "null";
    if (WEIGHT_TYPES[wt].format == MMG_WEIGHTS_F32)
        snprintf(weights_bytes_json, sizeof weights_bytes_json, "%.0f", weights_bytes);
    printf("{\"mode\": \"model\", \"impl\": \"mmgen\", \"preset\": \"%s\", \"weights\": \"%s\", \"threads\": %d, "
           "\"vocab\": %d, \"d_model\": %d, \"layers\": %d, \"heads\": %d, \"ctx\": %d, "
           "\"params\": %zu, \"prefill_tokens\": %d, \"decode_tokens\": %d, "
           "\"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f, \"prefill_gflops\": %.2f, "
           "\"decode_gbs\": %.2f, \"weights_bytes\": %s, \"kv_cache_bytes\": %.0f, "
           "\"batch\": %d, \"batch_decode_tok_s\": %.2f, \"batch_one_decode_tok_s\": %.2f, "
           "\"batch_vs_one\": %.2f, "
           "\"peak_rss_bytes\": %ld, \"baseline_rss_bytes\": %ld}\n",
           preset, WEIGHT_TYPES[wt].name, mmg_context_threads(ctx), c.vocab_size, c.d_model, c.n_decoder_layers,
           c.n_heads, c.max_seq_len, m->n_params, prefill, decode, P / best_prefill,
           decode / best_decode, prefill_flops / best_prefill * 1e-9,
           decode_bytes * decode / best_decode * 1e-9, weights_bytes_json, kv_bytes, (int)BATCH,
           BATCH * BATCH_STEPS / best_batch, BATCH_STEPS / best_one, BATCH * best_one / best_batch,
           single_peak_kb * 1024, baseline_kb * 1024);
    free(toks);
    free(logits);
    mmg_context_free(ctx);
    mmg_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s blas|model [--preset small|gpt2] [--threads N] [--prefill P] "
                        "[--decode D] [--repeat R] [--weights f32|f16|q8_0|q4_0]\n", argv[0]);
        return 2;
    }
    const char *preset = "small";
    int threads = 0, prefill = -1, decode = 128, repeat = 3, wt = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--preset")) preset = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prefill")) prefill = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--decode")) decode = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--weights")) {
            const int n_types = (int)(sizeof WEIGHT_TYPES / sizeof WEIGHT_TYPES[0]);
            for (wt = 0; wt < n_types && strcmp(argv[i + 1], WEIGHT_TYPES[wt].name); wt++) {}
            if (wt == n_types) {
                fprintf(stderr, "unknown weight type %s (f32, f16, q8_0 or q4_0)\n", argv[i + 1]);
                return 2;
            }
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (threads <= 0) threads = mmg__threads_default();
    if (!strcmp(argv[1], "blas")) return blas(threads);
    if (prefill < 0) prefill = strcmp(preset, "gpt2") == 0 ? 512 : 256;
    return model(preset, threads, prefill, decode, repeat > 0 ? repeat : 1, wt);
}
