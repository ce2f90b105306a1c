/* cli/gguf.c - the GGUF reader and writer of `mmgen convert` (see gguf.h).
 *
 * The reader reads only the header into memory, on demand, through a cursor
 * that checks every length against the bytes the file has left before it
 * reads or allocates anything; tensor data is read later with pread, one
 * tensor at a time. The writer collects key/values as encoded bytes and
 * tensors as (shape, type, source floats), and converts the floats while
 * writing. Everything is little-endian, whatever the host. */
#define _DEFAULT_SOURCE /* pread */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Limits that keep a malformed header from costing unbounded memory or time:
 * far above any real model (GPT-2's header is 1.5 MB with its vocabulary,
 * Llama 3's about 8 MB; models have at most a few thousand tensors). */
#define HEAD_MAX ((uint64_t)256 << 20)
#define MAX_KV ((uint64_t)1 << 16)
#define MAX_TENSORS ((uint64_t)1 << 16)
#define MAX_ELEMENTS ((uint64_t)1 << 40)

#define QK 32 /* elements per Q8_0 / Q4_0 block */

typedef unsigned long long ull;

/* ---- half precision ---------------------------------------------------------- */

float gguf_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0x1f) {
        x = sign | 0x7f800000u | (man << 13);
    } else if (exp) {
        x = sign | ((exp + 112) << 23) | (man << 13);
    } else if (!man) {
        x = sign;
    } else { /* subnormal: normalize */
        uint32_t e = 113;
        while (!(man & 0x400u)) man <<= 1, e--;
        x = sign | (e << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

static float bf16_to_f32(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* ---- little-endian bytes ---------------------------------------------------------- */

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* ---- types ------------------------------------------------------------------------ */

const char *gguf_dtype_name(uint32_t dtype) {
    switch (dtype) {
    case GGUF_DT_F32: return "F32";
    case GGUF_DT_F16: return "F16";
    case GGUF_DT_BF16: return "BF16";
    case GGUF_DT_Q8_0: return "Q8_0";
    case GGUF_DT_Q4_0: return "Q4_0";
    default: return "?";
    }
}

/* Bytes per block and elements per block of a known type; 0 when unknown. */
static uint64_t dtype_block_bytes(uint32_t dtype, uint64_t *block_elems) {
    *block_elems = 1;
    switch (dtype) {
    case GGUF_DT_F32: return 4;
    case GGUF_DT_F16:
    case GGUF_DT_BF16: return 2;
    case GGUF_DT_Q8_0: *block_elems = QK; return 2 + QK;
    case GGUF_DT_Q4_0: *block_elems = QK; return 2 + QK / 2;
    default: return 0;
    }
}

/* Bytes of one scalar of a value type; 0 for strings and arrays. */
static uint64_t vtype_size(uint32_t t) {
    switch (t) {
    case GGUF_V_UINT8: case GGUF_V_INT8: case GGUF_V_BOOL: return 1;
    case GGUF_V_UINT16: case GGUF_V_INT16: return 2;
    case GGUF_V_UINT32: case GGUF_V_INT32: case GGUF_V_FLOAT32: return 4;
    case GGUF_V_UINT64: case GGUF_V_INT64: case GGUF_V_FLOAT64: return 8;
    default: return 0;
    }
}

static const char *vtype_name(uint32_t t) {
    static const char *const names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                        "bool", "string", "array", "uint64", "int64", "float64"};
    return t < GGUF_V_COUNT ? names[t] : "unknown";
}

/* ---- reader --------------------------------------------------------------------- */

static int rfail(gguf_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rfail(gguf_reader *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    return -1;
}

/* Reads [off, off + n) of the file completely; 0 or -1 with errno. */
static int pread_full(int fd, void *dst, uint64_t n, uint64_t off) {
    unsigned char *p = dst;
    while (n) {
        ssize_t got = pread(fd, p, n > (1u << 30) ? (1u << 30) : (size_t)n, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            if (got == 0) errno = EIO; /* the file shrank */
            return -1;
        }
        p += got, off += (uint64_t)got, n -= (uint64_t)got;
    }
    return 0;
}

/* The header cursor: `pos` is the next byte; need() makes [pos, pos + n)
 * present in r->head, reading more of the file when needed. */
typedef struct cursor {
    gguf_reader *r;
    uint64_t pos;
} cursor;

static int need(cursor *c, uint64_t n, const char *what) {
    gguf_reader *r = c->r;
    if (n > r->file_size - c->pos)
        return rfail(r, "truncated: %s at byte %llu needs %llu bytes, but the file ends at byte %llu", what,
                      (ull)c->pos, (ull)n, (ull)r->file_size);
    uint64_t end = c->pos + n;
    if (end > HEAD_MAX)
        return rfail(r, "%s at byte %llu would make the header larger than %llu MiB", what, (ull)c->pos,
                      (ull)(HEAD_MAX >> 20));
    if (end <= r->head_len) return 0;
    uint64_t want = r->head_len * 2;
    if (want < ((uint64_t)64 << 10)) want = (uint64_t)64 << 10;
    if (want < end) want = end;
    if (want > r->file_size) want = r->file_size;
    if (want > HEAD_MAX) want = HEAD_MAX;
    unsigned char *grown = realloc(r->head, (size_t)want);
    if (!grown) return rfail(r, "out of memory reading the header (%llu bytes)", (ull)want);
    r->head = grown;
    if (pread_full(r->fd, r->head + r->head_len, want - r->head_len, r->head_len) != 0)
        return rfail(r, "reading the header: %s", strerror(errno));
    r->head_len = want;
    return 0;
}

static int rd_u32(cursor *c, uint32_t *out, const char *what) {
    if (need(c, 4, what)) return -1;
    *out = le32(c->r->head + c->pos);
    c->pos += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *out, const char *what) {
    if (need(c, 8, what)) return -1;
    *out = le64(c->r->head + c->pos);
    c->pos += 8;
    return 0;
}

/* A string: its bytes' offset and length. */
static int rd_str(cursor *c, uint64_t *off, uint64_t *len, const char *what) {
    if (rd_u64(c, len, what)) return -1;
    if (*len > c->r->file_size - c->pos)
        return rfail(c->r, "truncated or corrupt: %s at byte %llu claims %llu bytes, but the file ends at byte %llu",
                     what, (ull)(c->pos - 8), (ull)*len, (ull)c->r->file_size);
    if (need(c, *len, what)) return -1;
    *off = c->pos;
    c->pos += *len;
    return 0;
}

/* "key 'general.name'" for messages, the key cut to 80 bytes. */
static const char *key_label(const gguf_reader *r, const gguf_kv *kv, char *buf, size_t size) {
    int n = kv->key_len > 80 ? 80 : (int)kv->key_len;
    snprintf(buf, size, "key '%.*s'", n, (const char *)r->head + kv->key_off);
    return buf;
}

static int read_kv(cursor *c, uint64_t index, gguf_kv *kv) {
    gguf_reader *r = c->r;
    char what[160], label[128];
    snprintf(what, sizeof what, "the name of key/value %llu", (ull)index);
    if (rd_str(c, &kv->key_off, &kv->key_len, what)) return -1;
    if (kv->key_len == 0) return rfail(r, "key/value %llu has an empty name", (ull)index);
    key_label(r, kv, label, sizeof label);
    snprintf(what, sizeof what, "the type of %s", label);
    if (rd_u32(c, &kv->type, what)) return -1;
    kv->arr_type = 0, kv->arr_n = 0, kv->val_len = 0;
    snprintf(what, sizeof what, "the value of %s", label);
    if (kv->type >= GGUF_V_COUNT) return rfail(r, "%s has unknown value type %u", label, kv->type);
    if (kv->type == GGUF_V_STRING) return rd_str(c, &kv->val_off, &kv->val_len, what);
    if (kv->type != GGUF_V_ARRAY) {
        kv->val_off = c->pos;
        kv->val_len = vtype_size(kv->type);
        if (need(c, kv->val_len, what)) return -1;
        c->pos += kv->val_len;
        return 0;
    }
    if (rd_u32(c, &kv->arr_type, what) || rd_u64(c, &kv->arr_n, what)) return -1;
    if (kv->arr_type >= GGUF_V_COUNT) return rfail(r, "%s is an array of unknown type %u", label, kv->arr_type);
    if (kv->arr_type == GGUF_V_ARRAY) return rfail(r, "%s is an array of arrays, which GGUF does not allow", label);
    uint64_t left = r->file_size - c->pos;
    uint64_t min_size = kv->arr_type == GGUF_V_STRING ? 8 : vtype_size(kv->arr_type);
    if (kv->arr_n > left / min_size)
        return rfail(r, "truncated or corrupt: %s claims %llu %s elements, more than the %llu bytes left in the file hold",
                     label, (ull)kv->arr_n, vtype_name(kv->arr_type), (ull)left);
    kv->val_off = c->pos;
    if (kv->arr_type != GGUF_V_STRING) {
        kv->val_len = kv->arr_n * min_size;
        if (need(c, kv->val_len, what)) return -1;
        c->pos += kv->val_len;
        return 0;
    }
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        uint64_t off, len;
        snprintf(what, sizeof what, "string %llu of %s", (ull)i, label);
        if (rd_str(c, &off, &len, what)) return -1;
    }
    kv->val_len = c->pos - kv->val_off;
    return 0;
}

static int read_tensor_info(cursor *c, uint64_t index, gguf_tensor *t) {
    gguf_reader *r = c->r;
    char what[160];
    uint64_t off, len;
    snprintf(what, sizeof what, "the name of tensor %llu", (ull)index);
    if (rd_str(c, &off, &len, what)) return -1;
    if (len == 0) return rfail(r, "tensor %llu has an empty name", (ull)index);
    if (len >= GGUF_MAX_NAME)
        return rfail(r, "tensor %llu's name is %llu bytes long; GGUF tensor names are shorter than %d", (ull)index,
                     (ull)len, GGUF_MAX_NAME);
    if (memchr(r->head + off, 0, (size_t)len)) return rfail(r, "tensor %llu's name contains a NUL byte", (ull)index);
    memcpy(t->name, r->head + off, (size_t)len);
    t->name[len] = 0;
    snprintf(what, sizeof what, "the shape of tensor '%s'", t->name);
    if (rd_u32(c, &t->n_dims, what)) return -1;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return rfail(r, "tensor '%s' has %u dimensions; 1 to %d expected", t->name, t->n_dims, GGUF_MAX_DIMS);
    t->n_elements = 1;
    for (uint32_t j = 0; j < GGUF_MAX_DIMS; j++) {
        t->ne[j] = 1;
        if (j >= t->n_dims) continue;
        if (rd_u64(c, &t->ne[j], what)) return -1;
        if (t->ne[j] == 0 || t->ne[j] > MAX_ELEMENTS / t->n_elements)
            return rfail(r, "tensor '%s' has dimension %u of %llu elements; each must be >= 1 and the tensor "
                         "at most 2^40 elements",
                         t->name, j, (ull)t->ne[j]);
        t->n_elements *= t->ne[j];
    }
    snprintf(what, sizeof what, "the type of tensor '%s'", t->name);
    if (rd_u32(c, &t->dtype, what)) return -1;
    uint64_t block_elems, block_bytes = dtype_block_bytes(t->dtype, &block_elems);
    if (!block_bytes)
        return rfail(r, "tensor '%s' has element type %u, which mmgen does not read (it reads F32, F16, BF16, "
                     "Q8_0 and Q4_0)",
                     t->name, t->dtype);
    if (t->ne[0] % block_elems)
        return rfail(r, "tensor '%s' is %s but its rows of %llu elements are not whole blocks of %llu", t->name,
                     gguf_dtype_name(t->dtype), (ull)t->ne[0], (ull)block_elems);
    t->n_bytes = t->n_elements / block_elems * block_bytes;
    snprintf(what, sizeof what, "the offset of tensor '%s'", t->name);
    return rd_u64(c, &t->offset, what);
}

/* Sorting names to find duplicates in O(n log n). */
typedef struct name_ref {
    const unsigned char *p;
    uint64_t len;
} name_ref;

static int cmp_name(const void *a, const void *b) {
    const name_ref *x = a, *y = b;
    uint64_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, (size_t)n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The first name that occurs twice, or NULL; *dup_len its length. */
static const unsigned char *find_duplicate(name_ref *refs, uint64_t n, uint64_t *dup_len) {
    qsort(refs, (size_t)n, sizeof *refs, cmp_name);
    for (uint64_t i = 1; i < n; i++)
        if (!cmp_name(&refs[i - 1], &refs[i])) {
            *dup_len = refs[i].len;
            return refs[i].p;
        }
    return NULL;
}

static int check_unique(gguf_reader *r) {
    uint64_t n = r->n_kv > r->n_tensors ? r->n_kv : r->n_tensors, len = 0;
    if (n < 2) return 0;
    name_ref *refs = malloc((size_t)n * sizeof *refs);
    if (!refs) return rfail(r, "out of memory");
    for (uint64_t i = 0; i < r->n_kv; i++) refs[i] = (name_ref){r->head + r->kv[i].key_off, r->kv[i].key_len};
    const unsigned char *dup = find_duplicate(refs, r->n_kv, &len);
    int rc = 0;
    if (dup) {
        rc = rfail(r, "key '%.*s' occurs twice", (int)(len > 80 ? 80 : len), (const char *)dup);
    } else {
        for (uint64_t i = 0; i < r->n_tensors; i++)
            refs[i] = (name_ref){(const unsigned char *)r->tensors[i].name, strlen(r->tensors[i].name)};
        dup = find_duplicate(refs, r->n_tensors, &len);
        if (dup) rc = rfail(r, "tensor '%.*s' occurs twice", (int)len, (const char *)dup);
    }
    free(refs);
    return rc;
}

static int parse(gguf_reader *r) {
    cursor c = {r, 0};
    if (need(&c, 4, "the magic")) return -1;
    const unsigned char *m = r->head;
    if (memcmp(m, "GGUF", 4) != 0)
        return rfail(r, "not a GGUF file: it starts with bytes %02x %02x %02x %02x, not \"GGUF\"", m[0], m[1], m[2],
                     m[3]);
    c.pos = 4;
    if (rd_u32(&c, &r->version, "the version")) return -1;
    if (r->version == 0x02000000u || r->version == 0x03000000u)
        return rfail(r, "a big-endian GGUF file; mmgen reads little-endian ones");
    if (r->version == 1) return rfail(r, "GGUF version 1 (from 2023, 32-bit counts) is not supported; version 2 or 3 is");
    if (r->version != 2 && r->version != 3) return rfail(r, "unknown GGUF version %u (2 or 3 expected)", r->version);
    if (rd_u64(&c, &r->n_tensors, "the tensor count") || rd_u64(&c, &r->n_kv, "the key/value count")) return -1;
    if (r->n_tensors > MAX_TENSORS)
        return rfail(r, "corrupt: the header claims %llu tensors (mmgen accepts at most %llu)", (ull)r->n_tensors,
                     (ull)MAX_TENSORS);
    if (r->n_kv > MAX_KV)
        return rfail(r, "corrupt: the header claims %llu key/values (mmgen accepts at most %llu)", (ull)r->n_kv,
                     (ull)MAX_KV);
    /* Each key/value takes at least 13 bytes and each tensor info 33: counts
     * the file cannot hold are refused before anything is allocated. */
    uint64_t left = r->file_size - c.pos;
    if (r->n_kv > left / 13 || r->n_tensors > (left - r->n_kv * 13) / 33)
        return rfail(r, "truncated or corrupt: %llu key/values and %llu tensors cannot fit in the %llu bytes left",
                     (ull)r->n_kv, (ull)r->n_tensors, (ull)left);
    r->kv = calloc((size_t)r->n_kv + 1, sizeof *r->kv);
    r->tensors = calloc((size_t)r->n_tensors + 1, sizeof *r->tensors);
    if (!r->kv || !r->tensors) return rfail(r, "out of memory");
    for (uint64_t i = 0; i < r->n_kv; i++)
        if (read_kv(&c, i, &r->kv[i])) return -1;
    r->alignment = GGUF_ALIGNMENT;
    const gguf_kv *a = gguf_reader_find(r, "general.alignment");
    if (a) {
        if (a->type != GGUF_V_UINT32)
            return rfail(r, "general.alignment is of type %s; GGUF wants a uint32", vtype_name(a->type));
        r->alignment = le32(r->head + a->val_off);
        if (r->alignment == 0 || (r->alignment & (r->alignment - 1)))
            return rfail(r, "general.alignment is %llu, not a power of 2", (ull)r->alignment);
    }
    for (uint64_t i = 0; i < r->n_tensors; i++)
        if (read_tensor_info(&c, i, &r->tensors[i])) return -1;
    if (check_unique(r)) return -1;
    r->data_offset = (c.pos + r->alignment - 1) / r->alignment * r->alignment;
    if (r->n_tensors && r->data_offset > r->file_size)
        return rfail(r, "truncated: the data section would start at byte %llu, past the end of the file (%llu bytes)",
                     (ull)r->data_offset, (ull)r->file_size);
    uint64_t data_size = r->n_tensors ? r->file_size - r->data_offset : 0;
    for (uint64_t i = 0; i < r->n_tensors; i++) {
        const gguf_tensor *t = &r->tensors[i];
        if (t->offset % r->alignment)
            return rfail(r, "tensor '%s' is at offset %llu, not a multiple of the alignment %llu", t->name,
                         (ull)t->offset, (ull)r->alignment);
        if (t->offset > data_size || t->n_bytes > data_size - t->offset)
            return rfail(r, "truncated or corrupt: tensor '%s' (%llu bytes at offset %llu) runs past the end of the "
                         "data section (%llu bytes)",
                         t->name, (ull)t->n_bytes, (ull)t->offset, (ull)data_size);
    }
    return 0;
}

gguf_reader *gguf_reader_open(const char *path, char *err, size_t err_size) {
    gguf_reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    r->path = path;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) != 0) {
        snprintf(err, err_size, "cannot open '%s': %s", path, strerror(errno));
        gguf_reader_close(r);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "'%s' is not a regular file", path);
        gguf_reader_close(r);
        return NULL;
    }
    r->file_size = (uint64_t)st.st_size;
    if (parse(r) != 0) {
        snprintf(err, err_size, "'%s': %s", path, r->error);
        gguf_reader_close(r);
        return NULL;
    }
    return r;
}

