/* plugins/image/tokens.c - the token stream of an image: the vocabulary,
 * decode, the generation constraint and token descriptions.
 *
 * (encode.c turns PNGs into tokens.) A stream is a 6-token layout header, then the patches in raster order,
 * each as one id per stage (interleaved, so a residual id follows its coarse
 * id), then, when generating, the eos token. Id ranges are documented at the
 * top of plugin.c and built by img_vocab_of(). */
#include <stdio.h>
#include <string.h>

#include "image.h"
#include "stream.h"

void img_vocab_of(const img_config *cfg, img_vocab *v) {
    v->k = cfg->codebook_size;
    v->stages = cfg->stages;
    int32_t base = v->k * v->stages;
    v->w_hi = base;
    v->w_lo = base + IMG_DIGIT_BASE;
    v->h_hi = base + 2 * IMG_DIGIT_BASE;
    v->h_lo = base + 3 * IMG_DIGIT_BASE;
    v->chan = base + 4 * IMG_DIGIT_BASE;
    v->stg = v->chan + 3;
    v->bos = v->stg + 2;
    v->eos = v->bos + 1;
    v->pad = v->bos + 2;
    v->size = v->bos + 3;
}

static int32_t channel_index(int32_t channels) { return channels == 1 ? 0 : channels == 3 ? 1 : 2; }
static const char *channel_name(int32_t index) {
    return index == 0 ? "gray" : index == 1 ? "rgb" : "rgba";
}

/* Rows of patches decoded at once: about this many patches. */
#define CHUNK_PATCHES 16384

/* Parses and checks the layout header; *stages_out is the stream's stages. */
static int parse_header(const img_tokenizer *t, const img_vocab *v, const int32_t *h, int32_t *pw,
                        int32_t *ph, int32_t *stages_out) {
    static const char *what[4] = {"width high digit", "width low digit", "height high digit",
                                  "height low digit"};
    const int32_t first[4] = {v->w_hi, v->w_lo, v->h_hi, v->h_lo};
    int32_t dig[4];
    for (int i = 0; i < 4; i++) {
        if (h[i] < first[i] || h[i] >= first[i] + IMG_DIGIT_BASE)
            return img_error(MMG_ERR_FORMAT,
                             "image: token %d at position %d is not a %s (ids %d to %d)", h[i], i,
                             what[i], first[i], first[i] + IMG_DIGIT_BASE - 1);
        dig[i] = h[i] - first[i];
    }
    *pw = dig[0] * IMG_DIGIT_BASE + dig[1];
    *ph = dig[2] * IMG_DIGIT_BASE + dig[3];
    if (*pw == 0 || *ph == 0)
        return img_error(MMG_ERR_FORMAT, "image: the layout header gives %dx%d patches; both must be > 0",
                         *pw, *ph);
    int32_t want = v->chan + channel_index(t->cfg.channels);
    if (h[4] != want)
        return img_error(MMG_ERR_FORMAT,
                         "image: token %d at position 4 is not this model's channels token %d (%s)",
                         h[4], want, channel_name(channel_index(t->cfg.channels)));
    if (h[5] < v->stg || h[5] >= v->stg + v->stages)
        return img_error(MMG_ERR_FORMAT,
                         "image: token %d at position 5 is not a stages token (ids %d to %d)", h[5],
                         v->stg, v->stg + v->stages - 1);
    *stages_out = h[5] - v->stg + 1;
    return MMG_OK;
}

