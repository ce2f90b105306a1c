/* bench/bench_text.c - the text plugin's speed, for bench/run_text.sh, which
 * runs tiktoken and Hugging Face tokenizers on the same input in the same run.
 *
 *   bench_text encode PLUGIN CONFIG FILE REPS OUT_IDS
 *       encodes FILE REPS times, each time with a fresh tokenizer (so the
 *       piece cache starts cold, vocabulary loading not timed); prints the
 *       median MB/s and writes the ids to OUT_IDS for the identity check.
 *   bench_text train PLUGIN FILE VOCAB_SIZE PATTERN REPS
 *       learns a VOCAB_SIZE vocabulary from FILE; prints the median seconds.
 * Single-threaded. The plugin is dlopened with a minimal host table. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmgen/plugin.h"

#include "bench_common.h"

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

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)size + 1);
    *n = fread(b, 1, (size_t)size, f);
    fclose(f);
    return b;
}

static void *create(const mmg_plugin_descriptor *d, const char *config) {
    void *t;
    if (d->create(config, strlen(config), &t)) {
        fprintf(stderr, "create: %s\n", last_error);
        exit(1);
    }
    return t;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_text encode PLUGIN CONFIG FILE REPS OUT_IDS | train PLUGIN FILE VOCAB PATTERN REPS\n");
        return 2;
    }
    void *so = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    mmg_plugin_entry_fn entry = (mmg_plugin_entry_fn)dlsym(so, MMG_PLUGIN_ENTRY_SYMBOL);
    const mmg_plugin_descriptor *d = entry ? entry() : NULL;
    if (!d || d->init(&host)) return 1;
    double times[64];
    if (strcmp(argv[1], "encode") == 0 && argc == 7) {
        size_t n;
        uint8_t *doc = read_all(argv[4], &n);
        int reps = atoi(argv[5]);
        if (reps < 1 || reps > 64) reps = 5;
        int32_t *ids = NULL;
        size_t count = 0;
        for (int r = 0; r < reps; r++) {
            void *t = create(d, argv[3]);
            free(ids);
            double t0 = bench_now();
            if (d->encode(t, doc, n, &ids, &count)) {
                fprintf(stderr, "encode: %s\n", last_error);
                return 1;
            }
            times[r] = bench_now() - t0;
            d->destroy(t);
        }
        qsort(times, (size_t)reps, sizeof *times, cmp_double);
        double med = times[reps / 2];
        FILE *f = fopen(argv[6], "w");
        for (size_t i = 0; i < count; i++) fprintf(f, i ? " %d" : "%d", ids[i]);
        fprintf(f, "\n");
        fclose(f);
        printf("%.2f MB/s  %zu tokens  %.4f s (median of %d)\n", (double)n / 1e6 / med, count, med, reps);
    } else if (strcmp(argv[1], "train") == 0 && argc == 7) {
        size_t n;
        uint8_t *doc = read_all(argv[3], &n);
        int reps = atoi(argv[6]);
        if (reps < 1 || reps > 64) reps = 3;
        char config[256];
        snprintf(config, sizeof config, "{\"vocab_size\": %s, \"pattern\": \"%s\"}", argv[4], argv[5]);
        int32_t size = 0;
        for (int r = 0; r < reps; r++) {
            void *t = create(d, config);
            mmg_plugin_document docs = {doc, n};
            double t0 = bench_now();
            if (d->fit(t, &docs, 1)) {
                fprintf(stderr, "fit: %s\n", last_error);
                return 1;
            }
            times[r] = bench_now() - t0;
            size = d->vocab_size(t);
            d->destroy(t);
        }
        qsort(times, (size_t)reps, sizeof *times, cmp_double);
        printf("%.3f s  vocabulary %d (median of %d)\n", times[reps / 2], size, reps);
    } else {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    return 0;
}
