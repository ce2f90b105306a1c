/* tests/test_quant.c - Q8_0 weights (core/quant.h, ABI.md, "Quantized weights"): the block
 * format against ggml's definition, every kernel the CPU runs against a
 * plain reference written here (bit for bit), a quantized model's logits
 * against the F32 model's, save/load round trips, what a quantized model
 * refuses (training, writing weights), and malformed quantized files. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mmgen/mmgen.h"
#include "model-impl.h"
#include "memory.h"
#include "model_context.h"
#include "quant.h"
#include "safetensors.h"

#include "quant_test.h"

/* ---- the format -------------------------------------------------------------------- */

/* ggml's quantize_row_q8_0_ref on a block whose max is 127: d = 1, and
 * q = roundf(x), halves away from zero. */
Test(quant_format, matches_ggml_reference_rounding) {
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) + 0.5f; /* -15.5 .. 15.5 */
    x[0] = -127.0f;
    x[31] = 2.5f;
    int8_t q[32];
    uint16_t d;
    cr_assert_eq(mmg__q8_quantize(x, 1, q, &d), 0);
    cr_assert_eq(d, 0x3c00, "d = %#x, expected half 1.0", d);
    cr_assert_eq(q[0], -127);
    cr_assert_eq(q[31], 3, "2.5 rounds away from zero as roundf");
    cr_assert_eq(q[1], -15, "-14.5 -> %d", q[1]);
    cr_assert_eq(q[16], 1, "0.5 -> %d", q[16]);
    /* the file form is ggml's block_q8_0: d little-endian, then qs */
    uint8_t blk[34];
    mmg__quant_pack(MMG__QUANT_Q8_0, q, &d, 0, blk, 34);
    cr_assert_eq(blk[0], 0x00);
    cr_assert_eq(blk[1], 0x3c);
    cr_assert_eq(memcmp(blk + 2, q, 32), 0);
}

Test(quant_format, round_trip_error_bound) {
    enum { NB = 200 };
    float *x = malloc(sizeof(float) * NB * 32), *y = malloc(sizeof(float) * NB * 32);
    int8_t *q = malloc(NB * 32);
    uint16_t d[NB];
    for (int k = 0; k < NB; k++) {
        float scale = powf(10.0f, (float)(k % 9) - 4.0f); /* 1e-4 .. 1e4 */
        for (int i = 0; i < 32; i++) x[k * 32 + i] = frand() * scale;
        if (k % 7 == 0) x[k * 32 + 5] = 0.0f;
    }
    memset(x + 3 * 32, 0, 32 * sizeof(float)); /* an all-zero block */
    cr_assert_eq(mmg__q8_quantize(x, NB, q, d), 0);
    mmg__q8_dequantize(q, d, NB, y);
    double worst = 0;
    for (int k = 0; k < NB; k++) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[k * 32 + i]));
        const float dk = amax / 127.0f;
        /* |x - d q| <= d / 2 from rounding, plus |q| |d - half(d)|, where a half
         * is within d 2^-11 of d, or 2^-25 below 2^-14 (subnormal halves) */
        const double bound = (double)dk * 0.5 + 127.0 * fmax((double)dk / 2048.0, 0x1p-25);
        for (int i = 0; i < 32; i++) {
            const int v = q[k * 32 + i];
            cr_assert(v >= -127 && v <= 127);
            double err = fabs((double)x[k * 32 + i] - (double)y[k * 32 + i]);
            cr_assert_leq(err, bound, "block %d elem %d: error %g > bound %g", k, i, err, bound);
            if (dk > 0x1p-14f) worst = fmax(worst, err / dk);
        }
    }
    for (int i = 0; i < 32; i++) cr_assert_eq(y[3 * 32 + i], 0.0f);
    cr_log_info("Q8_0 round trip: worst error %.4f * d for normal half scales (bound %.4f * d)",
                worst, 0.5 + 127.0 / 2048.0);
    /* file blocks: pack in odd-sized pieces, unpack, same arrays */
    uint8_t *file = malloc(NB * 34);
    for (size_t off = 0; off < NB * 34;) {
        size_t n = 1 + rnd() % 77;
        if (n > NB * 34 - off) n = NB * 34 - off;
        mmg__quant_pack(MMG__QUANT_Q8_0, q, d, off, file + off, n);
        off += n;
    }
    int8_t *q2 = malloc(NB * 32);
    uint16_t d2[NB];
    cr_assert_eq(mmg__quant_unpack(MMG__QUANT_Q8_0, file, NB, q2, d2), 0);
    cr_assert_eq(memcmp(q, q2, NB * 32), 0);
    cr_assert_eq(memcmp(d, d2, sizeof d), 0);
    file[5 * 34 + 2 + 9] = 0x80; /* -128 in block 5 */
    cr_assert_eq(mmg__quant_unpack(MMG__QUANT_Q8_0, file, NB, q2, d2), 6);
    free(x), free(y), free(q), free(q2), free(file);
}

Test(quant_format, refuses_what_q8_0_cannot_hold) {
    float x[64] = {0};
    int8_t q[64];
    uint16_t d[2];
    x[40] = NAN;
    cr_assert_eq(mmg__q8_quantize(x, 2, q, d), 2);
    x[40] = INFINITY;
    cr_assert_eq(mmg__q8_quantize(x, 2, q, d), 2);
    x[40] = 1e7f; /* d = 78740 > 65504: no half holds it */
    cr_assert_eq(mmg__q8_quantize(x, 2, q, d), 2);
    x[40] = 8e6f;
    cr_assert_eq(mmg__q8_quantize(x, 2, q, d), 0);
}

Test(quant_format, activation_rounding_and_non_finite) {
    float x[64];
    for (int i = 0; i < 32; i++) x[i] = (float)i - 16.0f + 0.5f;
    x[0] = 127.0f; /* d = 1: q = nearest even */
    for (int i = 32; i < 64; i++) x[i] = 1.0f;
    x[50] = NAN;
    int8_t q[64];
    float d[2];
    int32_t s[2];
    mmg__q8_quantize_act(x, 64, q, d, s);
    cr_assert_eq(d[0], 1.0f);
    cr_assert_eq(q[16], 0, "0.5 -> %d (ties to even)", q[16]);
    cr_assert_eq(q[17], 2, "1.5 -> %d", q[17]);
    cr_assert_eq(q[18], 2, "2.5 -> %d", q[18]);
    cr_assert_eq(q[15], 0, "-0.5 -> %d", q[15]);
    int32_t sum = 0;
    for (int i = 0; i < 32; i++) sum += q[i];
    cr_assert_eq(s[0], sum);
    cr_assert(isnan(d[1]));
    for (int i = 32; i < 64; i++) cr_assert_eq(q[i], 0);
    cr_assert_eq(s[1], 0);
}