int img_tokens_decode(const img_tokenizer *t, const int32_t *ids, size_t count, uint8_t **out_doc,
                      size_t *out_size) {
    if (!t->fitted)
        return img_error(MMG_ERR_STATE, "image: no codebook yet; call fit or load_state first");
    if (!ids && count) return img_error(MMG_ERR_INVALID_ARG, "image: NULL token array");
    const img_config *cfg = &t->cfg;
    img_vocab v;
    img_vocab_of(cfg, &v);
    for (size_t i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= v.size)
            return img_error(MMG_ERR_RANGE, "image: token %d at position %zu is outside the "
                             "vocabulary [0, %d)", ids[i], i, v.size);
    size_t i0, end, bad = vq_stream_span(ids, count, v.bos, v.eos, v.pad, &i0, &end);
    if (bad < count)
        return img_error(MMG_ERR_FORMAT, "image: token %d at position %zu follows eos", ids[bad], bad);
    if (end - i0 < IMG_HEADER_TOKENS)
        return img_error(MMG_ERR_FORMAT,
                         "image: %zu tokens are too few for the %d-token layout header", end - i0,
                         IMG_HEADER_TOKENS);
    int32_t pw, ph, s;
    int rc = parse_header(t, &v, ids + i0, &pw, &ph, &s);
    if (rc != MMG_OK) return rc;
    const int32_t p = cfg->patch_size, dim = img_config_dim(cfg);
    size_t n = (size_t)pw * ph, want = IMG_HEADER_TOKENS + n * (size_t)s;
    if (end - i0 != want)
        return img_error(MMG_ERR_FORMAT,
                         "image: a %dx%d-patch image with %d stage(s) takes %zu tokens, got %zu",
                         pw, ph, s, want, end - i0);
    if ((uint64_t)pw * p * (uint64_t)ph * p > cfg->max_pixels)
        return img_error(MMG_ERR_LIMIT, "image: %dx%d pixels exceed max_pixels %llu", pw * p, ph * p,
                         (unsigned long long)cfg->max_pixels);
    const int32_t *patch = ids + i0 + IMG_HEADER_TOKENS;
    for (size_t i = 0; i < n * (size_t)s; i++) {
        int32_t j = (int32_t)(i % (size_t)s);
        if (patch[i] < j * v.k || patch[i] >= (j + 1) * v.k)
            return img_error(MMG_ERR_FORMAT,
                             "image: token %d at position %zu is not a stage-%d patch token (ids %d "
                             "to %d)", patch[i], i0 + IMG_HEADER_TOKENS + i, j + 1, j * v.k,
                             (j + 1) * v.k - 1);
    }
    img_image im = {pw * p, ph * p, cfg->channels, NULL};
    int32_t rows = CHUNK_PATCHES / pw > 0 ? CHUNK_PATCHES / pw : 1;
    if (rows > ph) rows = ph;
    im.pixels = (uint8_t *)vq_alloc_array((size_t)im.width * im.height, (size_t)im.channels, 1);
    float *x = (float *)vq_alloc_array((size_t)rows * pw, (size_t)dim, sizeof(float));
    if (!im.pixels || !x) {
        img_free(im.pixels);
        img_free(x);
        return img_error(MMG_ERR_NOMEM, "image: out of memory for a %dx%d image", im.width, im.height);
    }
    for (int32_t r0 = 0; r0 < ph; r0 += rows) {
        int32_t nr = ph - r0 < rows ? ph - r0 : rows;
        for (size_t i = 0; i < (size_t)nr * pw; i++) {
            const int32_t *pt = patch + ((size_t)r0 * pw + i) * s;
            float *xi = x + i * dim;
            memcpy(xi, t->books[0].c + (size_t)pt[0] * dim, sizeof(float) * dim);
            for (int32_t j = 1; j < s; j++) {
                const float *c = t->books[j].c + (size_t)(pt[j] - j * v.k) * dim;
                for (int32_t e = 0; e < dim; e++) xi[e] += c[e];
            }
        }
        img_patches_store(&im, p, r0, nr, x);
    }
    img_free(x);
    rc = img_png_write(&im, cfg->png_compression, out_doc, out_size);
    img_free(im.pixels);
    return rc;
}

