/* plugins/image/config.c - the tokenizer's JSON configuration.
 *
 *   {"channels": "rgb",          "gray" | "rgb" | "rgba"
 *    "patch_size": 4,            1, 2, 4, 8 or 16 pixels
 *    "codebook_size": 1024,      K vectors per stage (1..65536)
 *    "stages": 1,                1, or 2 for a residual second codebook
 *    "width": 0, "height": 0,    resize every image to this size (pixels,
 *                                multiples of patch_size; 0: keep the size)
 *    "lossless": false,          exact colors: patch 1, one stage, fit keeps
 *                                the training images' colors (at most K)
 *    "seed": 1, "kmeans_iterations": 20,
 *    "max_train_patches": 65536, fit samples at most this many patches
 *    "max_pixels": 67108864,     larger images are refused
 *    "png_compression": 1,       zlib level of decoded PNGs (0-9)
 *    "threads": 0}               threads for search and k-means; 0: every
 *                                CPU the process may run on. Results do not
 *                                depend on it.
 *
 * Unknown keys are errors, so a typo never silently falls back to a default. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "image.h"

void img_config_defaults(img_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->channels = 3;
    cfg->patch_size = 4;
    cfg->codebook_size = 1024;
    cfg->stages = 1;
    cfg->kmeans_iterations = 20;
    cfg->png_compression = 1;
    cfg->seed = 1;
    cfg->max_train_patches = 65536;
    cfg->max_pixels = 64ull << 20;
}

int img_config_check(const img_config *c) {
    if (c->channels != 1 && c->channels != 3 && c->channels != 4)
        return img_error(MMG_ERR_CONFIG, "image config: channels is %d; expected gray, rgb or rgba",
                         c->channels);
    int p = c->patch_size;
    if (p != 1 && p != 2 && p != 4 && p != 8 && p != 16)
        return img_error(MMG_ERR_CONFIG, "image config: patch_size is %d; expected 1, 2, 4, 8 or 16",
                         p);
    if (c->codebook_size < 1 || c->codebook_size > 65536)
        return img_error(MMG_ERR_CONFIG, "image config: codebook_size is %d; expected 1 to 65536",
                         c->codebook_size);
    if (c->stages != 1 && c->stages != 2)
        return img_error(MMG_ERR_CONFIG, "image config: stages is %d; expected 1 or 2", c->stages);
    if ((c->width == 0) != (c->height == 0) || c->width < 0 || c->height < 0)
        return img_error(MMG_ERR_CONFIG,
                         "image config: width %d and height %d must both be set (> 0) or both 0",
                         c->width, c->height);
    if (c->width % p || c->height % p)
        return img_error(MMG_ERR_CONFIG,
                         "image config: width %d and height %d must be multiples of patch_size %d",
                         c->width, c->height, p);
    if (c->width / p > IMG_MAX_SIDE || c->height / p > IMG_MAX_SIDE)
        return img_error(MMG_ERR_CONFIG,
                         "image config: %dx%d is more than %d patches on a side", c->width,
                         c->height, IMG_MAX_SIDE);
    if (c->width && (uint64_t)c->width * (uint64_t)c->height > c->max_pixels)
        return img_error(MMG_ERR_CONFIG, "image config: width x height %dx%d exceeds max_pixels %llu",
                         c->width, c->height, (unsigned long long)c->max_pixels);
    if (c->lossless && (p != 1 || c->stages != 1))
        return img_error(MMG_ERR_CONFIG,
                         "image config: lossless needs patch_size 1 and stages 1 (got %d and %d)", p,
                         c->stages);
    if (c->kmeans_iterations < 0 || c->kmeans_iterations > 10000)
        return img_error(MMG_ERR_CONFIG, "image config: kmeans_iterations is %d; expected 0 to 10000",
                         c->kmeans_iterations);
    if (c->max_train_patches < 1)
        return img_error(MMG_ERR_CONFIG, "image config: max_train_patches must be at least 1");
    if (c->max_pixels < 1)
        return img_error(MMG_ERR_CONFIG, "image config: max_pixels must be at least 1");
    if (c->png_compression < 0 || c->png_compression > 9)
        return img_error(MMG_ERR_CONFIG, "image config: png_compression is %d; expected 0 to 9",
                         c->png_compression);
    return MMG_OK;
}

/* An integer JSON number within [lo, hi]. */
static int get_int(const cJSON *item, double lo, double hi, double *out) {
    if (!cJSON_IsNumber(item))
        return img_error(MMG_ERR_CONFIG, "image config: \"%s\" must be a number", item->string);
    double v = item->valuedouble;
    if (v != floor(v) || v < lo || v > hi)
        return img_error(MMG_ERR_CONFIG, "image config: \"%s\" is %g; expected an integer in [%g, %g]",
                         item->string, v, lo, hi);
    *out = v;
    return MMG_OK;
}

