/* mmgen/train.h - training a model in C: token datasets, batch loaders, the
 * trainer (backward pass + AdamW), evaluation and resumable checkpoints.
 *
 * A typical loop (decoder-only, packed text):
 *
 *   mmg_dataset *train; mmg_dataset_open("train.bin", 2, &train);
 *   mmg_loader_options lo; mmg_loader_options_init(&lo, sizeof lo);
 *   lo.batch_size = 12; lo.seq_len = 64; lo.seed = 1337;
 *   mmg_loader *loader; mmg_loader_create_packed(train, &lo, &loader);
 *   mmg_train_options to; mmg_train_options_init(&to, sizeof to);
 *   to.learning_rate = 1e-3f; to.warmup_steps = 100; to.decay_steps = 2000;
 *   mmg_trainer *tr; mmg_trainer_create(model, &to, &tr);
 *   for (int it = 0; it < 2000; it++) {
 *       const mmg_batch *b; float loss;
 *       mmg_loader_next(loader, &b);
 *       if (mmg_trainer_step(tr, b, &loss) != MMG_OK) break;   // e.g. NaN loss
 *   }
 *   mmg_trainer_save(tr, loader, "ckpt.safetensors");
 *
 * The trainer changes the model's weights in place: while a trainer exists, the
 * model must not be used by other threads (it is no longer immutable). */
#ifndef MMGEN_TRAIN_H
#define MMGEN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"

typedef struct mmg_model mmg_model; /* mmgen/model.h */

/* ---- data -------------------------------------------------------------------- */

/* A token file: a flat array of little-endian unsigned 16- or 32-bit token ids
 * (nanoGPT's train.bin is the 16-bit kind). The file is memory-mapped (falling
 * back to pread of the windows a batch needs), so it may be larger than the
 * machine's memory. Immutable after open. */
typedef struct mmg_dataset mmg_dataset;

/* Yields batches from datasets, keeping a position and a seeded RNG that
 * checkpoints save and restore. */
typedef struct mmg_loader mmg_loader;

/* One batch. Arrays are row-major; padded positions hold pad tokens in the
 * inputs and ignore_index in the labels. A caller may fill one itself (set
 * struct_size = sizeof(mmg_batch)). For decoder-only models src is NULL and
 * src_len_max 0. */
typedef struct mmg_batch {
    size_t struct_size;
    int32_t batch_size;     /* B */
    int32_t src_len_max;    /* Ts: columns of src (0 for decoder-only) */
    int32_t tgt_len_max;    /* Tt: columns of tgt and labels */
    const int32_t *src;     /* (B, Ts) encoder input, or NULL */
    const int32_t *src_len; /* (B) valid source lengths (the rest is padding masked
                               out of attention); NULL = all Ts */
    const int32_t *tgt;     /* (B, Tt) decoder input */
    const int32_t *tgt_len; /* (B) valid target lengths; NULL = all Tt */
    const int32_t *labels;  /* (B, Tt) the token each decoder position must predict,
                               or the trainer's ignore_index */
} mmg_batch;

/* Fill with mmg_loader_options_init(&o, sizeof o). Grows only at the end. */
typedef struct mmg_loader_options {
    size_t struct_size;
    int32_t batch_size;   /* sequences per batch; default 8; >= 1 */
    int32_t seq_len;      /* packed: tokens per row (window of seq_len+1 tokens);
                             pairs: longest decoder row; default 256; >= 1 */
    int32_t max_src_len;  /* pairs: longest source row (longer ones are cut); default 256 */
    int32_t shuffle;      /* 1 (default): random windows / pairs shuffled each epoch;
                             0: in file order, ending each epoch (for evaluation) */
    uint64_t seed;        /* RNG seed for shuffling; default 0 */
    int32_t separator;    /* pairs: the token that ends each sequence in both files;
                             default 0 */
    int32_t bos_id;       /* pairs: prepended to each target (decoder start); -1 = none
                             (default) */
    int32_t eos_id;       /* pairs: appended to each target; -1 = none (default) */
    int32_t pad_id;       /* pairs: fills padded input positions; default 0 */
    int32_t ignore_index; /* written into labels at padded positions; default -100 */
    int32_t vocab_size;   /* > 0: token ids >= vocab_size give MMG_ERR_RANGE when read;
                             0 (default): not checked here (the trainer checks) */
} mmg_loader_options;

