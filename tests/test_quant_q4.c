/* tests/test_quant_q4.c - Q4_0 weights (core/quant.h, ABI.md, "Quantized weights"):
 * the block format against ggml's definition written out here again, every
 * kernel the CPU runs against a plain reference (bit for bit), a Q4_0 model's
 * logits against the F32 and Q8_0 models', files (round trip, conversion
 * between the two quantized types, malformed blocks), allocation failures
 * and the CLI. test_quant.c covers what the two types share (refusals,
 * damaged headers) for Q8_0. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memory.h"
#include "mmgen/mmgen.h"
#include "model-impl.h"
#include "quant.h"
#include "safetensors.h"

#include "quant_test.h"

/* ---- the format -------------------------------------------------------------------- */

/* ggml's quantize_row_q4_0_ref, written out again from its definition: m =
 * the value of largest magnitude (the first of ties), d = m / -8, n =
 * min(15, (int8_t)(x / d + 8.5)), byte j = n_j | n_(j+16) << 4. */
static void ggml_q4_0(const float *x, uint8_t *qs, uint16_t *d) {
    float amax = 0.0f, m = 0.0f;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]), m = x[j];
    const float dk = m / -8;
    const float id = dk ? 1.0f / dk : 0.0f;
    *d = mmg__f32_to_f16(dk);
    for (int j = 0; j < 16; j++) {
        volatile float x0 = x[j] * id, x1 = x[16 + j] * id; /* volatile: no FMA */
        const uint8_t n0 = (int8_t)(x0 + 8.5f) < 15 ? (uint8_t)(int8_t)(x0 + 8.5f) : 15;
        const uint8_t n1 = (int8_t)(x1 + 8.5f) < 15 ? (uint8_t)(int8_t)(x1 + 8.5f) : 15;
        qs[j] = (uint8_t)(n0 | n1 << 4);
    }
}

/* x = i - 16: m = -16, d = 2, n = x / 2 + 8 rounded half up, clamped. */
Test(q4_format, a_block_by_hand) {
    float x[32], y[32];
    for (int i = 0; i < 32; i++) x[i] = (float)(i - 16);
    uint8_t q[16];
    uint16_t d;
    cr_assert_eq(mmg__q4_quantize(x, 1, q, &d), 0);
    cr_assert_eq(d, 0x4000, "d = %#x, expected half 2.0", d);
    cr_assert_eq(q[0], 0x80, "values 0 (x = -16 -> 0) and 16 (x = 0 -> 8): %#x", q[0]);
    cr_assert_eq(q[15], 0xf8, "x = -1 -> -0.5 + 8.5 = 8; x = 15 -> 16, clamped to 15: %#x", q[15]);
    cr_assert_eq(q[1], 0x91, "x = -15 -> 1; x = 1 -> 9: %#x", q[1]);
    mmg__q4_dequantize(q, &d, 1, y);
    cr_assert_eq(y[0], -16.0f);
    cr_assert_eq(y[16], 0.0f);
    cr_assert_eq(y[31], 14.0f, "15 comes back as (15 - 8) * 2");
    /* the file form is ggml's block_q4_0: d little-endian, then qs */
    uint8_t blk[18];
    mmg__quant_pack(MMG__QUANT_Q4_0, (const int8_t *)q, &d, 0, blk, 18);
    cr_assert_eq(blk[0], 0x00);
    cr_assert_eq(blk[1], 0x40);
    cr_assert_eq(memcmp(blk + 2, q, 16), 0);
}

/* Random blocks of every scale, ties of magnitude, zeros: the bytes ggml's
 * definition gives, and dequantized values within one step |d|. */
