/* plugins/audio/tokens.c - the token stream of an audio file: vocabulary,
 * encode, decode, the generation constraint and token descriptions.
 *
 * A stream is a 6-token layout header (codec, rate, length in samples as
 * four base-64 digits), then the payload frame by frame, each frame the
 * codec's fixed number of tokens, each position with its own id range
 * (plugin.c documents the ids). The payload holds ceil(length / frame
 * samples) frames; decode writes exactly `length` samples. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audio.h"
#include "stream.h"

static const char *codec_names[AUD_N_CODEC_TOKENS] = {
    "mulaw", "codec2 3200", "codec2 2400", "codec2 1600", "codec2 1400",
    "codec2 1300", "codec2 1200", "codec2 700C", "learned"};

static int32_t codec_index(const aud_config *c) {
    return c->codec == AUD_MULAW ? 0 : c->codec == AUD_CODEC2 ? 1 + c->codec2_mode
                                                               : AUD_N_CODEC_TOKENS - 1;
}

void aud_vocab_of(const aud_tokenizer *t, aud_vocab *v) {
    const aud_config *c = &t->cfg;
    memset(v, 0, sizeof *v);
    switch (c->codec) {
    case AUD_MULAW:
        v->payload = AUD_MULAW_LEVELS;
        v->frame_tokens = 1;
        v->frame_len = 1;
        break;
    case AUD_CODEC2:
        v->payload = t->c2.payload;
        v->frame_tokens = t->c2.groups;
        v->frame_len = t->c2.samples_per_frame;
        break;
    case AUD_LEARNED:
        v->payload = c->gain_levels + c->stages * c->codebook_size;
        v->frame_tokens = 1 + c->stages;
        v->frame_len = aud_learned_frame_len(c);
        break;
    }
    v->digit = v->payload;
    v->codec_tok = v->digit + AUD_LENGTH_DIGITS * AUD_DIGIT_BASE;
    v->rate_tok = v->codec_tok + AUD_N_CODEC_TOKENS;
    v->bos = v->rate_tok + AUD_N_RATES;
    v->eos = v->bos + 1;
    v->pad = v->bos + 2;
    v->size = v->bos + 3;
    v->my_codec = v->codec_tok + codec_index(c);
    v->my_rate = v->rate_tok + aud_rate_index(c->sample_rate);
}

void aud_payload_range(const aud_tokenizer *t, int32_t j, int32_t *lo, int32_t *hi) {
    const aud_config *c = &t->cfg;
    if (c->codec == AUD_MULAW) {
        *lo = 0;
        *hi = AUD_MULAW_LEVELS;
    } else if (c->codec == AUD_CODEC2) {
        *lo = t->c2.offset[j];
        *hi = *lo + (1 << t->c2.bits[j]);
    } else if (j == 0) {
        *lo = 0;
        *hi = c->gain_levels;
    } else {
        *lo = c->gain_levels + (j - 1) * c->codebook_size;
        *hi = *lo + c->codebook_size;
    }
}

/* The longest length a header may give, in samples. */
static int64_t max_length(const aud_config *c) {
    double m = floor(c->max_seconds * c->sample_rate);
    return m < (double)AUD_MAX_SAMPLES ? (int64_t)m : AUD_MAX_SAMPLES;
}

static size_t frames_of(const aud_vocab *v, int64_t samples) {
    return (size_t)((samples + v->frame_len - 1) / v->frame_len);
}

int aud_tokens_encode(const aud_tokenizer *t, const uint8_t *doc, size_t size, int32_t **out_ids,
                      size_t *out_count) {
    if (!t->fitted)
        return aud_error(MMG_ERR_STATE, "audio: the learned codec has no codebooks yet; call fit "
                         "or load_state first");
    aud_signal sig = {NULL, 0, 0};
    int rc = aud_read(&t->cfg, doc, size, &sig);
    if (rc != MMG_OK) return rc;
    aud_vocab v;
    aud_vocab_of(t, &v);
    if ((int64_t)sig.n > max_length(&t->cfg)) {
        rc = aud_error(MMG_ERR_LIMIT, "audio: %zu samples at %d Hz exceed the longest stream (%lld "
                       "samples)", sig.n, t->cfg.sample_rate, (long long)max_length(&t->cfg));
        aud_signal_free(&sig);
        return rc;
    }
    size_t frames = frames_of(&v, (int64_t)sig.n);
    size_t count = AUD_HEADER_TOKENS + frames * (size_t)v.frame_tokens;
    int32_t *ids = (int32_t *)aud_alloc_array(count, sizeof(int32_t), 1);
    if (!ids) {
        aud_signal_free(&sig);
        return aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu tokens", count);
    }
    ids[0] = v.my_codec;
    ids[1] = v.my_rate;
    for (int d = 0; d < AUD_LENGTH_DIGITS; d++) {
        int shift = 6 * (AUD_LENGTH_DIGITS - 1 - d);
        ids[2 + d] = v.digit + d * AUD_DIGIT_BASE + (int32_t)((sig.n >> shift) & (AUD_DIGIT_BASE - 1));
    }
    int32_t *p = ids + AUD_HEADER_TOKENS;
    if (t->cfg.codec == AUD_MULAW) {
        for (size_t i = 0; i < sig.n; i++) p[i] = aud_mulaw_encode(sig.x[i]);
    } else if (t->cfg.codec == AUD_CODEC2) {
        rc = aud_codec2_encode(t->cfg.codec2_mode, sig.x, sig.n, p, frames);
    } else {
        rc = aud_learned_encode(t, &sig, p, frames);
    }
    aud_signal_free(&sig);
    if (rc != MMG_OK) {
        aud_free(ids);
        return rc;
    }
    *out_ids = ids;
    *out_count = count;
    return MMG_OK;
}

