/* plugins/image/png_io.c - reading and writing PNG with libpng.
 *
 * libpng reports errors by calling an error function that must not return;
 * ours records libpng's message and longjmps back to the setjmp in this file.
 * The setjmp/longjmp pair never leaves this file: callers get a status and a
 * message like any other error. Everything that must survive the longjmp
 * (buffers, the message) lives in a png_ctx in memory, not in locals.
 *
 * Reading follows the libpng manual's recipe: png_set_expand (palette to RGB,
 * gray 1/2/4 bits to 8, tRNS to alpha), png_set_scale_16 (16 to 8 bits,
 * rounded, as ImageMagick does), png_set_gamma from the file's gAMA to sRGB
 * unless the file says it is sRGB (libpng skips insignificant corrections),
 * png_set_interlace_handling for Adam7, then channel conversion by libpng's
 * own transforms. Limits are set before the IHDR is read (user limits, chunk
 * cache and chunk size limits) and the pixel limit is checked from the IHDR
 * before the image buffer is allocated. */
#include <png.h>
#include <zlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "image.h"

typedef struct png_ctx {
    /* reading */
    const uint8_t *data;
    size_t size, pos;
    /* writing: a growing output buffer */
    uint8_t *out;
    size_t out_size, out_cap;
    /* the image buffer and row pointers, freed on failure */
    uint8_t *pixels;
    png_bytep *rows;
    int status;          /* set before png_error() by our own checks */
    int from_caller;     /* on_rows failed: its message stands */
    int alloc_failed;
    size_t max_alloc;     /* reading: the most one libpng allocation may ask for */
    size_t refused_alloc; /* a larger request, refused */
    char warning[160]; /* libpng's last warning: often the detail of an error */
    char message[320];
} png_ctx;

static void on_error(png_structp png, png_const_charp msg) {
    png_ctx *c = (png_ctx *)png_get_error_ptr(png);
    if (c->status == 0 && c->refused_alloc) {
        c->status = MMG_ERR_LIMIT;
        snprintf(c->message, sizeof c->message,
                 "libpng asked for %zu bytes at once, more than an image within max_pixels can "
                 "need (%zu); the file is malformed or hostile (%s)",
                 c->refused_alloc, c->max_alloc, msg ? msg : "libpng error");
    } else if (c->status == 0) {
        c->status = c->alloc_failed ? MMG_ERR_NOMEM : MMG_ERR_FORMAT;
        if (c->warning[0])
            snprintf(c->message, sizeof c->message, "%s (%s)", msg ? msg : "libpng error",
                     c->warning);
        else
            snprintf(c->message, sizeof c->message, "%s", msg ? msg : "unknown libpng error");
    }
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    png_ctx *c = (png_ctx *)png_get_error_ptr(png);
    if (c) snprintf(c->warning, sizeof c->warning, "%s", msg ? msg : "");
    img_log(MMG_PLUGIN_LOG_DEBUG, "image: libpng warning: %s", msg ? msg : "");
}

static png_voidp on_malloc(png_structp png, png_alloc_size_t size) {
    png_ctx *limits = (png_ctx *)png_get_mem_ptr(png);
    /* libpng sizes some buffers from lengths in the file; the chunk limits
     * do not cover every path (a fuzzed 8x8 image asked for 1.3 GB). */
    if (limits && limits->max_alloc && size > limits->max_alloc) {
        limits->refused_alloc = size;
        return NULL;
    }
    void *p = img_alloc(size);
    if (!p) {
        png_ctx *c = (png_ctx *)png_get_mem_ptr(png);
        if (c) c->alloc_failed = 1;
    }
    return p;
}

static void on_free(png_structp png, png_voidp p) {
    (void)png;
    img_free(p);
}

/* Our own failure inside libpng's call stack: record it, then unwind. */
static void fail(png_structp png, png_ctx *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));
static void fail(png_structp png, png_ctx *c, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    va_end(ap);
    c->status = status;
    png_error(png, c->message);
}