/* ---- training ---------------------------------------------------------------- */

/* Fill with mmg_train_options_init(&o, sizeof o). Grows only at the end. */
typedef struct mmg_train_options {
    size_t struct_size;
    float learning_rate;      /* peak learning rate; default 1e-3; > 0 and finite */
    float min_learning_rate;  /* reached at decay_steps; default learning_rate / 10
                                 when left negative (default -1); >= 0 */
    int64_t warmup_steps;     /* linear warm-up lr*(s+1)/(warmup+1); default 0 */
    int64_t decay_steps;      /* cosine decay ends here (optimizer steps); 0 (default):
                                 constant lr after warm-up */
    float beta1;              /* default 0.9; in [0, 1) */
    float beta2;              /* default 0.999; in [0, 1) */
    float eps;                /* default 1e-8; > 0 */
    float weight_decay;       /* decoupled, not on biases or LayerNorm; default 0.01; >= 0 */
    float grad_clip;          /* clip to this global norm; 0 = off; default 1.0 */
    int32_t grad_accum_steps; /* mmg_trainer_step calls per optimizer update; default 1 */
    float dropout;            /* probability on embeddings, attention weights and
                                 residual branches; default 0 (off); in [0, 1) */
    float label_smoothing;    /* default 0; in [0, 1) */
    int32_t ignore_index;     /* labels equal to it add no loss; default -100 */
    uint64_t seed;            /* dropout RNG seed; default 0 */
    uint64_t memory_limit;    /* bytes the trainer may allocate (gradients, moments,
                                 activations); 0 (default) = physical memory */
    int32_t n_threads;        /* 0 (default): $MMGEN_NUM_THREADS, else the number of
                                 cores; results do not depend on it */
} mmg_train_options;

typedef struct mmg_trainer mmg_trainer;

/* ---- data-parallel training ------------------------------------------------ */

/* How a trainer joins a group of ranks that train one model together (since
 * ABI 1.4). libmmgen holds no communication code: the caller supplies the
 * collectives (mmgen/mpi.h's libmmgen_mpi does it over MPI; a test may use
 * threads). Every rank feeds mmg_trainer_step the same global batch; rank r
 * trains on rows [B*r/n, B*(r+1)/n) of it, scales its loss by the label
 * count of the whole batch, and the gradients are summed across ranks
 * before every rank applies the same AdamW update. So N ranks follow one
 * process training on the same batches (up to float summation order; with
 * dropout each rank draws its own masks).
 *
 * Every callback returns MMG_OK or an error status (a collective that waits
 * for a dead or hung rank should time out and say so through error_message).
 * Each is called on every rank in the same order with the
 * same sizes, from the thread calling into the trainer. */