/* Checks the 6 header tokens; *samples gets the length. */
static int parse_header(const aud_tokenizer *t, const aud_vocab *v, const int32_t *h, size_t at,
                        int64_t *samples) {
    if (h[0] != v->my_codec)
        return aud_error(MMG_ERR_FORMAT, "audio: token %d at position %zu is not this tokenizer's "
                         "codec token %d (%s)", h[0], at, v->my_codec,
                         codec_names[v->my_codec - v->codec_tok]);
    if (h[1] != v->my_rate)
        return aud_error(MMG_ERR_FORMAT, "audio: token %d at position %zu is not this tokenizer's "
                         "rate token %d (%d Hz)", h[1], at + 1, v->my_rate, t->cfg.sample_rate);
    int64_t n = 0;
    for (int d = 0; d < AUD_LENGTH_DIGITS; d++) {
        int32_t lo = v->digit + d * AUD_DIGIT_BASE;
        if (h[2 + d] < lo || h[2 + d] >= lo + AUD_DIGIT_BASE)
            return aud_error(MMG_ERR_FORMAT, "audio: token %d at position %zu is not length digit "
                             "%d (ids %d to %d)", h[2 + d], at + 2 + d, d, lo, lo + AUD_DIGIT_BASE - 1);
        n = n * AUD_DIGIT_BASE + (h[2 + d] - lo);
    }
    if (n < 1)
        return aud_error(MMG_ERR_FORMAT, "audio: the layout header gives a length of 0 samples");
    if (n > max_length(&t->cfg))
        return aud_error(MMG_ERR_LIMIT, "audio: the layout header gives %lld samples; max_seconds "
                         "%g allows %lld", (long long)n, t->cfg.max_seconds,
                         (long long)max_length(&t->cfg));
    *samples = n;
    return MMG_OK;
}

static int synthesize(const aud_tokenizer *t, const int32_t *p, size_t frames, size_t n,
                      uint8_t **out_doc, size_t *out_size) {
    const aud_config *c = &t->cfg;
    int rc;
    if (c->codec == AUD_CODEC2 && !c->output_float) { /* codec2's samples, untouched */
        int16_t *s = (int16_t *)aud_alloc_array(frames, (size_t)t->c2.samples_per_frame,
                                                sizeof(int16_t));
        if (!s) return aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu samples", n);
        rc = aud_codec2_decode(c->codec2_mode, p, frames, s);
        if (rc == MMG_OK) rc = aud_write_wav16(s, n, c->sample_rate, out_doc, out_size);
        aud_free(s);
        return rc;
    }
    size_t cap = c->codec == AUD_CODEC2 ? frames * (size_t)t->c2.samples_per_frame : n;
    float *x = (float *)aud_alloc_array(cap, sizeof(float), 1);
    if (!x) return aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu samples", n);
    rc = MMG_OK;
    if (c->codec == AUD_MULAW) {
        for (size_t i = 0; i < n; i++) x[i] = aud_mulaw_decode(p[i]);
    } else if (c->codec == AUD_CODEC2) {
        int16_t *s = (int16_t *)aud_alloc_array(cap, sizeof(int16_t), 1);
        if (!s) rc = aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu samples", n);
        else rc = aud_codec2_decode(c->codec2_mode, p, frames, s);
        for (size_t i = 0; rc == MMG_OK && i < n; i++) x[i] = s[i] / 32768.0f;
        aud_free(s);
    } else {
        rc = aud_learned_decode(t, p, frames, n, x);
    }
    if (rc == MMG_OK) rc = aud_write_wav(x, n, c->sample_rate, c->output_float, out_doc, out_size);
    aud_free(x);
    return rc;
}