/* ---- the kernels ------------------------------------------------------------------- */

/* The definition, written out again here independently of quant.c. */
static float ref_dot(const int8_t *wq, const uint16_t *wd, int nb, const int8_t *xq,
                     const float *xd) {
    float acc[16];
    for (int i = 0; i < 16; i++) acc[i] = 0.0f;
    for (int b = 0; b < nb; b++) {
        long isum = 0;
        for (int i = 0; i < 32; i++) isum += (long)wq[32 * b + i] * (long)xq[32 * b + i];
        volatile float s = mmg__f16_to_f32(wd[b]) * xd[b]; /* volatile: no FMA */
        volatile float p = s * (float)isum;
        acc[b % 16] = acc[b % 16] + p;
    }
    float t8[8], t4[4], t2[2];
    for (int i = 0; i < 8; i++) t8[i] = acc[i] + acc[i + 8];
    for (int i = 0; i < 4; i++) t4[i] = t8[i] + t8[i + 4];
    for (int i = 0; i < 2; i++) t2[i] = t4[i] + t4[i + 2];
    return t2[0] + t2[1];
}

static const mmg__q8_kernel KERNELS[] = {MMG__Q8_KERNEL_SCALAR, MMG__Q8_KERNEL_AVX2,
                                         MMG__Q8_KERNEL_AVX512};
static const char *KERNEL_NAMES[] = {"scalar", "avx2", "avx512_vnni"};

/* Random Q8_0 weights of `rows` x nb blocks, values in [-127, 127] with the
 * extremes frequent, scales of varied size (some zero, some tiny). */
static void random_weights(int8_t *q, uint16_t *d, int rows, int nb) {
    for (size_t i = 0; i < (size_t)rows * nb * 32; i++) {
        uint32_t r = rnd() % 16;
        q[i] = r == 0 ? 127 : r == 1 ? -127 : (int8_t)((int)(rnd() % 255) - 127);
    }
    for (size_t k = 0; k < (size_t)rows * nb; k++) {
        float v = frand() * powf(2.0f, (float)(int)(rnd() % 20) - 14.0f);
        d[k] = k % 23 == 5 ? 0 : mmg__f32_to_f16(v);
    }
}

Test(quant_kernels, every_kernel_equals_the_reference_bit_for_bit) {
    const int nbs[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 33, 96};
    int tested = 0;
    for (size_t ki = 0; ki < sizeof KERNELS / sizeof *KERNELS; ki++) {
        if (!mmg__q8_kernel_supported(KERNELS[ki])) {
            cr_log_info("kernel %s: not supported on this CPU, skipped", KERNEL_NAMES[ki]);
            continue;
        }
        cr_assert_eq(mmg__q8_kernel_force(KERNELS[ki]), 0);
        cr_assert_str_eq(mmg__q8_kernel_name(), KERNEL_NAMES[ki]);
        mmg__q8_rows_fn fn = mmg__quant_kernel_rows(MMG__QUANT_Q8_0);
        for (size_t t = 0; t < sizeof nbs / sizeof *nbs; t++) {
            const int nb = nbs[t], rows = 13, cols = nb * 32;
            int8_t *wq = malloc((size_t)rows * cols);
            uint16_t *wd = malloc(sizeof(uint16_t) * (size_t)rows * nb);
            float *x = malloc(sizeof(float) * cols), *xd = malloc(sizeof(float) * nb);
            int8_t *xq = malloc((size_t)cols);
            int32_t *xs = malloc(sizeof(int32_t) * nb);
            float out[13], base[13], want[13];
            random_weights(wq, wd, rows, nb);
            for (int i = 0; i < cols; i++) x[i] = frand() * (i % 64 < 32 ? 3.0f : 0.01f);
            if (nb > 2) x[40] = 1000.0f; /* a block whose other values round to 0 */
            mmg__q8_quantize_act(x, cols, xq, xd, xs);
            for (int r = 0; r < rows; r++) {
                want[r] = ref_dot(wq + (size_t)r * cols, wd + (size_t)r * nb, nb, xq, xd);
                base[r] = frand();
            }
            fn(out, NULL, wq, wd, rows, nb, xq, xd, xs);
            cr_assert(same_bits(out, want, rows), "kernel %s, %d blocks: differs from the reference",
                      KERNEL_NAMES[ki], nb);
            for (int r = 0; r < rows; r++) cr_assert_eq(out[r], mmg__q8_dot_ref(wq + (size_t)r * cols, wd + (size_t)r * nb, nb, xq, xd));
            memcpy(out, base, sizeof out); /* base == out, as the linear layer calls it */
            fn(out, out, wq, wd, rows, nb, xq, xd, xs);
            for (int r = 0; r < rows; r++)
                cr_assert_eq(out[r], base[r] + want[r], "kernel %s, %d blocks, row %d with base",
                             KERNEL_NAMES[ki], nb, r);
            free(wq), free(wd), free(x), free(xd), free(xq), free(xs);
        }
        tested++;
    }
    mmg__q8_kernel_force(MMG__Q8_KERNEL_AUTO);
    cr_log_info("kernels tested bit for bit: %d (default: %s)", tested, mmg__q8_kernel_name());
    cr_assert_geq(tested, 1);
}

/* The several-rows kernel (prefill, decode_batch; AVX-512 VNNI only) gives
 * every output the rows kernel's bits: Q8_0 and Q4_0, block counts around
 * the 16 accumulators and up to its limit, 1 to 9 input rows (tiles of 4 and
 * a remainder), with and without a base. */
