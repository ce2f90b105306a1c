/* plugins/vq/codebook.c - nearest codebook vector for many vectors.
 *
 * Brute force costs K*dim multiply-adds per vector (49,152 for a 1024-entry
 * codebook of 4x4 RGB image patches), done as one cblas_sgemm per batch with
 * ||x - c||^2 = ||x||^2 - 2 x·c + ||c||^2. It serves small dims (a pixel's
 * color) and is the reference the tests hold the fast path to.
 *
 * The fast path gives the same answer with far less work. Natural signals
 * (image patches, audio frames) put most of their variance in a few
 * directions (an image patch's brightness first), so we project vectors and
 * codebook on the codebook's top `pdim` principal directions Q (orthonormal).
 * For every c, ||Q^T(x - c)||^2 <= ||x - c||^2: the projected distance, an
 * inner product of size pdim, is a lower bound. We take the vector with the
 * smallest bound, compute its true distance `best`, and compute true
 * distances only for vectors whose bound is below `best` (plus a rounding
 * slack); every other vector is provably farther. On Kodak, 4x4 patches,
 * K=1024: stage 1 needs pdim 8 and ~1.1 true distances per patch; a residual
 * stage, whose variance is spread wider, pdim 16 and ~3.3.
 *
 * Q: subspace iteration on the codebook's covariance (sgemm) from a fixed
 * start, then Rayleigh-Ritz (a small Jacobi eigen-solve) to order the
 * directions; pdim is the fewest (a multiple of 4, at most 24) holding 93%
 * of the variance. Deterministic. Vectors are projected with sgemm; the
 * bounds come from sgemm too, or on AVX2 machines from a fused kernel that
 * keeps them in L1 (the same bounds up to rounding, the same answers).
 * Batches of vectors are split over threads (parallel.c). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vq-impl.h"

#define SEARCH_PMAX 24    /* at most this many projected dimensions */
#define SEARCH_CAPTURE 0.93 /* ...and no more than hold this share of the variance */
#define SEARCH_MIN_DIM 12 /* below this, brute force is as fast */
#define SUBSPACE_ITERS 40

void vq_codebook_free(vq_codebook *cb) {
    vq__free(cb->c);
    vq__free(cb->norm2);
    vq__free(cb->basis);
    vq__free(cb->mean_proj);
    vq__free(cb->cproj);
    vq__free(cb->cprojT);
    vq__free(cb->cproj_norm2);
    memset(cb, 0, sizeof *cb);
}

static void free_search(vq_codebook *cb) {
    vq__free(cb->basis);
    vq__free(cb->mean_proj);
    vq__free(cb->cproj);
    vq__free(cb->cprojT);
    vq__free(cb->cproj_norm2);
    cb->basis = cb->mean_proj = cb->cproj = cb->cprojT = cb->cproj_norm2 = NULL;
    cb->pdim = 0;
}

/* The true squared distance that decides between candidates. Its summing
 * order is fixed (four running sums, no reassociation), so every code path
 * and every x86-64 machine picks the same vector; it runs only for the few
 * candidates the bounds leave. */
static inline float sq_dist(const float *a, const float *b, int32_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1], d2 = a[i + 2] - b[i + 2],
              d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < n; i++) s0 += (a[i] - b[i]) * (a[i] - b[i]);
    return (s0 + s1) + (s2 + s3);
}

/* Orthonormalizes the columns of q (dim, p) in place (modified Gram-Schmidt,
 * in double). A column that vanishes is replaced by a unit vector. */
static void orthonormalize(float *q, int32_t dim, int32_t p) {
    for (int32_t j = 0; j < p; j++) {
        for (int32_t attempt = 0; attempt <= dim; attempt++) {
            for (int32_t i = 0; i < j; i++) {
                double dot = 0;
                for (int32_t r = 0; r < dim; r++) dot += (double)q[r * p + i] * q[r * p + j];
                for (int32_t r = 0; r < dim; r++) q[r * p + j] -= (float)(dot * q[r * p + i]);
            }
            double n2 = 0;
            for (int32_t r = 0; r < dim; r++) n2 += (double)q[r * p + j] * q[r * p + j];
            if (n2 > 1e-12) {
                float inv = (float)(1.0 / sqrt(n2));
                for (int32_t r = 0; r < dim; r++) q[r * p + j] *= inv;
                break;
            }
            /* degenerate: try unit vectors until one is independent (p <= dim) */
            for (int32_t r = 0; r < dim; r++) q[r * p + j] = r == (j + attempt) % dim ? 1.0f : 0.0f;
        }
    }
}

