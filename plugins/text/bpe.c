/* plugins/text/bpe.c - the byte-pair merge engine (see bpe.h). */
#include "bpe.h"

#include <string.h>

#include "host.h"

#define SMALL_PIECE 48   /* up to this many bytes: tiktoken's array scan */
#define NO_RANK UINT32_MAX

/* ---- the piece cache ---------------------------------------------------------
 * Direct-mapped by hash; pieces of 2..CACHE_BYTES bytes that are not a single
 * token and give at most CACHE_IDS ids. English text repeats its multi-token
 * words often enough for this to pay; code, whose whole identifiers and
 * indentation runs make tens of thousands of distinct pieces, asks for a
 * larger cache (txt_bpe_scratch.cache_size). */
#define TXT_CACHE_SIZE 4096 /* entries, unless the scratch asks for more */
#define CACHE_BYTES 48
#define CACHE_IDS 8

typedef struct txt_cache_entry {
    uint32_t hash;
    uint8_t len, n_ids;
    uint8_t bytes[CACHE_BYTES];
    int32_t ids[CACHE_IDS];
} txt_cache_entry;

void txt_bpe_cache_reset(txt_bpe_scratch *w) {
    if (w->cache) memset(w->cache, 0, w->cache_size * sizeof *w->cache);
    txt_free(w->pair2);
    w->pair2 = NULL;
}

void txt_bpe_scratch_free(txt_bpe_scratch *w) {
    txt_free(w->next);
    txt_free(w->prev);
    txt_free(w->rank);
    txt_free(w->heap);
    txt_free(w->cache);
    txt_free(w->pair2);
    size_t cache_size = w->cache_size;
    memset(w, 0, sizeof *w);
    w->cache_size = cache_size;
}

int txt_ids_reserve(txt_ids *out, size_t extra) {
    if (out->count + extra <= out->cap) return 0;
    return txt_grow((void **)&out->ids, &out->cap, out->count + extra, sizeof *out->ids);
}

static inline uint32_t pair_rank(const txt_vocab *v, const uint8_t *p, size_t a, size_t b) {
    int32_t r = txt_vocab_rank(v, p + a, b - a);
    return r < 0 ? NO_RANK : (uint32_t)r;
}

/* tiktoken's algorithm: parts[i] = (start, rank of joining part i with part
 * i+1); find the lowest rank, join, fix the two neighbours' ranks. O(n^2)
 * worst case, but n <= SMALL_PIECE. */
static void merge_small(const txt_vocab *v, const uint32_t *pair2, const uint8_t *p, size_t n,
                        int32_t *ids, size_t *count) {
    uint32_t start[SMALL_PIECE + 1], rank[SMALL_PIECE + 1];
    int32_t id[SMALL_PIECE + 1]; /* each part's token: a byte's, then the rank it was joined at */
    size_t m = n + 1; /* parts, the last a sentinel at n */
    for (size_t i = 0; i + 1 < n; i++) {
        start[i] = (uint32_t)i;
        rank[i] = pair2 ? pair2[p[i] << 8 | p[i + 1]] : pair_rank(v, p, i, i + 2);
    }
    for (size_t i = 0; i < n; i++) id[i] = v->byte_id[p[i]];
    start[n - 1] = (uint32_t)(n - 1);
    rank[n - 1] = NO_RANK;
    start[n] = (uint32_t)n;
    rank[n] = NO_RANK;
    for (;;) {
        uint32_t best = NO_RANK;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            if (rank[i] < best) {
                best = rank[i];
                bi = i;
            }
        }
        if (best == NO_RANK) break;
        /* Join parts bi and bi+1 (a rank is the joined token's id); the new
         * pair ranks span three parts. */
        id[bi] = (int32_t)best;
        rank[bi] = bi + 3 < m ? pair_rank(v, p, start[bi], start[bi + 3]) : NO_RANK;
        if (bi > 0) rank[bi - 1] = bi + 2 < m ? pair_rank(v, p, start[bi - 1], start[bi + 2]) : NO_RANK;
        memmove(&start[bi + 1], &start[bi + 2], (m - bi - 2) * sizeof *start);
        memmove(&rank[bi + 1], &rank[bi + 2], (m - bi - 2) * sizeof *rank);
        memmove(&id[bi + 1], &id[bi + 2], (m - bi - 2) * sizeof *id);
        m--;
    }
    memcpy(ids, id, (m - 1) * sizeof *ids);
    *count = m - 1;
}

