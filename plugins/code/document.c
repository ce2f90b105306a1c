/* plugins/code/document.c - what a document says about itself: the header
 * a caller may put before the content (file name, language, FIM layout) and
 * the random FIM split used to make training examples.
 *
 * The header (only with the config's "header": true) is a list of fields
 * "key=value", each ended by one NUL byte, and then one more NUL:
 *   name=src/util.py     the file name: its language tags the document
 *   lang=python          the language, overriding the name; "none": no tag
 *   fim=none             no FIM example from this document, whatever fim_rate
 *   fim=psm:A:B          a FIM training example whose middle is content bytes [A, B)
 *   fim=prompt:A         a FIM prompt: prefix = content [0, A), suffix = the rest
 *   context=N            with fim=prompt: the model's context, checked
 * File names cannot hold NUL, so any name fits; the content after the header
 * is taken as bytes, whatever they are. */
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "host.h"
#include "unicode.h"

/* A decimal number in p[0..n), or -1. */
static int64_t parse_size(const uint8_t *p, size_t n) {
    if (n == 0 || n > 15) return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        x = x * 10 + (p[i] - '0');
    }
    return x;
}

static int field_is(const uint8_t *key, size_t n, const char *name) {
    return strlen(name) == n && memcmp(key, name, n) == 0;
}

int code_parse_header(const uint8_t *doc, size_t size, code_doc_opts *opts, size_t *content_at) {
    size_t i = 0;
    int name_lang = -2, lang = -2;
    for (int field = 0;; field++) {
        const uint8_t *end = i < size ? memchr(doc + i, 0, size - i) : NULL;
        if (!end)
            return txt_error(MMG_ERR_FORMAT,
                             "code: the document does not start with a header (\"key=value\" fields "
                             "each ended by a NUL byte, then a NUL), which the config's \"header\": true asks for");
        const uint8_t *f = doc + i;
        size_t len = (size_t)(end - f);
        i += len + 1;
        if (len == 0) break;
        const uint8_t *eq = memchr(f, '=', len);
        if (!eq)
            return txt_error(MMG_ERR_FORMAT, "code: header field %d (\"%.*s\") is not key=value", field,
                             (int)(len > 60 ? 60 : len), (const char *)f);
        size_t klen = (size_t)(eq - f), vlen = len - klen - 1;
        const uint8_t *val = eq + 1;
        if (field_is(f, klen, "name")) {
            name_lang = code_lang_from_path((const char *)val, vlen);
        } else if (field_is(f, klen, "lang")) {
            if (vlen == 4 && memcmp(val, "none", 4) == 0) {
                lang = -1;
            } else if ((lang = code_lang_find((const char *)val, vlen)) < 0) {
                return txt_error(MMG_ERR_NOT_FOUND, "code: unknown language \"%.*s\" in the header (known: c, cpp, "
                                                    "python, shell, javascript, ... see plugins/code/lang.c; or none)",
                                 (int)(vlen > 60 ? 60 : vlen), (const char *)val);
            }
        } else if (field_is(f, klen, "fim")) {
            const char *v = (const char *)val;
            const uint8_t *c1 = memchr(val, ':', vlen), *c2 = c1 ? memchr(c1 + 1, ':', vlen - (size_t)(c1 + 1 - val)) : NULL;
            if (vlen == 4 && memcmp(v, "none", 4) == 0) {
                opts->fim = CODE_FIM_NONE;
            } else if (c1 && c2 && c1 - val == 3 && memcmp(v, "psm", 3) == 0) {
                int64_t a = parse_size(c1 + 1, (size_t)(c2 - c1 - 1)), b = parse_size(c2 + 1, vlen - (size_t)(c2 + 1 - val));
                if (a < 0 || b < 0 || a > b)
                    return txt_error(MMG_ERR_FORMAT, "code: header field \"fim=%.*s\": expected fim=psm:A:B with 0 <= A <= B",
                                     (int)vlen, v);
                opts->fim = CODE_FIM_PSM;
                opts->fim_a = (size_t)a;
                opts->fim_b = (size_t)b;
            } else if (c1 && !c2 && c1 - val == 6 && memcmp(v, "prompt", 6) == 0) {
                int64_t a = parse_size(c1 + 1, vlen - 7);
                if (a < 0) return txt_error(MMG_ERR_FORMAT, "code: header field \"fim=%.*s\": expected fim=prompt:A", (int)vlen, v);
                opts->fim = CODE_FIM_PROMPT;
                opts->fim_a = (size_t)a;
            } else {
                return txt_error(MMG_ERR_FORMAT, "code: header field \"fim=%.*s\": expected none, psm:A:B or prompt:A",
                                 (int)(vlen > 60 ? 60 : vlen), v);
            }
        } else if (field_is(f, klen, "context")) {
            int64_t c = parse_size(val, vlen);
            if (c <= 0) return txt_error(MMG_ERR_FORMAT, "code: header field \"context=%.*s\": expected a positive number",
                                         (int)(vlen > 30 ? 30 : vlen), (const char *)val);
            opts->context = c;
        } else {
            return txt_error(MMG_ERR_FORMAT, "code: unknown header field \"%.*s\" (known: name, lang, fim, context)",
                             (int)(klen > 60 ? 60 : klen), (const char *)f);
        }
    }
    opts->lang = lang != -2 ? lang : name_lang >= 0 ? name_lang : -2;
    size_t n = size - i;
    if ((opts->fim == CODE_FIM_PSM && opts->fim_b > n) || (opts->fim == CODE_FIM_PROMPT && opts->fim_a > n))
        return txt_error(MMG_ERR_RANGE, "code: the header's fim split at byte %zu is past the content's %zu bytes",
                         opts->fim == CODE_FIM_PSM ? opts->fim_b : opts->fim_a, n);
    *content_at = i;
    return 0;
}

/* 64-bit FNV-1a, then splitmix64 draws: the split depends on the seed and the
 * document alone, not on the order documents are encoded in. */
static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Back onto the start of the UTF-8 character that covers byte i, so no
 * character is split (ill-formed bytes are units of their own). */
static size_t char_start(const uint8_t *p, size_t n, size_t i) {
    if (i >= n) return i;
    size_t k = i;
    while (k > 0 && i - k < 3 && (p[k] & 0xC0) == 0x80) k--;
    uint32_t cp;
    return k < i && k + txt_utf8_next(p, n, k, &cp) > i ? k : i;
}

int code_fim_draw(const uint8_t *p, size_t n, double rate, uint64_t seed, size_t *a, size_t *b) {
    if (rate <= 0 || n == 0) return 0;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    uint64_t state = h ^ (seed * 0xD1B54A32D192ED03ull);
    double u = (double)(splitmix(&state) >> 11) * 0x1.0p-53;
    if (u >= rate) return 0;
    size_t x = (size_t)(splitmix(&state) % (n + 1)), y = (size_t)(splitmix(&state) % (n + 1));
    if (x > y) {
        size_t t = x;
        x = y;
        y = t;
    }
    *a = char_start(p, n, x);
    *b = char_start(p, n, y);
    return 1;
}
