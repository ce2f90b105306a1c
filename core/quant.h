/* core/quant.h - quantized weights for inference (private): Q8_0 and Q4_0,
 * their block formats, quantizing and dequantizing, and the linear layer over
 * quantized weights and F32 activations that contexts and the full forward
 * call instead of mmg__matmul_forward when a model is quantized (ABI.md,
 * "Quantized weights").
 *
 * Both are GGUF's (ggml's) formats. A row of `cols` weights is cut into
 * blocks of 32, each with one scale d kept as an IEEE half:
 *   - Q8_0: d = max|w| / 127 and 32 int8 values q = round(w / d) in
 *     [-127, 127], w ~ d * q; a file block is 34 bytes (d little-endian,
 *     then q), ggml's block_q8_0.
 *   - Q4_0: d = m / -8 where m is the value of largest magnitude, and 32
 *     4-bit values n in [0, 15], w ~ d * (n - 8); byte j of a block holds
 *     value j in its low nibble and value j + 16 in its high nibble; a file
 *     block is 18 bytes (d, then the 16 bytes), ggml's block_q4_0.
 * In memory a matrix keeps its values and its scales in two arrays (values
 * 32-byte aligned rows, d packed), which is what the kernels want to load.
 *
 * The product: each activation row is quantized once per call to int8
 * blocks of its own (scale a float, values in [-127, 127], rounded to
 * nearest-even), then every output is
 *     y[r] = base[r] + sum over blocks b of (d_w[r][b] * d_x[b]) * isum[r][b]
 * with isum the exact integer dot product of the block's 32 values (Q4_0:
 * of n - 8). The float sum has one fixed order whatever the CPU: block b
 * adds into accumulator b % 16, and the 16 accumulators are added as a fixed
 * tree (quant.c, mmg__q8_dot_ref). The AVX-512 VNNI and AVX2 kernels compute
 * exactly that, so every kernel gives the same bits as the scalar one, and so
 * does every thread count and every batch size (a row's result never depends
 * on the other rows). */
#ifndef MMGEN_CORE_QUANT_H
#define MMGEN_CORE_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/status.h"

/* What a model keeps its linear layers' weights in. */
enum { MMG__QUANT_NONE = 0, MMG__QUANT_Q8_0 = 1, MMG__QUANT_Q4_0 = 2, MMG__QUANT_F16 = 3 };

#define MMG__QUANT_BLOCK 32 /* weights per block, both types (and activations) */
#define MMG__QUANT_KEY "mmgen.quant"

/* What differs between the types. F16 is here too: the same place in a
 * model (the linear layers' weights, a tied output's copy), IEEE halves with
 * no scale; its products are gemv.h's over F32 activations, not Q8's, and a
 * file stores it as a plain F16 tensor, not in blocks. */
typedef struct mmg__quant_type {
    const char *name;   /* "q8_0": the file's "mmgen.quant" value and its tensor
                           names' suffix ("<param>.q8_0") */
    const char *label;  /* "Q8_0", for messages */
    size_t value_bytes; /* a block's values in memory: 32 (Q8_0), 16 (Q4_0), 64 (F16) */
    size_t block_bytes; /* a block in a file: fp16 d + the values (F16: the values) */
    const char *limit;  /* the largest magnitude a block holds, for messages:
                           65504 * 127 or 65504 * 8 */
} mmg__quant_type;

/* The description of MMG__QUANT_Q8_0, _Q4_0 or _F16; NULL for others. */
const mmg__quant_type *mmg__quant_type_of(int type);
/* The type named `name` ("q8_0", "q4_0", "f16"), or MMG__QUANT_NONE. */
int mmg__quant_type_by_name(const char *name);

/* A (rows, cols) weight matrix of `type`; cols is a multiple of 32. Block k
 * (row k / nb, columns 32 (k % nb) ..) has its values at q + k * value_bytes
 * and its scale at d[k], nb = cols / 32. Both point into the model's one
 * allocation of quantized data. */
typedef struct mmg__qmatrix {
    int8_t *q;   /* Q8_0: (rows, cols) values in [-127, 127]; Q4_0: (rows,
                    cols / 2) bytes of two 4-bit values; F16: (rows, cols)
                    IEEE halves */
    uint16_t *d; /* (rows, cols / 32) scales, IEEE half bits; F16: none */
    int rows, cols;
    int type;    /* MMG__QUANT_Q8_0, MMG__QUANT_Q4_0 or MMG__QUANT_F16 */
} mmg__qmatrix;

