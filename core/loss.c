/* core/loss.c - fused softmax + cross-entropy with ignore index and label smoothing.
 *
 * Each row is independent, so rows are spread over threads and the per-row
 * losses are summed afterwards in row order: the total does not depend on the
 * thread count. The log-sum-exp is taken in double so the loss agrees with
 * PyTorch to well under 1e-5 relative even for 50k-way softmaxes. */
#include "loss.h"

#include <math.h>

#include "error.h"
#include "train_math.h"
#include "memory.h"

mmg_status mmg__ce_count(const int32_t *targets, size_t N, int V, int32_t ignore_index,
                         size_t *out_count) {
    size_t count = 0;
    for (size_t i = 0; i < N; i++) {
        int32_t y = targets[i];
        if (y == ignore_index) continue;
        if (y < 0 || y >= V)
            return mmg__error(MMG_ERR_RANGE,
                              "cross-entropy: target %d at position %zu is outside the vocabulary "
                              "[0, %d) and is not the ignore index %d",
                              (int)y, i, V, (int)ignore_index);
        count++;
    }
    *out_count = count;
    return MMG_OK;
}

/* One row: returns the loss (NaN if any logit is NaN or infinite) and writes
 * dlogits if asked. exp is evaluated once per logit, sums are in double. */
MMG__VEC_CLONES
static double ce_row(float *x, int32_t y, int V, float s, int want_grad, float scale) {
    float maxv = -INFINITY;
    for (int j = 0; j < V; j++) maxv = x[j] > maxv ? x[j] : maxv;
    if (!isfinite(maxv)) return NAN; /* +inf logit (or every one -inf) */
    const double xy = (double)x[y];
    double sum = 0.0, sum_x = 0.0;
    if (want_grad) {
#pragma omp simd reduction(+ : sum, sum_x)
        for (int j = 0; j < V; j++) {
            float e = mmg__exp_nonpos(x[j] - maxv);
            sum_x += (double)x[j];
            sum += (double)e;
            x[j] = e;
        }
    } else {
#pragma omp simd reduction(+ : sum, sum_x)
        for (int j = 0; j < V; j++) {
            sum_x += (double)x[j];
            sum += (double)mmg__exp_nonpos(x[j] - maxv);
        }
    }
    if (!isfinite(sum) || !isfinite(sum_x)) return NAN;
    double lse = (double)maxv + log(sum); /* log sum_j exp(x_j) */
    double nll = lse - xy;
    double loss = nll;
    if (s != 0.0f) loss = (1.0 - (double)s) * nll + (double)s * (lse - sum_x / V);
    if (want_grad) {
        const float mul = (float)((double)scale / sum);
        const float smooth = scale * (s / (float)V);
#pragma omp simd
        for (int j = 0; j < V; j++) x[j] = x[j] * mul - smooth;
        x[y] -= scale * (1.0f - s);
    }
    return loss;
}

mmg_status mmg__ce_forward_backward(float *logits, const int32_t *targets, size_t N, int V,
                                    int32_t ignore_index, float label_smoothing, int want_grad,
                                    float grad_scale, double *loss_sum) {
    double *row_loss = mmg__malloc((N ? N : 1) * sizeof(double));
    if (!row_loss) return mmg__error(MMG_ERR_NOMEM, "cross-entropy: cannot allocate %zu row losses", N);
    long n = (long)N;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float *x = logits + (size_t)i * (size_t)V;
        int32_t y = targets[i];
        if (y == ignore_index) {
            row_loss[i] = 0.0;
            if (want_grad)
                for (int j = 0; j < V; j++) x[j] = 0.0f;
            continue;
        }
        row_loss[i] = ce_row(x, y, V, label_smoothing, want_grad, grad_scale);
    }
    double total = 0.0;
    for (size_t i = 0; i < N; i++) {
        if (!isfinite(row_loss[i])) {
            double bad = row_loss[i];
            mmg__free(row_loss);
            return mmg__error(MMG_ERR_NUMERIC,
                              "cross-entropy: the loss at position %zu is %s (the logits hold NaN "
                              "or infinity: lower the learning rate or check the data)",
                              i, isnan(bad) ? "NaN" : "infinite");
        }
        total += row_loss[i];
    }
    mmg__free(row_loss);
    *loss_sum = total;
    return MMG_OK;
}