int img_tokens_allowed_next(const img_tokenizer *t, const int32_t *tokens, size_t n,
                            uint8_t *allowed, size_t vocab_size) {
    if (!t->fitted)
        return img_error(MMG_ERR_STATE, "image: no codebook yet; call fit or load_state first");
    const img_config *cfg = &t->cfg;
    img_vocab v;
    img_vocab_of(cfg, &v);
    /* a longer mask (a model vocabulary shared with other modalities) gets
     * its extra ids cleared */
    if (!allowed || vocab_size < (size_t)v.size)
        return img_error(MMG_ERR_INVALID_ARG, "image: allowed_next got a mask of %zu entries; the "
                         "vocabulary has %d", vocab_size, v.size);
    if (!tokens && n) return img_error(MMG_ERR_INVALID_ARG, "image: NULL token array");
    size_t i0 = n && tokens[0] == v.bos ? 1 : 0, pos = n - i0;
    const int32_t *h = tokens + i0;
    const int32_t p = cfg->patch_size;
    memset(allowed, 0, vocab_size);

    /* The layout: the most patches a side may have under max_pixels. */
    uint64_t area = cfg->max_pixels / ((uint64_t)p * p);
    int32_t fixed_w = cfg->width / p, fixed_h = cfg->height / p;
    int32_t wmax = area < IMG_MAX_SIDE ? (int32_t)area : IMG_MAX_SIDE;
    int32_t pw = 0, ph = 0, s = 0;
    if (pos > 0 && (h[0] < v.w_hi || h[0] >= v.w_hi + IMG_DIGIT_BASE))
        return img_error(MMG_ERR_RANGE, "image: token %d at position %zu is not a width digit", h[0], i0);
    if (pos > 1 && (h[1] < v.w_lo || h[1] >= v.w_lo + IMG_DIGIT_BASE))
        return img_error(MMG_ERR_RANGE, "image: token %d at position %zu is not a width digit", h[1], i0 + 1);
    if (pos > 2) pw = (h[0] - v.w_hi) * IMG_DIGIT_BASE + (h[1] - v.w_lo);
    int32_t hmax = 0;
    if (pw > 0) {
        uint64_t hm = area / (uint64_t)pw;
        hmax = hm < IMG_MAX_SIDE ? (int32_t)hm : IMG_MAX_SIDE;
    }
    if (pos > 2 && (h[2] < v.h_hi || h[2] >= v.h_hi + IMG_DIGIT_BASE))
        return img_error(MMG_ERR_RANGE, "image: token %d at position %zu is not a height digit", h[2], i0 + 2);
    if (pos > 3 && (h[3] < v.h_lo || h[3] >= v.h_lo + IMG_DIGIT_BASE))
        return img_error(MMG_ERR_RANGE, "image: token %d at position %zu is not a height digit", h[3], i0 + 3);
    if (pos >= IMG_HEADER_TOKENS) {
        int rc = parse_header(t, &v, h, &pw, &ph, &s);
        if (rc != MMG_OK) return rc;
    }
    switch (pos) {
    case 0: /* width, high digit: some low digit must complete it */
        for (int32_t d = 0; d < IMG_DIGIT_BASE; d++) {
            int32_t lo = d * IMG_DIGIT_BASE, hi = lo + IMG_DIGIT_BASE - 1;
            if (fixed_w ? fixed_w / IMG_DIGIT_BASE == d : (hi >= 1 && lo <= wmax)) allowed[v.w_hi + d] = 1;
        }
        return MMG_OK;
    case 1: {
        int32_t base = (h[0] - v.w_hi) * IMG_DIGIT_BASE;
        for (int32_t d = 0; d < IMG_DIGIT_BASE; d++) {
            int32_t w = base + d;
            if (fixed_w ? w == fixed_w : (w >= 1 && w <= wmax)) allowed[v.w_lo + d] = 1;
        }
        return MMG_OK;
    }
    case 2:
        for (int32_t d = 0; d < IMG_DIGIT_BASE; d++) {
            int32_t lo = d * IMG_DIGIT_BASE, hi = lo + IMG_DIGIT_BASE - 1;
            if (fixed_h ? fixed_h / IMG_DIGIT_BASE == d : (hi >= 1 && lo <= hmax)) allowed[v.h_hi + d] = 1;
        }
        return MMG_OK;
    case 3: {
        int32_t base = (h[2] - v.h_hi) * IMG_DIGIT_BASE;
        for (int32_t d = 0; d < IMG_DIGIT_BASE; d++) {
            int32_t hh = base + d;
            if (fixed_h ? hh == fixed_h : (hh >= 1 && hh <= hmax)) allowed[v.h_lo + d] = 1;
        }
        return MMG_OK;
    }
    case 4:
        allowed[v.chan + channel_index(cfg->channels)] = 1;
        return MMG_OK;
    case 5:
        allowed[v.stg + cfg->stages - 1] = 1;
        return MMG_OK;
    default: break;
    }
    size_t total = IMG_HEADER_TOKENS + (size_t)pw * ph * (size_t)s;
    size_t last = pos - 1; /* the latest token must fit where it stands */
    int32_t prev = h[last];
    if (last >= IMG_HEADER_TOKENS && last < total) {
        int32_t j = (int32_t)((last - IMG_HEADER_TOKENS) % (size_t)s);
        if (prev < j * v.k || prev >= (j + 1) * v.k)
            return img_error(MMG_ERR_RANGE, "image: token %d at position %zu is not a stage-%d patch token",
                             prev, i0 + last, j + 1);
    } else if (last >= total && prev != v.eos && prev != v.pad) {
        return img_error(MMG_ERR_RANGE, "image: token %d at position %zu comes after the last patch; "
                         "only eos may", prev, i0 + last);
    }
    if (pos < total) {
        int32_t j = (int32_t)((pos - IMG_HEADER_TOKENS) % (size_t)s);
        memset(allowed + (size_t)j * v.k, 1, (size_t)v.k);
    } else if (pos == total) {
        allowed[v.eos] = 1;
    } else {
        allowed[v.pad] = 1; /* the document has ended */
    }
    return MMG_OK;
}

