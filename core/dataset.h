/* core/dataset.h - token files and batch loaders (private parts of mmgen/train.h).
 *
 * A dataset is a flat array of u16 or u32 token ids: memory-mapped when
 * possible (the kernel pages in only the windows batches touch, so files larger
 * than memory work), read with pread otherwise, or a copy in memory.
 *
 * A loader's whole position is a few integers plus an RNG state (see
 * mmg__loader_state), which checkpoints save so that resuming gives the same
 * batches as an uninterrupted run. */
#ifndef MMGEN_CORE_DATASET_H
#define MMGEN_CORE_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/train.h"
#include "rng.h"

struct mmg_dataset {
    char *path;            /* for messages; "<memory>" for in-memory datasets */
    int fd;                /* -1 when mapped or in memory */
    const uint8_t *data;   /* the mapping or the in-memory copy; NULL when read by pread */
    size_t data_len;       /* bytes */
    int mapped;            /* data came from mmap */
    int token_bytes;       /* 2 or 4 */
    uint64_t n_tokens;
};

/* mmg_dataset_open; use_mmap = 0 reads windows with pread (the fallback when
 * a file cannot be mapped; tests use it to cover that path). */
mmg_status mmg__dataset_open_ex(const char *path, int32_t token_bytes, int use_mmap,
                                mmg_dataset **out);

/* Reads tokens [start, start + n) into dst as int32. Tokens that do not fit in
 * int32 or are >= vocab (when vocab > 0) give MMG_ERR_RANGE naming the token
 * offset and the file. */
mmg_status mmg__dataset_read(const mmg_dataset *ds, uint64_t start, size_t n, int32_t *dst,
                             int32_t vocab);

enum { MMG__LOADER_PACKED = 1, MMG__LOADER_PAIRS = 2 };

/* What a checkpoint stores of a loader, as u64 words:
 *   [0] kind  [1] shuffle  [2] batch_size  [3] seq_len  [4] items (tokens or pairs)
 *   [5] position (next token, or next index into this epoch's order)  [6] epoch
 *   [7..10] the RNG state (packed: window offsets; pairs: unused, each epoch's
 *   order is drawn from a stream of the seed numbered by the epoch) */
#define MMG__LOADER_STATE_LEN 11

/* Copies the loader's state out / in. In: words 0-4 must match this loader
 * (else MMG_ERR_CONFIG naming the word; nothing changes on error). */
void mmg__loader_get_state(const mmg_loader *l, uint64_t out[MMG__LOADER_STATE_LEN]);
mmg_status mmg__loader_set_state(mmg_loader *l, const uint64_t in[MMG__LOADER_STATE_LEN]);

/* Nonzero when the loader shuffles (never ends an epoch by itself). */
int mmg__loader_shuffles(const mmg_loader *l);

#endif /* MMGEN_CORE_DATASET_H */
