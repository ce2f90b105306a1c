/* plugins/audio/mel.c - log-mel analysis for the learned codec, and its
 * inverse to a power spectrum.
 *
 * A frame is n_fft samples (the next power of two >= window_ms) under a
 * periodic Hann window; its power spectrum |FFT|^2 (FFTW, real to complex)
 * is summed by n_mels triangular filters spaced evenly on the HTK mel scale
 * (2595 log10(1 + f/700)) from 0 Hz to Nyquist, and the log is taken with a
 * floor (AUD_LOG_FLOOR). The inverse cannot restore the detail the filters
 * summed away; it gives the smoothest spectrum with the same band powers
 * that a band-limited envelope would have: each band's power spread evenly
 * over its filter's weight, interpolated linearly in log power between band
 * centers.
 *
 * FFTW's planner is not thread-safe, so plans are made under one lock; they
 * are made for unaligned arrays and run with the new-array interface, which
 * is, so instances may analyse on several threads at once. */
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "audio.h"

#define AUD_PI 3.14159265358979323846

static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

void aud_mel_free(aud_mel *m) {
    pthread_mutex_lock(&planner_lock);
    if (m->plan_r2c) fftwf_destroy_plan((fftwf_plan)m->plan_r2c);
    if (m->plan_c2r) fftwf_destroy_plan((fftwf_plan)m->plan_c2r);
    pthread_mutex_unlock(&planner_lock);
    aud_free(m->window);
    aud_free(m->fb);
    aud_free(m->center);
    aud_free(m->band_sum);
    memset(m, 0, sizeof *m);
}

int aud_mel_init(aud_mel *m, int32_t rate, int32_t window_ms, int32_t n_mels) {
    memset(m, 0, sizeof *m);
    int32_t want = (int32_t)((int64_t)rate * window_ms / 1000), n_fft = 16;
    while (n_fft < want) n_fft *= 2;
    m->rate = rate;
    m->n_fft = n_fft;
    m->n_bins = n_fft / 2 + 1;
    m->n_mels = n_mels;
    m->window = (float *)aud_alloc_array((size_t)n_fft, sizeof(float), 1);
    m->fb = (float *)aud_alloc_array((size_t)n_mels, (size_t)m->n_bins, sizeof(float));
    m->center = (float *)aud_alloc_array((size_t)n_mels, sizeof(float), 1);
    m->band_sum = (float *)aud_alloc_array((size_t)n_mels, sizeof(float), 1);
    float *in = (float *)aud_alloc_array((size_t)n_fft, sizeof(float), 1);
    fftwf_complex *spec = (fftwf_complex *)aud_alloc_array((size_t)m->n_bins, sizeof(fftwf_complex), 1);
    int rc = MMG_OK;
    if (!m->window || !m->fb || !m->center || !m->band_sum || !in || !spec) {
        rc = aud_error(MMG_ERR_NOMEM, "audio: out of memory for the mel analysis");
        goto done;
    }
    for (int32_t i = 0; i < n_fft; i++)
        m->window[i] = (float)(0.5 - 0.5 * cos(2.0 * AUD_PI * i / n_fft));
    memset(m->fb, 0, sizeof(float) * (size_t)n_mels * m->n_bins);
    double top = hz_to_mel(rate / 2.0);
    for (int32_t b = 0; b < n_mels; b++) {
        double lo = mel_to_hz(top * b / (n_mels + 1)), mid = mel_to_hz(top * (b + 1) / (n_mels + 1)),
               hi = mel_to_hz(top * (b + 2) / (n_mels + 1));
        double sum = 0;
        for (int32_t k = 0; k < m->n_bins; k++) {
            double f = (double)k * rate / n_fft, w = 0;
            if (f > lo && f <= mid) w = (f - lo) / (mid - lo);
            else if (f > mid && f < hi) w = (hi - f) / (hi - mid);
            m->fb[(size_t)b * m->n_bins + k] = (float)w;
            sum += w;
        }
        if (sum <= 0) {
            rc = aud_error(MMG_ERR_CONFIG, "audio config: n_mels %d is too many for a %d-point FFT "
                           "at %d Hz (mel band %d covers no frequency bin); lower n_mels or raise "
                           "window_ms", n_mels, n_fft, rate, b);
            goto done;
        }
        m->band_sum[b] = (float)sum;
        m->center[b] = (float)(mid * n_fft / rate);
    }
    pthread_mutex_lock(&planner_lock);
    m->plan_r2c = fftwf_plan_dft_r2c_1d(n_fft, in, spec, FFTW_ESTIMATE | FFTW_UNALIGNED);
    m->plan_c2r = fftwf_plan_dft_c2r_1d(n_fft, spec, in, FFTW_ESTIMATE | FFTW_UNALIGNED);
    pthread_mutex_unlock(&planner_lock);
    if (!m->plan_r2c || !m->plan_c2r)
        rc = aud_error(MMG_ERR_INTERNAL, "audio: FFTW cannot plan a %d-point FFT", n_fft);
done:
    aud_free(in);
    aud_free(spec);
    if (rc != MMG_OK) aud_mel_free(m);
    return rc;
}

