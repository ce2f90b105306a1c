/* tests/test_weights_data.c - the weight formats as bytes (ABI 1.6,
 * mmgen/model.h): mmg_weights_size, mmg_quantize / mmg_dequantize against a
 * reference written here from ggml's block definitions (the compiler's
 * _Float16 for the halves), mmg_model_read_param_data giving the bytes a
 * quantized model holds (the same as quantizing the F32 model's weights),
 * mmg_param_info's new fields, and every refusal with its output untouched. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/mmgen.h"

#include "quant_test.h"

static const int32_t TYPES[] = {MMG_WEIGHTS_F32, MMG_WEIGHTS_F16, MMG_WEIGHTS_Q8_0, MMG_WEIGHTS_Q4_0};

/* ---- a reference quantizer (ggml's quantize_row_q8_0_ref / _q4_0_ref) ------------- */

#if defined(__FLT16_MAX__)
static uint16_t half_bits(float f) {
    _Float16 h = (_Float16)f;
    uint16_t b;
    memcpy(&b, &h, 2);
    return b;
}

static float half_value(uint16_t b) {
    _Float16 h;
    memcpy(&h, &b, 2);
    return (float)h;
}

/* One block of 32 floats in file form (34 or 18 bytes). */
static void ref_block(int32_t weights, const float *x, uint8_t *out) {
    if (weights == MMG_WEIGHTS_Q8_0) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        const uint16_t h = half_bits(d);
        out[0] = (uint8_t)h, out[1] = (uint8_t)(h >> 8);
        for (int i = 0; i < 32; i++) out[2 + i] = (uint8_t)(int8_t)roundf(x[i] * id);
    } else {
        float amax = 0, max = 0;
        for (int i = 0; i < 32; i++)
            if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
        const float d = max / -8, id = d ? 1.0f / d : 0.0f;
        const uint16_t h = half_bits(d);
        out[0] = (uint8_t)h, out[1] = (uint8_t)(h >> 8);
        for (int j = 0; j < 16; j++) {
            const float p0 = x[j] * id, p1 = x[j + 16] * id; /* rounded to float, as ggml's C */
            int a = (int)(p0 + 8.5f), b = (int)(p1 + 8.5f);
            a = a > 15 ? 15 : a, b = b > 15 ? 15 : b;
            out[2 + j] = (uint8_t)(a | (b << 4));
        }
    }
}
#endif

/* ---- sizes --------------------------------------------------------------------------- */

Test(weights_data, sizes) {
    cr_assert_eq(mmg_weights_size(MMG_WEIGHTS_F32, 10), 40);
    cr_assert_eq(mmg_weights_size(MMG_WEIGHTS_F16, 7), 14);
    cr_assert_eq(mmg_weights_size(MMG_WEIGHTS_Q8_0, 64), 68);
    cr_assert_eq(mmg_weights_size(MMG_WEIGHTS_Q4_0, 96), 54);
    cr_assert_eq(mmg_weights_size(MMG_WEIGHTS_Q8_0, 33), 0, "not whole blocks");
    cr_assert_eq(mmg_weights_size(MMG_WEIGHTS_DEFAULT, 32), 0);
    cr_assert_eq(mmg_weights_size(9, 32), 0);
    cr_assert_eq(mmg_weights_size(MMG_WEIGHTS_F32, UINT64_MAX / 2), 0, "overflow");
    cr_assert_eq(mmg_weights_size(MMG_WEIGHTS_Q8_0, 0), 0);
}

/* ---- quantize / dequantize against the reference ----------------------------------- */

