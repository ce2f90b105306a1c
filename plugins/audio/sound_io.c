/* plugins/audio/sound_io.c - audio files in and out, through libsndfile.
 *
 * Reading: libsndfile opens the document from memory (virtual I/O), so every
 * format it knows is accepted (WAV PCM 8-32 bit, float, mu-law/A-law, AIFF,
 * FLAC, OGG/Vorbis...). What the header claims (channels, rate, length) is
 * checked against the config's limits before any sample buffer exists; the
 * samples are then read in blocks, mixed down to mono (the mean of the
 * channels), checked for NaN/Inf, and resampled to the tokenizer's rate with
 * libsamplerate's sinc converter.
 *
 * Writing: a mono WAV into a growing memory buffer; 16-bit PCM is converted
 * here (x * 32768, rounded, clamped), the inverse of how libsndfile reads
 * 16-bit files as floats, so a 16-bit file that goes through unchanged comes
 * back bit for bit. */
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>

#include "audio.h"

void aud_signal_free(aud_signal *s) {
    aud_free(s->x);
    s->x = NULL;
    s->n = 0;
}

/* ---- libsndfile virtual I/O over memory --------------------------------- */

typedef struct mem_file {
    uint8_t *data; /* reading: const data, never written */
    size_t size, cap, pos;
    int failed;    /* writing: out of memory */
} mem_file;

static sf_count_t mem_length(void *u) { return (sf_count_t)((mem_file *)u)->size; }

static sf_count_t mem_seek(sf_count_t offset, int whence, void *u) {
    mem_file *f = (mem_file *)u;
    sf_count_t base = whence == SEEK_CUR ? (sf_count_t)f->pos
                    : whence == SEEK_END ? (sf_count_t)f->size : 0;
    sf_count_t to = base + offset;
    if (to < 0) return -1;
    f->pos = (size_t)to;
    return to;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *u) {
    mem_file *f = (mem_file *)u;
    if (count <= 0 || f->pos >= f->size) return 0;
    size_t n = f->size - f->pos;
    if ((uint64_t)count < n) n = (size_t)count;
    memcpy(ptr, f->data + f->pos, n);
    f->pos += n;
    return (sf_count_t)n;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *u) {
    mem_file *f = (mem_file *)u;
    if (count <= 0 || f->failed) return 0;
    size_t end = f->pos + (size_t)count;
    if (end > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < end) cap *= 2;
        uint8_t *d = (uint8_t *)aud_realloc(f->data, cap);
        if (!d) {
            f->failed = 1;
            return 0;
        }
        f->data = d;
        f->cap = cap;
    }
    if (f->pos > f->size) memset(f->data + f->size, 0, f->pos - f->size);
    memcpy(f->data + f->pos, ptr, (size_t)count);
    f->pos = end;
    if (end > f->size) f->size = end;
    return count;
}

static sf_count_t mem_tell(void *u) { return (sf_count_t)((mem_file *)u)->pos; }

static SF_VIRTUAL_IO mem_io = {mem_length, mem_seek, mem_read, mem_write, mem_tell};

/* ---- reading ------------------------------------------------------------- */

#define READ_BLOCK 16384 /* frames per sf_readf_float call */
#define INITIAL_CAP ((size_t)1 << 20) /* mono samples reserved before reading */

/* libsndfile reads a file whose data chunk is cut short as a shorter file
 * and only says so in its log; find that there. A declared size of
 * 0xFFFFFFFF (or 0) is how streaming writers say "unknown" and is no
 * truncation. Returns MMG_OK or reports the truncation. */
static int check_truncation(SNDFILE *sf) {
    char log[8192];
    memset(log, 0, sizeof log);
    sf_command(sf, SFC_GET_LOG_INFO, log, (int)sizeof log - 1);
    for (const char *p = log; (p = strstr(p, "data : ")) != NULL; p++) {
        long long declared = 0, actual = 0;
        if (sscanf(p, "data : %lld (should be %lld)", &declared, &actual) == 2 &&
            declared > actual && declared != 0xFFFFFFFFll && declared != 0)
            return aud_error(MMG_ERR_FORMAT, "audio: the file is truncated: its data chunk "
                             "declares %lld bytes, %lld are there", declared, actual);
    }
    const char *p = strstr(log, "> file length");
    if (p) {
        long long declared = 0, actual = 0;
        const char *q = p;
        while (q > log && q[-1] != '\n') q--;
        if (sscanf(q, "*** Chunk size %lld > file length %lld", &declared, &actual) == 2)
            return aud_error(MMG_ERR_FORMAT, "audio: the file is truncated: a chunk declares %lld "
                             "bytes in a %lld-byte file", declared, actual);
        return aud_error(MMG_ERR_FORMAT, "audio: the file is truncated (a chunk runs past its end)");
    }
    return MMG_OK;
}

