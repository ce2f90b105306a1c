/* tests/text_tool.c - a command-line driver of the text plugin for the
 * tiktoken parity checks (tests/check_tiktoken.sh) and the benchmark.
 *
 *   text_tool encode CONFIG FILE      print the ids of FILE, space-separated
 *   text_tool lossy-check CONFIG RAW LOSSY
 *       RAW holds invalid UTF-8, LOSSY is RAW as a WHATWG decoder (node's
 *       TextDecoder) replaced it, each ill-formed part by U+FFFD. Checks that
 *       the plugin's ill-formed units are the decoder's, that the pieces of RAW
 *       (pretokenize.c, compiled in) fall exactly where the pieces of LOSSY
 *       fall (an ill-formed unit acts as U+FFFD), and that RAW round-trips.
 *       LOSSY's own ids are compared with tiktoken's like any other text.
 * The plugin is $MMGEN_TEST_PLUGIN_DIR/mmgen-text.so. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretokenize.h"
#include "text_plugin_host.h"
#include "unicode.h"

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 1 << 20;
    uint8_t *b = malloc(cap);
    *n = 0;
    for (;;) {
        if (*n == cap) b = realloc(b, cap *= 2);
        size_t got = fread(b + *n, 1, cap - *n, f);
        if (!got) break;
        *n += got;
    }
    fclose(f);
    return b;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: text_tool encode CONFIG FILE | lossy-check CONFIG RAW LOSSY\n");
        return 2;
    }
    const mmg_plugin_descriptor *d = th_open_text(NULL);
    if (!d) return 1;
    void *t = th_create(d, argv[2]);
    if (!t) {
        fprintf(stderr, "create failed: %s\n", th_error);
        return 1;
    }
    if (strcmp(argv[1], "encode") == 0) {
        size_t n;
        uint8_t *doc = read_all(argv[3], &n);
        int32_t *ids;
        size_t count;
        if (d->encode(t, doc, n, &ids, &count)) {
            fprintf(stderr, "encode failed: %s\n", th_error);
            return 1;
        }
        for (size_t i = 0; i < count; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
        free(ids);
        free(doc);
    } else if (strcmp(argv[1], "lossy-check") == 0 && argc == 5) {
        size_t n_raw, n_lossy;
        uint8_t *raw = read_all(argv[3], &n_raw), *lossy = read_all(argv[4], &n_lossy);
        txt_pattern pattern = strstr(argv[2], "cl100k") ? TXT_PATTERN_CL100K : TXT_PATTERN_GPT2;
        /* 1. Our ill-formed units are the WHATWG decoder's: rebuild LOSSY.
         * map[i] is the LOSSY offset of RAW offset i at unit starts. */
        uint8_t *mine = malloc(3 * n_raw + 1);
        size_t m = 0, *map = malloc((n_raw + 1) * sizeof *map), bad = 0;
        for (size_t i = 0; i < n_raw;) {
            uint32_t cp;
            size_t len = txt_utf8_next(raw, n_raw, i, &cp);
            int valid = !(cp == 0xFFFD && !(len == 3 && raw[i] == 0xEF));
            map[i] = m;
            memcpy(mine + m, valid ? (const char *)raw + i : "\xEF\xBF\xBD", valid ? len : 3);
            m += valid ? len : 3;
            bad += !valid;
            i += len;
        }
        map[n_raw] = m;
        if (m != n_lossy || memcmp(mine, lossy, m) != 0) {
            fprintf(stderr, "FAIL: ill-formed UTF-8 is split into units differently from the "
                            "WHATWG decoder\n");
            return 1;
        }
        /* 2. The pieces of RAW, mapped to LOSSY offsets, are LOSSY's pieces. */
        size_t i = 0, j = 0, pieces = 0;
        while (i < n_raw || j < n_lossy) {
            if (i >= n_raw || j >= n_lossy) break;
            size_t ei = txt_piece_end(pattern, raw, n_raw, i);
            size_t ej = txt_piece_end(pattern, lossy, n_lossy, j);
            if (map[ei] != ej) {
                fprintf(stderr, "FAIL: piece at raw byte %zu ends at raw %zu (lossy %zu), but "
                                "the lossy piece ends at %zu\n", i, ei, map[ei], ej);
                return 1;
            }
            i = ei;
            j = ej;
            pieces++;
        }
        if (i != n_raw || j != n_lossy) {
            fprintf(stderr, "FAIL: piece counts differ\n");
            return 1;
        }
        /* 3. Round trip of the raw bytes. */
        int32_t *ids;
        size_t count;
        uint8_t *back;
        size_t n_back;
        if (d->encode(t, raw, n_raw, &ids, &count) || d->decode(t, ids, count, &back, &n_back)) {
            fprintf(stderr, "FAIL: %s\n", th_error);
            return 1;
        }
        if (n_back != n_raw || memcmp(back, raw, n_raw) != 0) {
            fprintf(stderr, "FAIL: decode(encode(raw)) != raw\n");
            return 1;
        }
        printf("%zu bytes, %zu ill-formed units, %zu pieces aligned, %zu tokens, round trip ok\n",
               n_raw, bad, pieces, count);
        free(raw), free(lossy), free(mine), free(map), free(ids), free(back);
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    d->destroy(t);
    return 0;
}