Test(q4_format, matches_ggml_definition_and_error_bound) {
    enum { NB = 3000 };
    float *x = malloc(sizeof(float) * NB * 32), *y = malloc(sizeof(float) * NB * 32);
    uint8_t *q = malloc(NB * 16), want_q[16];
    uint16_t *d = malloc(sizeof(uint16_t) * NB), want_d;
    for (int k = 0; k < NB; k++) {
        const float scale = powf(10.0f, (float)(k % 11) - 5.0f); /* 1e-5 .. 1e5 */
        for (int i = 0; i < 32; i++) x[k * 32 + i] = frand() * scale;
        if (k % 5 == 1) x[k * 32 + 3] = -x[k * 32 + 20] * (k % 2 ? 1.0f : 0.0f); /* ties */
        if (k % 5 == 2) x[k * 32 + 9] = -(x[k * 32 + 30] = scale); /* +m and -m: the first wins */
        if (k % 7 == 0) x[k * 32 + 5] = 0.0f;
        if (k % 13 == 0) /* multiples of the step: values on rounding boundaries */
            for (int i = 0; i < 32; i++) x[k * 32 + i] = (float)((int)(rnd() % 17) - 8) * 0.25f;
    }
    memset(x + 3 * 32, 0, 32 * sizeof(float)); /* an all-zero block */
    cr_assert_eq(mmg__q4_quantize(x, NB, q, d), 0);
    mmg__q4_dequantize(q, d, NB, y);
    for (int k = 0; k < NB; k++) {
        ggml_q4_0(x + k * 32, want_q, &want_d);
        cr_assert_eq(d[k], want_d, "block %d: scale %#x, ggml %#x", k, d[k], want_d);
        cr_assert_eq(memcmp(q + k * 16, want_q, 16), 0, "block %d: values differ from ggml's", k);
        /* y = dh (n - 8) with n - 8 within one step of x / d: |x - y| <= |d|,
         * plus 8 times how far the stored half dh is from d (small scales
         * are half subnormals, whose rounding is coarse) */
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[k * 32 + i]));
        const float bound = amax / 8 * 1.001f + 8 * fabsf(fabsf(mmg__f16_to_f32(d[k])) - amax / 8);
        for (int i = 0; i < 32; i++)
            cr_assert_leq(fabsf(x[k * 32 + i] - y[k * 32 + i]), bound, "block %d, value %d: %g -> %g", k,
                          i, x[k * 32 + i], y[k * 32 + i]);
    }
    for (int i = 0; i < 32; i++) cr_assert_eq(y[3 * 32 + i], 0.0f);
    free(x), free(y), free(q), free(d);
}

Test(q4_format, refuses_what_q4_0_cannot_hold) {
    float x[64];
    uint8_t q[32];
    uint16_t d[2];
    for (int i = 0; i < 64; i++) x[i] = 0.5f;
    x[40] = 5.2e5f; /* d = 6.5e4: still a half */
    cr_assert_eq(mmg__q4_quantize(x, 2, q, d), 0);
    x[40] = 5.3e5f; /* d above 65504 */
    cr_assert_eq(mmg__q4_quantize(x, 2, q, d), 2);
    x[40] = 0.5f;
    x[7] = NAN;
    cr_assert_eq(mmg__q4_quantize(x, 2, q, d), 1);
    x[7] = -INFINITY;
    cr_assert_eq(mmg__q4_quantize(x, 2, q, d), 1);
    /* through the API: the tensor and the block named */
    mmg_model_config c = small_config(0, 0);
    mmg_model *f = create(&c, MMG_WEIGHTS_F32, 3);
    float *w = malloc(sizeof(float) * 160 * 64);
    cr_assert_eq(mmg_model_read_param(f, "decoder.layers.0.ff.fc1.weight", w, 160 * 64), MMG_OK);
    w[64 * 2 + 33] = 1e6f;
    cr_assert_eq(mmg_model_write_param(f, "decoder.layers.0.ff.fc1.weight", w, 160 * 64), MMG_OK);
    const char *path = tmp_file("huge");
    cr_assert_eq(mmg_model_save(f, path), MMG_OK);
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.weights = MMG_WEIGHTS_Q4_0;
    mmg_model *m = (mmg_model *)0x5e47;
    cr_assert_eq(mmg_model_load(path, &o, &m), MMG_ERR_NUMERIC);
    cr_assert_eq(m, (mmg_model *)0x5e47);
    cr_assert(strstr(mmg_last_error(), "fc1.weight': row 2, columns 32..63") &&
                  strstr(mmg_last_error(), "above 5.2e5, which Q4_0 cannot store"),
              "%s", mmg_last_error());
    /* Q8_0 holds it */
    o.weights = MMG_WEIGHTS_Q8_0;
    cr_assert_eq(mmg_model_load(path, &o, &m), MMG_OK, "%s", mmg_last_error());
    mmg_model_free(m);
    free(w);
    mmg_model_free(f);
    unlink(path);
}

/* ---- the kernels ------------------------------------------------------------------- */

