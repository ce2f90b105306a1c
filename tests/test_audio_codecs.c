/* tests/test_audio_codecs.c - the audio plugin's three codecs, checked
 * against references it did not write: libsndfile reads every file the
 * tests write and decode returns, libcodec2 itself gives the Codec2 round
 * trip the plugin must equal, and mu-law is checked against its defining
 * formula and its known quality on speech. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <codec2/codec2.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "audio_test.h"

#define RATE 8000

/* encode -> decode through the public API; returns decoded samples. */
static float *round_trip(mmg_tokenizer *t, const uint8_t *doc, size_t size, size_t *count,
                         size_t *n) {
    int32_t *ids = NULL;
    cr_assert_eq(mmg_tokenizer_encode(t, doc, size, &ids, count), MMG_OK, "encode: %s",
                 mmg_last_error());
    uint8_t *wav = NULL;
    size_t wav_size = 0;
    cr_assert_eq(mmg_tokenizer_decode(t, ids, *count, &wav, &wav_size), MMG_OK, "decode: %s",
                 mmg_last_error());
    int rate = 0;
    float *y = audio_test_decode_file(wav, wav_size, n, &rate, NULL);
    cr_assert_eq(rate, RATE);
    mmg_free(ids);
    mmg_free(wav);
    return y;
}

Test(audio_codecs, mulaw_levels_follow_the_mu_law_formula) {
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\"}");
    /* x -> level floor((F(x) + 1) * 128), F(x) = sgn(x) ln(1 + 255|x|) / ln 256 */
    const float xs[] = {-1.0f, -0.5f, -0.01f, -1e-4f, 0.0f, 3e-5f, 0.002f, 0.25f, 0.999f};
    size_t n = sizeof xs / sizeof xs[0];
    size_t size;
    uint8_t *doc = audio_test_encode_file(xs, n, RATE, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT, &size);
    int32_t *ids = NULL;
    size_t count = 0;
    cr_assert_eq(mmg_tokenizer_encode(t, doc, size, &ids, &count), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(count, 6 + n);
    for (size_t i = 0; i < n; i++) {
        double f = (xs[i] < 0 ? -1 : 1) * log1p(255.0 * fabs(xs[i])) / log(256.0);
        int want = (int)floor((f + 1) * 128);
        if (want > 255) want = 255;
        cr_assert_eq(ids[6 + i], want, "x = %g: level %d, formula %d", xs[i], ids[6 + i], want);
    }
    mmg_free(ids);
    free(doc);
    mmg_tokenizer_free(t);
}

Test(audio_codecs, mulaw_keeps_speech_above_34_5_db) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fsdd/7_theo_3.wav", audio_test_data());
    size_t size;
    uint8_t *doc = test_read_file(path, &size);
    float *ref = NULL;
    size_t n_ref = 0;
    if (!doc) { /* no shared data: the synthetic signal, written as 16-bit PCM */
        cr_log_info("%s absent: using a synthetic signal", path);
        n_ref = RATE;
        float *x = audio_test_signal(n_ref, RATE, 1);
        doc = audio_test_encode_file(x, n_ref, RATE, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, &size);
        free(x);
    }
    ref = audio_test_decode_file(doc, size, &n_ref, NULL, NULL);
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\"}");
    size_t count, n;
    float *y = round_trip(t, doc, size, &count, &n);
    cr_assert_eq(n, n_ref, "decode keeps the length");
    cr_assert_eq(count, 6 + n_ref, "one token per sample");
    double snr = audio_test_snr(ref, y, n);
    cr_log_info("mu-law SNR %.2f dB", snr);
    cr_assert_geq(snr, 34.5, "mu-law SNR %.2f dB", snr);
    free(ref);
    free(y);
    free(doc);
    mmg_tokenizer_free(t);
}

/* libcodec2's own round trip of 16-bit samples: n rounded down to frames. */
static void codec2_reference(int mode, const short *pcm, size_t n, short *out, size_t *out_n) {
    struct CODEC2 *c2e = codec2_create(mode), *c2d = codec2_create(mode);
    int spf = codec2_samples_per_frame(c2e);
    size_t frames = n / (size_t)spf;
    unsigned char bits[64];
    for (size_t f = 0; f < frames; f++) {
        codec2_encode(c2e, bits, (short *)pcm + f * spf);
        codec2_decode(c2d, out + f * spf, bits);
    }
    codec2_destroy(c2e);
    codec2_destroy(c2d);
    *out_n = frames * (size_t)spf;
}

