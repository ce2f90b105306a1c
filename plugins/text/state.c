/* plugins/text/state.c - saving and loading the vocabulary (see state.h). */
#include "state.h"

#include <stdio.h>
#include <string.h>

#include "host.h"

#define MAGIC_LEN TXT_STATE_MAGIC_LEN

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

static uint8_t *put32(uint8_t *p, uint32_t x) {
    for (int i = 0; i < 4; i++) *p++ = (uint8_t)(x >> (8 * i));
    return p;
}

int txt_state_save(const txt_vocab *v, const txt_state_format *format, uint32_t pattern,
                   uint8_t **out, size_t *size) {
    size_t n = MAGIC_LEN + 4 * 4 + 4 + 4 + 8;
    for (int32_t id = 0; id < v->n_ids; id++)
        if (v->len[id] != TXT_NO_TOKEN) n += 8 + v->len[id];
    for (size_t i = 0; i < v->n_special; i++) n += 8 + strlen(v->special[i].name);
    for (size_t i = 0; i < v->n_alias; i++) n += 8 + strlen(v->alias[i].alias);
    uint8_t *buf = txt_malloc(n), *p = buf;
    if (!buf) return txt_error(MMG_ERR_NOMEM, "%s: out of memory saving the state (%zu bytes)", txt_module, n);
    memcpy(p, format->magic, MAGIC_LEN);
    p += MAGIC_LEN;
    p = put32(p, TXT_STATE_VERSION);
    p = put32(p, pattern);
    p = put32(p, (uint32_t)v->n_ids);
    p = put32(p, (uint32_t)v->n_ranked);
    for (int32_t id = 0; id < v->n_ids; id++) {
        if (v->len[id] == TXT_NO_TOKEN) continue;
        p = put32(p, (uint32_t)id);
        p = put32(p, v->len[id]);
        memcpy(p, v->arena + v->off[id], v->len[id]);
        p += v->len[id];
    }
    p = put32(p, (uint32_t)v->n_special);
    for (size_t i = 0; i < v->n_special; i++) {
        size_t len = strlen(v->special[i].name);
        p = put32(p, (uint32_t)v->special[i].id);
        p = put32(p, (uint32_t)len);
        memcpy(p, v->special[i].name, len);
        p += len;
    }
    p = put32(p, (uint32_t)v->n_alias);
    for (size_t i = 0; i < v->n_alias; i++) {
        size_t len = strlen(v->alias[i].alias);
        p = put32(p, (uint32_t)len);
        memcpy(p, v->alias[i].alias, len);
        p += len;
        p = put32(p, (uint32_t)v->alias[i].id);
    }
    uint64_t h = fnv1a(buf, (size_t)(p - buf));
    p = put32(p, (uint32_t)h);
    p = put32(p, (uint32_t)(h >> 32));
    *out = buf;
    *size = n;
    return 0;
}

typedef struct reader {
    const uint8_t *p;
    size_t n, at;
} reader;

static int get32(reader *r, uint32_t *x, const char *what) {
    if (r->n - r->at < 4)
        return txt_error(MMG_ERR_FORMAT, "%s state: truncated at byte %zu, reading %s", txt_module, r->at, what);
    const uint8_t *q = r->p + r->at;
    *x = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    r->at += 4;
    return 0;
}

static int get_bytes(reader *r, uint32_t len, const uint8_t **out, const char *what) {
    if (r->n - r->at < len)
        return txt_error(MMG_ERR_FORMAT, "%s state: %s of %u bytes at byte %zu runs past the end", txt_module,
                         what, len, r->at);
    *out = r->p + r->at;
    r->at += len;
    return 0;
}

/* A NUL-terminated copy of a name; names may not contain NUL. */
static int get_name(reader *r, char *buf, size_t cap, const char *what) {
    uint32_t len = 0;
    const uint8_t *s = NULL;
    int rc = get32(r, &len, what);
    if (!rc && (len == 0 || len >= cap))
        rc = txt_error(MMG_ERR_FORMAT, "%s state: %s length %u at byte %zu (expected 1..%zu)", txt_module, what,
                       len, r->at - 4, cap - 1);
    if (!rc) rc = get_bytes(r, len, &s, what);
    if (!rc && memchr(s, 0, len))
        rc = txt_error(MMG_ERR_FORMAT, "%s state: %s at byte %zu contains a NUL byte", txt_module, what,
                       r->at - len);
    if (!rc) {
        memcpy(buf, s, len);
        buf[len] = 0;
    }
    return rc;
}