/* The definition, written out again here independently of quant.c. */
static float ref_dot(const uint8_t *wq, const uint16_t *wd, int nb, const int8_t *xq, const float *xd) {
    float acc[16];
    for (int i = 0; i < 16; i++) acc[i] = 0.0f;
    for (int b = 0; b < nb; b++) {
        long isum = 0;
        for (int i = 0; i < 32; i++) {
            const int byte = wq[16 * b + i % 16], n = i < 16 ? byte & 15 : byte >> 4;
            isum += (long)(n - 8) * (long)xq[32 * b + i];
        }
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

/* Random Q4_0 weights: every byte value, scales of varied size (some 0). */
static void random_weights(uint8_t *q, uint16_t *d, int rows, int nb) {
    for (size_t i = 0; i < (size_t)rows * nb * 16; i++) q[i] = (uint8_t)rnd();
    for (size_t k = 0; k < (size_t)rows * nb; k++) {
        float v = frand() * powf(2.0f, (float)(int)(rnd() % 20) - 14.0f);
        d[k] = k % 23 == 5 ? 0 : mmg__f32_to_f16(v);
    }
}

Test(q4_kernels, every_kernel_equals_the_reference_bit_for_bit) {
    const int nbs[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 33, 96};
    int tested = 0;
    for (size_t ki = 0; ki < sizeof KERNELS / sizeof *KERNELS; ki++) {
        if (!mmg__q8_kernel_supported(KERNELS[ki])) {
            cr_log_info("kernel %s: not supported on this CPU, skipped", KERNEL_NAMES[ki]);
            continue;
        }
        cr_assert_eq(mmg__q8_kernel_force(KERNELS[ki]), 0);
        mmg__q8_rows_fn fn = mmg__quant_kernel_rows(MMG__QUANT_Q4_0);
        for (size_t t = 0; t < sizeof nbs / sizeof *nbs; t++) {
            const int nb = nbs[t], rows = 13, cols = nb * 32;
            /* exactly sized, so ASan sees a read past the last block */
            uint8_t *wq = malloc((size_t)rows * nb * 16);
            uint16_t *wd = malloc(sizeof(uint16_t) * (size_t)rows * nb);
            float *x = malloc(sizeof(float) * cols), *xd = malloc(sizeof(float) * nb);
            int8_t *xq = malloc((size_t)cols);
            int32_t *xs = malloc(sizeof(int32_t) * nb);
            float out[13], base[13], want[13];
            random_weights(wq, wd, rows, nb);
            for (int i = 0; i < cols; i++) x[i] = frand() * (i % 64 < 32 ? 3.0f : 0.01f);
            if (nb > 2) x[40] = 1000.0f;
            mmg__q8_quantize_act(x, cols, xq, xd, xs);
            for (int r = 0; r < rows; r++) {
                want[r] = ref_dot(wq + (size_t)r * nb * 16, wd + (size_t)r * nb, nb, xq, xd);
                base[r] = frand();
            }
            fn(out, NULL, (const int8_t *)wq, wd, rows, nb, xq, xd, xs);
            cr_assert(same_bits(out, want, rows), "kernel %s, %d blocks: differs from the reference",
                      KERNEL_NAMES[ki], nb);
            memcpy(out, base, sizeof out); /* base == out, as the linear layer calls it */
            fn(out, out, (const int8_t *)wq, wd, rows, nb, xq, xd, xs);
            for (int r = 0; r < rows; r++)
                cr_assert_eq(out[r], base[r] + want[r], "kernel %s, %d blocks, row %d with base",
                             KERNEL_NAMES[ki], nb, r);
            free(wq), free(wd), free(x), free(xd), free(xq), free(xs);
        }
        tested++;
    }
    mmg__q8_kernel_force(MMG__Q8_KERNEL_AUTO);
    cr_log_info("Q4_0 kernels tested bit for bit: %d (default: %s)", tested, mmg__q8_kernel_name());
    cr_assert_geq(tested, 1);
}

/* The decoding kernel (AVX-512 VNNI: 4 blocks a load, the activation laid
 * out by mmg__q4_arrange_act) gives every row the rows kernel's bits, block
 * counts around its groups of 4 and 16, with and without a base; the
 * weights and the laid-out row exactly sized, so ASan sees a read past
 * either. */
Test(q4_kernels, decoding_kernel_equals_the_rows_kernel) {
    if (mmg__q8_kernel_force(MMG__Q8_KERNEL_AVX512) != 0) {
        cr_log_info("AVX-512 VNNI not supported on this CPU: the Q4_0 decoding kernel is not used");
        return;
    }
    mmg__q8_rows_fn q4 = mmg__quant_kernel_q4_decode(), rows_fn = mmg__quant_kernel_rows(MMG__QUANT_Q4_0);
    cr_assert(q4 != NULL);
    const int nbs[] = {1, 2, 3, 4, 5, 7, 8, 13, 15, 16, 17, 20, 24, 31, 33, 96, 99};
    for (size_t t = 0; t < sizeof nbs / sizeof *nbs; t++) {
        const int nb = nbs[t], rows = 13, cols = nb * 32;
        uint8_t *wq = malloc((size_t)rows * nb * 16);
        uint16_t *wd = malloc(sizeof(uint16_t) * (size_t)rows * nb);
        float *x = malloc(sizeof(float) * cols), *xd = malloc(sizeof(float) * nb);
        int8_t *xq = malloc((size_t)cols), *xa = malloc(mmg__q4_arranged_bytes(nb));
        int32_t *xs = malloc(sizeof(int32_t) * nb);
        random_weights(wq, wd, rows, nb);
        for (int i = 0; i < cols; i++) x[i] = frand() * (i % 64 < 32 ? 3.0f : 0.01f);
        mmg__q8_quantize_act(x, cols, xq, xd, xs);
        mmg__q4_arrange_act(xq, nb, xa);
        for (int with_base = 0; with_base <= 1; with_base++) {
            float got[13], want[13];
            for (int r = 0; r < rows; r++) got[r] = want[r] = frand();
            q4(got, with_base ? got : NULL, (const int8_t *)wq, wd, rows, nb, xa, xd, xs);
            rows_fn(want, with_base ? want : NULL, (const int8_t *)wq, wd, rows, nb, xq, xd, xs);
            cr_assert(same_bits(got, want, rows), "%d blocks, base %d: differs from the rows kernel", nb, with_base);
            for (int r = 0; r < rows; r++)
                if (!with_base)
                    cr_assert_eq(got[r], ref_dot(wq + (size_t)r * nb * 16, wd + (size_t)r * nb, nb, xq, xd));
        }
        free(wq), free(wd), free(x), free(xd), free(xq), free(xa), free(xs);
    }
    mmg__q8_kernel_force(MMG__Q8_KERNEL_AUTO);
}

/* The linear layer: every kernel, 1 and 2 threads, a batch of rows (whose
 * Q4_0 weights are widened to bytes a few rows at a time), two rows at a
 * time or one row at a time (read as 4-bit values): the same bits, equal to
 * the reference plus bias and residual. */
Test(q4_kernels, linear_layer_is_independent_of_threads_rows_and_kernel) {
    /* N > the scratch's 64 rows, its last chunk one row (decoded as one);
     * OC not a multiple of 4 or 64; IC 99 blocks: the 4-blocks kernel's
     * tail, a group of 3 */
    const int IC = 99 * 32, OC = 203, N = 65;
    mmg__qmatrix w = {malloc((size_t)OC * IC / 2), malloc(sizeof(uint16_t) * OC * (IC / 32)), OC, IC,
                      MMG__QUANT_Q4_0};
    random_weights((uint8_t *)w.q, w.d, OC, IC / 32);
    float *inp = malloc(sizeof(float) * N * IC), *bias = malloc(sizeof(float) * OC);
    float *resid = malloc(sizeof(float) * N * OC), *want = malloc(sizeof(float) * N * OC);
    float *out = malloc(sizeof(float) * N * OC);
    for (int i = 0; i < N * IC; i++) inp[i] = frand();
    for (int i = 0; i < OC; i++) bias[i] = frand();
    for (int i = 0; i < N * OC; i++) resid[i] = frand();
    int8_t *xq = malloc(IC);
    float xd[99];
    int32_t xs[99];
    for (int g = 0; g < N; g++) {
        mmg__q8_quantize_act(inp + (size_t)g * IC, IC, xq, xd, xs);
        for (int r = 0; r < OC; r++)
            want[g * OC + r] = (resid[g * OC + r] + bias[r]) +
                               ref_dot((const uint8_t *)w.q + (size_t)r * IC / 2, w.d + (size_t)r * (IC / 32),
                                       IC / 32, xq, xd);
    }
    mmg__q8_scratch *s;
    cr_assert_eq(mmg__q8_scratch_create(IC, 2, &s), MMG_OK);
    for (size_t ki = 0; ki < 3; ki++) {
        if (mmg__q8_kernel_force(KERNELS[ki])) continue;
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            mmg__quant_linear(out, inp, &w, bias, resid, N, s);
            cr_assert(same_bits(out, want, (size_t)N * OC), "kernel %s, %d threads", KERNEL_NAMES[ki], threads);
            for (int g = 0; g < N; g += 2) { /* two rows at a time (each decoded as one), the last alone */
                const int m = N - g < 2 ? N - g : 2;
                memcpy(out + (size_t)g * OC, resid + (size_t)g * OC, sizeof(float) * OC * m);
                mmg__quant_linear(out + (size_t)g * OC, inp + (size_t)g * IC, &w, bias, out + (size_t)g * OC, m,
                                  s);
            }
            cr_assert(same_bits(out, want, (size_t)N * OC), "kernel %s, %d threads, two rows at a time",
                      KERNEL_NAMES[ki], threads);
            for (int g = 0; g < N; g++) { /* one row at a time, out = resid in place */
                memcpy(out + (size_t)g * OC, resid + (size_t)g * OC, sizeof(float) * OC);
                mmg__quant_linear(out + (size_t)g * OC, inp + (size_t)g * IC, &w, bias, out + (size_t)g * OC, 1,
                                  s);
            }
            cr_assert(same_bits(out, want, (size_t)N * OC), "kernel %s, row by row", KERNEL_NAMES[ki]);
        }
    }
    mmg__q8_kernel_force(MMG__Q8_KERNEL_AUTO);
    mmg__q8_scratch_free(s);
    free(w.q), free(w.d), free(inp), free(bias), free(resid), free(want), free(out), free(xq);
}

/* ---- models ---------------------------------------------------------------------- */

/* Largest |a - b| over the largest |b|, and how often the argmax agrees. */
static double rel_error(const float *a, const float *b, int T, int V, int *agree) {
    double max_abs = 0, max_ref = 0;
    *agree = 0;
    for (int t = 0; t < T; t++) {
        int ia = 0, ib = 0;
        for (int j = 0; j < V; j++) {
            const size_t i = (size_t)t * V + j;
            max_abs = fmax(max_abs, fabs((double)a[i] - b[i]));
            max_ref = fmax(max_ref, fabs((double)b[i]));
            if (a[i] > a[(size_t)t * V + ia]) ia = j;
            if (b[i] > b[(size_t)t * V + ib]) ib = j;
        }
        *agree += ia == ib;
    }
    return max_abs / max_ref;
}

static void compare_logits(const mmg_model_config *c, const char *what) {
    mmg_model *f = create(c, MMG_WEIGHTS_F32, 7), *q8 = create(c, MMG_WEIGHTS_Q8_0, 7);
    mmg_model *q4 = create(c, MMG_WEIGHTS_Q4_0, 7);
    cr_assert_eq(q4->quant, MMG__QUANT_Q4_0);
    cr_assert_eq(mmg_model_n_params(q4), mmg_model_n_params(f));
    cr_assert_lt(q4->quant_bytes * 10, q8->quant_bytes * 6, "Q4_0 %zu bytes vs Q8_0 %zu", q4->quant_bytes,
                 q8->quant_bytes);
    enum { T = 24 };
    const int V = c->vocab_size;
    int32_t toks[T];
    for (int i = 0; i < T; i++) toks[i] = (int32_t)((i * 37 + 11) % V);
    float *lf = decode_all(f, toks, T, 1), *l8 = decode_all(q8, toks, T, 1), *l4 = decode_all(q4, toks, T, 1);
    int agree4, agree8;
    const double e4 = rel_error(l4, lf, T, V, &agree4), e8 = rel_error(l8, lf, T, V, &agree8);
    cr_log_info("%s: logits vs F32, relative max error: Q4_0 %.4f (argmax agrees %d/%d), Q8_0 %.4f (%d/%d)",
                what, e4, agree4, T, e8, agree8, T);
    /* random weights of std 0.1: a 4-bit step is about a third of the std, so
     * the logits move by tens of percent (the trained-model measure is in
     * bench/run_llama.sh: validation loss) */
    cr_assert_lt(e4, 0.4, "%s: Q4_0 relative error %g", what, e4);
    cr_assert_gt(e4, e8, "%s: Q4_0 (%g) should be coarser than Q8_0 (%g)", what, e4, e8);
    /* 2 threads and token by token: the same bits / the prefill's values */
    float *l4b = decode_all(q4, toks, T, 2);
    cr_assert(same_bits(l4, l4b, (size_t)T * V), "%s: 1 and 2 threads differ", what);
    float *one = malloc(sizeof(float) * V);
    mmg_context *c1 = context(q4, 2, 1);
    if (c->n_encoder_layers > 0) cr_assert_eq(mmg_context_encode(c1, 0, toks, 5), MMG_OK);
    for (int t = 0; t < T; t++) {
        cr_assert_eq(mmg_context_decode(c1, 0, toks + t, 1, one, 0), MMG_OK, "%s", mmg_last_error());
        for (int j = 0; j < V; j++)
            cr_assert_float_eq(one[j], l4[(size_t)t * V + j], 1e-4, "%s: token %d", what, t);
    }
    mmg_context_free(c1);
    free(one), free(lf), free(l8), free(l4), free(l4b);
    mmg_model_free(f), mmg_model_free(q8), mmg_model_free(q4);
}

Test(q4_model, logits_close_to_f32_decoder_tied) {
    mmg_model_config c = small_config(0, 1);
    compare_logits(&c, "decoder-only, tied output");
}

Test(q4_model, logits_close_to_f32_encoder_decoder_untied) {
    mmg_model_config c = small_config(1, 0);
    compare_logits(&c, "encoder-decoder, untied");
}

Test(q4_model, batch_decode_equals_single) {
    quant_test_batch_equals_single(MMG_WEIGHTS_Q4_0);
}

Test(q4_model, training_refused_naming_q4_0) {
    mmg_model_config c = small_config(0, 1);
    mmg_model *q = create(&c, MMG_WEIGHTS_Q4_0, 1);
    mmg_trainer *t = NULL;
    cr_assert_eq(mmg_trainer_create(q, NULL, &t), MMG_ERR_UNSUPPORTED);
    cr_assert(strstr(mmg_last_error(), "quantized (Q4_0)"), "%s", mmg_last_error());
    float w[64 * 64 * 3];
    cr_assert_eq(mmg_model_write_param(q, "decoder.layers.0.self_attn.qkv.weight", w, 64 * 64 * 3),
                 MMG_ERR_UNSUPPORTED);
    cr_assert(strstr(mmg_last_error(), "held in Q4_0"), "%s", mmg_last_error());
    mmg_model_free(q);
}

/* ---- files ------------------------------------------------------------------------ */

Test(q4_io, save_load_round_trip_and_conversions) {
    mmg_model_config c = small_config(0, 0);
    mmg_model *q = create(&c, MMG_WEIGHTS_Q4_0, 5);
    const char *path = tmp_file("roundtrip");
    cr_assert_eq(mmg_model_save(q, path), MMG_OK, "%s", mmg_last_error());
    /* the file: mmgen.quant "q4_0", U8 "<name>.q4_0" of (rows, cols / 32 * 18) */
    mmg__st_file *f;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(mmg__st_metadata(f, "mmgen.quant"), "q4_0");
    const mmg__st_tensor *t = mmg__st_find(f, "decoder.layers.1.ff.fc2.weight.q4_0");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, MMG__DT_U8);
    cr_assert_eq(t->shape[0], 64);
    cr_assert_eq(t->shape[1], 160 / 32 * 18);
    cr_assert_not_null(mmg__st_find(f, "lm_head.weight.q4_0"));
    cr_assert_eq(mmg__st_count(f), (size_t)q->n_tensors);
    mmg__st_close(f);
    /* loads as Q4_0 by default: the same bytes, the same logits */
    int32_t toks[6] = {3, 1, 4, 1, 5, 9};
    const size_t n = (size_t)6 * c.vocab_size;
    float *before = decode_all(q, toks, 6, 1);
    mmg_model *l = load(path, MMG_WEIGHTS_DEFAULT);
    cr_assert_eq(l->quant, MMG__QUANT_Q4_0);
    cr_assert_eq(l->quant_bytes, q->quant_bytes);
    cr_assert_eq(memcmp(l->quant_mem, q->quant_mem, q->quant_bytes), 0);
    float *after = decode_all(l, toks, 6, 2);
    cr_assert(same_bits(before, after, n));
    /* saved again: the same file */
    const char *path2 = "/tmp/mmgen-test-q4-resave.safetensors";
    cr_assert_eq(mmg_model_save(l, path2), MMG_OK);
    FILE *a = fopen(path, "rb"), *b = fopen(path2, "rb");
    int same = 1, ca, cb;
    do {
        ca = fgetc(a), cb = fgetc(b);
        same &= ca == cb;
    } while (ca != EOF && cb != EOF);
    fclose(a), fclose(b);
    cr_assert(same, "saving a loaded Q4_0 model changes the file");
    unlink(path2);
    /* as F32: the parameters read_param gives */
    mmg_model *d = load(path, MMG_WEIGHTS_F32);
    cr_assert_eq(d->quant, MMG__QUANT_NONE);
    for (int i = 0; i < q->n_tensors; i++) {
        const mmg__param *p = &q->tensors[i];
        float *x = malloc(sizeof(float) * p->numel), *y = malloc(sizeof(float) * p->numel);
        cr_assert_eq(mmg_model_read_param(q, p->name, x, p->numel), MMG_OK);
        cr_assert_eq(mmg_model_read_param(d, p->name, y, p->numel), MMG_OK);
        cr_assert(same_bits(x, y, p->numel), "%s", p->name);
        free(x), free(y);
    }
    /* as Q8_0: the dequantized weights quantized again, as quantizing the
     * F32 copy gives */
    const char *f32_path = "/tmp/mmgen-test-q4-dequantized.safetensors";
    cr_assert_eq(mmg_model_save(d, f32_path), MMG_OK);
    mmg_model *as8 = load(path, MMG_WEIGHTS_Q8_0), *via8 = load(f32_path, MMG_WEIGHTS_Q8_0);
    cr_assert_eq(as8->quant, MMG__QUANT_Q8_0);
    cr_assert_eq(as8->quant_bytes, via8->quant_bytes);
    cr_assert_eq(memcmp(as8->quant_mem, via8->quant_mem, via8->quant_bytes), 0);
    /* and a Q8_0 file loaded as Q4_0 likewise */
    cr_assert_eq(mmg_model_save(as8, path2), MMG_OK);
    mmg_model *d8 = load(path2, MMG_WEIGHTS_F32);
    cr_assert_eq(mmg_model_save(d8, f32_path), MMG_OK);
    mmg_model *as4 = load(path2, MMG_WEIGHTS_Q4_0), *via4 = load(f32_path, MMG_WEIGHTS_Q4_0);
    cr_assert_eq(as4->quant, MMG__QUANT_Q4_0);
    cr_assert_eq(memcmp(as4->quant_mem, via4->quant_mem, via4->quant_bytes), 0);
    unlink(path2), unlink(f32_path);
    free(before), free(after);
    mmg_model_free(as4), mmg_model_free(via4), mmg_model_free(d8);
    mmg_model_free(as8), mmg_model_free(via8), mmg_model_free(d);
    mmg_model_free(l), mmg_model_free(q);
    unlink(path);
}