void gguf_reader_close(gguf_reader *r) {
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    free(r->head);
    free(r->kv);
    free(r->tensors);
    free(r);
}

const gguf_kv *gguf_reader_find(const gguf_reader *r, const char *key) {
    size_t len = strlen(key);
    for (uint64_t i = 0; i < r->n_kv; i++)
        if (r->kv[i].key_len == len && !memcmp(r->head + r->kv[i].key_off, key, len)) return &r->kv[i];
    return NULL;
}

const gguf_tensor *gguf_reader_tensor(const gguf_reader *r, const char *name) {
    for (uint64_t i = 0; i < r->n_tensors; i++)
        if (!strcmp(r->tensors[i].name, name)) return &r->tensors[i];
    return NULL;
}

const char *gguf_kv_str(const gguf_reader *r, const gguf_kv *kv, uint64_t *len) {
    if (!kv || kv->type != GGUF_V_STRING) return NULL;
    *len = kv->val_len;
    return (const char *)r->head + kv->val_off;
}

int gguf_kv_uint(gguf_reader *r, const gguf_kv *kv, const char *key, uint64_t *out) {
    if (!kv) return rfail(r, "the key '%s' is missing", key);
    const unsigned char *p = r->head + kv->val_off;
    int64_t v;
    switch (kv->type) {
    case GGUF_V_UINT8: case GGUF_V_BOOL: *out = p[0]; return 0;
    case GGUF_V_UINT16: *out = le16(p); return 0;
    case GGUF_V_UINT32: *out = le32(p); return 0;
    case GGUF_V_UINT64: *out = le64(p); return 0;
    case GGUF_V_INT8: v = (int8_t)p[0]; break;
    case GGUF_V_INT16: v = (int16_t)le16(p); break;
    case GGUF_V_INT32: v = (int32_t)le32(p); break;
    case GGUF_V_INT64: v = (int64_t)le64(p); break;
    default: return rfail(r, "the key '%s' is a %s, not an integer", key, vtype_name(kv->type));
    }
    if (v < 0) return rfail(r, "the key '%s' is %lld; a count must not be negative", key, (long long)v);
    *out = (uint64_t)v;
    return 0;
}

