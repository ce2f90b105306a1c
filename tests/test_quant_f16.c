/* tests/test_quant_f16.c - F16 weights computed as F16 (MMG_WEIGHTS_F16,
 * core/gemv.h, ABI.md "Quantized weights"): the rounding against the
 * compiler's own _Float16 conversion, every kernel against a plain reference
 * (bit for bit) for any number of rows, a model's logits against the F32
 * model's, files (the halves as they are; plain F16 files from elsewhere),
 * refusals, allocation failures and the CLI. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemv.h"
#include "memory.h"
#include "mmgen/mmgen.h"
#include "model-impl.h"
#include "quant.h"
#include "safetensors.h"

#include "quant_test.h"

/* ---- rounding ----------------------------------------------------------------------- */

/* mmg__f16_quantize rounds as the compiler's float -> _Float16 conversion
 * (IEEE nearest-even), over every scale, subnormals included; a value that
 * rounds past 65504 is refused, 65519 (rounds down to 65504) is not. */
Test(f16_format, rounds_as_the_compiler_and_refuses_what_f16_cannot_hold) {
#if defined(__FLT16_MAX__)
    enum { NB = 400 };
    float *x = malloc(sizeof(float) * NB * 32);
    uint16_t *h = malloc(sizeof(uint16_t) * NB * 32);
    for (int i = 0; i < NB * 32; i++) x[i] = frand() * powf(2.0f, (float)(int)(rnd() % 40) - 26.0f);
    x[5] = 65504.0f, x[6] = -65519.0f, x[7] = 0.0f, x[8] = -0.0f, x[9] = 5.96e-8f, x[10] = 2.9e-8f;
    cr_assert_eq(mmg__f16_quantize(x, NB, h), 0);
    for (int i = 0; i < NB * 32; i++) {
        _Float16 want = (_Float16)x[i];
        uint16_t bits;
        memcpy(&bits, &want, 2);
        cr_assert_eq(h[i], bits, "x = %a: %#x, the compiler %#x", (double)x[i], h[i], bits);
    }
    free(x), free(h);
#else
    cr_skip_test("this compiler has no _Float16");
#endif
    float y[64];
    uint16_t hy[64];
    for (int i = 0; i < 64; i++) y[i] = 1.0f;
    y[40] = 65520.0f; /* rounds to infinity */
    cr_assert_eq(mmg__f16_quantize(y, 2, hy), 2);
    y[40] = NAN;
    cr_assert_eq(mmg__f16_quantize(y, 2, hy), 2);
    y[40] = 1.0f, y[3] = -INFINITY;
    cr_assert_eq(mmg__f16_quantize(y, 2, hy), 1);
}

/* ---- the kernels ------------------------------------------------------------------- */

/* gemv.h's definition with widened halves, written out again here. */
static float ref_dot(const uint16_t *w, const float *x, int K) {
    float acc[16] = {0};
    for (int k = 0; k < K; k++) acc[k % 16] = fmaf(mmg__f16_to_f32(w[k]), x[k], acc[k % 16]);
    float t8[8], t4[4], t2[2];
    for (int i = 0; i < 8; i++) t8[i] = acc[i] + acc[i + 8];
    for (int i = 0; i < 4; i++) t4[i] = t8[i] + t8[i + 4];
    for (int i = 0; i < 2; i++) t2[i] = t4[i] + t4[i + 2];
    return t2[0] + t2[1];
}

static const mmg__gemv_kernel KERNELS[] = {MMG__GEMV_KERNEL_SCALAR, MMG__GEMV_KERNEL_AVX2,
                                           MMG__GEMV_KERNEL_AVX512};

/* Every kernel, for row counts around the tiles (four row streams for one input,
 * 4 x 4 for several), input counts 1..9 and lengths with and without a
 * tail: the reference's bits, with and without a base. */