Test(quant_kernels, several_rows_kernel_equals_the_rows_kernel) {
    if (mmg__q8_kernel_force(MMG__Q8_KERNEL_AVX512) != 0) {
        cr_log_info("AVX-512 VNNI not supported on this CPU: the several-rows kernel is not used");
        return;
    }
    const int nbs[] = {1, 5, 15, 16, 17, 33, MMG__Q8_MULTI_MAX_NB};
    for (int type = MMG__QUANT_Q8_0; type <= MMG__QUANT_Q4_0; type++) {
        mmg__q8_multi_fn multi = mmg__quant_kernel_multi(type);
        void *work = aligned_alloc(64, MMG__Q8_MULTI_WORK_BYTES);
        mmg__q8_rows_fn rows_fn = mmg__quant_kernel_rows(type);
        cr_assert(multi != NULL);
        for (size_t t = 0; t < sizeof nbs / sizeof *nbs; t++) {
            const int nb = nbs[t], cols = nb * 32, R = MMG__Q8_MULTI_ROWS, NX = 9, ldo = 21;
            const size_t row_bytes = (size_t)nb * mmg__quant_type_of(type)->value_bytes;
            int8_t *wq = malloc((size_t)R * cols), *xq = malloc((size_t)NX * cols);
            uint16_t *wd = malloc(sizeof(uint16_t) * (size_t)R * nb);
            float *x = malloc(sizeof(float) * cols), *xd = malloc(sizeof(float) * NX * nb);
            int32_t *xs = malloc(sizeof(int32_t) * NX * nb);
            random_weights(wq, wd, R, nb); /* Q4_0: any bytes are valid nibbles */
            for (int g = 0; g < NX; g++) {
                for (int i = 0; i < cols; i++) x[i] = frand() * (i % 64 < 32 ? 3.0f : 0.01f);
                mmg__q8_quantize_act(x, cols, xq + (size_t)g * cols, xd + (size_t)g * nb, xs + (size_t)g * nb);
            }
            for (int n_x = 1; n_x <= NX; n_x++) {
                for (int with_base = 0; with_base <= 1; with_base++) {
                    float got[9 * 21], want[9 * 21];
                    for (int i = 0; i < NX * ldo; i++) got[i] = want[i] = frand();
                    multi(got, (size_t)ldo, with_base, wq, row_bytes, wd, nb, xq, xd, xs, (size_t)cols, n_x, work);
                    for (int g = 0; g < n_x; g++)
                        rows_fn(want + g * ldo, with_base ? want + g * ldo : NULL, wq, wd, R, nb,
                                xq + (size_t)g * cols, xd + (size_t)g * nb, xs + (size_t)g * nb);
                    cr_assert(same_bits(got, want, (size_t)NX * ldo),
                              "%s, %d blocks, %d input rows, base %d: differs from the rows kernel (or wrote "
                              "outside its 16 columns)",
                              type == MMG__QUANT_Q4_0 ? "Q4_0" : "Q8_0", nb, n_x, with_base);
                }
            }
            free(wq), free(xq), free(wd), free(x), free(xd), free(xs);
        }
        free(work);
    }
    mmg__q8_kernel_force(MMG__Q8_KERNEL_AUTO);
}

/* The four-streams function (decoding; AVX-512 VNNI, Q8_0) gives rows 0, h,
 * 2h and 3h the rows kernel's bits and writes nothing else: block counts
 * around the 16 accumulators, strides of 1 to 7 rows, with and without a
 * base. */
Test(quant_kernels, four_streams_kernel_equals_the_rows_kernel) {
    if (mmg__q8_kernel_force(MMG__Q8_KERNEL_AVX512) != 0) {
        cr_log_info("AVX-512 VNNI not supported on this CPU: the four-streams kernel is not used");
        return;
    }
    cr_assert(mmg__quant_kernel_rows4(MMG__QUANT_Q4_0) == NULL);
    mmg__q8_rows4_fn rows4 = mmg__quant_kernel_rows4(MMG__QUANT_Q8_0);
    mmg__q8_rows_fn rows_fn = mmg__quant_kernel_rows(MMG__QUANT_Q8_0);
    cr_assert(rows4 != NULL);
    const int nbs[] = {1, 5, 8, 9, 15, 16, 17, 24, 33, 96};
    for (size_t t = 0; t < sizeof nbs / sizeof *nbs; t++) {
        const int nb = nbs[t], cols = nb * 32, R = 4 * 7 + 1;
        int8_t *wq = malloc((size_t)R * cols), *xq = malloc((size_t)cols);
        uint16_t *wd = malloc(sizeof(uint16_t) * (size_t)R * nb);
        float *x = malloc(sizeof(float) * cols), *xd = malloc(sizeof(float) * nb);
        int32_t *xs = malloc(sizeof(int32_t) * nb);
        random_weights(wq, wd, R, nb);
        for (int i = 0; i < cols; i++) x[i] = frand() * (i % 64 < 32 ? 3.0f : 0.01f);
        mmg__q8_quantize_act(x, cols, xq, xd, xs);
        for (size_t h = 1; h <= 7; h++) {
            for (int with_base = 0; with_base <= 1; with_base++) {
                float got[4 * 7 + 1], want[4 * 7 + 1], base[4 * 7 + 1];
                for (int i = 0; i < R; i++) got[i] = want[i] = base[i] = frand();
                /* rows 1, 1 + h, 1 + 2h, 1 + 3h: not the first row, so a write before it shows */
                rows4(got + 1, with_base ? got + 1 : NULL, wq + (size_t)cols, wd + nb, h, nb, xq, xd, xs);
                for (int i = 0; i < 4; i++) {
                    const size_t r = 1 + i * h;
                    rows_fn(want + r, with_base ? base + r : NULL, wq + r * cols, wd + r * nb, 1, nb, xq, xd, xs);
                }
                cr_assert(same_bits(got, want, (size_t)R),
                          "%d blocks, stride %zu rows, base %d: differs from the rows kernel (or wrote another "
                          "row)",
                          nb, h, with_base);
            }
        }
        free(wq), free(xq), free(wd), free(x), free(xd), free(xs);
    }
    mmg__q8_kernel_force(MMG__Q8_KERNEL_AUTO);
}

