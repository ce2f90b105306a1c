/* plugins/text/vocab.h - a byte-level BPE vocabulary: token bytes by id, the
 * rank lookup (bytes -> id) the merge engine asks for every candidate pair,
 * and the special tokens.
 *
 * As in tiktoken, a token's id is its merge rank: BPE merges the adjacent
 * pair whose concatenation has the lowest id. Ids may have gaps (cl100k has
 * unused ids between its ranks and its special tokens). Special tokens have
 * ids but no rank: encode never produces them. */
#ifndef MMGEN_TEXT_VOCAB_H
#define MMGEN_TEXT_VOCAB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TXT_NO_TOKEN UINT32_MAX

typedef struct txt_special {
    char *name;  /* e.g. "<|endoftext|>" */
    int32_t id;
} txt_special;

typedef struct txt_alias {
    char *alias;   /* "bos", "eos", "pad" */
    int32_t id;    /* a special token's id */
} txt_alias;

typedef struct txt_vocab {
    /* Token bytes: token id i is arena[off[i] .. off[i] + len[i]); len[i] is
     * TXT_NO_TOKEN for ids that are unused or special. */
    uint8_t *arena;
    size_t arena_size, arena_cap;
    uint32_t *off, *len;      /* (n_ids) */
    int32_t n_ids;            /* one past the largest id, special tokens included */
    size_t ids_cap;           /* allocated length of off and len */
    int32_t n_ranked;         /* ids that have bytes */
    uint32_t max_token_len;   /* longest token, in bytes */
    int32_t byte_id[256];     /* the id of each single byte */
    /* Open-addressing table, bytes -> id: slot holds id+1 (0 = empty) and the
     * key's hash. (cap) each, cap a power of two. */
    uint32_t *slot_id, *slot_hash;
    size_t cap;
    txt_special *special;
    size_t n_special;
    txt_alias *alias;
    size_t n_alias;
} txt_vocab;

/* Hash of a byte string, used by the rank table and the piece cache: eight
 * bytes at a time, multiply-xorshift mixing. */
static inline uint32_t txt_hash(const uint8_t *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        if (n >= 4) {
            uint32_t a, b;
            memcpy(&a, p, 4);
            memcpy(&b, p + n - 4, 4);
            w = (uint64_t)a | ((uint64_t)b << 32);
        } else {
            w = (uint64_t)p[0] | ((uint64_t)p[n / 2] << 8) | ((uint64_t)p[n - 1] << 16);
        }
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    }
    h ^= h >> 32;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 29;
    return (uint32_t)h;
}

/* Rank (id) of bytes p[0..n), or -1. Hot path of the merge engine. */
static inline int32_t txt_vocab_rank(const txt_vocab *v, const uint8_t *p, size_t n);

void txt_vocab_init(txt_vocab *v);
void txt_vocab_clear(txt_vocab *v);
/* Moves `from` into `to` (clearing `to` first); `from` is left empty. */
void txt_vocab_move(txt_vocab *to, txt_vocab *from);
/* Reserves ids [0, n_ids); the table is sized for `n_expected` tokens. */
int txt_vocab_reserve(txt_vocab *v, int32_t n_ids, size_t n_expected);
/* Gives id `id` the bytes p[0..n). Returns 0, or MMG_ERR_FORMAT when the id is
 * taken or the bytes already have another id (*dup_id gets that id, or -1),
 * without reporting: the caller names the file and line. */
int txt_vocab_add(txt_vocab *v, int32_t id, const uint8_t *p, size_t n, int32_t *dup_id);
/* Adds a special token; it gets id `id`, or the next free id when id < 0. */
int txt_vocab_add_special(txt_vocab *v, const char *name, int32_t id);
int txt_vocab_set_alias(txt_vocab *v, const char *alias, int32_t id);
/* Checks every single byte has an id (byte-level BPE needs them all) and
 * fills byte_id. Reports MMG_ERR_FORMAT naming `what` otherwise. */
int txt_vocab_finish(txt_vocab *v, const char *what);
/* The special token or alias called `name`, or -1. */
int32_t txt_vocab_special(const txt_vocab *v, const char *name);
/* The special token with id `id`, or NULL. */
const txt_special *txt_vocab_special_by_id(const txt_vocab *v, int32_t id);

static inline int32_t txt_vocab_rank(const txt_vocab *v, const uint8_t *p, size_t n) {
    if (n > v->max_token_len) return -1;
    uint32_t h = txt_hash(p, n);
    size_t mask = v->cap - 1;
    for (size_t k = h & mask;; k = (k + 1) & mask) {
        uint32_t s = v->slot_id[k];
        if (s == 0) return -1;
        if (v->slot_hash[k] == h) {
            uint32_t id = s - 1;
            if (v->len[id] == n && memcmp(v->arena + v->off[id], p, n) == 0) return (int32_t)id;
        }
    }
}

#endif /* MMGEN_TEXT_VOCAB_H */