int aud_tokens_decode(const aud_tokenizer *t, const int32_t *ids, size_t count, uint8_t **out_doc,
                      size_t *out_size) {
    if (!t->fitted)
        return aud_error(MMG_ERR_STATE, "audio: the learned codec has no codebooks yet; call fit "
                         "or load_state first");
    if (!ids && count) return aud_error(MMG_ERR_INVALID_ARG, "audio: NULL token array");
    aud_vocab v;
    aud_vocab_of(t, &v);
    for (size_t i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= v.size)
            return aud_error(MMG_ERR_RANGE, "audio: token %d at position %zu is outside the "
                             "vocabulary [0, %d)", ids[i], i, v.size);
    size_t i0, end, bad = vq_stream_span(ids, count, v.bos, v.eos, v.pad, &i0, &end);
    if (bad < count)
        return aud_error(MMG_ERR_FORMAT, "audio: token %d at position %zu follows eos", ids[bad], bad);
    if (end - i0 < AUD_HEADER_TOKENS)
        return aud_error(MMG_ERR_FORMAT, "audio: %zu tokens are too few for the %d-token layout "
                         "header", end - i0, AUD_HEADER_TOKENS);
    int64_t n;
    int rc = parse_header(t, &v, ids + i0, i0, &n);
    if (rc != MMG_OK) return rc;
    size_t frames = frames_of(&v, n), want = AUD_HEADER_TOKENS + frames * (size_t)v.frame_tokens;
    if (end - i0 != want)
        return aud_error(MMG_ERR_FORMAT, "audio: %lld samples take %zu frames, %zu tokens with the "
                         "header; got %zu", (long long)n, frames, want, end - i0);
    const int32_t *p = ids + i0 + AUD_HEADER_TOKENS;
    for (size_t i = 0; i < frames * (size_t)v.frame_tokens; i++) {
        int32_t j = (int32_t)(i % (size_t)v.frame_tokens), lo, hi;
        aud_payload_range(t, j, &lo, &hi);
        if (p[i] < lo || p[i] >= hi)
            return aud_error(MMG_ERR_FORMAT, "audio: token %d at position %zu is not a payload "
                             "token for frame position %d (ids %d to %d)", p[i],
                             i0 + AUD_HEADER_TOKENS + i, j, lo, hi - 1);
    }
    return synthesize(t, p, frames, (size_t)n, out_doc, out_size);
}

int aud_tokens_allowed_next(const aud_tokenizer *t, const int32_t *tokens, size_t n,
                            uint8_t *allowed, size_t vocab_size) {
    if (!t->fitted)
        return aud_error(MMG_ERR_STATE, "audio: the learned codec has no codebooks yet; call fit "
                         "or load_state first");
    aud_vocab v;
    aud_vocab_of(t, &v);
    /* a longer mask (a model vocabulary shared with other modalities) gets
     * its extra ids cleared */
    if (!allowed || vocab_size < (size_t)v.size)
        return aud_error(MMG_ERR_INVALID_ARG, "audio: allowed_next got a mask of %zu entries; the "
                         "vocabulary has %d", vocab_size, v.size);
    if (!tokens && n) return aud_error(MMG_ERR_INVALID_ARG, "audio: NULL token array");
    size_t i0 = n && tokens[0] == v.bos ? 1 : 0, pos = n - i0;
    const int32_t *h = tokens + i0;
    memset(allowed, 0, vocab_size);
    if (pos < AUD_HEADER_TOKENS) {
        /* the tokens so far must be a valid header prefix */
        if (pos > 0 && h[0] != v.my_codec)
            return aud_error(MMG_ERR_RANGE, "audio: token %d at position %zu is not the codec token",
                             h[0], i0);
        if (pos > 1 && h[1] != v.my_rate)
            return aud_error(MMG_ERR_RANGE, "audio: token %d at position %zu is not the rate token",
                             h[1], i0 + 1);
        int64_t prefix = 0;
        for (size_t d = 0; d + 2 < pos; d++) {
            int32_t lo = v.digit + (int32_t)d * AUD_DIGIT_BASE;
            if (h[2 + d] < lo || h[2 + d] >= lo + AUD_DIGIT_BASE)
                return aud_error(MMG_ERR_RANGE, "audio: token %d at position %zu is not length "
                                 "digit %zu", h[2 + d], i0 + 2 + d, d);
            prefix = prefix * AUD_DIGIT_BASE + (h[2 + d] - lo);
        }
        if (pos == 0) {
            allowed[v.my_codec] = 1;
        } else if (pos == 1) {
            allowed[v.my_rate] = 1;
        } else { /* digit d: some completion must lie in [1, max_length] */
            int d = (int)pos - 2, rest = AUD_LENGTH_DIGITS - 1 - d;
            int64_t span = 1, top = max_length(&t->cfg);
            for (int r = 0; r < rest; r++) span *= AUD_DIGIT_BASE;
            for (int32_t e = 0; e < AUD_DIGIT_BASE; e++) {
                int64_t lo = (prefix * AUD_DIGIT_BASE + e) * span, hi = lo + span - 1;
                if (hi >= 1 && lo <= top) allowed[v.digit + d * AUD_DIGIT_BASE + e] = 1;
            }
        }
        return MMG_OK;
    }
    int64_t samples;
    int rc = parse_header(t, &v, h, i0, &samples);
    if (rc != MMG_OK) return rc == MMG_ERR_FORMAT ? MMG_ERR_RANGE : rc;
    size_t total = AUD_HEADER_TOKENS + frames_of(&v, samples) * (size_t)v.frame_tokens;
    size_t last = pos - 1; /* the latest token must fit where it stands */
    int32_t prev = h[last], lo, hi;
    if (last >= AUD_HEADER_TOKENS && last < total) {
        aud_payload_range(t, (int32_t)((last - AUD_HEADER_TOKENS) % (size_t)v.frame_tokens), &lo, &hi);
        if (prev < lo || prev >= hi)
            return aud_error(MMG_ERR_RANGE, "audio: token %d at position %zu is not a payload token "
                             "for its place (ids %d to %d)", prev, i0 + last, lo, hi - 1);
    } else if (last >= total && prev != v.eos && prev != v.pad) {
        return aud_error(MMG_ERR_RANGE, "audio: token %d at position %zu comes after the last "
                         "frame; only eos may", prev, i0 + last);
    }
    if (pos < total) {
        aud_payload_range(t, (int32_t)((pos - AUD_HEADER_TOKENS) % (size_t)v.frame_tokens), &lo, &hi);
        memset(allowed + lo, 1, (size_t)(hi - lo));
    } else if (pos == total) {
        allowed[v.eos] = 1;
    } else {
        allowed[v.pad] = 1; /* the document has ended */
    }
    return MMG_OK;
}