typedef struct mmg_grad_reducer {
    size_t struct_size;     /* sizeof(mmg_grad_reducer) */
    int32_t rank;           /* this process: 0 .. n_ranks-1 */
    int32_t n_ranks;        /* >= 1 */
    void *user;             /* passed to every callback */
    /* Sums `n` doubles (a handful: loss, counts, failure flags) in place
     * across ranks; blocking. */
    mmg_status (*sum_doubles)(void *user, double *values, size_t n);
    /* Starts summing `n` floats in place across ranks; may return before the
     * sum is done. The trainer calls it for disjoint ranges of its gradient
     * array, from the end of the array towards the start, while the backward
     * pass is still computing the ranges before them. */
    mmg_status (*start_sum)(void *user, float *data, size_t n);
    /* Waits until every sum started since the last call is done. */
    mmg_status (*finish_sums)(void *user);
    /* Copies rank 0's `bytes` bytes at `data` into `data` on every rank. */
    mmg_status (*broadcast)(void *user, void *data, size_t bytes);
    /* May be NULL: what went wrong in the last callback that failed; the
     * trainer puts it in its own message (mmg_last_error). */
    const char *(*error_message)(void *user);
    /* start_sum ranges are gathered to at least this many bytes (a bucket);
     * 0 = 4 MiB. SIZE_MAX: one sum after the backward pass, no overlap. */
    size_t bucket_bytes;
} mmg_grad_reducer;

MMG_EXTERN_C_BEGIN

/* Opens a token file of `token_bytes` (2 or 4) per token. Returns MMG_OK;
 * MMG_ERR_INVALID_ARG (NULL, token_bytes not 2 or 4); MMG_ERR_IO (cannot open);
 * MMG_ERR_FORMAT (size not a multiple of token_bytes, or empty); MMG_ERR_NOMEM.
 * *out untouched on error; release with mmg_dataset_free. [thread-safe] */
MMG_API mmg_status mmg_dataset_open(const char *path, int32_t token_bytes, mmg_dataset **out);

/* A dataset over a copy of `n` tokens in memory (each must be >= 0). Returns
 * MMG_OK, MMG_ERR_INVALID_ARG (NULL, n == 0, a negative token), MMG_ERR_NOMEM.
 * [thread-safe] */
MMG_API mmg_status mmg_dataset_from_tokens(const int32_t *tokens, size_t n, mmg_dataset **out);

/* The number of tokens; 0 for NULL. [thread-safe] */
MMG_API uint64_t mmg_dataset_n_tokens(const mmg_dataset *ds);

/* Unmaps and releases. Loaders made from it must be freed first. NULL is a
 * no-op. [not concurrently with other calls on the same dataset] */
MMG_API void mmg_dataset_free(mmg_dataset *ds);

/* Fills `opts` with the defaults above, writing only `struct_size` bytes.
 * [thread-safe] */
MMG_API void mmg_loader_options_init(mmg_loader_options *opts, size_t struct_size);

/* A loader for packed decoder-only training: each row is a window of
 * seq_len+1 consecutive tokens, input = window[0..T), labels = window[1..T].
 * shuffle=1: windows start at uniform random offsets (nanoGPT's get_batch);
 * shuffle=0: consecutive non-overlapping windows from the start. The dataset
 * must outlive the loader. Returns MMG_OK; MMG_ERR_INVALID_ARG (NULL, a field
 * out of range, named); MMG_ERR_RANGE (dataset shorter than seq_len+1 tokens);
 * MMG_ERR_NOMEM. [thread-safe] */
MMG_API mmg_status mmg_loader_create_packed(const mmg_dataset *ds, const mmg_loader_options *opts,
                                            mmg_loader **out);

/* A loader for encoder-decoder training from two datasets holding the same
 * number of sequences, each ending with opts->separator: sequence i of `src`
 * pairs with sequence i of `tgt`. A batch holds batch_size pairs; the source is
 * cut to max_src_len, the target row [bos] + tgt + [eos] gives decoder input
 * row[0..n-1) and labels row[1..n) cut to seq_len; shorter rows are padded.
 * Indexing scans both files once (24 bytes of memory per pair). Returns MMG_OK;
 * MMG_ERR_INVALID_ARG; MMG_ERR_FORMAT (different sequence counts, an empty
 * target, no sequences: the message says which); MMG_ERR_NOMEM. [thread-safe] */
MMG_API mmg_status mmg_loader_create_pairs(const mmg_dataset *src, const mmg_dataset *tgt,
                                           const mmg_loader_options *opts, mmg_loader **out);