int gguf_kv_float(gguf_reader *r, const gguf_kv *kv, const char *key, double *out) {
    if (!kv) return rfail(r, "the key '%s' is missing", key);
    const unsigned char *p = r->head + kv->val_off;
    if (kv->type == GGUF_V_FLOAT32) {
        uint32_t x = le32(p);
        float f;
        memcpy(&f, &x, sizeof f);
        *out = f;
    } else if (kv->type == GGUF_V_FLOAT64) {
        uint64_t x = le64(p);
        memcpy(out, &x, sizeof *out);
    } else {
        return rfail(r, "the key '%s' is a %s, not a float", key, vtype_name(kv->type));
    }
    return 0;
}

/* Converts `n_blocks` blocks of type dtype at src into floats at dst. */
static void dequantize(uint32_t dtype, const unsigned char *src, float *dst, uint64_t n_blocks) {
    for (uint64_t b = 0; b < n_blocks; b++) {
        switch (dtype) {
        case GGUF_DT_F32: {
            uint32_t x = le32(src + 4 * b);
            memcpy(dst + b, &x, sizeof x);
            break;
        }
        case GGUF_DT_F16: dst[b] = gguf_f16_to_f32(le16(src + 2 * b)); break;
        case GGUF_DT_BF16: dst[b] = bf16_to_f32(le16(src + 2 * b)); break;
        case GGUF_DT_Q8_0: {
            const unsigned char *q = src + b * (2 + QK);
            float d = gguf_f16_to_f32(le16(q));
            for (int j = 0; j < QK; j++) dst[b * QK + j] = (float)(int8_t)q[2 + j] * d;
            break;
        }
        case GGUF_DT_Q4_0: {
            /* low nibbles are elements 0..15, high nibbles 16..31 */
            const unsigned char *q = src + b * (2 + QK / 2);
            float d = gguf_f16_to_f32(le16(q));
            for (int j = 0; j < QK / 2; j++) {
                dst[b * QK + j] = (float)((int)(q[2 + j] & 0x0f) - 8) * d;
                dst[b * QK + j + QK / 2] = (float)((int)(q[2 + j] >> 4) - 8) * d;
            }
            break;
        }
        }
    }
}

