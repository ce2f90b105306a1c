/* plugins/image/rvq.c - residual vector quantization: fitting the stages'
 * codebooks from training images and turning patches into per-stage ids.
 *
 * Stage 1 quantizes each patch to its nearest codebook vector; stage 2, when
 * configured, quantizes what stage 1 left over (the residual) with a second
 * codebook, so a patch is c1[a] + c2[b]. Fitting stage 2 uses the residuals
 * of the same training sample under the fitted stage 1.
 *
 * Training patches are a uniform sample (reservoir sampling, seeded) of at
 * most max_train_patches patches over all training images, so memory and
 * k-means time stay bounded however many images are given.
 *
 * The codebooks are vq_codebooks: k-means and the nearest-vector search
 * come from plugins/vq (vq.h).
 *
 * Lossless mode does not run k-means: the codebook is the set of distinct
 * colors of the training images, sorted, so patch-1 tokens reproduce them
 * exactly; a hash table (img_palette) finds each pixel's color without a
 * search. */
#include <stdlib.h>
#include <string.h>

#include "image.h"

int img_load_document(const img_config *cfg, const uint8_t *data, size_t size, img_image *out) {
    img_image im;
    int rc = img_png_read(data, size, cfg->channels, cfg->max_pixels, &im);
    if (rc != MMG_OK) return rc;
    if (cfg->width && (im.width != cfg->width || im.height != cfg->height)) {
        img_image r;
        rc = img_resize(&im, cfg->width, cfg->height, &r);
        img_image_free(&im);
        if (rc != MMG_OK) return rc;
        im = r;
    }
    int32_t pw = img_patches_across(im.width, cfg->patch_size);
    int32_t ph = img_patches_across(im.height, cfg->patch_size);
    if (pw > IMG_MAX_SIDE || ph > IMG_MAX_SIDE) {
        img_image_free(&im);
        return img_error(MMG_ERR_LIMIT,
                         "image: %dx%d pixels make %dx%d patches of %d; the token layout holds at "
                         "most %d patches on a side (set width/height to resize)",
                         im.width, im.height, pw, ph, cfg->patch_size, IMG_MAX_SIDE);
    }
    *out = im;
    return MMG_OK;
}