Test(f16_kernels, every_kernel_equals_the_reference_bit_for_bit) {
    const int Ks[] = {16, 32, 48, 768, 1040, 3072, 37};
    const int ns[] = {1, 3, 7, 8, 13, 64};
    int tested = 0;
    for (size_t ki = 0; ki < sizeof KERNELS / sizeof *KERNELS; ki++) {
        if (mmg__gemv_kernel_force(KERNELS[ki])) {
            cr_log_info("kernel %d: not supported on this CPU, skipped", (int)KERNELS[ki]);
            continue;
        }
        for (size_t a = 0; a < sizeof Ks / sizeof *Ks; a++)
            for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
                for (int G = 1; G <= 9; G += (G < 5 ? 1 : 4)) {
                    const int K = Ks[a], n = ns[b];
                    /* exactly sized, so ASan sees any read past the last row */
                    uint16_t *w = malloc(sizeof(uint16_t) * (size_t)n * K);
                    float *x = malloc(sizeof(float) * (size_t)G * K);
                    float *out = malloc(sizeof(float) * (size_t)G * n), *want = malloc(sizeof(float) * (size_t)G * n);
                    float *dot = malloc(sizeof(float) * (size_t)G * n);
                    for (size_t i = 0; i < (size_t)n * K; i++) w[i] = mmg__f32_to_f16(frand() * 2.0f);
                    for (size_t i = 0; i < (size_t)G * K; i++) x[i] = frand();
                    for (int g = 0; g < G; g++)
                        for (int r = 0; r < n; r++) {
                            dot[g * n + r] = ref_dot(w + (size_t)r * K, x + (size_t)g * K, K);
                            want[g * n + r] = 0.5f + dot[g * n + r];
                            out[g * n + r] = 0.5f;
                        }
                    mmg__gemv_rows_f16(out, n, 1, w, n, K, x, G);
                    cr_assert(same_bits(out, want, (size_t)G * n), "kernel %s, K %d, %d rows, %d inputs",
                              mmg__gemv_kernel_name(), K, n, G);
                    mmg__gemv_rows_f16(out, n, 0, w, n, K, x, G);
                    cr_assert(same_bits(out, dot, (size_t)G * n), "kernel %s without a base",
                              mmg__gemv_kernel_name());
                    free(w), free(x), free(out), free(want), free(dot);
                }
        tested++;
    }
    mmg__gemv_kernel_force(MMG__GEMV_KERNEL_AUTO);
    cr_log_info("F16 kernels tested bit for bit: %d (default: %s)", tested, mmg__gemv_kernel_name());
    cr_assert_geq(tested, 1);
}

/* ---- models ---------------------------------------------------------------------- */

static void compare_logits(const mmg_model_config *c, const char *what) {
    mmg_model *f = create(c, MMG_WEIGHTS_F32, 7), *h = create(c, MMG_WEIGHTS_F16, 7);
    cr_assert_eq(h->quant, MMG__QUANT_F16);
    cr_assert_eq(mmg_model_n_params(h), mmg_model_n_params(f));
    enum { T = 24 };
    const int V = c->vocab_size;
    int32_t toks[T];
    for (int i = 0; i < T; i++) toks[i] = (int32_t)((i * 37 + 11) % V);
    float *lf = decode_all(f, toks, T, 1), *lh = decode_all(h, toks, T, 1);
    double max_abs = 0, max_ref = 0;
    for (size_t i = 0; i < (size_t)T * V; i++) {
        max_abs = fmax(max_abs, fabs((double)lf[i] - lh[i]));
        max_ref = fmax(max_ref, fabs((double)lf[i]));
    }
    cr_log_info("%s: F16 vs F32 logits: max abs error %.6f of max |logit| %.3f", what, max_abs, max_ref);
    cr_assert_lt(max_abs / max_ref, 2e-3, "%s: relative error %g", what, max_abs / max_ref);
    /* 2 threads: the same bits; token by token: close (its attention kernel differs) */
    float *lh2 = decode_all(h, toks, T, 2);
    cr_assert(same_bits(lh, lh2, (size_t)T * V), "%s: 1 and 2 threads differ", what);
    float *one = malloc(sizeof(float) * V);
    mmg_context *c1 = context(h, 1, 1);
    if (c->n_encoder_layers > 0) cr_assert_eq(mmg_context_encode(c1, 0, toks, 5), MMG_OK);
    for (int t = 0; t < T; t++) {
        cr_assert_eq(mmg_context_decode(c1, 0, toks + t, 1, one, 0), MMG_OK, "%s", mmg_last_error());
        for (int j = 0; j < V; j++) cr_assert_float_eq(one[j], lh[(size_t)t * V + j], 1e-4, "%s: token %d", what, t);
    }
    mmg_context_free(c1);
    free(one), free(lf), free(lh), free(lh2);
    mmg_model_free(f), mmg_model_free(h);
}