int aud_tokens_describe(const aud_tokenizer *t, int32_t id, char *buf, size_t buf_size,
                        size_t *out_length) {
    aud_vocab v;
    aud_vocab_of(t, &v);
    const aud_config *c = &t->cfg;
    if (!t->fitted || id < 0 || id >= v.size)
        return aud_error(MMG_ERR_RANGE, "audio: token %d is outside the vocabulary [0, %d)", id,
                         t->fitted ? v.size : 0);
    char tmp[128];
    int len;
    if (id < v.payload) {
        if (c->codec == AUD_MULAW) {
            len = snprintf(tmp, sizeof tmp, "mu-law level %d (%+.5f)", id, aud_mulaw_decode(id));
        } else if (c->codec == AUD_CODEC2) {
            int32_t g = 0;
            while (g + 1 < t->c2.groups && id >= t->c2.offset[g + 1]) g++;
            len = snprintf(tmp, sizeof tmp, "codec2 %s bit group %d (%d bits) = %d",
                           aud_codec2_modes[c->codec2_mode].name, g, t->c2.bits[g],
                           id - t->c2.offset[g]);
        } else if (id < c->gain_levels) {
            float g = t->learned.gain_min + (float)id * t->learned.gain_step;
            len = snprintf(tmp, sizeof tmp, "gain level %d (%.1f dB mean mel power)", id,
                           10.0 * g / log(10.0));
        } else {
            int32_t s = (id - c->gain_levels) / c->codebook_size;
            len = snprintf(tmp, sizeof tmp, "shape stage %d #%d", s + 1,
                           (id - c->gain_levels) % c->codebook_size);
        }
    } else if (id < v.codec_tok) {
        int32_t d = (id - v.digit) / AUD_DIGIT_BASE, e = (id - v.digit) % AUD_DIGIT_BASE;
        len = snprintf(tmp, sizeof tmp, "length digit %d = %d (x%d samples)", d, e,
                       1 << (6 * (AUD_LENGTH_DIGITS - 1 - d)));
    } else if (id < v.rate_tok) {
        len = snprintf(tmp, sizeof tmp, "codec %s", codec_names[id - v.codec_tok]);
    } else if (id < v.bos) {
        len = snprintf(tmp, sizeof tmp, "rate %d Hz", aud_rates[id - v.rate_tok]);
    } else {
        len = snprintf(tmp, sizeof tmp, "%s", id == v.bos ? "<bos>" : id == v.eos ? "<eos>" : "<pad>");
    }
    if (buf && buf_size) snprintf(buf, buf_size, "%s", tmp);
    if (out_length) *out_length = (size_t)len;
    return MMG_OK;
}
