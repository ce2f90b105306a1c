/* bench/bench_llama.c - mmgen's side of bench/run_llama.sh (mmgen beside
 * llama.cpp on the same GGUF-converted model), through the public API only.
 *
 *   bench_llama create -o MODEL [--seed S] [--tokenizer TOK.json]
 *       a GPT-2-small-shaped model (vocab 50257, d 768, 12 layers, 12 heads,
 *       ctx 1024; pre-LN, gelu_tanh, learned positions, tied output) with
 *       GPT-2's scaled random init from the seed, saved as safetensors; with
 *       --tokenizer, that tokenizer document is embedded (`mmgen tokenizer
 *       new` output), so the GGUF file gets its vocabulary.
 *   bench_llama speed --model MODEL --threads N [--prefill P] [--decode D]
 *                     [--rounds R]
 *       llama-bench's two tests, measured its way: after one warm-up, each
 *       round clears the cache and times a P-token prompt in one call (the
 *       last token's logits, as pp<P>), then clears it again and times D
 *       tokens decoded one at a time from an empty cache, each with its
 *       logits (tg<D>). Prints one JSON line: every round's tokens/s and the
 *       medians.
 *   bench_llama logits --model MODEL --ids 1,2,3 -o OUT.f32
 *       the logits of every position of one sequence, (n, vocab) float32
 *       little-endian, for comparing with bench_llama_logits (llama.cpp).
 *   bench_llama compare A.f32 B.f32 --vocab V
 *       max |A - B|, the largest |logit|, and in how many positions the
 *       argmax agrees; one JSON line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/context.h"
#include "mmgen/model.h"
#include "mmgen/status.h"
#include "mmgen/tokenizer.h"

#include "bench_common.h"

char *openblas_get_corename(void); /* OpenBLAS: the kernels it loaded (prompts use them) */

static const char *arg(int argc, char **argv, const char *name, const char *def) {
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return def;
}

static char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            char *grown = realloc(buf, cap + 1);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = 0;
    *size = n;
    return buf;
}

static int create(int argc, char **argv) {
    const char *out = arg(argc, argv, "-o", NULL), *tok = arg(argc, argv, "--tokenizer", NULL);
    if (!out) {
        fprintf(stderr, "create: give -o MODEL\n");
        return 2;
    }
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = 50257, c.d_model = 768, c.n_heads = 12, c.n_encoder_layers = 0, c.n_decoder_layers = 12;
    c.d_ff = 3072, c.max_seq_len = 1024;
    c.norm_placement = MMG_NORM_PRE, c.activation = MMG_ACT_GELU_TANH, c.position_encoding = MMG_POS_LEARNED;
    c.tied_output = 1;
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = strtoull(arg(argc, argv, "--seed", "1"), NULL, 10);
    o.init_scheme = MMG_INIT_GPT2;
    mmg_model *m;
    if (mmg_model_create(&c, &o, &m) != MMG_OK) bench_die("creating the model");
    if (tok) {
        size_t size;
        char *doc = read_all(tok, &size);
        if (!doc) {
            perror(tok);
            return 1;
        }
        if (mmg_model_set_metadata(m, MMG_METADATA_TOKENIZER, doc) != MMG_OK) bench_die("embedding the tokenizer");
        free(doc);
    }
    if (mmg_model_save(m, out) != MMG_OK) bench_die("saving the model");
    mmg_model_free(m);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *x, int n) {
    double *s = malloc(sizeof *s * (size_t)n);
    memcpy(s, x, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

static void print_list(const char *key, const double *x, int n) {
    printf("\"%s\": [", key);
    for (int i = 0; i < n; i++) printf("%s%.3f", i ? ", " : "", x[i]);
    printf("], ");
}

static int speed(int argc, char **argv) {
    const char *path = arg(argc, argv, "--model", NULL);
    int threads = atoi(arg(argc, argv, "--threads", "1"));
    int prefill = atoi(arg(argc, argv, "--prefill", "128")), decode = atoi(arg(argc, argv, "--decode", "64"));
    int rounds = atoi(arg(argc, argv, "--rounds", "3"));
    if (!path || threads < 1 || prefill < 1 || decode < 1 || rounds < 1 || rounds > 100) {
        fprintf(stderr, "speed: give --model MODEL and positive --threads/--prefill/--decode/--rounds\n");
        return 2;
    }
    mmg_model *m;
    if (mmg_model_load(path, NULL, &m) != MMG_OK) bench_die("loading the model");
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    mmg_model_get_config(m, &c);
    mmg_context_options o;
    mmg_context_options_init(&o, sizeof o);
    o.n_threads = threads;
    o.max_seq_len = prefill > decode ? prefill : decode; /* llama-bench's n_ctx is what a test needs */
    mmg_context *ctx;
    if (mmg_context_create(m, &o, &ctx) != MMG_OK) bench_die("creating the context");
    int n = prefill > decode ? prefill : decode;
    int32_t *toks = malloc(sizeof *toks * (size_t)n);
    float *logits = malloc(sizeof *logits * (size_t)c.vocab_size);
    double *pp = malloc(sizeof *pp * (size_t)rounds), *tg = malloc(sizeof *tg * (size_t)rounds);
    uint32_t s = 42;
    for (int i = 0; i < n; i++) s = s * 1664525u + 1013904223u, toks[i] = (int32_t)((s >> 8) % (uint32_t)c.vocab_size);
    /* warm-up, as llama-bench: one prompt, one token */
    if (mmg_context_decode(ctx, 0, toks, prefill, logits, 0) != MMG_OK) bench_die("prefill");
    mmg_context_reset(ctx, 0);
    if (mmg_context_decode(ctx, 0, toks, 1, logits, 0) != MMG_OK) bench_die("decode");
    for (int r = 0; r < rounds; r++) {
        mmg_context_reset(ctx, 0);
        double t0 = bench_now();
        if (mmg_context_decode(ctx, 0, toks, prefill, logits, 0) != MMG_OK) bench_die("prefill");
        pp[r] = prefill / (bench_now() - t0);
        mmg_context_reset(ctx, 0);
        t0 = bench_now();
        for (int i = 0; i < decode; i++)
            if (mmg_context_decode(ctx, 0, toks + i, 1, logits, 0) != MMG_OK) bench_die("decode");
        tg[r] = decode / (bench_now() - t0);
    }
    printf("{\"impl\": \"mmgen\", \"model\": \"%s\", \"threads\": %d, \"n_prompt\": %d, \"n_gen\": %d, "
           "\"openblas_core\": \"%s\", ",
           path, mmg_context_threads(ctx), prefill, decode, openblas_get_corename());
    print_list("pp_samples_ts", pp, rounds);
    print_list("tg_samples_ts", tg, rounds);
    printf("\"pp_median_ts\": %.3f, \"tg_median_ts\": %.3f}\n", median(pp, rounds), median(tg, rounds));
    free(toks), free(logits), free(pp), free(tg);
    mmg_context_free(ctx);
    mmg_model_free(m);
    return 0;
}

/* "1,2,3" -> ids; returns the count, 0 on a bad list. */
static int parse_ids(const char *text, int32_t *ids, int max) {
    int n = 0;
    for (const char *p = text; *p && n < max;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > INT32_MAX) return 0;
        ids[n++] = (int32_t)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return 0;
    }
    return n;
}

static int logits(int argc, char **argv) {
    const char *path = arg(argc, argv, "--model", NULL), *ids_text = arg(argc, argv, "--ids", NULL);
    const char *out = arg(argc, argv, "-o", NULL);
    int32_t ids[1024];
    int n = ids_text ? parse_ids(ids_text, ids, 1024) : 0;
    if (!path || !out || n < 1) {
        fprintf(stderr, "logits: give --model MODEL --ids 1,2,3 -o OUT\n");
        return 2;
    }
    mmg_model *m;
    if (mmg_model_load(path, NULL, &m) != MMG_OK) bench_die("loading the model");
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    mmg_model_get_config(m, &c);
    mmg_context *ctx;
    if (mmg_context_create(m, NULL, &ctx) != MMG_OK) bench_die("creating the context");
    float *lg = malloc(sizeof *lg * (size_t)n * (size_t)c.vocab_size);
    if (mmg_context_decode(ctx, 0, ids, n, lg, 1) != MMG_OK) bench_die("decode");
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(lg, sizeof *lg, (size_t)n * (size_t)c.vocab_size, f) != (size_t)n * (size_t)c.vocab_size) {
        perror(out);
        return 1;
    }
    fclose(f);
    free(lg);
    mmg_context_free(ctx);
    mmg_model_free(m);
    return 0;
}