int txt_state_load(txt_vocab *v, const txt_state_format *format, uint32_t *pattern,
                   const uint8_t *bytes, size_t size) {
    if (!bytes || size < MAGIC_LEN + 8 || memcmp(bytes, format->magic, MAGIC_LEN) != 0)
        return txt_error(MMG_ERR_FORMAT, "%s state: not a %s tokenizer state (no \"%.*s\" header)",
                         txt_module, txt_module, MAGIC_LEN - 1, format->magic);
    uint64_t want = fnv1a(bytes, size - 8), got = 0;
    for (int i = 0; i < 8; i++) got |= (uint64_t)bytes[size - 8 + i] << (8 * i);
    reader r = {bytes, size - 8, MAGIC_LEN};
    uint32_t version = 0, pat = 0, n_ids = 0, n_tokens = 0;
    int rc = get32(&r, &version, "the version");
    if (rc) return rc;
    if (version != TXT_STATE_VERSION)
        return txt_error(MMG_ERR_ABI, "%s state: version %u, this plugin reads version %d", txt_module, version,
                         TXT_STATE_VERSION);
    if (got != want)
        return txt_error(MMG_ERR_FORMAT, "%s state: checksum mismatch (the data is corrupt)", txt_module);
    if ((rc = get32(&r, &pat, "the pattern")) || (rc = get32(&r, &n_ids, "the id count")) ||
        (rc = get32(&r, &n_tokens, "the token count")))
        return rc;
    if (pat > format->max_pattern)
        return txt_error(MMG_ERR_FORMAT, "%s state: unknown pre-tokenization pattern %u", txt_module, pat);
    if (n_ids > INT32_MAX || n_tokens > n_ids || n_tokens > (size - r.at) / 8)
        return txt_error(MMG_ERR_FORMAT, "%s state: %u tokens among %u ids do not fit in %zu bytes", txt_module,
                         n_tokens, n_ids, size);
    rc = txt_vocab_reserve(v, 0, n_tokens);
    int32_t last = -1;
    for (uint32_t t = 0; t < n_tokens && !rc; t++) {
        uint32_t id = 0, len = 0;
        const uint8_t *tok = NULL;
        size_t at = r.at;
        if ((rc = get32(&r, &id, "a token id")) || (rc = get32(&r, &len, "a token length")) ||
            (rc = get_bytes(&r, len, &tok, "a token")))
            break;
        if ((int64_t)id <= last || id >= n_ids || len == 0) {
            rc = txt_error(MMG_ERR_FORMAT,
                           "%s state: token at byte %zu: id %u, length %u (ids must rise, stay "
                           "below %u, and tokens be non-empty)", txt_module,
                           at, id, len, n_ids);
            break;
        }
        int32_t dup;
        rc = txt_vocab_add(v, (int32_t)id, tok, len, &dup);
        if (rc == MMG_ERR_FORMAT)
            rc = txt_error(MMG_ERR_FORMAT, "%s state: token %u at byte %zu repeats token %d", txt_module, id, at, dup);
        last = (int32_t)id;
    }
    uint32_t n_special = 0, n_alias = 0;
    if (!rc) rc = get32(&r, &n_special, "the special token count");
    char name[1024];
    for (uint32_t i = 0; i < n_special && !rc; i++) {
        uint32_t id = 0;
        size_t at = r.at;
        if ((rc = get32(&r, &id, "a special token id")) || (rc = get_name(&r, name, sizeof name, "a special token name")))
            break;
        if (id >= n_ids || (id < (uint32_t)v->n_ids && (v->len[id] != TXT_NO_TOKEN || txt_vocab_special_by_id(v, (int32_t)id))) ||
            txt_vocab_special(v, name) >= 0) {
            rc = txt_error(MMG_ERR_FORMAT, "%s state: special token \"%s\" (id %u) at byte %zu collides or is out of range", txt_module,
                           name, id, at);
            break;
        }
        rc = txt_vocab_add_special(v, name, (int32_t)id);
        if (rc == MMG_ERR_CONFIG) rc = MMG_ERR_FORMAT;
    }
    if (!rc) rc = get32(&r, &n_alias, "the alias count");
    for (uint32_t i = 0; i < n_alias && !rc; i++) {
        uint32_t id = 0;
        size_t at = r.at;
        if ((rc = get_name(&r, name, sizeof name, "an alias")) || (rc = get32(&r, &id, "an alias id")))
            break;
        if (!txt_vocab_special_by_id(v, (int32_t)id)) {
            rc = txt_error(MMG_ERR_FORMAT, "%s state: alias \"%s\" at byte %zu names id %u, not a special token", txt_module,
                           name, at, id);
            break;
        }
        rc = txt_vocab_set_alias(v, name, (int32_t)id);
    }
    if (!rc && r.at != r.n)
        rc = txt_error(MMG_ERR_FORMAT, "%s state: %zu unexpected bytes after the aliases", txt_module, r.n - r.at);
    if (!rc && v->n_ids != (int32_t)n_ids) {
        if (v->n_ids > (int32_t)n_ids) {
            rc = txt_error(MMG_ERR_FORMAT, "%s state: ids reach %d, the header says %u", txt_module, v->n_ids, n_ids);
        } else {
            /* Trailing unused ids are legal; make them exist. */
            rc = txt_vocab_reserve(v, (int32_t)n_ids, (size_t)v->n_ranked);
        }
    }
    char what[32];
    snprintf(what, sizeof what, "%s state", txt_module);
    if (!rc) rc = txt_vocab_finish(v, what);
    if (!rc) *pattern = pat;
    return rc;
}
