/* fuzz/fuzz_weights.c - weight arrays a caller hands the library to convert
 * (mmg_quantize, mmg_dequantize, mmg_weights_size; mmgen/model.h, ABI 1.6):
 * any format value, any count (the input's floats, or a 64-bit count of its
 * own), any bytes to dequantize, destinations of any size.
 *
 * Input: byte 0 picks the format (-1 .. 6, valid or not), byte 1 the mode
 * (bit 0: a count from bytes 2..9 instead of the floats given; bit 1: a
 * destination 1 byte short), the rest is the data. Invariants: a refused
 * call writes nothing (the destination keeps its fill), an accepted one
 * writes exactly mmg_weights_size bytes, and quantized bytes dequantize to
 * finite values that are a fixed point of quantizing and dequantizing
 * (F16: the same halves). */
#include "fuzz.h"

#define FILL 0xA5

static int untouched(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != FILL) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 10) return 0;
    const int32_t weights = (int32_t)(data[0] % 8) - 1;
    const int mode = data[1];
    const uint8_t *body = data + 10;
    const size_t body_size = size - 10;
    uint64_t n = body_size / sizeof(float);
    if (mode & 1) memcpy(&n, data + 2, sizeof n);
    /* never allocate for a count the input does not back */
    const uint64_t have = body_size / sizeof(float);
    const uint64_t need = mmg_weights_size(weights, n);
    size_t cap = need && need <= (uint64_t)4 * have + 64 ? (size_t)need : 64;
    if (mode & 2 && cap) cap--;
    /* more elements than floats given: a destination too small for them, so
     * the call must be refused before it reads src (the caller's side of the
     * contract is src holding n floats) */
    if (n > have) cap = need && need <= 64 ? (size_t)need - 1 : 64;
    uint8_t *dst = malloc(cap + 1);
    float *src = malloc((have ? have : 1) * sizeof *src);
    float *back = malloc((have ? have : 1) * sizeof *back);
    if (!dst || !src || !back) goto done;
    memcpy(src, body, have * sizeof *src);
    memset(dst, FILL, cap + 1);
    /* the count may exceed the floats given: only when the destination (and
     * so the count) is small enough for them can the call be accepted */
    mmg_status s = mmg_quantize(weights, src, n, dst, cap);
    FUZZ_NOTE(s, "quantize");
    if (s != MMG_OK) {
        FUZZ_CHECK(untouched(dst, cap + 1), "a refused mmg_quantize wrote into dst (status %d)", (int)s);
    } else {
        const uint64_t count = n, bytes = mmg_weights_size(weights, count);
        FUZZ_CHECK(bytes <= cap && (count == 0 || bytes > 0), "accepted %llu elements into %zu bytes",
                   (unsigned long long)count, cap);
        FUZZ_CHECK(dst[bytes] == FILL || bytes == cap, "mmg_quantize wrote past its %llu bytes",
                   (unsigned long long)bytes);
        if (count <= have && count > 0) {
            FUZZ_CHECK(mmg_dequantize(weights, dst, (size_t)bytes, back, count) == MMG_OK, "dequantize: %s",
                       mmg_last_error());
            if (weights != MMG_WEIGHTS_F32) {
                for (uint64_t i = 0; i < count; i++)
                    FUZZ_CHECK(back[i] - back[i] == 0.0f, "element %llu dequantized to %g", (unsigned long long)i,
                               (double)back[i]);
                /* the dequantized values are a fixed point: quantized and
                 * dequantized once more, they come back equal (the bytes
                 * may differ: a block whose scale rounded to a zero half
                 * keeps its values, as ggml's quantizer does, and
                 * dequantizes to zeros, signed ones among them, which
                 * quantize to zero values) */
                uint8_t *again = malloc((size_t)bytes);
                float *twice = malloc((size_t)count * sizeof *twice);
                if (again && twice) {
                    FUZZ_CHECK(mmg_quantize(weights, back, count, again, (size_t)bytes) == MMG_OK,
                               "quantizing dequantized values: %s", mmg_last_error());
                    FUZZ_CHECK(mmg_dequantize(weights, again, (size_t)bytes, twice, count) == MMG_OK, "dequantize");
                    for (uint64_t i = 0; i < count; i++) /* == : a zero-scale block's -0 comes back +0 */
                        FUZZ_CHECK(twice[i] == back[i], "format %d: element %llu dequantized to %a, then %a",
                                   (int)weights, (unsigned long long)i, (double)back[i], (double)twice[i]);
                    FUZZ_CHECK(weights != MMG_WEIGHTS_F16 || memcmp(again, dst, (size_t)bytes) == 0,
                               "F16 halves did not come back");
                }
                free(again);
                free(twice);
            }
        }
    }
    /* the body's bytes as stored data of that format: any bytes dequantize
     * or are refused, nothing written on refusal */
    memset(back, FILL, (have ? have : 1) * sizeof *back);
    const uint64_t m = mode & 1 ? n : (weights == MMG_WEIGHTS_Q8_0   ? body_size / 34 * 32
                                       : weights == MMG_WEIGHTS_Q4_0 ? body_size / 18 * 32
                                       : weights == MMG_WEIGHTS_F16  ? body_size / 2
                                                                      : body_size / 4);
    if (m <= have) {
        s = mmg_dequantize(weights, body, body_size, back, m);
        FUZZ_NOTE(s, "dequantize");
        if (s != MMG_OK)
            FUZZ_CHECK(untouched((const uint8_t *)back, (have ? have : 1) * sizeof *back),
                       "a refused mmg_dequantize wrote into dst");
    }
done:
    free(dst);
    free(src);
    free(back);
    return 0;
}
