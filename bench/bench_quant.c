/* bench/bench_quant.c - Q8_0, Q4_0 and F16 weights against F32: decode speed, the
 * memory bandwidth bound, and the loss on held-out tokens.
 *
 *   bench_quant speed [--preset gpt2|small] [--threads N] [--decode D]
 *                     [--prefill P] [--repeat R]
 *       creates one random GPT-2-shaped decoder-only model (gpt2: vocab
 *       50257, d 768, 12 layers, tied output) as F32, and the same weights in
 *       Q8_0 (also a variant whose tied output projection stays F32), in
 *       Q4_0 and in F16, then for each: prefills P tokens and decodes D more
 *       one at a time, R rounds interleaved (F32, Q8_0, Q8_0 with F32
 *       logits, Q4_0, F16, F32, ...), and
 *       prints medians of decode tokens/s and prefill tokens/s, the bytes each
 *       decode step reads, and what that is as GB/s. Then measures the read
 *       bandwidth of the machine (a 1 GiB array read on N threads in several
 *       patterns, the fastest each round, median of R rounds) and the
 *       decode ceiling it gives: bandwidth / bytes per token.
 *   bench_quant bandwidth [--threads N] [--repeat R]
 *       only the bandwidth measurement.
 *   bench_quant loss MODEL TOKENS [--val-fraction F] [--threads N]
 *       loads MODEL as F32, as Q8_0, as Q8_0 with F32 logits, as Q4_0 and as
 *       F16, and
 *       prints the mean cross-entropy on the last F (default 0.1) of the u16
 *       token ids in TOKENS (`mmgen tokenizer encode --format u16`), in
 *       non-overlapping windows of the model's max_seq_len (every window
 *       predicts its tokens 2..T from the ones before), with the largest
 *       logit difference from F32 and how often the top token agrees.
 * One JSON object per result on stdout. */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/context.h"
#include "mmgen/model.h"
#include "mmgen/status.h"
#include "gemv.h"
#include "model-impl.h"
#include "quant.h"

#include "bench_common.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The variants compared. Q8_0_F32_OUT is the Q8_0 model with its tied
 * output projection left in F32 (what keeping wte unquantized costs). */
enum { F32, Q8_0, Q8_0_F32_OUT, Q4_0, F16, N_VARIANTS };
static const char *const VARIANT_NAMES[] = {"f32", "q8_0", "q8_0_f32_logits", "q4_0", "f16"};

/* Bytes one decode step reads: the weight matrices once (the logits' (V, C)
 * matrix too), the KV cache up to `pos`. Embedding rows, LayerNorms and
 * biases are noise. */
static double step_bytes(const mmg_model_config *c, int variant, double pos) {
    const double C = c->d_model, F = c->d_ff, L = c->n_decoder_layers, V = c->vocab_size;
    const double layer_weights = L * (4 * C * C + 2 * C * F);
    const double q8 = BENCH_Q8_0_BYTES_PER_WEIGHT, q4 = BENCH_Q4_0_BYTES_PER_WEIGHT;
    double w = variant == F32    ? 4 * (layer_weights + V * C)
               : variant == F16  ? 2 * (layer_weights + V * C)
               : variant == Q4_0 ? q4 * (layer_weights + V * C)
                                 : q8 * layer_weights + (variant == Q8_0 ? q8 : 4.0) * V * C;
    return w + 2 * L * pos * C * 4;
}

/* The bandwidth probe. How fast one core reads memory depends on how it
 * reads: here (2026-12-08) one sequential stream a thread read 10-17 GB/s,
 * four streams a quarter of a 1 GiB array apart 12-15, and four streams 4 MB
 * apart 30 on one core (65 on two). A bound must not sit below what the
 * kernels reach, so the probe reads the array in several patterns and keeps
 * the fastest. A pattern is `streams` sequential streams read in lockstep,
 * `spacing` floats apart (0: the thread's share divided among them), with
 * 32-byte loads into independent xor chains (cheap enough that only memory
 * limits them); each thread reads its own contiguous share. */
