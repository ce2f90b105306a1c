/* cli/audio_quality.h - how close a decoded audio file is to its original,
 * for `mmgen tokenizer eval` on audio: SNR, mel-cepstral distortion (MCD)
 * and the decoded duration (for tokens/s and kbit/s).
 *
 * Both files are read from memory with libsndfile (any format it reads:
 * WAV, AIFF, FLAC, OGG...) as samples normalized to [-1, 1) and mixed down
 * to mono (the mean of the channels). When the rates differ, the original
 * is resampled to the decoded file's rate with libsamplerate
 * (SRC_SINC_BEST_QUALITY). Both measures then run over the common length,
 * n = min(original, decoded) samples, with the files aligned at their first
 * sample: there is no search for a delay, so a codec that delays its output
 * is charged for it.
 *
 *   SNR = 10 log10(sum x^2 / sum (x - y)^2) dB, x the original, y the
 *   decoded (+inf when identical, -inf when the original is silent).
 *
 *   MCD: frames of 25 ms, hop 10 ms (floor(0.025 rate + 0.5) and
 *   floor(0.010 rate + 0.5) samples), only whole frames inside the common
 *   length; each frame times a symmetric Hamming window
 *   0.54 - 0.46 cos(2 pi i / (L - 1)), zero-padded to the next power of two
 *   >= L (FFTW, single precision), power |X_k|^2 of bins k = 0..N/2 at
 *   f_k = k rate / N; 40 triangular mel bands on the HTK scale
 *   mel(f) = 2595 log10(1 + f / 700), their 42 edges equally spaced in mel
 *   from 0 Hz to rate / 2, band m weighting bin k by
 *   max(0, min((f_k - e_m) / (e_{m+1} - e_m), (e_{m+2} - f_k) / (e_{m+2} - e_{m+1})))
 *   (peak 1, no area normalization); log mel power ln(max(E_m, 1e-10)) (the
 *   floor only reaches digital silence: 16-bit quantization noise alone is
 *   near 1e-8 per band); orthonormal DCT-II,
 *   c_d = sqrt((d ? 2 : 1) / 40) sum_m L_m cos(pi d (m + 0.5) / 40);
 *   per frame (10 / ln 10) sqrt(2 sum_{d=1..13} (c_d - c'_d)^2) (c0, the
 *   level, is left out), averaged over the frames. mcd_scaled is the same
 *   divided by sqrt(80): it reads roughly as an RMS log-spectral distance in
 *   dB, and is the figure the audio reference tables quote.
 *
 * No function here prints or exits: failures come back as a message. */
#ifndef MMGEN_CLI_AUDIO_QUALITY_H
#define MMGEN_CLI_AUDIO_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#define AUDIO_MEL_BANDS 40
#define AUDIO_MCD_ORDER 13 /* cepstral coefficients c1..c13 */
#define AUDIO_LOG_FLOOR 1e-10

typedef struct audio_quality {
    double snr_db;         /* +inf when identical over the common length */
    double mcd_db;         /* mean per-frame MCD, plain */
    double mcd_scaled_db;  /* mcd_db / sqrt(80) */
    double duration_s;     /* the decoded audio: frames / rate */
    double orig_duration_s;
    int rate;              /* the decoded file's rate, where both are compared */
    int orig_rate;         /* the original's own rate */
    int orig_channels, channels;
    size_t orig_samples;   /* the original at `rate` (after resampling) */
    size_t samples;        /* the decoded file */
    size_t common;         /* min of the two: what SNR and MCD cover */
    size_t mcd_frames;
} audio_quality;

/* Reads `data` (size bytes, any format libsndfile reads) as mono samples
 * (*out, malloc'ed, *n of them) at *rate. `which` names it in messages ("the
 * original"). Returns 0, or -1 with a message in err: unreadable, no
 * samples, a NaN or infinite sample, out of memory. *channels (may be NULL)
 * receives the file's channel count. */
int audio_read_mono(const uint8_t *data, size_t size, const char *which, double **out, size_t *n,
                    int *rate, int *channels, char *err, size_t err_size);

/* Resamples x (n samples at from_rate) to to_rate with libsamplerate's best
 * sinc converter: *out malloc'ed, *out_n samples. Returns 0 or -1 (err). */
int audio_resample(const double *x, size_t n, int from_rate, int to_rate, double **out,
                   size_t *out_n, char *err, size_t err_size);

/* 10 log10(sum x^2 / sum (x - y)^2) over n samples; +inf when x == y. */
double audio_snr_db(const double *x, const double *y, size_t n);

/* c1..c13 of 40 log mel powers through the orthonormal DCT-II. */
void audio_mel_cepstrum(const double log_mel[AUDIO_MEL_BANDS], double cep[AUDIO_MCD_ORDER]);

/* Mean plain MCD (dB) between x and y, n samples each at `rate`, as defined
 * above; *frames receives the frame count. Returns 0, or -1 (err) when n is
 * shorter than one frame, the rate is unusable or memory runs out. */
int audio_mcd(const double *x, const double *y, size_t n, int rate, double *mcd, size_t *frames,
              char *err, size_t err_size);

/* All measures between an original and its decoding, both as samples (mono)
 * at their own rates. Returns 0 or -1 (err). */
int audio_quality_samples(const double *orig, size_t orig_n, int orig_rate, const double *dec,
                          size_t dec_n, int dec_rate, audio_quality *q, char *err,
                          size_t err_size);

/* The same from the two files' bytes. Returns 0 or -1 with a message in
 * err that says which file is at fault. */
int audio_quality_measure(const uint8_t *orig, size_t orig_size, const uint8_t *decoded,
                          size_t decoded_size, audio_quality *q, char *err, size_t err_size);

#endif /* MMGEN_CLI_AUDIO_QUALITY_H */
