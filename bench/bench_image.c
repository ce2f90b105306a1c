/* bench/bench_image.c - the image plugin's quality and speed on real photos.
 *
 * Fits a codebook on kodim01-06 (../shared/data/kodak), then for kodim07-12
 * (never fitted) measures PSNR of decode(encode(x)) against x, and encode and
 * decode speed in Mpixel/s. With --stages 2 it reports the first stage alone
 * too (a 2-stage model decodes a 1-stage stream; stage 1 of a 2-stage fit is
 * the 1-stage fit). The peer, measured in the same run on the same images,
 * is libpng itself: reading the PNG (encode's first step, simplified API)
 * and writing the same RGB pixels with the plugin's settings (decode's last
 * step: zlib level 1, Huffman only, SUB filter), so the ratios show what the
 * tokenizer costs on top of plain PNG I/O.
 *
 *   bench_image [--data DIR] [--patch P] [--k K] [--stages S] [--train N]
 *               [--iters I] [--repeat R] [--threads T] [--plugin PATH]
 * PSNR is over all RGB samples of an image (peak 255), averaged over images. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmgen/mmgen.h"

#include "bench_common.h"

/* CPU seconds of the whole process (all threads): what the work costs,
 * whatever else the machine runs. */
static double cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return b;
}

static uint8_t *rgb_pixels(const uint8_t *png, size_t size, int *w, int *h) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, png, size)) return NULL;
    im.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(im));
    if (!png_image_finish_read(&im, NULL, px, 0, NULL)) {
        free(px);
        return NULL;
    }
    *w = (int)im.width;
    *h = (int)im.height;
    return px;
}

typedef struct membuf {
    uint8_t *b;
    size_t n, cap;
} membuf;
static void mem_write(png_structp png, png_bytep d, size_t n) {
    membuf *m = png_get_io_ptr(png);
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2;
        m->b = realloc(m->b, m->cap);
    }
    memcpy(m->b + m->n, d, n);
    m->n += n;
}
static void mem_flush(png_structp png) { (void)png; }

/* The peer for decode's last step: libpng writing RGB pixels with the
 * plugin's default settings (zlib level 1, Huffman only, SUB filter). */
static size_t write_png_like_plugin(const uint8_t *px, int w, int h) {
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)h);
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)px + (size_t)y * w * 3;
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 1);
    png_set_compression_strategy(png, 2 /* Z_HUFFMAN_ONLY */);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(m.b);
    return m.n;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n) {
    double se = 0;
    for (size_t i = 0; i < n; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    double mse = se / (double)n;
    return mse == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 / mse);
}

static void die(const char *what) {
    fprintf(stderr, "bench_image: %s: %s\n", what, mmg_last_error());
    exit(1);
}