Test(weights_data, quantize_matches_the_reference_and_dequantizes_back) {
#if defined(__FLT16_MAX__)
    enum { NB = 300, N = NB * 32 };
    float *x = malloc(N * sizeof *x), *back = malloc(N * sizeof *back);
    uint8_t *got = malloc(N * 4), *want = malloc(N * 4);
    for (int i = 0; i < N; i++) x[i] = frand() * powf(2.0f, (float)(int)(rnd() % 24) - 12.0f);
    for (int i = 0; i < 32; i++) x[32 * 7 + i] = 0.0f; /* an all-zero block */
    x[32 * 9 + 3] = -x[32 * 9 + 4] + 0.0f;                /* equal magnitudes: the first wins (Q4_0) */
    for (int t = 2; t < 4; t++) {
        const int32_t w = TYPES[t];
        const size_t bb = w == MMG_WEIGHTS_Q8_0 ? 34 : 18;
        memset(got, 0xa5, N * 4);
        cr_assert_eq(mmg_quantize(w, x, N, got, N * 4), MMG_OK, "%s", mmg_last_error());
        for (int k = 0; k < NB; k++) {
            ref_block(w, x + 32 * k, want + k * bb);
            cr_assert_eq(memcmp(got + k * bb, want + k * bb, bb), 0, "type %d block %d differs", w, k);
        }
        cr_assert_eq(got[NB * bb], 0xa5, "wrote past the blocks");
        cr_assert_eq(mmg_dequantize(w, got, NB * bb, back, N), MMG_OK, "%s", mmg_last_error());
        for (int k = 0; k < NB; k++) {
            const uint8_t *b = want + k * bb;
            const float d = half_value((uint16_t)(b[0] | b[1] << 8));
            for (int i = 0; i < 32; i++) {
                const float v = w == MMG_WEIGHTS_Q8_0 ? d * (float)(int8_t)b[2 + i]
                                                      : d * (float)(((b[2 + i % 16] >> (i < 16 ? 0 : 4)) & 15) - 8);
                cr_assert_eq(back[32 * k + i], v, "type %d element %d: %g, want %g", w, 32 * k + i,
                             (double)back[32 * k + i], (double)v);
            }
        }
    }
    /* F16 and F32, any count (37: a partial block) */
    uint16_t h[37];
    float y[37];
    cr_assert_eq(mmg_quantize(MMG_WEIGHTS_F16, x, 37, h, sizeof h), MMG_OK, "%s", mmg_last_error());
    for (int i = 0; i < 37; i++) cr_assert_eq(h[i], half_bits(x[i]), "element %d", i);
    cr_assert_eq(mmg_dequantize(MMG_WEIGHTS_F16, h, sizeof h, y, 37), MMG_OK);
    for (int i = 0; i < 37; i++) cr_assert_eq(y[i], half_value(h[i]));
    cr_assert_eq(mmg_quantize(MMG_WEIGHTS_F32, x, 37, y, sizeof y), MMG_OK);
    cr_assert_eq(memcmp(x, y, sizeof y), 0);
    /* -128, which no quantizer writes, still dequantizes (d * q) */
    uint8_t blk[34] = {0x00, 0x3c}; /* d = 1.0 */
    blk[2] = 0x80;
    float z[32];
    cr_assert_eq(mmg_dequantize(MMG_WEIGHTS_Q8_0, blk, 34, z, 32), MMG_OK);
    cr_assert_eq(z[0], -128.0f);
    free(x), free(back), free(got), free(want);
#else
    cr_skip_test("this compiler has no _Float16 for the reference");
#endif
}

/* ---- refusals: a clear status, the output untouched ------------------------------- */