/* ---- the heap path for long pieces ---------------------------------------- */

/* A 4-ary min-heap: shallower than a binary one, and a node's children share
 * a cache line, which matters for the million-entry heaps of huge pieces. */
static void heap_push(uint64_t *heap, size_t *size, uint64_t x) {
    size_t i = (*size)++;
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (heap[parent] <= x) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = x;
}

static void heap_sift_down(uint64_t *heap, size_t n, size_t i, uint64_t x) {
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= n) break;
        size_t best = c, end = c + 4 < n ? c + 4 : n;
        for (size_t k = c + 1; k < end; k++)
            if (heap[k] < heap[best]) best = k;
        if (x <= heap[best]) break;
        heap[i] = heap[best];
        i = best;
    }
    heap[i] = x;
}

static uint64_t heap_pop(uint64_t *heap, size_t *size) {
    uint64_t top = heap[0], x = heap[--(*size)];
    if (*size) heap_sift_down(heap, *size, 0, x);
    return top;
}

/* Parts are named by their first byte; next[i] is where part i ends. rank[i]
 * is the rank of joining part i with its right neighbour. Heap entries
 * (rank, i) go stale when either part changes; a part's successive ranks
 * always differ (its pair only grows), so rank[i] == entry rank proves an
 * entry current. Ties on rank pop the leftmost first, as tiktoken does. */
static int merge_heap(const txt_vocab *v, const uint8_t *p, size_t n, txt_ids *out,
                      txt_bpe_scratch *w) {
    if (n > UINT32_MAX - 1) return txt_error(MMG_ERR_LIMIT, "%s: a piece of %zu bytes is too long", txt_module, n);
    if (n > w->parts_cap) {
        size_t cap = w->parts_cap;
        int rc = txt_grow((void **)&w->next, &cap, n, sizeof *w->next);
        if (!rc) {
            cap = w->parts_cap;
            rc = txt_grow((void **)&w->prev, &cap, n, sizeof *w->prev);
        }
        if (!rc) {
            cap = w->parts_cap;
            rc = txt_grow((void **)&w->rank, &cap, n, sizeof *w->rank);
        }
        if (rc) return rc;
        w->parts_cap = cap;
    }
    /* At most n initial entries plus two per merge. */
    if (3 * n > w->heap_cap) {
        int rc = txt_grow((void **)&w->heap, &w->heap_cap, 3 * n, sizeof *w->heap);
        if (rc) return rc;
    }
    uint32_t *next = w->next, *prev = w->prev, *rank = w->rank;
    uint64_t *heap = w->heap;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        next[i] = (uint32_t)(i + 1);
        prev[i] = (uint32_t)i - 1; /* wraps to UINT32_MAX for the first part */
        rank[i] = i + 2 > n ? NO_RANK : w->pair2 ? w->pair2[p[i] << 8 | p[i + 1]] : pair_rank(v, p, i, i + 2);
        if (rank[i] != NO_RANK) heap[hn++] = (uint64_t)rank[i] << 32 | i;
    }
    for (size_t k = hn; k-- > 0;) heap_sift_down(heap, hn, k, heap[k]); /* heapify, O(n) */
    while (hn) {
        uint64_t top = heap_pop(heap, &hn);
        uint32_t r = (uint32_t)(top >> 32), i = (uint32_t)top;
        if (rank[i] != r) continue; /* stale */
        uint32_t j = next[i];      /* the part joined into i */
        uint32_t k = next[j];
        next[i] = k;
        if (k < n) prev[k] = i;
        rank[j] = NO_RANK;
        rank[i] = k < n ? pair_rank(v, p, i, next[k]) : NO_RANK;
        if (rank[i] != NO_RANK) heap_push(heap, &hn, (uint64_t)rank[i] << 32 | i);
        uint32_t h = prev[i];
        if (h != UINT32_MAX) {
            rank[h] = pair_rank(v, p, h, k);
            if (rank[h] != NO_RANK) heap_push(heap, &hn, (uint64_t)rank[h] << 32 | h);
        }
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i = next[i]) count++;
    int rc = txt_ids_reserve(out, count);
    if (rc) return rc;
    for (size_t i = 0; i < n; i = next[i])
        out->ids[out->count++] = txt_vocab_rank(v, p + i, next[i] - i);
    return 0;
}