int gguf_reader_read_f32(gguf_reader *r, const gguf_tensor *t, float *dst, uint64_t n) {
    if (n != t->n_elements)
        return rfail(r, "tensor '%s' has %llu elements, not %llu", t->name, (ull)t->n_elements, (ull)n);
    uint64_t block_elems, block_bytes = dtype_block_bytes(t->dtype, &block_elems);
    if (!block_bytes) return rfail(r, "tensor '%s' has element type %u, which mmgen does not read", t->name, t->dtype);
    const uint64_t chunk_blocks = ((uint64_t)1 << 20) / block_bytes;
    unsigned char *buf = malloc((size_t)(chunk_blocks * block_bytes));
    if (!buf) return rfail(r, "out of memory");
    uint64_t n_blocks = t->n_elements / block_elems, done = 0;
    int rc = 0;
    while (done < n_blocks) {
        uint64_t k = n_blocks - done < chunk_blocks ? n_blocks - done : chunk_blocks;
        if (pread_full(r->fd, buf, k * block_bytes, r->data_offset + t->offset + done * block_bytes) != 0) {
            rc = rfail(r, "reading tensor '%s': %s", t->name, strerror(errno));
            break;
        }
        dequantize(t->dtype, buf, dst + done * block_elems, k);
        done += k;
    }
    free(buf);
    return rc;
}