static void on_read(png_structp png, png_bytep out, size_t n) {
    png_ctx *c = (png_ctx *)png_get_io_ptr(png);
    if (n > c->size - c->pos)
        fail(png, c, MMG_ERR_FORMAT,
             "the file is truncated: %zu bytes needed at offset %zu, %zu left", n, c->pos,
             c->size - c->pos);
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

/* Everything between setjmp and the last libpng call; returns 0 or -1 with
 * c->status set. */
static int read_image(png_structp png, png_infop info, png_ctx *c, int32_t channels,
                      uint64_t max_pixels, img_rows_fn on_rows, void *ctx, img_image *out) {
    if (setjmp(png_jmpbuf(png))) return -1;

    png_set_read_fn(png, c, on_read);
    uint32_t side_limit = max_pixels < 0x7fffffffu ? (uint32_t)max_pixels : 0x7fffffffu;
    if (side_limit == 0) side_limit = 1;
    png_set_user_limits(png, side_limit, side_limit);
    png_set_chunk_cache_max(png, 1000);
    png_set_chunk_malloc_max(png, 8u << 20);
    png_read_info(png, info);

    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    if ((uint64_t)width * height > max_pixels)
        fail(png, c, MMG_ERR_LIMIT,
             "the image is %lux%lu = %llu pixels, more than max_pixels = %llu",
             (unsigned long)width, (unsigned long)height,
             (unsigned long long)((uint64_t)width * height), (unsigned long long)max_pixels);

    int has_color = (color_type & PNG_COLOR_MASK_COLOR) != 0;
    int has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0 || png_get_valid(png, info, PNG_INFO_tRNS);
    png_set_expand(png);
    if (bit_depth == 16) png_set_scale_16(png);

    int srgb_intent;
    double file_gamma;
    if (!png_get_sRGB(png, info, &srgb_intent) && png_get_gAMA(png, info, &file_gamma) &&
        file_gamma > 0)
        png_set_gamma(png, PNG_DEFAULT_sRGB, file_gamma);

    if (channels == 1 && has_color) png_set_rgb_to_gray_fixed(png, PNG_ERROR_ACTION_NONE, -1, -1);
    if (channels != 1 && !has_color) png_set_gray_to_rgb(png);
    if (channels != 4 && has_alpha) png_set_strip_alpha(png);
    if (channels == 4 && !has_alpha) png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)width * (size_t)channels)
        fail(png, c, MMG_ERR_INTERNAL,
             "libpng gives rows of %zu bytes, expected %lu pixels x %d channels", rowbytes,
             (unsigned long)width, (int)channels);
    c->pixels = (uint8_t *)vq_alloc_array(width, height, (size_t)channels);
    c->rows = (png_bytep *)vq_alloc_array(height, sizeof(png_bytep), 1);
    if (!c->pixels || !c->rows)
        fail(png, c, MMG_ERR_NOMEM, "out of memory for a %lux%lu image", (unsigned long)width,
             (unsigned long)height);
    for (png_uint_32 y = 0; y < height; y++) c->rows[y] = c->pixels + (size_t)y * rowbytes;
    img_image partial = {(int32_t)width, (int32_t)height, channels, c->pixels};
    int rc;
    if (on_rows && (rc = on_rows(ctx, &partial, 0)) != 0) {
        c->from_caller = 1;
        fail(png, c, rc, "stopped by the caller");
    }
    if (on_rows && interlace == PNG_INTERLACE_NONE) {
        /* a band at a time, so the caller can work on the rows already read */
        const png_uint_32 band = 16;
        for (png_uint_32 y = 0; y < height; y += band) {
            png_uint_32 n = height - y < band ? height - y : band;
            png_read_rows(png, c->rows + y, NULL, n);
            if ((rc = on_rows(ctx, &partial, (int32_t)(y + n))) != 0) {
                c->from_caller = 1;
                fail(png, c, rc, "stopped by the caller");
            }
        }
    } else {
        png_read_image(png, c->rows);
        if (on_rows && (rc = on_rows(ctx, &partial, (int32_t)height)) != 0) {
            c->from_caller = 1;
            fail(png, c, rc, "stopped by the caller");
        }
    }
    png_read_end(png, NULL);

    out->width = (int32_t)width;
    out->height = (int32_t)height;
    out->channels = channels;
    out->pixels = c->pixels;
    c->pixels = NULL;
    return 0;
}

int img_png_read_progressive(const uint8_t *data, size_t size, int32_t channels,
                             uint64_t max_pixels, img_rows_fn on_rows, void *ctx,
                             uint8_t **failed_pixels, img_image *out) {
    if (!data && size) return img_error(MMG_ERR_INVALID_ARG, "image: NULL document");
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0)
        return img_error(MMG_ERR_FORMAT,
                         "image: not a PNG file (%zu bytes; the 8-byte PNG signature is missing)",
                         size);
    png_ctx c;
    memset(&c, 0, sizeof c);
    c.data = data;
    c.size = size;
    /* libpng's own buffers: rows of up to 8 bytes per pixel, chunks of up to
     * 8 MiB (png_set_chunk_malloc_max), zlib's state */
    c.max_alloc = max_pixels < (SIZE_MAX - (16u << 20)) / 8 ? (size_t)max_pixels * 8 + (16u << 20) : SIZE_MAX;
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning,
                                               &c, on_malloc, on_free);
    if (!png) return img_error(MMG_ERR_NOMEM, "image: out of memory creating the PNG reader");
    png_infop info = png_create_info_struct(png);
    int have_info = info != NULL;
    int rc = have_info ? read_image(png, info, &c, channels, max_pixels, on_rows, ctx, out) : -1;
    png_destroy_read_struct(&png, have_info ? &info : NULL, NULL);
    img_free(c.rows);
    if (rc == 0) return MMG_OK;
    if (failed_pixels) *failed_pixels = c.pixels; /* the caller's threads may still read it */
    else img_free(c.pixels);
    if (c.from_caller) return c.status;
    if (!have_info) return img_error(MMG_ERR_NOMEM, "image: out of memory creating the PNG reader");
    return img_error(c.status ? c.status : MMG_ERR_FORMAT, "image: cannot read the PNG: %s",
                     c.message);
}

