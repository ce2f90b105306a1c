/* plugins/audio/learned.c - the learned codec: log-mel frames as a gain id
 * and residual-VQ shape ids, fitted on the user's audio.
 *
 * A token frame (frame_ms) holds `subframes` log-mel analysis frames
 * (mel.c), one vector of subframes * n_mels log powers. Its gain is the
 * vector's mean, quantized uniformly in `gain_levels` steps between the
 * 0.5th and 99.9th percentiles seen in training; the shape (the vector
 * minus the quantized gain) goes through `stages` codebooks, each coding
 * what the previous left over (k-means++/Lloyd through OpenBLAS, vq.c). So
 * a frame is 1 + stages ids, and loudness never spends codebook entries.
 *
 * Decoding adds the gain and the codewords back, turns each log-mel
 * subframe into a smooth power spectrum (aud_mel_to_power), interpolates
 * those in log power to the synthesis hop (n_fft/4) and recovers a
 * waveform with fast Griffin-Lim. No neural network is involved. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"

int aud_learned_prepare(aud_tokenizer *t) {
    aud_learned *l = &t->learned;
    if (l->ready) return MMG_OK;
    int rc = aud_mel_init(&l->mel, t->cfg.sample_rate, t->cfg.window_ms, t->cfg.n_mels);
    if (rc == MMG_OK) l->ready = 1;
    return rc;
}

static int32_t frame_dim(const aud_config *c) { return c->subframes * c->n_mels; }

/* frames = ceil(n / frame_len) rows of frame_dim log powers: *out (aud_alloc). */
static int analyze(const aud_tokenizer *t, const float *x, size_t n, size_t frames, float **out) {
    const aud_config *c = &t->cfg;
    const int32_t hop = aud_learned_frame_len(c) / c->subframes;
    float *f = (float *)aud_alloc_array(frames ? frames : 1, (size_t)frame_dim(c), sizeof(float));
    if (!f) return aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu frames", frames);
    int rc = aud_mel_analyze(&t->learned.mel, x, n, hop, frames * (size_t)c->subframes, f);
    if (rc != MMG_OK) {
        aud_free(f);
        return rc;
    }
    *out = f;
    return MMG_OK;
}

static float row_mean(const float *r, int32_t dim) {
    double s = 0;
    for (int32_t i = 0; i < dim; i++) s += r[i];
    return (float)(s / dim);
}

static int32_t gain_level(const aud_learned *l, int32_t levels, float g) {
    float q = nearbyintf((g - l->gain_min) / l->gain_step);
    return q < 0 ? 0 : q > (float)(levels - 1) ? levels - 1 : (int32_t)q;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Reservoir sample of training frames: *out (count, dim). */
static int sample_frames(aud_tokenizer *t, const mmg_plugin_document *docs, size_t n_docs,
                         float **out, size_t *out_count, uint64_t *out_seen) {
    const aud_config *c = &t->cfg;
    const int32_t dim = frame_dim(c), len = aud_learned_frame_len(c);
    const size_t m = (size_t)c->max_train_frames;
    uint64_t rng = c->seed ^ 0xA5A5F00DCAFEull, seen = 0;
    size_t count = 0, cap = 0;
    float *buf = NULL;
    int rc = MMG_OK;
    for (size_t d = 0; d < n_docs && rc == MMG_OK; d++) {
        aud_signal sig = {NULL, 0, 0};
        float *feat = NULL;
        if ((rc = aud_read(c, docs[d].data, docs[d].size, &sig)) != MMG_OK) {
            aud_log(MMG_PLUGIN_LOG_ERROR, "audio: fit: document %zu cannot be read", d);
            break;
        }
        size_t frames = (sig.n + (size_t)len - 1) / (size_t)len;
        if ((rc = analyze(t, sig.x, sig.n, frames, &feat)) == MMG_OK) {
            for (size_t f = 0; f < frames; f++, seen++) {
                size_t slot;
                if (count < m) {
                    if (count == cap) {
                        size_t ncap = cap ? cap * 2 : 4096;
                        if (ncap > m) ncap = m;
                        float *nb = (float *)aud_realloc(buf, ncap * (size_t)dim * sizeof(float));
                        if (!nb) {
                            rc = aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu training "
                                           "frames", ncap);
                            break;
                        }
                        buf = nb;
                        cap = ncap;
                    }
                    slot = count++;
                } else {
                    uint64_t j = vq_rng_below(&rng, seen + 1);
                    if (j >= m) continue;
                    slot = (size_t)j;
                }
                memcpy(buf + slot * dim, feat + f * dim, sizeof(float) * dim);
            }
        }
        aud_free(feat);
        aud_signal_free(&sig);
    }
    if (rc != MMG_OK) {
        aud_free(buf);
        return rc;
    }
    *out = buf;
    *out_count = count;
    *out_seen = seen;
    return MMG_OK;
}

