/* plugins/text/bpe.c - the byte-pair merge engine (see bpe.h). */
#include "bpe.h"

#include <string.h>

#include "host.h"

#define SMALL_PIECE 48   /* up to this many bytes: tiktoken's array scan */
#define NO_RANK UINT32_MAX

/* ---- the piece cache ---------------------------------------------------------
 * Direct-mapped by hash; pieces of 2..CACHE_BYTES bytes that are not a single
 * token and give at most CACHE_IDS ids. English text repeats its multi-token
 * words often enough for this to pay; a plugin may ask for another size
 * (txt_bpe_scratch.cache_size). Every new tokenizer zeroes its cache, so a
 * larger one costs short inputs more than its extra hits save. */
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
    txt_free(w->pair2); /* pair2_rank with it */
    w->pair2 = NULL;
    w->pair2_rank = NULL;
    txt_free(w->memo);
    w->memo = NULL;
    txt_free(w->filter);
    w->filter = NULL;
    w->misses = 0;
}

void txt_bpe_scratch_free(txt_bpe_scratch *w) {
    txt_free(w->next);
    txt_free(w->prev);
    txt_free(w->rank);
    txt_free(w->heap);
    txt_free(w->cache);
    txt_free(w->pair2);
    txt_free(w->memo);
    txt_free(w->filter);
    size_t cache_size = w->cache_size;
    memset(w, 0, sizeof *w);
    w->cache_size = cache_size;
}

int txt_ids_reserve(txt_ids *out, size_t extra) {
    if (out->count + extra <= out->cap) return 0;
    return txt_grow((void **)&out->ids, &out->cap, out->count + extra, sizeof *out->ids);
}

/* a[0..n) == b[0..n), compared a word at a time: tokens and pieces are
 * short, and a call to memcmp costs more than the compare. */
static inline int same_bytes(const uint8_t *a, const uint8_t *b, size_t n) {
    if (n >= 8) {
        uint64_t x, y;
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y) return 0;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y1, b + n - 4, 4);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* ---- the token filter ------------------------------------------------------
 * Most strings a merge asks about are not tokens. A Bloom filter over the
 * tokens' hashes (the rank table's own, so building it hashes nothing), 8
 * bits a token up to 64 KB (32 KB for 32k tokens), answers most of those
 * without touching the rank table's four arrays: each 64-bit word is a block,
 * two bits of it per token. It has no false negatives, so it is exact. */
static inline int maybe_token(const txt_bpe_scratch *w, uint32_t h) {
    uint64_t x = w->filter[(h >> 12) & w->filter_mask];
    return (int)(x >> (h & 63) & x >> (h >> 6 & 63) & 1);
}

/* txt_vocab_rank with the key's hash h given: the id of bytes p[0..n), or
 * -1. Counts the rank table's misses (see txt_bpe_encode). */
static inline int32_t lookup(const txt_vocab *v, txt_bpe_scratch *w, const uint8_t *p, size_t n, uint32_t h) {
    if (w->filter && !maybe_token(w, h)) return -1;
    size_t mask = v->cap - 1;
    for (size_t k = h & mask;; k = (k + 1) & mask) {
        uint32_t s = v->slot_id[k];
        if (s == 0) {
            w->misses++;
            return -1;
        }
        if (v->slot_hash[k] == h && v->len[s - 1] == n && same_bytes(v->arena + v->off[s - 1], p, n))
            return (int32_t)(s - 1);
    }
}

/* The rank of the two bytes p[0], p[1] (w->pair2 built). */
static inline uint32_t pair2_rank(const txt_bpe_scratch *w, const uint8_t *p) {
    return w->pair2_rank[w->pair2[p[0] << 8 | p[1]]];
}

static inline uint32_t pair_rank(const txt_vocab *v, txt_bpe_scratch *w, const uint8_t *p, size_t a, size_t b) {
    if (b - a > v->max_token_len) return NO_RANK;
    int32_t r = lookup(v, w, p + a, b - a, txt_hash(p + a, b - a));
    return r < 0 ? NO_RANK : (uint32_t)r;
}

/* ---- the pair memo -----------------------------------------------------------
 * After the first round a merge asks for the rank of two tokens joined, and
 * the same pairs come back again and again (code joins the same identifier
 * parts in piece after piece). The memo maps (left id, right id) to that rank,
 * NO_RANK included; it caches a function of the vocabulary, so it is exact,
 * and is forgotten with the piece cache. Direct-mapped, one 64-bit word per
 * entry: left id (21 bits), right id (21), rank (22; all ones for none).
 * 2^13 entries (64 KB) miss little more often than 2^16 and stay in cache;
 * vocabularies with 2^21 - 1 ids or more go without. */