Test(weights_data, refusals_leave_the_output_untouched) {
    float x[96];
    for (int i = 0; i < 96; i++) x[i] = (float)i - 40.0f;
    uint8_t out[512], before[512];
    memset(out, 0x5a, sizeof out);
    memcpy(before, out, sizeof out);
    float back[96];
    cr_assert_eq(mmg_quantize(MMG_WEIGHTS_DEFAULT, x, 96, out, sizeof out), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "weights is 0"), "%s", mmg_last_error());
    cr_assert_eq(mmg_quantize(7, x, 96, out, sizeof out), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_quantize(MMG_WEIGHTS_Q8_0, NULL, 96, out, sizeof out), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_quantize(MMG_WEIGHTS_Q8_0, x, 96, NULL, sizeof out), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_quantize(MMG_WEIGHTS_Q4_0, x, 95, out, sizeof out), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "95 elements is not a whole number of blocks of 32 (Q4_0)"), "%s",
              mmg_last_error());
    cr_assert_eq(mmg_quantize(MMG_WEIGHTS_Q8_0, x, 96, out, 101), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "dst holds 101 bytes; 96 elements take 102"), "%s", mmg_last_error());
    /* counts whose size does not fit 64 bits: RANGE (Q8_0 / Q4_0: not whole blocks first) */
    for (int t = 0; t < 4; t++) {
        const int blocks = TYPES[t] == MMG_WEIGHTS_Q8_0 || TYPES[t] == MMG_WEIGHTS_Q4_0;
        cr_assert_eq(mmg_quantize(TYPES[t], x, UINT64_MAX, out, sizeof out),
                     blocks ? MMG_ERR_INVALID_ARG : MMG_ERR_RANGE, "type %d: %s", TYPES[t], mmg_last_error());
        cr_assert_eq(mmg_dequantize(TYPES[t], out, sizeof out, back, UINT64_MAX & ~(uint64_t)31), MMG_ERR_RANGE,
                     "type %d: %s", TYPES[t], mmg_last_error());
    }
    /* a NaN in the third block: nothing written, the message gives its elements */
    for (int t = 1; t < 4; t++) {
        x[70] = NAN;
        cr_assert_eq(mmg_quantize(TYPES[t], x, 96, out, sizeof out), MMG_ERR_NUMERIC, "type %d", TYPES[t]);
        cr_assert(strstr(mmg_last_error(), "elements 64..95"), "%s", mmg_last_error());
        x[70] = 1e9f; /* too large for every type's scale */
        cr_assert_eq(mmg_quantize(TYPES[t], x, 96, out, sizeof out), MMG_ERR_NUMERIC, "type %d", TYPES[t]);
        x[70] = 30.0f;
    }
    cr_assert_eq(memcmp(out, before, sizeof out), 0, "a refused call wrote into dst");
    /* F32 takes NaN as it is: a copy */
    x[70] = NAN;
    cr_assert_eq(mmg_quantize(MMG_WEIGHTS_F32, x, 96, out, sizeof out), MMG_OK);
    x[70] = 30.0f;
    memcpy(before, out, sizeof out);
    float fb[96];
    memcpy(fb, back, sizeof fb);
    cr_assert_eq(mmg_dequantize(MMG_WEIGHTS_Q8_0, out, 101, back, 96), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "src holds 101 bytes; 96 elements take 102"), "%s", mmg_last_error());
    cr_assert_eq(mmg_dequantize(MMG_WEIGHTS_Q8_0, out, 102, back, 95), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_dequantize(MMG_WEIGHTS_DEFAULT, out, 102, back, 96), MMG_ERR_INVALID_ARG);
    cr_assert_eq(memcmp(fb, back, sizeof fb), 0, "a refused dequantize wrote into dst");
}

/* ---- a model's stored bytes ------------------------------------------------------------- */

/* Each parameter of a model created in `weights` reads back as the bytes of
 * quantizing the F32 model's (same seed) with mmg_quantize; its info says so. */
