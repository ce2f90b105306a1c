/* bench/bench_train.c - training throughput of mmgen's C trainer.
 *
 * Trains a GPT-2 style decoder-only model (pre-LN, tanh GELU, learned
 * positions, tied output, biases) on random tokens and reports, as a table
 * line and one JSON line:
 *   - tokens/s of the fastest of --steps timed steps (after --warmup untimed
 *     ones) and their mean: other processes only slow steps down,
 *   - achieved GFLOP/s: 6 * (matrix parameters, the tied head counted once as
 *     the output projection) * tokens + attention 12 * L * C * T per token
 *     (PaLM's count; the causal half is not discounted), divided by time,
 *   - the measured sgemm peak in the same run: mmg__sgemm (OpenBLAS in
 *     mmgen's thread split) on 2048^3 and on the model's largest product, and
 *     the fraction of it achieved,
 *   - peak RSS beside the theoretical need: params + grads + 2 AdamW moments
 *     (16 bytes per parameter) + activations + logits + backward workspace.
 * bench/train_torch.py trains the same model on the same batch shape;
 * bench/run_train.sh runs both and prints ratios.
 *
 *   bench_train [--preset small|gpt2] [--d 256] [--layers 4] [--heads 4]
 *               [--vocab 50257] [--ctx 256] [--batch 4] [--steps 3]
 *               [--warmup 1] [--threads N] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "model-impl.h"
#include "ops.h"
#include "threads.h"
#include "train_impl.h"
#include "mmgen/mmgen.h"

#include "bench_common.h"

/* GFLOP/s of C (M, N) = A (M, K) B^T, B (N, K), as the forward's linears call
 * it: the fastest of `reps` runs (other processes on the machine only ever
 * slow a run down, so the best is the closest to the machine's rate). */
static double sgemm_gflops(int M, int N, int K, int reps) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)N * K);
    float *c = malloc(sizeof(float) * (size_t)M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)N * K; i++) b[i] = (float)(i % 5) * 0.1f;
    mmg__sgemm(0, 1, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N); /* warm up */
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        mmg__sgemm(0, 1, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
        double dt = bench_now() - t0;
        if (dt < best) best = dt;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * M * N * (double)K / best / 1e9;
}

