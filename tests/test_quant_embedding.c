/* tests/test_quant_embedding.c - a quantized model's token embedding in its
 * type too (mmg_model_options.quantize_embedding, ABI 1.6): the lookup and a
 * tied output read the quantized rows, which must give exactly the logits of
 * the same model whose F32 embedding holds those rows dequantized; files keep
 * it ("tok_emb.weight.<type>"), conversions carry it, writes are refused,
 * and a bad option value is named. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory.h"
#include "mmgen/mmgen.h"

#include "quant_test.h"

static const int32_t TYPES[] = {MMG_WEIGHTS_Q8_0, MMG_WEIGHTS_Q4_0, MMG_WEIGHTS_F16};
static const char *NAMES[] = {"Q8_0", "Q4_0", "F16"};

static int32_t stored(const mmg_model *m, const char *name) {
    size_t index;
    mmg_param_info info = {.struct_size = sizeof info};
    cr_assert_eq(mmg_model_param_find(m, name, &index), MMG_OK);
    cr_assert_eq(mmg_model_param_info(m, index, &info), MMG_OK);
    return info.weights;
}

static long file_size(const char *path) {
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return (long)st.st_size;
}

static const int32_t TOKENS[] = {3, 96, 0, 41, 41, 7, 60, 12, 88, 5, 19, 2};
#define N_TOKENS (int)(sizeof TOKENS / sizeof *TOKENS)

/* For each type, tied and untied: the model with a quantized embedding
 * against a reference built without the option: its F32 embedding is the
 * quantized rows dequantized (a tied output's copy is then those very
 * blocks, quantizing dequantized blocks gives them back). Same logits, bit
 * for bit; a smaller file; the state survives save and load. */
Test(quant_embedding, logits_are_those_of_the_dequantized_embedding) {
    for (int tied = 0; tied <= 1; tied++) {
        for (int t = 0; t < 3; t++) {
            const mmg_model_config c = small_config(0, tied);
            mmg_model *f = create(&c, MMG_WEIGHTS_F32, 11);
            char f_path[256], q_path[256], d_path[256], plain_path[256];
            snprintf(f_path, sizeof f_path, "%s", tmp_file("emb-f32"));
            snprintf(q_path, sizeof q_path, "%s", tmp_file("emb-q"));
            snprintf(d_path, sizeof d_path, "%s", tmp_file("emb-deq"));
            snprintf(plain_path, sizeof plain_path, "%s", tmp_file("emb-plain"));
            cr_assert_eq(mmg_model_save(f, f_path), MMG_OK);
            mmg_model *q = load_with(f_path, TYPES[t], 1);
            cr_assert_eq(stored(q, "tok_emb.weight"), TYPES[t], "%s: the embedding is not in that type", NAMES[t]);
            cr_assert_eq(stored(q, "pos_emb.weight"), MMG_WEIGHTS_F32);
            cr_assert_eq(mmg_model_save(q, q_path), MMG_OK);
            /* the reference: everything dequantized, then quantized without the option */
            mmg_model *deq = load_with(q_path, MMG_WEIGHTS_F32, 0);
            cr_assert_eq(mmg_model_save(deq, d_path), MMG_OK);
            mmg_model *ref = load_with(d_path, TYPES[t], 0);
            cr_assert_eq(stored(ref, "tok_emb.weight"), MMG_WEIGHTS_F32);
            float *a = decode_all(q, TOKENS, N_TOKENS, 1), *b = decode_all(ref, TOKENS, N_TOKENS, 1);
            cr_assert(same_bits(a, b, (size_t)N_TOKENS * c.vocab_size),
                      "%s, tied %d: logits differ from the dequantized embedding's", NAMES[t], tied);
            /* the file: smaller, and loading it as it is keeps the embedding quantized */
            cr_assert_eq(mmg_model_save(ref, plain_path), MMG_OK);
            cr_assert_lt(file_size(q_path), file_size(plain_path), "%s: the file did not shrink", NAMES[t]);
            mmg_model *back = load(q_path, MMG_WEIGHTS_DEFAULT);
            cr_assert_eq(stored(back, "tok_emb.weight"), TYPES[t]);
            float *e = decode_all(back, TOKENS, N_TOKENS, 2);
            cr_assert(same_bits(a, e, (size_t)N_TOKENS * c.vocab_size), "%s: reloaded logits differ", NAMES[t]);
            /* writes refused, the embedding named */
            float *row = calloc((size_t)c.vocab_size * c.d_model, sizeof *row);
            cr_assert_eq(mmg_model_write_param(back, "tok_emb.weight", row, (size_t)c.vocab_size * c.d_model),
                         MMG_ERR_UNSUPPORTED);
            cr_assert(strstr(mmg_last_error(), "tok_emb.weight"), "%s", mmg_last_error());
            free(row);
            free(a), free(b), free(e);
            mmg_model_free(f), mmg_model_free(q), mmg_model_free(deq), mmg_model_free(ref), mmg_model_free(back);
            unlink(f_path), unlink(q_path), unlink(d_path), unlink(plain_path);
        }
    }
}