/* Eigen-decomposition of the symmetric n×n matrix a (double, destroyed) by
 * cyclic Jacobi rotations: eigenvalues in w, eigenvectors in the columns of
 * v (n, n). n is at most SEARCH_PMAX, so this is cheap. */
static void jacobi_eigen(double *a, int n, double *w, double *v) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) v[i * n + j] = i == j;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) off += a[i * n + j] * a[i * n + j];
        if (off < 1e-22) break;
        for (int pp = 0; pp < n; pp++)
            for (int q = pp + 1; q < n; q++) {
                double apq = a[pp * n + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * n + q] - a[pp * n + pp]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), sn = t * c;
                for (int r = 0; r < n; r++) { /* columns pp, q */
                    double x = a[r * n + pp], y = a[r * n + q];
                    a[r * n + pp] = c * x - sn * y;
                    a[r * n + q] = sn * x + c * y;
                }
                for (int r = 0; r < n; r++) { /* rows pp, q */
                    double x = a[pp * n + r], y = a[q * n + r];
                    a[pp * n + r] = c * x - sn * y;
                    a[q * n + r] = sn * x + c * y;
                }
                for (int r = 0; r < n; r++) {
                    double x = v[r * n + pp], y = v[r * n + q];
                    v[r * n + pp] = c * x - sn * y;
                    v[r * n + q] = sn * x + c * y;
                }
            }
    }
    for (int i = 0; i < n; i++) w[i] = a[i * n + i];
}

