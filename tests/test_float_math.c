/* tests/test_float_math.c - the vectorizable float functions (core/train_math.h)
 * and the element-wise forward kernels built on them (GELU, ReLU, softmax).
 *
 * References are libm in double: exp, erf, tanh, and the GELU/softmax
 * formulas written with them. Besides accuracy over ordinary ranges, every
 * function is fed NaN, infinities, huge and subnormal values: the results
 * must follow the double reference (NaN exactly where it is NaN), and the
 * sanitizer build (-DMMGEN_SANITIZE=ON, UBSan aborting on the first error)
 * proves no input reaches undefined behaviour such as an overflowing shift. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "mmgen/model.h"
#include "ops.h"
#include "train_math.h"

/* GELU references in double. */
static double gelu_ref(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double gelu_tanh_ref(double x) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}
static double relu_ref(double x) { return x != x ? x : (x > 0.0 ? x : 0.0); }

/* Inputs that break naive code: NaN of both signs, infinities, the float
 * limits, values past exp's range, subnormals, signed zeros. */
static float specials[32];
static int n_specials;

static void make_specials(void) {
    const float v[] = {NAN, -NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e30f, -1e30f,
                       1e5f, -1e5f, 100.0f, -100.0f, 88.8f, -88.8f, -87.3f, -87.4f,
                       -104.0f, 13.0f, -13.0f, 1e-40f, -1e-40f, FLT_MIN, -FLT_MIN, 0.0f,
                       -0.0f, 1.0f, -1.0f};
    n_specials = (int)(sizeof v / sizeof v[0]);
    memcpy(specials, v, sizeof v);
}

/* got follows ref: both NaN, or equal infinities, or within tol. */
static void expect_close(const char *what, float x, double got, double ref, double tol) {
    if (isnan(ref)) {
        cr_expect(isnan(got), "%s(%g) = %g, expected NaN", what, (double)x, got);
    } else if (isinf(ref)) {
        cr_expect(got == ref, "%s(%g) = %g, expected %g", what, (double)x, got, ref);
    } else {
        cr_expect(!isnan(got) && fabs(got - ref) <= tol, "%s(%g) = %.9g, expected %.9g (tol %g)",
                  what, (double)x, got, ref, tol);
    }
}

Test(float_math, helpers_match_libm) {
    double e_exp = 0.0, e_erf = 0.0, e_tanh = 0.0;
    for (int i = 0; i <= 200000; i++) {
        float x = -90.0f + 90.0f * (float)i / 200000.0f; /* [-90, 0] */
        double ref = exp((double)x);
        double got = mmg__exp_nonpos(x);
        if (ref > 1e-37) e_exp = fmax(e_exp, fabs(got - ref) / ref);
        else cr_assert_leq(got, 1e-37);
        float z = -6.0f + 12.0f * (float)i / 200000.0f; /* [-6, 6] */
        e_erf = fmax(e_erf, fabs((double)mmg__erf(z) - erf((double)z)));
        e_tanh = fmax(e_tanh, fabs((double)mmg__tanh(z) - tanh((double)z)));
    }
    cr_log_info("exp relative error %.3g, erf absolute %.3g, tanh absolute %.3g", e_exp, e_erf, e_tanh);
    cr_assert_lt(e_exp, 5e-7);
    cr_assert_lt(e_erf, 1e-6);
    cr_assert_lt(e_tanh, 3e-7);
    cr_assert(isnan(mmg__exp_nonpos(NAN)), "NaN must propagate (the loss detects it)");
    cr_assert_eq(mmg__exp_nonpos(-INFINITY), 0.0f);
    cr_assert_eq(mmg__exp_nonpos(0.0f), 1.0f);
}

/* The forward GELUs against their double formulas, absolute error relative
 * to max(1, |x|) over [-10, 10]. */
Test(float_math, gelu_forward_matches_libm) {
    double e_gelu = 0.0, e_tanh = 0.0;
    for (int i = 0; i <= 200000; i++) {
        float x = -10.0f + 20.0f * (float)i / 200000.0f;
        double s = fmax(1.0, fabs((double)x));
        e_gelu = fmax(e_gelu, fabs((double)mmg__gelu(x) - gelu_ref(x)) / s);
        e_tanh = fmax(e_tanh, fabs((double)mmg__gelu_tanh(x) - gelu_tanh_ref(x)) / s);
    }
    cr_log_info("gelu error %.3g, tanh gelu error %.3g (of max(1, |x|))", e_gelu, e_tanh);
    cr_assert_lt(e_gelu, 1e-6);
    cr_assert_lt(e_tanh, 1e-6);
}

Test(float_math, special_values_through_the_helpers) {
    make_specials();
    for (int i = 0; i < n_specials; i++) {
        const float x = specials[i];
        /* exp_nonpos is exp on x <= 0 (and NaN); below -87.3 it flushes to 0,
         * where exp is itself under FLT_MIN */
        if (!(x > 0.0f)) {
            const double ref = exp((double)x);
            expect_close("exp_nonpos", x, mmg__exp_nonpos(x), ref, 5e-7 * ref + FLT_MIN);
        } else {
            cr_expect_eq(mmg__exp_nonpos(x), 1.0f, "exp_nonpos(%g): x > 0 is taken as 0", (double)x);
        }
        expect_close("erf", x, mmg__erf(x), erf((double)x), 1e-6);
        expect_close("tanh", x, mmg__tanh(x), tanh((double)x), 3e-7);
        const double s = fmax(1.0, fabs((double)x));
        expect_close("gelu", x, mmg__gelu(x), gelu_ref(x), 1e-6 * s);
        expect_close("gelu_tanh", x, mmg__gelu_tanh(x), gelu_tanh_ref(x), 1e-6 * s);
    }
}

