/* plugins/text/vocab_files.c - GPT-2 and tiktoken vocabulary files (see
 * vocab_files.h). */
#include "vocab_files.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

int txt_read_file(const char *path, uint8_t **out, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return txt_error(MMG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = txt_malloc(cap);
    if (!buf) {
        fclose(f);
        return txt_error(MMG_ERR_NOMEM, "%s: out of memory reading the file", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            uint8_t *b = txt_realloc(buf, cap * 2);
            if (!b) {
                txt_free(buf);
                fclose(f);
                return txt_error(MMG_ERR_NOMEM, "%s: out of memory reading the file", path);
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        txt_free(buf);
        return txt_error(MMG_ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    *size = n;
    return 0;
}

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long txt_base64_decode(const char *s, size_t n, uint8_t *out) {
    if (n == 0 || n % 4 != 0) return -1;
    long len = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                pad++;
                v[k] = 0;
                continue;
            }
            if (pad) return -1; /* data after padding */
            v[k] = b64_value(c);
            if (v[k] < 0) return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[len++] = (uint8_t)(w >> 16);
        if (pad < 2) out[len++] = (uint8_t)(w >> 8);
        if (pad < 1) out[len++] = (uint8_t)w;
    }
    return len;
}

/* ---- tiktoken rank files -------------------------------------------------- */

/* How far ids may run past the number of tokens a file defines: real
 * vocabularies are dense (cl100k leaves a few unused ids; the GPT-2 files
 * none), and every id up to the largest costs a table entry. */
#define SPARSE_IDS 65536

int txt_load_tiktoken(txt_vocab *v, const char *path) {
    uint8_t *buf;
    size_t size;
    int rc = txt_read_file(path, &buf, &size);
    if (rc) return rc;
    /* Count lines to size the table once. */
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) lines += buf[i] == '\n';
    rc = txt_vocab_reserve(v, 0, lines);
    uint8_t token[4096];
    size_t line_no = 0;
    const char *p = (const char *)buf, *end = (const char *)buf + size;
    while (!rc && p < end) {
        line_no++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *line = p;
        size_t line_len = (size_t)(eol - p);
        p = eol + 1;
        if (line_len && line[line_len - 1] == '\r') line_len--;
        if (line_len == 0) continue;
        const char *space = memchr(line, ' ', line_len);
        if (!space) {
            rc = txt_error(MMG_ERR_FORMAT, "%s:%zu: expected \"<base64 token> <rank>\"", path,
                           line_no);
            break;
        }
        size_t b64_len = (size_t)(space - line);
        const char *num = space + 1, *num_end = line + line_len;
        long long rank = 0;
        int digits = 0;
        for (const char *q = num; q < num_end; q++, digits++) {
            if (*q < '0' || *q > '9' || rank > INT32_MAX / 10) {
                digits = -1;
                break;
            }
            rank = rank * 10 + (*q - '0');
        }
        if (digits <= 0 || rank >= INT32_MAX) {
            rc = txt_error(MMG_ERR_FORMAT, "%s:%zu: the rank \"%.*s\" is not a number below %d",
                           path, line_no, (int)(num_end - num), num, INT32_MAX);
            break;
        }
        /* Ranks index arrays: a far-off rank would cost memory for every
         * rank below it (a 2 KB file could ask for gigabytes). */
        if ((size_t)rank > lines + SPARSE_IDS) {
            rc = txt_error(MMG_ERR_FORMAT,
                           "%s:%zu: rank %lld is far beyond the file's %zu lines (ranks run 0, 1, "
                           "2, ... with at most %d missing)",
                           path, line_no, rank, lines, SPARSE_IDS);
            break;
        }
        if (b64_len > 4 * (sizeof token / 3)) {
            rc = txt_error(MMG_ERR_FORMAT, "%s:%zu: token longer than %zu bytes", path, line_no,
                           sizeof token);
            break;
        }
        long n = txt_base64_decode(line, b64_len, token);
        if (n <= 0) {
            rc = txt_error(MMG_ERR_FORMAT, "%s:%zu: \"%.*s\" is not valid base64", path, line_no,
                           (int)(b64_len > 60 ? 60 : b64_len), line);
            break;
        }
        int32_t dup;
        rc = txt_vocab_add(v, (int32_t)rank, token, (size_t)n, &dup);
        if (rc == MMG_ERR_FORMAT) {
            if (dup == (int32_t)rank)
                rc = txt_error(MMG_ERR_FORMAT, "%s:%zu: rank %lld appears twice", path, line_no,
                               rank);
            else
                rc = txt_error(MMG_ERR_FORMAT,
                               "%s:%zu: token \"%.*s\" appears twice (ranks %d and %lld)", path,
                               line_no, (int)b64_len, line, dup, rank);
        }
    }
    txt_free(buf);
    if (!rc && v->n_ranked == 0) rc = txt_error(MMG_ERR_FORMAT, "%s: no tokens in the file", path);
    if (!rc) rc = txt_vocab_finish(v, path);
    return rc;
}

/* ---- GPT-2 encoder.json + vocab.bpe ----------------------------------------- */

/* GPT-2 stores bytes as printable characters ("data gym" encoding): bytes
 * that print stand for themselves, the others map to U+0100 onwards. The
 * first 256 ranks are the bytes in that order. */
typedef struct data_gym {
    uint8_t rank_to_byte[256];
    int16_t char_to_byte[324]; /* code point -> byte, -1 if none */
} data_gym;

static int gpt2_printable(int b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

static void data_gym_init(data_gym *g) {
    int r = 0, extra = 0;
    for (int c = 0; c < 324; c++) g->char_to_byte[c] = -1;
    for (int b = 0; b < 256; b++) {
        if (gpt2_printable(b)) {
            g->rank_to_byte[r++] = (uint8_t)b;
            g->char_to_byte[b] = (int16_t)b;
        }
    }
    for (int b = 0; b < 256; b++) {
        if (!gpt2_printable(b)) {
            g->rank_to_byte[r++] = (uint8_t)b;
            g->char_to_byte[256 + extra++] = (int16_t)b;
        }
    }
}

/* Decodes a data-gym string (UTF-8) s[0..n) to bytes; returns the length or -1. */
static long data_gym_decode(const data_gym *g, const char *s, size_t n, uint8_t *out,
                            size_t out_cap) {
    size_t i = 0;
    long len = 0;
    while (i < n) {
        unsigned c = (unsigned char)s[i];
        unsigned cp;
        if (c < 0x80) {
            cp = c;
            i += 1;
        } else if ((c & 0xE0) == 0xC0 && i + 1 < n && ((unsigned char)s[i + 1] & 0xC0) == 0x80) {
            cp = ((c & 0x1F) << 6) | ((unsigned char)s[i + 1] & 0x3F);
            i += 2;
        } else {
            return -1;
        }
        if (cp >= 324 || g->char_to_byte[cp] < 0 || (size_t)len >= out_cap) return -1;
        out[len++] = (uint8_t)g->char_to_byte[cp];
    }
    return len;
}

static int json_line(const char *buf, const char *at) {
    int line = 1;
    for (const char *p = buf; p < at; p++) line += *p == '\n';
    return line;
}

int txt_load_gpt2(txt_vocab *v, const char *encoder_json_path, const char *vocab_bpe_path) {
    data_gym g;
    data_gym_init(&g);
    uint8_t *bpe;
    size_t bpe_size;
    int rc = txt_read_file(vocab_bpe_path, &bpe, &bpe_size);
    if (rc) return rc;
    size_t lines = 1;
    for (size_t i = 0; i < bpe_size; i++) lines += bpe[i] == '\n';
    rc = txt_vocab_reserve(v, 256, lines + 256);
    for (int r = 0; r < 256 && !rc; r++) {
        int32_t dup;
        rc = txt_vocab_add(v, r, &g.rank_to_byte[r], 1, &dup);
    }
    int32_t rank = 256;
    size_t line_no = 0;
    const char *p = (const char *)bpe, *end = (const char *)bpe + bpe_size;
    uint8_t token[1024];
    while (!rc && p < end) {
        line_no++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *line = p;
        size_t len = (size_t)(eol - p);
        p = eol + 1;
        if (len && line[len - 1] == '\r') len--;
        if (line_no == 1 && len >= 8 && memcmp(line, "#version", 8) == 0) continue;
        if (len == 0) continue;
        const char *space = memchr(line, ' ', len);
        if (!space || space == line || space + 1 == line + len ||
            memchr(space + 1, ' ', (size_t)(line + len - space - 1))) {
            rc = txt_error(MMG_ERR_FORMAT, "%s:%zu: expected two tokens separated by one space",
                           vocab_bpe_path, line_no);
            break;
        }
        long a = data_gym_decode(&g, line, (size_t)(space - line), token, sizeof token);
        long b = a < 0 ? -1
                       : data_gym_decode(&g, space + 1, (size_t)(line + len - space - 1),
                                         token + a, sizeof token - (size_t)a);
        if (a < 0 || b < 0) {
            rc = txt_error(MMG_ERR_FORMAT,
                           "%s:%zu: \"%.*s\" holds a character outside GPT-2's byte alphabet",
                           vocab_bpe_path, line_no, (int)(len > 60 ? 60 : len), line);
            break;
        }
        int32_t dup;
        rc = txt_vocab_add(v, rank, token, (size_t)(a + b), &dup);
        if (rc == MMG_ERR_FORMAT)
            rc = txt_error(MMG_ERR_FORMAT, "%s:%zu: merge \"%.*s\" repeats token %d",
                           vocab_bpe_path, line_no, (int)len, line, dup);
        rank++;
    }
    txt_free(bpe);
    if (rc) return rc;

    /* encoder.json must agree with the merges, id for id (tiktoken checks the same). */
    uint8_t *js;
    size_t js_size;
    rc = txt_read_file(encoder_json_path, &js, &js_size);
    if (rc) return rc;
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)js, js_size, &parse_end, 0);
    if (!root || !cJSON_IsObject(root)) {
        int line = json_line((const char *)js, parse_end ? parse_end : (const char *)js);
        cJSON_Delete(root);
        txt_free(js);
        return txt_error(MMG_ERR_FORMAT, "%s:%d: not a JSON object of token -> id", encoder_json_path,
                         line);
    }
    int32_t eot = -1;
    size_t count = 0;
    for (cJSON *item = root->child; item && !rc; item = item->next) {
        /* the range first: converting a double outside int32's range is undefined */
        if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0 && item->valuedouble <= INT32_MAX) ||
            item->valuedouble != (double)(int32_t)item->valuedouble) {
            rc = txt_error(MMG_ERR_FORMAT, "%s: the id of \"%.60s\" is not a non-negative integer",
                           encoder_json_path, item->string);
            break;
        }
        int32_t id = (int32_t)item->valuedouble;
        if (strcmp(item->string, "<|endoftext|>") == 0) {
            eot = id;
            continue;
        }
        count++;
        long n = data_gym_decode(&g, item->string, strlen(item->string), token, sizeof token);
        int32_t r = n > 0 ? txt_vocab_rank(v, token, (size_t)n) : -1;
        if (r != id)
            rc = txt_error(MMG_ERR_FORMAT,
                           "%s: token \"%.60s\" has id %d but %s gives it %d; the two files do "
                           "not belong together",
                           encoder_json_path, item->string, id, vocab_bpe_path, r);
    }
    cJSON_Delete(root);
    txt_free(js);
    if (rc) return rc;
    if (count != (size_t)v->n_ranked)
        return txt_error(MMG_ERR_FORMAT, "%s: %zu tokens, but %s defines %d", encoder_json_path,
                         count, vocab_bpe_path, v->n_ranked);
    if (eot < 0)
        return txt_error(MMG_ERR_FORMAT, "%s: no \"<|endoftext|>\" entry", encoder_json_path);
    /* Ids index arrays: a far-off id would cost memory for every id below it. */
    if ((size_t)eot > count + SPARSE_IDS)
        return txt_error(MMG_ERR_FORMAT,
                         "%s: \"<|endoftext|>\" has id %d, far beyond the file's %zu tokens",
                         encoder_json_path, eot, count);
    rc = txt_vocab_add_special(v, "<|endoftext|>", eot);
    if (!rc) rc = txt_vocab_finish(v, vocab_bpe_path);
    return rc;
}