int vq_codebook_prepare(vq_codebook *cb) {
    const int32_t k = cb->k, dim = cb->dim;
    free_search(cb);
    vq__free(cb->norm2);
    cb->norm2 = (float *)vq_alloc_array((size_t)k, sizeof(float), 1);
    if (!cb->norm2) return vq__error(MMG_ERR_NOMEM, "vq: out of memory for codebook norms");
    for (int32_t i = 0; i < k; i++) {
        const float *c = cb->c + (size_t)i * dim;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int32_t j = 0; j < dim; j++) s += c[j] * c[j];
        cb->norm2[i] = s;
    }
    if (dim < SEARCH_MIN_DIM || k < 64) return MMG_OK;

    /* pmax directions from subspace iteration, a multiple of 4 */
    int32_t pmax = dim / 2 < SEARCH_PMAX ? dim / 2 : SEARCH_PMAX;
    pmax &= ~3;
    float *centered = (float *)vq_alloc_array((size_t)k, (size_t)dim, sizeof(float));
    float *cov = (float *)vq_alloc_array((size_t)dim, (size_t)dim, sizeof(float));
    float *mean = (float *)vq_alloc_array((size_t)dim, sizeof(float), 1);
    float *q = (float *)vq_alloc_array((size_t)dim, (size_t)pmax, sizeof(float));
    float *z = (float *)vq_alloc_array((size_t)dim, (size_t)pmax, sizeof(float));
    double *t = (double *)vq_alloc_array((size_t)pmax * pmax * 2 + pmax, sizeof(double), 1);
    if (!centered || !cov || !mean || !q || !z || !t) {
        vq__free(centered);
        vq__free(cov);
        vq__free(mean);
        vq__free(q);
        vq__free(z);
        vq__free(t);
        return vq__error(MMG_ERR_NOMEM, "vq: out of memory for the codebook search index");
    }
    for (int32_t j = 0; j < dim; j++) {
        double s = 0;
        for (int32_t i = 0; i < k; i++) s += cb->c[(size_t)i * dim + j];
        mean[j] = (float)(s / k);
    }
    for (int32_t i = 0; i < k; i++)
        for (int32_t j = 0; j < dim; j++)
            centered[(size_t)i * dim + j] = cb->c[(size_t)i * dim + j] - mean[j];
    /* cov (dim, dim) = centered^T centered */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dim, dim, k, 1.0f, centered, dim, centered,
                dim, 0.0f, cov, dim);
    double trace = 0;
    for (int32_t r = 0; r < dim; r++) trace += cov[r * dim + r];
    /* subspace iteration from a fixed pseudo-random start */
    uint64_t seed = 0x5EEDC0DEull;
    for (int32_t i = 0; i < dim * pmax; i++) q[i] = (float)(vq_rng_unit(&seed) - 0.5);
    orthonormalize(q, dim, pmax);
    for (int32_t it = 0; it < SUBSPACE_ITERS && trace > 0; it++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dim, pmax, dim, 1.0f, cov, dim, q,
                    pmax, 0.0f, z, pmax);
        float mx = 0; /* rescale: only the directions matter */
        for (int32_t i = 0; i < dim * pmax; i++) mx = fabsf(z[i]) > mx ? fabsf(z[i]) : mx;
        if (mx == 0) break;
        for (int32_t i = 0; i < dim * pmax; i++) z[i] /= mx;
        orthonormalize(z, dim, pmax);
        memcpy(q, z, sizeof(float) * (size_t)dim * pmax);
    }
    /* Rayleigh-Ritz: rotate q into principal directions, largest first */
    double *tm = t, *tv = t + (size_t)pmax * pmax, *tw = tv + (size_t)pmax * pmax;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dim, pmax, dim, 1.0f, cov, dim, q, pmax,
                0.0f, z, pmax);
    for (int32_t i = 0; i < pmax; i++)
        for (int32_t j = 0; j < pmax; j++) {
            double acc = 0;
            for (int32_t r = 0; r < dim; r++) acc += (double)q[r * pmax + i] * z[r * pmax + j];
            tm[i * pmax + j] = acc;
        }
    for (int32_t i = 0; i < pmax; i++) /* symmetrize away rounding */
        for (int32_t j = 0; j < i; j++) tm[i * pmax + j] = tm[j * pmax + i] = 0.5 * (tm[i * pmax + j] + tm[j * pmax + i]);
    jacobi_eigen(tm, pmax, tw, tv);
    int32_t order[SEARCH_PMAX];
    for (int32_t i = 0; i < pmax; i++) order[i] = i;
    for (int32_t i = 1; i < pmax; i++) /* by eigenvalue, descending; stable */
        for (int32_t j = i; j > 0 && tw[order[j]] > tw[order[j - 1]]; j--) {
            int32_t tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    /* keep the fewest directions (a multiple of 4) holding SEARCH_CAPTURE of
     * the variance: fewer cost less per bound, more prune better */
    int32_t p = pmax;
    double captured = 0;
    for (int32_t i = 0; i < pmax; i++) {
        captured += tw[order[i]];
        if ((i + 1) % 4 == 0 && captured >= SEARCH_CAPTURE * trace) {
            p = i + 1;
            break;
        }
    }
    cb->basis = (float *)vq_alloc_array((size_t)dim, (size_t)p, sizeof(float));
    cb->mean_proj = (float *)vq_alloc_array((size_t)p, sizeof(float), 1);
    cb->cproj = (float *)vq_alloc_array((size_t)k, (size_t)p, sizeof(float));
    const int32_t kpad = (k + 15) & ~15; /* the fused kernel takes 16 at a time */
    cb->cprojT = (float *)vq_alloc_array((size_t)kpad, (size_t)p, sizeof(float));
    cb->cproj_norm2 = (float *)vq_alloc_array((size_t)kpad, sizeof(float), 1);
    int rc = MMG_OK;
    if (!cb->basis || !cb->mean_proj || !cb->cproj || !cb->cprojT || !cb->cproj_norm2) {
        free_search(cb);
        rc = vq__error(MMG_ERR_NOMEM, "vq: out of memory for the codebook search index");
        goto done;
    }
    for (int32_t r = 0; r < dim; r++)
        for (int32_t j = 0; j < p; j++) {
            double acc = 0;
            for (int32_t i = 0; i < pmax; i++) acc += (double)q[r * pmax + i] * tv[i * pmax + order[j]];
            cb->basis[r * p + j] = (float)acc;
        }
    for (int32_t j = 0; j < p; j++) {
        double acc = 0;
        for (int32_t r = 0; r < dim; r++) acc += (double)mean[r] * cb->basis[r * p + j];
        cb->mean_proj[j] = (float)acc;
    }
    /* cproj (k, p) = centered basis */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, p, dim, 1.0f, centered, dim,
                cb->basis, p, 0.0f, cb->cproj, p);
    /* cprojT in blocks of 8 vectors, each block (p, 8), so the fused
     * kernel reads it contiguously; padding vectors project to 0 and get an
     * infinite norm, so they are never chosen */
    memset(cb->cprojT, 0, sizeof(float) * (size_t)kpad * p);
    for (int32_t i = 0; i < kpad; i++) {
        float acc = 0;
        for (int32_t j = 0; j < p && i < k; j++) {
            acc += cb->cproj[i * p + j] * cb->cproj[i * p + j];
            cb->cprojT[(size_t)(i / 8) * p * 8 + (size_t)j * 8 + i % 8] = cb->cproj[i * p + j];
        }
        cb->cproj_norm2[i] = i < k ? acc : INFINITY;
    }
    cb->pdim = p;