/* The activation kernel (the vector clone picked for this CPU, its vector
 * body and scalar tail) gives the scalar function's bits on every special
 * value, and follows the double reference. */
Test(float_math, special_values_through_the_activation_kernel) {
    make_specials();
    enum { N = 203 }; /* not a multiple of any vector width */
    static float in[N], out[N];
    for (int i = 0; i < N; i++) in[i] = specials[i % n_specials];
    const int acts[3] = {MMG_ACT_RELU, MMG_ACT_GELU, MMG_ACT_GELU_TANH};
    const char *names[3] = {"relu", "gelu", "gelu_tanh"};
    for (int a = 0; a < 3; a++) {
        mmg__activation_forward(out, in, N, acts[a]);
        for (int i = 0; i < N; i++) {
            const float x = in[i];
            const double s = fmax(1.0, fabs((double)x));
            if (acts[a] == MMG_ACT_RELU) {
                expect_close(names[a], x, out[i], relu_ref(x), 0.0);
                continue;
            }
            float scalar = acts[a] == MMG_ACT_GELU ? mmg__gelu(x) : mmg__gelu_tanh(x);
            cr_expect(memcmp(&scalar, &out[i], sizeof scalar) == 0 || (isnan(scalar) && isnan(out[i])),
                      "%s(%g): kernel %.9g, scalar %.9g", names[a], (double)x, (double)out[i],
                      (double)scalar);
            expect_close(names[a], x, out[i], acts[a] == MMG_ACT_GELU ? gelu_ref(x) : gelu_tanh_ref(x),
                         1e-6 * s);
        }
    }
    /* in place, as the forward may call it */
    memcpy(out, in, sizeof in);
    mmg__activation_forward(out, out, N, MMG_ACT_GELU);
    for (int i = 0; i < N; i++) {
        float scalar = mmg__gelu(in[i]);
        cr_expect(memcmp(&scalar, &out[i], sizeof scalar) == 0 || (isnan(scalar) && isnan(out[i])));
    }
}

/* Softmax of a row in double, -inf entries giving 0 (the row has a finite max). */
static void softmax_ref(double *y, const float *x, int n) {
    double mx = -INFINITY, sum = 0.0;
    for (int i = 0; i < n; i++) mx = fmax(mx, x[i]);
    for (int i = 0; i < n; i++) sum += y[i] = exp((double)x[i] - mx);
    for (int i = 0; i < n; i++) y[i] /= sum;
}

static void check_softmax_row(const char *what, const float *x, int n) {
    float y[64];
    double ref[64];
    memcpy(y, x, sizeof(float) * (size_t)n);
    mmg__softmax_forward(y, n);
    softmax_ref(ref, x, n);
    for (int i = 0; i < n; i++)
        cr_expect(fabs((double)y[i] - ref[i]) <= 1e-6 * ref[i] + 1e-30,
                  "%s[%d]: softmax %.9g, expected %.9g", what, i, (double)y[i], ref[i]);
}

static void expect_all_nan(const char *what, const float *x, int n) {
    float y[64];
    memcpy(y, x, sizeof(float) * (size_t)n);
    mmg__softmax_forward(y, n);
    for (int i = 0; i < n; i++) cr_expect(isnan(y[i]), "%s[%d] is %g, expected NaN", what, i, (double)y[i]);
}

Test(float_math, softmax_special_values) {
    enum { N = 37 }; /* vector body and tail */
    float x[N];
    for (int i = 0; i < N; i++) x[i] = 0.37f * (float)(i % 11) - 1.5f;
    check_softmax_row("ordinary", x, N);

    /* -inf entries (masked) give 0, the rest is the softmax of the others */
    x[3] = x[17] = x[36] = -INFINITY;
    check_softmax_row("masked", x, N);

    /* huge finite logits: exp of the differences underflows to 0 exactly */
    float big[N];
    for (int i = 0; i < N; i++) big[i] = (i % 3 == 0) ? -1e30f : (float)i;
    big[5] = FLT_MAX;
    big[20] = -FLT_MAX; /* FLT_MAX - (-FLT_MAX) overflows to -inf after the shift */
    check_softmax_row("huge", big, N);
    big[5] = 1e30f;
    big[6] = 1e30f - 1e23f; /* two near the top, 1e23 apart: the smaller one gets 0 */
    check_softmax_row("huge pair", big, N);

    /* a NaN or +inf anywhere poisons the whole row */
    float bad[N];
    for (int k = 0; k < 4; k++) {
        memcpy(bad, x, sizeof bad);
        const float v = k == 0 ? NAN : k == 1 ? -NAN : INFINITY;
        bad[k == 3 ? N - 1 : 7] = k == 3 ? INFINITY : v;
        expect_all_nan("poisoned", bad, N);
    }

    /* every entry masked: zeros; masked except a NaN: NaN */
    float neg[N];
    for (int i = 0; i < N; i++) neg[i] = -INFINITY;
    float y[N];
    memcpy(y, neg, sizeof y);
    cr_assert_eq(mmg__softmax_forward(y, N), -INFINITY);
    for (int i = 0; i < N; i++) cr_expect_eq(y[i], 0.0f);
    neg[30] = NAN;
    expect_all_nan("masked but NaN", neg, N);
}
