/* core/quant.h - Q8_0 weights for inference (private): the block format,
 * quantizing and dequantizing, and the linear layer over Q8_0 weights and
 * F32 activations that contexts and the full forward call instead of
 * mmg__matmul_forward when a model is quantized (ABI.md, "Quantized weights").
 *
 * Q8_0 is GGUF's (ggml's) format: a row of `cols` weights is cut into blocks
 * of 32; each block keeps one scale d = max|w| / 127 as an IEEE half and 32
 * int8 values q = round(w / d) in [-127, 127], so w ~ d * q. A file stores a
 * block as 34 bytes (d little-endian, then q), exactly ggml's block_q8_0. In
 * memory a matrix keeps its values and its scales in two arrays (q 32-byte
 * aligned rows, d packed), which is what the kernels want to load.
 *
 * The product: each activation row is quantized once per call to int8
 * blocks of its own (scale a float, values in [-127, 127], rounded to
 * nearest-even), then every output is
 *     y[r] = base[r] + sum over blocks b of (d_w[r][b] * d_x[b]) * isum[r][b]
 * with isum the exact integer dot product of the block's 32 values. The float
 * sum has one fixed order whatever the CPU: block b adds into accumulator
 * b % 16, and the 16 accumulators are added as a fixed tree (quant.c,
 * mmg__q8_dot_ref). The AVX-512 VNNI and AVX2 kernels compute exactly that,
 * so every kernel gives the same bits as the scalar one, and so does every
 * thread count and every batch size (a row's result never depends on the
 * other rows). */
#ifndef MMGEN_CORE_QUANT_H
#define MMGEN_CORE_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/status.h"

/* What a model keeps its linear layers' weights in. */
enum { MMG__QUANT_NONE = 0, MMG__QUANT_Q8_0 = 1 };

#define MMG__Q8_BLOCK 32       /* weights per block */
#define MMG__Q8_BLOCK_BYTES 34 /* a block in a file: fp16 d + 32 int8 */
#define MMG__QUANT_KEY "mmgen.quant"
#define MMG__QUANT_Q8_0_NAME "q8_0"
#define MMG__Q8_SUFFIX ".q8_0" /* a Q8_0 tensor's name in a file: "<param>.q8_0" */

/* A (rows, cols) weight matrix in Q8_0; cols is a multiple of 32. Block k
 * (row k / nb, columns 32 (k % nb) ..) has its values at q + 32 k and its
 * scale at d[k], nb = cols / 32. Both point into the model's one allocation
 * of Q8_0 data. */
typedef struct mmg__q8_matrix {
    int8_t *q;   /* (rows, cols) values in [-127, 127] */
    uint16_t *d; /* (rows, cols / 32) scales, IEEE half bits */
    int rows, cols;
} mmg__q8_matrix;

/* Bytes of the value array and of the scale array of a (rows, cols)
 * matrix, each rounded up to 64 (the model lays them out back to back). */
size_t mmg__q8_values_bytes(size_t rows, size_t cols);
size_t mmg__q8_scales_bytes(size_t rows, size_t cols);

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

/* Writes bytes [offset, offset + n) of the file form (34-byte blocks) of
 * the blocks in (q, d), for mmg__st_writer_add_fill. */
void mmg__q8_pack(const int8_t *q, const uint16_t *d, size_t offset, uint8_t *dst, size_t n);

/* Splits n_blocks blocks of the file form into q and d. Returns 0, or the
 * index + 1 of the first block holding the byte -128 (the Q8_0 quantizers
 * write [-127, 127], and the AVX2 kernel's sign trick relies on it). */
size_t mmg__q8_unpack(const uint8_t *src, size_t n_blocks, int8_t *q, uint16_t *d);

/* ---- the linear layer ----------------------------------------------------- */

/* Rows of quantized activations: what one call quantizes its input into.
 * Created for at most `cols` columns; holds MMG__Q8_SCRATCH_ROWS rows (a
 * longer input is taken in chunks). [one thread at a time] */
#define MMG__Q8_SCRATCH_ROWS 64
typedef struct mmg__q8_scratch {
    int cols;   /* capacity: a multiple of 32 */
    int8_t *q;  /* (MMG__Q8_SCRATCH_ROWS, cols) */
    float *d;   /* (MMG__Q8_SCRATCH_ROWS, cols / 32) */
    int32_t *s; /* (MMG__Q8_SCRATCH_ROWS, cols / 32) sum of each block's values */
} mmg__q8_scratch;

/* Bytes mmg__q8_scratch_create allocates for `cols`. */
size_t mmg__q8_scratch_bytes(int cols);
/* MMG_ERR_NOMEM, or MMG_OK with *out set; free with mmg__q8_scratch_free. */
mmg_status mmg__q8_scratch_create(int cols, mmg__q8_scratch **out);
void mmg__q8_scratch_free(mmg__q8_scratch *s); /* NULL is a no-op */

/* Quantizes one activation row x (cols) into blocks: per block amax =
 * max|x|, d = amax / 127, q = nearest-even integer of x * (1 / d), s = the
 * sum of q. A block holding a NaN or infinity gets d = NaN and q = 0 (its
 * outputs become NaN, as the float product's would); one with amax below
 * 127 * FLT_MIN (d not a normal float) is all zeros. */
void mmg__q8_quantize_act(const float *x, int cols, int8_t *q, float *d, int32_t *s);

/* out (N, OC) = resid + inp (N, IC) W^T + bias for a Q8_0 W (OC, IC):
 * resid (N, OC) and bias (OC) may each be NULL; out may equal resid, not inp.
 * IC must be a multiple of 32 within the scratch's cols. OpenMP splits the
 * output columns in fixed blocks of 64 rows of W, each block read once for
 * all rows of a chunk of the input; every output is the same whatever the
 * thread count, N or the kernel. Uses the calling thread's OpenMP thread
 * count. */
void mmg__q8_linear(float *out, const float *inp, const mmg__q8_matrix *w, const float *bias,
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
 * starting at (wq, wd), x one quantized activation row (xq, xd, xs). base
 * may be NULL (0) or equal out. */
typedef void (*mmg__q8_rows_fn)(float *out, const float *base, const int8_t *wq,
                                const uint16_t *wd, int n, int nb, const int8_t *xq,
                                const float *xd, const int32_t *xs);

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
/* The function of the kernel in use. [thread-safe] */
mmg__q8_rows_fn mmg__q8_kernel_rows(void);

/* The reference product of one weight row and one activation row (the
 * scalar kernel is this, row by row). */
float mmg__q8_dot_ref(const int8_t *wq, const uint16_t *wd, int nb, const int8_t *xq,
                      const float *xd);

#endif /* MMGEN_CORE_QUANT_H */