/* Bytes of the value array and of the scale array of a (rows, cols)
 * matrix, each rounded up to 64 (the model lays them out back to back). */
size_t mmg__quant_values_bytes(int type, size_t rows, size_t cols);
size_t mmg__quant_scales_bytes(int type, size_t rows, size_t cols);

/* Quantizes n_blocks blocks of 32 floats, exactly as ggml's
 * quantize_row_q8_0_ref: d = max|x| / 127 (a float, then stored as the
 * nearest half), q = roundf(x * (1 / d)) (0 where d is 0), so the bytes
 * written are those llama.cpp's quantizer writes. Returns 0, or the index + 1
 * of the first block holding a NaN or infinity, or whose scale overflows a
 * half (max|x| above 65504 * 127), which Q8_0 cannot hold; q and d of the
 * blocks before it are written. */
size_t mmg__q8_quantize(const float *x, size_t n_blocks, int8_t *q, uint16_t *d);

/* x[32 k + i] = half_to_float(d[k]) * q[32 k + i], ggml's dequantize_row_q8_0. */
void mmg__q8_dequantize(const int8_t *q, const uint16_t *d, size_t n_blocks, float *x);

/* Quantizes n_blocks blocks of 32 floats to Q4_0, exactly as ggml's
 * quantize_row_q4_0_ref: m = the value of largest magnitude (the first of
 * equal ones), d = m / -8 (a float, then stored as the nearest half), n =
 * min(15, (int)(x * (1 / d) + 8.5)) (8, a zero weight, where 1 / d is not
 * finite), so the bytes are llama.cpp's. Returns 0, or the index + 1 of the
 * first block holding a NaN or infinity, or whose scale overflows a half
 * (max|x| above 65504 * 8); the blocks before it are written. */
size_t mmg__q4_quantize(const float *x, size_t n_blocks, uint8_t *q, uint16_t *d);

/* x[32 k + j] = half_to_float(d[k]) * (n_j - 8), ggml's dequantize_row_q4_0. */
void mmg__q4_dequantize(const uint8_t *q, const uint16_t *d, size_t n_blocks, float *x);

/* Rounds n_blocks blocks of 32 floats to IEEE halves (nearest even).
 * Returns 0, or the index + 1 of the first block holding a NaN or infinity
 * or a value that rounds past 65504, which F16 cannot hold. */
size_t mmg__f16_quantize(const float *x, size_t n_blocks, uint16_t *h);

/* The above for a `type` (MMG__QUANT_Q8_0, _Q4_0 or _F16; d unused for F16). */
size_t mmg__quant_quantize(int type, const float *x, size_t n_blocks, int8_t *q, uint16_t *d);
void mmg__quant_dequantize(int type, const int8_t *q, const uint16_t *d, size_t n_blocks, float *x);

/* Writes bytes [offset, offset + n) of the file form (type->block_bytes
 * blocks) of the blocks in (q, d), for mmg__st_writer_add_fill. Q8_0 and
 * Q4_0 only (an F16 matrix is written as it is). */
void mmg__quant_pack(int type, const int8_t *q, const uint16_t *d, size_t offset, uint8_t *dst,
                     size_t n);

/* Splits n_blocks blocks of the file form into q and d. Returns 0, or (Q8_0)
 * the index + 1 of the first block holding the byte -128 (the Q8_0
 * quantizers write [-127, 127], and the AVX2 kernel's sign trick relies on
 * it). Every Q4_0 block is valid. */
size_t mmg__quant_unpack(int type, const uint8_t *src, size_t n_blocks, int8_t *q, uint16_t *d);

/* ---- the linear layer ----------------------------------------------------- */

/* Rows of quantized activations: what one call quantizes its input into.
 * Created for at most `cols` columns; holds MMG__Q8_SCRATCH_ROWS rows (a
 * longer input is taken in chunks). Also each thread's work area: the
 * several-rows kernel's repacked weights and Q4_0 rows widened to bytes,
 * which would take over 100 KB of a thread's stack (a caller's thread may
 * have less: musl gives 128 KB). A call uses at most `threads` threads.
 * [one thread at a time] */
#define MMG__Q8_SCRATCH_ROWS 64
typedef struct mmg__q8_scratch {
    int cols;      /* capacity: a multiple of 32 */
    int threads;   /* work areas */
    int8_t *q;     /* (MMG__Q8_SCRATCH_ROWS, cols) */
    float *d;      /* (MMG__Q8_SCRATCH_ROWS, cols / 32) */
    int32_t *s;    /* (MMG__Q8_SCRATCH_ROWS, cols / 32) sum of each block's values */
    void *work;    /* (threads, MMG__Q8_WORK_BYTES), 64-byte aligned, in work_mem */
    void *work_mem;
} mmg__q8_scratch;

