/* bench/bench_code.c - bytes per token and encode speed of a BPE tokenizer
 * on a list of files, for bench/run_code.sh, which compares the code plugin
 * with the text plugin's GPT-2, p50k, cl100k and a text BPE learned on the
 * same code.
 *
 *   bench_code eval PLUGIN SOURCE LIST REPS
 *       SOURCE is a JSON config ("{...}") or a tokenizer file written by
 *       `mmgen tokenizer fit` (its saved state is loaded into a tokenizer
 *       made without a config). Encodes every file of LIST (one path per
 *       line) REPS times and prints one line:
 *         files=N bytes=B tokens=T bytes_per_token=X mb_per_s=Y roundtrip=ok|FAILED
 *       Speed is the best of REPS passes over the whole list (the least
 *       disturbed by other work on a shared machine), single-threaded, files
 *       already in memory, each pass with a fresh tokenizer (so the piece
 *       cache starts cold); the first pass also decodes every file (the
 *       round trip) and is timed without it.
 *   bench_code constraint PLUGIN TOKFILE FILE
 *       the cost of the constraint extension per generated token: asks for
 *       the mask after each prefix of FILE's tokens, in order, as generation
 *       does; prints the mean and the worst microseconds per call.
 * The plugin is dlopened with a minimal host table (no libmmgen). */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmgen/plugin.h"

static char last_error[1024];
static void *h_alloc(size_t n) { return malloc(n ? n : 1); }
static void *h_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
static void h_free(void *p) { free(p); }
static void h_log(int level, const char *fmt, ...) { (void)level, (void)fmt; }
static int h_error(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
static const mmg_host_services host = {sizeof host, MMG_PLUGIN_ABI_VERSION, h_alloc, h_realloc,
                                       h_free, h_log, h_error};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *size = n;
    return buf;
}

static void die(const char *what) {
    fprintf(stderr, "bench_code: %s%s%s\n", what, last_error[0] ? ": " : "", last_error);
    exit(1);
}

static int b64(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* A tokenizer from a JSON config, or from the state inside a tokenizer file
 * ("state": "<base64>"). */
static void *make_tokenizer(const mmg_plugin_descriptor *d, const char *source) {
    void *t = NULL;
    if (source[0] == '{') {
        if (d->create(source, strlen(source), &t)) die("create");
        return t;
    }
    size_t n;
    char *json = (char *)read_all(source, &n);
    if (!json) die("cannot read the tokenizer file");
    json = realloc(json, n + 1);
    json[n] = 0;
    char *s = strstr(json, "\"state\"");
    if (s) s = strchr(s + 7, '"');
    if (!s) die("no \"state\" in the tokenizer file");
    s++;
    size_t len = strcspn(s, "\"");
    uint8_t *state = malloc(len / 4 * 3 + 3);
    size_t m = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64((unsigned char)s[i]);
        if (v < 0) continue; /* padding */
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            state[m++] = (uint8_t)(acc >> bits);
        }
    }
    if (d->create(NULL, 0, &t) || d->load_state(t, state, m)) die("loading the tokenizer's state");
    free(state);
    free(json);
    return t;
}

static const mmg_plugin_descriptor *open_plugin(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "bench_code: cannot open %s: %s\n", path, dlerror());
        exit(1);
    }
    mmg_plugin_entry_fn entry = (mmg_plugin_entry_fn)dlsym(h, MMG_PLUGIN_ENTRY_SYMBOL);
    const mmg_plugin_descriptor *d = entry ? entry() : NULL;
    if (!d || d->init(&host)) die("no usable plugin entry");
    return d;
}

