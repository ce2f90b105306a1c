/* core/weights_data.c - the weight formats as bytes, for callers (mmgen/model.h,
 * since ABI 1.6): their sizes, and quantizing and dequantizing arrays with the
 * library's own quantizers (quant.c), in the layout of GGUF tensors and of
 * mmgen's files: F32 and F16 values as they are, Q8_0 / Q4_0 as file blocks
 * (fp16 d little-endian, then the values). */
#include <string.h>

#include "error.h"
#include "model-impl.h"
#include "quant.h"
#include "safetensors.h"

/* Blocks handled per step: the quantizers write into this much stack. */
#define CHUNK_BLOCKS 64

/* Bytes per element of the unblocked formats; 0 for the block ones. */
static uint64_t plain_bytes(int32_t weights) {
    return weights == MMG_WEIGHTS_F32 ? 4 : weights == MMG_WEIGHTS_F16 ? 2 : 0;
}

uint64_t mmg_weights_size(int32_t weights, uint64_t n_elements) {
    const uint64_t plain = plain_bytes(weights);
    if (plain) return n_elements <= UINT64_MAX / plain ? n_elements * plain : 0;
    const mmg__quant_type *qt = mmg__quant_type_of(mmg__quant_of_weights(weights));
    if (!qt || n_elements % MMG__QUANT_BLOCK) return 0;
    const uint64_t blocks = n_elements / MMG__QUANT_BLOCK;
    return blocks <= UINT64_MAX / qt->block_bytes ? blocks * qt->block_bytes : 0;
}

/* The checks both directions share: MMG_OK with the byte count in *bytes. */
static mmg_status check_args(const char *fn, int32_t weights, const void *src, const void *dst,
                             uint64_t n_elements, uint64_t *bytes) {
    if (!src || !dst) return mmg__error(MMG_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (!plain_bytes(weights) && mmg__quant_of_weights(weights) == MMG__QUANT_NONE)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "%s: weights is %d; expected MMG_WEIGHTS_F32 (1), _Q8_0 (2), _Q4_0 (3) "
                          "or _F16 (4)",
                          fn, (int)weights);
    *bytes = mmg_weights_size(weights, n_elements);
    if (*bytes == 0 && !plain_bytes(weights) && n_elements % MMG__QUANT_BLOCK)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "%s: %llu elements is not a whole number of blocks of %d (%s)", fn,
                          (unsigned long long)n_elements, MMG__QUANT_BLOCK,
                          mmg__quant_type_of(mmg__quant_of_weights(weights))->label);
    if (*bytes == 0 && n_elements > 0)
        return mmg__error(MMG_ERR_RANGE, "%s: %llu elements take more than 2^64 bytes", fn,
                          (unsigned long long)n_elements);
    if (*bytes > SIZE_MAX)
        return mmg__error(MMG_ERR_RANGE, "%s: %llu bytes do not fit this machine's size_t", fn,
                          (unsigned long long)*bytes);
    return MMG_OK;
}

/* Quantizes blocks [b0, b0 + n) of src; writes them to dst (file form) when
 * dst is not NULL. Returns 0 or the index + 1 of the first bad block. */
static size_t quantize_blocks(int type, const float *src, size_t b0, size_t n, uint8_t *dst) {
    const mmg__quant_type *qt = mmg__quant_type_of(type);
    for (size_t k = 0; k < n; k += CHUNK_BLOCKS) {
        const size_t m = n - k < CHUNK_BLOCKS ? n - k : CHUNK_BLOCKS;
        _Alignas(64) int8_t q[CHUNK_BLOCKS * 64];
        uint16_t d[CHUNK_BLOCKS];
        const size_t bad = mmg__quant_quantize(type, src + (b0 + k) * MMG__QUANT_BLOCK, m, q, d);
        if (bad) return b0 + k + bad;
        if (!dst) continue;
        uint8_t *out = dst + (b0 + k) * qt->block_bytes;
        if (type == MMG__QUANT_F16) memcpy(out, q, m * qt->block_bytes);
        else mmg__quant_pack(type, q, d, 0, out, m * qt->block_bytes);
    }
    return 0;
}

/* F16 of a count that need not be a multiple of 32: the whole blocks, then
 * the tail through a zero-padded block. Returns 0 or the first bad element
 * + 1 (rounded down to its block's start). */