/* A NaN activation poisons every output it touches; zeros give zeros. */
Test(quant_kernels, non_finite_and_zero_inputs) {
    const int nb = 20, rows = 3, cols = nb * 32;
    int8_t *wq = malloc((size_t)rows * cols), *xq = malloc(cols);
    uint16_t *wd = malloc(sizeof(uint16_t) * rows * nb);
    float *x = calloc(cols, sizeof(float)), xd[20], out[3];
    int32_t xs[20];
    random_weights(wq, wd, rows, nb);
    for (int k = 0; k < rows * nb; k++) wd[k] = mmg__f32_to_f16(0.5f);
    for (size_t ki = 0; ki < 3; ki++) {
        if (mmg__q8_kernel_force(KERNELS[ki])) continue;
        memset(x, 0, sizeof(float) * cols);
        mmg__q8_quantize_act(x, cols, xq, xd, xs);
        mmg__quant_kernel_rows(MMG__QUANT_Q8_0)(out, NULL, wq, wd, rows, nb, xq, xd, xs);
        for (int r = 0; r < rows; r++) cr_assert(out[r] == 0.0f && !signbit(out[r]));
        x[300] = NAN;
        mmg__q8_quantize_act(x, cols, xq, xd, xs);
        mmg__quant_kernel_rows(MMG__QUANT_Q8_0)(out, NULL, wq, wd, rows, nb, xq, xd, xs);
        for (int r = 0; r < rows; r++) cr_assert(isnan(out[r]), "kernel %s", KERNEL_NAMES[ki]);
    }
    mmg__q8_kernel_force(MMG__Q8_KERNEL_AUTO);
    free(wq), free(xq), free(wd), free(x);
}

/* The linear layer: every kernel, 1 and 2 threads, a batch of rows or one
 * row at a time: the same bits, and equal to the reference plus bias and
 * residual. */
Test(quant_kernels, linear_layer_is_independent_of_threads_rows_and_kernel) {
    /* N > the scratch's 64 rows, its last chunk one row (decoded as one);
     * OC not a multiple of 4 or 64 (decoding's four streams leave rows over,
     * as the 64-row blocks do) */
    const int IC = 96 * 32, OC = 203, N = 65;
    mmg__qmatrix w = {malloc((size_t)OC * IC), malloc(sizeof(uint16_t) * OC * (IC / 32)), OC, IC, MMG__QUANT_Q8_0};
    random_weights(w.q, w.d, OC, IC / 32);
    float *inp = malloc(sizeof(float) * N * IC), *bias = malloc(sizeof(float) * OC);
    float *resid = malloc(sizeof(float) * N * OC), *want = malloc(sizeof(float) * N * OC);
    float *out = malloc(sizeof(float) * N * OC);
    for (int i = 0; i < N * IC; i++) inp[i] = frand();
    for (int i = 0; i < OC; i++) bias[i] = frand();
    for (int i = 0; i < N * OC; i++) resid[i] = frand();
    int8_t *xq = malloc(IC);
    float xd[96];
    int32_t xs[96];
    for (int g = 0; g < N; g++) {
        mmg__q8_quantize_act(inp + (size_t)g * IC, IC, xq, xd, xs);
        for (int r = 0; r < OC; r++)
            want[g * OC + r] = (resid[g * OC + r] + bias[r]) +
                               ref_dot(w.q + (size_t)r * IC, w.d + (size_t)r * (IC / 32), IC / 32, xq, xd);
    }
    mmg__q8_scratch *s, *s1;
    cr_assert_eq(mmg__q8_scratch_create(IC, 2, &s), MMG_OK);
    cr_assert_eq(mmg__q8_scratch_create(IC, 1, &s1), MMG_OK);
    for (size_t ki = 0; ki < 3; ki++) {
        if (mmg__q8_kernel_force(KERNELS[ki])) continue;
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            mmg__quant_linear(out, inp, &w, bias, resid, N, s);
            cr_assert(same_bits(out, want, (size_t)N * OC), "kernel %s, %d threads",
                      KERNEL_NAMES[ki], threads);
            /* a scratch for fewer threads than asked for: that many work, same bits */
            memset(out, 0, sizeof(float) * (size_t)N * OC);
            mmg__quant_linear(out, inp, &w, bias, resid, N, s1);
            cr_assert(same_bits(out, want, (size_t)N * OC), "kernel %s, %d threads, 1-thread scratch",
                      KERNEL_NAMES[ki], threads);
            for (int g = 0; g < N; g++) { /* one row at a time, out = resid in place */
                memcpy(out + (size_t)g * OC, resid + (size_t)g * OC, sizeof(float) * OC);
                mmg__quant_linear(out + (size_t)g * OC, inp + (size_t)g * IC, &w, bias,
                               out + (size_t)g * OC, 1, s);
            }
            cr_assert(same_bits(out, want, (size_t)N * OC), "kernel %s, row by row",
                      KERNEL_NAMES[ki]);
        }
    }
    mmg__q8_kernel_force(MMG__Q8_KERNEL_AUTO);
    mmg__q8_scratch_free(s1);
    mmg__q8_scratch_free(s);
    free(w.q), free(w.d), free(inp), free(bias), free(resid), free(want), free(out), free(xq);
}

/* ---- models ---------------------------------------------------------------------- */