int gguf_reader_read_data(gguf_reader *r, const gguf_tensor *t, void *dst, uint64_t n) {
    if (n != t->n_bytes)
        return rfail(r, "tensor '%s' has %llu bytes, not %llu", t->name, (ull)t->n_bytes, (ull)n);
    if (pread_full(r->fd, dst, n, r->data_offset + t->offset) != 0)
        return rfail(r, "reading tensor '%s': %s", t->name, strerror(errno));
    return 0;
}

/* ---- writer --------------------------------------------------------------------- */

typedef struct wtensor {
    char name[GGUF_MAX_NAME];
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    uint32_t dtype;
    const void *data;  /* the bytes, in the file's form */
    uint64_t n_elements, n_bytes, offset;
} wtensor;

struct gguf_writer {
    unsigned char *kv; /* the encoded key/values */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    wtensor *t;
    size_t n_t, cap_t;
    int oom; /* an add failed: writing fails too */
};

gguf_writer *gguf_writer_create(void) { return calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    free(w->kv);
    free(w->t);
    free(w);
}

static int put(gguf_writer *w, const void *p, size_t n) {
    if (w->oom) return -1;
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n) cap *= 2;
        unsigned char *grown = realloc(w->kv, cap);
        if (!grown) {
            w->oom = 1;
            return -1;
        }
        w->kv = grown, w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
    return 0;
}

