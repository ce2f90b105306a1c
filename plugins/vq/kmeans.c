/* plugins/vq/kmeans.c - learning a codebook with k-means.
 *
 * Seeding is k-means++ (Arthur & Vassilvitskii 2007): each new center is a
 * training point drawn with probability proportional to its squared distance
 * to the nearest center so far; the distances to each new center come from
 * cblas_sgemv. Then Lloyd iterations: assign every point to its nearest
 * center (codebook.c, sgemm), move each center to the mean of its points.
 * A center left with no points is re-seeded at the point that is currently
 * worst served (largest squared error), so no codebook entry is wasted.
 *
 * Determinism: one splitmix64 stream from the seed; sums in double, in point
 * order; ties to the lowest index. BLAS splits its work by rows and columns,
 * never along the sums, so results do not depend on the thread count. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "vq-impl.h"

/* mind[i] = min(mind[i], ||x_i - c||^2), with t = X·c from sgemv. */
static void update_min_dist(const float *x, const float *xn, size_t n, int32_t dim, const float *c,
                            float *t, float *mind) {
    float cn = 0;
    for (int32_t j = 0; j < dim; j++) cn += c[j] * c[j];
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, dim, 1.0f, x, dim, c, 1, 0.0f, t, 1);
    for (size_t i = 0; i < n; i++) {
        float d = xn[i] - 2.0f * t[i] + cn;
        d = d > 0 ? d : 0;
        if (d < mind[i]) mind[i] = d;
    }
}

static void seed_plus_plus(const float *x, size_t n, int32_t dim, int32_t k, uint64_t *rng,
                           float *c, float *xn, float *t, float *mind) {
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * dim;
        float s = 0;
        for (int32_t j = 0; j < dim; j++) s += xi[j] * xi[j];
        xn[i] = s;
        mind[i] = INFINITY;
    }
    size_t first = (size_t)vq_rng_below(rng, n);
    memcpy(c, x + first * dim, sizeof(float) * dim);
    update_min_dist(x, xn, n, dim, c, t, mind);
    for (int32_t j = 1; j < k; j++) {
        double total = 0;
        for (size_t i = 0; i < n; i++) total += mind[i];
        size_t pick;
        if (total > 0) {
            double u = vq_rng_unit(rng) * total, acc = 0;
            pick = n - 1;
            for (size_t i = 0; i < n; i++) {
                acc += mind[i];
                if (acc > u && mind[i] > 0) {
                    pick = i;
                    break;
                }
            }
        } else { /* every point already is a center: duplicates are all that is left */
            pick = (size_t)vq_rng_below(rng, n);
        }
        float *cj = c + (size_t)j * dim;
        memcpy(cj, x + pick * dim, sizeof(float) * dim);
        update_min_dist(x, xn, n, dim, cj, t, mind);
    }
}

int vq_kmeans_lloyd(const float *x, size_t n, int32_t iters, vq_codebook *cb) {
    const int32_t k = cb->k, dim = cb->dim;
    float *dist = (float *)vq_alloc_array(n, sizeof(float), 1);
    int32_t *assign = (int32_t *)vq_alloc_array(n, sizeof(int32_t), 1);
    int32_t *prev = (int32_t *)vq_alloc_array(n, sizeof(int32_t), 1);
    double *sums = (double *)vq_alloc_array((size_t)k, (size_t)dim, sizeof(double));
    int64_t *counts = (int64_t *)vq_alloc_array((size_t)k, sizeof(int64_t), 1);
    int rc = MMG_OK;
    if (!dist || !assign || !prev || !sums || !counts) {
        rc = vq__error(MMG_ERR_NOMEM, "vq: out of memory for k-means (%zu points, k = %d)", n, k);
        goto done;
    }
    for (int32_t it = 0; it < iters; it++) {
        if ((rc = vq_codebook_prepare(cb)) != MMG_OK) goto done;
        if ((rc = vq_codebook_nearest(cb, x, n, assign, dist)) != MMG_OK) goto done;
        size_t changed = 0;
        if (it > 0)
            for (size_t i = 0; i < n; i++) changed += assign[i] != prev[i];
        memcpy(prev, assign, sizeof(int32_t) * n);

        memset(sums, 0, sizeof(double) * (size_t)k * dim);
        memset(counts, 0, sizeof(int64_t) * (size_t)k);
        for (size_t i = 0; i < n; i++) {
            double *s = sums + (size_t)assign[i] * dim;
            const float *xi = x + i * dim;
            for (int32_t j = 0; j < dim; j++) s[j] += xi[j];
            counts[assign[i]]++;
        }
        int32_t empty = 0;
        for (int32_t c = 0; c < k; c++) {
            float *cc = cb->c + (size_t)c * dim;
            if (counts[c] == 0) {
                /* re-seed at the worst-served point; zero its error so the
                 * next empty cluster picks another one */
                size_t worst = 0;
                for (size_t i = 1; i < n; i++)
                    if (dist[i] > dist[worst]) worst = i;
                memcpy(cc, x + worst * dim, sizeof(float) * dim);
                dist[worst] = 0;
                empty++;
                continue;
            }
            const double *s = sums + (size_t)c * dim;
            for (int32_t j = 0; j < dim; j++) cc[j] = (float)(s[j] / (double)counts[c]);
        }
        vq__log(MMG_PLUGIN_LOG_DEBUG, "vq: k-means iteration %d: %zu changed, %d re-seeded",
                it + 1, changed, empty);
        if (it > 0 && changed == 0 && empty == 0) break;
    }
    rc = vq_codebook_prepare(cb);
done:
    vq__free(dist);
    vq__free(assign);
    vq__free(prev);
    vq__free(sums);
    vq__free(counts);
    return rc;
}

int vq_kmeans_fit(const float *x, size_t n, int32_t dim, int32_t k, int32_t iters, uint64_t seed,
                  int32_t threads, vq_codebook *cb) {
    memset(cb, 0, sizeof *cb);
    if (n == 0) return vq__error(MMG_ERR_CONFIG, "vq: k-means got no training vectors");
    if (k < 1 || dim < 1)
        return vq__error(MMG_ERR_INVALID_ARG, "vq: k-means needs k >= 1 and dim >= 1 (k = %d, "
                         "dim = %d)", k, dim);
    cb->k = k;
    cb->dim = dim;
    cb->threads = threads;
    cb->c = (float *)vq_alloc_array((size_t)k, (size_t)dim, sizeof(float));
    float *xn = (float *)vq_alloc_array(n, sizeof(float), 1);
    float *t = (float *)vq_alloc_array(n, sizeof(float), 1);
    float *mind = (float *)vq_alloc_array(n, sizeof(float), 1);
    int rc = MMG_OK;
    if (!cb->c || !xn || !t || !mind) {
        rc = vq__error(MMG_ERR_NOMEM, "vq: out of memory for k-means (%zu points, k = %d)", n, k);
    } else {
        uint64_t rng = seed;
        seed_plus_plus(x, n, dim, k, &rng, cb->c, xn, t, mind);
    }
    vq__free(xn);
    vq__free(t);
    vq__free(mind);
    if (rc == MMG_OK) rc = vq_kmeans_lloyd(x, n, iters, cb);
    if (rc != MMG_OK) vq_codebook_free(cb);
    return rc;
}
