/* tests/test_image_quality.c - the image tokenizer on real photographs.
 *
 * Fits a 2-stage 4x4 K=1024 codebook on kodim01-06 (../shared/data/kodak),
 * then measures PSNR on kodim07-12, never fitted: the stage-1 stream alone
 * (the 1-stage tokenizer: stage 1 of a 2-stage fit is exactly the 1-stage
 * fit) must reach 25 dB on average, both stages 28 dB. To keep the test
 * short (also under ASan) training uses a sample of 32768 of the 147,456
 * patches and 15 Lloyd iterations (26.2 and 29.5 dB); bench/run_image.sh
 * uses 65536 and 20 (26.2 and 29.7 dB).
 * The original and decoded pixels are both read with libpng's simplified
 * API. Skips when the data set is absent. bench/run_image.sh prints the
 * full table (and 8x8 patches). */
#include <math.h>
#include <sys/stat.h>
#include <time.h>

#include "image_test.h"

static const char *kodak_dir(char *buf, size_t size) {
    const char *data = getenv("MMGEN_TEST_DATA");
    snprintf(buf, size, "%s/kodak", data ? data : MMGEN_SOURCE_DIR "/../shared/data");
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

static double psnr_rgb(const uint8_t *a_png, size_t a_size, const uint8_t *b_png, size_t b_size) {
    int aw = 0, ah = 0, bw = 0, bh = 0;
    uint8_t *a = image_test_png_pixels(a_png, a_size, PNG_FORMAT_RGB, 0, &aw, &ah);
    uint8_t *b = image_test_png_pixels(b_png, b_size, PNG_FORMAT_RGB, 0, &bw, &bh);
    cr_assert(a && b && aw == bw && ah == bh, "decoded %dx%d, original %dx%d", bw, bh, aw, ah);
    double se = 0;
    size_t n = (size_t)aw * ah * 3;
    for (size_t i = 0; i < n; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    free(a);
    free(b);
    return 10 * log10(255.0 * 255.0 / (se / (double)n));
}

Test(image_quality, kodak_psnr_on_unseen_photos_meets_the_floors, .timeout = 600) {
    char dir[512];
    if (!kodak_dir(dir, sizeof dir)) cr_skip_test("Kodak images not found (../shared/data/kodak); skipping");
    uint8_t *img[12];
    size_t size[12];
    for (int i = 0; i < 12; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/kodim%02d.png", dir, i + 1);
        img[i] = test_read_file(path, &size[i]);
        if (!img[i]) cr_skip_test("%s is missing; skipping", path);
    }
    mmg_tokenizer *t = image_test_tokenizer(
        "{\"patch_size\":4,\"codebook_size\":1024,\"stages\":2,\"max_train_patches\":32768,"
        "\"kmeans_iterations\":15,\"seed\":1}");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(mmg_tokenizer_fit(t, (const uint8_t *const *)img, size, 6), MMG_OK, "%s",
                 mmg_last_error());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_log_info("fit (2 stages, 32768 patches): %.1f s",
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    double sum1 = 0, sum2 = 0;
    for (int i = 6; i < 12; i++) {
        int32_t *ids;
        size_t n;
        cr_assert_eq(mmg_tokenizer_encode(t, img[i], size[i], &ids, &n), MMG_OK, "%s", mmg_last_error());
        uint8_t *out;
        size_t out_size;
        cr_assert_eq(mmg_tokenizer_decode(t, ids, n, &out, &out_size), MMG_OK, "%s", mmg_last_error());
        double p2 = psnr_rgb(img[i], size[i], out, out_size);
        mmg_free(out);
        /* the stage-1 stream: "stages 1" token, every other patch id */
        size_t m = 6;
        ids[5] -= 1;
        for (size_t j = 6; j < n; j += 2) ids[m++] = ids[j];
        cr_assert_eq(mmg_tokenizer_decode(t, ids, m, &out, &out_size), MMG_OK, "%s", mmg_last_error());
        double p1 = psnr_rgb(img[i], size[i], out, out_size);
        mmg_free(out);
        mmg_free(ids);
        cr_log_info("kodim%02d: %.2f dB (1 stage), %.2f dB (2 stages)", i + 1, p1, p2);
        cr_assert_gt(p2, p1, "the residual stage must add quality");
        sum1 += p1;
        sum2 += p2;
    }
    cr_log_info("mean PSNR over kodim07-12: %.2f dB (1 stage), %.2f dB (2 stages)", sum1 / 6, sum2 / 6);
    cr_assert_geq(sum1 / 6, 25.0, "4x4 K=1024: %.2f dB < 25", sum1 / 6);
    cr_assert_geq(sum2 / 6, 28.0, "4x4 K=1024 two-stage RVQ: %.2f dB < 28", sum2 / 6);
    mmg_tokenizer_free(t);
    for (int i = 0; i < 12; i++) free(img[i]);
}