static void compare_logits(const mmg_model_config *c, const char *what) {
    mmg_model *f = create(c, MMG_WEIGHTS_F32, 7), *q = create(c, MMG_WEIGHTS_Q8_0, 7);
    cr_assert_eq(q->quant, MMG__QUANT_Q8_0);
    cr_assert_eq(mmg_model_n_params(q), mmg_model_n_params(f));
    enum { T = 24 };
    int32_t toks[T];
    for (int i = 0; i < T; i++) toks[i] = (int32_t)((i * 37 + 11) % c->vocab_size);
    const size_t n = (size_t)T * c->vocab_size;
    float *lf = decode_all(f, toks, T, 1), *lq = decode_all(q, toks, T, 1);
    double max_abs = 0, max_ref = 0, agree = 0;
    for (int t = 0; t < T; t++) {
        int af = 0, aq = 0;
        for (int j = 0; j < c->vocab_size; j++) {
            size_t i = (size_t)t * c->vocab_size + j;
            max_abs = fmax(max_abs, fabs((double)lf[i] - lq[i]));
            max_ref = fmax(max_ref, fabs((double)lf[i]));
            if (lf[i] > lf[(size_t)t * c->vocab_size + af]) af = j;
            if (lq[i] > lq[(size_t)t * c->vocab_size + aq]) aq = j;
        }
        agree += af == aq;
    }
    cr_log_info("%s: Q8_0 vs F32 logits: max abs error %.5f, max |logit| %.3f (relative %.5f), "
                "argmax agrees at %.0f of %d positions",
                what, max_abs, max_ref, max_abs / max_ref, agree, T);
    cr_assert_lt(max_abs / max_ref, 0.03, "%s: relative error %g", what, max_abs / max_ref);
    /* the prefill on 2 threads: the same bits */
    float *lq2 = decode_all(q, toks, T, 2);
    cr_assert(same_bits(lq, lq2, n), "%s: 1 and 2 threads differ", what);
    free(lq2);
    /* token by token, 1 and 2 threads: the same bits, close to the prefill
     * (whose attention runs over a block of queries) */
    float *one = malloc(sizeof(float) * c->vocab_size), *two = malloc(sizeof(float) * c->vocab_size);
    /* c3 is made for 1 thread and then given 2: its scratch grows */
    mmg_context *c1 = context(q, 1, 1), *c2 = context(q, 2, 1), *c3 = context(q, 1, 1);
    cr_assert_eq(mmg_context_set_threads(c3, 2), MMG_OK, "%s", mmg_last_error());
    if (c->n_encoder_layers > 0) {
        cr_assert_eq(mmg_context_encode(c1, 0, toks, 5), MMG_OK);
        cr_assert_eq(mmg_context_encode(c2, 0, toks, 5), MMG_OK);
        cr_assert_eq(mmg_context_encode(c3, 0, toks, 5), MMG_OK);
    }
    float *three = malloc(sizeof(float) * c->vocab_size);
    for (int t = 0; t < T; t++) {
        cr_assert_eq(mmg_context_decode(c1, 0, toks + t, 1, one, 0), MMG_OK, "%s", mmg_last_error());
        cr_assert_eq(mmg_context_decode(c2, 0, toks + t, 1, two, 0), MMG_OK, "%s", mmg_last_error());
        cr_assert_eq(mmg_context_decode(c3, 0, toks + t, 1, three, 0), MMG_OK, "%s", mmg_last_error());
        cr_assert(same_bits(one, two, c->vocab_size), "%s: token %d, 1 vs 2 threads", what, t);
        cr_assert(same_bits(two, three, c->vocab_size), "%s: token %d, 2 threads after 1", what, t);
        for (int j = 0; j < c->vocab_size; j++)
            cr_assert_float_eq(one[j], lq[(size_t)t * c->vocab_size + j], 1e-4, "%s: token %d", what, t);
    }
    mmg_context_free(c1);
    mmg_context_free(c2);
    mmg_context_free(c3);
    free(two), free(three);
    /* the full forward (teacher forcing) agrees closely (other attention kernel) */
    if (c->n_encoder_layers == 0) {
        mmg_context *fc = context(q, 1, 1);
        float *full = malloc(sizeof(float) * n);
        cr_assert_eq(mmg_context_forward(fc, 1, NULL, NULL, 0, toks, NULL, T, full), MMG_OK, "%s",
                     mmg_last_error());
        for (size_t i = 0; i < n; i++) cr_assert_float_eq(full[i], lq[i], 1e-4);
        free(full);
        mmg_context_free(fc);
    }
    free(one), free(lf), free(lq);
    mmg_model_free(f);
    mmg_model_free(q);
}

Test(quant_model, logits_close_to_f32_decoder_tied) {
    mmg_model_config c = small_config(0, 1);
    compare_logits(&c, "decoder-only, tied output");
}

Test(quant_model, logits_close_to_f32_decoder_untied_post_ln) {
    mmg_model_config c = small_config(0, 0);
    c.norm_placement = MMG_NORM_POST;
    c.activation = MMG_ACT_RELU;
    compare_logits(&c, "decoder-only, untied, post-LN");
}

Test(quant_model, logits_close_to_f32_encoder_decoder) {
    mmg_model_config c = small_config(1, 1);
    compare_logits(&c, "encoder-decoder");
}

/* mmg_context_decode_batch rows are the bits of decoding each slot alone. */
Test(quant_model, batch_decode_equals_single) {
    quant_test_batch_equals_single(MMG_WEIGHTS_Q8_0);
}

/* ---- files ------------------------------------------------------------------------ */

