/* core/gemv.h - F32 matrix-vector products for decoding (private): each
 * output is the dot product of one weight row and one input row in one
 * fixed order on every CPU, and one pass over a block of weight rows serves
 * any number of input rows.
 *
 * Decoding one token reads every weight once for a few FLOPs each, so it
 * runs at memory speed; decoding G sequences at once can read each weight
 * once for all G (mmg_context_decode_batch) if the product keeps the G
 * inputs in registers, which G separate sgemv calls do not. And a row must
 * come out the same bits whether it is decoded alone or beside others, and
 * on every kernel: so the order is defined here, not left to BLAS:
 *
 *   acc[l] = fma(w[k], x[k], acc[l]) for k = l, l + 16, l + 32, ... (16 lanes,
 *            each one fused multiply-add chain in k order; lanes past K's
 *            last full 16 take the tail the same way)
 *   dot    = ((acc[0..8) + acc[8..16)) summed to 4, then 2, then 1 lanes as
 *            a fixed tree: s8[l] = acc[l] + acc[l+8], s4[l] = s8[l] + s8[l+4],
 *            s2[l] = s4[l] + s4[l+2], dot = s2[0] + s2[1]
 *
 * The AVX-512 and AVX2 (+FMA) kernels compute exactly that, and the scalar
 * one is its definition (with C's fmaf), so they agree bit for bit. */
#ifndef MMGEN_CORE_GEMV_H
#define MMGEN_CORE_GEMV_H

#include <stddef.h>
#include <stdint.h>

/* out[g * ldo + r] = (beta ? out[g * ldo + r] : 0) + dot(w + r K, x + g K, K)
 * for r < n, g < G: n weight rows and G input rows of K floats each. */
void mmg__gemv_rows(float *out, int ldo, int beta, const float *w, int n, int K, const float *x,
                    int G);

/* The same with F16 weights (IEEE half bits), each widened to float exactly
 * before its multiply-add: the definition above on the widened row. */
void mmg__gemv_rows_f16(float *out, int ldo, int beta, const uint16_t *w, int n, int K,
                        const float *x, int G);

/* mmg__gemv_rows / mmg__gemv_rows_f16 with the rows split among the threads
 * of an OpenMP team, one run of rows each (the kernels read a run as long
 * streams, which blocks of a few dozen rows would cut short); on the
 * calling thread alone below 32768 multiply-adds per input row. The same
 * bits as the calls above: each row's result never depends on the split. */
void mmg__gemv_rows_par(float *out, int ldo, int beta, const float *w, int n, int K, const float *x,
                        int G);
void mmg__gemv_rows_f16_par(float *out, int ldo, int beta, const uint16_t *w, int n, int K,
                            const float *x, int G);

/* The definition above for one pair of rows. */
float mmg__gemv_dot_ref(const float *w, const float *x, int K);
float mmg__gemv_dot_ref_f16(const uint16_t *w, const float *x, int K);

/* Kernels by name, for tests and benchmarks. */
typedef enum mmg__gemv_kernel {
    MMG__GEMV_KERNEL_AUTO = 0,   /* the best the CPU runs (the default) */
    MMG__GEMV_KERNEL_SCALAR = 1, /* portable C with fmaf: the reference */
    MMG__GEMV_KERNEL_AVX2 = 2,   /* AVX2 + FMA (+ F16C) */
    MMG__GEMV_KERNEL_AVX512 = 3  /* AVX-512 F */
} mmg__gemv_kernel;

/* Nonzero when this CPU (and build) runs kernel k. */
int mmg__gemv_kernel_supported(mmg__gemv_kernel k);
/* Makes every later product use kernel k (AUTO: pick again). Returns 0, or
 * -1 (nothing changed) when the CPU cannot run it. Process-wide: for tests
 * and benchmarks, not while other threads compute. */
int mmg__gemv_kernel_force(mmg__gemv_kernel k);
/* The kernel in use ("avx512", "avx2", "scalar"). */
const char *mmg__gemv_kernel_name(void);

#endif /* MMGEN_CORE_GEMV_H */
