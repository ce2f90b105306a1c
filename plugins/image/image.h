/* plugins/image/image.h - the image plugin's private types and functions.
 *
 * The plugin turns a PNG into patch tokens: the image is read with libpng
 * (png_io.c), converted to the model's channels, resized when the config
 * fixes a size (resize.c), cut into P×P patches (patches.c), and each patch
 * becomes the id of its nearest codebook vector, optionally refined by a
 * second, residual codebook (rvq.c, which also holds the lossless color
 * table). encode.c runs that pipeline, overlapping PNG reading with the
 * search on threads; tokens.c defines the token layout, decode and the
 * generation constraint; state.c the saved-state format; config.c the JSON
 * config; plugin.c the ABI glue (and documents the token layout).
 *
 * Codebooks, k-means, nearest-vector search, vq_parallel_for and the
 * splitmix64 rng come from the shared vector-quantization library
 * plugins/vq (vq.h), linked into this module; its functions carry the vq_
 * prefix, this plugin's the img_ prefix.
 *
 * Every allocation goes through the host's services (img_alloc,
 * vq_alloc_array...), every error through img_error(), which records the
 * message for mmg_last_error() and returns the status. Internal functions
 * are hidden (the module is built with -fvisibility=hidden). */
#ifndef MMGEN_PLUGIN_IMAGE_H
#define MMGEN_PLUGIN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/plugin.h"
#include "vq.h"

/* ---- host services ------------------------------------------------------ */

/* The host's table is vq_host (vq.h), set by the plugin's init() and valid
 * until deinit(); these are short forms of its services. Overflow-checked
 * array allocations use vq_alloc_array. */
static inline void *img_alloc(size_t size) { return vq_host->alloc(size); }
static inline void *img_realloc(void *p, size_t size) { return vq_host->realloc(p, size); }
static inline void img_free(void *p) {
    if (p) vq_host->free(p);
}
#define img_error(...) vq_host->error(__VA_ARGS__)
#define img_log(...) vq_host->log(__VA_ARGS__)

/* ---- images ------------------------------------------------------------- */

/* An 8-bit image in memory, rows top to bottom, channels interleaved. */
typedef struct img_image {
    int32_t width, height;
    int32_t channels; /* 1 gray, 3 RGB, 4 RGBA */
    uint8_t *pixels;  /* (height, width, channels), from img_alloc */
} img_image;

void img_image_free(img_image *im);

/* Reads a PNG of any valid color type, bit depth and interlacing into 8-bit
 * samples with `channels` channels (1, 3 or 4): palettes and low bit depths
 * are expanded, tRNS becomes alpha, 16-bit samples are scaled (rounded) to 8,
 * a file gamma other than sRGB's is converted to sRGB, gray becomes RGB by
 * copying, RGB becomes gray by luma, alpha is dropped or added (opaque).
 * Images of more than `max_pixels` pixels are refused from the IHDR, before
 * any large allocation (MMG_ERR_LIMIT). libpng errors give MMG_ERR_FORMAT
 * with libpng's message. */
int img_png_read(const uint8_t *data, size_t size, int32_t channels, uint64_t max_pixels,
                 img_image *out);
/* The same, telling on_rows(ctx, image, rows) as rows arrive: once with 0
 * rows when the size is known and the (still empty) buffer exists, then
 * after each band of a non-interlaced image (an interlaced one arrives at
 * once). A nonzero return stops reading with that status. On failure, if
 * failed_pixels is not NULL, the image buffer is handed over there (to be
 * freed by the caller once its threads are done with it) instead of freed. */
typedef int (*img_rows_fn)(void *ctx, const img_image *im, int32_t rows);
int img_png_read_progressive(const uint8_t *data, size_t size, int32_t channels,
                             uint64_t max_pixels, img_rows_fn on_rows, void *ctx,
                             uint8_t **failed_pixels, img_image *out);
/* Writes an 8-bit PNG (gray, RGB or RGBA by im->channels) into *out_bytes
 * (img_alloc). compression: zlib level 0-9. */
int img_png_write(const img_image *im, int compression, uint8_t **out_bytes, size_t *out_size);

/* Resamples to dst_w×dst_h: area averaging along an axis that shrinks,
 * bilinear (pixel centers, edges clamped) along one that grows. */
int img_resize(const img_image *src, int32_t dst_w, int32_t dst_h, img_image *out);

/* ---- patches ------------------------------------------------------------ */

/* Patches of P×P pixels in raster order, each flattened (row, column,
 * channel) into dim = P*P*C floats. An image whose size is not a multiple of
 * P is padded by repeating its last row and column. */
static inline int32_t img_patches_across(int32_t pixels, int32_t p) { return (pixels + p - 1) / p; }
/* Copies the patches of patch rows [row0, row0+nrows) into x:
 * x (nrows * patches_w, dim). */