int main(int argc, char **argv) {
    const char *data = getenv("MMGEN_TEST_DATA");
    char datadir[512];
    snprintf(datadir, sizeof datadir, "%s/kodak", data ? data : "../shared/data");
    const char *plugin_path = MMGEN_PLUGIN_BUILD_DIR "/mmgen-image.so";
    int patch = 4, k = 1024, stages = 1, iters = 20, repeat = 3, threads = 0;
    long train = 65536;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) snprintf(datadir, sizeof datadir, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--patch")) patch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--k")) k = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--stages")) stages = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--train")) train = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--plugin")) plugin_path = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_image: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    uint8_t *img[12];
    size_t size[12];
    for (int i = 0; i < 12; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/kodim%02d.png", datadir, i + 1);
        img[i] = read_file(path, &size[i]);
        if (!img[i]) {
            fprintf(stderr, "bench_image: %s is missing; skipping\n", path);
            return 77;
        }
    }
    mmg_plugin *plugin;
    if (mmg_plugin_open(plugin_path, &plugin) != MMG_OK) die("open plugin");
    char cfg[256];
    snprintf(cfg, sizeof cfg,
             "{\"patch_size\":%d,\"codebook_size\":%d,\"stages\":%d,\"max_train_patches\":%ld,"
             "\"kmeans_iterations\":%d,\"threads\":%d}", patch, k, stages, train, iters, threads);
    mmg_tokenizer *t;
    if (mmg_tokenizer_create(plugin, cfg, &t) != MMG_OK) die("create");
    double t0 = bench_now();
    if (mmg_tokenizer_fit(t, (const uint8_t *const *)img, size, 6) != MMG_OK) die("fit");
    double fit_s = bench_now() - t0;

    double enc_s = 0, dec_s = 0, dec1_s = 0, rd_s = 0, wr_s = 0, pixels = 0, enc_cpu = 0, dec_cpu = 0;
    double psnr_sum[2] = {0, 0}, psnr_min[2] = {99, 99};
    for (int i = 6; i < 12; i++) {
        int w = 0, h = 0;
        uint8_t *ref = rgb_pixels(img[i], size[i], &w, &h);
        int32_t *ids = NULL;
        size_t n = 0;
        uint8_t *out = NULL;
        size_t out_size = 0;
        for (int r = 0; r < repeat; r++) {
            mmg_free(ids);
            t0 = bench_now();
            double c0 = cpu();
            if (mmg_tokenizer_encode(t, img[i], size[i], &ids, &n) != MMG_OK) die("encode");
            enc_s += bench_now() - t0;
            enc_cpu += cpu() - c0;
            mmg_free(out);
            t0 = bench_now();
            c0 = cpu();
            if (mmg_tokenizer_decode(t, ids, n, &out, &out_size) != MMG_OK) die("decode");
            dec_s += bench_now() - t0;
            dec_cpu += cpu() - c0;
            /* peer: libpng reading the original and writing the result */
            t0 = bench_now();
            int pw = 0, ph = 0;
            uint8_t *px = rgb_pixels(img[i], size[i], &pw, &ph);
            rd_s += bench_now() - t0;
            t0 = bench_now();
            write_png_like_plugin(px, pw, ph);
            wr_s += bench_now() - t0;
            free(px);
            pixels += (double)w * h;
        }
        for (int s = 0; s < stages; s++) {
            uint8_t *o = out;
            size_t os = out_size;
            if (s == 0 && stages == 2) { /* the stage-1 stream alone */
                int32_t *one = malloc(sizeof(int32_t) * n);
                size_t m = 6;
                memcpy(one, ids, 6 * sizeof(int32_t));
                one[5] -= 1; /* the "stages 1" token precedes "stages 2" */
                for (size_t j = 6; j < n; j += 2) one[m++] = ids[j];
                o = NULL;
                t0 = bench_now();
                if (mmg_tokenizer_decode(t, one, m, &o, &os) != MMG_OK) die("decode stage 1");
                dec1_s += bench_now() - t0;
                free(one);
            }
            int dw = 0, dh = 0;
            uint8_t *dec = rgb_pixels(o, os, &dw, &dh);
            if (!dec || dw != w || dh != h) {
                fprintf(stderr, "bench_image: decoded image is %dx%d, expected %dx%d\n", dw, dh, w, h);
                return 1;
            }
            double p = psnr(ref, dec, (size_t)w * h * 3);
            int row = s;
            psnr_sum[row] += p;
            psnr_min[row] = p < psnr_min[row] ? p : psnr_min[row];
            printf("kodim%02d %dx%d patch %d K=%d stages=%d PSNR %.2f dB\n", i + 1, w, h, patch, k,
                   row + 1, p);
            free(dec);
            if (o != out) mmg_free(o);
        }
        free(ref);
        mmg_free(ids);
        mmg_free(out);
    }
    printf("fit: %.2f s (patch %d, K=%d, stages %d, %ld training patches, %d iterations)\n", fit_s,
           patch, k, stages, train, iters);
    for (int row = 0; row < stages; row++)
        printf("RESULT patch %dx%d K=%d stages=%d: mean PSNR %.2f dB (min %.2f) over kodim07-12\n",
               patch, patch, k, row + 1, psnr_sum[row] / 6, psnr_min[row]);
    double mp = pixels / 1e6;
    printf("SPEED encode %.1f Mpixel/s (libpng read alone %.1f, ratio %.2f) | decode %.1f Mpixel/s "
           "(libpng write alone %.1f, ratio %.2f)\n",
           mp / enc_s, mp / rd_s, (mp / enc_s) / (mp / rd_s), mp / dec_s, mp / wr_s,
           (mp / dec_s) / (mp / wr_s));
    printf("CPU encode %.1f Mpixel per CPU-second | decode %.1f Mpixel per CPU-second\n",
           mp / enc_cpu, mp / dec_cpu);
    mmg_tokenizer_free(t);
    mmg_plugin_close(plugin);
    for (int i = 0; i < 12; i++) free(img[i]);
    return 0;
}
