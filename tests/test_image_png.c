/* tests/test_image_png.c - the image plugin reads every kind of PNG exactly
 * and refuses broken ones with a clear error.
 *
 * The fixtures (tests/fixtures/image, made by make_fixtures.py with its own
 * PNG encoder, no libpng) come with the RGBA pixels they must decode to,
 * computed from the PNG specification. The plugin reads each one in lossless
 * mode (patch 1, exact colors) and writes it back; we read that back with
 * libpng's simplified API and compare pixel by pixel. We also compare with
 * libpng's simplified API reading the fixture itself. */
#include "image_test.h"

static char **fixture_names(size_t *count) {
    size_t size = 0;
    char *list = (char *)image_test_fixture("LIST", "txt", &size);
    char **names = calloc(256, sizeof *names);
    size_t n = 0;
    for (char *tok = strtok(list, "\n"); tok && n < 256; tok = strtok(NULL, "\n"))
        names[n++] = strdup(tok);
    free(list);
    *count = n;
    return names;
}

Test(image_png, every_format_decodes_to_the_pixels_the_png_spec_gives) {
    size_t n = 0;
    char **names = fixture_names(&n);
    cr_assert_geq(n, 40, "the fixture list is short: %zu", n);
    for (size_t i = 0; i < n; i++) {
        size_t size = 0, esize = 0;
        uint8_t *png = image_test_fixture(names[i], "png", &size);
        uint8_t *expect = image_test_fixture(names[i], "rgba", &esize);
        int w = 0, h = 0;
        uint8_t *got = image_test_lossless_rgba(png, size, &w, &h);
        cr_assert_eq(w, 13, "%s: width %d", names[i], w);
        cr_assert_eq(h, 11, "%s: height %d", names[i], h);
        cr_assert_eq(esize, (size_t)w * h * 4);
        /* libpng's gamma correction is table-based: allow 1 level there */
        int tol = strncmp(names[i], "gamma_", 6) == 0 ? 1 : 0;
        for (size_t j = 0; j < esize; j++)
            cr_assert(abs((int)got[j] - (int)expect[j]) <= tol,
                      "%s: pixel %zu channel %zu is %d, expected %d", names[i], j / 4, j % 4, got[j],
                      expect[j]);
        free(got);
        free(png);
        free(expect);
        free(names[i]);
    }
    free(names);
}

Test(image_png, matches_libpng_simplified_reader_on_8_bit_files) {
    /* The simplified API reads 8-bit (and lower) files without gamma
     * chunks as sRGB, like the plugin. 16-bit files it reduces through its
     * linear-light tables (off by up to 3 levels from round(v*255/65535)
     * even with PNG_IMAGE_FLAG_16BIT_sRGB), so those are checked against the
     * spec-computed pixels above and against ImageMagick
     * (check_image_formats.sh) instead. */
    size_t n = 0;
    char **names = fixture_names(&n);
    size_t compared = 0;
    for (size_t i = 0; i < n; i++) {
        if (strstr(names[i], "gamma") || strstr(names[i], "16")) {
            free(names[i]);
            continue;
        }
        size_t size = 0;
        uint8_t *png = image_test_fixture(names[i], "png", &size);
        int w = 0, h = 0, rw = 0, rh = 0;
        uint8_t *got = image_test_lossless_rgba(png, size, &w, &h);
        uint8_t *ref = image_test_png_pixels(png, size, PNG_FORMAT_RGBA, PNG_IMAGE_FLAG_16BIT_sRGB,
                                             &rw, &rh);
        cr_assert_not_null(ref, "%s: libpng's simplified API cannot read it", names[i]);
        cr_assert_eq(w, rw);
        cr_assert_eq(h, rh);
        for (size_t j = 0; j < (size_t)w * h * 4; j++) {
            cr_assert_eq(got[j], ref[j],
                      "%s: pixel %zu channel %zu: plugin %d, libpng simplified %d", names[i], j / 4,
                      j % 4, got[j], ref[j]);
        }
        compared++;
        free(got);
        free(ref);
        free(png);
        free(names[i]);
    }
    free(names);
    cr_assert_geq(compared, 25);
}

