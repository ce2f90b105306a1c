/* plugins/text/decode.c - token ids back to bytes (see decode.h). */
#include "decode.h"

#include <string.h>

#include "host.h"
#include "unicode.h"

int txt_token_bytes(const txt_vocab *v, int32_t id, const uint8_t **p, size_t *n) {
    if (id >= 0 && id < v->n_ids) {
        if (v->len[id] != TXT_NO_TOKEN) {
            *p = v->arena + v->off[id];
            *n = v->len[id];
            return 0;
        }
        const txt_special *s = txt_vocab_special_by_id(v, id);
        if (s) {
            *p = (const uint8_t *)s->name;
            *n = strlen(s->name);
            return 0;
        }
        return txt_error(MMG_ERR_RANGE, "%s: id %d is unused in this vocabulary", txt_module, id);
    }
    return txt_error(MMG_ERR_RANGE, "%s: token id %d is outside the vocabulary [0, %d)", txt_module, id,
                     v->n_ids);
}

int txt_decode_into(const txt_vocab *v, const int32_t *ids, size_t count, const uint8_t *keep,
                    size_t n_keep, uint8_t **out, size_t *out_size) {
    size_t total = n_keep;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = NULL;
        size_t n = 0;
        int rc = txt_token_bytes(v, ids[i], &p, &n);
        if (rc) return rc;
        total += n;
    }
    uint8_t *buf = txt_malloc(total + 1), *q = buf;
    if (!buf) return txt_error(MMG_ERR_NOMEM, "%s: out of memory decoding %zu tokens", txt_module, count);
    if (n_keep) memcpy(q, keep, n_keep);
    q += n_keep;
    for (size_t i = 0; i < count; i++) { /* every id was checked by the first pass */
        const uint8_t *p = NULL;
        size_t n = 0;
        txt_token_bytes(v, ids[i], &p, &n);
        memcpy(q, p, n);
        q += n;
    }
    *q = 0;
    *out = buf;
    *out_size = total;
    return 0;
}

int txt_describe_token(const txt_vocab *v, int32_t id, char *buf, size_t buf_size,
                       size_t *out_length) {
    const uint8_t *p;
    size_t n;
    int rc = txt_token_bytes(v, id, &p, &n);
    if (rc) return rc;
    int special = v->len[id] == TXT_NO_TOKEN;
    size_t len = 0;
#define EMIT(c)                                          \
    do {                                                 \
        if (buf && len + 1 < buf_size) buf[len] = (c);   \
        len++;                                           \
    } while (0)
    if (!special) EMIT('"');
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = special ? 1 : txt_utf8_next(p, n, i, &cp);
        uint8_t c = p[i];
        int bad = !special && cp == 0xFFFD && !(k == 3 && p[i] == 0xEF && p[i + 1] == 0xBF && p[i + 2] == 0xBD);
        if (special || (!bad && k > 1) || (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')) {
            for (size_t j = 0; j < k; j++) EMIT((char)p[i + j]);
        } else if (!bad && (c == '\n' || c == '\t' || c == '\r' || c == '"' || c == '\\')) {
            EMIT('\\');
            EMIT(c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : (char)c);
        } else {
            static const char hex[] = "0123456789abcdef";
            for (size_t j = 0; j < k; j++) {
                EMIT('\\');
                EMIT('x');
                EMIT(hex[p[i + j] >> 4]);
                EMIT(hex[p[i + j] & 15]);
            }
        }
        i += k;
    }
    if (!special) EMIT('"');
#undef EMIT
    if (buf && buf_size) buf[len < buf_size ? len : buf_size - 1] = 0;
    if (out_length) *out_length = len;
    return 0;
}

/* How many trailing bytes of b[0..n) are the start of a UTF-8 character that
 * more bytes could complete (0..3). */
static size_t incomplete_tail(const uint8_t *b, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        uint8_t c = b[n - k];
        if (c >= 0x80 && c <= 0xBF) continue; /* a continuation byte: look further back */
        size_t need = (c >= 0xC2 && c <= 0xDF) ? 1 : (c >= 0xE0 && c <= 0xEF) ? 2 : (c >= 0xF0 && c <= 0xF4) ? 3 : 0;
        if (need == 0 || k - 1 >= need) return 0;
        /* The continuation bytes so far must be ones a valid character allows. */
        uint32_t cp;
        size_t len = txt_utf8_next(b, n, n - k, &cp);
        return len == k ? k : 0;
    }
    return 0;
}

int txt_stream_create(const txt_vocab *v, txt_stream **out) {
    txt_stream *s = txt_calloc(1, sizeof *s);
    if (!s) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for a decoding stream", txt_module);
    s->vocab = v;
    *out = s;
    return 0;
}

void txt_stream_destroy(txt_stream *s) { txt_free(s); }

int txt_stream_feed(txt_stream *s, const int32_t *ids, size_t count, uint8_t **out, size_t *out_size) {
    uint8_t *buf;
    size_t n;
    int rc = txt_decode_into(s->vocab, ids, count, s->held, s->n_held, &buf, &n);
    if (rc) return rc;
    size_t hold = incomplete_tail(buf, n);
    memcpy(s->held, buf + n - hold, hold);
    s->n_held = hold;
    buf[n - hold] = 0;
    *out = buf;
    *out_size = n - hold;
    return 0;
}

int txt_stream_flush(txt_stream *s, uint8_t **out, size_t *out_size) {
    uint8_t *buf = txt_malloc(s->n_held + 1);
    if (!buf) return txt_error(MMG_ERR_NOMEM, "%s: out of memory", txt_module);
    memcpy(buf, s->held, s->n_held);
    buf[s->n_held] = 0;
    *out = buf;
    *out_size = s->n_held;
    s->n_held = 0;
    return 0;
}