static int resample(const aud_config *cfg, float *x, size_t n, int32_t rate, aud_signal *out) {
    double ratio = (double)cfg->sample_rate / rate;
    double want = ceil((double)n * ratio) + 16;
    float *y = (float *)aud_alloc_array((size_t)want, sizeof(float), 1);
    if (!y) return aud_error(MMG_ERR_NOMEM, "audio: out of memory resampling %zu samples", n);
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = x;
    d.input_frames = (long)n;
    d.data_out = y;
    d.output_frames = (long)want;
    d.src_ratio = ratio;
    d.end_of_input = 1;
    int e = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1);
    if (e) {
        aud_free(y);
        return aud_error(MMG_ERR_INTERNAL, "audio: resampling %d Hz to %d Hz failed: %s", rate,
                         cfg->sample_rate, src_strerror(e));
    }
    if (d.output_frames_gen <= 0) {
        /* a few samples at a high rate can be shorter than one at ours */
        aud_free(y);
        return aud_error(MMG_ERR_FORMAT, "audio: %zu sample%s at %d Hz last %.3g ms, less than one "
                         "sample at %d Hz", n, n == 1 ? "" : "s", rate, 1e3 * (double)n / rate,
                         cfg->sample_rate);
    }
    out->x = y;
    out->n = (size_t)d.output_frames_gen;
    out->rate = cfg->sample_rate;
    return MMG_OK;
}