Test(f16_model, logits_close_to_f32_decoder_tied) {
    mmg_model_config c = small_config(0, 1);
    compare_logits(&c, "decoder-only, tied output");
}

Test(f16_model, logits_close_to_f32_encoder_decoder_untied) {
    mmg_model_config c = small_config(1, 0);
    compare_logits(&c, "encoder-decoder, untied");
}

Test(f16_model, batch_decode_equals_single) {
    quant_test_batch_equals_single(MMG_WEIGHTS_F16);
}

Test(f16_model, refusals_name_f16) {
    mmg_model_config c = small_config(0, 1);
    mmg_model *q = create(&c, MMG_WEIGHTS_F16, 1);
    mmg_trainer *t = NULL;
    cr_assert_eq(mmg_trainer_create(q, NULL, &t), MMG_ERR_UNSUPPORTED);
    cr_assert(strstr(mmg_last_error(), "quantized (F16)"), "%s", mmg_last_error());
    mmg_model_free(q);
    /* a weight F16 cannot hold, through the loader: the tensor and block named */
    c = small_config(0, 0);
    mmg_model *f = create(&c, MMG_WEIGHTS_F32, 3);
    float *w = malloc(sizeof(float) * 160 * 64);
    cr_assert_eq(mmg_model_read_param(f, "decoder.layers.0.ff.fc1.weight", w, 160 * 64), MMG_OK);
    w[64 * 2 + 33] = 1e5f;
    cr_assert_eq(mmg_model_write_param(f, "decoder.layers.0.ff.fc1.weight", w, 160 * 64), MMG_OK);
    const char *path = tmp_file("f16-huge");
    cr_assert_eq(mmg_model_save(f, path), MMG_OK);
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.weights = MMG_WEIGHTS_F16;
    mmg_model *m = (mmg_model *)0x5e47;
    cr_assert_eq(mmg_model_load(path, &o, &m), MMG_ERR_NUMERIC);
    cr_assert_eq(m, (mmg_model *)0x5e47);
    cr_assert(strstr(mmg_last_error(), "fc1.weight': row 2, columns 32..63") &&
                  strstr(mmg_last_error(), "above 65504, which F16 cannot store"),
              "%s", mmg_last_error());
    o.weights = 5;
    cr_assert_eq(mmg_model_load(path, &o, &m), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "MMG_WEIGHTS_F16 (4)"), "%s", mmg_last_error());
    free(w);
    mmg_model_free(f);
    unlink(path);
}

/* ---- files ------------------------------------------------------------------------ */

/* Copies an mmgen model file without its "mmgen.quant" entry (a plain F16
 * safetensors file, as other tools write), or with one linear weight as
 * F32 (`f32_victim`). */
