/* core/optimizer.c - AdamW, global-norm clipping and the warm-up + cosine schedule.
 *
 * See optimizer.h for the exact update. Scalars that PyTorch computes in Python
 * (bias corrections, step size) are computed here in double and rounded to
 * float once, as PyTorch does when it passes them to a float kernel. */
#include "optimizer.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "memory.h"

mmg_status mmg__adamw_init(mmg__adamw *opt, size_t n_params, const mmg__param_range *ranges,
                           size_t n_ranges, float beta1, float beta2, float eps,
                           float weight_decay) {
    memset(opt, 0, sizeof *opt);
    for (size_t i = 0; i < n_ranges; i++) {
        if (ranges[i].offset > n_params || ranges[i].count > n_params - ranges[i].offset)
            return mmg__error(MMG_ERR_INVALID_ARG,
                              "optimizer: parameter range %zu [%zu, +%zu) lies outside the %zu parameters",
                              i, ranges[i].offset, ranges[i].count, n_params);
    }
    size_t bytes;
    if (mmg__mul_size(n_params ? n_params : 1, sizeof(float), &bytes))
        return mmg__error(MMG_ERR_LIMIT, "optimizer: %zu parameters overflow size_t", n_params);
    opt->m = mmg__calloc(1, bytes);
    opt->v = mmg__calloc(1, bytes);
    opt->ranges = mmg__malloc((n_ranges ? n_ranges : 1) * sizeof *ranges);
    if (!opt->m || !opt->v || !opt->ranges) {
        mmg__adamw_release(opt);
        return mmg__error(MMG_ERR_NOMEM, "optimizer: cannot allocate AdamW moments for %zu parameters",
                          n_params);
    }
    if (n_ranges) memcpy(opt->ranges, ranges, n_ranges * sizeof *ranges);
    opt->n_ranges = n_ranges;
    opt->n_params = n_params;
    opt->beta1 = beta1;
    opt->beta2 = beta2;
    opt->eps = eps;
    opt->weight_decay = weight_decay;
    return MMG_OK;
}

void mmg__adamw_release(mmg__adamw *opt) {
    if (!opt) return;
    mmg__free(opt->m);
    mmg__free(opt->v);
    mmg__free(opt->ranges);
    memset(opt, 0, sizeof *opt);
}

/* One range of the update, element-wise (see optimizer.h for the formula). For
 * weights without decay decay_mul is exactly 1, a multiplication that changes
 * nothing. (The core builds with -fno-math-errno so that sqrtf has no errno
 * path and this loop vectorizes.) */
static void adamw_range(float *restrict p, float *restrict m, float *restrict v,
                        const float *restrict g, long n, float decay_mul, float b1, float b2,
                        float one_m_b1, float one_m_b2, float bc2_sqrt, float eps, float step_size) {
    for (long i = 0; i < n; i++) {
        float pi = p[i] * decay_mul;
        float gi = g[i];
        float mi = m[i] * b1 + gi * one_m_b1;
        float vi = v[i] * b2 + gi * gi * one_m_b2;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        pi = pi + (-step_size) * (mi / denom);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi;
    }
}

void mmg__adamw_update(mmg__adamw *opt, float *params, const float *grads, float lr) {
    opt->t += 1;
    double t = (double)opt->t;
    double bc1 = 1.0 - pow((double)opt->beta1, t);
    double bc2 = 1.0 - pow((double)opt->beta2, t);
    const float step_size = (float)((double)lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    const float one_m_b1 = (float)(1.0 - (double)b1), one_m_b2 = (float)(1.0 - (double)b2);
    const float decay_mul = (float)(1.0 - (double)lr * (double)opt->weight_decay);
    enum { CHUNK = 1 << 14 };
    for (size_t r = 0; r < opt->n_ranges; r++) {
        const size_t off = opt->ranges[r].offset;
        const long n = (long)opt->ranges[r].count;
        const float dm = opt->ranges[r].decay ? decay_mul : 1.0f;
        const long n_chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (n > 65536)
        for (long c = 0; c < n_chunks; c++) {
            const long lo = c * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
            const size_t o = off + (size_t)lo;
            adamw_range(params + o, opt->m + o, opt->v + o, grads + o, len, dm, b1, b2, one_m_b1,
                        one_m_b2, bc2_sqrt, eps, step_size);
        }
    }
}

double mmg__grad_norm(const float *grads, size_t n) {
    /* Fixed-size blocks summed in order: the result does not depend on the
     * thread count, which keeps training bit-reproducible across machines. */
    enum { BLOCK = 1 << 16 };
    long nblocks = (long)((n + BLOCK - 1) / BLOCK);
    double total = 0.0;
    if (nblocks <= 1) {
        for (size_t i = 0; i < n; i++) total += (double)grads[i] * grads[i];
        return sqrt(total);
    }
    double partial_stack[64];
    double *partial = nblocks <= 64 ? partial_stack : mmg__malloc((size_t)nblocks * sizeof(double));
    if (!partial) { /* no memory for the partial sums: one sequential pass, same order */
        for (long b = 0; b < nblocks; b++) {
            size_t lo = (size_t)b * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
            double s = 0.0;
            for (size_t i = lo; i < hi; i++) s += (double)grads[i] * grads[i];
            total += s;
        }
        return sqrt(total);
    }
#pragma omp parallel for schedule(static)
    for (long b = 0; b < nblocks; b++) {
        size_t lo = (size_t)b * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) s += (double)grads[i] * grads[i];
        partial[b] = s;
    }
    for (long b = 0; b < nblocks; b++) total += partial[b];
    if (partial != partial_stack) mmg__free(partial);
    return sqrt(total);
}

double mmg__clip_grad_norm(float *grads, size_t n, float max_norm) {
    double norm = mmg__grad_norm(grads, n);
    if (max_norm > 0.0f) {
        float coef = (float)((double)max_norm / (norm + 1e-6));
        if (coef < 1.0f) {
            long ln = (long)n;
#pragma omp parallel for schedule(static) if (ln > 65536)
            for (long i = 0; i < ln; i++) grads[i] *= coef;
        }
    }
    return norm;
}

float mmg__lr_at(int64_t step, float lr, float min_lr, int64_t warmup_steps, int64_t decay_steps) {
    if (step < warmup_steps) return (float)((double)lr * (double)(step + 1) / (double)(warmup_steps + 1));
    if (decay_steps <= warmup_steps) return lr;
    if (step >= decay_steps) return min_lr;
    double ratio = (double)(step - warmup_steps) / (double)(decay_steps - warmup_steps);
    double coeff = 0.5 * (1.0 + cos(3.14159265358979323846 * ratio));
    return (float)((double)min_lr + coeff * ((double)lr - (double)min_lr));
}
