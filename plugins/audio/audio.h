/* plugins/audio/audio.h - the audio plugin's private types and functions.
 *
 * The plugin turns an audio file into frame tokens and back. Any file
 * libsndfile reads (WAV, AIFF, FLAC, OGG...) is decoded to float samples,
 * mixed down to mono and resampled to the tokenizer's rate with
 * libsamplerate (sound_io.c). One of three codecs then makes the payload
 * tokens: 8-bit mu-law per sample (mulaw.c), frames of the Codec2 speech
 * codec cut into fixed bit groups (codec2_frames.c), or a codec learned from
 * the user's audio (learned.c): log-mel frames (mel.c) coded as a gain and
 * residual-VQ shape ids, reconstructed by Griffin-Lim phase recovery
 * (griffin_lim.c). tokens.c puts a layout header in front (codec, rate,
 * length), decodes, and constrains generation; state.c saves what fit
 * learned; config.c parses the JSON config; plugin.c is the ABI glue and
 * documents the token layout.
 *
 * Every allocation goes through the host's services (aud_alloc...), every
 * error through aud_error(), which records the message for mmg_last_error()
 * and returns the status. Internal functions carry the aud_ prefix and are
 * hidden (the module is built with -fvisibility=hidden). */
#ifndef MMGEN_PLUGIN_AUDIO_H
#define MMGEN_PLUGIN_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/plugin.h"
#include "vq.h"

/* ---- host services (the same table vq.c uses) ---------------------------- */

static inline void *aud_alloc(size_t size) { return vq_host->alloc(size); }
static inline void *aud_realloc(void *p, size_t size) { return vq_host->realloc(p, size); }
static inline void aud_free(void *p) {
    if (p) vq_host->free(p);
}
#define aud_alloc_array vq_alloc_array
#define aud_error(...) vq_host->error(__VA_ARGS__)
#define aud_log(...) vq_host->log(__VA_ARGS__)

/* ---- config (config.c) ---------------------------------------------------- */

typedef enum aud_codec {
    AUD_MULAW = 0,
    AUD_CODEC2 = 1,
    AUD_LEARNED = 2
} aud_codec;

/* The sample rates a stream's header can name; a tokenizer's rate is one. */
#define AUD_N_RATES 9
extern const int32_t aud_rates[AUD_N_RATES];
int aud_rate_index(int32_t rate); /* -1 when not a listed rate */

/* Codec2 modes by name; index into aud_codec2_modes. */
#define AUD_N_CODEC2_MODES 7
typedef struct aud_codec2_mode {
    const char *name; /* "3200" ... "700C" */
    int mode;         /* CODEC2_MODE_* */
} aud_codec2_mode;
extern const aud_codec2_mode aud_codec2_modes[AUD_N_CODEC2_MODES];

typedef struct aud_config {
    aud_codec codec;
    int32_t sample_rate;     /* the tokenizer's rate (8000 for codec2) */
    int32_t codec2_mode;     /* index into aud_codec2_modes */
    /* learned codec */
    int32_t frame_ms;        /* one token frame: gain + stages ids */
    int32_t subframes;       /* log-mel analysis frames per token frame */
    int32_t n_mels;
    int32_t window_ms;       /* analysis window; FFT size = next power of two */
    int32_t stages;          /* residual VQ stages, 1..8 */
    int32_t codebook_size;   /* K per stage */
    int32_t gain_levels;     /* uniform steps of the log gain */
    int32_t griffin_lim_iterations;
    int32_t kmeans_iterations;
    int64_t max_train_frames;
    uint64_t seed;
    int32_t threads;         /* 0: every CPU the process may use */
    /* loader's limits and output (not saved in the state) */
    int32_t max_channels;
    double max_seconds;
    uint64_t max_file_bytes;
    int32_t output_float;    /* decode writes 32-bit float WAV, not 16-bit PCM */
    int32_t mode_given;      /* the config named "mode": load_state refuses a state of another */
} aud_config;

void aud_config_defaults(aud_config *cfg);
/* Parses a JSON object over the defaults; unknown keys and bad values give
 * MMG_ERR_CONFIG naming the key. */
int aud_config_parse(const char *json, size_t size, aud_config *cfg);
/* Checks ranges and combinations (also used by load_state). */
int aud_config_check(const aud_config *cfg);

