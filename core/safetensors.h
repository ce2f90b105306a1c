/* core/safetensors.h - reading and writing Hugging Face safetensors files (private).
 *
 * Format: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
 *   {"__metadata__": {"k": "v", ...},
 *    "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 * then the data buffer; offsets are relative to its start. Tensors tile the
 * buffer exactly (no holes, no overlaps).
 *
 * The reader maps the file read-only and parses only the header, so opening a
 * 500 MB checkpoint costs O(header); tensor data is read in place through
 * mmg__st_tensor.data, or copied out with pread (mmg__st_pread_f32) by
 * loaders that must not hold the file and its copy in memory at once; a
 * mapped file keeps its descriptor open until mmg__st_close. Every malformed header gives MMG_ERR_FORMAT naming the
 * file and the tensor or field. The writer serializes in the order tensors were
 * added and replaces the target file atomically (temp file, fsync, rename).
 *
 * Little-endian hosts only (checked at compile time in safetensors.c): tensor
 * bytes are used as stored. A mapped file must not be truncated by another
 * process while open (reading its data would then raise SIGBUS, as with any
 * mmap reader). */
#ifndef MMGEN_CORE_SAFETENSORS_H
#define MMGEN_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/status.h"

typedef enum mmg__dtype {
    MMG__DT_F32 = 0,
    MMG__DT_F16 = 1,
    MMG__DT_BF16 = 2,
    MMG__DT_F64 = 3,
    MMG__DT_I64 = 4,
    MMG__DT_I32 = 5,
    MMG__DT_U8 = 6,
    MMG__DT_I8 = 7,
    MMG__DT_BOOL = 8,
    MMG__DT_U64 = 9,
    MMG__DT_U32 = 10,
    MMG__DT_I16 = 11,
    MMG__DT_U16 = 12
} mmg__dtype;
#define MMG__DT_COUNT 13

#define MMG__ST_MAX_DIMS 8
/* Headers larger than this are refused with MMG_ERR_LIMIT (the reference
 * implementation's limit). */
#define MMG__ST_MAX_HEADER 100000000u

typedef struct mmg__st_tensor {
    const char *name;                 /* NUL-terminated, owned by the file object */
    mmg__dtype dtype;
    int ndim;                         /* 0..MMG__ST_MAX_DIMS; 0 is a scalar (numel 1) */
    int64_t shape[MMG__ST_MAX_DIMS];  /* (ndim,), unused entries are 0 */
    size_t numel;
    const uint8_t *data;              /* into the mapped / in-memory file; NOT necessarily aligned */
    size_t nbytes;                    /* numel * dtype size */
} mmg__st_tensor;

/* ---- dtypes ---------------------------------------------------------------- */

/* Bytes per element (0 for an out-of-range value). */
size_t mmg__dtype_size(mmg__dtype dt);
/* The safetensors spelling, e.g. "BF16" ("?" for an out-of-range value). */
const char *mmg__dtype_name(mmg__dtype dt);
/* Nonzero for F32, F16, BF16, F64. */
int mmg__dtype_is_float(mmg__dtype dt);

/* Exact conversions, subnormals and infinities included; widening keeps NaN
 * payloads bit for bit. f32 -> f16/bf16 round to nearest, ties to even, and
 * give PyTorch's canonical NaN (f16: sign | 0x7e00, bf16: 0x7fc0); all four
 * are checked bit for bit against PyTorch in tests/test_safetensors.c. */
float mmg__f16_to_f32(uint16_t h);
float mmg__bf16_to_f32(uint16_t b);
uint16_t mmg__f32_to_f16(float f);
uint16_t mmg__f32_to_bf16(float f);

/* ---- reading --------------------------------------------------------------- */

typedef struct mmg__st_file mmg__st_file;

/* Opens and validates `path`: mmap read-only, falling back to read() when the
 * file cannot be mapped. MMG_ERR_IO when it cannot be opened or read,
 * MMG_ERR_LIMIT for a header over MMG__ST_MAX_HEADER, MMG_ERR_FORMAT for any
 * malformed content. *out is untouched on error. [thread-safe; note that
 * cJSON itself resets a global error slot on every parse, a benign race that
 * ThreadSanitizer would report] */
mmg_status mmg__st_open(const char *path, mmg__st_file **out);
/* The same over a buffer in memory; `buf` is not copied and must outlive the
 * file object. [thread-safe] */
mmg_status mmg__st_open_memory(const uint8_t *buf, size_t len, mmg__st_file **out);
/* Unmaps and frees; tensor pointers become invalid. NULL is a no-op. */
void mmg__st_close(mmg__st_file *f);

/* An open file is immutable: the functions below are [thread-safe] on it. */
size_t mmg__st_count(const mmg__st_file *f);
/* The i-th tensor in data-offset order; NULL when i >= count. */
const mmg__st_tensor *mmg__st_at(const mmg__st_file *f, size_t i);
/* The tensor called `name`; NULL if absent (no error set). O(log n). */
const mmg__st_tensor *mmg__st_find(const mmg__st_file *f, const char *name);
/* The string value of __metadata__[key], or NULL. Owned by the file. */
const char *mmg__st_metadata(const mmg__st_file *f, const char *key);
/* Number of __metadata__ entries and the i-th key/value (header order);
 * returns 0 and leaves the out-params untouched when i is out of range. */