/* A .q4_0 tensor one block short, and .q4_0 tensors in a file that says
 * q8_0: errors that name the tensor and what was expected. */
Test(q4_io, malformed_files_name_the_problem) {
    mmg_model_config c = small_config(0, 1);
    mmg_model *q = create(&c, MMG_WEIGHTS_Q4_0, 2);
    const char *good = "/tmp/mmgen-test-q4-good.safetensors";
    const char *bad = "/tmp/mmgen-test-q4-bad.safetensors";
    cr_assert_eq(mmg_model_save(q, good), MMG_OK, "%s", mmg_last_error());
    for (int how = 0; how < 2; how++) {
        mmg__st_file *f;
        cr_assert_eq(mmg__st_open(good, &f), MMG_OK);
        mmg__st_writer *w;
        cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
        for (size_t i = 0; i < mmg__st_metadata_count(f); i++) {
            const char *k, *v;
            mmg__st_metadata_at(f, i, &k, &v);
            if (how == 1 && strcmp(k, "mmgen.quant") == 0) v = "q8_0";
            cr_assert_eq(mmg__st_writer_metadata(w, k, v), MMG_OK);
        }
        for (size_t i = 0; i < mmg__st_count(f); i++) {
            const mmg__st_tensor *t = mmg__st_at(f, i);
            int64_t shape[8];
            memcpy(shape, t->shape, sizeof shape);
            size_t nbytes = t->nbytes;
            if (how == 0 && strcmp(t->name, "decoder.layers.1.ff.fc1.weight.q4_0") == 0)
                shape[1] -= 18, nbytes -= 18 * (size_t)shape[0];
            cr_assert_eq(mmg__st_writer_add(w, t->name, t->dtype, t->ndim, shape, t->data, nbytes), MMG_OK);
        }
        cr_assert_eq(mmg__st_writer_write(w, bad), MMG_OK, "%s", mmg_last_error());
        mmg__st_writer_free(w);
        mmg__st_close(f);
        mmg_model *m = NULL;
        cr_assert_eq(mmg_model_load(bad, NULL, &m), MMG_ERR_FORMAT);
        cr_assert_null(m);
        const char *says = how == 0 ? "fc1.weight.q4_0' is U8 of shape [160, 18]; expected U8 [160, 36] "
                                      "(160 rows of 2 18-byte Q4_0 blocks"
                                    : "holds Q4_0 blocks, but __metadata__ has \"mmgen.quant\": \"q8_0\"";
        cr_assert(strstr(mmg_last_error(), says), "case %d: \"%s\" lacks \"%s\"", how, mmg_last_error(), says);
    }
    mmg_model_free(q);
    unlink(good), unlink(bad);
}

