/* cli/audio_quality.c - SNR and mel-cepstral distortion of a decoded audio
 * file against its original, through libsndfile, libsamplerate and FFTW
 * (definitions in audio_quality.h). */
#include "audio_quality.h"

#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* M_PI is not in strict C11 */
#define AQ_PI 3.14159265358979323846

static void set_err(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_size, const char *fmt, ...) {
    if (!err || !err_size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* ---- reading from memory ---------------------------------------------------- */

typedef struct mem_file {
    const uint8_t *data;
    sf_count_t size, pos;
} mem_file;

static sf_count_t mem_length(void *user) { return ((mem_file *)user)->size; }

static sf_count_t mem_seek(sf_count_t offset, int whence, void *user) {
    mem_file *m = user;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
    sf_count_t to = base + offset;
    if (to < 0 || to > m->size) return -1;
    m->pos = to;
    return m->pos;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *user) {
    mem_file *m = user;
    if (count < 0) return 0;
    sf_count_t left = m->size - m->pos;
    if (count > left) count = left;
    memcpy(ptr, m->data + m->pos, (size_t)count);
    m->pos += count;
    return count;
}

/* Read-only: libsndfile wants the entry, never calls it in SFM_READ. */
static sf_count_t mem_write(const void *ptr, sf_count_t count, void *user) { return 0; }

static sf_count_t mem_tell(void *user) { return ((mem_file *)user)->pos; }

int audio_read_mono(const uint8_t *data, size_t size, const char *which, double **out, size_t *n,
                    int *rate, int *channels, char *err, size_t err_size) {
    if (!data || size == 0) {
        set_err(err, err_size, "%s is empty", which);
        return -1;
    }
    SF_VIRTUAL_IO io = {mem_length, mem_seek, mem_read, mem_write, mem_tell};
    mem_file mf = {data, (sf_count_t)size, 0};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open_virtual(&io, SFM_READ, &info, &mf);
    if (!sf) {
        set_err(err, err_size, "%s is not in a format libsndfile reads: %s", which, sf_strerror(NULL));
        return -1;
    }
    int rc = -1;
    double *mono = NULL, *chunk = NULL;
    if (info.samplerate <= 0 || info.channels <= 0) {
        set_err(err, err_size, "%s declares %d channels at %d Hz", which, info.channels, info.samplerate);
        goto done;
    }
    /* Grow as frames arrive rather than trusting the header's count, which
     * some formats leave unknown and a truncated file overstates. */
    enum { CHUNK = 4096 };
    size_t ch = (size_t)info.channels, cap = 0, got = 0;
    chunk = malloc(CHUNK * ch * sizeof *chunk);
    if (!chunk) {
        set_err(err, err_size, "reading %s: out of memory", which);
        goto done;
    }
    for (;;) {
        sf_count_t k = sf_readf_double(sf, chunk, CHUNK);
        if (k <= 0) break;
        if (got + (size_t)k > cap) {
            size_t ncap = cap ? cap * 2 : (size_t)CHUNK * 4;
            while (ncap < got + (size_t)k) ncap *= 2;
            double *nm = ncap > SIZE_MAX / sizeof *nm ? NULL : realloc(mono, ncap * sizeof *nm);
            if (!nm) {
                set_err(err, err_size, "reading %s: out of memory", which);
                goto done;
            }
            mono = nm, cap = ncap;
        }
        for (sf_count_t f = 0; f < k; f++) {
            double s = 0;
            for (size_t c = 0; c < ch; c++) {
                double v = chunk[(size_t)f * ch + c];
                if (!isfinite(v)) {
                    set_err(err, err_size, "%s has a %s sample (frame %zu, channel %zu)", which,
                            isnan(v) ? "NaN" : "infinite", got + (size_t)f, c);
                    goto done;
                }
                s += v;
            }
            mono[got + (size_t)f] = s / (double)ch;
        }
        got += (size_t)k;
    }
    if (sf_error(sf) != SF_ERR_NO_ERROR) {
        set_err(err, err_size, "reading %s: %s", which, sf_strerror(sf));
        goto done;
    }
    if (got == 0) {
        set_err(err, err_size, "%s has no samples", which);
        goto done;
    }
    *out = mono;
    mono = NULL;
    *n = got;
    *rate = info.samplerate;
    if (channels) *channels = info.channels;
    rc = 0;
done:
    free(mono);
    free(chunk);
    sf_close(sf);
    return rc;
}

/* ---- resampling ----------------------------------------------------------- */

int audio_resample(const double *x, size_t n, int from_rate, int to_rate, double **out,
                   size_t *out_n, char *err, size_t err_size) {
    double ratio = (double)to_rate / (double)from_rate;
    if (from_rate <= 0 || to_rate <= 0 || !src_is_valid_ratio(ratio)) {
        set_err(err, err_size, "cannot resample %d Hz to %d Hz (libsamplerate takes ratios 1/256 to 256)",
                from_rate, to_rate);
        return -1;
    }
    if (n > (size_t)LONG_MAX / 512) {
        set_err(err, err_size, "cannot resample %zu samples: too long", n);
        return -1;
    }
    size_t cap = (size_t)ceil((double)n * ratio) + 16;
    float *in = malloc(n * sizeof *in), *res = malloc(cap * sizeof *res);
    double *y = malloc(cap * sizeof *y);
    int rc = -1;
    if (!in || !res || !y) {
        set_err(err, err_size, "resampling: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) in[i] = (float)x[i];
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = in;
    d.input_frames = (long)n;
    d.data_out = res;
    d.output_frames = (long)cap;
    d.src_ratio = ratio;
    int e = src_simple(&d, SRC_SINC_BEST_QUALITY, 1);
    if (e) {
        set_err(err, err_size, "resampling %d Hz to %d Hz: %s", from_rate, to_rate, src_strerror(e));
        goto done;
    }
    for (long i = 0; i < d.output_frames_gen; i++) y[i] = res[i];
    *out = y;
    y = NULL;
    *out_n = (size_t)d.output_frames_gen;
    rc = 0;
done:
    free(in);
    free(res);
    free(y);
    return rc;
}

/* ---- SNR and MCD ------------------------------------------------------------ */

double audio_snr_db(const double *x, const double *y, size_t n) {
    double sig = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - y[i];
        sig += x[i] * x[i];
        err += d * d;
    }
    if (err == 0) return INFINITY;
    if (sig == 0) return -INFINITY;
    return 10.0 * log10(sig / err);
}

void audio_mel_cepstrum(const double log_mel[AUDIO_MEL_BANDS], double cep[AUDIO_MCD_ORDER]) {
    const int m_n = AUDIO_MEL_BANDS;
    double scale = sqrt(2.0 / m_n);
    for (int d = 1; d <= AUDIO_MCD_ORDER; d++) {
        double s = 0;
        for (int m = 0; m < m_n; m++) s += log_mel[m] * cos(AQ_PI * d * (m + 0.5) / m_n);
        cep[d - 1] = scale * s;
    }
}

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

/* The MCD's fixed analysis: window, filterbank, FFT plan and buffers. */
typedef struct mcd_setup {
    int len, hop, nfft, bins;
    double *window; /* (len) */
    double *fbank;  /* (AUDIO_MEL_BANDS, bins) */
    float *frame;   /* (nfft), FFTW-aligned */
    fftwf_complex *spec; /* (bins) */
    fftwf_plan plan;
    double *power;  /* (bins) */
} mcd_setup;

static void mcd_setup_free(mcd_setup *s) {
    if (s->plan) fftwf_destroy_plan(s->plan);
    fftwf_free(s->frame);
    fftwf_free(s->spec);
    free(s->window);
    free(s->fbank);
    free(s->power);
}

static int mcd_setup_init(mcd_setup *s, int rate) {
    memset(s, 0, sizeof *s);
    s->len = (int)floor(0.025 * rate + 0.5);
    s->hop = (int)floor(0.010 * rate + 0.5);
    s->nfft = 1;
    while (s->nfft < s->len) s->nfft *= 2;
    s->bins = s->nfft / 2 + 1;
    s->window = malloc((size_t)s->len * sizeof *s->window);
    s->fbank = calloc((size_t)AUDIO_MEL_BANDS * (size_t)s->bins, sizeof *s->fbank);
    s->power = malloc((size_t)s->bins * sizeof *s->power);
    s->frame = fftwf_malloc((size_t)s->nfft * sizeof *s->frame);
    s->spec = fftwf_malloc((size_t)s->bins * sizeof *s->spec);
    if (!s->window || !s->fbank || !s->power || !s->frame || !s->spec) return -1;
    /* FFTW_ESTIMATE plans without timing trial runs; the transforms are tiny */
    s->plan = fftwf_plan_dft_r2c_1d(s->nfft, s->frame, s->spec, FFTW_ESTIMATE);
    if (!s->plan) return -1;
    for (int i = 0; i < s->len; i++)
        s->window[i] = s->len > 1 ? 0.54 - 0.46 * cos(2.0 * AQ_PI * i / (s->len - 1)) : 1.0;
    double edges[AUDIO_MEL_BANDS + 2], top = hz_to_mel(rate / 2.0);
    for (int i = 0; i < AUDIO_MEL_BANDS + 2; i++) edges[i] = mel_to_hz(top * i / (AUDIO_MEL_BANDS + 1));
    for (int m = 0; m < AUDIO_MEL_BANDS; m++) {
        double lo = edges[m], mid = edges[m + 1], hi = edges[m + 2];
        for (int k = 0; k < s->bins; k++) {
            double f = (double)k * rate / s->nfft;
            double w = fmin((f - lo) / (mid - lo), (hi - f) / (hi - mid));
            s->fbank[(size_t)m * s->bins + k] = w > 0 ? w : 0;
        }
    }
    return 0;
}

/* c1..c13 of the frame of x starting at `start`. */
static void frame_cepstrum(mcd_setup *s, const double *x, size_t start, double cep[AUDIO_MCD_ORDER]) {
    for (int i = 0; i < s->len; i++) s->frame[i] = (float)(x[start + (size_t)i] * s->window[i]);
    for (int i = s->len; i < s->nfft; i++) s->frame[i] = 0;
    fftwf_execute(s->plan);
    for (int k = 0; k < s->bins; k++) {
        double re = s->spec[k][0], im = s->spec[k][1];
        s->power[k] = re * re + im * im;
    }
    double log_mel[AUDIO_MEL_BANDS];
    for (int m = 0; m < AUDIO_MEL_BANDS; m++) {
        const double *w = s->fbank + (size_t)m * s->bins;
        double e = 0;
        for (int k = 0; k < s->bins; k++) e += w[k] * s->power[k];
        log_mel[m] = log(e > AUDIO_LOG_FLOOR ? e : AUDIO_LOG_FLOOR);
    }
    audio_mel_cepstrum(log_mel, cep);
}

int audio_mcd(const double *x, const double *y, size_t n, int rate, double *mcd, size_t *frames,
              char *err, size_t err_size) {
    /* 2 samples per 10 ms is the least rate where a frame and hop exist */
    if (rate < 200 || rate > 10000000) {
        set_err(err, err_size, "cannot compute MCD at %d Hz", rate);
        return -1;
    }
    mcd_setup s;
    if (mcd_setup_init(&s, rate) != 0) {
        mcd_setup_free(&s);
        set_err(err, err_size, "MCD: out of memory");
        return -1;
    }
    if (n < (size_t)s.len) {
        set_err(err, err_size, "the common length, %zu samples (%.1f ms), is shorter than one 25 ms "
                "MCD frame", n, 1000.0 * (double)n / rate);
        mcd_setup_free(&s);
        return -1;
    }
    const double k = 10.0 / log(10.0);
    double sum = 0;
    size_t count = 0;
    for (size_t start = 0; start + (size_t)s.len <= n; start += (size_t)s.hop, count++) {
        double a[AUDIO_MCD_ORDER], b[AUDIO_MCD_ORDER], d2 = 0;
        frame_cepstrum(&s, x, start, a);
        frame_cepstrum(&s, y, start, b);
        for (int d = 0; d < AUDIO_MCD_ORDER; d++) d2 += (a[d] - b[d]) * (a[d] - b[d]);
        sum += k * sqrt(2.0 * d2);
    }
    mcd_setup_free(&s);
    *mcd = sum / (double)count;
    *frames = count;
    return 0;
}

int audio_quality_samples(const double *orig, size_t orig_n, int orig_rate, const double *dec,
                          size_t dec_n, int dec_rate, audio_quality *q, char *err,
                          size_t err_size) {
    if (orig_n == 0 || dec_n == 0) {
        set_err(err, err_size, "%s has no samples", orig_n == 0 ? "the original" : "the decoded audio");
        return -1;
    }
    if (orig_rate <= 0 || dec_rate <= 0) {
        set_err(err, err_size, "sample rates %d Hz and %d Hz", orig_rate, dec_rate);
        return -1;
    }
    double *res = NULL;
    size_t res_n = orig_n;
    const double *x = orig;
    if (orig_rate != dec_rate) {
        if (audio_resample(orig, orig_n, orig_rate, dec_rate, &res, &res_n, err, err_size) != 0) return -1;
        if (res_n == 0) {
            free(res);
            set_err(err, err_size, "the original has no samples at %d Hz", dec_rate);
            return -1;
        }
        x = res;
    }
    audio_quality r;
    memset(&r, 0, sizeof r);
    r.rate = dec_rate;
    r.orig_rate = orig_rate;
    r.orig_channels = r.channels = 1;
    r.duration_s = (double)dec_n / dec_rate;
    r.orig_duration_s = (double)orig_n / orig_rate;
    r.orig_samples = res_n;
    r.samples = dec_n;
    r.common = res_n < dec_n ? res_n : dec_n;
    r.snr_db = audio_snr_db(x, dec, r.common);
    int rc = audio_mcd(x, dec, r.common, dec_rate, &r.mcd_db, &r.mcd_frames, err, err_size);
    free(res);
    if (rc != 0) return -1;
    r.mcd_scaled_db = r.mcd_db / sqrt(80.0);
    *q = r;
    return 0;
}

int audio_quality_measure(const uint8_t *orig, size_t orig_size, const uint8_t *decoded,
                          size_t decoded_size, audio_quality *q, char *err, size_t err_size) {
    double *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    int ra = 0, rb = 0, ca = 0, cb = 0;
    if (audio_read_mono(orig, orig_size, "the original", &a, &na, &ra, &ca, err, err_size) != 0) return -1;
    if (audio_read_mono(decoded, decoded_size, "the decoded audio", &b, &nb, &rb, &cb, err, err_size) != 0) {
        free(a);
        return -1;
    }
    audio_quality r;
    int rc = audio_quality_samples(a, na, ra, b, nb, rb, &r, err, err_size);
    free(a);
    free(b);
    if (rc != 0) return -1;
    r.orig_channels = ca;
    r.channels = cb;
    *q = r;
    return 0;
}
