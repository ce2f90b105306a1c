/* plugins/audio/codec2_frames.c - Codec2 frames as tokens.
 *
 * libcodec2 turns 8 kHz speech into frames of bits_per_frame bits (packed
 * most significant bit first into bytes). A frame becomes `groups` tokens:
 * its bits cut into fixed groups of at most 12 bits from the first bit on,
 * each group with its own id range, so a token's position in the frame is
 * also its range (700C: 28 bits -> 12+12+4, 3 tokens per 40 ms = 75/s;
 * 1200: 48 bits -> 4 tokens per 40 ms = 100/s; 3200: 64 bits -> 12*5+4, 6
 * tokens per 20 ms = 300/s). Fixed groups rather than codec2's own fields:
 * the split is the same for every mode and the bits go to libcodec2
 * untouched, so the round trip equals libcodec2's own. */
#include <codec2/codec2.h>
#include <math.h>
#include <string.h>

#include "audio.h"

static struct CODEC2 *open_mode(int32_t mode_index) {
    return codec2_create(aud_codec2_modes[mode_index].mode);
}

int aud_codec2_layout_of(int32_t mode_index, aud_codec2_layout *out) {
    struct CODEC2 *c2 = open_mode(mode_index);
    if (!c2)
        return aud_error(MMG_ERR_INTERNAL, "audio: libcodec2 cannot create mode %s",
                         aud_codec2_modes[mode_index].name);
    aud_codec2_layout l;
    memset(&l, 0, sizeof l);
    l.samples_per_frame = codec2_samples_per_frame(c2);
    l.bits_per_frame = codec2_bits_per_frame(c2);
    codec2_destroy(c2);
    l.groups = (l.bits_per_frame + AUD_CODEC2_GROUP_BITS - 1) / AUD_CODEC2_GROUP_BITS;
    if (l.groups < 1 || l.groups > AUD_CODEC2_MAX_GROUPS || l.samples_per_frame < 1)
        return aud_error(MMG_ERR_INTERNAL, "audio: unexpected codec2 frame (%d bits, %d samples)",
                         l.bits_per_frame, l.samples_per_frame);
    for (int32_t g = 0, left = l.bits_per_frame; g < l.groups; g++) {
        l.bits[g] = left < AUD_CODEC2_GROUP_BITS ? left : AUD_CODEC2_GROUP_BITS;
        left -= l.bits[g];
        l.offset[g] = l.payload;
        l.payload += 1 << l.bits[g];
    }
    *out = l;
    return MMG_OK;
}

static int32_t get_bits(const uint8_t *b, int32_t first, int32_t count) {
    int32_t v = 0;
    for (int32_t i = first; i < first + count; i++) v = (v << 1) | ((b[i >> 3] >> (7 - (i & 7))) & 1);
    return v;
}

static void put_bits(uint8_t *b, int32_t first, int32_t count, int32_t v) {
    for (int32_t i = first + count - 1; i >= first; i--, v >>= 1)
        if (v & 1) b[i >> 3] |= (uint8_t)(0x80 >> (i & 7));
}

int aud_codec2_encode(int32_t mode_index, const float *x, size_t n, int32_t *ids, size_t frames) {
    aud_codec2_layout l;
    int rc = aud_codec2_layout_of(mode_index, &l);
    if (rc != MMG_OK) return rc;
    struct CODEC2 *c2 = open_mode(mode_index);
    short *pcm = (short *)aud_alloc_array((size_t)l.samples_per_frame, sizeof(short), 1);
    uint8_t bytes[64];
    if (!c2 || !pcm) {
        if (c2) codec2_destroy(c2);
        aud_free(pcm);
        return aud_error(MMG_ERR_NOMEM, "audio: out of memory for a codec2 encoder");
    }
    for (size_t f = 0; f < frames; f++) {
        for (int32_t i = 0; i < l.samples_per_frame; i++) {
            size_t at = f * (size_t)l.samples_per_frame + (size_t)i;
            /* the inverse of libsndfile's 16-bit read (s / 32768); the last
             * frame is padded with silence */
            float v = at < n ? nearbyintf(x[at] * 32768.0f) : 0.0f;
            pcm[i] = (short)(v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v);
        }
        memset(bytes, 0, sizeof bytes);
        codec2_encode(c2, bytes, pcm);
        for (int32_t g = 0, bit = 0; g < l.groups; bit += l.bits[g], g++)
            ids[f * (size_t)l.groups + (size_t)g] = l.offset[g] + get_bits(bytes, bit, l.bits[g]);
    }
    codec2_destroy(c2);
    aud_free(pcm);
    return MMG_OK;
}

int aud_codec2_decode(int32_t mode_index, const int32_t *ids, size_t frames, int16_t *out) {
    aud_codec2_layout l;
    int rc = aud_codec2_layout_of(mode_index, &l);
    if (rc != MMG_OK) return rc;
    struct CODEC2 *c2 = open_mode(mode_index);
    if (!c2) return aud_error(MMG_ERR_NOMEM, "audio: out of memory for a codec2 decoder");
    uint8_t bytes[64];
    for (size_t f = 0; f < frames; f++) {
        memset(bytes, 0, sizeof bytes);
        for (int32_t g = 0, bit = 0; g < l.groups; bit += l.bits[g], g++)
            put_bits(bytes, bit, l.bits[g], ids[f * (size_t)l.groups + (size_t)g] - l.offset[g]);
        codec2_decode(c2, out + f * (size_t)l.samples_per_frame, bytes);
    }
    codec2_destroy(c2);
    return MMG_OK;
}
