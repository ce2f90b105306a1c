/* plugins/text/train.c - incremental BPE training (see train.h). */
#include "train.h"

#include <string.h>

#include "host.h"

/* ---- unique words ------------------------------------------------------------ */

typedef struct words {
    uint8_t *bytes;            /* (bytes_size) every word's bytes */
    size_t bytes_size, bytes_cap;
    uint32_t *off, *len;       /* (n) into bytes */
    int64_t *count;            /* (n) occurrences in the corpus */
    size_t n, cap;
    uint32_t *table;           /* (table_cap) word index + 1, 0 empty */
    uint32_t *table_hash;
    size_t table_cap;
} words;

static void words_free(words *w) {
    txt_free(w->bytes);
    txt_free(w->off);
    txt_free(w->len);
    txt_free(w->count);
    txt_free(w->table);
    txt_free(w->table_hash);
}

static int words_rehash(words *w, size_t cap) {
    uint32_t *t = txt_calloc(cap, sizeof *t), *th = txt_calloc(cap, sizeof *th);
    if (!t || !th) {
        txt_free(t);
        txt_free(th);
        return txt_error(MMG_ERR_NOMEM, "%s: out of memory counting words", txt_module);
    }
    for (size_t k = 0; k < w->table_cap; k++) {
        if (!w->table[k]) continue;
        size_t j = w->table_hash[k] & (cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = w->table[k];
        th[j] = w->table_hash[k];
    }
    txt_free(w->table);
    txt_free(w->table_hash);
    w->table = t;
    w->table_hash = th;
    w->table_cap = cap;
    return 0;
}

static int words_add(words *w, const uint8_t *p, size_t n) {
    if (n > UINT32_MAX / 2) return txt_error(MMG_ERR_LIMIT, "%s: a word of %zu bytes is too long to train on", txt_module, n);
    if ((w->n + 1) * 2 > w->table_cap) {
        int rc = words_rehash(w, w->table_cap ? w->table_cap * 2 : 1024);
        if (rc) return rc;
    }
    uint32_t h = txt_hash(p, n);
    size_t k = h & (w->table_cap - 1);
    for (; w->table[k]; k = (k + 1) & (w->table_cap - 1)) {
        uint32_t i = w->table[k] - 1;
        if (w->table_hash[k] == h && w->len[i] == n && memcmp(w->bytes + w->off[i], p, n) == 0) {
            w->count[i]++;
            return 0;
        }
    }
    if (w->n == UINT32_MAX - 1) return txt_error(MMG_ERR_LIMIT, "%s: too many distinct words", txt_module);
    if (w->bytes_size + n > UINT32_MAX) return txt_error(MMG_ERR_LIMIT, "%s: training corpus has over 4 GiB of distinct words", txt_module);
    int rc = txt_grow((void **)&w->bytes, &w->bytes_cap, w->bytes_size + n, 1);
    if (!rc && w->n + 1 > w->cap) {
        size_t c1 = w->cap, c2 = w->cap, c3 = w->cap;
        rc = txt_grow((void **)&w->off, &c1, w->n + 1, sizeof *w->off);
        if (!rc) rc = txt_grow((void **)&w->len, &c2, w->n + 1, sizeof *w->len);
        if (!rc) rc = txt_grow((void **)&w->count, &c3, w->n + 1, sizeof *w->count);
        if (!rc) w->cap = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
    }
    if (rc) return rc;
    memcpy(w->bytes + w->bytes_size, p, n);
    w->off[w->n] = (uint32_t)w->bytes_size;
    w->len[w->n] = (uint32_t)n;
    w->count[w->n] = 1;
    w->bytes_size += n;
    w->table[k] = (uint32_t)w->n + 1;
    w->table_hash[k] = h;
    w->n++;
    return 0;
}

/* ---- pairs: counts and where they occur ---------------------------------- */

#define EMPTY_KEY UINT64_MAX

typedef struct pair_entry {
    uint64_t key;        /* first id << 32 | second id */
    int64_t count;       /* weighted occurrences in the corpus */
    uint32_t *where;     /* words containing the pair (maybe stale, maybe repeated) */
    uint32_t n_where, cap_where;
    uint32_t pushed;     /* round in which it was last queued */
} pair_entry;

typedef struct pairs {
    pair_entry *e;  /* (cap) */
    size_t n, cap;
} pairs;

static inline uint64_t pair_hash(uint64_t k) {
    k ^= k >> 31;
    k *= 0x7FB5D329728EA185ull;
    k ^= k >> 27;
    return k;
}

static pair_entry *pairs_find(const pairs *ps, uint64_t key) {
    size_t mask = ps->cap - 1;
    for (size_t k = pair_hash(key) & mask;; k = (k + 1) & mask) {
        if (ps->e[k].key == key) return &ps->e[k];
        if (ps->e[k].key == EMPTY_KEY) return NULL;
    }
}

static int pairs_rehash(pairs *ps, size_t cap) {
    pair_entry *e = txt_malloc(cap * sizeof *e);
    if (!e) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for pair counts", txt_module);
    for (size_t k = 0; k < cap; k++) e[k].key = EMPTY_KEY;
    for (size_t k = 0; k < ps->cap; k++) {
        if (ps->e[k].key == EMPTY_KEY) continue;
        size_t j = pair_hash(ps->e[k].key) & (cap - 1);
        while (e[j].key != EMPTY_KEY) j = (j + 1) & (cap - 1);
        e[j] = ps->e[k];
    }
    txt_free(ps->e);
    ps->e = e;
    ps->cap = cap;
    return 0;
}

static void pairs_free(pairs *ps) {
    for (size_t k = 0; k < ps->cap; k++)
        if (ps->e[k].key != EMPTY_KEY) txt_free(ps->e[k].where);
    txt_free(ps->e);
}

/* Adds `delta` to the pair's count, creating it; with word != UINT32_MAX,
 * also records that the word contains it. */
static int pairs_add(pairs *ps, uint64_t key, int64_t delta, uint32_t word, pair_entry **out) {
    if ((ps->n + 1) * 2 > ps->cap) {
        int rc = pairs_rehash(ps, ps->cap ? ps->cap * 2 : 4096);
        if (rc) return rc;
    }
    size_t mask = ps->cap - 1, k = pair_hash(key) & mask;
    while (ps->e[k].key != key && ps->e[k].key != EMPTY_KEY) k = (k + 1) & mask;
    pair_entry *e = &ps->e[k];
    if (e->key == EMPTY_KEY) {
        memset(e, 0, sizeof *e);
        e->key = key;
        e->pushed = UINT32_MAX;
        ps->n++;
    }
    e->count += delta;
    if (word != UINT32_MAX && (e->n_where == 0 || e->where[e->n_where - 1] != word)) {
        if (e->n_where == e->cap_where) {
            size_t cap = e->cap_where;
            if (cap >= UINT32_MAX / 2) return txt_error(MMG_ERR_LIMIT, "%s: pair index too large", txt_module);
            int rc = txt_grow((void **)&e->where, &cap, (size_t)e->n_where + 1, sizeof *e->where);
            if (rc) return rc;
            e->cap_where = (uint32_t)cap;
        }
        e->where[e->n_where++] = word;
    }
    if (out) *out = e;
    return 0;
}

/* ---- the max-heap of (count, pair) --------------------------------------------- */

typedef struct heap_item {
    int64_t count;
    uint64_t key;
} heap_item;

/* a comes out before b: higher count, then the smaller pair. */
static inline int before(heap_item a, heap_item b) {
    return a.count > b.count || (a.count == b.count && a.key < b.key);
}

typedef struct heap {
    heap_item *h;
    size_t n, cap;
} heap;

static int heap_push(heap *q, int64_t count, uint64_t key) {
    int rc = txt_grow((void **)&q->h, &q->cap, q->n + 1, sizeof *q->h);
    if (rc) return rc;
    heap_item x = {count, key};
    size_t i = q->n++;
    while (i > 0 && before(x, q->h[(i - 1) / 2])) {
        q->h[i] = q->h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->h[i] = x;
    return 0;
}

static heap_item heap_pop(heap *q) {
    heap_item top = q->h[0], x = q->h[--q->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n) break;
        if (c + 1 < q->n && before(q->h[c + 1], q->h[c])) c++;
        if (!before(q->h[c], x)) break;
        q->h[i] = q->h[c];
        i = c;
    }
    if (q->n) q->h[i] = x;
    return top;
}

/* ---- training ---------------------------------------------------------------- */

#define KEY(a, b) ((uint64_t)(uint32_t)(a) << 32 | (uint32_t)(b))

int txt_train(txt_vocab *v, txt_splitter split, const mmg_plugin_document *docs, size_t n_docs,
              int32_t n_tokens, int64_t min_frequency) {
    words ws = {0};
    pairs ps = {0};
    heap q = {0};
    int32_t *sym = NULL;       /* every word's symbols, word i at sym[ws.off[i]] */
    uint32_t *sym_len = NULL;  /* (ws.n) current symbol count of each word */
    uint32_t *stamp = NULL;    /* (ws.n) round in which a word was last merged */
    uint32_t *todo = NULL;
    size_t todo_cap = 0;
    uint64_t *fresh = NULL;    /* pairs created in this round */
    size_t fresh_n = 0, fresh_cap = 0;
    uint8_t *tok = NULL;
    size_t tok_cap = 0;
    int rc = 0;

    for (size_t d = 0; d < n_docs && !rc; d++) {
        const uint8_t *s = docs[d].data;
        size_t n = docs[d].size, i = 0;
        if (!s && n) rc = txt_error(MMG_ERR_INVALID_ARG, "%s: document %zu has no data", txt_module, d);
        while (!rc && i < n) {
            size_t e = split(s, n, i);
            rc = words_add(&ws, s + i, e - i);
            i = e;
        }
    }
    if (!rc) rc = txt_vocab_reserve(v, 256, (size_t)n_tokens);
    for (int b = 0; b < 256 && !rc; b++) {
        uint8_t byte = (uint8_t)b;
        int32_t dup;
        rc = txt_vocab_add(v, b, &byte, 1, &dup);
    }
    if (!rc) {
        sym = txt_malloc((ws.bytes_size ? ws.bytes_size : 1) * sizeof *sym);
        sym_len = txt_calloc(ws.n ? ws.n : 1, sizeof *sym_len);
        stamp = txt_calloc(ws.n ? ws.n : 1, sizeof *stamp);
        if (!sym || !sym_len || !stamp) rc = txt_error(MMG_ERR_NOMEM, "%s: out of memory for training", txt_module);
    }
    /* Initial symbols are the bytes; count every adjacent pair. */
    for (size_t w = 0; w < ws.n && !rc; w++) {
        int32_t *s = sym + ws.off[w];
        const uint8_t *b = ws.bytes + ws.off[w];
        sym_len[w] = ws.len[w];
        for (uint32_t i = 0; i < ws.len[w]; i++) s[i] = b[i];
        for (uint32_t i = 0; i + 1 < ws.len[w] && !rc; i++)
            rc = pairs_add(&ps, KEY(s[i], s[i + 1]), ws.count[w], (uint32_t)w, NULL);
    }
    for (size_t k = 0; k < ps.cap && !rc; k++)
        if (ps.e[k].key != EMPTY_KEY) rc = heap_push(&q, ps.e[k].count, ps.e[k].key);

    uint32_t round = 0;
    while (!rc && v->n_ranked < n_tokens && q.n) {
        heap_item top = heap_pop(&q);
        pair_entry *pe = pairs_find(&ps, top.key);
        if (pe->count != top.count) {
            /* Stale: counts of old pairs only fall; a pair that rose was queued again. */
            if (pe->count < top.count && pe->count > 0) rc = heap_push(&q, pe->count, pe->key);
            continue;
        }
        if (top.count < min_frequency) break;
        int32_t a = (int32_t)(top.key >> 32), b = (int32_t)(uint32_t)top.key;
        size_t la = v->len[a], lb = v->len[b];
        rc = txt_grow((void **)&tok, &tok_cap, la + lb, 1);
        if (rc) break;
        memcpy(tok, v->arena + v->off[a], la);
        memcpy(tok + la, v->arena + v->off[b], lb);
        int32_t merged = txt_vocab_rank(v, tok, la + lb);
        if (merged < 0) {
            int32_t dup;
            merged = v->n_ids;
            rc = txt_vocab_add(v, merged, tok, la + lb, &dup);
            if (rc) break;
        }
        round++;
        /* Copy the word list: pairs_add below may move the entry. */
        uint32_t n_todo = pe->n_where;
        rc = txt_grow((void **)&todo, &todo_cap, n_todo, sizeof *todo);
        if (rc) break;
        if (n_todo) memcpy(todo, pe->where, n_todo * sizeof *todo);
        fresh_n = 0;
        for (uint32_t t = 0; t < n_todo && !rc; t++) {
            uint32_t w = todo[t];
            if (stamp[w] == round) continue;
            stamp[w] = round;
            int32_t *s = sym + ws.off[w];
            uint32_t n = sym_len[w], i;
            for (i = 0; i + 1 < n; i++)
                if (s[i] == a && s[i + 1] == b) break;
            if (i + 1 >= n) continue; /* stale entry: the pair is gone from this word */
            int64_t c = ws.count[w];
            for (i = 0; i + 1 < n && !rc; i++) rc = pairs_add(&ps, KEY(s[i], s[i + 1]), -c, UINT32_MAX, NULL);
            uint32_t o = 0;
            for (i = 0; i < n; i++) {
                if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                    s[o++] = merged;
                    i++;
                } else {
                    s[o++] = s[i];
                }
            }
            sym_len[w] = n = o;
            for (i = 0; i + 1 < n && !rc; i++) {
                int is_new = s[i] == merged || s[i + 1] == merged;
                pair_entry *ne = NULL;
                rc = pairs_add(&ps, KEY(s[i], s[i + 1]), c, is_new ? w : UINT32_MAX, &ne);
                if (!rc && is_new && ne->pushed != round) {
                    ne->pushed = round;
                    rc = txt_grow((void **)&fresh, &fresh_cap, fresh_n + 1, sizeof *fresh);
                    if (!rc) fresh[fresh_n++] = ne->key;
                }
            }
        }
        for (size_t f = 0; f < fresh_n && !rc; f++) {
            pair_entry *ne = pairs_find(&ps, fresh[f]);
            if (ne->count > 0) rc = heap_push(&q, ne->count, ne->key);
        }
    }
    if (!rc && v->n_ranked < n_tokens)
        txt_host->log(MMG_PLUGIN_LOG_WARN,
                      "%s: training stopped at %d tokens of the %d asked: no pair occurs %lld "
                      "times or more", txt_module,
                      v->n_ranked, n_tokens, (long long)min_frequency);
    words_free(&ws);
    pairs_free(&ps);
    txt_free(q.h);
    txt_free(sym);
    txt_free(sym_len);
    txt_free(stamp);
    txt_free(todo);
    txt_free(fresh);
    txt_free(tok);
    return rc;
}
