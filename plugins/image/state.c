/* plugins/image/state.c - the saved state: config and codebooks as bytes.
 *
 * Layout (little-endian throughout):
 *   offset 0   8 bytes  magic "MMGIMAGE"
 *          8   u32      format version (1)
 *         12   u32      H, bytes of the config block that follows (64 in v1)
 *         16   H bytes  config: i32 channels, patch_size, codebook_size,
 *                       stages, width, height, lossless, kmeans_iterations,
 *                       png_compression; u64 seed; i64 max_train_patches;
 *                       u64 max_pixels; u32 number of codebooks saved (0 or
 *                       stages)
 *    16 + H    codebooks, each codebook_size x dim float32, dim =
 *              patch_size^2 * channels
 *    end - 8   u64      FNV-1a 64 checksum of every byte before it
 *
 * Loading checks every field, the exact size, the checksum, and that every
 * float is finite, and restores the config with the codebooks, except the
 * loader's own limits (max_pixels, png_compression), which stay as the
 * instance was created. Anything wrong is MMG_ERR_FORMAT. */
#include <math.h>
#include <string.h>

#include "bytes.h"
#include "image.h"

#define STATE_MAGIC "MMGIMAGE"
#define STATE_VERSION 1u
#define STATE_CONFIG_BYTES 64u

int img_state_save(const img_tokenizer *t, uint8_t **out_bytes, size_t *out_size) {
    const img_config *c = &t->cfg;
    const uint32_t books = t->fitted ? (uint32_t)c->stages : 0;
    const size_t per_book = (size_t)c->codebook_size * img_config_dim(c) * 4;
    const size_t size = 16 + STATE_CONFIG_BYTES + books * per_book + 8;
    uint8_t *b = (uint8_t *)img_alloc(size);
    if (!b) return img_error(MMG_ERR_NOMEM, "image: out of memory for a %zu-byte state", size);
    memcpy(b, STATE_MAGIC, 8);
    vq_put_u32(b + 8, STATE_VERSION);
    vq_put_u32(b + 12, STATE_CONFIG_BYTES);
    uint8_t *p = b + 16;
    const int32_t ints[9] = {c->channels, c->patch_size, c->codebook_size, c->stages, c->width,
                             c->height, c->lossless, c->kmeans_iterations, c->png_compression};
    for (int i = 0; i < 9; i++, p += 4) vq_put_u32(p, (uint32_t)ints[i]);
    vq_put_u64(p, c->seed);
    vq_put_u64(p + 8, (uint64_t)c->max_train_patches);
    vq_put_u64(p + 16, c->max_pixels);
    vq_put_u32(p + 24, books);
    p = b + 16 + STATE_CONFIG_BYTES;
    for (uint32_t s = 0; s < books; s++) {
        const float *v = t->books[s].c;
        for (size_t i = 0; i < per_book / 4; i++, p += 4) vq_put_f32(p, v[i]);
    }
    vq_put_u64(p, vq_fnv1a(b, size - 8));
    *out_bytes = b;
    *out_size = size;
    return MMG_OK;
}

