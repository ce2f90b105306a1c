/* tests/test_files.h - reading a whole file, for the plugin tests' helpers
 * (image_test.h, audio_test.h). */
#ifndef MMGEN_TESTS_TEST_FILES_H
#define MMGEN_TESTS_TEST_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The whole file, malloc'ed; NULL when it cannot be read. */
static inline uint8_t *test_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = (uint8_t *)malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

#endif