typedef struct read_pattern {
    int streams;
    size_t spacing;
} read_pattern;

static const read_pattern READ_PATTERNS[] = {
    {1, 0},         {2, 0},         {4, 0},         {8, 0},         {4, 1u << 14},
    {4, 1u << 18},  {4, 1u << 20},  {8, 1u << 14},  {8, 1u << 18},  {8, 1u << 20},
};
#define N_READ_PATTERNS (sizeof READ_PATTERNS / sizeof READ_PATTERNS[0])
#define MAX_STREAMS 8

/* Reads n floats at p as `streams` (<= MAX_STREAMS) streams `spacing`
 * floats apart, block after block of streams * spacing floats. */
__attribute__((target("avx2"))) static uint64_t xor_streams(const float *p, size_t n, int streams,
                                                            size_t spacing) {
    __m256i acc[MAX_STREAMS];
    for (int s = 0; s < MAX_STREAMS; s++) acc[s] = _mm256_setzero_si256();
    const size_t block = (size_t)streams * spacing;
    for (size_t b = 0; b + block <= n; b += block)
        for (size_t i = 0; i < spacing; i += 8)
            for (int s = 0; s < streams; s++)
                acc[s] = _mm256_xor_si256(acc[s], _mm256_load_si256((const __m256i *)(p + b + s * spacing + i)));
    __m256i x = acc[0];
    for (int s = 1; s < MAX_STREAMS; s++) x = _mm256_xor_si256(x, acc[s]);
    return (uint64_t)_mm256_extract_epi64(x, 0) ^ (uint64_t)_mm256_extract_epi64(x, 3);
}

/* GB/s of one pass over n floats in pattern `rp` on the current threads. */
static double read_gbs(const float *a, size_t n, read_pattern rp) {
    double t0 = bench_now();
    uint64_t total = 0;
    size_t read = 0; /* floats read: whole blocks of each share */
#pragma omp parallel reduction(^ : total) reduction(+ : read)
    {
        /* shares and spacings whole 64-byte lines, so every load is aligned */
        const size_t share = n / (size_t)omp_get_num_threads() / 16 * 16;
        const size_t spacing = rp.spacing ? rp.spacing : share / (size_t)rp.streams / 16 * 16;
        total ^= xor_streams(a + share * (size_t)omp_get_thread_num(), share, rp.streams, spacing);
        read += share / (rp.streams * spacing) * (rp.streams * spacing);
    }
    double t = bench_now() - t0;
    if (total == 12345) fprintf(stderr, "unlikely\n"); /* keep the reads */
    return (double)read * sizeof(float) / t * 1e-9;
}

/* The machine's read bandwidth on `threads` threads: each of `repeat`
 * rounds reads 1 GiB once in every pattern and keeps the fastest; the
 * median of the rounds. *best_pattern: the pattern fastest most often. */
static double bandwidth(int threads, int repeat, int *best_pattern) {
    const size_t n = (size_t)1 << 28;
    float *a = aligned_alloc(64, n * sizeof(float));
    if (!a) bench_die("bandwidth buffer");
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 1023);
    omp_set_num_threads(threads > 0 ? threads : omp_get_max_threads());
    double *bw = calloc((size_t)repeat, sizeof(double));
    int wins[N_READ_PATTERNS] = {0};
    for (int r = 0; r < repeat; r++) {
        int best = 0;
        for (size_t k = 0; k < N_READ_PATTERNS; k++) {
            double g = read_gbs(a, n, READ_PATTERNS[k]);
            if (g > bw[r]) bw[r] = g, best = (int)k;
        }
        wins[best]++;
    }
    *best_pattern = 0;
    for (size_t k = 1; k < N_READ_PATTERNS; k++)
        if (wins[k] > wins[*best_pattern]) *best_pattern = (int)k;
    double gbs = median(bw, repeat);
    free(bw);
    free(a);
    return gbs;
}