/* ---- lossless: the exact colors ------------------------------------------ */

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The codebook of the training images' distinct colors, and its table. */
static int fit_palette(img_tokenizer *t, const mmg_plugin_document *docs, size_t n_docs,
                       vq_codebook *cb, img_palette *pal) {
    const int32_t k = t->cfg.codebook_size, ch = t->cfg.channels;
    size_t cap = 16;
    while (cap < (size_t)k * 4) cap *= 2;
    uint32_t *keys = (uint32_t *)vq_alloc_array(cap, sizeof(uint32_t), 1);
    uint8_t *used = (uint8_t *)vq_alloc_array(cap, 1, 1);
    uint32_t *colors = (uint32_t *)vq_alloc_array((size_t)k + 1, sizeof(uint32_t), 1);
    int rc = MMG_OK;
    size_t count = 0;
    if (!keys || !used || !colors) {
        rc = img_error(MMG_ERR_NOMEM, "image: out of memory for the color table");
        goto done;
    }
    memset(used, 0, cap);
    for (size_t d = 0; d < n_docs && rc == MMG_OK; d++) {
        img_image im;
        if ((rc = img_load_document(&t->cfg, docs[d].data, docs[d].size, &im)) != MMG_OK) {
            img_log(MMG_PLUGIN_LOG_DEBUG, "image: fit: training image %zu failed", d);
            break;
        }
        size_t npx = (size_t)im.width * im.height;
        uint32_t last = 0;
        int have_last = 0;
        for (size_t i = 0; i < npx; i++) {
            uint32_t key = 0;
            for (int32_t c = 0; c < ch; c++) key |= (uint32_t)im.pixels[i * ch + c] << (8 * c);
            if (have_last && key == last) continue;
            last = key;
            have_last = 1;
            size_t h = (size_t)((key * 2654435761u) & (cap - 1));
            while (used[h] && keys[h] != key) h = (h + 1) & (cap - 1);
            if (used[h]) continue;
            if (count == (size_t)k) {
                rc = img_error(MMG_ERR_LIMIT,
                               "image: lossless fit found more than codebook_size = %d distinct "
                               "colors (training image %zu); raise codebook_size or turn lossless off",
                               k, d);
                break;
            }
            used[h] = 1;
            keys[h] = key;
            colors[count++] = key;
        }
        img_image_free(&im);
    }
    if (rc != MMG_OK) goto done;
    qsort(colors, count, sizeof(uint32_t), cmp_u32);
    memset(cb, 0, sizeof *cb);
    cb->k = k;
    cb->dim = ch;
    cb->c = (float *)vq_alloc_array((size_t)k, (size_t)ch, sizeof(float));
    if (!cb->c) {
        rc = img_error(MMG_ERR_NOMEM, "image: out of memory for the codebook");
        goto done;
    }
    for (int32_t i = 0; i < k; i++) { /* unused entries repeat the last color */
        uint32_t key = colors[(size_t)i < count ? (size_t)i : count - 1];
        for (int32_t c = 0; c < ch; c++) cb->c[(size_t)i * ch + c] = (float)((key >> (8 * c)) & 255);
    }
    cb->threads = vq_thread_count(t->cfg.threads);
    if ((rc = vq_codebook_prepare(cb)) != MMG_OK || (rc = img_palette_index(pal, cb)) != MMG_OK)
        vq_codebook_free(cb);
    img_log(MMG_PLUGIN_LOG_INFO, "image: lossless fit: %zu distinct colors, codebook_size %d",
            count, k);
done:
    img_free(keys);
    img_free(used);
    img_free(colors);
    return rc;
}

/* ---- k-means stages -------------------------------------------------------- */

/* Reservoir sample of training patches: *out (count, dim). */
static int sample_patches(const img_config *cfg, const mmg_plugin_document *docs, size_t n_docs,
                          float **out, size_t *out_count, uint64_t *out_seen) {
    const int32_t p = cfg->patch_size, dim = img_config_dim(cfg);
    const size_t m = (size_t)cfg->max_train_patches;
    uint64_t rng = cfg->seed ^ 0xA5A5F00DCAFEull, seen = 0;
    size_t count = 0, cap = 0;
    float *buf = NULL, *row = NULL;
    int rc = MMG_OK;
    for (size_t d = 0; d < n_docs && rc == MMG_OK; d++) {
        img_image im;
        if ((rc = img_load_document(cfg, docs[d].data, docs[d].size, &im)) != MMG_OK) break;
        int32_t pw = img_patches_across(im.width, p), ph = img_patches_across(im.height, p);
        img_free(row);
        row = (float *)vq_alloc_array((size_t)pw, (size_t)dim, sizeof(float));
        if (!row) rc = img_error(MMG_ERR_NOMEM, "image: out of memory reading training patches");
        for (int32_t r = 0; r < ph && rc == MMG_OK; r++) {
            img_patches_extract(&im, p, r, 1, row);
            for (int32_t q = 0; q < pw; q++, seen++) {
                size_t slot;
                if (count < m) {
                    if (count == cap) {
                        size_t ncap = cap ? cap * 2 : 4096;
                        if (ncap > m) ncap = m;
                        float *nb = (float *)img_realloc(buf, ncap * dim * sizeof(float));
                        if (!nb) {
                            rc = img_error(MMG_ERR_NOMEM, "image: out of memory for %zu training patches",
                                           ncap);
                            break;
                        }
                        buf = nb;
                        cap = ncap;
                    }
                    slot = count++;
                } else {
                    uint64_t j = vq_rng_below(&rng, seen + 1);
                    if (j >= m) continue;
                    slot = (size_t)j;
                }
                memcpy(buf + slot * dim, row + (size_t)q * dim, sizeof(float) * dim);
            }
        }
        img_image_free(&im);
    }
    img_free(row);
    if (rc != MMG_OK) {
        img_free(buf);
        return rc;
    }
    *out = buf;
    *out_count = count;
    *out_seen = seen;
    return MMG_OK;
}

