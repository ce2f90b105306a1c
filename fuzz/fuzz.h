/* fuzz/fuzz.h - what the fuzz targets share (fuzz/README.md).
 *
 * Every target defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize). Built with -DMMGEN_FUZZ=ON by clang they link
 * libFuzzer; in every other build they link fuzz/standalone_main.c instead,
 * which runs the committed corpus (fuzz/corpus/<target>/) through them as a
 * ctest regression test. A target aborts (FUZZ_CHECK) when an invariant that
 * must hold for every input breaks, e.g. decode(encode(x)) != x. */
#ifndef MMGEN_FUZZ_H
#define MMGEN_FUZZ_H

#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmgen/mmgen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                           \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz: %s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                               \
            fprintf(stderr, "\n");                                                      \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* With MMGEN_FUZZ_VERBOSE set, says what an input did (for checking that
 * seeds reach past the first check). */
#define FUZZ_NOTE(status, what)                                                         \
    do {                                                                                \
        if (getenv("MMGEN_FUZZ_VERBOSE"))                                               \
            fprintf(stderr, "fuzz: %s: %s %s\n", what, mmg_status_name(status),          \
                    (status) ? mmg_last_error() : "");                                  \
    } while (0)

/* A setup step that must work (a tokenizer made from a fixed config...). */
#define FUZZ_SETUP(call)                                                                \
    do {                                                                                \
        mmg_status s_ = (call);                                                         \
        if (s_) {                                                                       \
            fprintf(stderr, "fuzz: setup failed: %s: %s\n", #call, mmg_last_error());   \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* The input as a file for readers that take a path: an anonymous memory
 * file (memfd), named by /proc/self/fd/N in *path (at least 64 bytes).
 * Returns the descriptor to close, or -1. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path) {
    int fd = memfd_create("fuzz-input", 0);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

/* Opens a shipped plugin of the build tree by name. */
static inline mmg_plugin *fuzz_plugin(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/mmgen-%s.so", MMGEN_FUZZ_PLUGIN_DIR, name);
    mmg_plugin *p = NULL;
    FUZZ_SETUP(mmg_plugin_open(path, &p));
    return p;
}

#endif /* MMGEN_FUZZ_H */
