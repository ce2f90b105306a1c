/* plugins/image/resize.c - resampling an image to the configured size.
 *
 * Separable: a horizontal pass into a float buffer, then a vertical pass
 * back to 8 bits (rounded). Each axis picks its own filter:
 *  - shrinking: area averaging. Output pixel i covers the source interval
 *    [i*s, (i+1)*s) with s = src/dst; each source pixel weighs its overlap
 *    with that interval, so no source pixel is skipped (no aliasing from
 *    point sampling) and a constant image stays constant.
 *  - growing: bilinear with pixel centers aligned, x = (i + 0.5)*s - 0.5,
 *    edges clamped (what PyTorch calls align_corners=False).
 *  - same size: a copy. */
#include <math.h>
#include <string.h>

#include "image.h"

/* For every output index: the first source index and the weights of the
 * `taps` source pixels from there (unused taps weigh 0). */
typedef struct axis_filter {
    int32_t taps;
    int32_t *start; /* (dst) */
    float *weight;  /* (dst, taps) */
} axis_filter;

static void axis_free(axis_filter *f) {
    img_free(f->start);
    img_free(f->weight);
}

static int axis_build(int32_t src, int32_t dst, axis_filter *f) {
    double s = (double)src / (double)dst;
    f->taps = dst < src ? (int32_t)ceil(s) + 1 : 2;
    f->start = (int32_t *)vq_alloc_array((size_t)dst, sizeof(int32_t), 1);
    f->weight = (float *)vq_alloc_array((size_t)dst, (size_t)f->taps, sizeof(float));
    if (!f->start || !f->weight) {
        axis_free(f);
        return img_error(MMG_ERR_NOMEM, "image: out of memory for a resize filter");
    }
    for (int32_t i = 0; i < dst; i++) {
        float *w = f->weight + (size_t)i * f->taps;
        memset(w, 0, sizeof(float) * (size_t)f->taps);
        if (dst < src) {
            double lo = i * s, hi = (i + 1) * s;
            int32_t j0 = (int32_t)floor(lo);
            f->start[i] = j0;
            for (int32_t t = 0; t < f->taps; t++) {
                int32_t j = j0 + t;
                if (j >= src) break;
                double a = lo > j ? lo : j, b = hi < j + 1 ? hi : j + 1;
                if (b > a) w[t] = (float)((b - a) / s);
            }
        } else {
            double x = (i + 0.5) * s - 0.5;
            if (x < 0) x = 0;
            int32_t j0 = (int32_t)floor(x);
            if (j0 > src - 1) j0 = src - 1;
            double frac = x - j0;
            if (j0 + 1 > src - 1) { /* the last column: all weight on it */
                j0 = src - 1;
                frac = 0;
            }
            f->start[i] = j0;
            w[0] = (float)(1.0 - frac);
            if (j0 + 1 <= src - 1) w[1] = (float)frac;
        }
    }
    return MMG_OK;
}

int img_resize(const img_image *src, int32_t dst_w, int32_t dst_h, img_image *out) {
    if (dst_w <= 0 || dst_h <= 0 || src->width <= 0 || src->height <= 0)
        return img_error(MMG_ERR_INVALID_ARG, "image: cannot resize %dx%d to %dx%d", src->width,
                         src->height, dst_w, dst_h);
    const int32_t c = src->channels, sw = src->width, sh = src->height;
    uint8_t *pixels = (uint8_t *)vq_alloc_array((size_t)dst_w * (size_t)dst_h, (size_t)c, 1);
    if (!pixels) return img_error(MMG_ERR_NOMEM, "image: out of memory resizing to %dx%d", dst_w, dst_h);
    if (dst_w == sw && dst_h == sh) {
        memcpy(pixels, src->pixels, (size_t)sw * sh * c);
        *out = (img_image){dst_w, dst_h, c, pixels};
        return MMG_OK;
    }
    axis_filter fx = {0}, fy = {0};
    float *tmp = NULL; /* (sh, dst_w, c) after the horizontal pass */
    int rc = axis_build(sw, dst_w, &fx);
    if (rc == MMG_OK) rc = axis_build(sh, dst_h, &fy);
    if (rc == MMG_OK) {
        tmp = (float *)vq_alloc_array((size_t)sh * (size_t)dst_w, (size_t)c, sizeof(float));
        if (!tmp) rc = img_error(MMG_ERR_NOMEM, "image: out of memory resizing to %dx%d", dst_w, dst_h);
    }
    if (rc != MMG_OK) {
        axis_free(&fx);
        axis_free(&fy);
        img_free(pixels);
        return rc;
    }
    for (int32_t y = 0; y < sh; y++) {
        const uint8_t *row = src->pixels + (size_t)y * sw * c;
        float *trow = tmp + (size_t)y * dst_w * c;
        for (int32_t x = 0; x < dst_w; x++) {
            const float *w = fx.weight + (size_t)x * fx.taps;
            for (int32_t ch = 0; ch < c; ch++) {
                float acc = 0;
                for (int32_t t = 0; t < fx.taps; t++)
                    if (w[t] != 0) acc += w[t] * row[(size_t)(fx.start[x] + t) * c + ch];
                trow[(size_t)x * c + ch] = acc;
            }
        }
    }
    for (int32_t y = 0; y < dst_h; y++) {
        const float *w = fy.weight + (size_t)y * fy.taps;
        uint8_t *orow = pixels + (size_t)y * dst_w * c;
        for (int32_t i = 0; i < dst_w * c; i++) {
            float acc = 0;
            for (int32_t t = 0; t < fy.taps; t++)
                if (w[t] != 0) acc += w[t] * tmp[(size_t)(fy.start[y] + t) * dst_w * c + i];
            float v = acc + 0.5f;
            orow[i] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
        }
    }
    axis_free(&fx);
    axis_free(&fy);
    img_free(tmp);
    *out = (img_image){dst_w, dst_h, c, pixels};
    return MMG_OK;
}