void img_patches_extract(const img_image *im, int32_t p, int32_t row0, int32_t nrows, float *x);
/* Writes patch vectors (already rounded sums) back: x (nrows * patches_w,
 * dim) into image rows, clamping to [0, 255]. */
void img_patches_store(img_image *im, int32_t p, int32_t row0, int32_t nrows, const float *x);

/* ---- lossless color table (rvq.c) ------------------------------------- */

/* A lossless codebook holds exact colors (patch 1, dim = channels <= 4):
 * this table maps a packed color to the first codebook index holding it, so
 * encoding a pixel is a hash lookup instead of a search over K colors.
 * Open addressing; arrays from img_alloc. */
typedef struct img_palette {
    size_t cap;     /* a power of two, 0: no table */
    uint32_t *keys; /* (cap) packed colors */
    int32_t *vals;  /* (cap) codebook index, -1: empty */
} img_palette;

/* Builds pal from cb's vectors (integer colors, dim <= 4), replacing what
 * it held. */
int img_palette_index(img_palette *pal, const vq_codebook *cb);
void img_palette_free(img_palette *pal);

/* ---- config ------------------------------------------------------------- */

typedef struct img_config {
    int32_t channels;        /* 1 gray, 3 rgb, 4 rgba */
    int32_t patch_size;      /* 1, 2, 4, 8 or 16 */
    int32_t codebook_size;   /* K, per stage */
    int32_t stages;          /* 1 or 2 (residual VQ) */
    int32_t width, height;   /* resize target in pixels; 0: keep the image's size */
    int32_t lossless;        /* exact-color palette codebook (patch 1, one stage) */
    int32_t kmeans_iterations;
    int32_t png_compression; /* zlib level of decoded PNGs */
    int32_t threads;         /* 0: every CPU the process may use */
    uint64_t seed;
    int64_t max_train_patches; /* fit samples at most this many patches */
    uint64_t max_pixels;       /* larger images are refused */
} img_config;

void img_config_defaults(img_config *cfg);
/* Parses a JSON object over the defaults; unknown keys and bad values give
 * MMG_ERR_CONFIG naming the key. */
int img_config_parse(const char *json, size_t size, img_config *cfg);
/* Checks the fields' ranges and combinations (also used by load_state). */
int img_config_check(const img_config *cfg);
static inline int32_t img_config_dim(const img_config *c) {
    return c->patch_size * c->patch_size * c->channels;
}

/* ---- the tokenizer instance --------------------------------------------- */

typedef struct img_tokenizer {
    img_config cfg;
    int32_t fitted;          /* codebooks hold learned vectors */
    vq_codebook books[2];    /* one per stage */
    img_palette palette;     /* books[0]'s color table when cfg.lossless */
} img_tokenizer;

void img_tokenizer_clear(img_tokenizer *t);

/* rvq.c: fit every stage from training documents; encode patch vectors into
 * per-stage ids; reconstruct vectors from ids. */
int img_rvq_fit(img_tokenizer *t, const mmg_plugin_document *docs, size_t n_docs);
/* x (n, dim) is overwritten with the residual; ids (n, stages), stage j's
 * ids offset by j*K (their token ids). Searches on at most `threads`
 * threads. */
int img_rvq_encode(const img_tokenizer *t, float *x, size_t n, int32_t *ids, int32_t threads);
/* Reads a document into an image in the model's channels and size. */
int img_load_document(const img_config *cfg, const uint8_t *data, size_t size, img_image *out);

/* ---- token layout (tokens.c) -------------------------------------------- */

#define IMG_DIGIT_BASE 128
#define IMG_MAX_SIDE (IMG_DIGIT_BASE * IMG_DIGIT_BASE - 1) /* patches per side */
#define IMG_HEADER_TOKENS 6

typedef struct img_vocab {
    int32_t k, stages;
    int32_t w_hi, w_lo, h_hi, h_lo; /* first id of each digit range */
    int32_t chan;                   /* gray, rgb, rgba */
    int32_t stg;                    /* 1 stage, 2 stages */
    int32_t bos, eos, pad;
    int32_t size;
} img_vocab;

void img_vocab_of(const img_config *cfg, img_vocab *v);
int img_tokens_encode(const img_tokenizer *t, const uint8_t *doc, size_t size, int32_t **out_ids,
                      size_t *out_count);
int img_tokens_decode(const img_tokenizer *t, const int32_t *ids, size_t count, uint8_t **out_doc,
                      size_t *out_size);
int img_tokens_allowed_next(const img_tokenizer *t, const int32_t *tokens, size_t n,
                            uint8_t *allowed, size_t vocab_size);
int img_tokens_describe(const img_tokenizer *t, int32_t id, char *buf, size_t buf_size,
                        size_t *out_length);

/* ---- saved state (state.c) ---------------------------------------------- */
int img_state_save(const img_tokenizer *t, uint8_t **out_bytes, size_t *out_size);
int img_state_load(img_tokenizer *t, const uint8_t *bytes, size_t size);

#endif /* MMGEN_PLUGIN_IMAGE_H */
