/* tests/test_optimizer.c - AdamW, global-norm clipping and the lr schedule.
 *
 * The expected values are computed here in double from the published formulas
 * (Loshchilov & Hutter's decoupled AdamW as torch.optim.AdamW implements it,
 * nanoGPT's get_lr), independently of optimizer.c's float code; the PyTorch
 * comparison of whole training runs is in test_train_parity.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "optimizer.h"
#include "mmgen/mmgen.h"

Test(optimizer, adamw_matches_the_formula_over_steps_with_and_without_decay) {
    enum { N = 6 };
    float p[N] = {0.5f, -1.0f, 2.0f, 0.1f, -0.3f, 0.0f};
    double ref[N], m[N] = {0}, v[N] = {0};
    for (int i = 0; i < N; i++) ref[i] = p[i];
    /* tensor 0: elements 0-3 decay; tensor 1: elements 4-5 (a bias) do not */
    mmg__param_range ranges[2] = {{0, 4, 1}, {4, 2, 0}};
    mmg__adamw opt;
    const double b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
    cr_assert_eq(mmg__adamw_init(&opt, N, ranges, 2, (float)b1, (float)b2, (float)eps, (float)wd),
                 MMG_OK);
    for (int step = 1; step <= 5; step++) {
        float g[N];
        for (int i = 0; i < N; i++) g[i] = (float)(0.3 * sin(step * 1.7 + i) + 0.01 * i);
        const double lr = 1e-2 / step;
        mmg__adamw_update(&opt, p, g, (float)lr);
        for (int i = 0; i < N; i++) {
            if (i < 4) ref[i] *= 1.0 - lr * wd;
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * (double)g[i] * g[i];
            double mhat = m[i] / (1 - pow(b1, step)), vhat = v[i] / (1 - pow(b2, step));
            ref[i] -= lr * mhat / (sqrt(vhat) + eps);
        }
        for (int i = 0; i < N; i++)
            cr_assert_float_eq(p[i], ref[i], 1e-6, "step %d element %d: %.9g vs %.9g", step, i,
                               (double)p[i], ref[i]);
    }
    cr_assert_eq(opt.t, 5);
    mmg__adamw_release(&opt);
}

Test(optimizer, first_step_moves_each_weight_by_lr) {
    /* bias correction makes the first step lr * sign(g) (for |g| >> eps) */
    float p[3] = {1.0f, 1.0f, 1.0f}, g[3] = {1e-3f, -5.0f, 0.0f};
    mmg__param_range r = {0, 3, 0};
    mmg__adamw opt;
    cr_assert_eq(mmg__adamw_init(&opt, 3, &r, 1, 0.9f, 0.999f, 1e-8f, 0.0f), MMG_OK);
    mmg__adamw_update(&opt, p, g, 0.01f);
    cr_assert_float_eq(p[0], 0.99f, 1e-6f);
    cr_assert_float_eq(p[1], 1.01f, 1e-6f);
    cr_assert_eq(p[2], 1.0f, "a zero gradient leaves the weight alone");
    mmg__adamw_release(&opt);
}

Test(optimizer, ranges_outside_the_parameters_are_refused) {
    mmg__param_range r = {2, 5, 1};
    mmg__adamw opt;
    cr_assert_eq(mmg__adamw_init(&opt, 6, &r, 1, 0.9f, 0.999f, 1e-8f, 0.0f), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "outside") != NULL, "%s", mmg_last_error());
}

Test(optimizer, clip_by_global_norm) {
    /* norm of (3, 4, 12) over two "tensors" is 13 */
    float g[3] = {3.0f, 4.0f, 12.0f};
    double norm = mmg__clip_grad_norm(g, 3, 1.0f);
    cr_assert_float_eq(norm, 13.0, 1e-9);
    cr_assert_float_eq(g[0], 3.0f / 13.0f, 1e-6f);
    cr_assert_float_eq(g[2], 12.0f / 13.0f, 1e-6f);
    float h[2] = {0.3f, 0.4f};
    norm = mmg__clip_grad_norm(h, 2, 1.0f);
    cr_assert_float_eq(norm, 0.5, 1e-7);
    cr_assert_eq(h[0], 0.3f, "below the threshold nothing changes");
    /* a long vector: blocked sums give the same norm as a plain double sum */
    enum { BIG = 300001 };
    static float big[BIG];
    double ref = 0.0;
    for (int i = 0; i < BIG; i++) {
        big[i] = (float)sin(i * 0.37);
        ref += (double)big[i] * big[i];
    }
    cr_assert_float_eq(mmg__grad_norm(big, BIG), sqrt(ref), 1e-9 * sqrt(ref));
}

Test(optimizer, warmup_then_cosine_schedule) {
    /* nanoGPT: lr (it+1)/(warmup+1) during warm-up, cosine to min_lr at decay_steps */
    const float lr = 1e-3f, min_lr = 1e-4f;
    cr_assert_float_eq(mmg__lr_at(0, lr, min_lr, 100, 2000), 1e-3 * 1 / 101.0, 1e-10);
    cr_assert_float_eq(mmg__lr_at(99, lr, min_lr, 100, 2000), 1e-3 * 100 / 101.0, 1e-10);
    cr_assert_float_eq(mmg__lr_at(100, lr, min_lr, 100, 2000), 1e-3, 1e-10);
    cr_assert_float_eq(mmg__lr_at(1050, lr, min_lr, 100, 2000), 1e-4 + 0.5 * 9e-4, 1e-9);
    double r = (1500.0 - 100) / 1900;
    cr_assert_float_eq(mmg__lr_at(1500, lr, min_lr, 100, 2000), 1e-4 + 0.5 * (1 + cos(3.14159265358979323846 * r)) * 9e-4,
                       1e-9);
    cr_assert_float_eq(mmg__lr_at(2000, lr, min_lr, 100, 2000), 1e-4, 1e-10);
    cr_assert_float_eq(mmg__lr_at(5000, lr, min_lr, 100, 2000), 1e-4, 1e-10);
    /* no decay: constant after warm-up */
    cr_assert_eq(mmg__lr_at(7, lr, min_lr, 0, 0), lr);
}