Test(quant_io, save_load_round_trip) {
    mmg_model_config c = small_config(0, 0);
    mmg_model *q = create(&c, MMG_WEIGHTS_Q8_0, 5);
    cr_assert_eq(mmg_model_set_metadata(q, "note", "quantized"), MMG_OK);
    const char *path = tmp_file("roundtrip");
    cr_assert_eq(mmg_model_save(q, path), MMG_OK, "%s", mmg_last_error());
    /* the file: mmgen.quant, U8 "<name>.q8_0" of (rows, cols / 32 * 34), F32 others */
    mmg__st_file *f;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(mmg__st_metadata(f, "mmgen.quant"), "q8_0");
    const mmg__st_tensor *t = mmg__st_find(f, "decoder.layers.1.ff.fc2.weight.q8_0");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, MMG__DT_U8);
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->shape[0], 64);
    cr_assert_eq(t->shape[1], 160 / 32 * 34);
    cr_assert_null(mmg__st_find(f, "decoder.layers.1.ff.fc2.weight"));
    cr_assert_not_null(mmg__st_find(f, "lm_head.weight.q8_0"));
    t = mmg__st_find(f, "tok_emb.weight");
    cr_assert(t && t->dtype == MMG__DT_F32);
    cr_assert_eq(mmg__st_count(f), (size_t)q->n_tensors);
    mmg__st_close(f);
    /* loads quantized by default, with the same logits bit for bit */
    int32_t toks[6] = {3, 1, 4, 1, 5, 9};
    float *before = decode_all(q, toks, 6, 1);
    mmg_model *l = NULL;
    cr_assert_eq(mmg_model_load(path, NULL, &l), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(l->quant, MMG__QUANT_Q8_0);
    const char *note;
    cr_assert_eq(mmg_model_get_metadata(l, "note", &note), MMG_OK);
    cr_assert_str_eq(note, "quantized");
    cr_assert_eq(mmg_model_get_metadata(l, "mmgen.quant", &note), MMG_ERR_NOT_FOUND);
    cr_assert_eq(l->quant_bytes, q->quant_bytes);
    cr_assert_eq(memcmp(l->quant_mem, q->quant_mem, q->quant_bytes), 0);
    float *after = decode_all(l, toks, 6, 2);
    cr_assert(same_bits(before, after, (size_t)6 * c.vocab_size));
    /* from memory too, and saved again: the same file */
    size_t size;
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    size = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *bytes = malloc(size);
    cr_assert_eq(fread(bytes, 1, size, fp), size);
    fclose(fp);
    mmg_model *lm = NULL;
    cr_assert_eq(mmg_model_load_memory(bytes, size, NULL, &lm), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(memcmp(lm->quant_mem, q->quant_mem, q->quant_bytes), 0);
    const char *path2 = "/tmp/mmgen-test-quant-resave.safetensors";
    cr_assert_eq(mmg_model_save(lm, path2), MMG_OK);
    fp = fopen(path2, "rb");
    uint8_t *bytes2 = malloc(size + 1);
    cr_assert_eq(fread(bytes2, 1, size + 1, fp), size);
    fclose(fp);
    cr_assert_eq(memcmp(bytes, bytes2, size), 0, "saving a loaded Q8_0 model changes the file");
    unlink(path2);
    /* dequantized (MMG_WEIGHTS_F32): the parameters read_param gives */
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.weights = MMG_WEIGHTS_F32;
    mmg_model *d = NULL;
    cr_assert_eq(mmg_model_load(path, &o, &d), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(d->quant, MMG__QUANT_NONE);
    for (int i = 0; i < q->n_tensors; i++) {
        const mmg__param *p = &q->tensors[i];
        float *a = malloc(sizeof(float) * p->numel), *b = malloc(sizeof(float) * p->numel);
        cr_assert_eq(mmg_model_read_param(q, p->name, a, p->numel), MMG_OK);
        cr_assert_eq(mmg_model_read_param(d, p->name, b, p->numel), MMG_OK);
        cr_assert(same_bits(a, b, p->numel), "%s", p->name);
        free(a), free(b);
    }
    free(before), free(after), free(bytes), free(bytes2);
    mmg_model_free(d);
    mmg_model_free(lm);
    mmg_model_free(l);
    mmg_model_free(q);
    unlink(path);
}

/* Quantizing while loading an F32 file gives what create + quantize gives. */
Test(quant_io, quantize_while_loading) {
    mmg_model_config c = small_config(1, 1);
    mmg_model *f = create(&c, MMG_WEIGHTS_F32, 11), *q = create(&c, MMG_WEIGHTS_Q8_0, 11);
    const char *path = tmp_file("f32");
    cr_assert_eq(mmg_model_save(f, path), MMG_OK, "%s", mmg_last_error());
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.weights = MMG_WEIGHTS_Q8_0;
    mmg_model *l = NULL;
    cr_assert_eq(mmg_model_load(path, &o, &l), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(l->quant_bytes, q->quant_bytes);
    cr_assert_eq(memcmp(l->quant_mem, q->quant_mem, q->quant_bytes), 0);
    cr_assert_eq(l->n_params, q->n_params);
    cr_assert(same_bits(l->params, q->params, q->n_params));
    /* the F32 block holds only what is not quantized */
    cr_assert_lt(l->n_params, f->n_params);
    o.weights = 7;
    mmg_model *bad = NULL;
    cr_assert_eq(mmg_model_load(path, &o, &bad), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "weights"), "%s", mmg_last_error());
    cr_assert_null(bad);
    mmg_model_free(l);
    mmg_model_free(q);
    mmg_model_free(f);
    unlink(path);
}

/* ---- what a quantized model refuses ---------------------------------------------- */

Test(quant_model, training_and_writes_refused) {
    mmg_model_config c = small_config(0, 1);
    mmg_model *q = create(&c, MMG_WEIGHTS_Q8_0, 1);
    mmg_trainer *tr = NULL;
    cr_assert_eq(mmg_trainer_create(q, NULL, &tr), MMG_ERR_UNSUPPORTED);
    cr_assert_null(tr);
    cr_assert(strstr(mmg_last_error(), "quantized"), "%s", mmg_last_error());
    cr_assert(strstr(mmg_last_error(), "MMG_WEIGHTS_F32"), "%s", mmg_last_error());
    const size_t n = 64 * 64;
    float *buf = calloc(97 * 64, sizeof(float));
    cr_assert_eq(mmg_model_write_param(q, "decoder.layers.0.self_attn.out.weight", buf, n),
                 MMG_ERR_UNSUPPORTED);
    cr_assert(strstr(mmg_last_error(), "self_attn.out.weight"), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_write_param(q, "tok_emb.weight", buf, 97 * 64), MMG_ERR_UNSUPPORTED);
    /* F32 parameters of a quantized model can still be written */
    cr_assert_eq(mmg_model_write_param(q, "decoder.layers.0.sa_norm.weight", buf, 64), MMG_OK);
    /* reading dequantizes: d * q */
    cr_assert_eq(mmg_model_read_param(q, "decoder.layers.0.self_attn.out.weight", buf, n), MMG_OK);
    const mmg__qmatrix *w = q->dec[0].sa_out_q;
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(buf[i], (float)w->q[i] * mmg__f16_to_f32(w->d[i / 32]));
    cr_assert_eq(mmg_model_set_metadata(q, "mmgen.quant", "q8_0"), MMG_ERR_INVALID_ARG);
    free(buf);
    mmg_model_free(q);
}

Test(quant_model, shapes_that_are_not_whole_blocks_refused) {
    mmg_model_config c = small_config(0, 1);
    c.d_model = 48;
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.weights = MMG_WEIGHTS_Q8_0;
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_ERR_UNSUPPORTED);
    cr_assert(strstr(mmg_last_error(), "d_model is 48"), "%s", mmg_last_error());
    c.d_model = 64;
    c.d_ff = 100;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_ERR_UNSUPPORTED);
    cr_assert(strstr(mmg_last_error(), "d_ff is 100"), "%s", mmg_last_error());
    cr_assert_null(m);
    /* and loading such an F32 file quantized */
    mmg_model *f = NULL;
    cr_assert_eq(mmg_model_create(&c, NULL, &f), MMG_OK);
    const char *path = tmp_file("ff100");
    cr_assert_eq(mmg_model_save(f, path), MMG_OK);
    cr_assert_eq(mmg_model_load(path, &o, &m), MMG_ERR_UNSUPPORTED);
    cr_assert(strstr(mmg_last_error(), path), "%s", mmg_last_error());
    mmg_model_free(f);
    unlink(path);
}

/* ---- malformed quantized files ------------------------------------------------------ */

