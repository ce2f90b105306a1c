/* cli/gguf.h - reading and writing GGUF files, the model format of llama.cpp
 * and ggml, for `mmgen convert`.
 *
 * The layout (version 3, little-endian; ggml's docs/gguf.md):
 *   "GGUF", u32 version, u64 tensor count, u64 key/value count,
 *   key/values:   string key, u32 value type, value
 *   tensor infos: string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset
 *   padding to the alignment (general.alignment, default 32), then the data
 *   section; each tensor's offset is relative to its start and aligned.
 * A string is a u64 length and that many bytes (no NUL); an array is a u32
 * element type, a u64 count and the elements. ne[0] is the fastest-varying
 * dimension, so a row-major (rows, cols) matrix is ne = {cols, rows}.
 *
 * The reader treats the file as untrusted: every length, count, dimension and
 * offset is checked against the file's size before it is used, and a bad one
 * is an error naming it, never a crash or an unbounded allocation. Both sides
 * know the element types mmgen converts: F32, F16, BF16, Q8_0 and Q4_0 (read
 * as floats or as stored bytes; written from bytes already in the file's
 * form).
 *
 * Names: ggml's own gguf.h uses gguf_context/gguf_type, so nothing here is
 * called that; a program may include both. */
#ifndef MMGEN_CLI_GGUF_H
#define MMGEN_CLI_GGUF_H

#include <stddef.h>
#include <stdint.h>

/* Value types of key/values (the numbers are the file format's). */
typedef enum gguf_vtype {
    GGUF_V_UINT8 = 0,
    GGUF_V_INT8 = 1,
    GGUF_V_UINT16 = 2,
    GGUF_V_INT16 = 3,
    GGUF_V_UINT32 = 4,
    GGUF_V_INT32 = 5,
    GGUF_V_FLOAT32 = 6,
    GGUF_V_BOOL = 7,
    GGUF_V_STRING = 8,
    GGUF_V_ARRAY = 9,
    GGUF_V_UINT64 = 10,
    GGUF_V_INT64 = 11,
    GGUF_V_FLOAT64 = 12,
    GGUF_V_COUNT
} gguf_vtype;

/* Tensor element types mmgen knows (ggml_type's numbers). */
typedef enum gguf_dtype {
    GGUF_DT_F32 = 0,
    GGUF_DT_F16 = 1,
    GGUF_DT_Q4_0 = 2,  /* blocks of 32: f16 scale, 16 bytes of 4-bit values - 8 */
    GGUF_DT_Q8_0 = 8,  /* blocks of 32: f16 scale, 32 int8 values */
    GGUF_DT_BF16 = 30
} gguf_dtype;

#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 64      /* ggml's GGML_MAX_NAME: names are shorter */
#define GGUF_ALIGNMENT 32     /* the default, and what the writer uses */

/* "F32", "Q8_0"...; "?" for a type mmgen does not know. */
const char *gguf_dtype_name(uint32_t dtype);

/* ---- reading --------------------------------------------------------------- */

/* One key/value. Offsets point into the reader's copy of the header
 * (gguf_reader.head); use the accessors below. */
typedef struct gguf_kv {
    uint64_t key_off, key_len;
    uint32_t type;      /* gguf_vtype */
    uint32_t arr_type;  /* element type when type is GGUF_V_ARRAY */
    uint64_t arr_n;     /* element count when type is GGUF_V_ARRAY */
    uint64_t val_off;   /* the value (for a string: its bytes; for an array:
                           its first element) */
    uint64_t val_len;   /* bytes of a string value; bytes of an array's elements */
} gguf_kv;

typedef struct gguf_tensor {
    char name[GGUF_MAX_NAME]; /* NUL-terminated */
    uint32_t n_dims;          /* 1 .. GGUF_MAX_DIMS */
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] fastest; 1 past n_dims */
    uint32_t dtype;           /* gguf_dtype */
    uint64_t offset;          /* in the data section */
    uint64_t n_elements;
    uint64_t n_bytes;
} gguf_tensor;

