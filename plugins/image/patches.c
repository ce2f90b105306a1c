/* plugins/image/patches.c - cutting an image into P×P patch vectors and
 * putting them back.
 *
 * A patch is flattened row by row, pixel by pixel, channel by channel:
 * element (py*P + px)*C + ch. Images whose size is not a multiple of P are
 * padded by repeating the last column and row (edge padding keeps the padded
 * patches close to real ones, unlike black borders). */
#include "image.h"

void img_patches_extract(const img_image *im, int32_t p, int32_t row0, int32_t nrows, float *x) {
    const int32_t c = im->channels, pw = img_patches_across(im->width, p);
    const size_t dim = (size_t)p * p * c;
    for (int32_t r = 0; r < nrows; r++) {
        for (int32_t py = 0; py < p; py++) {
            int32_t y = (row0 + r) * p + py;
            if (y > im->height - 1) y = im->height - 1;
            const uint8_t *row = im->pixels + (size_t)y * im->width * c;
            for (int32_t q = 0; q < pw; q++) {
                float *dst = x + ((size_t)r * pw + q) * dim + (size_t)py * p * c;
                int32_t x0 = q * p;
                if (x0 + p <= im->width) { /* the common, unpadded case */
                    const uint8_t *src = row + (size_t)x0 * c;
                    for (int32_t i = 0; i < p * c; i++) dst[i] = src[i];
                } else {
                    for (int32_t px = 0; px < p; px++) {
                        int32_t xx = x0 + px < im->width ? x0 + px : im->width - 1;
                        for (int32_t ch = 0; ch < c; ch++) dst[px * c + ch] = row[(size_t)xx * c + ch];
                    }
                }
            }
        }
    }
}

void img_patches_store(img_image *im, int32_t p, int32_t row0, int32_t nrows, const float *x) {
    const int32_t c = im->channels, pw = img_patches_across(im->width, p);
    const size_t dim = (size_t)p * p * c;
    for (int32_t r = 0; r < nrows; r++) {
        for (int32_t py = 0; py < p; py++) {
            int32_t y = (row0 + r) * p + py;
            if (y >= im->height) break;
            uint8_t *row = im->pixels + (size_t)y * im->width * c;
            for (int32_t q = 0; q < pw; q++) {
                const float *src = x + ((size_t)r * pw + q) * dim + (size_t)py * p * c;
                int32_t n = (q * p + p <= im->width ? p : im->width - q * p) * c;
                uint8_t *dst = row + (size_t)q * p * c;
                for (int32_t i = 0; i < n; i++) {
                    float v = src[i] + 0.5f;
                    dst[i] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
                }
            }
        }
    }
}