/* ---- reading and writing audio (sound_io.c) ------------------------------- */

/* Mono float samples at `rate`. */
typedef struct aud_signal {
    float *x; /* (n) from aud_alloc */
    size_t n;
    int32_t rate;
} aud_signal;

void aud_signal_free(aud_signal *s);
/* Reads any file libsndfile reads from memory, mixes it down to mono and
 * resamples it to cfg->sample_rate. Size, channels, rate and duration are
 * checked against the config's limits before the samples are allocated;
 * NaN or infinite samples, a truncated data chunk, an empty file are
 * MMG_ERR_FORMAT. */
int aud_read(const aud_config *cfg, const uint8_t *data, size_t size, aud_signal *out);
/* Writes mono samples as a WAV file (16-bit PCM, clamped and rounded, or
 * 32-bit float) into *out_bytes (aud_alloc). */
int aud_write_wav(const float *x, size_t n, int32_t rate, int as_float, uint8_t **out_bytes,
                  size_t *out_size);
/* Writes 16-bit samples as they are (codec2's output). */
int aud_write_wav16(const int16_t *x, size_t n, int32_t rate, uint8_t **out_bytes,
                    size_t *out_size);

/* ---- mu-law (mulaw.c) ----------------------------------------------------- */

#define AUD_MULAW_LEVELS 256
int32_t aud_mulaw_encode(float x);  /* x clamped to [-1, 1] -> [0, 256) */
float aud_mulaw_decode(int32_t q);  /* the level's center */

/* ---- Codec2 frames (codec2_frames.c) -------------------------------------- */

/* A frame's bits cut into groups of at most AUD_CODEC2_GROUP_BITS, most
 * significant first; group g's tokens are [offset[g], offset[g] + 2^bits[g]). */
#define AUD_CODEC2_GROUP_BITS 12
#define AUD_CODEC2_MAX_GROUPS 8
typedef struct aud_codec2_layout {
    int32_t samples_per_frame, bits_per_frame;
    int32_t groups;
    int32_t bits[AUD_CODEC2_MAX_GROUPS];
    int32_t offset[AUD_CODEC2_MAX_GROUPS];
    int32_t payload; /* total payload ids */
} aud_codec2_layout;

int aud_codec2_layout_of(int32_t mode_index, aud_codec2_layout *out);
/* Samples (8 kHz, n of them) -> frames * groups payload ids. */
int aud_codec2_encode(int32_t mode_index, const float *x, size_t n, int32_t *ids,
                      size_t frames);
/* Payload ids of `frames` frames -> 16-bit samples (frames * samples_per_frame). */
int aud_codec2_decode(int32_t mode_index, const int32_t *ids, size_t frames, int16_t *out);

/* ---- log-mel analysis (mel.c) --------------------------------------------- */

typedef struct aud_mel {
    int32_t rate, n_fft, n_bins, n_mels;
    float *window;   /* (n_fft) periodic Hann */
    float *fb;       /* (n_mels, n_bins) triangular filters, HTK mel scale */
    float *center;   /* (n_mels) center bin of each filter (fractional) */
    float *band_sum; /* (n_mels) sum of each filter's weights */
    void *plan_r2c;  /* fftwf_plan (n_fft), FFTW_UNALIGNED */
    void *plan_c2r;
} aud_mel;

#define AUD_LOG_FLOOR 1e-10f /* mel power below this is taken as this */

int aud_mel_init(aud_mel *m, int32_t rate, int32_t window_ms, int32_t n_mels);
void aud_mel_free(aud_mel *m);
/* Log mel power of n_frames frames centered at (i + 0.5) * hop samples
 * (zeros outside the signal): out (n_frames, n_mels). */
int aud_mel_analyze(const aud_mel *m, const float *x, size_t n, int32_t hop, size_t n_frames,
                    float *out);
/* The per-bin power spectrum whose mel bands give log_mel: each band's power
 * spread evenly over its filter, interpolated in log between band centers.
 * out (n_bins). */
void aud_mel_to_power(const aud_mel *m, const float *log_mel, float *out);

/* ---- Griffin-Lim (griffin_lim.c) ------------------------------------------ */