done:
    vq__free(centered);
    vq__free(cov);
    vq__free(mean);
    vq__free(q);
    vq__free(z);
    vq__free(t);
    return rc;
}

/* Rows per sgemm call: few enough that rows * k * inner stays under
 * OpenBLAS's threading threshold (65536 * 4 multiply-adds), so each call
 * runs on the calling thread and our threads (parallel.c) each run their
 * own batches, instead of OpenBLAS's threads spinning against ours. The bounds
 * of a batch (rows x k floats) stay in L1/L2. */
static size_t batch_rows(int32_t k, int32_t inner) {
    size_t r = (size_t)262144 / ((size_t)k * (size_t)inner);
    return r < 1 ? 1 : r > 64 ? 64 : r;
}

/* What one thread of a search needs. */
typedef struct search_job {
    const vq_codebook *cb;
    const float *x;
    size_t n, rows;
    int32_t *idx;
    float *dist;
    int fused;
    int failed;
} search_job;

static void brute_range(void *arg, size_t b_begin, size_t b_end, int32_t worker) {
    (void)worker;
    search_job *j = (search_job *)arg;
    const vq_codebook *cb = j->cb;
    const int32_t k = cb->k, dim = cb->dim;
    float *g = (float *)vq_alloc_array(j->rows, (size_t)k, sizeof(float));
    if (!g) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (size_t b = b_begin; b < b_end; b++) {
        size_t b0 = b * j->rows, nb = j->n - b0 < j->rows ? j->n - b0 : j->rows;
        const float *xb = j->x + b0 * dim;
        /* g (nb, k) = xb (nb, dim) · c^T (dim, k) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, k, dim, 1.0f, xb, dim, cb->c,
                    dim, 0.0f, g, k);
        for (size_t i = 0; i < nb; i++) {
            const float *xi = xb + i * dim;
            float xn = 0;
            for (int32_t e = 0; e < dim; e++) xn += xi[e] * xi[e];
            const float *gi = g + i * k;
            float best = INFINITY;
            int32_t bk = 0;
            for (int32_t c = 0; c < k; c++) {
                float d = cb->norm2[c] - 2.0f * gi[c];
                if (d < best) {
                    best = d;
                    bk = c;
                }
            }
            j->idx[b0 + i] = bk;
            if (j->dist) {
                float d = best + xn;
                j->dist[b0 + i] = d > 0 ? d : 0;
            }
        }
    }
    vq__free(g);
}

/* Batches go to threads only when each gets this many vectors. */
#define MIN_VECTORS_PER_THREAD 2048

static int brute_search(const vq_codebook *cb, const float *x, size_t n, int32_t *idx, float *dist,
                        int32_t threads) {
    search_job j = {cb, x, n, batch_rows(cb->k, cb->dim), idx, dist, 0, 0};
    size_t nbatch = (n + j.rows - 1) / j.rows;
    vq_parallel_for(nbatch, MIN_VECTORS_PER_THREAD / j.rows + 1, threads, brute_range, &j);
    if (j.failed) return vq__error(MMG_ERR_NOMEM, "vq: out of memory for codebook distances");
    return MMG_OK;
}

int vq_codebook_nearest_brute(const vq_codebook *cb, const float *x, size_t n, int32_t *idx,
                              float *dist) {
    return brute_search(cb, x, n, idx, dist, cb->threads);
}

/* One vector's search over its bounds row lb (k): on entry lb[c] holds
 * px·cproj[c]; it becomes the bound minus pn. Returns the nearest index and
 * its squared distance in *best_out. These scans over k bounds dominate
 * encoding, so x86-64 gets an AVX2 version picked at run time; both versions
 * make the same choices (same order, same ties). */
static inline void consider(const float *cvec, const float *xi, int32_t dim, int32_t c,
                            float *best, int32_t *bk) {
    float d = sq_dist(xi, cvec + (size_t)c * dim, dim);
    if (d < *best || (d == *best && c < *bk)) {
        *best = d;
        *bk = c;
    }
}

static int32_t scan_row_generic(const float *cvec, const float *cpn, float *lb, int32_t k,
                                const float *xi, int32_t dim, float pn, float *best_out) {
    float lbmin = INFINITY;
    int32_t m = 0;
    for (int32_t c = 0; c < k; c++) {
        float v = cpn[c] - 2.0f * lb[c];
        lb[c] = v;
        if (v < lbmin) {
            lbmin = v;
            m = c;
        }
    }
    float best = sq_dist(xi, cvec + (size_t)m * dim, dim);
    int32_t bk = m;
    /* the bounds carry float rounding of the order of eps * norms */
    const float slack = 1e-5f * (pn + 1.0f) + 1e-3f;
    for (int32_t c = 0; c < k; c++)
        if (c != m && lb[c] <= best + slack - pn) consider(cvec, xi, dim, c, &best, &bk);
    *best_out = best;
    return bk;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_SCAN_AVX2 1
/* The same search with the bounds computed here instead of by sgemm:
 * lb[c] = ||cproj_c||^2 - 2 px·cproj_c, from the blocked projections, for 4
 * vectors and 16 codebook entries per step; the bounds stay in L1/L2.
 * lb is (4, kpad), kpad = k rounded up to 16. */
#define FUSED_ROWS 4 /* the kernel below is written for exactly 4 */
__attribute__((target("avx2,fma"))) static void scan_fused_avx2(const vq_codebook *cb,
                                                               const float *px, const float *pn,
                                                               const float *x, int32_t rows,
                                                               float *lb, int32_t *idx,
                                                               float *dist) {
    const int32_t k = cb->k, p = cb->pdim, dim = cb->dim, kpad = (k + 15) & ~15;
    const float *cpn = cb->cproj_norm2, *ct = cb->cprojT;
    const __m256 mtwo = _mm256_set1_ps(-2.0f);
    /* a tile of 4 vectors x 16 codebook entries: eight accumulators in
     * registers, each projection load and broadcast serving four and two
     * FMAs; missing rows compute on row 0 again and are not stored */
    const float *p0 = px, *p1 = px + (rows > 1 ? p : 0), *p2 = px + (rows > 2 ? 2 * p : 0),
                *p3 = px + (rows > 3 ? 3 * p : 0);
    __m256 vmin[4];
    __m256 m0 = _mm256_set1_ps(INFINITY), m1 = m0, m2 = m0, m3 = m0;
    for (int32_t c = 0; c < kpad; c += 16) {
        const float *blk0 = ct + (size_t)c * p, *blk1 = blk0 + (size_t)8 * p;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int32_t j = 0; j < p; j++) {
            __m256 cv = _mm256_loadu_ps(blk0 + (size_t)j * 8), dv = _mm256_loadu_ps(blk1 + (size_t)j * 8);
            __m256 q = _mm256_set1_ps(p0[j]);
            a0 = _mm256_fmadd_ps(q, cv, a0);
            b0 = _mm256_fmadd_ps(q, dv, b0);
            q = _mm256_set1_ps(p1[j]);
            a1 = _mm256_fmadd_ps(q, cv, a1);
            b1 = _mm256_fmadd_ps(q, dv, b1);
            q = _mm256_set1_ps(p2[j]);
            a2 = _mm256_fmadd_ps(q, cv, a2);
            b2 = _mm256_fmadd_ps(q, dv, b2);
            q = _mm256_set1_ps(p3[j]);
            a3 = _mm256_fmadd_ps(q, cv, a3);
            b3 = _mm256_fmadd_ps(q, dv, b3);
        }
        __m256 n0 = _mm256_loadu_ps(cpn + c), n1 = _mm256_loadu_ps(cpn + c + 8);
        a0 = _mm256_fmadd_ps(mtwo, a0, n0);
        a1 = _mm256_fmadd_ps(mtwo, a1, n0);
        a2 = _mm256_fmadd_ps(mtwo, a2, n0);
        a3 = _mm256_fmadd_ps(mtwo, a3, n0);
        b0 = _mm256_fmadd_ps(mtwo, b0, n1);
        b1 = _mm256_fmadd_ps(mtwo, b1, n1);
        b2 = _mm256_fmadd_ps(mtwo, b2, n1);
        b3 = _mm256_fmadd_ps(mtwo, b3, n1);
        m0 = _mm256_min_ps(m0, _mm256_min_ps(a0, b0));
        m1 = _mm256_min_ps(m1, _mm256_min_ps(a1, b1));
        m2 = _mm256_min_ps(m2, _mm256_min_ps(a2, b2));
        m3 = _mm256_min_ps(m3, _mm256_min_ps(a3, b3));
        _mm256_storeu_ps(lb + c, a0);
        _mm256_storeu_ps(lb + c + 8, b0);
        if (rows > 1) {
            _mm256_storeu_ps(lb + (size_t)kpad + c, a1);
            _mm256_storeu_ps(lb + (size_t)kpad + c + 8, b1);
        }
        if (rows > 2) {
            _mm256_storeu_ps(lb + (size_t)2 * kpad + c, a2);
            _mm256_storeu_ps(lb + (size_t)2 * kpad + c + 8, b2);
        }
        if (rows > 3) {
            _mm256_storeu_ps(lb + (size_t)3 * kpad + c, a3);
            _mm256_storeu_ps(lb + (size_t)3 * kpad + c + 8, b3);
        }
    }
    vmin[0] = m0;
    vmin[1] = m1;
    vmin[2] = m2;
    vmin[3] = m3;
    for (int32_t r = 0; r < rows; r++) {
        const float *l = lb + (size_t)r * kpad, *xi = x + (size_t)r * dim;
        float mins[8], lbmin = INFINITY;
        _mm256_storeu_ps(mins, vmin[r]);
        for (int i = 0; i < 8; i++) lbmin = mins[i] < lbmin ? mins[i] : lbmin;
        /* the first index holding the minimum */
        int32_t m = 0;
        __m256 target = _mm256_set1_ps(lbmin);
        for (int32_t c = 0; c < kpad; c += 8) {
            int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(l + c), target, _CMP_EQ_OQ));
            if (mask) {
                m = c + __builtin_ctz((unsigned)mask);
                break;
            }
        }
        float best = sq_dist(xi, cb->c + (size_t)m * dim, dim);
        int32_t bk = m;
        const float slack = 1e-5f * (pn[r] + 1.0f) + 1e-3f, base = slack - pn[r];
        /* candidates: 16 bounds per branch; most groups have none */
        __m256 thr = _mm256_set1_ps(best + base);
        for (int32_t c = 0; c < kpad; c += 16) {
            __m256 lo = _mm256_cmp_ps(_mm256_loadu_ps(l + c), thr, _CMP_LE_OQ);
            __m256 hi = _mm256_cmp_ps(_mm256_loadu_ps(l + c + 8), thr, _CMP_LE_OQ);
            int mask = _mm256_movemask_ps(lo) | (_mm256_movemask_ps(hi) << 8);
            if (!mask) continue;
            float before = best;
            while (mask) {
                int32_t j = c + __builtin_ctz((unsigned)mask);
                mask &= mask - 1;
                if (j != m && l[j] <= best + base) consider(cb->c, xi, dim, j, &best, &bk);
            }
            if (best != before) thr = _mm256_set1_ps(best + base);
        }
        idx[r] = bk;
        if (dist) dist[r] = best;
    }
}

