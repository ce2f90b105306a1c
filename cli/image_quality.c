/* cli/image_quality.c - PSNR of two PNGs through libpng (see
 * image_quality.h). */
#include "image_quality.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a PNG as 8-bit RGB; returns a malloc'ed buffer or NULL (err set). */
static uint8_t *read_rgb(const uint8_t *data, size_t size, uint32_t *w, uint32_t *h, char *err,
                         size_t err_size, const char *which) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, data, size)) {
        snprintf(err, err_size, "%s is not a readable PNG: %s", which, im.message);
        return NULL;
    }
    im.format = PNG_FORMAT_RGB;
    size_t bytes = PNG_IMAGE_SIZE(im);
    uint8_t *px = malloc(bytes ? bytes : 1);
    if (!px || !png_image_finish_read(&im, NULL, px, 0, NULL)) {
        snprintf(err, err_size, "%s: %s", which, px ? im.message : "out of memory");
        free(px);
        png_image_free(&im);
        return NULL;
    }
    *w = im.width;
    *h = im.height;
    return px;
}

int image_psnr(const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size, double *psnr,
               uint32_t dims[4], char *err, size_t err_size) {
    uint8_t *pa = read_rgb(a, a_size, &dims[0], &dims[1], err, err_size, "the original");
    if (!pa) return -1;
    uint8_t *pb = read_rgb(b, b_size, &dims[2], &dims[3], err, err_size, "the decoded image");
    if (!pb) {
        free(pa);
        return -1;
    }
    int rc = 1;
    if (dims[0] == dims[2] && dims[1] == dims[3]) {
        size_t n = (size_t)dims[0] * dims[1] * 3;
        double se = 0;
        for (size_t i = 0; i < n; i++) {
            double d = (double)pa[i] - (double)pb[i];
            se += d * d;
        }
        double mse = n ? se / (double)n : 0;
        *psnr = mse > 0 ? 10.0 * log10(255.0 * 255.0 / mse) : INFINITY;
        rc = 0;
    }
    free(pa);
    free(pb);
    return rc;
}