int img_rvq_fit(img_tokenizer *t, const mmg_plugin_document *docs, size_t n_docs) {
    if (n_docs == 0 || !docs) return img_error(MMG_ERR_INVALID_ARG, "image: fit needs at least one PNG");
    vq_codebook books[2];
    memset(books, 0, sizeof books);
    img_palette pal = {0, NULL, NULL};
    int rc;
    if (t->cfg.lossless) {
        rc = fit_palette(t, docs, n_docs, &books[0], &pal);
    } else {
        float *x = NULL;
        size_t n = 0;
        uint64_t seen = 0;
        if ((rc = sample_patches(&t->cfg, docs, n_docs, &x, &n, &seen)) != MMG_OK) return rc;
        if (n == 0) {
            img_free(x);
            return img_error(MMG_ERR_CONFIG, "image: fit found no training patches");
        }
        const int32_t k = t->cfg.codebook_size, dim = img_config_dim(&t->cfg);
        img_log(MMG_PLUGIN_LOG_INFO, "image: fit: %zu of %llu patches sampled, k = %d, dim = %d", n,
                (unsigned long long)seen, k, dim);
        int32_t *idx = NULL;
        for (int32_t s = 0; s < t->cfg.stages && rc == MMG_OK; s++) {
            if (s > 0) { /* the next stage learns what the previous left over */
                idx = (int32_t *)vq_alloc_array(n, sizeof(int32_t), 1);
                if (!idx) {
                    rc = img_error(MMG_ERR_NOMEM, "image: out of memory for residuals");
                    break;
                }
                if ((rc = vq_codebook_nearest(&books[s - 1], x, n, idx, NULL)) != MMG_OK) break;
                for (size_t i = 0; i < n; i++) {
                    const float *c = books[s - 1].c + (size_t)idx[i] * dim;
                    for (int32_t j = 0; j < dim; j++) x[i * dim + j] -= c[j];
                }
                img_free(idx);
                idx = NULL;
            }
            rc = vq_kmeans_fit(x, n, dim, k, t->cfg.kmeans_iterations, t->cfg.seed + (uint64_t)s,
                               vq_thread_count(t->cfg.threads), &books[s]);
        }
        img_free(idx);
        img_free(x);
    }
    if (rc != MMG_OK) {
        vq_codebook_free(&books[0]);
        vq_codebook_free(&books[1]);
        img_palette_free(&pal);
        return rc;
    }
    img_tokenizer_clear(t);
    t->books[0] = books[0];
    t->books[1] = books[1];
    t->palette = pal;
    t->fitted = 1;
    return MMG_OK;
}

/* ---- lossless: the color table ------------------------------------------ */

static inline size_t palette_slot(const img_palette *pal, uint32_t key) {
    size_t h = (size_t)((key * 2654435761u) & (pal->cap - 1));
    while (pal->vals[h] >= 0 && pal->keys[h] != key) h = (h + 1) & (pal->cap - 1);
    return h;
}

void img_palette_free(img_palette *pal) {
    img_free(pal->keys);
    img_free(pal->vals);
    memset(pal, 0, sizeof *pal);
}