int main(int argc, char **argv) {
    int d = 256, layers = 4, heads = 4, vocab = 50257, ctx = 256, batch = 4, steps = 3, warmup = 1;
    int threads = 0;
    const char *preset = "small";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "%s needs a value\n", a); return 2; }
        if (!strcmp(a, "--preset")) {
            preset = v;
            if (!strcmp(v, "gpt2")) { d = 768; layers = 12; heads = 12; ctx = 1024; batch = 1; }
            else if (strcmp(v, "small")) { fprintf(stderr, "presets: small, gpt2\n"); return 2; }
        } else if (!strcmp(a, "--d")) d = atoi(v);
        else if (!strcmp(a, "--layers")) layers = atoi(v);
        else if (!strcmp(a, "--heads")) heads = atoi(v);
        else if (!strcmp(a, "--vocab")) vocab = atoi(v);
        else if (!strcmp(a, "--ctx")) ctx = atoi(v);
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
        i++;
    }
    threads = mmg__threads_resolve(threads);
    mmg__threads_init();
    mmg__threads_use(threads);

    mmg_model_config cfg;
    mmg_model_config_init(&cfg, sizeof cfg);
    cfg.vocab_size = vocab;
    cfg.d_model = d;
    cfg.n_heads = heads;
    cfg.n_encoder_layers = 0;
    cfg.n_decoder_layers = layers;
    cfg.d_ff = 4 * d;
    cfg.max_seq_len = ctx;
    cfg.norm_placement = MMG_NORM_PRE;
    cfg.activation = MMG_ACT_GELU_TANH;
    cfg.position_encoding = MMG_POS_LEARNED;
    cfg.tied_output = 1;
    cfg.bias = 1;
    mmg_model_options mo;
    mmg_model_options_init(&mo, sizeof mo);
    mo.seed = 1;
    mmg_model *m;
    if (mmg_model_create(&cfg, &mo, &m)) bench_die("model");
    mmg_train_options to;
    mmg_train_options_init(&to, sizeof to);
    to.learning_rate = 1e-4f;
    to.beta2 = 0.95f;
    to.weight_decay = 0.1f;
    to.n_threads = threads;
    mmg_trainer *t;
    if (mmg_trainer_create(m, &to, &t)) bench_die("trainer");

    const size_t nt = (size_t)batch * ctx;
    int32_t *tok = malloc(nt * sizeof(int32_t)), *lab = malloc(nt * sizeof(int32_t));
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < nt; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tok[i] = (int32_t)(x % (uint64_t)vocab);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        lab[i] = (int32_t)(x % (uint64_t)vocab);
    }
    mmg_batch b;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    b.batch_size = batch;
    b.tgt_len_max = ctx;
    b.tgt = tok;
    b.labels = lab;

    /* the sgemm peak first and again after training: the better of the two */
    double peak_sq0 = sgemm_gflops(2048, 2048, 2048, 5);
    float loss = 0.0f;
    for (int i = 0; i < warmup; i++)
        if (mmg_trainer_step(t, &b, &loss)) bench_die("step");
    double dt = 0.0, best_step = 1e30;
    for (int i = 0; i < steps; i++) {
        double t0 = bench_now();
        if (mmg_trainer_step(t, &b, &loss)) bench_die("step");
        double d1 = bench_now() - t0;
        dt += d1;
        if (d1 < best_step) best_step = d1;
    }
    double tps = (double)nt * steps / dt, tps_best = (double)nt / best_step;
    struct rusage ru; /* before the sgemm measurement allocates its own buffers */
    getrusage(RUSAGE_SELF, &ru);

    /* FLOPs per token: 6 x matrix parameters (embeddings are lookups; the tied
     * head is a V x C product) + attention 12 L C T */
    double C = d, F = 4.0 * d, L = layers;
    double matrix_params = L * (4 * C * C + 2 * C * F) + (double)vocab * C;
    double flops_per_token = 6.0 * matrix_params + 12.0 * L * C * ctx;
    double achieved = flops_per_token * tps_best / 1e9;

    double peak_sq = sgemm_gflops(2048, 2048, 2048, 5);
    if (peak_sq0 > peak_sq) peak_sq = peak_sq0;
    double peak_head = sgemm_gflops((int)nt, vocab, d, 3); /* the largest product of the step */
    double peak = peak_sq > peak_head ? peak_sq : peak_head;

    double rss_mb = ru.ru_maxrss / 1024.0;
    double n_params = (double)mmg_model_n_params(m);
    double acts_mb = mmg__activations_bytes(m, batch, 0, ctx) / 1048576.0;
    double logits_mb = (double)nt * vocab * 4 / 1048576.0;
    double ws_mb = mmg__backward_ws_bytes(m, batch, 0, ctx, threads) / 1048576.0;
    double state_mb = 16.0 * n_params / 1048576.0;
    double theory_mb = state_mb + acts_mb + logits_mb + ws_mb;

    printf("mmgen train %-5s d=%d L=%d H=%d V=%d ctx=%d batch=%d threads=%d: %.1f tokens/s "
           "(best step; mean %.1f), "
           "%.1f GFLOP/s = %.0f%% of sgemm peak %.1f (2048^3 %.1f, head %.1f); loss %.3f; "
           "peak RSS %.0f MB vs theory %.0f MB (state %.0f + activations %.0f + logits %.0f + "
           "backward %.0f)\n",
           preset, d, layers, heads, vocab, ctx, batch, threads, tps_best, tps, achieved,
           100.0 * achieved / peak, peak, peak_sq, peak_head, (double)loss, rss_mb, theory_mb,
           state_mb, acts_mb, logits_mb, ws_mb);
    printf("{\"bench\": \"train_tokens\", \"impl\": \"mmgen\", \"preset\": \"%s\", \"threads\": %d, "
           "\"d\": %d, \"layers\": %d, \"heads\": %d, \"vocab\": %d, \"ctx\": %d, \"batch\": %d, "
           "\"steps\": %d, \"params\": %.0f, \"seconds\": %.3f, \"tokens_per_s\": %.1f, "
           "\"tokens_per_s_best\": %.1f, "
           "\"gflops\": %.2f, \"sgemm_peak_gflops\": %.2f, \"fraction_of_peak\": %.3f, "
           "\"peak_rss_mb\": %.1f, \"theory_mb\": %.1f}\n",
           preset, threads, d, layers, heads, vocab, ctx, batch, steps, n_params, dt, tps, tps_best,
           achieved,
           peak, achieved / peak, rss_mb, theory_mb);
    free(tok);
    free(lab);
    mmg_trainer_free(t);
    mmg_model_free(m);
    return 0;
}
