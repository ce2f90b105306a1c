/* tests/test_audio_input.c - audio files a user can get wrong: empty,
 * garbage, truncated, hostile headers (0 channels, absurd rates, ten hours
 * announced), NaN samples, files over the configured limits, and random
 * corruption of a valid file. Each gives a clear error (or, for corruption
 * that still parses, a valid result); nothing crashes (the suite also runs
 * under ASan/UBSan). */
#include <stdint.h>

#include "audio_test.h"

#define RATE 8000

/* A canonical 44-byte WAV header for `data_bytes` of data. */
static size_t wav_header(uint8_t *h, uint16_t format, uint16_t channels, uint32_t rate,
                         uint16_t bits, uint32_t data_bytes) {
    uint16_t align = (uint16_t)(channels * bits / 8);
    uint32_t v[] = {36 + data_bytes, 16, data_bytes};
    memcpy(h, "RIFF", 4);
    memcpy(h + 4, &v[0], 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    memcpy(h + 16, &v[1], 4);
    memcpy(h + 20, &format, 2);
    memcpy(h + 22, &channels, 2);
    memcpy(h + 24, &rate, 4);
    uint32_t bps = rate * align;
    memcpy(h + 28, &bps, 4);
    memcpy(h + 32, &align, 2);
    memcpy(h + 34, &bits, 2);
    memcpy(h + 36, "data", 4);
    memcpy(h + 40, &v[2], 4);
    return 44;
}

static void expect_error(mmg_tokenizer *t, const uint8_t *doc, size_t size, mmg_status want,
                         const char *needle, const char *what) {
    int32_t *ids = (int32_t *)(uintptr_t)0x1; /* must stay untouched */
    size_t count = 12345;
    mmg_status s = mmg_tokenizer_encode(t, doc, size, &ids, &count);
    cr_assert_eq(s, want, "%s: status %d (%s), want %d", what, s, mmg_last_error(), want);
    cr_assert(strstr(mmg_last_error(), needle), "%s: \"%s\" lacks \"%s\"", what, mmg_last_error(),
              needle);
    cr_assert(ids == (int32_t *)(uintptr_t)0x1 && count == 12345, "%s: out-params untouched", what);
}

Test(audio_input, bad_files_give_clear_errors) {
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\",\"max_seconds\":60}");
    uint8_t buf[4096];
    memset(buf, 0, sizeof buf);
    expect_error(t, buf, 0, MMG_ERR_FORMAT, "empty", "empty file");
    const char *text = "this is a text file, not audio, though it is long enough to be read......";
    expect_error(t, (const uint8_t *)text, strlen(text), MMG_ERR_FORMAT, "libsndfile", "text");

    size_t h = wav_header(buf, 1, 0, RATE, 16, 100);
    expect_error(t, buf, h + 100, MMG_ERR_FORMAT, "hannel", "0 channels");
    h = wav_header(buf, 1, 1, 3, 16, 100);
    expect_error(t, buf, h + 100, MMG_ERR_FORMAT, "sample rate 3 Hz", "3 Hz");
    h = wav_header(buf, 1, 1, 2000000000u, 16, 100);
    expect_error(t, buf, h + 100, MMG_ERR_FORMAT, "sample rate", "2 GHz");
    /* ten hours announced, 100 bytes there */
    h = wav_header(buf, 1, 1, RATE, 16, 10u * 3600 * RATE * 2);
    expect_error(t, buf, h + 100, MMG_ERR_FORMAT, "truncated", "10-hour header");
    /* a data chunk cut short */
    h = wav_header(buf, 1, 1, RATE, 16, 2000);
    for (int i = 0; i < 500; i++) buf[h + i] = (uint8_t)(i * 7);
    expect_error(t, buf, h + 1000, MMG_ERR_FORMAT, "truncated", "truncated data chunk");
    /* float samples that are not numbers */
    h = wav_header(buf, 3, 1, RATE, 32, 16);
    float f[4] = {0.1f, NAN, 0.2f, INFINITY};
    memcpy(buf + h, f, sizeof f);
    expect_error(t, buf, h + 16, MMG_ERR_FORMAT, "not a finite number", "NaN samples");
    f[1] = 0.5f;
    memcpy(buf + h, f, sizeof f);
    expect_error(t, buf, h + 16, MMG_ERR_FORMAT, "not a finite number", "Inf samples");
    /* 3 samples at 768 kHz resample to none at 8 kHz (found by fuzzing: the
     * empty stream encoded, then would not decode) */
    h = wav_header(buf, 1, 1, 768000, 16, 6);
    memset(buf + h, 0x11, 6);
    expect_error(t, buf, h + 6, MMG_ERR_FORMAT, "less than one sample at 8000 Hz", "3 samples at 768 kHz");
    mmg_tokenizer_free(t);
}

