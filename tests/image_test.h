/* tests/image_test.h - helpers shared by the image plugin's tests: files,
 * the plugin opened through the public API, and an independent PNG reader
 * (libpng's simplified API) to look at what decode wrote. */
#ifndef MMGEN_TESTS_IMAGE_TEST_H
#define MMGEN_TESTS_IMAGE_TEST_H

#include <criterion/criterion.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/mmgen.h"
#include "test_files.h"

#define IMAGE_PLUGIN_PATH MMGEN_TEST_PLUGIN_DIR "/mmgen-image.so"

static inline uint8_t *image_test_fixture(const char *name, const char *ext, size_t *size) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s", MMGEN_IMAGE_FIXTURES, name, ext);
    uint8_t *b = test_read_file(path, size);
    cr_assert_not_null(b, "cannot read fixture %s", path);
    return b;
}

/* A tokenizer of the image plugin with `config` (JSON). */
static inline mmg_tokenizer *image_test_tokenizer(const char *config) {
    mmg_plugin *plugin = NULL;
    mmg_status s = mmg_plugin_open(IMAGE_PLUGIN_PATH, &plugin);
    cr_assert_eq(s, MMG_OK, "mmg_plugin_open: %s", mmg_last_error());
    mmg_tokenizer *t = NULL;
    s = mmg_tokenizer_create(plugin, config, &t);
    mmg_plugin_close(plugin);
    cr_assert_eq(s, MMG_OK, "mmg_tokenizer_create(%s): %s", config, mmg_last_error());
    return t;
}

static inline mmg_status image_test_fit1(mmg_tokenizer *t, const uint8_t *png, size_t size) {
    const uint8_t *docs[1] = {png};
    size_t sizes[1] = {size};
    return mmg_tokenizer_fit(t, docs, sizes, 1);
}

/* Reads PNG bytes with libpng's simplified API into malloc'ed 8-bit pixels
 * of `format` (PNG_FORMAT_RGBA, PNG_FORMAT_GRAY...). */
static inline uint8_t *image_test_png_pixels(const uint8_t *png, size_t size, uint32_t format,
                                             uint32_t flags, int *w, int *h) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.flags = flags; /* read by begin_read (PNG_IMAGE_FLAG_16BIT_sRGB) */
    if (!png_image_begin_read_from_memory(&im, png, size)) return NULL;
    im.format = format;
    uint8_t *px = (uint8_t *)malloc(PNG_IMAGE_SIZE(im));
    if (!png_image_finish_read(&im, NULL, px, 0, NULL)) {
        free(px);
        png_image_free(&im);
        return NULL;
    }
    *w = (int)im.width;
    *h = (int)im.height;
    return px;
}

/* fit (lossless, patch 1) + encode + decode: what the plugin read, as the
 * RGBA pixels of the PNG it wrote back. */
static inline uint8_t *image_test_lossless_rgba(const uint8_t *png, size_t size, int *w, int *h) {
    mmg_tokenizer *t = image_test_tokenizer(
        "{\"channels\":\"rgba\",\"patch_size\":1,\"lossless\":true,\"codebook_size\":4096}");
    cr_assert_eq(image_test_fit1(t, png, size), MMG_OK, "fit: %s", mmg_last_error());
    int32_t *ids = NULL;
    size_t n = 0;
    cr_assert_eq(mmg_tokenizer_encode(t, png, size, &ids, &n), MMG_OK, "encode: %s", mmg_last_error());
    uint8_t *out = NULL;
    size_t out_size = 0;
    cr_assert_eq(mmg_tokenizer_decode(t, ids, n, &out, &out_size), MMG_OK, "decode: %s",
                 mmg_last_error());
    uint8_t *px = image_test_png_pixels(out, out_size, PNG_FORMAT_RGBA, 0, w, h);
    cr_assert_not_null(px, "libpng cannot read the PNG decode wrote");
    mmg_free(ids);
    mmg_free(out);
    mmg_tokenizer_free(t);
    return px;
}

/* CRC-32 as PNG chunks use it, to build files with valid CRCs. */
static inline uint32_t image_test_crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static inline void image_test_put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Recomputes the CRC of the chunk starting at `off` (its length field). */
static inline void image_test_fix_crc(uint8_t *png, size_t off) {
    uint32_t len = ((uint32_t)png[off] << 24) | ((uint32_t)png[off + 1] << 16) |
                   ((uint32_t)png[off + 2] << 8) | png[off + 3];
    image_test_put_be32(png + off + 8 + len, image_test_crc32(png + off + 4, 4 + len));
}

#endif
