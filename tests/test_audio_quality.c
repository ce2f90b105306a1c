/* tests/test_audio_quality.c - the audio measures of `mmgen tokenizer eval`
 * (cli/audio_quality.c): SNR and mel-cepstral distortion.
 *
 * Pure cases with known answers: identical signals (SNR +inf, MCD 0), a gain
 * g (SNR -20 log10|1 - g|; MCD 0, since a gain moves only c0, which MCD
 * leaves out), a cosine across the 40 log mel bands (exactly one cepstral
 * coefficient, sqrt(20) times its amplitude); files read through libsndfile
 * (stereo mixed to the mean, float WAV, a tone resampled from 8 to 16 kHz
 * against the same tone made at 16 kHz) and every malformed input as an
 * error message. The suite `reference` compares with the independent numpy
 * implementation (tests/audio_quality_ref.py) on the pairs listed in the file
 * $MMGEN_AUDIO_QUALITY_REF; tests/check_audio_quality.sh makes the sounds
 * with sox and runs it, and it skips without that variable. */
#include <criterion/criterion.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio_quality.h"

#define PI 3.14159265358979323846

/* A reproducible speech-like test signal: a few partials gliding in pitch
 * plus a little LCG noise, so every mel band has energy. */
static double *test_signal(size_t n, int rate, unsigned seed) {
    double *x = malloc(n * sizeof *x);
    cr_assert(x);
    uint32_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / rate, f0 = 120.0 + 80.0 * t, v = 0;
        for (int h = 1; h <= 12; h++) v += sin(2 * PI * f0 * h * t + h) / h;
        s = s * 1664525u + 1013904223u;
        x[i] = 0.2 * v + 0.01 * ((double)(s >> 8) / (1 << 24) - 0.5);
    }
    return x;
}