/* Every allocation of loading a Q4_0 file, converting a Q8_0 file to Q4_0
 * and creating a Q4_0 model fails in turn: MMG_ERR_NOMEM, *out untouched
 * (the sanitizer build checks for leaks). */
Test(q4_io, allocation_failures_are_clean) {
    mmg_model_config c = small_config(0, 1);
    mmg_model *q4 = create(&c, MMG_WEIGHTS_Q4_0, 9), *q8 = create(&c, MMG_WEIGHTS_Q8_0, 9);
    const char *p4 = "/tmp/mmgen-test-q4-sweep4.safetensors", *p8 = "/tmp/mmgen-test-q4-sweep8.safetensors";
    cr_assert_eq(mmg_model_save(q4, p4), MMG_OK);
    cr_assert_eq(mmg_model_save(q8, p8), MMG_OK);
    const quant_test_op ops[] = {
        {p4, MMG_WEIGHTS_DEFAULT, 0}, {p8, MMG_WEIGHTS_Q4_0, 0}, {NULL, MMG_WEIGHTS_Q4_0, 0}};
    quant_test_sweep("Q4_0", ops, 3);
    mmg_model_free(q4), mmg_model_free(q8);
    unlink(p4), unlink(p8);
}

/* `mmgen quantize --type q4_0` writes what loading with MMG_WEIGHTS_Q4_0 holds. */
Test(q4_cli, quantize_command) {
    const char *mmgen = MMGEN_BINARY_DIR "/bin/mmgen";
    if (access(mmgen, X_OK) != 0) cr_skip_test("no %s", mmgen);
    mmg_model_config c = small_config(0, 1);
    mmg_model *f = create(&c, MMG_WEIGHTS_F32, 21), *q = create(&c, MMG_WEIGHTS_Q4_0, 21);
    char in[256], out[256], cmd[1024];
    snprintf(in, sizeof in, "%s", tmp_file("cli-in"));
    snprintf(out, sizeof out, "%s", tmp_file("cli-q4"));
    cr_assert_eq(mmg_model_save(f, in), MMG_OK);
    snprintf(cmd, sizeof cmd, "%s quantize %s %s --type q4_0 > /dev/null", mmgen, in, out);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    mmg_model *l = load(out, MMG_WEIGHTS_DEFAULT);
    cr_assert_eq(l->quant, MMG__QUANT_Q4_0);
    cr_assert_eq(memcmp(l->quant_mem, q->quant_mem, q->quant_bytes), 0);
    mmg_model_free(l), mmg_model_free(q), mmg_model_free(f);
    unlink(in), unlink(out);
}