static void check_model(int32_t weights, int tied) {
    const mmg_model_config c = small_config(0, tied);
    mmg_model *f = create(&c, MMG_WEIGHTS_F32, 5), *q = create(&c, weights, 5);
    size_t n_quantized = 0;
    for (size_t i = 0; i < mmg_model_param_count(q); i++) {
        mmg_param_info info = {.struct_size = sizeof info};
        cr_assert_eq(mmg_model_param_info(q, i, &info), MMG_OK);
        const int linear = info.n_dims == 2 && strstr(info.name, "emb") == NULL;
        cr_assert_eq(info.weights, linear ? weights : MMG_WEIGHTS_F32, "%s: weights %d", info.name, info.weights);
        cr_assert_eq(info.n_bytes, mmg_weights_size(info.weights, info.n_elements), "%s", info.name);
        n_quantized += info.weights != MMG_WEIGHTS_F32;
        float *src = malloc(info.n_elements * sizeof *src);
        uint8_t *want = malloc(info.n_bytes), *got = malloc(info.n_bytes + 1);
        cr_assert_eq(mmg_model_read_param(f, info.name, src, info.n_elements), MMG_OK);
        cr_assert_eq(mmg_quantize(info.weights, src, info.n_elements, want, info.n_bytes), MMG_OK, "%s",
                     mmg_last_error());
        cr_assert_eq(mmg_model_read_param_data(q, info.name, got, info.n_bytes), MMG_OK, "%s", mmg_last_error());
        cr_assert_eq(memcmp(got, want, info.n_bytes), 0, "%s: stored bytes differ from mmg_quantize's", info.name);
        /* dequantizing them is what mmg_model_read_param gives */
        float *a = malloc(info.n_elements * sizeof *a), *b = malloc(info.n_elements * sizeof *b);
        cr_assert_eq(mmg_dequantize(info.weights, got, info.n_bytes, a, info.n_elements), MMG_OK);
        cr_assert_eq(mmg_model_read_param(q, info.name, b, info.n_elements), MMG_OK);
        cr_assert(same_bits(a, b, info.n_elements), "%s: dequantized differently", info.name);
        /* a buffer of another size */
        memset(got, 0x33, info.n_bytes + 1);
        cr_assert_eq(mmg_model_read_param_data(q, info.name, got, info.n_bytes + 1), MMG_ERR_RANGE);
        cr_assert(strstr(mmg_last_error(), info.name) && strstr(mmg_last_error(), "the buffer holds"), "%s",
                  mmg_last_error());
        cr_assert_eq(got[0], 0x33);
        free(src), free(want), free(got), free(a), free(b);
    }
    /* 2 layers x 4 linears, plus lm_head when untied */
    cr_assert_eq(n_quantized, weights == MMG_WEIGHTS_F32 ? 0u : 8u + !tied);
    mmg_model_free(f), mmg_model_free(q);
}

Test(weights_data, a_models_stored_bytes) {
    for (int t = 0; t < 4; t++) {
        check_model(TYPES[t], 1);
        check_model(TYPES[t], 0);
    }
}

Test(weights_data, read_param_data_refusals_and_old_info_structs) {
    const mmg_model_config c = small_config(0, 1);
    mmg_model *q = create(&c, MMG_WEIGHTS_Q4_0, 1);
    uint8_t buf[8];
    cr_assert_eq(mmg_model_read_param_data(q, "no.such.weight", buf, sizeof buf), MMG_ERR_NOT_FOUND);
    cr_assert(strstr(mmg_last_error(), "no.such.weight"), "%s", mmg_last_error());
    cr_assert_eq(mmg_model_read_param_data(NULL, "tok_emb.weight", buf, sizeof buf), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_read_param_data(q, NULL, buf, sizeof buf), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_model_read_param_data(q, "tok_emb.weight", NULL, 4), MMG_ERR_INVALID_ARG);
    /* a caller built against 1.5 passes the struct without the new fields: nothing past it is written */
    struct {
        mmg_param_info info;
        char guard[32];
    } old;
    memset(&old, 0x77, sizeof old);
    const size_t size15 = offsetof(mmg_param_info, n_elements) + sizeof(uint64_t);
    old.info.struct_size = size15;
    size_t index;
    cr_assert_eq(mmg_model_param_find(q, "decoder.layers.0.ff.fc1.weight", &index), MMG_OK);
    cr_assert_eq(mmg_model_param_info(q, index, &old.info), MMG_OK);
    cr_assert_eq(old.info.n_elements, 160u * 64u);
    const unsigned char *tail = (const unsigned char *)&old.info + size15;
    for (size_t i = 0; i < sizeof old - size15; i++) cr_assert_eq(tail[i], 0x77, "byte %zu past the 1.5 struct", i);
    mmg_model_free(q);
}
