/* cli/tokens_io.c - token ids as text or binary (see tokens_io.h). */
#include "tokens_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *const tokens_format_names[] = {"text", "lines", "u16", "u32", NULL};

int tokens_buf_append(uint8_t **buf, size_t *len, size_t *cap, const void *data, size_t size) {
    if (*len + size > *cap) {
        size_t ncap = *cap ? *cap : 4096;
        while (ncap < *len + size) ncap *= 2;
        uint8_t *nb = realloc(*buf, ncap);
        if (!nb) return -1;
        *buf = nb;
        *cap = ncap;
    }
    if (size) memcpy(*buf + *len, data, size);
    *len += size;
    return 0;
}

int tokens_format_append(const int32_t *ids, size_t count, tokens_format format, uint8_t **buf,
                         size_t *len, size_t *cap) {
    for (size_t i = 0; i < count; i++) {
        uint8_t b[16];
        size_t n;
        if (format == TOKENS_U16) {
            if (ids[i] < 0 || ids[i] > 65535) {
                cli_error("token id %d does not fit the u16 format; use --format u32", (int)ids[i]);
                return -1;
            }
            b[0] = (uint8_t)ids[i], b[1] = (uint8_t)(ids[i] >> 8), n = 2;
        } else if (format == TOKENS_U32) {
            for (int k = 0; k < 4; k++) b[k] = (uint8_t)((uint32_t)ids[i] >> (8 * k));
            n = 4;
        } else {
            char sep = format == TOKENS_LINES ? '\n' : (i + 1 < count ? ' ' : '\n');
            n = (size_t)snprintf((char *)b, sizeof b, "%d%c", (int)ids[i], sep);
        }
        if (tokens_buf_append(buf, len, cap, b, n)) return cli_error("out of memory"), -1;
    }
    if (count == 0 && format == TOKENS_TEXT && tokens_buf_append(buf, len, cap, "\n", 1))
        return cli_error("out of memory"), -1;
    return 0;
}

int tokens_parse(const uint8_t *data, size_t size, tokens_format format, const char *where,
                 int32_t **ids, size_t *count) {
    size_t n = 0, cap = 0;
    int32_t *out = NULL;
    if (format == TOKENS_U16 || format == TOKENS_U32) {
        size_t w = format == TOKENS_U16 ? 2 : 4;
        if (size % w)
            return cli_error("%s: %zu bytes is not a whole number of %zu-byte token ids", where, size, w),
                   -1;
        n = size / w;
        out = malloc((n ? n : 1) * sizeof *out);
        if (!out) return cli_error("%s: out of memory", where), -1;
        for (size_t i = 0; i < n; i++) {
            uint32_t v = 0;
            for (size_t k = 0; k < w; k++) v |= (uint32_t)data[i * w + k] << (8 * k);
            if (v > INT32_MAX) {
                free(out);
                return cli_error("%s: token %zu is %u, beyond any vocabulary", where, i, v), -1;
            }
            out[i] = (int32_t)v;
        }
        *ids = out;
        *count = n;
        return 0;
    }
    size_t line = 1;
    const char *p = (const char *)data, *end = size ? p + size : p; /* data may be NULL when empty */
    while (p < end) {
        if (*p == '\n') line++;
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',') {
            p++;
            continue;
        }
        const char *q = p;
        long long v = 0;
        int digits = 0;
        while (q < end && *q >= '0' && *q <= '9' && digits < 12) v = v * 10 + (*q++ - '0'), digits++;
        if (!digits || (q < end && !(*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == ',')) ||
            v > INT32_MAX) {
            const char *e = p;
            while (e < end && !(*e == ' ' || *e == '\t' || *e == '\n' || *e == '\r') && e - p < 24) e++;
            free(out);
            return cli_error("%s: line %zu: '%.*s' is not a token id (expected non-negative integers "
                             "separated by spaces or newlines)",
                             where, line, (int)(e - p), p),
                   -1;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            int32_t *nb = realloc(out, cap * sizeof *out);
            if (!nb) {
                free(out);
                return cli_error("%s: out of memory", where), -1;
            }
            out = nb;
        }
        out[n++] = (int32_t)v;
        p = q;
    }
    *ids = out;
    *count = n;
    return 0;
}