static void rewrite(const char *src, const char *dst, int drop_quant, const char *f32_victim) {
    mmg__st_file *f;
    cr_assert_eq(mmg__st_open(src, &f), MMG_OK, "%s", mmg_last_error());
    mmg__st_writer *w;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    for (size_t i = 0; i < mmg__st_metadata_count(f); i++) {
        const char *k, *v;
        mmg__st_metadata_at(f, i, &k, &v);
        if (drop_quant && strcmp(k, "mmgen.quant") == 0) continue;
        cr_assert_eq(mmg__st_writer_metadata(w, k, v), MMG_OK);
    }
    float *copies[256];
    int n_copies = 0;
    for (size_t i = 0; i < mmg__st_count(f); i++) {
        const mmg__st_tensor *t = mmg__st_at(f, i);
        if (f32_victim && strcmp(t->name, f32_victim) == 0) {
            float *x = malloc(t->numel * sizeof *x);
            cr_assert_eq(mmg__st_pread_f32(f, t, x, t->numel), MMG_OK);
            cr_assert_eq(mmg__st_writer_add(w, t->name, MMG__DT_F32, t->ndim, t->shape, x, t->numel * 4), MMG_OK);
            copies[n_copies++] = x;
            continue;
        }
        cr_assert_eq(mmg__st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, t->nbytes), MMG_OK);
    }
    cr_assert_eq(mmg__st_writer_write(w, dst), MMG_OK, "%s", mmg_last_error());
    mmg__st_writer_free(w);
    for (int i = 0; i < n_copies; i++) free(copies[i]);
    mmg__st_close(f);
}

Test(f16_io, save_load_and_plain_f16_files) {
    mmg_model_config c = small_config(0, 0);
    mmg_model *h = create(&c, MMG_WEIGHTS_F16, 5);
    char path[256], plain[256], bad[256];
    snprintf(path, sizeof path, "%s", tmp_file("f16"));
    snprintf(plain, sizeof plain, "%s", tmp_file("f16-plain"));
    snprintf(bad, sizeof bad, "%s", tmp_file("f16-bad"));
    cr_assert_eq(mmg_model_save(h, path), MMG_OK, "%s", mmg_last_error());
    /* the file: mmgen.quant "f16", linear weights as F16 tensors under their names */
    mmg__st_file *f;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK);
    cr_assert_str_eq(mmg__st_metadata(f, "mmgen.quant"), "f16");
    const mmg__st_tensor *t = mmg__st_find(f, "decoder.layers.1.ff.fc2.weight");
    cr_assert(t && t->dtype == MMG__DT_F16 && t->shape[0] == 64 && t->shape[1] == 160);
    cr_assert_eq(memcmp(t->data, mmg__model_find_param(h, "decoder.layers.1.ff.fc2.weight")->qm->q, t->nbytes), 0);
    t = mmg__st_find(f, "tok_emb.weight");
    cr_assert(t && t->dtype == MMG__DT_F32);
    mmg__st_close(f);
    /* loads as F16 by default: the same halves, the same logits */
    int32_t toks[6] = {3, 1, 4, 1, 5, 9};
    const size_t n = (size_t)6 * c.vocab_size;
    float *before = decode_all(h, toks, 6, 1);
    mmg_model *l = load(path, MMG_WEIGHTS_DEFAULT);
    cr_assert_eq(l->quant, MMG__QUANT_F16);
    cr_assert_eq(l->quant_bytes, h->quant_bytes);
    cr_assert_eq(memcmp(l->quant_mem, h->quant_mem, h->quant_bytes), 0);
    float *after = decode_all(l, toks, 6, 2);
    cr_assert(same_bits(before, after, n));
    /* as F32: the halves widened, as read_param gives them */
    mmg_model *d = load(path, MMG_WEIGHTS_F32);
    for (int i = 0; i < h->n_tensors; i++) {
        const mmg__param *p = &h->tensors[i];
        float *x = malloc(sizeof(float) * p->numel), *y = malloc(sizeof(float) * p->numel);
        cr_assert_eq(mmg_model_read_param(h, p->name, x, p->numel), MMG_OK);
        cr_assert_eq(mmg_model_read_param(d, p->name, y, p->numel), MMG_OK);
        cr_assert(same_bits(x, y, p->numel), "%s", p->name);
        free(x), free(y);
    }
    /* a plain F16 file (no mmgen.quant): F32 by default, F16 when asked, with the same halves */
    rewrite(path, plain, 1, NULL);
    mmg_model *p32 = load(plain, MMG_WEIGHTS_DEFAULT), *p16 = load(plain, MMG_WEIGHTS_F16);
    cr_assert_eq(p32->quant, MMG__QUANT_NONE);
    cr_assert_eq(p16->quant, MMG__QUANT_F16);
    cr_assert_eq(memcmp(p16->quant_mem, h->quant_mem, h->quant_bytes), 0);
    /* and as Q8_0: what quantizing the F32 model gives */
    mmg_model *q8 = load(path, MMG_WEIGHTS_Q8_0);
    cr_assert_eq(mmg_model_save(d, plain), MMG_OK);
    mmg_model *q8b = load(plain, MMG_WEIGHTS_Q8_0);
    cr_assert_eq(memcmp(q8->quant_mem, q8b->quant_mem, q8->quant_bytes), 0);
    /* a file that says f16 with a linear weight in F32: refused, naming it */
    rewrite(path, bad, 0, "decoder.layers.0.self_attn.out.weight");
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_load(bad, NULL, &m), MMG_ERR_FORMAT);
    cr_assert_null(m);
    cr_assert(strstr(mmg_last_error(), "'decoder.layers.0.self_attn.out.weight' is F32 in a file whose "
                                       "__metadata__ \"mmgen.quant\" is \"f16\""),
              "%s", mmg_last_error());
    free(before), free(after);
    mmg_model_free(q8), mmg_model_free(q8b), mmg_model_free(p32), mmg_model_free(p16);
    mmg_model_free(d), mmg_model_free(l), mmg_model_free(h);
    unlink(path), unlink(plain), unlink(bad);
}