static int put_u32(gguf_writer *w, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    return put(w, b, 4);
}

static int put_u64(gguf_writer *w, uint64_t v) {
    return put_u32(w, (uint32_t)v) || put_u32(w, (uint32_t)(v >> 32)) ? -1 : 0;
}

static int put_str(gguf_writer *w, const char *s, size_t len) {
    return put_u64(w, len) || put(w, s, len) ? -1 : 0;
}

static int put_key(gguf_writer *w, const char *key, uint32_t type) {
    if (put_str(w, key, strlen(key)) || put_u32(w, type)) return -1;
    w->n_kv++;
    return 0;
}

int gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t value) {
    return put_key(w, key, GGUF_V_UINT32) || put_u32(w, value) ? -1 : 0;
}

int gguf_writer_add_f32(gguf_writer *w, const char *key, float value) {
    uint32_t x;
    memcpy(&x, &value, sizeof x);
    return put_key(w, key, GGUF_V_FLOAT32) || put_u32(w, x) ? -1 : 0;
}

int gguf_writer_add_str_n(gguf_writer *w, const char *key, const char *value, size_t len) {
    return put_key(w, key, GGUF_V_STRING) || put_str(w, value, len) ? -1 : 0;
}

int gguf_writer_add_str(gguf_writer *w, const char *key, const char *value) {
    return gguf_writer_add_str_n(w, key, value, strlen(value));
}

