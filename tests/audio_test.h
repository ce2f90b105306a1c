/* tests/audio_test.h - helpers shared by the audio plugin's tests: the
 * plugin opened through the public API, files, signals, and libsndfile as
 * the independent reader of what decode wrote. */
#ifndef MMGEN_TESTS_AUDIO_TEST_H
#define MMGEN_TESTS_AUDIO_TEST_H

#include <criterion/criterion.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmgen/mmgen.h"
#include "test_files.h"

#define AUDIO_PLUGIN_PATH MMGEN_TEST_PLUGIN_DIR "/mmgen-audio.so"
#define AUDIO_PI 3.14159265358979323846

/* A tokenizer of the audio plugin with `config` (JSON). */
static inline mmg_tokenizer *audio_test_tokenizer(const char *config) {
    mmg_plugin *plugin = NULL;
    mmg_status s = mmg_plugin_open(AUDIO_PLUGIN_PATH, &plugin);
    cr_assert_eq(s, MMG_OK, "mmg_plugin_open: %s", mmg_last_error());
    mmg_tokenizer *t = NULL;
    s = mmg_tokenizer_create(plugin, config, &t);
    mmg_plugin_close(plugin);
    cr_assert_eq(s, MMG_OK, "mmg_tokenizer_create(%s): %s", config, mmg_last_error());
    return t;
}

/* Writes x (n mono samples) with libsndfile in `format` to a temporary
 * file and returns its bytes (malloc'ed). */
static inline uint8_t *audio_test_encode_file(const float *x, size_t n, int rate, int channels,
                                              int format, size_t *size) {
    char path[] = "/tmp/mmgen_audio_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    cr_assert_not_null(sf, "libsndfile cannot write format 0x%x: %s", format, sf_strerror(NULL));
    float *frames = (float *)malloc(sizeof(float) * n * (size_t)channels);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < channels; c++) frames[i * channels + c] = x[i];
    cr_assert_eq(sf_writef_float(sf, frames, (sf_count_t)n), (sf_count_t)n);
    sf_close(sf);
    free(frames);
    uint8_t *b = test_read_file(path, size);
    unlink(path);
    cr_assert_not_null(b);
    return b;
}

/* Reads WAV bytes (decode's output) with libsndfile: mono float samples
 * (malloc'ed), the rate and the sample format. */
static inline float *audio_test_decode_file(const uint8_t *bytes, size_t size, size_t *n,
                                            int *rate, int *format) {
    char path[] = "/tmp/mmgen_audio_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, bytes, size), (ssize_t)size);
    close(fd);
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    cr_assert_not_null(sf, "libsndfile cannot read what decode wrote: %s", sf_strerror(NULL));
    cr_assert_eq(info.channels, 1);
    float *x = (float *)malloc(sizeof(float) * (size_t)(info.frames > 0 ? info.frames : 1));
    cr_assert_eq(sf_readf_float(sf, x, info.frames), info.frames);
    sf_close(sf);
    unlink(path);
    *n = (size_t)info.frames;
    if (rate) *rate = info.samplerate;
    if (format) *format = info.format;
    return x;
}

/* A speech-like test signal: a vowel-ish harmonic tone whose pitch glides,
 * with an amplitude envelope, then a noise burst (a fricative). */
static inline float *audio_test_signal(size_t n, int rate, uint32_t seed) {
    float *x = (float *)malloc(sizeof(float) * n);
    double phase = 0;
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / rate, f0 = 120 + 60 * t;
        phase += 2 * AUDIO_PI * f0 / rate;
        double v = 0;
        for (int h = 1; h <= 12; h++) v += sin(h * phase) / h * (h == 3 || h == 4 ? 2.0 : 1.0);
        double env = sin(AUDIO_PI * (double)i / (double)n);
        s = s * 1664525u + 1013904223u;
        double noise = ((double)(s >> 8) / (1 << 24) - 0.5);
        x[i] = (float)(i < n * 3 / 4 ? 0.08 * env * v : 0.15 * noise);
    }
    return x;
}

static inline double audio_test_snr(const float *ref, const float *y, size_t n) {
    double s = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        s += (double)ref[i] * ref[i];
        e += ((double)ref[i] - y[i]) * ((double)ref[i] - y[i]);
    }
    return 10 * log10(s / (e > 0 ? e : 1e-300));
}

static inline const char *audio_test_data(void) {
    const char *d = getenv("MMGEN_TEST_DATA");
    return d ? d : MMGEN_SOURCE_DIR "/../shared/data";
}

#endif /* MMGEN_TESTS_AUDIO_TEST_H */