/* Whether weights of `quant` (MMG__QUANT_*) multiply quantized input rows,
 * so that the model's contexts and activations need a scratch: Q8_0 and
 * Q4_0 (F16 multiplies the F32 rows as they are). */
static inline int mmg__quant_needs_scratch(int quant) {
    return quant == MMG__QUANT_Q8_0 || quant == MMG__QUANT_Q4_0;
}

/* Bytes mmg__q8_scratch_create allocates for `cols` and `threads`. */
size_t mmg__q8_scratch_bytes(int cols, int threads);
/* MMG_ERR_NOMEM, or MMG_OK with *out set; free with mmg__q8_scratch_free.
 * threads >= 1. */
mmg_status mmg__q8_scratch_create(int cols, int threads, mmg__q8_scratch **out);
void mmg__q8_scratch_free(mmg__q8_scratch *s); /* NULL is a no-op */

/* Quantizes one activation row x (cols) into blocks: per block amax =
 * max|x|, d = amax / 127, q = nearest-even integer of x * (1 / d), s = the
 * sum of q. A block holding a NaN or infinity gets d = NaN and q = 0 (its
 * outputs become NaN, as the float product's would); one with amax below
 * 127 * FLT_MIN (d not a normal float) is all zeros. */
void mmg__q8_quantize_act(const float *x, int cols, int8_t *q, float *d, int32_t *s);

/* out (N, OC) = resid + inp (N, IC) W^T + bias for a quantized W (OC, IC)
 * (F16: gemv.h's product, row by row, no activation quantized):
 * resid (N, OC) and bias (OC) may each be NULL; out may equal resid, not inp.
 * IC must be a multiple of 32 within the scratch's cols. OpenMP splits the
 * output columns in fixed blocks of 64 rows of W, each block read once for
 * all rows of a chunk of the input (one input row: each thread one run of
 * W's rows, through the one-row kernels where the kernel in use has them);
 * every output is the same whatever the thread count, N or the kernel. Uses
 * the calling thread's OpenMP thread count, at most the scratch's
 * `threads`. */
void mmg__quant_linear(float *out, const float *inp, const mmg__qmatrix *w, const float *bias,
                    const float *resid, int N, mmg__q8_scratch *scratch);

/* ---- kernels (quant_kernels.c) --------------------------------------------- */

/* Makes a float (or vector) value opaque to the optimizer, so a product is
 * rounded before it is added: no build flag (-ffp-contract=fast, GNU C
 * mode, -march=native) can fuse the kernels' multiply and add into an FMA
 * and change their bits. Costs no instruction. */
#if defined(__GNUC__) && defined(__x86_64__)
#define MMG__FP_BARRIER(v) __asm__("" : "+v"(v))
#elif defined(__GNUC__) && defined(__aarch64__)
#define MMG__FP_BARRIER(v) __asm__("" : "+w"(v))
#else
#define MMG__FP_BARRIER(v) ((void)0)
#endif

/* out[r] = base[r] + dot(row r of W, x) for r in [0, n), W rows of nb blocks
 * of one type starting at (wq, wd), x one quantized activation row (xq, xd,
 * xs). base may be NULL (0) or equal out. */
typedef void (*mmg__q8_rows_fn)(float *out, const float *base, const int8_t *wq,
                                const uint16_t *wd, int n, int nb, const int8_t *xq,
                                const float *xd, const int32_t *xs);

/* The rows function's outputs 0, h, 2h and 3h (rows 0, h, 2h, 3h of W
 * from (wq, wd)), the four rows read in lockstep as four streams; each
 * output has the bits the rows function gives it. */
typedef void (*mmg__q8_rows4_fn)(float *out, const float *base, const int8_t *wq, const uint16_t *wd,
                                 size_t h, int nb, const int8_t *xq, const float *xd, const int32_t *xs);

/* Several input rows against 16 weight rows (prefill, decode_batch):
 * out[g * ldo + r] = (has_base ? out[g * ldo + r] : 0) + dot(row r of W,
 * input row g) for r < 16, g < n_x, each with the bits the rows function
 * gives. W: 16 rows of nb blocks of one type from wq (row stride
 * row_bytes) and wd (row stride nb); input row g at xq + g * x_stride, xd +
 * g * nb, xs + g * nb. nb at most MMG__Q8_MULTI_MAX_NB. */