int aud_mel_analyze(const aud_mel *m, const float *x, size_t n, int32_t hop, size_t n_frames,
                    float *out) {
    const int32_t n_fft = m->n_fft, nb = m->n_bins;
    float *buf = (float *)aud_alloc_array((size_t)n_fft, sizeof(float), 1);
    float *pow2 = (float *)aud_alloc_array((size_t)nb, sizeof(float), 1);
    fftwf_complex *spec = (fftwf_complex *)aud_alloc_array((size_t)nb, sizeof(fftwf_complex), 1);
    if (!buf || !pow2 || !spec) {
        aud_free(buf);
        aud_free(pow2);
        aud_free(spec);
        return aud_error(MMG_ERR_NOMEM, "audio: out of memory for the mel analysis");
    }
    for (size_t f = 0; f < n_frames; f++) {
        /* centered at (f + 0.5) * hop: the frame's samples, zeros outside */
        int64_t start = (int64_t)(f * (size_t)hop) + hop / 2 - n_fft / 2;
        for (int32_t i = 0; i < n_fft; i++) {
            int64_t at = start + i;
            buf[i] = at >= 0 && at < (int64_t)n ? x[at] * m->window[i] : 0.0f;
        }
        fftwf_execute_dft_r2c((fftwf_plan)m->plan_r2c, buf, spec);
        for (int32_t k = 0; k < nb; k++) pow2[k] = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
        float *o = out + f * (size_t)m->n_mels;
        for (int32_t b = 0; b < m->n_mels; b++) {
            const float *w = m->fb + (size_t)b * nb;
            double s = 0;
            for (int32_t k = 0; k < nb; k++) s += (double)w[k] * pow2[k];
            o[b] = logf(s > AUD_LOG_FLOOR ? (float)s : AUD_LOG_FLOOR);
        }
    }
    aud_free(buf);
    aud_free(pow2);
    aud_free(spec);
    return MMG_OK;
}

void aud_mel_to_power(const aud_mel *m, const float *log_mel, float *out) {
    const int32_t nm = m->n_mels;
    int32_t b = 0;
    for (int32_t k = 0; k < m->n_bins; k++) {
        /* log power density of band b: log(M_b / sum of its weights) */
        while (b + 1 < nm && m->center[b + 1] <= (float)k) b++;
        float d0 = log_mel[b] - logf(m->band_sum[b]), v;
        if ((float)k <= m->center[0] || b + 1 >= nm) {
            v = (float)k <= m->center[0] ? log_mel[0] - logf(m->band_sum[0]) : d0;
        } else {
            float d1 = log_mel[b + 1] - logf(m->band_sum[b + 1]);
            float t = ((float)k - m->center[b]) / (m->center[b + 1] - m->center[b]);
            v = d0 + t * (d1 - d0);
        }
        out[k] = expf(v);
    }
}