/* Every allocation of loading an F16 file, converting an F32 file to F16
 * and creating an F16 model fails in turn: MMG_ERR_NOMEM, *out untouched. */
Test(f16_io, allocation_failures_are_clean) {
    mmg_model_config c = small_config(0, 1);
    mmg_model *h = create(&c, MMG_WEIGHTS_F16, 9), *f = create(&c, MMG_WEIGHTS_F32, 9);
    char ph[256], pf[256];
    snprintf(ph, sizeof ph, "%s", tmp_file("sweep-f16"));
    snprintf(pf, sizeof pf, "%s", tmp_file("sweep-f32"));
    cr_assert_eq(mmg_model_save(h, ph), MMG_OK);
    cr_assert_eq(mmg_model_save(f, pf), MMG_OK);
    const quant_test_op ops[] = {
        {ph, MMG_WEIGHTS_DEFAULT, 0}, {pf, MMG_WEIGHTS_F16, 0}, {NULL, MMG_WEIGHTS_F16, 0}};
    quant_test_sweep("F16", ops, 3);
    mmg_model_free(h), mmg_model_free(f);
    unlink(ph), unlink(pf);
}

/* `mmgen quantize --type f16` writes what loading with MMG_WEIGHTS_F16 holds. */
Test(f16_cli, quantize_command) {
    const char *mmgen = MMGEN_BINARY_DIR "/bin/mmgen";
    if (access(mmgen, X_OK) != 0) cr_skip_test("no %s", mmgen);
    mmg_model_config c = small_config(0, 1);
    mmg_model *f = create(&c, MMG_WEIGHTS_F32, 21), *h = create(&c, MMG_WEIGHTS_F16, 21);
    char in[256], out[256], cmd[1024];
    snprintf(in, sizeof in, "%s", tmp_file("cli-in"));
    snprintf(out, sizeof out, "%s", tmp_file("cli-f16"));
    cr_assert_eq(mmg_model_save(f, in), MMG_OK);
    snprintf(cmd, sizeof cmd, "%s quantize %s %s --type f16 > /dev/null", mmgen, in, out);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    mmg_model *l = load(out, MMG_WEIGHTS_DEFAULT);
    cr_assert_eq(l->quant, MMG__QUANT_F16);
    cr_assert_eq(memcmp(l->quant_mem, h->quant_mem, h->quant_bytes), 0);
    mmg_model_free(l), mmg_model_free(h), mmg_model_free(f);
    unlink(in), unlink(out);
}