static int compare(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "compare: give A.f32 B.f32 --vocab V\n");
        return 2;
    }
    long V = atol(arg(argc, argv, "--vocab", "0"));
    size_t na, nb;
    float *a = (float *)read_all(argv[2], &na), *b = (float *)read_all(argv[3], &nb);
    if (!a || !b || na != nb || V < 1 || na % (sizeof(float) * (size_t)V)) {
        fprintf(stderr, "compare: %s and %s are not logits of the same shape (vocab %ld)\n", argv[2], argv[3], V);
        return 1;
    }
    size_t n = na / sizeof(float) / (size_t)V;
    double max_diff = 0, max_abs = 0, sum_sq = 0;
    int agree = 0;
    for (size_t t = 0; t < n; t++) {
        const float *x = a + t * (size_t)V, *y = b + t * (size_t)V;
        long ax = 0, ay = 0;
        for (long v = 0; v < V; v++) {
            double d = fabs((double)x[v] - (double)y[v]);
            if (d > max_diff || isnan(d)) max_diff = isnan(d) ? INFINITY : d;
            if (fabs(x[v]) > max_abs) max_abs = fabs(x[v]);
            sum_sq += d * d;
            if (x[v] > x[ax]) ax = v;
            if (y[v] > y[ay]) ay = v;
        }
        agree += ax == ay;
    }
    printf("{\"positions\": %zu, \"vocab\": %ld, \"max_abs_diff\": %.3g, \"rms_diff\": %.3g, \"max_abs_logit\": %.4g, "
           "\"argmax_agree\": %d}\n",
           n, V, max_diff, sqrt(sum_sq / (double)(n * (size_t)V)), max_abs, agree);
    free(a), free(b);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s create|speed|logits|compare ... (see the comment at the top of bench_llama.c)\n",
                argv[0]);
        return 2;
    }
    if (!strcmp(argv[1], "create")) return create(argc, argv);
    if (!strcmp(argv[1], "speed")) return speed(argc, argv);
    if (!strcmp(argv[1], "logits")) return logits(argc, argv);
    if (!strcmp(argv[1], "compare")) return compare(argc, argv);
    fprintf(stderr, "unknown mode '%s'\n", argv[1]);
    return 2;
}