int txt_bpe_encode_piece(const txt_vocab *v, const uint8_t *p, size_t n, txt_ids *out,
                         txt_bpe_scratch *w) {
    int rc = txt_ids_reserve(out, n <= SMALL_PIECE ? n : 1);
    if (rc) return rc;
    if (n == 1) {
        out->ids[out->count++] = v->byte_id[p[0]];
        return 0;
    }
    uint32_t h = 0;
    txt_cache_entry *e = NULL;
    if (n <= v->max_token_len) {
        h = txt_hash(p, n);
        /* The whole piece a token: the common case for words. */
        size_t mask = v->cap - 1;
        for (size_t k = h & mask;; k = (k + 1) & mask) {
            uint32_t s = v->slot_id[k];
            if (s == 0) break;
            if (v->slot_hash[k] == h && v->len[s - 1] == n &&
                memcmp(v->arena + v->off[s - 1], p, n) == 0) {
                out->ids[out->count++] = (int32_t)(s - 1);
                return 0;
            }
        }
    }
    if (n > SMALL_PIECE) return merge_heap(v, p, n, out, w);
    if (n <= CACHE_BYTES && w->cache) {
        if (n > v->max_token_len) h = txt_hash(p, n);
        e = &w->cache[h & (w->cache_size - 1)];
        if (e->len == n && e->hash == h && memcmp(e->bytes, p, n) == 0) {
            memcpy(out->ids + out->count, e->ids, e->n_ids * sizeof *e->ids);
            out->count += e->n_ids;
            return 0;
        }
    }
    size_t count;
    merge_small(v, w->pair2, p, n, out->ids + out->count, &count);
    if (e && count <= CACHE_IDS) {
        e->hash = h;
        e->len = (uint8_t)n;
        e->n_ids = (uint8_t)count;
        memcpy(e->bytes, p, n);
        memcpy(e->ids, out->ids + out->count, count * sizeof *e->ids);
    }
    out->count += count;
    return 0;
}

int txt_bpe_encode(const txt_vocab *v, txt_splitter split, const uint8_t *doc, size_t size,
                   txt_ids *out, txt_bpe_scratch *w) {
    if (!w->cache) {
        if (!w->cache_size) w->cache_size = TXT_CACHE_SIZE;
        w->cache = txt_calloc(w->cache_size, sizeof *w->cache);
        if (!w->cache) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for the piece cache", txt_module);
    }
    if (!w->pair2) {
        /* The rank of every two-byte string: the first round of every merge
         * asks for n - 1 of them. */
        w->pair2 = txt_malloc(65536 * sizeof *w->pair2);
        if (!w->pair2) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for the pair table", txt_module);
        memset(w->pair2, 0xFF, 65536 * sizeof *w->pair2); /* NO_RANK */
        for (int32_t id = 0; id < v->n_ids; id++) {
            if (v->len[id] != 2) continue;
            const uint8_t *t = v->arena + v->off[id];
            w->pair2[t[0] << 8 | t[1]] = (uint32_t)id;
        }
    }
    size_t i = 0;
    while (i < size) {
        size_t e = split(doc, size, i);
        int rc = txt_bpe_encode_piece(v, doc + i, e - i, out, w);
        if (rc) return rc;
        i = e;
    }
    return 0;
}