int img_png_read(const uint8_t *data, size_t size, int32_t channels, uint64_t max_pixels,
                 img_image *out) {
    return img_png_read_progressive(data, size, channels, max_pixels, NULL, NULL, NULL, out);
}

/* ---- writing ------------------------------------------------------------- */

static void on_write(png_structp png, png_bytep bytes, size_t n) {
    png_ctx *c = (png_ctx *)png_get_io_ptr(png);
    if (n > c->out_cap - c->out_size) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap - c->out_size < n) {
            if (cap > ((size_t)-1) / 2) fail(png, c, MMG_ERR_NOMEM, "PNG output too large");
            cap *= 2;
        }
        uint8_t *p = (uint8_t *)img_realloc(c->out, cap);
        if (!p) fail(png, c, MMG_ERR_NOMEM, "out of memory for %zu bytes of PNG output", cap);
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_size, bytes, n);
    c->out_size += n;
}

static void on_flush(png_structp png) { (void)png; }

static int write_image(png_structp png, png_infop info, png_ctx *c, const img_image *im,
                       int compression) {
    if (setjmp(png_jmpbuf(png))) return -1;
    png_set_write_fn(png, c, on_write, on_flush);
    int type = im->channels == 1   ? PNG_COLOR_TYPE_GRAY
               : im->channels == 3 ? PNG_COLOR_TYPE_RGB
                                   : PNG_COLOR_TYPE_RGB_ALPHA;
    png_set_IHDR(png, info, (png_uint_32)im->width, (png_uint_32)im->height, 8, type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Level 1 is "fast": the SUB filter and Huffman coding alone, a third
     * faster than zlib's level 1 for 3% more bytes on photographs. Levels
     * 2-3 use SUB with zlib's matching; 4-9 let libpng pick filters per row
     * (slow: the adaptive search dominates). 0 stores. */
    png_set_compression_level(png, compression);
    if (compression == 1) png_set_compression_strategy(png, Z_HUFFMAN_ONLY);
    png_set_filter(png, PNG_FILTER_TYPE_BASE,
                   compression == 0 ? PNG_FILTER_NONE
                   : compression <= 3 ? PNG_FILTER_SUB
                                      : PNG_ALL_FILTERS);
    c->rows = (png_bytep *)vq_alloc_array((size_t)im->height, sizeof(png_bytep), 1);
    if (!c->rows) fail(png, c, MMG_ERR_NOMEM, "out of memory for row pointers");
    size_t stride = (size_t)im->width * (size_t)im->channels;
    for (int32_t y = 0; y < im->height; y++) c->rows[y] = im->pixels + (size_t)y * stride;
    png_write_info(png, info);
    png_write_image(png, c->rows);
    png_write_end(png, NULL);
    return 0;
}

int img_png_write(const img_image *im, int compression, uint8_t **out_bytes, size_t *out_size) {
    if (im->width <= 0 || im->height <= 0 || (im->channels != 1 && im->channels != 3 &&
                                              im->channels != 4))
        return img_error(MMG_ERR_INTERNAL, "image: cannot write a %dx%dx%d image", im->width,
                         im->height, im->channels);
    png_ctx c;
    memset(&c, 0, sizeof c);
    png_structp png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning,
                                                &c, on_malloc, on_free);
    if (!png) return img_error(MMG_ERR_NOMEM, "image: out of memory creating the PNG writer");
    png_infop info = png_create_info_struct(png);
    int have_info = info != NULL;
    int rc = have_info ? write_image(png, info, &c, im, compression) : -1;
    png_destroy_write_struct(&png, have_info ? &info : NULL);
    img_free(c.rows);
    if (rc == 0) {
        *out_bytes = c.out;
        *out_size = c.out_size;
        return MMG_OK;
    }
    img_free(c.out);
    if (!have_info) return img_error(MMG_ERR_NOMEM, "image: out of memory creating the PNG writer");
    return img_error(c.status ? c.status : MMG_ERR_INTERNAL, "image: cannot write the PNG: %s",
                     c.message);
}