/* The next batch. *out points into the loader and stays valid until the next
 * call on it or its free. With shuffle=0, after the last full batch of an epoch
 * *out is set to NULL once (returning MMG_OK) and the next call starts again
 * from the beginning; the final partial batch holds fewer rows. Returns MMG_OK,
 * MMG_ERR_RANGE (a token >= vocab_size, named with its file offset),
 * MMG_ERR_IO (pread failed), MMG_ERR_INVALID_ARG. [one thread per object] */
MMG_API mmg_status mmg_loader_next(mmg_loader *loader, const mmg_batch **out);

/* Goes back to the first batch of the first epoch, reseeding with opts->seed.
 * [one thread per object] */
MMG_API void mmg_loader_reset(mmg_loader *loader);

/* NULL is a no-op. */
MMG_API void mmg_loader_free(mmg_loader *loader);

/* Fills `opts` with the defaults above, writing only `struct_size` bytes.
 * [thread-safe] */
MMG_API void mmg_train_options_init(mmg_train_options *opts, size_t struct_size);

/* Makes a trainer for `model` (which must outlive it and which it updates in
 * place): gradient and AdamW moment buffers for every parameter. Returns
 * MMG_OK; MMG_ERR_INVALID_ARG (NULL model, a bad option such as
 * learning_rate <= 0, named with its value); MMG_ERR_LIMIT (gradients and
 * moments would exceed memory_limit; checked before allocating);
 * MMG_ERR_UNSUPPORTED (a quantized model: mmg_weight_format, model.h);
 * MMG_ERR_NOMEM. *out untouched on error; release with mmg_trainer_free.
 * [thread-safe; the model must not be in use elsewhere] */
MMG_API mmg_status mmg_trainer_create(mmg_model *model, const mmg_train_options *opts,
                                      mmg_trainer **out);

/* NULL is a no-op. The model keeps its trained weights. */
MMG_API void mmg_trainer_free(mmg_trainer *trainer);

/* Forward and backward on `batch`, adding to the gradients; every
 * grad_accum_steps-th call also clips, applies AdamW with the scheduled
 * learning rate (the gradients it applied stay readable with
 * mmg_trainer_read_grad until the next call starts a new window). *out_loss
 * (may be NULL) is the mean cross-entropy over the batch's counted labels
 * (NaN if none count). Returns MMG_OK; MMG_ERR_INVALID_ARG (NULL, batch
 * shape inconsistent with the model: src given to a decoder-only model or
 * missing for an encoder-decoder);
 * MMG_ERR_RANGE (a token or label id out of range, a length beyond
 * max_seq_len, named); MMG_ERR_LIMIT (the batch's activations would exceed
 * memory_limit: checked before allocating anything); MMG_ERR_NUMERIC (the loss
 * or the gradient norm is NaN or infinite: no update is applied, the
 * accumulated gradients are dropped, the weights stay as they were, and the
 * message says which); MMG_ERR_NOMEM. With a reducer
 * (mmg_trainer_set_reducer) `batch` is the global batch, this rank computes
 * its share, *out_loss is the whole batch's, and a failure on any rank is an
 * error on every rank (MMG_ERR_STATE when another rank failed).
 * [one thread per object] */
MMG_API mmg_status mmg_trainer_step(mmg_trainer *trainer, const mmg_batch *batch,
                                    float *out_loss);

/* Optimizer updates applied so far (restored by mmg_trainer_load). [one thread
 * per object] */
MMG_API int64_t mmg_trainer_steps_done(const mmg_trainer *trainer);

/* The learning rate the next update will use. [one thread per object] */
MMG_API float mmg_trainer_learning_rate(const mmg_trainer *trainer);

/* The global gradient norm (before clipping) of the last update; 0 before the
 * first. [one thread per object] */
MMG_API float mmg_trainer_last_grad_norm(const mmg_trainer *trainer);

