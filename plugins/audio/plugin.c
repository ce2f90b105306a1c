/* plugins/audio/plugin.c - the audio plugin's ABI glue: audio files <->
 * frame tokens.
 *
 * What it does: encode reads any file libsndfile reads (WAV PCM 8-32 bit,
 * float, mu-law/A-law, AIFF, FLAC, OGG/Vorbis...), mixes it down to mono,
 * resamples it to the tokenizer's rate (libsamplerate) and codes it with
 * the configured codec:
 *   "mulaw"    one token per sample, 8-bit mu-law (mu = 255): 8000 tokens/s
 *              at 8 kHz, about 35 dB SNR on speech. Nothing to fit.
 *   "codec2"   frames of the Codec2 speech codec (8 kHz), each cut into
 *              groups of at most 12 bits: 75 (700C) to 300 (3200)
 *              tokens/s. Nothing to fit; the tokens are c2enc's bits and
 *              decode is libcodec2's decoder. Its synthesis draws phase
 *              noise from one process-wide generator (codec2_rand, no seed
 *              in the API), so only the first file a process decodes is
 *              sample-identical to a fresh c2dec run; later ones differ in
 *              that noise alone.
 *   "learned"  log-mel frames coded as a gain id and residual-VQ ids,
 *              fitted with `fit` on the user's audio, reconstructed with
 *              Griffin-Lim: (1 + stages) * 1000 / frame_ms tokens/s.
 * decode writes a mono WAV at the tokenizer's rate (16-bit PCM, or 32-bit
 * float with "output": "float"). See config.c for the JSON config.
 *
 * Token stream of one file (encode emits exactly this; bos/eos are added
 * by the host when it wants them):
 *
 *   codec rate L3 L2 L1 L0  frame(0) frame(1) ... frame(F-1)
 *
 *   the length N = ((L3*64 + L2)*64 + L1)*64 + L0 samples (1 to 2^24 - 1,
 *   and at most max_seconds), F = ceil(N / frame samples) frames; mulaw
 *   frames are one sample, one token. Each frame is the codec's fixed
 *   number of tokens, each position in its own id range.
 *
 * Vocabulary (P payload ids):
 *
 *   [0, P)              payload: mulaw levels (P = 256); codec2 bit groups,
 *                       group g in [offset_g, offset_g + 2^bits_g); learned:
 *                       gain levels [0, G), then stage s's K codebook ids
 *                       [G + s*K, G + (s+1)*K), P = G + stages*K
 *   [P, P+256)          length digits L3, L2, L1, L0: 64 ids each, in order
 *   P+256 .. P+264      codec: mulaw, codec2 3200, 2400, 1600, 1400, 1300,
 *                       1200, 700C, learned (must be the tokenizer's)
 *   P+265 .. P+273      rate: 8000, 11025, 12000, 16000, 22050, 24000,
 *                       32000, 44100, 48000 Hz (must be the tokenizer's)
 *   P+274, P+275, P+276 bos, eos, pad
 *   vocab_size = P + 277
 *
 * The constraint extension ("mmgen.constraint/1") lets generation produce
 * only a valid header (a length in [1, max_seconds * rate]), then exactly
 * the frames it announces, each token in its position's range, then eos
 * (then pad); so every generated stream decodes to a WAV file. decode
 * accepts an optional leading bos and a trailing eos (then only eos/pad). */
#include <string.h>

#include "audio.h"

static int audio_init(const mmg_host_services *host) {
    if (!host || host->struct_size < sizeof(mmg_host_services) || !host->alloc || !host->realloc ||
        !host->free || !host->log || !host->error)
        return MMG_ERR_PLUGIN;
    vq_host = host;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init(); /* for vq's choice of search kernel */
#endif
    return MMG_OK;
}

static void audio_deinit(void) {}

void aud_tokenizer_clear(aud_tokenizer *t) {
    for (int s = 0; s < 8; s++) vq_codebook_free(&t->learned.books[s]);
    aud_mel_free(&t->learned.mel);
    t->learned.ready = 0;
    t->fitted = 0;
}

static int audio_create(const char *config_json, size_t config_size, void **out_instance) {
    if (!out_instance) return aud_error(MMG_ERR_INVALID_ARG, "audio: create needs out_instance");
    aud_config cfg;
    int rc = aud_config_parse(config_json, config_size, &cfg);
    if (rc != MMG_OK) return rc;
    aud_tokenizer *t = (aud_tokenizer *)aud_alloc(sizeof *t);
    if (!t) return aud_error(MMG_ERR_NOMEM, "audio: out of memory creating a tokenizer");
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    if (cfg.codec == AUD_CODEC2) rc = aud_codec2_layout_of(cfg.codec2_mode, &t->c2);
    else if (cfg.codec == AUD_LEARNED) rc = aud_learned_prepare(t);
    if (rc != MMG_OK) {
        aud_tokenizer_clear(t);
        aud_free(t);
        return rc;
    }
    t->fitted = cfg.codec != AUD_LEARNED;
    *out_instance = t;
    return MMG_OK;
}

