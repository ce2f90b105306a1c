/* plugins/audio/state.c - the saved state: config, and for the learned
 * codec its gain quantizer and codebooks, as bytes.
 *
 * Layout (little-endian throughout):
 *   offset 0   8 bytes  magic "MMGAUDIO"
 *          8   u32      format version (1)
 *         12   u32      H, bytes of the config block that follows (80 in v1)
 *         16   H bytes  config: i32 codec (0 mulaw, 1 codec2, 2 learned),
 *                       sample_rate, codec2_mode (index: 3200 2400 1600
 *                       1400 1300 1200 700C), frame_ms, subframes, n_mels,
 *                       window_ms, stages, codebook_size, gain_levels,
 *                       griffin_lim_iterations, kmeans_iterations; i64
 *                       max_train_frames; u64 seed; u32 number of codebooks
 *                       saved (0, or stages for a fitted learned codec);
 *                       f32 gain_min, gain_step; zero padding
 *    16 + H    codebooks, each codebook_size x (subframes * n_mels) float32
 *    end - 8   u64      FNV-1a 64 checksum of every byte before it
 *
 * Loading checks every field, the exact size, the checksum and that every
 * float is finite. An instance whose config named a "mode" refuses a state
 * of another codec (or codec2 mode), so a mix-up is never silent; one
 * created without a mode (NULL or {} config: the ABI's "empty, ready for
 * load_state") takes the state's, as saved states are self-contained. The
 * loader's limits and output format stay as the instance was created.
 * Anything wrong is MMG_ERR_FORMAT. */
#include <math.h>
#include <string.h>

#include "audio.h"
#include "bytes.h"

#define STATE_MAGIC "MMGAUDIO"
#define STATE_VERSION 1u
#define STATE_CONFIG_BYTES 80u
#define STATE_INTS 12

static int32_t dim_of(const aud_config *c) { return c->subframes * c->n_mels; }

int aud_state_save(const aud_tokenizer *t, uint8_t **out_bytes, size_t *out_size) {
    const aud_config *c = &t->cfg;
    const uint32_t books = c->codec == AUD_LEARNED && t->fitted ? (uint32_t)c->stages : 0;
    const size_t per_book = (size_t)c->codebook_size * dim_of(c) * 4;
    const size_t size = 16 + STATE_CONFIG_BYTES + books * per_book + 8;
    uint8_t *b = (uint8_t *)aud_alloc(size);
    if (!b) return aud_error(MMG_ERR_NOMEM, "audio: out of memory for a %zu-byte state", size);
    memset(b, 0, size);
    memcpy(b, STATE_MAGIC, 8);
    vq_put_u32(b + 8, STATE_VERSION);
    vq_put_u32(b + 12, STATE_CONFIG_BYTES);
    uint8_t *p = b + 16;
    const int32_t ints[STATE_INTS] = {(int32_t)c->codec, c->sample_rate, c->codec2_mode, c->frame_ms,
                                      c->subframes, c->n_mels, c->window_ms, c->stages,
                                      c->codebook_size, c->gain_levels, c->griffin_lim_iterations,
                                      c->kmeans_iterations};
    for (int i = 0; i < STATE_INTS; i++, p += 4) vq_put_u32(p, (uint32_t)ints[i]);
    vq_put_u64(p, (uint64_t)c->max_train_frames);
    vq_put_u64(p + 8, c->seed);
    vq_put_u32(p + 16, books);
    vq_put_f32(p + 20, books ? t->learned.gain_min : 0.0f);
    vq_put_f32(p + 24, books ? t->learned.gain_step : 0.0f);
    p = b + 16 + STATE_CONFIG_BYTES;
    for (uint32_t s = 0; s < books; s++) {
        const float *v = t->learned.books[s].c;
        for (size_t i = 0; i < per_book / 4; i++, p += 4) vq_put_f32(p, v[i]);
    }
    vq_put_u64(p, vq_fnv1a(b, size - 8));
    *out_bytes = b;
    *out_size = size;
    return MMG_OK;
}

static const char *codec_name(const aud_config *c) {
    return c->codec == AUD_MULAW ? "mulaw" : c->codec == AUD_CODEC2 ? "codec2" : "learned";
}