/* Runs fn in a child process and returns the samples it wrote to shared
 * memory. libcodec2 synthesizes unvoiced harmonics with a process-wide
 * random generator it gives no way to seed, so the plugin's round trip and
 * libcodec2's own are compared from the same starting state: each in a
 * fork of this process. */
typedef void (*c2_job)(void *ctx, short *out, size_t *n);
static short *in_child(c2_job fn, void *ctx, size_t cap, size_t *n) {
    size_t bytes = sizeof(size_t) + sizeof(short) * cap;
    void *shm = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(shm, MAP_FAILED);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        fn(ctx, (short *)((size_t *)shm + 1), (size_t *)shm);
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed");
    *n = *(size_t *)shm;
    cr_assert_leq(*n, cap);
    short *out = (short *)malloc(sizeof(short) * cap);
    memcpy(out, (size_t *)shm + 1, sizeof(short) * cap);
    munmap(shm, bytes);
    return out;
}

typedef struct c2_case {
    const char *name;
    int mode;
    const uint8_t *doc;
    size_t size;
    const short *pcm;
    size_t n;
    size_t count; /* tokens, from the plugin's child */
} c2_case;

static void plugin_job(void *ctx, short *out, size_t *n) {
    c2_case *c = (c2_case *)ctx;
    char cfg[96];
    snprintf(cfg, sizeof cfg, "{\"mode\":\"codec2\",\"codec2_mode\":\"%s\"}", c->name);
    mmg_tokenizer *t = audio_test_tokenizer(cfg);
    size_t count, ny;
    float *y = round_trip(t, c->doc, c->size, &count, &ny);
    for (size_t i = 0; i < ny; i++) out[i] = (short)lrintf(y[i] * 32768.0f);
    *n = ny;
    /* the token count rides in the last slot */
    out[ny] = (short)(count - 6);
    free(y);
    mmg_tokenizer_free(t);
}

static void reference_job(void *ctx, short *out, size_t *n) {
    c2_case *c = (c2_case *)ctx;
    codec2_reference(c->mode, c->pcm, c->n, out, n);
}

Test(audio_codecs, codec2_decodes_exactly_what_libcodec2_decodes) {
    static const struct { const char *name; int mode; int tokens_per_s; } modes[] = {
        {"3200", CODEC2_MODE_3200, 300}, {"2400", CODEC2_MODE_2400, 200},
        {"1600", CODEC2_MODE_1600, 150}, {"1400", CODEC2_MODE_1400, 125},
        {"1300", CODEC2_MODE_1300, 125}, {"1200", CODEC2_MODE_1200, 100},
        {"700C", CODEC2_MODE_700C, 75}};
    const size_t n = RATE; /* one second: a whole number of frames in every mode */
    float *x = audio_test_signal(n, RATE, 2);
    size_t size;
    uint8_t *doc = audio_test_encode_file(x, n, RATE, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, &size);
    size_t n_in;
    float *in = audio_test_decode_file(doc, size, &n_in, NULL, NULL);
    short *pcm = (short *)malloc(sizeof(short) * n_in);
    for (size_t i = 0; i < n_in; i++) pcm[i] = (short)lrintf(in[i] * 32768.0f);
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        c2_case c = {modes[m].name, modes[m].mode, doc, size, pcm, n_in, 0};
        size_t ny, nref;
        short *y = in_child(plugin_job, &c, n_in + 1, &ny);
        short *ref = in_child(reference_job, &c, n_in, &nref);
        cr_assert_eq(ny, n_in, "%s: decode keeps the length", modes[m].name);
        cr_assert_eq(nref, n_in, "%s: one second is whole frames", modes[m].name);
        cr_assert_eq(y[ny], modes[m].tokens_per_s, "%s: %d payload tokens in 1 s", modes[m].name,
                     y[ny]);
        for (size_t i = 0; i < nref; i++)
            cr_assert_eq(y[i], ref[i], "%s: sample %zu differs (%d vs %d)", modes[m].name, i,
                         y[i], ref[i]);
        free(y);
        free(ref);
    }
    free(pcm);
    free(in);
    free(doc);
    free(x);
}

/* Frame energies (20 ms) in dB. */
static void frame_db(const float *x, size_t n, double *out, size_t frames) {
    for (size_t f = 0; f < frames; f++) {
        double e = 1e-10;
        for (size_t i = f * 160; i < (f + 1) * 160 && i < n; i++) e += (double)x[i] * x[i];
        out[f] = 10 * log10(e);
    }
}