int img_palette_index(img_palette *pal, const vq_codebook *cb) {
    const int32_t k = cb->k, ch = cb->dim;
    size_t cap = 16;
    while (cap < (size_t)k * 2) cap *= 2;
    img_palette_free(pal);
    pal->keys = (uint32_t *)vq_alloc_array(cap, sizeof(uint32_t), 1);
    pal->vals = (int32_t *)vq_alloc_array(cap, sizeof(int32_t), 1);
    if (!pal->keys || !pal->vals) {
        img_palette_free(pal);
        return img_error(MMG_ERR_NOMEM, "image: out of memory for the color table");
    }
    pal->cap = cap;
    for (size_t i = 0; i < cap; i++) pal->vals[i] = -1;
    for (int32_t i = 0; i < k; i++) { /* the first index wins, as in a search */
        uint32_t key = 0;
        for (int32_t c = 0; c < ch; c++) key |= (uint32_t)cb->c[(size_t)i * ch + c] << (8 * c);
        size_t h = palette_slot(pal, key);
        if (pal->vals[h] < 0) {
            pal->keys[h] = key;
            pal->vals[h] = i;
        }
    }
    return MMG_OK;
}

/* A hash lookup per pixel; colors the table lacks (an image it was not
 * fitted on) fall back to the nearest color by search. */
static int encode_palette(const img_palette *pal, const vq_codebook *cb, const float *x, size_t n,
                          int32_t *ids, int32_t threads) {
    const int32_t ch = cb->dim;
    size_t *miss = (size_t *)vq_alloc_array(n ? n : 1, sizeof(size_t), 1);
    if (!miss) return img_error(MMG_ERR_NOMEM, "image: out of memory encoding");
    size_t nmiss = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t key = 0;
        for (int32_t c = 0; c < ch; c++) key |= (uint32_t)x[i * ch + c] << (8 * c);
        size_t h = palette_slot(pal, key);
        if (pal->vals[h] >= 0) ids[i] = pal->vals[h];
        else miss[nmiss++] = i;
    }
    int rc = MMG_OK;
    if (nmiss) {
        float *mx = (float *)vq_alloc_array(nmiss, (size_t)ch, sizeof(float));
        int32_t *mi = (int32_t *)vq_alloc_array(nmiss, sizeof(int32_t), 1);
        if (!mx || !mi) rc = img_error(MMG_ERR_NOMEM, "image: out of memory encoding");
        for (size_t j = 0; rc == MMG_OK && j < nmiss; j++)
            memcpy(mx + j * ch, x + miss[j] * ch, sizeof(float) * ch);
        if (rc == MMG_OK) rc = vq_codebook_search(cb, mx, nmiss, mi, NULL, threads);
        for (size_t j = 0; rc == MMG_OK && j < nmiss; j++) ids[miss[j]] = mi[j];
        img_free(mx);
        img_free(mi);
    }
    img_free(miss);
    return rc;
}

int img_rvq_encode(const img_tokenizer *t, float *x, size_t n, int32_t *ids, int32_t threads) {
    const int32_t stages = t->cfg.stages, dim = img_config_dim(&t->cfg);
    if (t->cfg.lossless) return encode_palette(&t->palette, &t->books[0], x, n, ids, threads);
    int32_t *idx = (int32_t *)vq_alloc_array(n ? n : 1, sizeof(int32_t), 1);
    if (!idx) return img_error(MMG_ERR_NOMEM, "image: out of memory encoding");
    int rc = MMG_OK;
    for (int32_t s = 0; s < stages && rc == MMG_OK; s++) {
        const vq_codebook *cb = &t->books[s];
        if ((rc = vq_codebook_search(cb, x, n, idx, NULL, threads)) != MMG_OK) break;
        for (size_t i = 0; i < n; i++) {
            ids[i * stages + s] = idx[i] + s * cb->k;
            if (s + 1 < stages) {
                const float *c = cb->c + (size_t)idx[i] * dim;
                for (int32_t j = 0; j < dim; j++) x[i * dim + j] -= c[j];
            }
        }
    }
    img_free(idx);
    return rc;
}

void img_tokenizer_clear(img_tokenizer *t) {
    vq_codebook_free(&t->books[0]);
    vq_codebook_free(&t->books[1]);
    img_palette_free(&t->palette);
    t->fitted = 0;
}