enum {
    BAD_SHAPE,      /* a .q8_0 tensor one block short */
    BAD_DTYPE,      /* a .q8_0 tensor as I8 */
    BAD_MISSING,    /* a .q8_0 tensor left out */
    BAD_MINUS_128,  /* a value byte 0x80 */
    BAD_QUANT_NAME, /* mmgen.quant = "q5_1" (a type mmgen does not read) */
    BAD_OTHER_TYPE, /* mmgen.quant = "q4_0" over .q8_0 tensors */
    BAD_NO_QUANT,   /* .q8_0 tensors without mmgen.quant */
    BAD_F32_LINEAR, /* a linear weight stored F32 in a Q8_0 file */
    BAD_COUNT
};

/* Copies the quantized file `src` to `dst`, damaged as `how` says, through
 * the safetensors writer. */
static void write_damaged(const char *src, const char *dst, int how, const char *victim) {
    mmg__st_file *f;
    cr_assert_eq(mmg__st_open(src, &f), MMG_OK, "%s", mmg_last_error());
    mmg__st_writer *w;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    for (size_t i = 0; i < mmg__st_metadata_count(f); i++) {
        const char *k, *v;
        mmg__st_metadata_at(f, i, &k, &v);
        if (strcmp(k, "mmgen.quant") == 0) {
            if (how == BAD_NO_QUANT) continue;
            if (how == BAD_QUANT_NAME) v = "q5_1";
            if (how == BAD_OTHER_TYPE) v = "q4_0";
        }
        cr_assert_eq(mmg__st_writer_metadata(w, k, v), MMG_OK);
    }
    uint8_t *copies[256];
    int n_copies = 0;
    for (size_t i = 0; i < mmg__st_count(f); i++) {
        const mmg__st_tensor *t = mmg__st_at(f, i);
        char name[128];
        snprintf(name, sizeof name, "%s", t->name);
        int64_t shape[8];
        memcpy(shape, t->shape, sizeof shape);
        mmg__dtype dt = t->dtype;
        size_t nbytes = t->nbytes;
        uint8_t *data = malloc(nbytes + 1);
        memcpy(data, t->data, nbytes);
        if (strcmp(name, victim) == 0) {
            if (how == BAD_MISSING) {
                free(data);
                continue;
            }
            if (how == BAD_SHAPE) shape[1] -= 34, nbytes -= 34 * (size_t)shape[0];
            if (how == BAD_DTYPE) dt = MMG__DT_I8;
            if (how == BAD_MINUS_128) data[34 * 3 + 2 + 7] = 0x80;
            if (how == BAD_F32_LINEAR) { /* the dequantized floats under the plain name */
                name[strlen(name) - 5] = '\0';
                dt = MMG__DT_F32;
                shape[1] = shape[1] / 34 * 32;
                nbytes = (size_t)shape[0] * (size_t)shape[1] * 4;
                free(data);
                data = calloc(nbytes, 1);
            }
        }
        cr_assert_eq(mmg__st_writer_add(w, name, dt, t->ndim, shape, data, nbytes), MMG_OK, "%s",
                     mmg_last_error());
        copies[n_copies++] = data;
    }
    cr_assert_eq(mmg__st_writer_write(w, dst), MMG_OK, "%s", mmg_last_error());
    mmg__st_writer_free(w);
    for (int i = 0; i < n_copies; i++) free(copies[i]);
    mmg__st_close(f);
}

Test(quant_io, malformed_files_name_the_problem) {
    mmg_model_config c = small_config(0, 1);
    mmg_model *q = create(&c, MMG_WEIGHTS_Q8_0, 2);
    char good[256], bad[256];
    snprintf(good, sizeof good, "%s", tmp_file("good"));
    snprintf(bad, sizeof bad, "%s", tmp_file("bad"));
    cr_assert_eq(mmg_model_save(q, good), MMG_OK, "%s", mmg_last_error());
    const char *victim = "decoder.layers.1.ff.fc1.weight.q8_0";
    const struct {
        mmg_status want;
        const char *says;
    } cases[BAD_COUNT] = {
        [BAD_SHAPE] = {MMG_ERR_FORMAT, "fc1.weight.q8_0' is U8 of shape [160, 34]; expected U8 [160, 68]"},
        [BAD_DTYPE] = {MMG_ERR_FORMAT, "decoder.layers.1.ff.fc1.weight.q8_0' is I8"},
        [BAD_MISSING] = {MMG_ERR_FORMAT, "decoder.layers.1.ff.fc1.weight.q8_0' (U8"},
        [BAD_MINUS_128] = {MMG_ERR_FORMAT, "fc1.weight.q8_0': block 3 (row 1) holds the value -128"},
        [BAD_QUANT_NAME] = {MMG_ERR_UNSUPPORTED, "\"mmgen.quant\" is \"q5_1\""},
        [BAD_OTHER_TYPE] = {MMG_ERR_FORMAT, "holds Q8_0 blocks, but __metadata__ has \"mmgen.quant\": \"q4_0\""},
        [BAD_NO_QUANT] = {MMG_ERR_FORMAT, "holds Q8_0 blocks, but __metadata__ has no"},
        [BAD_F32_LINEAR] = {MMG_ERR_FORMAT, "\"decoder.layers.1.ff.fc1.weight\" is stored unquantized"},
    };
    for (int how = 0; how < BAD_COUNT; how++) {
        write_damaged(good, bad, how, victim);
        for (int memory = 0; memory < 2; memory++) {
            mmg_model *m = NULL;
            mmg_status s;
            if (memory) {
                size_t size;
                FILE *fp = fopen(bad, "rb");
                fseek(fp, 0, SEEK_END);
                size = (size_t)ftell(fp);
                fseek(fp, 0, SEEK_SET);
                uint8_t *bytes = malloc(size);
                cr_assert_eq(fread(bytes, 1, size, fp), size);
                fclose(fp);
                s = mmg_model_load_memory(bytes, size, NULL, &m);
                free(bytes);
            } else {
                s = mmg_model_load(bad, NULL, &m);
            }
            cr_assert_eq(s, cases[how].want, "damage %d: %s (%s)", how, mmg_status_name(s),
                         mmg_last_error());
            cr_assert_null(m);
            cr_assert(strstr(mmg_last_error(), cases[how].says), "damage %d: \"%s\" lacks \"%s\"",
                      how, mmg_last_error(), cases[how].says);
        }
    }
    mmg_model_free(q);
    unlink(good);
    unlink(bad);
}

/* ---- allocation failures ------------------------------------------------------------- */

/* Every allocation of loading (quantized, quantizing, dequantizing), saving,
 * creating with Q8_0 and making a context fails in turn: MMG_ERR_NOMEM with a
 * message, *out untouched (the sanitizer build checks for leaks). */