int img_state_load(img_tokenizer *t, const uint8_t *b, size_t size) {
    if (!b && size) return img_error(MMG_ERR_INVALID_ARG, "image: NULL state");
    if (size < 16 + STATE_CONFIG_BYTES + 8 || memcmp(b, STATE_MAGIC, 8) != 0)
        return img_error(MMG_ERR_FORMAT, "image: not an image tokenizer state (%zu bytes, magic "
                         "\"" STATE_MAGIC "\" expected)", size);
    uint32_t version = vq_get_u32(b + 8), hbytes = vq_get_u32(b + 12);
    if (version != STATE_VERSION)
        return img_error(MMG_ERR_FORMAT, "image: state format version %u; this plugin reads "
                         "version %u", version, STATE_VERSION);
    if (hbytes != STATE_CONFIG_BYTES)
        return img_error(MMG_ERR_FORMAT, "image: state config block is %u bytes; expected %u",
                         hbytes, STATE_CONFIG_BYTES);
    uint64_t want_sum = vq_get_u64(b + size - 8), sum = vq_fnv1a(b, size - 8);
    if (want_sum != sum)
        return img_error(MMG_ERR_FORMAT, "image: state checksum mismatch (stored %016llx, "
                         "computed %016llx): the state is corrupt or truncated",
                         (unsigned long long)want_sum, (unsigned long long)sum);
    img_config c = t->cfg; /* keeps the loader's max_pixels and png_compression */
    const uint8_t *p = b + 16;
    int32_t ints[9];
    for (int i = 0; i < 9; i++, p += 4) ints[i] = (int32_t)vq_get_u32(p);
    c.channels = ints[0];
    c.patch_size = ints[1];
    c.codebook_size = ints[2];
    c.stages = ints[3];
    c.width = ints[4];
    c.height = ints[5];
    c.lossless = ints[6];
    c.kmeans_iterations = ints[7];
    c.seed = vq_get_u64(p);
    c.max_train_patches = (int64_t)vq_get_u64(p + 8);
    uint32_t books = vq_get_u32(p + 24);
    if (c.lossless != 0 && c.lossless != 1)
        return img_error(MMG_ERR_FORMAT, "image: state field lossless is %d", c.lossless);
    if (img_config_check(&c) != MMG_OK)
        return img_error(MMG_ERR_FORMAT, "image: the state's config is invalid: channels %d, "
                         "patch_size %d, codebook_size %d, stages %d, size %dx%d, lossless %d",
                         c.channels, c.patch_size, c.codebook_size, c.stages, c.width, c.height,
                         c.lossless);
    if (books != 0 && books != (uint32_t)c.stages)
        return img_error(MMG_ERR_FORMAT, "image: state holds %u codebooks for %d stages", books,
                         c.stages);
    const int32_t dim = img_config_dim(&c);
    const size_t per_book = (size_t)c.codebook_size * dim;
    if (size != 16 + STATE_CONFIG_BYTES + books * per_book * 4 + 8)
        return img_error(MMG_ERR_FORMAT, "image: state is %zu bytes; %u codebooks of %d x %d "
                         "floats take %zu", size, books, c.codebook_size, dim,
                         16 + STATE_CONFIG_BYTES + books * per_book * 4 + 8);
    vq_codebook cb[2];
    memset(cb, 0, sizeof cb);
    int rc = MMG_OK;
    p = b + 16 + STATE_CONFIG_BYTES;
    for (uint32_t s = 0; s < books && rc == MMG_OK; s++) {
        cb[s].k = c.codebook_size;
        cb[s].dim = dim;
        cb[s].threads = vq_thread_count(c.threads);
        cb[s].c = (float *)vq_alloc_array(per_book, sizeof(float), 1);
        if (!cb[s].c) {
            rc = img_error(MMG_ERR_NOMEM, "image: out of memory loading a codebook");
            break;
        }
        for (size_t i = 0; i < per_book; i++, p += 4) {
            float f = vq_get_f32(p);
            if (!isfinite(f) || fabsf(f) > 1e6f ||
                (c.lossless && (f < 0 || f > 255 || f != floorf(f)))) {
                rc = img_error(MMG_ERR_FORMAT, "image: codebook %u value %zu is %g, not a valid "
                               "sample", s + 1, i, (double)f);
                break;
            }
            cb[s].c[i] = f;
        }
        if (rc == MMG_OK) rc = vq_codebook_prepare(&cb[s]);
    }
    img_palette pal = {0, NULL, NULL};
    if (rc == MMG_OK && c.lossless && books > 0) rc = img_palette_index(&pal, &cb[0]);
    if (rc != MMG_OK) {
        vq_codebook_free(&cb[0]);
        vq_codebook_free(&cb[1]);
        return rc;
    }
    img_tokenizer_clear(t);
    t->cfg = c;
    t->books[0] = cb[0];
    t->books[1] = cb[1];
    t->palette = pal;
    t->fitted = books > 0;
    return MMG_OK;
}
