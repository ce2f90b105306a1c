/* plugins/text/vocab.c - building and querying a BPE vocabulary (see
 * vocab.h). Loading from files lives in vocab_files.c. */
#include "vocab.h"

#include <stdlib.h>
#include <string.h>

#include "host.h"

void txt_vocab_init(txt_vocab *v) {
    memset(v, 0, sizeof *v);
    for (int b = 0; b < 256; b++) v->byte_id[b] = -1;
}

void txt_vocab_clear(txt_vocab *v) {
    txt_free(v->arena);
    txt_free(v->off);
    txt_free(v->len);
    txt_free(v->slot_id);
    txt_free(v->slot_hash);
    for (size_t i = 0; i < v->n_special; i++) txt_free(v->special[i].name);
    txt_free(v->special);
    for (size_t i = 0; i < v->n_alias; i++) txt_free(v->alias[i].alias);
    txt_free(v->alias);
    txt_vocab_init(v);
}

void txt_vocab_move(txt_vocab *to, txt_vocab *from) {
    txt_vocab_clear(to);
    *to = *from;
    txt_vocab_init(from);
}

static char *dup_string(const char *s) {
    size_t n = strlen(s);
    char *d = txt_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* Grows the id arrays to hold ids [0, n_ids). */
static int grow_ids(txt_vocab *v, int32_t n_ids) {
    if (n_ids <= v->n_ids) return 0;
    if ((size_t)n_ids > v->ids_cap) {
        /* Geometric growth: vocabularies are loaded one id at a time. */
        size_t cap = v->ids_cap, cap2 = v->ids_cap;
        int rc = txt_grow((void **)&v->off, &cap, (size_t)n_ids, sizeof *v->off);
        if (!rc) rc = txt_grow((void **)&v->len, &cap2, (size_t)n_ids, sizeof *v->len);
        if (rc) return rc;
        v->ids_cap = cap < cap2 ? cap : cap2;
    }
    for (int32_t i = v->n_ids; i < n_ids; i++) {
        v->off[i] = 0;
        v->len[i] = TXT_NO_TOKEN;
    }
    v->n_ids = n_ids;
    return 0;
}

static int rehash(txt_vocab *v, size_t cap) {
    uint32_t *ids = txt_calloc(cap, sizeof *ids), *hashes = txt_calloc(cap, sizeof *hashes);
    if (!ids || !hashes) {
        txt_free(ids);
        txt_free(hashes);
        return txt_error(MMG_ERR_NOMEM, "%s: out of memory for a %zu-slot token table", txt_module, cap);
    }
    for (int32_t id = 0; id < v->n_ids; id++) {
        if (v->len[id] == TXT_NO_TOKEN) continue;
        uint32_t h = txt_hash(v->arena + v->off[id], v->len[id]);
        size_t k = h & (cap - 1);
        while (ids[k]) k = (k + 1) & (cap - 1);
        ids[k] = (uint32_t)id + 1;
        hashes[k] = h;
    }
    txt_free(v->slot_id);
    txt_free(v->slot_hash);
    v->slot_id = ids;
    v->slot_hash = hashes;
    v->cap = cap;
    return 0;
}

int txt_vocab_reserve(txt_vocab *v, int32_t n_ids, size_t n_expected) {
    int rc = grow_ids(v, n_ids);
    if (rc) return rc;
    size_t cap = 64;
    while (cap < 2 * n_expected) cap *= 2;
    return cap > v->cap ? rehash(v, cap) : 0;
}

int txt_vocab_add(txt_vocab *v, int32_t id, const uint8_t *p, size_t n, int32_t *dup_id) {
    *dup_id = -1;
    if (id < 0 || n == 0 || n >= TXT_NO_TOKEN) return MMG_ERR_FORMAT;
    if (id < v->n_ids && v->len[id] != TXT_NO_TOKEN) {
        *dup_id = id;
        return MMG_ERR_FORMAT;
    }
    if (id < v->n_ids && txt_vocab_special_by_id(v, id)) {
        *dup_id = id;
        return MMG_ERR_FORMAT;
    }
    uint32_t saved_max = v->max_token_len;
    v->max_token_len = UINT32_MAX - 1; /* lookups of any length, for the duplicate check */
    int32_t existing = v->cap ? txt_vocab_rank(v, p, n) : -1;
    v->max_token_len = saved_max;
    if (existing >= 0) {
        *dup_id = existing;
        return MMG_ERR_FORMAT;
    }
    int rc = grow_ids(v, id + 1);
    if (rc) return rc;
    if ((size_t)(v->n_ranked + 1) * 2 > v->cap) {
        rc = rehash(v, v->cap ? v->cap * 2 : 64);
        if (rc) return rc;
    }
    if (v->arena_size + n > v->arena_cap || v->arena_size + n > UINT32_MAX) {
        if (v->arena_size + n > UINT32_MAX)
            return txt_error(MMG_ERR_LIMIT, "%s: vocabulary bytes exceed 4 GiB", txt_module);
        rc = txt_grow((void **)&v->arena, &v->arena_cap, v->arena_size + n, 1);
        if (rc) return rc;
    }
    memcpy(v->arena + v->arena_size, p, n);
    v->off[id] = (uint32_t)v->arena_size;
    v->len[id] = (uint32_t)n;
    v->arena_size += n;
    v->n_ranked++;
    if (n > v->max_token_len) v->max_token_len = (uint32_t)n;
    uint32_t h = txt_hash(p, n);
    size_t k = h & (v->cap - 1);
    while (v->slot_id[k]) k = (k + 1) & (v->cap - 1);
    v->slot_id[k] = (uint32_t)id + 1;
    v->slot_hash[k] = h;
    if (n == 1) v->byte_id[p[0]] = id;
    return 0;
}

int txt_vocab_add_special(txt_vocab *v, const char *name, int32_t id) {
    if (!name || !*name) return txt_error(MMG_ERR_CONFIG, "%s: a special token needs a name", txt_module);
    if (txt_vocab_special(v, name) >= 0)
        return txt_error(MMG_ERR_CONFIG, "%s: special token \"%s\" defined twice", txt_module, name);
    if (id < 0) id = v->n_ids;
    if (id < v->n_ids && (v->len[id] != TXT_NO_TOKEN || txt_vocab_special_by_id(v, id)))
        return txt_error(MMG_ERR_CONFIG,
                         "%s: special token \"%s\" wants id %d, which is already taken", txt_module, name,
                         id);
    if (id == INT32_MAX)
        return txt_error(MMG_ERR_CONFIG, "%s: special token \"%s\": id out of range", txt_module, name);
    int rc = grow_ids(v, id + 1);
    if (rc) return rc;
    txt_special *sp = txt_realloc(v->special, (v->n_special + 1) * sizeof *sp);
    if (!sp) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for special tokens", txt_module);
    v->special = sp;
    char *copy = dup_string(name);
    if (!copy) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for special tokens", txt_module);
    sp[v->n_special].name = copy;
    sp[v->n_special].id = id;
    v->n_special++;
    return 0;
}

int txt_vocab_set_alias(txt_vocab *v, const char *alias, int32_t id) {
    for (size_t i = 0; i < v->n_alias; i++) {
        if (strcmp(v->alias[i].alias, alias) == 0) {
            v->alias[i].id = id;
            return 0;
        }
    }
    txt_alias *a = txt_realloc(v->alias, (v->n_alias + 1) * sizeof *a);
    if (!a) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for token aliases", txt_module);
    v->alias = a;
    char *copy = dup_string(alias);
    if (!copy) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for token aliases", txt_module);
    a[v->n_alias].alias = copy;
    a[v->n_alias].id = id;
    v->n_alias++;
    return 0;
}

int txt_vocab_finish(txt_vocab *v, const char *what) {
    for (int b = 0; b < 256; b++) {
        if (v->byte_id[b] < 0)
            return txt_error(MMG_ERR_FORMAT,
                             "%s: no token for the single byte 0x%02x; a byte-level BPE "
                             "vocabulary needs all 256",
                             what, b);
    }
    return 0;
}

int32_t txt_vocab_special(const txt_vocab *v, const char *name) {
    for (size_t i = 0; i < v->n_alias; i++)
        if (strcmp(v->alias[i].alias, name) == 0) return v->alias[i].id;
    for (size_t i = 0; i < v->n_special; i++)
        if (strcmp(v->special[i].name, name) == 0) return v->special[i].id;
    return -1;
}

const txt_special *txt_vocab_special_by_id(const txt_vocab *v, int32_t id) {
    for (size_t i = 0; i < v->n_special; i++)
        if (v->special[i].id == id) return &v->special[i];
    return NULL;
}
