/* core/loss.h - cross-entropy over logits, forward and backward fused (private).
 *
 * For each of N rows of V logits with target y (ignored when y == ignore_index):
 *   p = softmax(logits)
 *   loss = (1-s) * -log p[y] + (s/V) * sum_j -log p[j]        (s: label smoothing)
 * as torch.nn.functional.cross_entropy(..., ignore_index, label_smoothing) with
 * reduction 'mean' over the rows that count. The backward is
 *   dlogits = scale * (p - (1-s)*onehot(y) - s/V)             (0 for ignored rows)
 * written over the logits in place, so a (B*T, V) buffer is never doubled: for
 * GPT-2's vocabulary that buffer is the largest activation by far. */
#ifndef MMGEN_CORE_LOSS_H
#define MMGEN_CORE_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/status.h"

/* Counts the rows whose target is not ignore_index. Targets outside [0, V) other
 * than ignore_index give MMG_ERR_RANGE naming the row and the value. */
mmg_status mmg__ce_count(const int32_t *targets, size_t N, int V, int32_t ignore_index,
                         size_t *out_count);

/* logits (N, V) in: logits, out (when want_grad): dlogits multiplied by
 * grad_scale (usually 1/number of counted rows of the whole optimizer step).
 * *loss_sum receives the SUM of the per-row losses in double (divide by the
 * count for the mean). A NaN or infinite loss gives MMG_ERR_NUMERIC naming the
 * row. Targets must have been checked with mmg__ce_count. */
mmg_status mmg__ce_forward_backward(float *logits, const int32_t *targets, size_t N, int V,
                                    int32_t ignore_index, float label_smoothing, int want_grad,
                                    float grad_scale, double *loss_sum);

#endif /* MMGEN_CORE_LOSS_H */