static void audio_destroy(void *instance) {
    if (!instance) return;
    aud_tokenizer_clear((aud_tokenizer *)instance);
    aud_free(instance);
}

static int audio_fit(void *instance, const mmg_plugin_document *docs, size_t n_docs) {
    aud_tokenizer *t = (aud_tokenizer *)instance;
    if (!docs || n_docs == 0)
        return aud_error(MMG_ERR_INVALID_ARG, "audio: fit needs at least one audio file");
    if (t->cfg.codec != AUD_LEARNED) return MMG_OK; /* mulaw and codec2 learn nothing */
    return aud_learned_fit(t, docs, n_docs);
}

static int audio_save_state(void *instance, uint8_t **out_bytes, size_t *out_size) {
    return aud_state_save((const aud_tokenizer *)instance, out_bytes, out_size);
}

static int audio_load_state(void *instance, const uint8_t *bytes, size_t size) {
    return aud_state_load((aud_tokenizer *)instance, bytes, size);
}

static int audio_encode(void *instance, const uint8_t *doc, size_t doc_size, int32_t **out_ids,
                        size_t *out_count) {
    return aud_tokens_encode((const aud_tokenizer *)instance, doc, doc_size, out_ids, out_count);
}

static int audio_decode(void *instance, const int32_t *ids, size_t count, uint8_t **out_doc,
                        size_t *out_size) {
    return aud_tokens_decode((const aud_tokenizer *)instance, ids, count, out_doc, out_size);
}

static int32_t audio_vocab_size(void *instance) {
    const aud_tokenizer *t = (const aud_tokenizer *)instance;
    if (!t->fitted) return 0;
    aud_vocab v;
    aud_vocab_of(t, &v);
    return v.size;
}

static int audio_special_token(void *instance, const char *name, int32_t *out_id) {
    aud_vocab v;
    aud_vocab_of((const aud_tokenizer *)instance, &v);
    int32_t id = -1;
    if (name && !strcmp(name, "bos")) id = v.bos;
    else if (name && !strcmp(name, "eos")) id = v.eos;
    else if (name && !strcmp(name, "pad")) id = v.pad;
    if (id < 0)
        return aud_error(MMG_ERR_NOT_FOUND, "audio: no special token named \"%s\" (bos, eos, pad)",
                         name ? name : "(null)");
    *out_id = id;
    return MMG_OK;
}

static int audio_describe_token(void *instance, int32_t id, char *buf, size_t buf_size,
                                size_t *out_length) {
    return aud_tokens_describe((const aud_tokenizer *)instance, id, buf, buf_size, out_length);
}

static int audio_allowed_next(void *instance, const int32_t *tokens, size_t n_tokens,
                              uint8_t *allowed, size_t vocab_size) {
    return aud_tokens_allowed_next((const aud_tokenizer *)instance, tokens, n_tokens, allowed,
                                   vocab_size);
}

static const mmg_ext_constraint_v1 audio_constraint = {
    sizeof(mmg_ext_constraint_v1),
    audio_allowed_next,
};

static const void *audio_get_extension(void *instance, const char *id) {
    (void)instance;
    if (id && !strcmp(id, MMG_EXT_CONSTRAINT_V1)) return &audio_constraint;
    return NULL;
}

static const mmg_plugin_descriptor audio_descriptor = {
    .struct_size = sizeof(mmg_plugin_descriptor),
    .abi_version = MMG_PLUGIN_ABI_VERSION,
    .name = "audio",
    .version = "1.0.0",
    .modality = MMG_MODALITY_AUDIO,
    .description = "audio files (WAV, AIFF, FLAC, OGG...) as mu-law, Codec2 or learned log-mel tokens",
    .init = audio_init,
    .deinit = audio_deinit,
    .create = audio_create,
    .destroy = audio_destroy,
    .fit = audio_fit,
    .save_state = audio_save_state,
    .load_state = audio_load_state,
    .encode = audio_encode,
    .decode = audio_decode,
    .vocab_size = audio_vocab_size,
    .special_token = audio_special_token,
    .describe_token = audio_describe_token,
    .get_extension = audio_get_extension,
};

MMG_PLUGIN_EXPORT const mmg_plugin_descriptor *mmg_plugin_entry_v1(void) {
    return &audio_descriptor;
}