int gguf_writer_add_str_array(gguf_writer *w, const char *key, const char *const *values, uint64_t n) {
    if (put_key(w, key, GGUF_V_ARRAY) || put_u32(w, GGUF_V_STRING) || put_u64(w, n)) return -1;
    for (uint64_t i = 0; i < n; i++)
        if (put_str(w, values[i], strlen(values[i]))) return -1;
    return 0;
}

int gguf_writer_add_i32_array(gguf_writer *w, const char *key, const int32_t *values, uint64_t n) {
    if (put_key(w, key, GGUF_V_ARRAY) || put_u32(w, GGUF_V_INT32) || put_u64(w, n)) return -1;
    for (uint64_t i = 0; i < n; i++)
        if (put_u32(w, (uint32_t)values[i])) return -1;
    return 0;
}

int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                           uint32_t dtype, const void *data, uint64_t n_bytes) {
    if (w->oom) return -1;
    uint64_t block_elems, block_bytes = dtype_block_bytes(dtype, &block_elems), n_elements = 1;
    if (!*name || strlen(name) >= GGUF_MAX_NAME || n_dims < 1 || n_dims > GGUF_MAX_DIMS || !block_bytes)
        return -1;
    for (uint32_t j = 0; j < n_dims; j++) n_elements *= ne[j];
    if (n_elements % block_elems || n_bytes != n_elements / block_elems * block_bytes) return -1;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *grown = realloc(w->t, cap * sizeof *grown);
        if (!grown) {
            w->oom = 1;
            return -1;
        }
        w->t = grown, w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    for (uint32_t j = 0; j < n_dims; j++) t->ne[j] = ne[j];
    t->n_elements = n_elements;
    t->dtype = dtype;
    t->data = data;
    t->n_bytes = n_elements / block_elems * block_bytes;
    w->n_t++;
    return 0;
}

