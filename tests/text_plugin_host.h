/* tests/text_plugin_host.h - a minimal host for the text plugin, used by its
 * tests and tools: dlopen the module, hand it malloc-backed services, keep
 * the last error message. It lets the text plugin be tested on its own,
 * without the library's loader in between (test_text_api.c goes through the
 * library). */
#ifndef MMGEN_TESTS_TEXT_PLUGIN_HOST_H
#define MMGEN_TESTS_TEXT_PLUGIN_HOST_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/plugin.h"

static _Thread_local char th_error[1024];
static _Thread_local int th_status;

static void *th_alloc(size_t n) { return malloc(n ? n : 1); }
static void *th_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
static void th_free(void *p) { free(p); }
static void th_log(int level, const char *fmt, ...) {
    if (!getenv("TEXT_TEST_LOG")) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[plugin %d] ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
static int th_error_fn(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(th_error, sizeof th_error, fmt, ap);
    va_end(ap);
    th_status = status;
    return status;
}

static const mmg_host_services th_services = {sizeof(mmg_host_services), MMG_PLUGIN_ABI_VERSION,
                                              th_alloc, th_realloc, th_free, th_log, th_error_fn};

/* Opens the text plugin at `path` (NULL: $MMGEN_TEST_PLUGIN_DIR/mmgen-text.so,
 * then the compile-time MMGEN_TEST_PLUGIN_DIR) and runs init. NULL on failure,
 * with a message on stderr. */
static inline const mmg_plugin_descriptor *th_open_text(const char *path) {
    char buf[4096];
    if (!path) {
        const char *dir = getenv("MMGEN_TEST_PLUGIN_DIR");
#ifdef MMGEN_TEST_PLUGIN_DIR
        if (!dir) dir = MMGEN_TEST_PLUGIN_DIR;
#endif
        if (!dir) dir = ".";
        snprintf(buf, sizeof buf, "%s/mmgen-text.so", dir);
        path = buf;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "cannot open %s: %s\n", path, dlerror());
        return NULL;
    }
    mmg_plugin_entry_fn entry = (mmg_plugin_entry_fn)dlsym(h, MMG_PLUGIN_ENTRY_SYMBOL);
    const mmg_plugin_descriptor *d = entry ? entry() : NULL;
    if (!d || d->init(&th_services) != 0) {
        fprintf(stderr, "%s: no usable entry point\n", path);
        return NULL;
    }
    return d;
}

/* Creates a tokenizer from a NUL-terminated config; NULL on failure (the
 * message stays in th_error). */
static inline void *th_create(const mmg_plugin_descriptor *d, const char *config) {
    void *t = NULL;
    if (d->create(config, strlen(config), &t) != 0) return NULL;
    return t;
}

/* The shared data folder ($MMGEN_TEST_DATA), or NULL when it is absent. */
static inline const char *th_data_dir(void) {
    const char *d = getenv("MMGEN_TEST_DATA");
    if (!d) {
#ifdef MMGEN_SOURCE_DIR
        static char buf[4096];
        snprintf(buf, sizeof buf, "%s/../shared/data", MMGEN_SOURCE_DIR);
        d = buf;
#else
        return NULL;
#endif
    }
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/gpt2/vocab.bpe", d);
    FILE *f = fopen(probe, "rb");
    if (!f) return NULL;
    fclose(f);
    return d;
}

/* A config for one of tiktoken's encodings ("gpt2", "r50k_base", "p50k_base",
 * "cl100k_base") read from the shared data; static storage. */
static inline const char *th_config(const char *data, const char *encoding) {
    static char buf[8192];
    if (strcmp(encoding, "gpt2") == 0)
        snprintf(buf, sizeof buf,
                 "{\"vocab\": \"gpt2\", \"encoder_json\": \"%s/gpt2/encoder.json\", "
                 "\"vocab_bpe\": \"%s/gpt2/vocab.bpe\"}",
                 data, data);
    else
        snprintf(buf, sizeof buf, "{\"tiktoken\": \"%s/gpt2/%s.tiktoken\"}", data, encoding);
    return buf;
}

#endif /* MMGEN_TESTS_TEXT_PLUGIN_HOST_H */
