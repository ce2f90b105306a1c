/* plugins/text/bpe.h - the byte-pair merge engine: one piece of bytes ->
 * token ids, exactly as tiktoken merges (repeatedly join the adjacent pair
 * whose concatenation has the lowest rank, leftmost first on ties).
 *
 * Short pieces use tiktoken's array scan (fastest when n is small); long ones
 * a min-heap of candidate pairs over a linked list of parts, O(n log n), so
 * a 1 MB run of one character costs milliseconds, not minutes (tiktoken#195).
 * A small cache remembers the ids of recent multi-token pieces. */
#ifndef MMGEN_TEXT_BPE_H
#define MMGEN_TEXT_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "pretokenize.h"
#include "vocab.h"

/* A growable array of ids; `ids` comes from host->alloc, so it can be handed
 * to the host as is. */
typedef struct txt_ids {
    int32_t *ids;
    size_t count, cap;
} txt_ids;

int txt_ids_reserve(txt_ids *out, size_t extra);

/* Scratch memory reused from piece to piece (one per tokenizer instance, so
 * one thread at a time). */
typedef struct txt_bpe_scratch {
    uint32_t *next, *prev, *rank;  /* (piece length) the heap path's parts list */
    uint64_t *heap;                /* (heap_cap) (rank << 32 | position) */
    size_t parts_cap, heap_cap;
    struct txt_cache_entry *cache; /* (cache_size) */
    size_t cache_size;             /* a power of two; 0: the default (4096) */
    uint32_t *pair2;               /* (65536) rank of each two-byte string, built on first use */
} txt_bpe_scratch;

void txt_bpe_scratch_free(txt_bpe_scratch *w);
/* Forgets cached pieces (call when the vocabulary changes). */
void txt_bpe_cache_reset(txt_bpe_scratch *w);

/* Appends the ids of piece p[0..n) (n >= 1) to out. */
int txt_bpe_encode_piece(const txt_vocab *v, const uint8_t *p, size_t n, txt_ids *out,
                         txt_bpe_scratch *w);

/* Pre-tokenizes doc with `split` and appends every piece's ids to out. */
int txt_bpe_encode(const txt_vocab *v, txt_splitter split, const uint8_t *doc, size_t size,
                   txt_ids *out, txt_bpe_scratch *w);

#endif /* MMGEN_TEXT_BPE_H */