int aud_read(const aud_config *cfg, const uint8_t *data, size_t size, aud_signal *out) {
    if (!data && size) return aud_error(MMG_ERR_INVALID_ARG, "audio: NULL document");
    if (size == 0) return aud_error(MMG_ERR_FORMAT, "audio: the document is empty (0 bytes)");
    if (size > cfg->max_file_bytes)
        return aud_error(MMG_ERR_LIMIT, "audio: the document is %zu bytes; max_file_bytes is %llu",
                         size, (unsigned long long)cfg->max_file_bytes);
    mem_file mf = {(uint8_t *)data, size, size, 0, 0};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open_virtual(&mem_io, SFM_READ, &info, &mf);
    if (!sf)
        return aud_error(MMG_ERR_FORMAT, "audio: libsndfile cannot read the document: %s",
                         sf_error_number(sf_error(NULL)));
    float *block = NULL, *mono = NULL;
    int rc = check_truncation(sf);
    if (rc != MMG_OK) goto done;
    if (info.channels < 1 || info.channels > cfg->max_channels) {
        rc = aud_error(MMG_ERR_LIMIT, "audio: the file has %d channels; 1 to max_channels %d are "
                       "accepted", info.channels, cfg->max_channels);
        goto done;
    }
    if (info.samplerate < 1000 || info.samplerate > 768000) {
        rc = aud_error(MMG_ERR_FORMAT, "audio: sample rate %d Hz is outside 1000 to 768000 Hz",
                       info.samplerate);
        goto done;
    }
    if (info.frames <= 0) {
        rc = aud_error(MMG_ERR_FORMAT, "audio: the file holds no samples");
        goto done;
    }
    /* SF_COUNT_MAX means "unknown length": the block loop below enforces the
     * limit as it reads. */
    double limit = cfg->max_seconds * info.samplerate;
    if (info.frames != SF_COUNT_MAX && (double)info.frames > limit) {
        rc = aud_error(MMG_ERR_LIMIT, "audio: the file claims %lld frames (%.1f s at %d Hz); "
                       "max_seconds is %g", (long long)info.frames,
                       (double)info.frames / info.samplerate, info.samplerate, cfg->max_seconds);
        goto done;
    }
    /* The header's length only bounds the first allocation: a small file
     * that claims hours (a hostile FLAC header, say) must not reserve
     * gigabytes before its samples prove to be there. */
    int known = info.frames != SF_COUNT_MAX;
    size_t cap = known && (uint64_t)info.frames < INITIAL_CAP ? (size_t)info.frames : INITIAL_CAP, n = 0;
    block = (float *)aud_alloc_array(READ_BLOCK, (size_t)info.channels, sizeof(float));
    mono = (float *)aud_alloc_array(cap, sizeof(float), 1);
    if (!block || !mono) {
        rc = aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu samples", cap);
        goto done;
    }
    for (;;) {
        sf_count_t got = sf_readf_float(sf, block, READ_BLOCK);
        if (got <= 0) break;
        if ((double)(n + (size_t)got) > limit) {
            rc = aud_error(MMG_ERR_LIMIT, "audio: the file is longer than max_seconds %g",
                           cfg->max_seconds);
            goto done;
        }
        if (n + (size_t)got > cap) {
            size_t ncap = cap * 2 > n + (size_t)got ? cap * 2 : n + (size_t)got;
            float *m = (float *)aud_realloc(mono, ncap * sizeof(float));
            if (!m) {
                rc = aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu samples", ncap);
                goto done;
            }
            mono = m;
            cap = ncap;
        }
        for (sf_count_t i = 0; i < got; i++) {
            const float *f = block + (size_t)i * info.channels;
            double s = 0;
            for (int c = 0; c < info.channels; c++) {
                if (!isfinite(f[c])) {
                    rc = aud_error(MMG_ERR_FORMAT, "audio: sample %zu of channel %d is not a "
                                   "finite number", n + (size_t)i, c);
                    goto done;
                }
                s += f[c];
            }
            mono[n + (size_t)i] = (float)(s / info.channels);
        }
        n += (size_t)got;
    }
    if (sf_error(sf) != SF_ERR_NO_ERROR) {
        rc = aud_error(MMG_ERR_FORMAT, "audio: reading samples failed: %s", sf_strerror(sf));
        goto done;
    }
    if (n == 0) {
        rc = aud_error(MMG_ERR_FORMAT, "audio: the file holds no samples");
        goto done;
    }
    if (info.frames != SF_COUNT_MAX && n < (size_t)info.frames) {
        rc = aud_error(MMG_ERR_FORMAT, "audio: the file is truncated: its header promises %lld "
                       "frames, %zu could be read", (long long)info.frames, n);
        goto done;
    }
    if (info.samplerate == cfg->sample_rate) {
        out->x = mono;
        out->n = n;
        out->rate = info.samplerate;
        mono = NULL;
    } else {
        rc = resample(cfg, mono, n, info.samplerate, out);
    }
done:
    aud_free(block);
    aud_free(mono);
    sf_close(sf);
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

static int write_wav(const void *x, size_t n, int32_t rate, int format, uint8_t **out_bytes,
                     size_t *out_size) {
    if (n > (size_t)INT32_MAX)
        return aud_error(MMG_ERR_LIMIT, "audio: %zu samples are too many for one WAV file", n);
    mem_file mf = {NULL, 0, 0, 0, 0};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | format;
    SNDFILE *sf = sf_open_virtual(&mem_io, SFM_WRITE, &info, &mf);
    if (!sf) {
        aud_free(mf.data);
        return mf.failed ? aud_error(MMG_ERR_NOMEM, "audio: out of memory writing a WAV file")
                         : aud_error(MMG_ERR_INTERNAL, "audio: libsndfile cannot write WAV: %s",
                                     sf_error_number(sf_error(NULL)));
    }
    sf_count_t wrote = format == SF_FORMAT_FLOAT ? sf_writef_float(sf, (const float *)x, (sf_count_t)n)
                                                 : sf_writef_short(sf, (const short *)x, (sf_count_t)n);
    int close_rc = sf_close(sf);
    if (mf.failed || wrote != (sf_count_t)n || close_rc != 0) {
        aud_free(mf.data);
        return mf.failed ? aud_error(MMG_ERR_NOMEM, "audio: out of memory writing a WAV file")
                         : aud_error(MMG_ERR_INTERNAL, "audio: writing %zu samples of WAV failed", n);
    }
    *out_bytes = mf.data;
    *out_size = mf.size;
    return MMG_OK;
}

int aud_write_wav16(const int16_t *x, size_t n, int32_t rate, uint8_t **out_bytes,
                    size_t *out_size) {
    return write_wav(x, n, rate, SF_FORMAT_PCM_16, out_bytes, out_size);
}

int aud_write_wav(const float *x, size_t n, int32_t rate, int as_float, uint8_t **out_bytes,
                  size_t *out_size) {
    if (as_float) return write_wav(x, n, rate, SF_FORMAT_FLOAT, out_bytes, out_size);
    int16_t *s = (int16_t *)aud_alloc_array(n ? n : 1, sizeof(int16_t), 1);
    if (!s) return aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu samples", n);
    for (size_t i = 0; i < n; i++) {
        float v = nearbyintf(x[i] * 32768.0f);
        if (v != v) v = 0; /* never from decode; kept out of the cast's UB */
        s[i] = (int16_t)(v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v);
    }
    int rc = aud_write_wav16(s, n, rate, out_bytes, out_size);
    aud_free(s);
    return rc;
}
