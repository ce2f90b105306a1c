/* plugins/audio/griffin_lim.c - a waveform from STFT magnitudes alone.
 *
 * Griffin & Lim (1984) alternate two projections: onto spectrograms with
 * the wanted magnitudes (keep each bin's phase, replace its magnitude) and
 * onto consistent spectrograms (inverse STFT, then STFT again). The fast
 * variant (Perraudin, Balazs & Sondergaard 2013) adds momentum 0.99 to the
 * iterate, which reaches in 32 iterations what the plain one reaches in
 * several hundred. Frames use the analysis window (periodic Hann, n_fft) at
 * hop n_fft/4; the inverse STFT is the least-squares overlap-add (divided by
 * the summed squared window). Phases start from a seeded random draw, so
 * decoding is deterministic. */
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "audio.h"

#define MOMENTUM 0.99f

typedef struct stft_geom {
    const aud_mel *m;
    size_t n, frames;
    int32_t hop;
    float *norm; /* (n) summed squared window at each sample */
    float *buf;  /* (n_fft) scratch */
} stft_geom;

static int64_t frame_start(const stft_geom *g, size_t t) {
    return (int64_t)(t * (size_t)g->hop) - g->m->n_fft / 2;
}

static void istft(const stft_geom *g, fftwf_complex *spec, float *y) {
    const int32_t n_fft = g->m->n_fft;
    memset(y, 0, sizeof(float) * g->n);
    for (size_t t = 0; t < g->frames; t++) {
        /* c2r overwrites its input: give it a copy of the frame */
        fftwf_complex *s = spec + t * (size_t)g->m->n_bins;
        fftwf_execute_dft_c2r((fftwf_plan)g->m->plan_c2r, s, g->buf);
        int64_t s0 = frame_start(g, t);
        for (int32_t i = 0; i < n_fft; i++) {
            int64_t at = s0 + i;
            if (at >= 0 && at < (int64_t)g->n) y[at] += g->buf[i] * g->m->window[i] / (float)n_fft;
        }
    }
    for (size_t j = 0; j < g->n; j++) y[j] = g->norm[j] > 1e-6f ? y[j] / g->norm[j] : 0.0f;
}

static void stft(const stft_geom *g, const float *y, fftwf_complex *spec) {
    const int32_t n_fft = g->m->n_fft;
    for (size_t t = 0; t < g->frames; t++) {
        int64_t s0 = frame_start(g, t);
        for (int32_t i = 0; i < n_fft; i++) {
            int64_t at = s0 + i;
            g->buf[i] = at >= 0 && at < (int64_t)g->n ? y[at] * g->m->window[i] : 0.0f;
        }
        fftwf_execute_dft_r2c((fftwf_plan)g->m->plan_r2c, g->buf, spec + t * (size_t)g->m->n_bins);
    }
}

int aud_griffin_lim(const aud_mel *m, const float *mag, size_t n, int32_t iterations,
                    uint64_t seed, float *x) {
    const int32_t nb = m->n_bins, hop = m->n_fft / 4;
    stft_geom g = {m, n, n / (size_t)hop + 1, hop, NULL, NULL};
    const size_t cells = g.frames * (size_t)nb;
    g.norm = (float *)aud_alloc_array(n ? n : 1, sizeof(float), 1);
    g.buf = (float *)aud_alloc_array((size_t)m->n_fft, sizeof(float), 1);
    fftwf_complex *c = (fftwf_complex *)aud_alloc_array(cells, sizeof(fftwf_complex), 1);
    fftwf_complex *prev = (fftwf_complex *)aud_alloc_array(cells, sizeof(fftwf_complex), 1);
    fftwf_complex *work = (fftwf_complex *)aud_alloc_array(cells, sizeof(fftwf_complex), 1);
    int rc = MMG_OK;
    if (!g.norm || !g.buf || !c || !prev || !work) {
        rc = aud_error(MMG_ERR_NOMEM, "audio: out of memory for Griffin-Lim (%zu frames)", g.frames);
        goto done;
    }
    memset(g.norm, 0, sizeof(float) * n);
    for (size_t t = 0; t < g.frames; t++)
        for (int32_t i = 0; i < m->n_fft; i++) {
            int64_t at = frame_start(&g, t) + i;
            if (at >= 0 && at < (int64_t)n) g.norm[at] += m->window[i] * m->window[i];
        }
    uint64_t rng = seed ^ 0x6A09E667F3BCC908ull;
    for (size_t i = 0; i < cells; i++) {
        double ph = 2.0 * 3.14159265358979323846 * vq_rng_unit(&rng);
        c[i][0] = mag[i] * (float)cos(ph);
        c[i][1] = mag[i] * (float)sin(ph);
    }
    memcpy(prev, c, sizeof(fftwf_complex) * cells);
    /* c: the accelerated iterate t_n; prev: the last projection c_{n-1} */
    for (int32_t it = 0; it < iterations; it++) {
        memcpy(work, c, sizeof(fftwf_complex) * cells);
        istft(&g, work, x);
        stft(&g, x, work);
        for (size_t i = 0; i < cells; i++) {
            float re = work[i][0], im = work[i][1], a = sqrtf(re * re + im * im);
            float pr, pi;
            if (a > 0) {
                pr = mag[i] * re / a;
                pi = mag[i] * im / a;
            } else {
                pr = mag[i];
                pi = 0;
            }
            c[i][0] = pr + MOMENTUM * (pr - prev[i][0]);
            c[i][1] = pi + MOMENTUM * (pi - prev[i][1]);
            prev[i][0] = pr;
            prev[i][1] = pi;
        }
    }
    istft(&g, prev, x);
done:
    aud_free(g.norm);
    aud_free(g.buf);
    aud_free(c);
    aud_free(prev);
    aud_free(work);
    return rc;
}