static int have_avx2(void) {
    vq__cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static int have_avx2(void) { return 0; }
#endif

static void search_range(void *arg, size_t b_begin, size_t b_end, int32_t worker) {
    (void)worker;
    search_job *jb = (search_job *)arg;
    const vq_codebook *cb = jb->cb;
    const int32_t k = cb->k, dim = cb->dim, p = cb->pdim;
    const size_t rows = jb->rows;
    /* g: the bounds of a batch (rows, k), or of FUSED_ROWS rows for the fused kernel */
    float *g = jb->fused ? (float *)vq_alloc_array(4, (size_t)((k + 15) & ~15), sizeof(float))
                         : (float *)vq_alloc_array(rows, (size_t)k, sizeof(float));
    float *px = (float *)vq_alloc_array(rows, (size_t)p, sizeof(float));
    if (!g || !px) {
        __atomic_store_n(&jb->failed, 1, __ATOMIC_RELAXED);
        vq__free(g);
        vq__free(px);
        return;
    }
    for (size_t b = b_begin; b < b_end; b++) {
        size_t b0 = b * rows, nb = jb->n - b0 < rows ? jb->n - b0 : rows;
        const float *xb = jb->x + b0 * dim;
        /* px (nb, p) = xb (nb, dim) · basis (dim, p) - mean_proj */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, p, dim, 1.0f, xb, dim,
                    cb->basis, p, 0.0f, px, p);
        float pn[64]; /* rows <= 64 */
        for (size_t i = 0; i < nb; i++) {
            float *pi = px + i * p;
            pn[i] = 0;
            for (int32_t e = 0; e < p; e++) {
                pi[e] -= cb->mean_proj[e];
                pn[i] += pi[e] * pi[e];
            }
        }
#ifdef HAVE_SCAN_AVX2
        if (jb->fused) {
            for (size_t i = 0; i < nb; i += FUSED_ROWS) {
                int32_t r = nb - i < FUSED_ROWS ? (int32_t)(nb - i) : FUSED_ROWS;
                scan_fused_avx2(cb, px + i * p, pn + i, xb + i * dim, r, g, jb->idx + b0 + i,
                                jb->dist ? jb->dist + b0 + i : NULL);
            }
            continue;
        }
#endif
        /* g (nb, k) = px · cproj^T: the projected dot products */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, k, p, 1.0f, px, p, cb->cproj,
                    p, 0.0f, g, k);
        for (size_t i = 0; i < nb; i++) {
            float best;
            jb->idx[b0 + i] = scan_row_generic(cb->c, cb->cproj_norm2, g + i * k, k, xb + i * dim,
                                               dim, pn[i], &best);
            if (jb->dist) jb->dist[b0 + i] = best;
        }
    }
    vq__free(g);
    vq__free(px);
}

int vq_codebook_search(const vq_codebook *cb, const float *x, size_t n, int32_t *idx,
                       float *dist, int32_t threads) {
    if (cb->pdim == 0) return brute_search(cb, x, n, idx, dist, threads);
    /* MMGEN_VQ_NO_AVX2 forces the portable path (tests compare both) */
    search_job j = {cb, x, n, batch_rows(cb->k, cb->pdim), idx, dist,
                    have_avx2() && !getenv("MMGEN_VQ_NO_AVX2"), 0};
    size_t nbatch = (n + j.rows - 1) / j.rows;
    vq_parallel_for(nbatch, MIN_VECTORS_PER_THREAD / j.rows + 1, threads, search_range, &j);
    if (j.failed) return vq__error(MMG_ERR_NOMEM, "vq: out of memory for codebook distances");
    return MMG_OK;
}

int vq_codebook_nearest(const vq_codebook *cb, const float *x, size_t n, int32_t *idx,
                        float *dist) {
    return vq_codebook_search(cb, x, n, idx, dist, cb->threads);
}