int aud_state_load(aud_tokenizer *t, const uint8_t *b, size_t size) {
    if (!b && size) return aud_error(MMG_ERR_INVALID_ARG, "audio: NULL state");
    if (size < 16 + STATE_CONFIG_BYTES + 8 || memcmp(b, STATE_MAGIC, 8) != 0)
        return aud_error(MMG_ERR_FORMAT, "audio: not an audio tokenizer state (%zu bytes, magic "
                         "\"" STATE_MAGIC "\" expected)", size);
    uint32_t version = vq_get_u32(b + 8), hbytes = vq_get_u32(b + 12);
    if (version != STATE_VERSION)
        return aud_error(MMG_ERR_FORMAT, "audio: state format version %u; this plugin reads "
                         "version %u", version, STATE_VERSION);
    if (hbytes != STATE_CONFIG_BYTES)
        return aud_error(MMG_ERR_FORMAT, "audio: state config block is %u bytes; expected %u",
                         hbytes, STATE_CONFIG_BYTES);
    uint64_t want_sum = vq_get_u64(b + size - 8), sum = vq_fnv1a(b, size - 8);
    if (want_sum != sum)
        return aud_error(MMG_ERR_FORMAT, "audio: state checksum mismatch (stored %016llx, computed "
                         "%016llx): the state is corrupt or truncated",
                         (unsigned long long)want_sum, (unsigned long long)sum);
    aud_config c = t->cfg; /* keeps the loader's limits and output format */
    const uint8_t *p = b + 16;
    int32_t ints[STATE_INTS];
    for (int i = 0; i < STATE_INTS; i++, p += 4) ints[i] = (int32_t)vq_get_u32(p);
    if (ints[0] < AUD_MULAW || ints[0] > AUD_LEARNED)
        return aud_error(MMG_ERR_FORMAT, "audio: state codec %d is unknown", ints[0]);
    c.codec = (aud_codec)ints[0];
    c.sample_rate = ints[1];
    c.codec2_mode = ints[2];
    c.frame_ms = ints[3];
    c.subframes = ints[4];
    c.n_mels = ints[5];
    c.window_ms = ints[6];
    c.stages = ints[7];
    c.codebook_size = ints[8];
    c.gain_levels = ints[9];
    c.griffin_lim_iterations = ints[10];
    c.kmeans_iterations = ints[11];
    c.max_train_frames = (int64_t)vq_get_u64(p);
    c.seed = vq_get_u64(p + 8);
    uint32_t books = vq_get_u32(p + 16);
    float gain_min = vq_get_f32(p + 20), gain_step = vq_get_f32(p + 24);
    if (c.frame_ms < 5 || c.frame_ms > 100 || c.subframes < 1 || c.subframes > 8 || c.n_mels < 8 ||
        c.n_mels > 128 || c.window_ms < 8 || c.window_ms > 128 || c.stages < 1 || c.stages > 8 ||
        c.codebook_size < 2 || c.codebook_size > 65536 || c.gain_levels < 2 ||
        c.gain_levels > 1024 || c.griffin_lim_iterations < 0 || c.griffin_lim_iterations > 10000 ||
        c.kmeans_iterations < 0 || c.kmeans_iterations > 10000 || c.max_train_frames < 1 ||
        c.max_train_frames > (int64_t)1e12 || aud_config_check(&c) != MMG_OK)
        return aud_error(MMG_ERR_FORMAT, "audio: the state's config is invalid (codec %s, %d Hz, "
                         "frame_ms %d, subframes %d, n_mels %d, stages %d, codebook_size %d)",
                         codec_name(&c), c.sample_rate, c.frame_ms, c.subframes, c.n_mels, c.stages,
                         c.codebook_size);
    if (t->cfg.mode_given &&
        (c.codec != t->cfg.codec || (c.codec == AUD_CODEC2 && c.codec2_mode != t->cfg.codec2_mode)))
        return aud_error(MMG_ERR_FORMAT, "audio: the state is for mode %s%s%s; this tokenizer was "
                         "created for mode %s%s%s", codec_name(&c), c.codec == AUD_CODEC2 ? " " : "",
                         c.codec == AUD_CODEC2 ? aud_codec2_modes[c.codec2_mode].name : "",
                         codec_name(&t->cfg), t->cfg.codec == AUD_CODEC2 ? " " : "",
                         t->cfg.codec == AUD_CODEC2 ? aud_codec2_modes[t->cfg.codec2_mode].name : "");
    if (books != 0 && (c.codec != AUD_LEARNED || books != (uint32_t)c.stages))
        return aud_error(MMG_ERR_FORMAT, "audio: state holds %u codebooks for codec %s with %d "
                         "stages", books, codec_name(&c), c.stages);
    if (books && (!isfinite(gain_min) || !isfinite(gain_step) || !(gain_step > 0) ||
                  fabsf(gain_min) > 1e4f || gain_step > 1e3f))
        return aud_error(MMG_ERR_FORMAT, "audio: state gain quantizer (min %g, step %g) is invalid",
                         (double)gain_min, (double)gain_step);
    const int32_t dim = dim_of(&c);
    const size_t per_book = (size_t)c.codebook_size * dim;
    if (size != 16 + STATE_CONFIG_BYTES + books * per_book * 4 + 8)
        return aud_error(MMG_ERR_FORMAT, "audio: state is %zu bytes; %u codebooks of %d x %d "
                         "floats take %zu", size, books, c.codebook_size, dim,
                         16 + STATE_CONFIG_BYTES + books * per_book * 4 + 8);
    aud_tokenizer nt;
    memset(&nt, 0, sizeof nt);
    nt.cfg = c;
    int rc = MMG_OK;
    if (c.codec == AUD_CODEC2) rc = aud_codec2_layout_of(c.codec2_mode, &nt.c2);
    if (rc == MMG_OK && c.codec == AUD_LEARNED) rc = aud_learned_prepare(&nt);
    nt.learned.gain_min = gain_min;
    nt.learned.gain_step = gain_step;
    p = b + 16 + STATE_CONFIG_BYTES;
    for (uint32_t s = 0; s < books && rc == MMG_OK; s++) {
        vq_codebook *cb = &nt.learned.books[s];
        cb->k = c.codebook_size;
        cb->dim = dim;
        cb->threads = 1;
        cb->c = (float *)aud_alloc_array(per_book, sizeof(float), 1);
        if (!cb->c) {
            rc = aud_error(MMG_ERR_NOMEM, "audio: out of memory loading a codebook");
            break;
        }
        for (size_t i = 0; i < per_book; i++, p += 4) {
            float f = vq_get_f32(p);
            if (!isfinite(f) || fabsf(f) > 1e4f) {
                rc = aud_error(MMG_ERR_FORMAT, "audio: codebook %u value %zu is %g, not a log power",
                               s + 1, i, (double)f);
                break;
            }
            cb->c[i] = f;
        }
        if (rc == MMG_OK) rc = vq_codebook_prepare(cb);
    }
    if (rc != MMG_OK) {
        aud_tokenizer_clear(&nt);
        return rc;
    }
    nt.fitted = c.codec != AUD_LEARNED || books > 0;
    aud_tokenizer_clear(t);
    *t = nt;
    return MMG_OK;
}