/* fwrite plus a running count of the bytes written. */
typedef struct out_file {
    FILE *f;
    uint64_t pos;
    int failed;
} out_file;

static void out(out_file *o, const void *p, size_t n) {
    if (o->failed) return;
    if (n && fwrite(p, 1, n, o->f) != n) o->failed = 1;
    o->pos += n;
}

static void out_u32(out_file *o, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    out(o, b, 4);
}

static void out_u64(out_file *o, uint64_t v) {
    out_u32(o, (uint32_t)v);
    out_u32(o, (uint32_t)(v >> 32));
}

static void out_pad(out_file *o) {
    static const unsigned char zeros[GGUF_ALIGNMENT];
    out(o, zeros, (size_t)((GGUF_ALIGNMENT - o->pos % GGUF_ALIGNMENT) % GGUF_ALIGNMENT));
}

int gguf_writer_write(gguf_writer *w, const char *path, char *err, size_t err_size) {
    if (w->oom) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    out_file o = {fopen(tmp, "wb"), 0, 0};
    if (!o.f) {
        snprintf(err, err_size, "cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = offset;
        offset += (w->t[i].n_bytes + GGUF_ALIGNMENT - 1) / GGUF_ALIGNMENT * GGUF_ALIGNMENT;
    }
    out(&o, "GGUF", 4);
    out_u32(&o, 3);
    out_u64(&o, w->n_t);
    out_u64(&o, w->n_kv);
    out(&o, w->kv, w->kv_len);
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        out_u64(&o, strlen(t->name));
        out(&o, t->name, strlen(t->name));
        out_u32(&o, t->n_dims);
        for (uint32_t j = 0; j < t->n_dims; j++) out_u64(&o, t->ne[j]);
        out_u32(&o, t->dtype);
        out_u64(&o, t->offset);
    }
    out_pad(&o);
    for (size_t i = 0; i < w->n_t; i++) {
        out(&o, w->t[i].data, (size_t)w->t[i].n_bytes);
        out_pad(&o);
    }
    int write_errno = errno;
    if (fclose(o.f) != 0 && !o.failed) o.failed = 1, write_errno = errno;
    if (o.failed || rename(tmp, path) != 0) {
        if (!o.failed) write_errno = errno;
        snprintf(err, err_size, "writing '%s': %s", o.failed ? tmp : path, strerror(write_errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