/* mmg_model_create with the option equals loading the F32 file with it. */
Test(quant_embedding, create_equals_load) {
    const mmg_model_config c = small_config(1, 1); /* encoder-decoder: both stacks look up */
    mmg_model *f = create(&c, MMG_WEIGHTS_F32, 4);
    cr_assert_eq(mmg_model_save(f, tmp_file("emb-create")), MMG_OK);
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = 4;
    o.init_std = 0.1f;
    o.weights = MMG_WEIGHTS_Q8_0;
    o.quantize_embedding = 1;
    mmg_model *a = NULL;
    cr_assert_eq(mmg_model_create(&c, &o, &a), MMG_OK, "%s", mmg_last_error());
    mmg_model *b = load_with(tmp_file("emb-create"), MMG_WEIGHTS_Q8_0, 1);
    const size_t V = (size_t)c.vocab_size, C = (size_t)c.d_model, bytes = V * C / 32 * 34;
    uint8_t *x = malloc(bytes), *y = malloc(bytes);
    cr_assert_eq(mmg_model_read_param_data(a, "tok_emb.weight", x, bytes), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_model_read_param_data(b, "tok_emb.weight", y, bytes), MMG_OK);
    cr_assert_eq(memcmp(x, y, bytes), 0);
    free(x), free(y);
    mmg_model_free(f), mmg_model_free(a), mmg_model_free(b);
    unlink(tmp_file("emb-create"));
}

/* A file with a quantized embedding converts: to another type (it stays
 * quantized, in that type), to F32 (dequantized), and an F32 file gets it
 * only when asked. */
Test(quant_embedding, conversions) {
    const mmg_model_config c = small_config(0, 0);
    mmg_model *f = create(&c, MMG_WEIGHTS_F32, 8);
    char f_path[256], q_path[256];
    snprintf(f_path, sizeof f_path, "%s", tmp_file("conv-f32"));
    snprintf(q_path, sizeof q_path, "%s", tmp_file("conv-q8"));
    cr_assert_eq(mmg_model_save(f, f_path), MMG_OK);
    mmg_model *plain = load(f_path, MMG_WEIGHTS_Q8_0);
    cr_assert_eq(stored(plain, "tok_emb.weight"), MMG_WEIGHTS_F32, "quantized without being asked");
    mmg_model *q8 = load_with(f_path, MMG_WEIGHTS_Q8_0, 1);
    cr_assert_eq(mmg_model_save(q8, q_path), MMG_OK);
    mmg_model *q4 = load(q_path, MMG_WEIGHTS_Q4_0);
    cr_assert_eq(stored(q4, "tok_emb.weight"), MMG_WEIGHTS_Q4_0);
    mmg_model *h = load(q_path, MMG_WEIGHTS_F16);
    cr_assert_eq(stored(h, "tok_emb.weight"), MMG_WEIGHTS_F16);
    mmg_model *back = load(q_path, MMG_WEIGHTS_F32);
    cr_assert_eq(stored(back, "tok_emb.weight"), MMG_WEIGHTS_F32);
    const size_t n = (size_t)c.vocab_size * c.d_model;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    cr_assert_eq(mmg_model_read_param(back, "tok_emb.weight", x, n), MMG_OK);
    cr_assert_eq(mmg_model_read_param(q8, "tok_emb.weight", y, n), MMG_OK);
    cr_assert(same_bits(x, y, n), "dequantized while loading differently from mmg_model_read_param");
    free(x), free(y);
    mmg_model_free(f), mmg_model_free(plain), mmg_model_free(q8), mmg_model_free(q4), mmg_model_free(h);
    mmg_model_free(back);
    unlink(f_path), unlink(q_path);
}

Test(quant_embedding, bad_option_value_is_named) {
    const mmg_model_config c = small_config(0, 1);
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    cr_assert_eq(o.quantize_embedding, 0);
    o.weights = MMG_WEIGHTS_Q8_0;
    o.quantize_embedding = 2;
    mmg_model *m = NULL;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "quantize_embedding is 2"), "%s", mmg_last_error());
    cr_assert_null(m);
    /* ignored for an F32 model */
    o.weights = MMG_WEIGHTS_F32;
    o.quantize_embedding = 1;
    cr_assert_eq(mmg_model_create(&c, &o, &m), MMG_OK);
    cr_assert_eq(stored(m, "tok_emb.weight"), MMG_WEIGHTS_F32);
    mmg_model_free(m);
}

/* Every allocation of loading and creating with a quantized embedding
 * fails in turn, cleanly (quant_test.h). */
Test(quant_embedding, allocation_failures_are_clean) {
    const mmg_model_config c = small_config(0, 1);
    mmg_model *f = create(&c, MMG_WEIGHTS_F32, 2), *q = NULL;
    char f_path[256], q_path[256];
    snprintf(f_path, sizeof f_path, "%s", tmp_file("sweep-f32"));
    snprintf(q_path, sizeof q_path, "%s", tmp_file("sweep-q8e"));
    cr_assert_eq(mmg_model_save(f, f_path), MMG_OK);
    q = load_with(f_path, MMG_WEIGHTS_Q8_0, 1);
    cr_assert_eq(mmg_model_save(q, q_path), MMG_OK);
    const quant_test_op ops[] = {{f_path, MMG_WEIGHTS_Q4_0, 1},
                                 {q_path, MMG_WEIGHTS_DEFAULT, 0},
                                 {q_path, MMG_WEIGHTS_F16, 0},
                                 {NULL, MMG_WEIGHTS_Q8_0, 1}};
    quant_test_sweep("quantized embedding", ops, 4);
    mmg_model_free(f), mmg_model_free(q);
    unlink(f_path), unlink(q_path);
}