#define MEMO_BITS 13
#define MEMO_ID_LIMIT ((1 << 21) - 1)
#define MEMO_NONE ((1u << 22) - 1)
#define MEMO_EMPTY UINT64_MAX /* ids 2^21 - 1: never a real pair */

/* The rank of the tokens `left`, bytes p[a..), and `right`, bytes ..b),
 * joined. */
static inline uint32_t join_rank(const txt_vocab *v, txt_bpe_scratch *w, const uint8_t *p, size_t a, size_t b,
                                 int32_t left, int32_t right) {
    if (!w->memo) return pair_rank(v, w, p, a, b);
    uint64_t key = (uint64_t)left << 43 | (uint64_t)right << 22;
    uint64_t *e = &w->memo[(key * 0x9E3779B97F4A7C15ull) >> (64 - MEMO_BITS)];
    if ((*e & ~(uint64_t)MEMO_NONE) == key) {
        uint32_t r = (uint32_t)(*e & MEMO_NONE);
        return r == MEMO_NONE ? NO_RANK : r;
    }
    uint32_t r = pair_rank(v, w, p, a, b);
    *e = key | (r == NO_RANK ? MEMO_NONE : r);
    return r;
}

/* tiktoken's algorithm: key[t] = rank of joining part t with part t+1 << 6
 * | t; find the lowest key (the leftmost lowest rank), join, close the gap,
 * fix the two neighbours' keys. A key carries its part's index, so the
 * minimum says where to join, and closing the gap decrements the keys it
 * moves. Ranks are ids, below 2^31, so every key without a pair (NO_RANK <<
 * 6 | t, or KEY_NONE past the last part, less at most SMALL_PIECE) is at
 * least KEY_NO_PAIR. 64-bit keys also keep the scan scalar: a vectorized one
 * reloads keys just stored one by one, which stalls. O(n^2) worst case, but
 * n <= SMALL_PIECE. */
#define KEY_NONE UINT64_MAX
#define KEY_NO_PAIR ((uint64_t)1 << 37)