/* The pattern's name in the JSON lines: "4 streams 1 MB apart". */
static void pattern_name(int k, char *buf, size_t size) {
    const read_pattern rp = READ_PATTERNS[k];
    if (rp.streams == 1)
        snprintf(buf, size, "1 stream");
    else if (!rp.spacing)
        snprintf(buf, size, "%d streams, a thread's share apart", rp.streams);
    else
        snprintf(buf, size, "%d streams %zu KB apart", rp.streams, rp.spacing * sizeof(float) / 1024);
}

static int speed(const char *preset, int threads, int prefill, int decode, int repeat) {
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
    mmg_model_options mo;
    mmg_model_options_init(&mo, sizeof mo);
    mmg_model *m[N_VARIANTS];
    if (mmg_model_create(&c, &mo, &m[F32]) != MMG_OK) bench_die("create f32");
    mo.weights = MMG_WEIGHTS_Q8_0;
    if (mmg_model_create(&c, &mo, &m[Q8_0]) != MMG_OK) bench_die("create q8_0");
    if (mmg_model_create(&c, &mo, &m[Q8_0_F32_OUT]) != MMG_OK) bench_die("create q8_0");
    m[Q8_0_F32_OUT]->lm_head_qm = NULL; /* the logits from the F32 tok_emb.weight */
    mo.weights = MMG_WEIGHTS_Q4_0;
    if (mmg_model_create(&c, &mo, &m[Q4_0]) != MMG_OK) bench_die("create q4_0");
    mo.weights = MMG_WEIGHTS_F16;
    if (mmg_model_create(&c, &mo, &m[F16]) != MMG_OK) bench_die("create f16");

    mmg_context *ctx[N_VARIANTS];
    mmg_context_options o;
    mmg_context_options_init(&o, sizeof o);
    o.n_threads = threads;
    o.max_seq_len = prefill + decode;
    for (int v = 0; v < N_VARIANTS; v++)
        if (mmg_context_create(m[v], &o, &ctx[v]) != MMG_OK) bench_die("context");
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(prefill + decode));
    for (int i = 0; i < prefill + decode; i++) toks[i] = (i * 7919) % c.vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)c.vocab_size);
    double *dec[N_VARIANTS], *pre[N_VARIANTS];
    for (int v = 0; v < N_VARIANTS; v++) {
        dec[v] = calloc((size_t)repeat, sizeof(double));
        pre[v] = calloc((size_t)repeat, sizeof(double));
    }
    for (int r = 0; r < repeat; r++)
        for (int v = 0; v < N_VARIANTS; v++) {
            mmg_context_reset(ctx[v], 0);
            double t0 = bench_now();
            if (mmg_context_decode(ctx[v], 0, toks, prefill, logits, 0) != MMG_OK) bench_die("prefill");
            double t1 = bench_now();
            for (int i = 0; i < decode; i++)
                if (mmg_context_decode(ctx[v], 0, toks + prefill + i, 1, logits, 0) != MMG_OK)
                    bench_die("decode");
            double t2 = bench_now();
            pre[v][r] = prefill / (t1 - t0);
            dec[v][r] = decode / (t2 - t1);
        }
    const double pos = prefill + decode / 2.0;
    double dec_med[N_VARIANTS];
    for (int v = 0; v < N_VARIANTS; v++) {
        dec_med[v] = median(dec[v], repeat);
        double bytes = step_bytes(&c, v, pos);
        printf("{\"mode\": \"speed\", \"variant\": \"%s\", \"kernel\": \"%s\", \"preset\": \"%s\", "
               "\"threads\": %d, \"prefill_tokens\": %d, \"decode_tokens\": %d, \"repeat\": %d, "
               "\"decode_tok_s_median\": %.2f, \"decode_tok_s_min\": %.2f, \"decode_tok_s_max\": %.2f, "
               "\"prefill_tok_s_median\": %.2f, \"bytes_per_token\": %.0f, \"decode_gbs\": %.2f}\n",
               VARIANT_NAMES[v], v == F32 || v == F16 ? mmg__gemv_kernel_name() : mmg__q8_kernel_name(), preset,
               mmg_context_threads(ctx[v]), prefill, decode, repeat, dec_med[v], dec[v][0],
               dec[v][repeat - 1], median(pre[v], repeat), bytes, bytes * dec_med[v] * 1e-9);
    }
    for (int v = 0; v < N_VARIANTS; v++) {
        mmg_context_free(ctx[v]);
        mmg_model_free(m[v]);
        free(dec[v]);
        free(pre[v]);
    }
    int pattern;
    double gbs = bandwidth(threads, repeat, &pattern);
    char name[64];
    pattern_name(pattern, name, sizeof name);
    printf("{\"mode\": \"bandwidth\", \"threads\": %d, \"read_gbs_median\": %.2f, \"pattern\": \"%s\", "
           "\"ceiling_tok_s\": {\"f32\": %.1f, \"q8_0\": %.1f, \"q8_0_f32_logits\": %.1f, "
           "\"q4_0\": %.1f, \"f16\": %.1f}}\n",
           threads, gbs, name, gbs * 1e9 / step_bytes(&c, F32, pos), gbs * 1e9 / step_bytes(&c, Q8_0, pos),
           gbs * 1e9 / step_bytes(&c, Q8_0_F32_OUT, pos), gbs * 1e9 / step_bytes(&c, Q4_0, pos),
           gbs * 1e9 / step_bytes(&c, F16, pos));
    free(toks);
    free(logits);
    return 0;
}