static int eval(const mmg_plugin_descriptor *d, const char *source, const char *list, int reps) {
    void *t = make_tokenizer(d, source);
    size_t list_size;
    char *names = (char *)read_all(list, &list_size);
    if (!names) die("cannot read the file list");
    names = realloc(names, list_size + 1);
    names[list_size] = 0;
    size_t n_files = 0, cap = 1024;
    uint8_t **docs = malloc(cap * sizeof *docs);
    size_t *sizes = malloc(cap * sizeof *sizes), total = 0;
    for (char *line = strtok(names, "\n"); line; line = strtok(NULL, "\n")) {
        if (!*line) continue;
        if (n_files == cap) {
            docs = realloc(docs, (cap *= 2) * sizeof *docs);
            sizes = realloc(sizes, cap * sizeof *sizes);
        }
        docs[n_files] = read_all(line, &sizes[n_files]);
        if (!docs[n_files]) {
            fprintf(stderr, "bench_code: cannot read %s\n", line);
            return 1;
        }
        total += sizes[n_files++];
    }
    double *secs = malloc((size_t)reps * sizeof *secs);
    size_t tokens = 0;
    int roundtrip = 1;
    for (int r = 0; r < reps; r++) {
        if (r) {
            d->destroy(t);
            t = make_tokenizer(d, source);
        }
        tokens = 0;
        secs[r] = 0;
        for (size_t i = 0; i < n_files; i++) {
            int32_t *ids;
            size_t count;
            double t0 = now();
            if (d->encode(t, docs[i], sizes[i], &ids, &count)) die("encode");
            secs[r] += now() - t0;
            tokens += count;
            if (r == 0) {
                uint8_t *back;
                size_t m;
                if (d->decode(t, ids, count, &back, &m)) die("decode");
                if (m != sizes[i] || memcmp(back, docs[i], m) != 0) roundtrip = 0;
                free(back);
            }
            free(ids);
        }
    }
    qsort(secs, (size_t)reps, sizeof *secs, cmp_double);
    double s = secs[0];
    printf("files=%zu bytes=%zu tokens=%zu bytes_per_token=%.4f mb_per_s=%.2f roundtrip=%s\n", n_files, total,
           tokens, (double)total / (double)tokens, (double)total / 1e6 / s, roundtrip ? "ok" : "FAILED");
    for (size_t i = 0; i < n_files; i++) free(docs[i]);
    free(docs), free(sizes), free(secs), free(names);
    d->destroy(t);
    return roundtrip ? 0 : 1;
}

static int constraint(const mmg_plugin_descriptor *d, const char *source, const char *file) {
    void *t = make_tokenizer(d, source);
    const mmg_ext_constraint_v1 *c = d->get_extension ? d->get_extension(t, MMG_EXT_CONSTRAINT_V1) : NULL;
    if (!c) die("the plugin has no constraint extension");
    size_t size;
    uint8_t *doc = read_all(file, &size);
    if (!doc) die("cannot read the file");
    int32_t *ids;
    size_t count;
    if (d->encode(t, doc, size, &ids, &count)) die("encode");
    size_t vocab = (size_t)d->vocab_size(t);
    uint8_t *mask = malloc(vocab);
    double total = 0, worst = 0;
    size_t refused = 0;
    for (size_t i = 0; i < count; i++) {
        memset(mask, 1, vocab);
        double t0 = now();
        if (c->allowed_next(t, ids, i, mask, vocab)) die("allowed_next");
        double dt = now() - t0;
        total += dt;
        if (dt > worst) worst = dt;
        refused += !mask[ids[i]];
    }
    printf("tokens=%zu us_per_token_mean=%.1f us_per_token_worst=%.1f own_tokens_refused=%zu\n", count,
           1e6 * total / (double)(count ? count : 1), 1e6 * worst, refused);
    free(mask), free(ids), free(doc);
    d->destroy(t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && strcmp(argv[1], "eval") == 0)
        return eval(open_plugin(argv[2]), argv[3], argv[4], atoi(argv[5]) > 0 ? atoi(argv[5]) : 1);
    if (argc == 5 && strcmp(argv[1], "constraint") == 0) return constraint(open_plugin(argv[2]), argv[3], argv[4]);
    fprintf(stderr, "usage: bench_code eval PLUGIN CONFIG|TOKFILE LIST REPS | constraint PLUGIN TOKFILE FILE\n");
    return 2;
}