Test(audio_input, limits_are_checked_before_reading) {
    const size_t n = 2 * RATE;
    float *x = audio_test_signal(n, RATE, 5);
    size_t size;
    uint8_t *doc = audio_test_encode_file(x, n, RATE, 3, SF_FORMAT_WAV | SF_FORMAT_PCM_16, &size);
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"mulaw\",\"max_channels\":2}");
    expect_error(t, doc, size, MMG_ERR_LIMIT, "3 channels", "channels over max_channels");
    mmg_tokenizer_free(t);
    t = audio_test_tokenizer("{\"mode\":\"mulaw\",\"max_seconds\":1.5}");
    expect_error(t, doc, size, MMG_ERR_LIMIT, "max_seconds", "longer than max_seconds");
    mmg_tokenizer_free(t);
    t = audio_test_tokenizer("{\"mode\":\"mulaw\",\"max_file_bytes\":1000}");
    expect_error(t, doc, size, MMG_ERR_LIMIT, "max_file_bytes", "over max_file_bytes");
    mmg_tokenizer_free(t);
    t = audio_test_tokenizer("{\"mode\":\"mulaw\",\"max_seconds\":2}");
    int32_t *ids = NULL;
    size_t count;
    cr_assert_eq(mmg_tokenizer_encode(t, doc, size, &ids, &count), MMG_OK, "exactly at the limit");
    mmg_free(ids);
    mmg_tokenizer_free(t);
    free(doc);
    free(x);
}

/* Random byte flips, truncations and insertions of valid files: every
 * outcome is MMG_OK with ids in range, or an error with a message. */
Test(audio_input, corrupted_files_never_crash) {
    const size_t n = RATE / 4;
    float *x = audio_test_signal(n, RATE, 6);
    const int formats[] = {SF_FORMAT_WAV | SF_FORMAT_PCM_16, SF_FORMAT_AIFF | SF_FORMAT_PCM_24,
                           SF_FORMAT_FLAC | SF_FORMAT_PCM_16, SF_FORMAT_WAV | SF_FORMAT_FLOAT,
                           SF_FORMAT_OGG | SF_FORMAT_VORBIS};
    mmg_tokenizer *t = audio_test_tokenizer("{\"mode\":\"codec2\",\"codec2_mode\":\"1200\","
                                            "\"max_seconds\":30}");
    int32_t v = mmg_tokenizer_vocab_size(t);
    uint64_t rng = 7;
    int ok = 0, failed = 0;
    for (size_t fmt = 0; fmt < sizeof formats / sizeof formats[0]; fmt++) {
        size_t size;
        uint8_t *doc = audio_test_encode_file(x, n, RATE, 1, formats[fmt], &size);
        uint8_t *m = (uint8_t *)malloc(size + 64);
        for (int trial = 0; trial < 60; trial++) {
            memcpy(m, doc, size);
            size_t msize = size;
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            int kind = (int)((rng >> 60) % 3), flips = 1 + (int)((rng >> 40) % 8);
            for (int k = 0; k < flips; k++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                /* most damage in the headers, where the parsers are */
                size_t at = (rng >> 33) % (k % 2 ? size : (size < 128 ? size : 128));
                m[at] ^= (uint8_t)(1u << ((rng >> 20) % 8));
            }
            if (kind == 1) msize = (size_t)((rng >> 24) % size);
            if (kind == 2) {
                memmove(m + 40, m + 32, size - 32);
                memset(m + 32, 0xFF, 8);
                msize = size + 8;
            }
            int32_t *ids = NULL;
            size_t count = 0;
            mmg_status s = mmg_tokenizer_encode(t, m, msize, &ids, &count);
            if (s == MMG_OK) {
                for (size_t i = 0; i < count; i++) cr_assert(ids[i] >= 0 && ids[i] < v);
                mmg_free(ids);
                ok++;
            } else {
                cr_assert_neq(strlen(mmg_last_error()), 0, "an error says why");
                failed++;
            }
        }
        free(m);
        free(doc);
    }
    cr_log_info("corrupted files: %d read, %d refused", ok, failed);
    cr_assert_gt(failed, 0, "some corruption is detected");
    free(x);
    mmg_tokenizer_free(t);
}