/* Bytes of a sound file written by libsndfile (through a temporary file). */
static uint8_t *sound_bytes(const double *x, size_t frames, int channels, int rate, int format,
                            size_t *size) {
    char path[] = "/tmp/mmgen_test_audio_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    SF_INFO info = {0};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    cr_assert(sf, "sf_open: %s", sf_strerror(NULL));
    if (frames) cr_assert_eq(sf_writef_double(sf, x, (sf_count_t)frames), (sf_count_t)frames);
    sf_close(sf);
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)len);
    cr_assert(data && fread(data, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    unlink(path);
    *size = (size_t)len;
    return data;
}

Test(audio_quality, identical_signals_have_infinite_snr_and_zero_mcd) {
    size_t n = 8000;
    double *x = test_signal(n, 8000, 1);
    audio_quality q;
    char err[256] = "";
    cr_assert_eq(audio_quality_samples(x, n, 8000, x, n, 8000, &q, err, sizeof err), 0, "%s", err);
    cr_assert(isinf(q.snr_db) && q.snr_db > 0, "SNR %g", q.snr_db);
    cr_assert_eq(q.mcd_db, 0.0);
    cr_assert_float_eq(q.duration_s, 1.0, 1e-12);
    /* 25 ms frames, 10 ms hop at 8 kHz: 200 and 80 samples */
    cr_assert_eq(q.mcd_frames, (8000 - 200) / 80 + 1);
    free(x);
}

Test(audio_quality, a_gain_gives_its_snr_and_no_mcd) {
    size_t n = 12000;
    double *x = test_signal(n, 8000, 2), *y = malloc(n * sizeof *y);
    cr_assert(y);
    const double gains[] = {0.5, 0.9, 1.25, -1.0};
    for (int g = 0; g < 4; g++) {
        for (size_t i = 0; i < n; i++) y[i] = gains[g] * x[i];
        double want = -20.0 * log10(fabs(1.0 - gains[g]));
        cr_assert_float_eq(audio_snr_db(x, y, n), want, 1e-9, "gain %g", gains[g]);
        double mcd;
        size_t frames;
        char err[256] = "";
        cr_assert_eq(audio_mcd(x, y, n, 8000, &mcd, &frames, err, sizeof err), 0, "%s", err);
        /* a gain adds 2 ln|g| to every log mel power: c0 only */
        cr_assert_lt(mcd, 1e-3, "gain %g: MCD %g", gains[g], mcd);
    }
    /* while a different sound is far away */
    double *z = test_signal(n, 8000, 3), mcd;
    for (size_t i = 0; i < n; i++) z[i] = 0.3 * sin(2 * PI * 1500.0 * (double)i / 8000);
    size_t frames;
    cr_assert_eq(audio_mcd(x, z, n, 8000, &mcd, &frames, NULL, 0), 0);
    cr_assert_gt(mcd, 10.0, "a tone against speech-like sound: MCD %g", mcd);
    free(x);
    free(y);
    free(z);
}

Test(audio_quality, the_cepstrum_is_the_orthonormal_dct) {
    for (int d = 1; d <= AUDIO_MCD_ORDER; d++) {
        double lm[AUDIO_MEL_BANDS], c[AUDIO_MCD_ORDER];
        for (int m = 0; m < AUDIO_MEL_BANDS; m++) lm[m] = 5.0 + 0.7 * cos(PI * d * (m + 0.5) / AUDIO_MEL_BANDS);
        audio_mel_cepstrum(lm, c);
        for (int e = 1; e <= AUDIO_MCD_ORDER; e++)
            cr_assert_float_eq(c[e - 1], e == d ? 0.7 * sqrt(AUDIO_MEL_BANDS / 2.0) : 0.0, 1e-12,
                               "basis %d: c%d = %g", d, e, c[e - 1]);
    }
}

Test(audio_quality, the_mcd_of_one_frame_follows_the_formula) {
    /* one 25 ms frame at 8 kHz; y = x plus a constant-free change: compare
     * audio_mcd with the formula applied to the frames' own cepstra, built
     * here from a direct DFT rather than FFTW */
    size_t n = 200;
    int rate = 8000, nfft = 256;
    double *x = test_signal(n, rate, 4), *y = test_signal(n, rate, 5);
    double cx[AUDIO_MCD_ORDER], cy[AUDIO_MCD_ORDER];
    for (int which = 0; which < 2; which++) {
        const double *s = which ? y : x;
        double power[129], lm[AUDIO_MEL_BANDS], edges[AUDIO_MEL_BANDS + 2];
        for (int k = 0; k <= nfft / 2; k++) {
            double re = 0, im = 0;
            for (size_t i = 0; i < n; i++) {
                double w = 0.54 - 0.46 * cos(2 * PI * (double)i / (double)(n - 1));
                re += s[i] * w * cos(2 * PI * k * (double)i / nfft);
                im -= s[i] * w * sin(2 * PI * k * (double)i / nfft);
            }
            power[k] = re * re + im * im;
        }
        double top = 2595.0 * log10(1.0 + rate / 2.0 / 700.0);
        for (int i = 0; i < AUDIO_MEL_BANDS + 2; i++)
            edges[i] = 700.0 * (pow(10.0, top * i / (AUDIO_MEL_BANDS + 1) / 2595.0) - 1.0);
        for (int m = 0; m < AUDIO_MEL_BANDS; m++) {
            double e = 0;
            for (int k = 0; k <= nfft / 2; k++) {
                double f = (double)k * rate / nfft;
                double w = fmin((f - edges[m]) / (edges[m + 1] - edges[m]),
                                (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]));
                if (w > 0) e += w * power[k];
            }
            lm[m] = log(fmax(e, AUDIO_LOG_FLOOR));
        }
        audio_mel_cepstrum(lm, which ? cy : cx);
    }
    double d2 = 0;
    for (int d = 0; d < AUDIO_MCD_ORDER; d++) d2 += (cx[d] - cy[d]) * (cx[d] - cy[d]);
    double want = 10.0 / log(10.0) * sqrt(2.0 * d2), mcd;
    size_t frames;
    char err[256] = "";
    cr_assert_eq(audio_mcd(x, y, n, rate, &mcd, &frames, err, sizeof err), 0, "%s", err);
    cr_assert_eq(frames, 1);
    cr_assert_float_eq(mcd, want, 1e-4 * want, "FFTW path %.6f, direct DFT %.6f", mcd, want);
    free(x);
    free(y);
}

