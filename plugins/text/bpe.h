/* plugins/text/bpe.h - the byte-pair merge engine: one piece of bytes ->
 * token ids, exactly as tiktoken merges (repeatedly join the adjacent pair
 * whose concatenation has the lowest rank, leftmost first on ties).
 *
 * Short pieces use tiktoken's array scan (fastest when n is small); long ones
 * a min-heap of candidate pairs over a linked list of parts, O(n log n), so
 * a 1 MB run of one character costs milliseconds, not minutes (tiktoken#195).
 * A small cache remembers the ids of recent multi-token pieces, and a memo the
 * ranks of token pairs; a Bloom filter answers most "is this a token?" asks
 * that would be no. All are built from the vocabulary, when first needed. */
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
    uint16_t *pair2;               /* (65536) each two-byte string's index in pair2_rank; built on first use */
    uint32_t *pair2_rank;          /* the ranks of the two-byte tokens, [0] none; in pair2's block */
    uint64_t *memo;                /* (8192) rank of two tokens joined, by their ids; built on first use */
    uint64_t *filter;              /* (filter_mask + 1) Bloom filter of the tokens' hashes, or NULL */
    size_t filter_mask;
    size_t misses;                 /* rank table probes that found nothing: the filter is built after enough */
} txt_bpe_scratch;

void txt_bpe_scratch_free(txt_bpe_scratch *w);
/* Forgets cached pieces and everything else built from the vocabulary (call
 * when the vocabulary changes). */
void txt_bpe_cache_reset(txt_bpe_scratch *w);

/* Appends the ids of piece p[0..n) (n >= 1) to out. */
int txt_bpe_encode_piece(const txt_vocab *v, const uint8_t *p, size_t n, txt_ids *out,
                         txt_bpe_scratch *w);

/* Pre-tokenizes doc with `split` and appends every piece's ids to out. */
int txt_bpe_encode(const txt_vocab *v, txt_splitter split, const uint8_t *doc, size_t size,
                   txt_ids *out, txt_bpe_scratch *w);

#endif /* MMGEN_TEXT_BPE_H */