static size_t f16_quantize(const float *src, uint64_t n, uint8_t *dst) {
    const size_t blocks = (size_t)(n / MMG__QUANT_BLOCK), tail = (size_t)(n % MMG__QUANT_BLOCK);
    size_t bad = quantize_blocks(MMG__QUANT_F16, src, 0, blocks, dst);
    if (bad) return (bad - 1) * MMG__QUANT_BLOCK + 1;
    if (!tail) return 0;
    float x[MMG__QUANT_BLOCK] = {0};
    uint16_t h[MMG__QUANT_BLOCK];
    memcpy(x, src + blocks * MMG__QUANT_BLOCK, tail * sizeof *x);
    if (mmg__f16_quantize(x, 1, h)) return blocks * MMG__QUANT_BLOCK + 1;
    if (dst) memcpy(dst + blocks * MMG__QUANT_BLOCK * 2, h, tail * sizeof *h);
    return 0;
}

mmg_status mmg_quantize(int32_t weights, const float *src, uint64_t n_elements, void *dst,
                        size_t dst_size) {
    uint64_t bytes = 0;
    mmg_status s = check_args("mmg_quantize", weights, src, dst, n_elements, &bytes);
    if (s) return s;
    if (dst_size < bytes)
        return mmg__error(MMG_ERR_RANGE,
                          "mmg_quantize: dst holds %zu bytes; %llu elements take %llu", dst_size,
                          (unsigned long long)n_elements, (unsigned long long)bytes);
    if (weights == MMG_WEIGHTS_F32) {
        memcpy(dst, src, (size_t)bytes);
        return MMG_OK;
    }
    const int type = mmg__quant_of_weights(weights);
    /* Every block is checked before the first is written, so that dst stays
     * untouched on error. */
    size_t first_bad;
    if (type == MMG__QUANT_F16) {
        first_bad = f16_quantize(src, n_elements, NULL);
        if (!first_bad) f16_quantize(src, n_elements, dst);
        if (first_bad) first_bad = (first_bad - 1) / MMG__QUANT_BLOCK + 1;
    } else {
        const size_t blocks = (size_t)(n_elements / MMG__QUANT_BLOCK);
        first_bad = quantize_blocks(type, src, 0, blocks, NULL);
        if (!first_bad) quantize_blocks(type, src, 0, blocks, dst);
    }
    if (!first_bad) return MMG_OK;
    const uint64_t e0 = (uint64_t)(first_bad - 1) * MMG__QUANT_BLOCK;
    const uint64_t e1 = e0 + MMG__QUANT_BLOCK < n_elements ? e0 + MMG__QUANT_BLOCK : n_elements;
    const mmg__quant_type *qt = mmg__quant_type_of(type);
    return mmg__error(MMG_ERR_NUMERIC,
                      "mmg_quantize: elements %llu..%llu hold a NaN, an infinity or a magnitude "
                      "above %s, which %s cannot store",
                      (unsigned long long)e0, (unsigned long long)(e1 - 1), qt->limit, qt->label);
}

mmg_status mmg_dequantize(int32_t weights, const void *src, size_t src_size, float *dst,
                          uint64_t n_elements) {
    uint64_t bytes = 0;
    mmg_status s = check_args("mmg_dequantize", weights, src, dst, n_elements, &bytes);
    if (s) return s;
    if ((uint64_t)src_size != bytes)
        return mmg__error(MMG_ERR_RANGE,
                          "mmg_dequantize: src holds %zu bytes; %llu elements take %llu", src_size,
                          (unsigned long long)n_elements, (unsigned long long)bytes);
    const uint8_t *in = src;
    if (weights == MMG_WEIGHTS_F32) {
        memcpy(dst, src, (size_t)bytes);
    } else if (weights == MMG_WEIGHTS_F16) {
        for (uint64_t i = 0; i < n_elements; i++) {
            uint16_t h;
            memcpy(&h, in + 2 * i, sizeof h);
            dst[i] = mmg__f16_to_f32(h);
        }
    } else {
        /* Split the file blocks into values and scales (any byte is
         * accepted: d * q is defined for every int8, -128 included). */
        const int type = mmg__quant_of_weights(weights);
        const mmg__quant_type *qt = mmg__quant_type_of(type);
        const size_t blocks = (size_t)(n_elements / MMG__QUANT_BLOCK);
        for (size_t k = 0; k < blocks; k += CHUNK_BLOCKS) {
            const size_t m = blocks - k < CHUNK_BLOCKS ? blocks - k : CHUNK_BLOCKS;
            _Alignas(64) int8_t q[CHUNK_BLOCKS * 32];
            uint16_t d[CHUNK_BLOCKS];
            for (size_t j = 0; j < m; j++) {
                const uint8_t *b = in + (k + j) * qt->block_bytes;
                d[j] = (uint16_t)(b[0] | (b[1] << 8));
                memcpy(q + j * qt->value_bytes, b + 2, qt->value_bytes);
            }
            mmg__quant_dequantize(type, q, d, m, dst + k * MMG__QUANT_BLOCK);
        }
    }
    return MMG_OK;
}