Test(audio_quality, stereo_is_mixed_to_the_mean_and_float_wav_is_read) {
    size_t n = 4000;
    double *l = test_signal(n, 8000, 6), *r = test_signal(n, 8000, 7);
    double *st = malloc(2 * n * sizeof *st), *mono = malloc(n * sizeof *mono);
    cr_assert(st && mono);
    for (size_t i = 0; i < n; i++) {
        /* values exact in float, so the float file holds them as given */
        st[2 * i] = (float)l[i], st[2 * i + 1] = (float)r[i];
        mono[i] = (st[2 * i] + st[2 * i + 1]) / 2;
    }
    size_t sa, sb;
    uint8_t *a = sound_bytes(st, n, 2, 8000, SF_FORMAT_WAV | SF_FORMAT_FLOAT, &sa);
    uint8_t *b = sound_bytes(mono, n, 1, 8000, SF_FORMAT_WAV | SF_FORMAT_DOUBLE, &sb);
    audio_quality q;
    char err[256] = "";
    cr_assert_eq(audio_quality_measure(a, sa, b, sb, &q, err, sizeof err), 0, "%s", err);
    cr_assert(isinf(q.snr_db), "SNR %g", q.snr_db);
    cr_assert_eq(q.mcd_db, 0.0);
    cr_assert_eq(q.orig_channels, 2);
    cr_assert_eq(q.channels, 1);
    free(b);
    /* a float WAV of 0.9 x: SNR 20 dB (float rounding aside) */
    for (size_t i = 0; i < n; i++) mono[i] *= 0.9;
    b = sound_bytes(mono, n, 1, 8000, SF_FORMAT_WAV | SF_FORMAT_FLOAT, &sb);
    cr_assert_eq(audio_quality_measure(a, sa, b, sb, &q, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(q.snr_db, 20.0, 1e-4, "SNR %g", q.snr_db);
    free(a);
    free(b);
    free(l);
    free(r);
    free(st);
    free(mono);
}

Test(audio_quality, the_original_is_resampled_to_the_decoded_rate) {
    size_t n8 = 8000, n16 = 16000;
    double *a = malloc(n8 * sizeof *a), *b = malloc(n16 * sizeof *b);
    cr_assert(a && b);
    for (size_t i = 0; i < n8; i++) a[i] = 0.5 * sin(2 * PI * 440.0 * (double)i / 8000);
    for (size_t i = 0; i < n16; i++) b[i] = 0.5 * sin(2 * PI * 440.0 * (double)i / 16000);
    audio_quality q;
    char err[256] = "";
    cr_assert_eq(audio_quality_samples(a, n8, 8000, b, n16, 16000, &q, err, sizeof err), 0, "%s", err);
    cr_assert_eq(q.rate, 16000);
    cr_assert_eq(q.orig_rate, 8000);
    cr_assert_float_eq(q.duration_s, 1.0, 1e-12);
    cr_assert(q.orig_samples >= 15990 && q.orig_samples <= 16010, "%zu samples at 16 kHz", q.orig_samples);
    /* the resampler's own ripple at the ends bounds this, not the definition */
    cr_assert_gt(q.snr_db, 40.0, "a 440 Hz tone resampled 8 -> 16 kHz: SNR %g dB", q.snr_db);
    cr_assert_lt(q.mcd_scaled_db, 0.5, "MCD %g", q.mcd_scaled_db);
    /* the other way round gives a delayed or wrong signal no credit */
    for (size_t i = 0; i < n16; i++) b[i] = 0.5 * sin(2 * PI * 440.0 * ((double)i / 16000 - 0.01));
    cr_assert_eq(audio_quality_samples(a, n8, 8000, b, n16, 16000, &q, err, sizeof err), 0, "%s", err);
    cr_assert_lt(q.snr_db, 3.0, "a 10 ms delay: SNR %g dB", q.snr_db);
    free(a);
    free(b);
}

Test(audio_quality, bad_inputs_are_errors_with_a_message) {
    char err[256];
    audio_quality q;
    size_t n = 4000, s0, s1, s2, s3;
    double *x = test_signal(n, 8000, 8);
    uint8_t *good = sound_bytes(x, n, 1, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16, &s0);
    uint8_t *empty = sound_bytes(x, 0, 1, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16, &s1);
    x[1234] = NAN;
    uint8_t *nan = sound_bytes(x, n, 1, 8000, SF_FORMAT_WAV | SF_FORMAT_FLOAT, &s2);
    uint8_t *tiny = sound_bytes(x, 100, 1, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16, &s3);
    static const uint8_t junk[] = "this is not a sound file at all, just some text";

    cr_assert_eq(audio_quality_measure(good, s0, junk, sizeof junk, &q, err, sizeof err), -1);
    cr_assert(strstr(err, "the decoded audio is not in a format libsndfile reads"), "%s", err);
    cr_assert_eq(audio_quality_measure(junk, sizeof junk, good, s0, &q, err, sizeof err), -1);
    cr_assert(strstr(err, "the original is not in a format libsndfile reads"), "%s", err);
    cr_assert_eq(audio_quality_measure(good, s0, empty, s1, &q, err, sizeof err), -1);
    cr_assert(strstr(err, "the decoded audio has no samples"), "%s", err);
    cr_assert_eq(audio_quality_measure(good, s0, nan, s2, &q, err, sizeof err), -1);
    cr_assert(strstr(err, "NaN") && strstr(err, "frame 1234"), "%s", err);
    cr_assert_eq(audio_quality_measure(good, s0, tiny, s3, &q, err, sizeof err), -1);
    cr_assert(strstr(err, "shorter than one 25 ms"), "%s", err);
    cr_assert_eq(audio_quality_measure(good, s0, NULL, 0, &q, err, sizeof err), -1);
    cr_assert(strstr(err, "empty"), "%s", err);
    /* truncated in the middle of the header */
    cr_assert_eq(audio_quality_measure(good, s0, good, 20, &q, err, sizeof err), -1);
    cr_assert(strstr(err, "the decoded audio"), "%s", err);
    /* rates libsamplerate cannot bridge */
    double *r = NULL;
    size_t rn;
    cr_assert_eq(audio_resample(x, 100, 8000, 8000 * 300, &r, &rn, err, sizeof err), -1);
    cr_assert(strstr(err, "cannot resample"), "%s", err);
    free(good);
    free(empty);
    free(nan);
    free(tiny);
    free(x);
}

/* ---- against the numpy reference ------------------------------------------ */

static uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)len + 1);
    cr_assert(d && fread(d, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    *size = (size_t)len;
    return d;
}

/* Each line of $MMGEN_AUDIO_QUALITY_REF: original, decoded, SNR (dB or inf),
 * MCD, scaled MCD, frame count (-1: not compared), SNR tolerance in dB, MCD
 * relative tolerance; tab-separated, written by audio_quality_ref.py. */
Test(reference, c_matches_numpy) {
    const char *list = getenv("MMGEN_AUDIO_QUALITY_REF");
    if (!list) cr_skip_test("MMGEN_AUDIO_QUALITY_REF not set (tests/check_audio_quality.sh sets it)");
    FILE *f = fopen(list, "r");
    cr_assert(f, "cannot open %s", list);
    char line[4096];
    int pairs = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        char a[1024], b[1024], snr_s[64];
        double mcd, mcd_s, snr_tol, mcd_tol;
        long frames;
        if (sscanf(line, "%1023[^\t]\t%1023[^\t]\t%63[^\t]\t%lf\t%lf\t%ld\t%lf\t%lf", a, b, snr_s, &mcd,
                   &mcd_s, &frames, &snr_tol, &mcd_tol) != 8)
            cr_assert_fail("malformed line in %s: %s", list, line);
        double snr = strcmp(snr_s, "inf") ? strtod(snr_s, NULL) : INFINITY;
        size_t sa, sb;
        uint8_t *da = read_all(a, &sa), *db = read_all(b, &sb);
        audio_quality q;
        char err[512] = "";
        cr_assert_eq(audio_quality_measure(da, sa, db, sb, &q, err, sizeof err), 0, "%s vs %s: %s", a, b, err);
        const char *name = strrchr(b, '/') ? strrchr(b, '/') + 1 : b;
        int ok = (isinf(snr) ? isinf(q.snr_db) : fabs(q.snr_db - snr) <= snr_tol) &&
                 fabs(q.mcd_db - mcd) <= mcd_tol * fabs(mcd) + 1e-9 &&
                 fabs(q.mcd_scaled_db - mcd_s) <= mcd_tol * fabs(mcd_s) + 1e-9 &&
                 (frames < 0 || (long)q.mcd_frames == frames);
        fprintf(stderr,
                "%-24s SNR C %9.4f numpy %9.4f dB | MCD C %9.4f numpy %9.4f (rel %.1e) | scaled C %7.4f "
                "numpy %7.4f | frames %zu/%ld | %s\n",
                name, q.snr_db, snr, q.mcd_db, mcd, mcd ? fabs(q.mcd_db - mcd) / fabs(mcd) : 0.0,
                q.mcd_scaled_db, mcd_s, q.mcd_frames, frames, ok ? "ok" : "DIFFERS");
        failed += !ok;
        pairs++;
        free(da);
        free(db);
    }
    fclose(f);
    cr_assert_gt(pairs, 0, "%s lists no pairs", list);
    cr_assert_eq(failed, 0, "%d of %d pairs differ from the numpy reference beyond tolerance", failed, pairs);
}