int img_config_parse(const char *json, size_t size, img_config *cfg) {
    img_config c;
    img_config_defaults(&c);
    size_t n = json ? size : 0;
    while (n && (json[n - 1] == '\0' || json[n - 1] == ' ' || json[n - 1] == '\n')) n--;
    if (n == 0) {
        int rc = img_config_check(&c);
        if (rc == MMG_OK) *cfg = c;
        return rc;
    }
    const char *end = NULL; /* cJSON's global error pointer is not thread-safe */
    cJSON *root = cJSON_ParseWithLengthOpts(json, n, &end, 0);
    if (!root)
        return img_error(MMG_ERR_CONFIG, "image config: not valid JSON (near byte %ld)",
                         end ? (long)(end - json) : -1L);
    int rc = MMG_OK;
    if (!cJSON_IsObject(root)) {
        rc = img_error(MMG_ERR_CONFIG, "image config: expected a JSON object");
        goto done;
    }
    for (const cJSON *it = root->child; it && rc == MMG_OK; it = it->next) {
        const char *k = it->string ? it->string : "";
        double v = 0;
        if (!strcmp(k, "channels")) {
            const char *s = cJSON_GetStringValue(it);
            if (s && !strcmp(s, "gray")) c.channels = 1;
            else if (s && !strcmp(s, "rgb")) c.channels = 3;
            else if (s && !strcmp(s, "rgba")) c.channels = 4;
            else rc = img_error(MMG_ERR_CONFIG, "image config: \"channels\" must be \"gray\", \"rgb\" or \"rgba\"");
        } else if (!strcmp(k, "lossless")) {
            if (!cJSON_IsBool(it)) rc = img_error(MMG_ERR_CONFIG, "image config: \"lossless\" must be true or false");
            else c.lossless = cJSON_IsTrue(it);
        } else if (!strcmp(k, "patch_size")) {
            if ((rc = get_int(it, 1, 16, &v)) == MMG_OK) c.patch_size = (int32_t)v;
        } else if (!strcmp(k, "codebook_size")) {
            if ((rc = get_int(it, 1, 65536, &v)) == MMG_OK) c.codebook_size = (int32_t)v;
        } else if (!strcmp(k, "stages")) {
            if ((rc = get_int(it, 1, 2, &v)) == MMG_OK) c.stages = (int32_t)v;
        } else if (!strcmp(k, "width")) {
            if ((rc = get_int(it, 0, 1 << 24, &v)) == MMG_OK) c.width = (int32_t)v;
        } else if (!strcmp(k, "height")) {
            if ((rc = get_int(it, 0, 1 << 24, &v)) == MMG_OK) c.height = (int32_t)v;
        } else if (!strcmp(k, "seed")) {
            if ((rc = get_int(it, 0, 9007199254740992.0, &v)) == MMG_OK) c.seed = (uint64_t)v;
        } else if (!strcmp(k, "kmeans_iterations")) {
            if ((rc = get_int(it, 0, 10000, &v)) == MMG_OK) c.kmeans_iterations = (int32_t)v;
        } else if (!strcmp(k, "max_train_patches")) {
            if ((rc = get_int(it, 1, 1e12, &v)) == MMG_OK) c.max_train_patches = (int64_t)v;
        } else if (!strcmp(k, "max_pixels")) {
            if ((rc = get_int(it, 1, 1e15, &v)) == MMG_OK) c.max_pixels = (uint64_t)v;
        } else if (!strcmp(k, "threads")) {
            if ((rc = get_int(it, 0, 64, &v)) == MMG_OK) c.threads = (int32_t)v;
        } else if (!strcmp(k, "png_compression")) {
            if ((rc = get_int(it, 0, 9, &v)) == MMG_OK) c.png_compression = (int32_t)v;
        } else {
            rc = img_error(MMG_ERR_CONFIG,
                           "image config: unknown key \"%s\" (known: channels, patch_size, "
                           "codebook_size, stages, width, height, lossless, seed, "
                           "kmeans_iterations, max_train_patches, max_pixels, png_compression, threads)",
                           k);
        }
    }
    if (rc == MMG_OK) rc = img_config_check(&c);
    if (rc == MMG_OK) *cfg = c;
done:
    cJSON_Delete(root);
    return rc;
}