size_t mmg__st_metadata_count(const mmg__st_file *f);
int mmg__st_metadata_at(const mmg__st_file *f, size_t i, const char **key, const char **value);
/* The path given to open, or "<memory>", for error messages. */
const char *mmg__st_path(const mmg__st_file *f);
/* Total file size in bytes and the size of the data buffer. */
size_t mmg__st_file_size(const mmg__st_file *f);
size_t mmg__st_data_size(const mmg__st_file *f);

/* Copies/converts a tensor to F32 (F32, F16, BF16, F64 accepted; other dtypes
 * give MMG_ERR_FORMAT naming the tensor). n must equal t->numel (else
 * MMG_ERR_FORMAT naming the tensor, expected vs found). F64 rounds to nearest
 * (overflow gives inf). The source may be unaligned. [thread-safe] */
mmg_status mmg__st_read_f32(const mmg__st_tensor *t, float *dst, size_t n);
/* The same, reading the tensor's bytes from the file with pread() instead
 * of through the mapping, so loading never has the file's pages and the
 * destination resident at once: F32 goes straight into dst, F16/BF16/F64
 * through a buffer of at most 1 MiB (mmg__malloc: MMG_ERR_NOMEM). A file
 * opened from memory or read() into memory is converted from there
 * (mmg__st_read_f32). A read error, or a file truncated since it was
 * opened, is MMG_ERR_IO naming the file and tensor (where the mapping would
 * have raised SIGBUS). [thread-safe] */
mmg_status mmg__st_pread_f32(const mmg__st_file *f, const mmg__st_tensor *t, float *dst, size_t n);
/* Copies bytes [offset, offset + n) of a tensor's data (any dtype) into dst,
 * with pread() as mmg__st_pread_f32 does (from memory for in-memory files).
 * MMG_ERR_INVALID_ARG for a range outside the tensor; MMG_ERR_IO naming the
 * file and tensor. [thread-safe] */
mmg_status mmg__st_pread_bytes(const mmg__st_file *f, const mmg__st_tensor *t, size_t offset,
                               void *dst, size_t n);
/* Checks that `name` exists, its dtype is a float type and its shape equals
 * shape[0..ndim); the error (MMG_ERR_FORMAT, also for a missing tensor) names
 * the file, the tensor and both shapes. On success *out = tensor (out may be
 * NULL when only the check is wanted). */
mmg_status mmg__st_expect(const mmg__st_file *f, const char *name, int ndim, const int64_t *shape,
                          const mmg__st_tensor **out);

/* ---- writing --------------------------------------------------------------- */

/* Nonzero when `s` is UTF-8 the writer accepts for a metadata key or value
 * or a tensor name (control characters are fine: they are escaped). */
int mmg__st_valid_utf8(const char *s);

/* Collects tensors and metadata, then serializes them. [one thread per object] */
typedef struct mmg__st_writer mmg__st_writer;

mmg_status mmg__st_writer_create(mmg__st_writer **out);
/* NULL is a no-op. */
void mmg__st_writer_free(mmg__st_writer *w);
/* Sets __metadata__[key] = value (both copied, valid UTF-8); setting a key
 * again replaces its value. */
mmg_status mmg__st_writer_metadata(mmg__st_writer *w, const char *key, const char *value);
/* Adds a tensor; `data` is NOT copied and must stay valid until write returns.
 * nbytes must equal dtype size * numel (MMG_ERR_INVALID_ARG otherwise, as for
 * a duplicate name, "__metadata__", invalid UTF-8, ndim outside 0..8 or a
 * negative dim). */
mmg_status mmg__st_writer_add(mmg__st_writer *w, const char *name, mmg__dtype dtype, int ndim,
                              const int64_t *shape, const void *data, size_t nbytes);
/* Adds a tensor whose nbytes bytes the writer asks for when it writes them:
 * fill(ctx, offset, dst, n) must write bytes [offset, offset + n) of its data
 * into dst (writing to a file: chunks of at most 1 MiB through one buffer,
 * in order; to memory: all at once). For data that exists in another layout
 * in memory (a quantized matrix), so saving needs no second copy of it.
 * Otherwise as mmg__st_writer_add. */
typedef void (*mmg__st_fill_fn)(const void *ctx, size_t offset, void *dst, size_t n);
mmg_status mmg__st_writer_add_fill(mmg__st_writer *w, const char *name, mmg__dtype dtype, int ndim,
                                   const int64_t *shape, size_t nbytes, mmg__st_fill_fn fill,
                                   const void *ctx);
/* Writes atomically: "<path>.tmp-<pid>", fwrite, fflush, fsync, rename over
 * path, fsync the directory. On any failure the previous file at `path` is
 * untouched and the temp file removed (MMG_ERR_IO naming the path). */
mmg_status mmg__st_writer_write(mmg__st_writer *w, const char *path);
/* The same serialization into a buffer from mmg__malloc (free with mmg_free). */
mmg_status mmg__st_writer_to_memory(mmg__st_writer *w, uint8_t **out, size_t *out_len);

#endif /* MMGEN_CORE_SAFETENSORS_H */