/* Evaluates without changing anything but the loader's position: mean
 * cross-entropy over up to `max_batches` batches from `loader` (0 = until a
 * sequential loader's epoch ends; required > 0 for a shuffling loader), its
 * perplexity exp(loss), and bits per byte loss * tokens / (ln 2 * bytes) with
 * bytes = tokens * bytes_per_token (give 1 for byte/char-level tokens; 0 gives
 * *bits_per_byte = 0). Any out pointer may be NULL. Returns MMG_OK or the
 * errors of mmg_trainer_step; MMG_ERR_STATE when no label was counted.
 * [one thread per object] */
MMG_API mmg_status mmg_trainer_evaluate(mmg_trainer *trainer, mmg_loader *loader,
                                        int64_t max_batches, double bytes_per_token,
                                        double *loss, double *perplexity,
                                        double *bits_per_byte);

/* Saves weights, AdamW moments, the step counters, the dropout RNG and (when
 * `loader` is not NULL) the loader's position and RNG into one safetensors
 * file, replacing `path` atomically (temporary file, fsync, rename): a crash
 * mid-save leaves the previous file intact. Call between optimizer updates
 * (accumulated, unapplied gradients are not saved: MMG_ERR_STATE).
 * Returns MMG_OK, MMG_ERR_IO, MMG_ERR_NOMEM, MMG_ERR_STATE. [one thread per
 * object] */
MMG_API mmg_status mmg_trainer_save(mmg_trainer *trainer, const mmg_loader *loader,
                                    const char *path);

/* Restores what mmg_trainer_save wrote, so training continues bit-identically.
 * Everything is checked before anything is changed: a file from another
 * architecture or config (model config, tensor shapes, optimizer settings that
 * shape the state, loader kind) gives MMG_ERR_CONFIG naming the difference and
 * leaves the trainer, model and loader untouched; MMG_ERR_IO, MMG_ERR_FORMAT
 * (malformed file, missing tensor). A NULL loader skips the loader state.
 * [one thread per object] */
MMG_API mmg_status mmg_trainer_load(mmg_trainer *trainer, mmg_loader *loader, const char *path);

/* Copies the gradient of parameter `name` (mmg_model_param_info's names and
 * shapes) into dst, which holds `n_elements` floats (the parameter's count,
 * else MMG_ERR_RANGE naming the expected shape; dst untouched). After the
 * update of an mmg_trainer_step it is the gradient that update applied,
 * after clipping (zeros before the first step); between the calls of one
 * grad_accum_steps window, the sum accumulated so far. After a failed step
 * (MMG_ERR_NUMERIC) the dropped gradients read as zeros. Since ABI 1.3.
 * Returns MMG_OK; MMG_ERR_NOT_FOUND; MMG_ERR_RANGE; MMG_ERR_INVALID_ARG.
 * [one thread per object] */
MMG_API mmg_status mmg_trainer_read_grad(const mmg_trainer *trainer, const char *name, float *dst,
                                         size_t n_elements);

/* Makes the trainer one rank of a data-parallel group (see mmg_grad_reducer;
 * the struct is copied), or a lone trainer again with NULL. Call it on every
 * rank between optimizer updates. It compares each rank's model config and
 * training options with rank 0's (MMG_ERR_CONFIG on every rank when one
 * differs; a differing rank's message names the field and both values), then
 * copies rank 0's weights, AdamW moments, step count and RNG to every rank.
 * Returns MMG_OK; MMG_ERR_INVALID_ARG (a missing callback, rank out of
 * range); MMG_ERR_STATE (accumulated gradients pending); MMG_ERR_CONFIG; a
 * callback's error. Since ABI 1.4. [one thread per object] */
MMG_API mmg_status mmg_trainer_set_reducer(mmg_trainer *trainer, const mmg_grad_reducer *reducer);

MMG_EXTERN_C_END

#endif /* MMGEN_TRAIN_H */