typedef struct sweep_env {
    const char *q8_path, *f32_path, *out_path;
    mmg_model_config cfg;
    mmg_model *q;
} sweep_env;

static mmg_status sweep_one(sweep_env *e, int op) {
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    mmg_model *m = (mmg_model *)0x5e47;
    mmg_status s;
    switch (op) {
    case 0: s = mmg_model_load(e->q8_path, NULL, &m); break;
    case 1: o.weights = MMG_WEIGHTS_Q8_0, s = mmg_model_load(e->f32_path, &o, &m); break;
    case 2: o.weights = MMG_WEIGHTS_F32, s = mmg_model_load(e->q8_path, &o, &m); break;
    case 3: o.weights = MMG_WEIGHTS_Q8_0, s = mmg_model_create(&e->cfg, &o, &m); break;
    case 4: return mmg_model_save(e->q, e->out_path);
    default: {
        mmg_context *ctx = (mmg_context *)0x5e47;
        s = mmg_context_create(e->q, NULL, &ctx);
        if (s) {
            cr_assert_eq(ctx, (mmg_context *)0x5e47);
            return s;
        }
        int32_t toks[3] = {1, 2, 3};
        float *logits = malloc(sizeof(float) * 3 * (size_t)e->cfg.vocab_size);
        s = mmg_context_decode(ctx, 0, toks, 3, logits, 1);
        if (!s) s = mmg_context_forward(ctx, 1, NULL, NULL, 0, toks, NULL, 3, logits);
        free(logits);
        mmg_context_free(ctx);
        return s;
    }
    }
    if (s) cr_assert_eq(m, (mmg_model *)0x5e47, "op %d: out written on error", op);
    else mmg_model_free(m);
    return s;
}

Test(quant_io, allocation_failures_are_clean) {
    sweep_env e = {0};
    e.cfg = small_config(0, 1);
    e.q = create(&e.cfg, MMG_WEIGHTS_Q8_0, 9);
    mmg_model *f = create(&e.cfg, MMG_WEIGHTS_F32, 9);
    char q8[256], f32[256], out[256];
    snprintf(q8, sizeof q8, "%s", tmp_file("sweep-q8"));
    snprintf(f32, sizeof f32, "%s", tmp_file("sweep-f32"));
    snprintf(out, sizeof out, "%s", tmp_file("sweep-out"));
    e.q8_path = q8, e.f32_path = f32, e.out_path = out;
    cr_assert_eq(mmg_model_save(e.q, q8), MMG_OK);
    cr_assert_eq(mmg_model_save(f, f32), MMG_OK);
    for (int op = 0; op < 6; op++) {
        long n;
        for (n = 1; n < 100000; n++) {
            mmg_clear_error();
            mmg__fault_fail_after(n);
            mmg_status s = sweep_one(&e, op);
            mmg__fault_fail_after(0);
            if (s == MMG_OK) break;
            cr_assert_eq(s, MMG_ERR_NOMEM, "op %d, allocation %ld: %s", op, n, mmg_last_error());
            cr_assert(mmg_last_error()[0], "op %d, allocation %ld: no message", op, n);
        }
        cr_assert_eq(sweep_one(&e, op), MMG_OK);
        cr_log_info("quantized op %d: %ld allocations swept", op, n - 1);
    }
    mmg_model_free(f);
    mmg_model_free(e.q);
    unlink(q8), unlink(f32), unlink(out);
}

/* ---- the command ----------------------------------------------------------------------- */

/* `mmgen quantize` writes what loading with MMG_WEIGHTS_Q8_0 holds, keeps the
 * metadata, and `--type f32` turns it back into a float model. */
Test(quant_cli, quantize_command) {
    const char *mmgen = MMGEN_BINARY_DIR "/bin/mmgen";
    if (access(mmgen, X_OK) != 0) cr_skip_test("no %s", mmgen);
    mmg_model_config c = small_config(0, 1);
    mmg_model *f = create(&c, MMG_WEIGHTS_F32, 21), *q = create(&c, MMG_WEIGHTS_Q8_0, 21);
    cr_assert_eq(mmg_model_set_metadata(f, "mmgen.tokenizer", "{}"), MMG_OK);
    char in[256], out[256], back[256], cmd[1024];
    snprintf(in, sizeof in, "%s", tmp_file("cli-in"));
    snprintf(out, sizeof out, "%s", tmp_file("cli-q8"));
    snprintf(back, sizeof back, "%s", tmp_file("cli-f32"));
    cr_assert_eq(mmg_model_save(f, in), MMG_OK);
    snprintf(cmd, sizeof cmd, "%s quantize %s %s --type q8_0 > /dev/null", mmgen, in, out);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    mmg_model *l = NULL;
    cr_assert_eq(mmg_model_load(out, NULL, &l), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(l->quant, MMG__QUANT_Q8_0);
    cr_assert_eq(memcmp(l->quant_mem, q->quant_mem, q->quant_bytes), 0);
    const char *v;
    cr_assert_eq(mmg_model_get_metadata(l, "mmgen.tokenizer", &v), MMG_OK);
    char *quant = NULL;
    cr_assert_eq(mmg_model_file_metadata(out, "mmgen.quant", &quant), MMG_OK);
    cr_assert_str_eq(quant, "q8_0");
    mmg_free(quant);
    snprintf(cmd, sizeof cmd, "%s quantize %s %s --type f32 > /dev/null", mmgen, out, back);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    mmg_model *b = NULL;
    cr_assert_eq(mmg_model_load(back, NULL, &b), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(b->quant, MMG__QUANT_NONE);
    cr_assert_eq(mmg_model_file_metadata(back, "mmgen.quant", &quant), MMG_ERR_NOT_FOUND);
    /* a model the command cannot quantize: exit status 1 and a message */
    c.d_ff = 100;
    mmg_model *odd = create(&c, MMG_WEIGHTS_F32, 1);
    cr_assert_eq(mmg_model_save(odd, in), MMG_OK);
    snprintf(cmd, sizeof cmd, "%s quantize %s %s 2> /dev/null", mmgen, in, out);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "exit status %d", rc);
    mmg_model_free(odd);
    mmg_model_free(b);
    mmg_model_free(l);
    mmg_model_free(q);
    mmg_model_free(f);
    unlink(in), unlink(out), unlink(back);
}