static double correlation(const double *a, const double *b, size_t n) {
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) ma += a[i], mb += b[i];
    ma /= n, mb /= n;
    for (size_t i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / sqrt(saa * sbb);
}

Test(audio_codecs, learned_codec_fits_and_keeps_the_energy_envelope) {
    const char *cfg = "{\"mode\":\"learned\",\"frame_ms\":20,\"codebook_size\":32,\"stages\":2,"
                      "\"kmeans_iterations\":8,\"threads\":2}";
    mmg_tokenizer *t = audio_test_tokenizer(cfg);
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 0, "no vocabulary before fit");
    enum { DOCS = 6 };
    const uint8_t *docs[DOCS];
    size_t sizes[DOCS];
    const size_t n = RATE / 2;
    for (int d = 0; d < DOCS; d++) {
        float *x = audio_test_signal(n, RATE, (uint32_t)d + 10);
        docs[d] = audio_test_encode_file(x, n, RATE, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, &sizes[d]);
        free(x);
    }
    cr_assert_eq(mmg_tokenizer_fit(t, docs, sizes, DOCS), MMG_OK, "fit: %s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 64 + 2 * 32 + 277);
    size_t count, ny;
    float *y = round_trip(t, docs[0], sizes[0], &count, &ny);
    cr_assert_eq(ny, n, "decode writes the header's length");
    cr_assert_eq(count, 6 + 25 * 3, "25 frames of gain + 2 stages");
    size_t nx;
    float *x = audio_test_decode_file(docs[0], sizes[0], &nx, NULL, NULL);
    double ex[25], ey[25];
    frame_db(x, n, ex, 25);
    frame_db(y, n, ey, 25);
    double r = correlation(ex, ey, 25);
    cr_log_info("learned codec: frame energy correlation %.3f", r);
    cr_assert_gt(r, 0.9, "the decoded energy envelope follows the original (r = %.3f)", r);
    /* the same tokens decode to the same samples; the state restores them */
    size_t count2, ny2;
    float *y2 = round_trip(t, docs[0], sizes[0], &count2, &ny2);
    cr_assert_eq(memcmp(y, y2, sizeof(float) * n), 0, "decode is deterministic");
    uint8_t *state = NULL;
    size_t state_size = 0;
    cr_assert_eq(mmg_tokenizer_save_state(t, &state, &state_size), MMG_OK);
    mmg_tokenizer *u = audio_test_tokenizer(cfg);
    cr_assert_eq(mmg_tokenizer_load_state(u, state, state_size), MMG_OK, "%s", mmg_last_error());
    int32_t *a = NULL, *b = NULL;
    size_t ca, cb;
    cr_assert_eq(mmg_tokenizer_encode(t, docs[1], sizes[1], &a, &ca), MMG_OK);
    cr_assert_eq(mmg_tokenizer_encode(u, docs[1], sizes[1], &b, &cb), MMG_OK);
    cr_assert_eq(ca, cb);
    cr_assert_eq(memcmp(a, b, sizeof(int32_t) * ca), 0, "a loaded state encodes the same");
    /* a second fit with the same seed learns the same state */
    mmg_tokenizer *w = audio_test_tokenizer(cfg);
    cr_assert_eq(mmg_tokenizer_fit(w, docs, sizes, DOCS), MMG_OK);
    uint8_t *state2 = NULL;
    size_t state2_size = 0;
    cr_assert_eq(mmg_tokenizer_save_state(w, &state2, &state2_size), MMG_OK);
    cr_assert(state_size == state2_size && !memcmp(state, state2, state_size), "fit is deterministic");
    mmg_free(a);
    mmg_free(b);
    mmg_free(state);
    mmg_free(state2);
    free(x);
    free(y);
    free(y2);
    for (int d = 0; d < DOCS; d++) free((void *)docs[d]);
    mmg_tokenizer_free(t);
    mmg_tokenizer_free(u);
    mmg_tokenizer_free(w);
}

/* Every format libsndfile writes reads back; mu-law tokens decode to the
 * signal within the format's own precision. */
