/* tests/code_plugin_host.h - what the code plugin's tests share: the plugin
 * opened through the minimal host of text_plugin_host.h, a small tokenizer
 * fitted once per process on a few C headers and Python modules (a second or
 * two), and helpers to encode strings and copy a state into a tokenizer made
 * with other encode-time options. */
#ifndef MMGEN_TESTS_CODE_PLUGIN_HOST_H
#define MMGEN_TESTS_CODE_PLUGIN_HOST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_plugin_host.h"

/* Opens $MMGEN_TEST_PLUGIN_DIR/mmgen-code.so (or the build's). */
static inline const mmg_plugin_descriptor *ch_open_code(void) {
    char buf[4096];
    const char *dir = getenv("MMGEN_TEST_PLUGIN_DIR");
#ifdef MMGEN_TEST_PLUGIN_DIR
    if (!dir) dir = MMGEN_TEST_PLUGIN_DIR;
#endif
    snprintf(buf, sizeof buf, "%s/mmgen-code.so", dir ? dir : ".");
    return th_open_text(buf);
}

static inline uint8_t *ch_read(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)(n > 0 ? n : 0) + 1);
    size_t got = n > 0 ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    *size = got;
    return b;
}

/* The training sample: C headers and Python modules every Debian machine
 * with python3 has; files that are missing are skipped. */
static const char *const CH_SAMPLE[] = {
    "/usr/include/stdio.h", "/usr/include/stdlib.h", "/usr/include/string.h", "/usr/include/unistd.h",
    "/usr/include/signal.h", "/usr/include/pthread.h", "/usr/include/fcntl.h", "/usr/include/math.h",
    "/usr/include/zlib.h", "/usr/include/sqlite3.h",
    "/usr/lib/python3.11/os.py", "/usr/lib/python3.11/argparse.py", "/usr/lib/python3.11/typing.py",
    "/usr/lib/python3.11/subprocess.py", "/usr/lib/python3.11/inspect.py", "/usr/lib/python3.11/ast.py",
    "/usr/lib/python3.11/json/decoder.py", "/usr/lib/python3.11/textwrap.py"};

/* A tokenizer fitted on CH_SAMPLE with vocab_size `vocab`; the state bytes
 * (malloc'd) in *state so tests can make more instances. */
static inline void *ch_fit(const mmg_plugin_descriptor *d, int vocab, uint8_t **state, size_t *state_size) {
    size_t n = sizeof CH_SAMPLE / sizeof CH_SAMPLE[0], k = 0;
    mmg_plugin_document docs[sizeof CH_SAMPLE / sizeof CH_SAMPLE[0]];
    for (size_t i = 0; i < n; i++) {
        size_t size;
        uint8_t *b = ch_read(CH_SAMPLE[i], &size);
        if (b) docs[k++] = (mmg_plugin_document){b, size};
    }
    char config[64];
    snprintf(config, sizeof config, "{\"vocab_size\": %d}", vocab);
    void *t = th_create(d, config);
    if (t && (k == 0 || d->fit(t, docs, k) != 0)) {
        d->destroy(t);
        t = NULL;
    }
    for (size_t i = 0; i < k; i++) free((void *)docs[i].data);
    if (t && state && d->save_state(t, state, state_size) != 0) {
        d->destroy(t);
        t = NULL;
    }
    return t;
}

/* A tokenizer made with `config` that loads `state`; NULL on failure. */
static inline void *ch_with_state(const mmg_plugin_descriptor *d, const char *config, const uint8_t *state,
                                  size_t size) {
    void *t = th_create(d, config);
    if (t && d->load_state(t, state, size) != 0) {
        d->destroy(t);
        return NULL;
    }
    return t;
}

/* Encodes n bytes; returns the ids (malloc'd) and their count, NULL on error. */
static inline int32_t *ch_encode(const mmg_plugin_descriptor *d, void *t, const void *doc, size_t n,
                                 size_t *count) {
    int32_t *ids = NULL;
    if (d->encode(t, doc, n, &ids, count) != 0) return NULL;
    return ids;
}

#endif /* MMGEN_TESTS_CODE_PLUGIN_HOST_H */