typedef struct gguf_reader {
    int fd;
    const char *path;         /* for messages; the caller's string */
    uint64_t file_size;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;     /* where the data section starts in the file */
    unsigned char *head;      /* the header bytes [0, head_len) */
    uint64_t head_len;
    gguf_kv *kv;
    uint64_t n_kv;
    gguf_tensor *tensors;
    uint64_t n_tensors;
    char error[512];          /* the last error's message */
} gguf_reader;

/* Opens `path` and reads and checks its header: magic, version (2 or 3),
 * counts, every key/value and tensor info (known types, names shorter than
 * GGUF_MAX_NAME and unique, 1-4 dimensions each >= 1, sizes without
 * overflow, offsets aligned and every tensor's bytes inside the file).
 * Returns the reader, or NULL with the reason in err (err_size bytes). */
gguf_reader *gguf_reader_open(const char *path, char *err, size_t err_size);

/* Closes the file and frees the reader; NULL is a no-op. */
void gguf_reader_close(gguf_reader *r);

/* The key/value called `key`, or NULL. */
const gguf_kv *gguf_reader_find(const gguf_reader *r, const char *key);

/* The tensor called `name`, or NULL. */
const gguf_tensor *gguf_reader_tensor(const gguf_reader *r, const char *name);

/* A string value: its bytes (not NUL-terminated) and length in *len; NULL
 * when kv is NULL or not a string. */
const char *gguf_kv_str(const gguf_reader *r, const gguf_kv *kv, uint64_t *len);

/* An integer value of any integer type (or bool) in *out. Returns 0, or -1
 * with r->error set when kv is NULL, not an integer, or negative. */
int gguf_kv_uint(gguf_reader *r, const gguf_kv *kv, const char *key, uint64_t *out);

/* A float32/float64 value in *out. Returns 0, or -1 with r->error set. */
int gguf_kv_float(gguf_reader *r, const gguf_kv *kv, const char *key, double *out);

/* Reads tensor t's data as n floats (n must be its element count),
 * converting F16/BF16 and dequantizing Q8_0/Q4_0. Returns 0, or -1 with
 * r->error set (a short read, a type it cannot convert). */
int gguf_reader_read_f32(gguf_reader *r, const gguf_tensor *t, float *dst, uint64_t n);

/* Reads tensor t's bytes as the file stores them (t->n_bytes of them: n
 * must be that). Returns 0, or -1 with r->error set. */
int gguf_reader_read_data(gguf_reader *r, const gguf_tensor *t, void *dst, uint64_t n);

/* ---- writing --------------------------------------------------------------- */

typedef struct gguf_writer gguf_writer;

/* A new, empty file description; NULL when out of memory. */
gguf_writer *gguf_writer_create(void);
void gguf_writer_free(gguf_writer *w);

/* Key/values, in the order they are added. Each returns 0, or -1 when out of
 * memory (then gguf_writer_write fails too). Strings are NUL-terminated. */
int gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t value);
int gguf_writer_add_f32(gguf_writer *w, const char *key, float value);
int gguf_writer_add_str(gguf_writer *w, const char *key, const char *value);
int gguf_writer_add_str_n(gguf_writer *w, const char *key, const char *value, size_t len);
int gguf_writer_add_str_array(gguf_writer *w, const char *key, const char *const *values, uint64_t n);
int gguf_writer_add_i32_array(gguf_writer *w, const char *key, const int32_t *values, uint64_t n);

/* A tensor of shape ne[0..n_dims) (ne[0] fastest) of type `dtype` (F32,
 * F16, BF16, Q8_0, Q4_0) whose `n_bytes` bytes at `data` are already in the
 * file's form (little-endian values; ggml's blocks), written as they are;
 * n_bytes must be what ne and dtype take. data must stay valid until the
 * file is written; the same data may back several tensors. Returns 0, or -1
 * (out of memory, a bad name, dims, dtype or size). */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                           uint32_t dtype, const void *data, uint64_t n_bytes);

/* Writes the file: `path`.tmp first, renamed onto `path` when complete.
 * Returns 0, or -1 with the reason in err. */
int gguf_writer_write(gguf_writer *w, const char *path, char *err, size_t err_size);

/* ---- half precision ------------------------------------------------------- */

float gguf_f16_to_f32(uint16_t h);

#endif /* MMGEN_CLI_GGUF_H */