Test(audio_codecs, every_libsndfile_format_reads_and_mixes_down) {
    static const struct { const char *name; int format; int channels; double min_snr; } cases[] = {
        {"WAV PCM u8", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1, 20},
        {"WAV PCM 16", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 30},
        {"WAV PCM 24", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 1, 30},
        {"WAV PCM 32", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 1, 30},
        {"WAV float", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 30},
        {"WAV mu-law", SF_FORMAT_WAV | SF_FORMAT_ULAW, 1, 25},
        {"WAV A-law", SF_FORMAT_WAV | SF_FORMAT_ALAW, 1, 25},
        {"AIFF PCM 16", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 1, 30},
        {"FLAC 16", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 30},
        {"OGG Vorbis", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 1, 8},
        {"WAV stereo", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 2, 30},
        {"WAV 6 channels", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 6, 30},
    };
    const size_t n = RATE / 2;
    float *x = audio_test_signal(n, RATE, 3);
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\"}");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t size, count, ny;
        uint8_t *doc = audio_test_encode_file(x, n, RATE, cases[c].channels, cases[c].format, &size);
        float *y = round_trip(t, doc, size, &count, &ny);
        cr_assert(ny >= n - 64 && ny <= n + 1024, "%s: %zu samples back from %zu", cases[c].name,
                  ny, n);
        double snr = audio_test_snr(x, y, n < ny ? n : ny);
        cr_log_info("%s: SNR %.1f dB", cases[c].name, snr);
        cr_assert_geq(snr, cases[c].min_snr, "%s: SNR %.1f dB", cases[c].name, snr);
        free(y);
        free(doc);
    }
    free(x);
    mmg_tokenizer_free(t);
}

Test(audio_codecs, other_rates_are_resampled_to_the_tokenizer_rate) {
    /* tones below 3 kHz, written at 16 and 44.1 kHz; expected: the same
     * tones sampled at 8 kHz */
    const int rates[] = {16000, 44100, 11025};
    const double secs = 0.5;
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\"}");
    for (int r = 0; r < 3; r++) {
        size_t n = (size_t)(secs * rates[r]), n8 = (size_t)(secs * RATE);
        float *x = (float *)malloc(sizeof(float) * n), *want = (float *)malloc(sizeof(float) * n8);
        for (size_t i = 0; i < n; i++) {
            double tt = (double)i / rates[r];
            x[i] = (float)(0.3 * sin(2 * AUDIO_PI * 440 * tt) + 0.2 * sin(2 * AUDIO_PI * 1250 * tt));
        }
        for (size_t i = 0; i < n8; i++) {
            double tt = (double)i / RATE;
            want[i] = (float)(0.3 * sin(2 * AUDIO_PI * 440 * tt) + 0.2 * sin(2 * AUDIO_PI * 1250 * tt));
        }
        size_t size, count, ny;
        uint8_t *doc = audio_test_encode_file(x, n, rates[r], 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT, &size);
        float *y = round_trip(t, doc, size, &count, &ny);
        cr_assert(ny + 2 >= n8 && ny <= n8 + 2, "%d Hz: %zu samples, want %zu", rates[r], ny, n8);
        /* the resampler's edges ramp; judge the middle */
        double snr = audio_test_snr(want + 200, y + 200, n8 - 400);
        cr_log_info("%d Hz -> 8000 Hz: SNR %.1f dB", rates[r], snr);
        cr_assert_geq(snr, 30, "%d Hz: SNR %.1f dB after resampling", rates[r], snr);
        free(x);
        free(want);
        free(y);
        free(doc);
    }
    mmg_tokenizer_free(t);
}

Test(audio_codecs, float_output_on_request) {
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\",\"output\":\"float\"}");
    const size_t n = 800;
    float *x = audio_test_signal(n, RATE, 4);
    size_t size, count;
    uint8_t *doc = audio_test_encode_file(x, n, RATE, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, &size);
    int32_t *ids = NULL;
    cr_assert_eq(mmg_tokenizer_encode(t, doc, size, &ids, &count), MMG_OK);
    uint8_t *wav = NULL;
    size_t wav_size;
    cr_assert_eq(mmg_tokenizer_decode(t, ids, count, &wav, &wav_size), MMG_OK);
    int format = 0, rate = 0;
    size_t ny;
    float *y = audio_test_decode_file(wav, wav_size, &ny, &rate, &format);
    cr_assert_eq(format, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    cr_assert_eq(ny, n);
    free(y);
    mmg_free(wav);
    mmg_free(ids);
    free(doc);
    free(x);
    mmg_tokenizer_free(t);
}