/* ---- loss ------------------------------------------------------------------------ */

static double window_loss(const int32_t *toks, int T, int V, const float *logits) {
    double sum = 0;
    for (int t = 0; t + 1 < T; t++) {
        const float *row = logits + (size_t)t * V;
        double mx = row[0];
        for (int j = 1; j < V; j++) mx = fmax(mx, row[j]);
        double z = 0;
        for (int j = 0; j < V; j++) z += exp(row[j] - mx);
        sum += mx + log(z) - row[toks[t + 1]];
    }
    return sum;
}

static int loss(const char *model_path, const char *tokens_path, double val_fraction, int threads) {
    FILE *f = fopen(tokens_path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", tokens_path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f) / 2;
    fseek(f, 0, SEEK_SET);
    uint16_t *raw = malloc(n * 2);
    if (fread(raw, 2, n, f) != n) return fprintf(stderr, "short read\n"), 1;
    fclose(f);
    const size_t first = n - (size_t)((double)n * val_fraction);
    mmg_model *m[N_VARIANTS];
    mmg_model_options mo;
    mmg_model_options_init(&mo, sizeof mo);
    mo.weights = MMG_WEIGHTS_F32;
    if (mmg_model_load(model_path, &mo, &m[F32]) != MMG_OK) bench_die("load f32");
    mo.weights = MMG_WEIGHTS_Q8_0;
    if (mmg_model_load(model_path, &mo, &m[Q8_0]) != MMG_OK) bench_die("load q8_0");
    if (mmg_model_load(model_path, &mo, &m[Q8_0_F32_OUT]) != MMG_OK) bench_die("load q8_0");
    if (m[Q8_0]->cfg.tied_output) m[Q8_0_F32_OUT]->lm_head_qm = NULL;
    mo.weights = MMG_WEIGHTS_Q4_0;
    if (mmg_model_load(model_path, &mo, &m[Q4_0]) != MMG_OK) bench_die("load q4_0");
    mo.weights = MMG_WEIGHTS_F16;
    if (mmg_model_load(model_path, &mo, &m[F16]) != MMG_OK) bench_die("load f16");
    const int T = m[F32]->cfg.max_seq_len, V = m[F32]->cfg.vocab_size;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)T);
    float *logits[N_VARIANTS];
    for (int v = 0; v < N_VARIANTS; v++) logits[v] = malloc(sizeof(float) * (size_t)T * V);
    double sum[N_VARIANTS] = {0}, max_diff[N_VARIANTS] = {0}, max_logit = 0;
    size_t count = 0, agree[N_VARIANTS] = {0};
    mmg_context *ctx[N_VARIANTS];
    mmg_context_options o;
    mmg_context_options_init(&o, sizeof o);
    o.n_threads = threads;
    for (int v = 0; v < N_VARIANTS; v++)
        if (mmg_context_create(m[v], &o, &ctx[v]) != MMG_OK) bench_die("context");
    for (size_t w = first; w + (size_t)T <= n; w += (size_t)T) {
        for (int t = 0; t < T; t++) toks[t] = raw[w + (size_t)t];
        for (int v = 0; v < N_VARIANTS; v++) {
            if (mmg_context_forward(ctx[v], 1, NULL, NULL, 0, toks, NULL, T, logits[v]) != MMG_OK)
                bench_die("forward");
            sum[v] += window_loss(toks, T, V, logits[v]);
        }
        /* logits against F32's: the largest difference, and top-1 agreement */
        for (int t = 0; t + 1 < T; t++) {
            const float *ref = logits[F32] + (size_t)t * V;
            int best_f = 0;
            for (int j = 0; j < V; j++) {
                max_logit = fmax(max_logit, fabs(ref[j]));
                if (ref[j] > ref[best_f]) best_f = j;
            }
            for (int v = 0; v < N_VARIANTS; v++) {
                const float *q = logits[v] + (size_t)t * V;
                int best = 0;
                for (int j = 0; j < V; j++) {
                    max_diff[v] = fmax(max_diff[v], fabs((double)q[j] - ref[j]));
                    if (q[j] > q[best]) best = j;
                }
                agree[v] += best == best_f;
            }
        }
        count += (size_t)T - 1;
    }
    for (int v = 0; v < N_VARIANTS; v++)
        printf("{\"mode\": \"loss\", \"variant\": \"%s\", \"model\": \"%s\", \"tokens\": %zu, "
               "\"loss\": %.5f, \"increase_vs_f32_percent\": %.3f, \"max_abs_logit_diff\": %.5f, "
               "\"max_abs_logit\": %.3f, \"top1_agreement\": %.5f}\n",
               VARIANT_NAMES[v], model_path, count, sum[v] / (double)count,
               100.0 * (sum[v] - sum[F32]) / sum[F32], max_diff[v], max_logit,
               (double)agree[v] / (double)count);
    for (int v = 0; v < N_VARIANTS; v++) {
        mmg_context_free(ctx[v]);
        mmg_model_free(m[v]);
    }
    for (int v = 0; v < N_VARIANTS; v++) free(logits[v]);
    free(raw), free(toks);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr,
                "usage: %s speed [--preset gpt2|small] [--threads N] [--prefill P] [--decode D] "
                "[--repeat R]\n       %s bandwidth [--threads N] [--repeat R]\n"
                "       %s loss MODEL TOKENS.u16 [--val-fraction F] [--threads N]\n",
                argv[0], argv[0], argv[0]);
        return 2;
    }
    const char *preset = "gpt2";
    int threads = 1, prefill = 16, decode = 64, repeat = 3, pos = 0;
    double val_fraction = 0.1;
    const char *args[2] = {NULL, NULL};
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--preset") && i + 1 < argc) preset = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--prefill") && i + 1 < argc) prefill = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--decode") && i + 1 < argc) decode = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--val-fraction") && i + 1 < argc) val_fraction = atof(argv[++i]);
        else if (pos < 2) args[pos++] = argv[i];
    }
    if (repeat < 1) repeat = 1;
    if (!strcmp(argv[1], "speed")) return speed(preset, threads, prefill < 1 ? 1 : prefill, decode, repeat);
    if (!strcmp(argv[1], "bandwidth")) {
        int pattern;
        double gbs = bandwidth(threads, repeat, &pattern);
        char name[64];
        pattern_name(pattern, name, sizeof name);
        printf("{\"mode\": \"bandwidth\", \"threads\": %d, \"read_gbs_median\": %.2f, \"pattern\": \"%s\"}\n",
               threads, gbs, name);
        return 0;
    }
    if (!strcmp(argv[1], "loss") && pos == 2) return loss(args[0], args[1], val_fraction, threads);
    fprintf(stderr, "unknown mode '%s'\n", argv[1]);
    return 2;
}