#define MMG__Q8_MULTI_ROWS 16
#define MMG__Q8_MULTI_MAX_NB 128 /* 4096 columns */
/* The repacked rows: their values (MMG__Q8_MULTI_MAX_NB * 8 vectors of 64
 * bytes), then their scales (MMG__Q8_MULTI_MAX_NB * 16 floats). */
#define MMG__Q8_MULTI_WORK_BYTES (MMG__Q8_MULTI_MAX_NB * 8 * 64 + MMG__Q8_MULTI_MAX_NB * 16 * 4)
/* Q4_0 rows widened to bytes at a time for several input rows (quant.c):
 * stays in L1/L2 while every input row of a chunk uses it. */
#define MMG__Q4_WIDE_BYTES 32768
#define MMG__Q8_WORK_BYTES (MMG__Q8_MULTI_WORK_BYTES + MMG__Q4_WIDE_BYTES)
/* work: MMG__Q8_MULTI_WORK_BYTES, 64-byte aligned, the caller's thread's own. */
typedef void (*mmg__q8_multi_fn)(float *out, size_t ldo, int has_base, const int8_t *wq, size_t row_bytes,
                                 const uint16_t *wd, int nb, const int8_t *xq, const float *xd,
                                 const int32_t *xs, size_t x_stride, int n_x, void *work);

/* Kernels by name, for tests and benchmarks. */
typedef enum mmg__q8_kernel {
    MMG__Q8_KERNEL_AUTO = 0,   /* the best the CPU runs (the default) */
    MMG__Q8_KERNEL_SCALAR = 1, /* portable C: the reference */
    MMG__Q8_KERNEL_AVX2 = 2,   /* AVX2 + F16C: vpmaddubsw with the sign trick */
    MMG__Q8_KERNEL_AVX512 = 3  /* AVX-512 F/BW/VL + VNNI: vpdpbusd with an offset of 128 */
} mmg__q8_kernel;

/* Nonzero when this CPU (and build) runs kernel k. */
int mmg__q8_kernel_supported(mmg__q8_kernel k);
/* Makes every later product use kernel k (AUTO: pick again). Returns 0, or
 * -1 (nothing changed) when the CPU cannot run it. Process-wide: for tests
 * and benchmarks, not while other threads compute. */
int mmg__q8_kernel_force(mmg__q8_kernel k);
/* The kernel in use ("avx512_vnni", "avx2", "scalar"). */
const char *mmg__q8_kernel_name(void);
/* The function of the kernel in use for weights of `type`. [thread-safe] */
mmg__q8_rows_fn mmg__quant_kernel_rows(int type);
/* The four-streams function of the kernel in use for `type`, or NULL when
 * it has none (today: Q8_0 on AVX-512 VNNI only). [thread-safe] */
mmg__q8_rows4_fn mmg__quant_kernel_rows4(int type);
/* Q4_0 against one activation row laid out by mmg__q4_arrange_act (xq of
 * the rows function), or NULL when the kernel in use has none. Each output
 * has the rows function's bits. [thread-safe] */
mmg__q8_rows_fn mmg__quant_kernel_q4_decode(void);
/* Lays out the nb blocks of one quantized activation row for
 * mmg__quant_kernel_q4_decode: per 4 blocks, values 0-15 of each, then
 * values 16-31 of each; the last group padded with zeros. Writes
 * mmg__q4_arranged_bytes(nb) bytes. */
void mmg__q4_arrange_act(const int8_t *xq, int nb, int8_t *out);
static inline size_t mmg__q4_arranged_bytes(int nb) { return (size_t)(nb + 3) / 4 * 128; }
/* The several-rows function of the kernel in use for `type` (Q8_0, Q4_0),
 * or NULL when it has none (use the rows function per input row).
 * [thread-safe] */
mmg__q8_multi_fn mmg__quant_kernel_multi(int type);

/* The reference products of one weight row (Q8_0, Q4_0) and one activation
 * row (the scalar kernels are these, row by row). */
float mmg__q8_dot_ref(const int8_t *wq, const uint16_t *wd, int nb, const int8_t *xq,
                      const float *xd);
float mmg__q4_dot_ref(const uint8_t *wq, const uint16_t *wd, int nb, const int8_t *xq,
                      const float *xd);

#endif /* MMGEN_CORE_QUANT_H */