int img_tokens_describe(const img_tokenizer *t, int32_t id, char *buf, size_t buf_size,
                        size_t *out_length) {
    img_vocab v;
    img_vocab_of(&t->cfg, &v);
    if (!t->fitted || id < 0 || id >= v.size)
        return img_error(MMG_ERR_RANGE, "image: token %d is outside the vocabulary [0, %d)", id,
                         t->fitted ? v.size : 0);
    char tmp[160];
    int len;
    if (id < v.k * v.stages) {
        int32_t j = id / v.k, e = id % v.k, dim = img_config_dim(&t->cfg), c = t->cfg.channels;
        double mean[4] = {0, 0, 0, 0};
        const float *vec = t->books[j].c + (size_t)e * dim;
        for (int32_t i = 0; i < dim; i++) mean[i % c] += vec[i];
        for (int32_t i = 0; i < c; i++) mean[i] /= dim / c;
        const char *name = channel_name(channel_index(c));
        if (j == 0) {
            len = snprintf(tmp, sizeof tmp, "patch stage 1 #%d, mean %s(", e, name);
            for (int32_t i = 0; i < c; i++)
                len += snprintf(tmp + len, sizeof tmp - len, "%s%.0f", i ? "," : "", mean[i]);
        } else {
            len = snprintf(tmp, sizeof tmp, "patch stage 2 #%d, mean residual %s(", e, name);
            for (int32_t i = 0; i < c; i++)
                len += snprintf(tmp + len, sizeof tmp - len, "%s%+.1f", i ? "," : "", mean[i]);
        }
        len += snprintf(tmp + len, sizeof tmp - len, ")");
    } else if (id < v.chan) {
        static const char *what[4] = {"width high digit", "width low digit", "height high digit",
                                      "height low digit"};
        int32_t r = (id - v.w_hi) / IMG_DIGIT_BASE, d = (id - v.w_hi) % IMG_DIGIT_BASE;
        len = snprintf(tmp, sizeof tmp, "%s %d (+%d patches)", what[r], d,
                       r % 2 == 0 ? d * IMG_DIGIT_BASE : d);
    } else if (id < v.stg) {
        len = snprintf(tmp, sizeof tmp, "channels %s", channel_name(id - v.chan));
    } else if (id < v.bos) {
        len = snprintf(tmp, sizeof tmp, "stages %d", id - v.stg + 1);
    } else {
        len = snprintf(tmp, sizeof tmp, "%s", id == v.bos ? "<bos>" : id == v.eos ? "<eos>" : "<pad>");
    }
    if (buf && buf_size) snprintf(buf, buf_size, "%s", tmp);
    if (out_length) *out_length = (size_t)len;
    return MMG_OK;
}