int aud_learned_fit(aud_tokenizer *t, const mmg_plugin_document *docs, size_t n_docs) {
    const aud_config *c = &t->cfg;
    int rc = aud_learned_prepare(t);
    if (rc != MMG_OK) return rc;
    float *x = NULL, *gains = NULL;
    size_t n = 0;
    uint64_t seen = 0;
    if ((rc = sample_frames(t, docs, n_docs, &x, &n, &seen)) != MMG_OK) return rc;
    const int32_t dim = frame_dim(c), k = c->codebook_size;
    if (n < (size_t)k) {
        aud_free(x);
        return aud_error(MMG_ERR_CONFIG, "audio: fit found %zu frames of %d ms; codebook_size %d "
                         "needs at least as many (give more audio or a smaller codebook)", n,
                         c->frame_ms, k);
    }
    aud_log(MMG_PLUGIN_LOG_INFO, "audio: fit: %zu of %llu frames sampled, %d stages of k = %d, "
            "dim = %d", n, (unsigned long long)seen, c->stages, k, dim);
    aud_learned l = t->learned;
    memset(l.books, 0, sizeof l.books);
    gains = (float *)aud_alloc_array(n, sizeof(float), 1);
    int32_t *idx = (int32_t *)aud_alloc_array(n, sizeof(int32_t), 1);
    if (!gains || !idx) {
        rc = aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu training frames", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) gains[i] = row_mean(x + i * dim, dim);
    qsort(gains, n, sizeof(float), cmp_float);
    l.gain_min = gains[(size_t)(0.005 * (double)(n - 1))];
    float gmax = gains[(size_t)(0.999 * (double)(n - 1))];
    if (!(gmax > l.gain_min + 1e-3f)) gmax = l.gain_min + 1e-3f;
    l.gain_step = (gmax - l.gain_min) / (float)(c->gain_levels - 1);
    for (size_t i = 0; i < n; i++) { /* the shape: what the quantized gain leaves */
        float *r = x + i * dim;
        float g = l.gain_min + (float)gain_level(&l, c->gain_levels, row_mean(r, dim)) * l.gain_step;
        for (int32_t j = 0; j < dim; j++) r[j] -= g;
    }
    const int32_t threads = vq_thread_count(c->threads);
    for (int32_t s = 0; s < c->stages && rc == MMG_OK; s++) {
        if (s > 0) { /* the next stage learns what the previous left over */
            if ((rc = vq_codebook_search(&l.books[s - 1], x, n, idx, NULL, threads)) != MMG_OK) break;
            for (size_t i = 0; i < n; i++) {
                const float *cv = l.books[s - 1].c + (size_t)idx[i] * dim;
                for (int32_t j = 0; j < dim; j++) x[i * dim + j] -= cv[j];
            }
        }
        rc = vq_kmeans_fit(x, n, dim, k, c->kmeans_iterations, c->seed + (uint64_t)s, threads,
                           &l.books[s]);
    }
done:
    aud_free(x);
    aud_free(gains);
    aud_free(idx);
    if (rc != MMG_OK) {
        for (int32_t s = 0; s < 8; s++) vq_codebook_free(&l.books[s]);
        return rc;
    }
    for (int32_t s = 0; s < 8; s++) vq_codebook_free(&t->learned.books[s]);
    t->learned = l;
    t->fitted = 1;
    return MMG_OK;
}

int aud_learned_encode(const aud_tokenizer *t, const aud_signal *sig, int32_t *ids, size_t frames) {
    const aud_config *c = &t->cfg;
    const aud_learned *l = &t->learned;
    const int32_t dim = frame_dim(c), per = 1 + c->stages;
    float *x = NULL;
    int rc = analyze(t, sig->x, sig->n, frames, &x);
    if (rc != MMG_OK) return rc;
    int32_t *idx = (int32_t *)aud_alloc_array(frames ? frames : 1, sizeof(int32_t), 1);
    if (!idx) {
        aud_free(x);
        return aud_error(MMG_ERR_NOMEM, "audio: out of memory for %zu frames", frames);
    }
    for (size_t f = 0; f < frames; f++) {
        float *r = x + f * dim;
        int32_t q = gain_level(l, c->gain_levels, row_mean(r, dim));
        float g = l->gain_min + (float)q * l->gain_step;
        for (int32_t j = 0; j < dim; j++) r[j] -= g;
        ids[f * per] = q;
    }
    for (int32_t s = 0; s < c->stages && rc == MMG_OK && frames; s++) {
        if ((rc = vq_codebook_search(&l->books[s], x, frames, idx, NULL, 1)) != MMG_OK) break;
        for (size_t f = 0; f < frames; f++) {
            const float *cv = l->books[s].c + (size_t)idx[f] * dim;
            for (int32_t j = 0; j < dim; j++) x[f * dim + j] -= cv[j];
            ids[f * per + 1 + s] = c->gain_levels + s * c->codebook_size + idx[f];
        }
    }
    aud_free(x);
    aud_free(idx);
    return rc;
}

int aud_learned_decode(const aud_tokenizer *t, const int32_t *ids, size_t frames, size_t n,
                       float *x) {
    const aud_config *c = &t->cfg;
    const aud_learned *l = &t->learned;
    const aud_mel *m = &l->mel;
    const int32_t dim = frame_dim(c), per = 1 + c->stages, nb = m->n_bins;
    const int32_t sub_hop = aud_learned_frame_len(c) / c->subframes, hop = m->n_fft / 4;
    const size_t subs = frames * (size_t)c->subframes, syn = n / (size_t)hop + 1;
    float *row = (float *)aud_alloc_array((size_t)dim, sizeof(float), 1);
    float *logp = (float *)aud_alloc_array(subs, (size_t)nb, sizeof(float));
    float *mag = (float *)aud_alloc_array(syn, (size_t)nb, sizeof(float));
    int rc = MMG_OK;
    if (!row || !logp || !mag) {
        rc = aud_error(MMG_ERR_NOMEM, "audio: out of memory decoding %zu frames", frames);
        goto done;
    }
    for (size_t f = 0; f < frames; f++) {
        const int32_t *fi = ids + f * per;
        float g = l->gain_min + (float)fi[0] * l->gain_step;
        for (int32_t j = 0; j < dim; j++) row[j] = g;
        for (int32_t s = 0; s < c->stages; s++) {
            const float *cv = l->books[s].c +
                              (size_t)(fi[1 + s] - c->gain_levels - s * c->codebook_size) * dim;
            for (int32_t j = 0; j < dim; j++) row[j] += cv[j];
        }
        for (int32_t s = 0; s < c->subframes; s++) {
            float *p = logp + (f * c->subframes + s) * (size_t)nb;
            aud_mel_to_power(m, row + s * c->n_mels, p);
            for (int32_t k = 0; k < nb; k++) p[k] = logf(p[k] > 1e-20f ? p[k] : 1e-20f);
        }
    }
    /* synthesis frame t is centered at t*hop; subframe i at (i + 0.5)*sub_hop */
    for (size_t f = 0; f < syn; f++) {
        double u = (double)(f * (size_t)hop) / sub_hop - 0.5;
        size_t i0 = u <= 0 ? 0 : (size_t)u;
        if (i0 >= subs) i0 = subs - 1;
        size_t i1 = i0 + 1 < subs ? i0 + 1 : i0;
        float w = u <= 0 ? 0.0f : (float)(u - (double)i0);
        if (w > 1) w = 1;
        const float *a = logp + i0 * nb, *b = logp + i1 * nb;
        float *o = mag + f * nb;
        for (int32_t k = 0; k < nb; k++) o[k] = sqrtf(expf(a[k] + w * (b[k] - a[k])));
    }
    rc = aud_griffin_lim(m, mag, n, c->griffin_lim_iterations, c->seed, x);
done:
    aud_free(row);
    aud_free(logp);
    aud_free(mag);
    return rc;
}
