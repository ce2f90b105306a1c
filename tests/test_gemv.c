/* tests/test_gemv.c - the fixed-order F32 matrix-vector products
 * (core/gemv.h): every kernel this CPU runs gives the reference's bits for
 * every shape (tails of every length, tiles and their remainders, beta 0
 * and 1), a row's result does not depend on the other rows beside it, and
 * the reference is a correct dot product (within float rounding of a double
 * one). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemv.h"

static uint32_t rng = 12345;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((int32_t)(rng >> 8) - (1 << 23)) / (float)(1 << 23);
}

static float *random_floats(size_t n) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

static const mmg__gemv_kernel KERNELS[] = {MMG__GEMV_KERNEL_SCALAR, MMG__GEMV_KERNEL_AVX2,
                                           MMG__GEMV_KERNEL_AVX512};

Test(gemv, every_kernel_gives_the_reference_bits) {
    static const int Ks[] = {1, 7, 15, 16, 17, 31, 33, 64, 100, 768};
    static const int ns[] = {1, 3, 4, 5, 9, 14, 64};
    static const int Gs[] = {1, 2, 3, 4, 5, 8, 9};
    int ran = 0;
    for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (size_t gi = 0; gi < sizeof Gs / sizeof *Gs; gi++) {
                const int K = Ks[ki], n = ns[ni], G = Gs[gi], ldo = n + 3;
                float *w = random_floats((size_t)n * K), *x = random_floats((size_t)G * K);
                float *base = random_floats((size_t)G * ldo);
                float *want = malloc((size_t)G * ldo * sizeof *want);
                float *got = malloc((size_t)G * ldo * sizeof *got);
                for (int beta = 0; beta <= 1; beta++) {
                    memcpy(want, base, (size_t)G * ldo * sizeof *want);
                    for (int g = 0; g < G; g++)
                        for (int r = 0; r < n; r++) {
                            float d = mmg__gemv_dot_ref(w + (size_t)r * K, x + (size_t)g * K, K);
                            float *o = want + (size_t)g * ldo + r;
                            *o = beta ? *o + d : d;
                        }
                    for (size_t k = 0; k < sizeof KERNELS / sizeof *KERNELS; k++) {
                        if (mmg__gemv_kernel_force(KERNELS[k]) != 0) continue;
                        memcpy(got, base, (size_t)G * ldo * sizeof *got);
                        mmg__gemv_rows(got, ldo, beta, w, n, K, x, G);
                        cr_assert_eq(memcmp(got, want, (size_t)G * ldo * sizeof *got), 0,
                                     "kernel %s, K %d, n %d, G %d, beta %d: not the reference's bits",
                                     mmg__gemv_kernel_name(), K, n, G, beta);
                        ran++;
                    }
                }
                free(w), free(x), free(base), free(want), free(got);
            }
    mmg__gemv_kernel_force(MMG__GEMV_KERNEL_AUTO);
    cr_assert(ran > 0);
    cr_log_info("%d kernel x shape runs; kernel in use: %s", ran, mmg__gemv_kernel_name());
}

Test(gemv, a_row_does_not_depend_on_its_neighbours) {
    const int K = 203, n = 37, G = 8;
    float *w = random_floats((size_t)n * K), *x = random_floats((size_t)G * K);
    float *all = malloc((size_t)G * n * sizeof *all), *one = malloc((size_t)n * sizeof *one);
    mmg__gemv_rows(all, n, 0, w, n, K, x, G);
    for (int g = 0; g < G; g++) {
        mmg__gemv_rows(one, n, 0, w, n, K, x + (size_t)g * K, 1);
        cr_assert_eq(memcmp(one, all + (size_t)g * n, (size_t)n * sizeof *one), 0, "row %d", g);
    }
    free(w), free(x), free(all), free(one);
}

Test(gemv, the_reference_is_a_dot_product) {
    const int K = 3072;
    float *w = random_floats(K), *x = random_floats(K);
    double exact = 0, mag = 0;
    for (int k = 0; k < K; k++) exact += (double)w[k] * x[k], mag += fabs((double)w[k] * x[k]);
    float d = mmg__gemv_dot_ref(w, x, K);
    cr_assert(fabs(d - exact) <= 1e-6 * mag, "%.9g vs %.9g (sum of |products| %.3g)", (double)d, exact, mag);
    free(w), free(x);
}