/* A signal of n samples whose STFT magnitude (Hann window n_fft, hop
 * n_fft/4, frames centered at t*hop) approaches mag (n_frames, n_bins) with
 * n_frames = n / hop + 1: fast Griffin-Lim (Perraudin et al. 2013,
 * momentum 0.99), phases seeded deterministically. x (n) is written. */
int aud_griffin_lim(const aud_mel *m, const float *mag, size_t n, int32_t iterations,
                    uint64_t seed, float *x);

/* ---- the learned codec (learned.c) ---------------------------------------- */

typedef struct aud_learned {
    aud_mel mel;
    int32_t ready;          /* mel set up for the config */
    float gain_min, gain_step; /* level q is gain_min + q * gain_step (log power) */
    vq_codebook books[8];
} aud_learned;

/* ---- the tokenizer instance ----------------------------------------------- */

typedef struct aud_tokenizer {
    aud_config cfg;
    int32_t fitted; /* the codec can encode (always, but for learned before fit) */
    aud_codec2_layout c2; /* codec2 mode's frame layout */
    aud_learned learned;
} aud_tokenizer;

void aud_tokenizer_clear(aud_tokenizer *t);
int aud_learned_prepare(aud_tokenizer *t);  /* sets up the mel analysis */
int aud_learned_fit(aud_tokenizer *t, const mmg_plugin_document *docs, size_t n_docs);
/* Samples per token frame of the learned codec. */
static inline int32_t aud_learned_frame_len(const aud_config *c) {
    return (int32_t)((int64_t)c->sample_rate * c->frame_ms / 1000);
}
/* sig -> frames * (1 + stages) payload ids (gain id, then one per stage). */
int aud_learned_encode(const aud_tokenizer *t, const aud_signal *sig, int32_t *ids, size_t frames);
/* Payload ids of `frames` frames -> n samples. */
int aud_learned_decode(const aud_tokenizer *t, const int32_t *ids, size_t frames, size_t n,
                       float *x);

/* ---- token layout (tokens.c) ---------------------------------------------- */

#define AUD_HEADER_TOKENS 6
#define AUD_DIGIT_BASE 64
#define AUD_LENGTH_DIGITS 4
#define AUD_MAX_SAMPLES ((int64_t)AUD_DIGIT_BASE * AUD_DIGIT_BASE * AUD_DIGIT_BASE * AUD_DIGIT_BASE - 1)
/* Codec tokens: mulaw, the 7 codec2 modes, learned. */
#define AUD_N_CODEC_TOKENS (2 + AUD_N_CODEC2_MODES)

typedef struct aud_vocab {
    int32_t payload;       /* payload ids [0, payload) */
    int32_t frame_tokens;  /* payload tokens per frame (1 for mulaw) */
    int32_t frame_len;     /* samples per frame (1 for mulaw) */
    int32_t codec_tok;     /* first codec token */
    int32_t rate_tok;      /* first rate token */
    int32_t digit;         /* first length digit (AUD_LENGTH_DIGITS ranges) */
    int32_t bos, eos, pad;
    int32_t size;
    int32_t my_codec;      /* this tokenizer's codec token */
    int32_t my_rate;       /* this tokenizer's rate token */
} aud_vocab;

void aud_vocab_of(const aud_tokenizer *t, aud_vocab *v);
/* Range of payload ids allowed at position j (0-based) within a frame. */
void aud_payload_range(const aud_tokenizer *t, int32_t j, int32_t *lo, int32_t *hi);
int aud_tokens_encode(const aud_tokenizer *t, const uint8_t *doc, size_t size, int32_t **out_ids,
                      size_t *out_count);
int aud_tokens_decode(const aud_tokenizer *t, const int32_t *ids, size_t count, uint8_t **out_doc,
                      size_t *out_size);
int aud_tokens_allowed_next(const aud_tokenizer *t, const int32_t *tokens, size_t n,
                            uint8_t *allowed, size_t vocab_size);
int aud_tokens_describe(const aud_tokenizer *t, int32_t id, char *buf, size_t buf_size,
                        size_t *out_length);

/* ---- saved state (state.c) ------------------------------------------------ */
int aud_state_save(const aud_tokenizer *t, uint8_t **out_bytes, size_t *out_size);
int aud_state_load(aud_tokenizer *t, const uint8_t *bytes, size_t size);

#endif /* MMGEN_PLUGIN_AUDIO_H */