Test(image_png, gray_and_rgb_models_convert_instead_of_refusing) {
    size_t size = 0;
    uint8_t *gray = image_test_fixture("gray8", "png", &size);
    uint8_t *expect = image_test_fixture("gray8", "rgba", &(size_t){0});
    /* gray into an RGB model: every channel equals the gray value */
    mmg_tokenizer *t = image_test_tokenizer("{\"channels\":\"rgb\",\"patch_size\":1,\"lossless\":true,\"codebook_size\":256}");
    cr_assert_eq(image_test_fit1(t, gray, size), MMG_OK, "%s", mmg_last_error());
    int32_t *ids;
    size_t n;
    uint8_t *out;
    size_t out_size;
    cr_assert_eq(mmg_tokenizer_encode(t, gray, size, &ids, &n), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_decode(t, ids, n, &out, &out_size), MMG_OK, "%s", mmg_last_error());
    int w = 0, h = 0;
    uint8_t *rgb = image_test_png_pixels(out, out_size, PNG_FORMAT_RGB, 0, &w, &h);
    for (int i = 0; i < w * h; i++)
        for (int c = 0; c < 3; c++) cr_assert_eq(rgb[i * 3 + c], expect[i * 4], "pixel %d", i);
    free(rgb);
    mmg_free(ids);
    mmg_free(out);
    mmg_tokenizer_free(t);

    /* RGB into a gray model: a luma, so between the smallest and the largest channel */
    uint8_t *color = image_test_fixture("rgb8", "png", &size);
    uint8_t *cexp = image_test_fixture("rgb8", "rgba", &(size_t){0});
    t = image_test_tokenizer("{\"channels\":\"gray\",\"patch_size\":1,\"lossless\":true,\"codebook_size\":256}");
    cr_assert_eq(image_test_fit1(t, color, size), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_encode(t, color, size, &ids, &n), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_decode(t, ids, n, &out, &out_size), MMG_OK, "%s", mmg_last_error());
    uint8_t *g = image_test_png_pixels(out, out_size, PNG_FORMAT_GRAY, 0, &w, &h);
    cr_assert_eq(w * h, 13 * 11);
    for (int i = 0; i < w * h; i++) {
        int lo = 255, hi = 0;
        for (int c = 0; c < 3; c++) {
            lo = cexp[i * 4 + c] < lo ? cexp[i * 4 + c] : lo;
            hi = cexp[i * 4 + c] > hi ? cexp[i * 4 + c] : hi;
        }
        cr_assert(g[i] >= lo - 1 && g[i] <= hi + 1, "pixel %d: gray %d outside [%d, %d]", i, g[i], lo, hi);
    }
    free(g);
    mmg_free(ids);
    mmg_free(out);
    mmg_tokenizer_free(t);
    free(gray);
    free(expect);
    free(color);
    free(cexp);
}

/* ---- broken files ---------------------------------------------------------- */

static mmg_status encode_bytes(mmg_tokenizer *t, const uint8_t *png, size_t size) {
    int32_t *ids = NULL;
    size_t n = 0;
    mmg_status s = mmg_tokenizer_encode(t, png, size, &ids, &n);
    mmg_free(ids);
    return s;
}

static mmg_tokenizer *fitted_rgb(void) {
    size_t size;
    uint8_t *png = image_test_fixture("rgb8", "png", &size);
    mmg_tokenizer *t = image_test_tokenizer("{\"patch_size\":1,\"lossless\":true,\"codebook_size\":256}");
    cr_assert_eq(image_test_fit1(t, png, size), MMG_OK, "%s", mmg_last_error());
    free(png);
    return t;
}

Test(image_png, broken_files_give_format_errors_naming_the_problem) {
    mmg_tokenizer *t = fitted_rgb();
    size_t size;
    uint8_t *png = image_test_fixture("rgb8", "png", &size);
    uint8_t *b = malloc(size);

    cr_assert_eq(encode_bytes(t, (const uint8_t *)"GIF89a....", 10), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "signature"), "%s", mmg_last_error());

    memcpy(b, png, size);
    b[16 + 2] ^= 0x40; /* a bit of the IHDR width, CRC not fixed */
    cr_assert_eq(encode_bytes(t, b, size), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "CRC"), "%s", mmg_last_error());

    memcpy(b, png, size);
    image_test_put_be32(b + 16, 0); /* width 0, valid CRC */
    image_test_fix_crc(b, 8);
    cr_assert_eq(encode_bytes(t, b, size), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "width"), "%s", mmg_last_error());

    memcpy(b, png, size);
    image_test_put_be32(b + 33, 0x7ffffff0u); /* first chunk after IHDR: absurd length */
    cr_assert_eq(encode_bytes(t, b, size), MMG_ERR_FORMAT);
    cr_assert(strlen(mmg_last_error()) > 20, "%s", mmg_last_error());

    cr_assert_eq(encode_bytes(t, png, size / 2), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "truncated"), "%s", mmg_last_error());
    cr_assert_eq(encode_bytes(t, png, size - 5), MMG_ERR_FORMAT); /* cut inside IEND */

    free(b);
    free(png);
    mmg_tokenizer_free(t);
}