static void merge_small(const txt_vocab *v, txt_bpe_scratch *w, const uint8_t *p, size_t n,
                        int32_t *ids, size_t *count) {
    uint64_t key[SMALL_PIECE + 3];
    int32_t id[SMALL_PIECE];        /* each part's token: a byte's, then the rank it was joined at */
    uint8_t start[SMALL_PIECE + 1]; /* each part's first byte; start[m] = n */
    for (size_t t = 0; t + 1 < n; t++) {
        uint32_t r = w->pair2 ? pair2_rank(w, p + t) : pair_rank(v, w, p, t, t + 2);
        key[t] = (uint64_t)r << 6 | t;
        id[t] = v->byte_id[p[t]];
        start[t] = (uint8_t)t;
    }
    id[n - 1] = v->byte_id[p[n - 1]];
    start[n - 1] = (uint8_t)(n - 1);
    start[n] = (uint8_t)n;
    for (size_t t = n - 1; t < n + 3; t++) key[t] = KEY_NONE;
    size_t m = n; /* parts */
    for (;;) {
        uint64_t b0 = KEY_NONE, b1 = KEY_NONE, b2 = KEY_NONE, b3 = KEY_NONE;
        for (size_t t = 0; t + 1 < m; t += 4) {
            b0 = key[t] < b0 ? key[t] : b0;
            b1 = key[t + 1] < b1 ? key[t + 1] : b1;
            b2 = key[t + 2] < b2 ? key[t + 2] : b2;
            b3 = key[t + 3] < b3 ? key[t + 3] : b3;
        }
        b0 = b1 < b0 ? b1 : b0;
        b2 = b3 < b2 ? b3 : b2;
        uint64_t best = b2 < b0 ? b2 : b0;
        if (best >= KEY_NO_PAIR) break;
        /* Join parts t and t+1 (a rank is the joined token's id). */
        size_t t = best & 63;
        int32_t joined = (int32_t)(best >> 6);
        id[t] = joined;
        for (size_t u = t + 1; u + 1 < m; u++) {
            key[u] = key[u + 1] - 1;
            id[u] = id[u + 1];
            start[u] = start[u + 1];
        }
        start[m - 1] = (uint8_t)n;
        key[m - 1] = KEY_NONE;
        m--;
        uint32_t r = t + 1 < m ? join_rank(v, w, p, start[t], start[t + 2], joined, id[t + 1]) : NO_RANK;
        key[t] = (uint64_t)r << 6 | t;
        if (t > 0) {
            r = join_rank(v, w, p, start[t - 1], start[t + 1], id[t - 1], joined);
            key[t - 1] = (uint64_t)r << 6 | (t - 1);
        }
    }
    memcpy(ids, id, m * sizeof *ids);
    *count = m;
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
        rank[i] = i + 2 > n ? NO_RANK : w->pair2 ? pair2_rank(w, p + i) : pair_rank(v, w, p, i, i + 2);
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
        rank[i] = k < n ? pair_rank(v, w, p, i, next[k]) : NO_RANK;
        if (rank[i] != NO_RANK) heap_push(heap, &hn, (uint64_t)rank[i] << 32 | i);
        uint32_t h = prev[i];
        if (h != UINT32_MAX) {
            rank[h] = pair_rank(v, w, p, h, k);
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
    if (n == 2 && w->pair2) {
        /* A token, or two bytes that never join. */
        uint32_t r = pair2_rank(w, p);
        if (r != NO_RANK) {
            out->ids[out->count++] = (int32_t)r;
        } else {
            out->ids[out->count++] = v->byte_id[p[0]];
            out->ids[out->count++] = v->byte_id[p[1]];
        }
        return 0;
    }
    uint32_t h = 0;
    txt_cache_entry *e = NULL;
    if (n <= v->max_token_len) {
        h = txt_hash(p, n);
        /* The whole piece a token: the common case for words. */
        int32_t id = lookup(v, w, p, n, h);
        if (id >= 0) {
            out->ids[out->count++] = id;
            return 0;
        }
    }
    if (n > SMALL_PIECE) return merge_heap(v, p, n, out, w);
    if (n <= CACHE_BYTES && w->cache) {
        if (n > v->max_token_len) h = txt_hash(p, n);
        e = &w->cache[h & (w->cache_size - 1)];
        if (e->len == n && e->hash == h && same_bytes(e->bytes, p, n)) {
            memcpy(out->ids + out->count, e->ids, e->n_ids * sizeof *e->ids);
            out->count += e->n_ids;
            return 0;
        }
    }
    size_t count;
    merge_small(v, w, p, n, out->ids + out->count, &count);
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
         * asks for n - 1 of them. A table of 16-bit indexes into the ranks
         * of the two-byte tokens is half the size of a table of ranks, and
         * every new tokenizer fills it. (Were all 65536 two-byte strings
         * tokens, the indexes would not fit: such a vocabulary goes without.) */
        uint32_t n2 = 0;
        for (int32_t id = 0; id < v->n_ids; id++) n2 += v->len[id] == 2;
        if (n2 < 65536) {
            w->pair2 = txt_malloc(65536 * sizeof *w->pair2 + (n2 + 1) * sizeof *w->pair2_rank);
            if (!w->pair2) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for the pair table", txt_module);
            w->pair2_rank = (uint32_t *)(w->pair2 + 65536);
            memset(w->pair2, 0, 65536 * sizeof *w->pair2);
            w->pair2_rank[0] = NO_RANK;
            n2 = 0;
            for (int32_t id = 0; id < v->n_ids; id++) {
                if (v->len[id] != 2) continue;
                const uint8_t *t = v->arena + v->off[id];
                w->pair2_rank[++n2] = (uint32_t)id;
                w->pair2[t[0] << 8 | t[1]] = (uint16_t)n2;
            }
        }
    }
    if (!w->memo && v->n_ids < MEMO_ID_LIMIT) {
        w->memo = txt_malloc(((size_t)1 << MEMO_BITS) * sizeof *w->memo);
        if (!w->memo) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for the pair memo", txt_module);
        memset(w->memo, 0xFF, ((size_t)1 << MEMO_BITS) * sizeof *w->memo); /* MEMO_EMPTY */
    }
    if (!w->filter && w->misses >= v->cap / 8) {
        /* Built once the rank table has missed cap/8 times: building costs a
         * pass over the table and fresh pages, about what that many misses
         * cost, so short inputs, and vocabularies whose pieces are mostly
         * tokens, do not pay for it. */
        size_t words = 64; /* a power of two: 8 bits a token, up to 64 KB */
        while (words * 8 < (size_t)v->n_ranked && words < 8192) words *= 2;
        w->filter = txt_calloc(words, sizeof *w->filter);
        if (!w->filter) return txt_error(MMG_ERR_NOMEM, "%s: out of memory for the token filter", txt_module);
        w->filter_mask = words - 1;
        for (size_t k = 0; k < v->cap; k++) {
            if (!v->slot_id[k]) continue;
            uint32_t h = v->slot_hash[k];
            w->filter[(h >> 12) & w->filter_mask] |= (uint64_t)1 << (h & 63) | (uint64_t)1 << (h >> 6 & 63);
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