Test(image_png, images_over_the_pixel_limit_are_refused_from_the_header) {
    size_t size;
    uint8_t *png = image_test_fixture("rgb8", "png", &size);
    /* a 60000x60000 IHDR (3.6 Gpixel) with a valid CRC and nothing behind */
    uint8_t *b = malloc(size);
    memcpy(b, png, size);
    image_test_put_be32(b + 16, 60000);
    image_test_put_be32(b + 20, 60000);
    image_test_fix_crc(b, 8);
    mmg_tokenizer *t = fitted_rgb();
    mmg_status s = encode_bytes(t, b, size);
    cr_assert(s == MMG_ERR_LIMIT || s == MMG_ERR_FORMAT, "status %d", s);
    cr_assert(strstr(mmg_last_error(), "limit") || strstr(mmg_last_error(), "max_pixels"), "%s",
              mmg_last_error());
    mmg_tokenizer_free(t);

    /* the limit is configurable: 13x11 = 143 pixels > 100 */
    t = image_test_tokenizer("{\"patch_size\":1,\"lossless\":true,\"codebook_size\":256,\"max_pixels\":100}");
    cr_assert_eq(image_test_fit1(t, png, size), MMG_ERR_LIMIT);
    cr_assert(strstr(mmg_last_error(), "max_pixels = 100"), "%s", mmg_last_error());
    mmg_tokenizer_free(t);
    free(b);
    free(png);
}

/* ---- fuzz-ish: never a crash (run under ASan in CI) ------------------------ */

Test(image_png, truncated_and_mutated_files_never_crash) {
    mmg_tokenizer *t = fitted_rgb();
    const char *files[] = {"rgb8", "pal4_i", "rgba16_i", "gray1", "pal8_trns"};
    uint64_t rng = 12345;
    size_t ok = 0, failed = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        size_t size;
        uint8_t *png = image_test_fixture(files[f], "png", &size);
        uint8_t *b = malloc(size);
        for (size_t cut = 0; cut < size; cut++) {
            mmg_status s = encode_bytes(t, png, cut);
            cr_assert_neq(s, MMG_OK, "%s cut at %zu decoded", files[f], cut);
            failed++;
        }
        for (int round = 0; round < 600; round++) {
            memcpy(b, png, size);
            int flips = 1 + round % 4;
            for (int k = 0; k < flips; k++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                size_t pos = 8 + (size_t)(rng >> 33) % (size - 8);
                b[pos] ^= (uint8_t)(1u << ((rng >> 29) & 7));
            }
            /* half the rounds re-sign every chunk so the damage reaches
             * the decompressor and the filters instead of the CRC check */
            if (round % 2) {
                size_t off = 8;
                while (off + 12 <= size) {
                    uint32_t len = ((uint32_t)b[off] << 24) | ((uint32_t)b[off + 1] << 16) |
                                   ((uint32_t)b[off + 2] << 8) | b[off + 3];
                    if (len > size - off - 12) break;
                    image_test_fix_crc(b, off);
                    off += 12 + len;
                }
            }
            mmg_status s = encode_bytes(t, b, size);
            cr_assert(s == MMG_OK || s == MMG_ERR_FORMAT || s == MMG_ERR_LIMIT,
                      "%s round %d: status %d (%s)", files[f], round, s, mmg_last_error());
            if (s == MMG_OK) ok++;
            else failed++;
        }
        free(b);
        free(png);
    }
    cr_log_info("fuzz: %zu decoded, %zu refused", ok, failed);
    mmg_tokenizer_free(t);
}
