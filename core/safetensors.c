/* core/safetensors.c - the safetensors reader (mmap, validate the header,
 * index the tensors) and the atomic writer.
 *
 * Reading never trusts the file: the header length, every JSON field, every
 * shape and offset is checked before a pointer into the data is handed out,
 * and the tensors must tile the data buffer exactly, as the reference Rust
 * implementation requires. Only the header is parsed (with cJSON), so opening
 * is O(header) whatever the size of the weights.
 *
 * The file object is one allocation: the struct, the tensors sorted by data
 * offset, an index sorted by name for bsearch, the metadata pairs and all
 * strings, so close() is munmap (and close of the descriptor a mapped file
 * keeps for pread) + one free. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "log.h"
#include "memory.h"
#include "mmgen/memory.h"

/* Tensor bytes are used as stored (little-endian); a big-endian port would
 * need byte swaps in mmg__st_read_f32 and the writer. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mmgen's safetensors code assumes a little-endian host"
#endif

/* ---- dtypes ---------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t size;
} dtype_table[MMG__DT_COUNT] = {
    [MMG__DT_F32] = {"F32", 4},  [MMG__DT_F16] = {"F16", 2},  [MMG__DT_BF16] = {"BF16", 2},
    [MMG__DT_F64] = {"F64", 8},  [MMG__DT_I64] = {"I64", 8},  [MMG__DT_I32] = {"I32", 4},
    [MMG__DT_U8] = {"U8", 1},    [MMG__DT_I8] = {"I8", 1},    [MMG__DT_BOOL] = {"BOOL", 1},
    [MMG__DT_U64] = {"U64", 8},  [MMG__DT_U32] = {"U32", 4},  [MMG__DT_I16] = {"I16", 2},
    [MMG__DT_U16] = {"U16", 2},
};

size_t mmg__dtype_size(mmg__dtype dt) {
    return (unsigned)dt < MMG__DT_COUNT ? dtype_table[dt].size : 0;
}

const char *mmg__dtype_name(mmg__dtype dt) {
    return (unsigned)dt < MMG__DT_COUNT ? dtype_table[dt].name : "?";
}

int mmg__dtype_is_float(mmg__dtype dt) {
    return dt == MMG__DT_F32 || dt == MMG__DT_F16 || dt == MMG__DT_BF16 || dt == MMG__DT_F64;
}

static int dtype_from_name(const char *s, mmg__dtype *out) {
    for (int i = 0; i < MMG__DT_COUNT; i++)
        if (strcmp(s, dtype_table[i].name) == 0) {
            *out = (mmg__dtype)i;
            return 0;
        }
    return -1;
}

static inline float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t bits_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Branch-free (masks, not ternaries) so that bulk conversion vectorizes.
 * Normal values and inf/NaN only move the exponent (NaN payloads are kept bit
 * for bit); a subnormal m*2^-24 is computed as (float)m * 2^-24, which is
 * exact and normal in F32, so flush-to-zero modes cannot touch it. */
static inline uint32_t f16_to_f32_bits(uint32_t h) {
    uint32_t sign = (h & 0x8000u) << 16, em = h & 0x7fffu, e = em & 0x7c00u;
    uint32_t infnan_mask = 0u - (((e + 0x0400u) >> 15) & 1u); /* e == 0x7c00 */
    uint32_t sub_mask = 0u - ((e - 1u) >> 31);                 /* e == 0 */
    uint32_t r = (em << 13) + ((127u - 15u) << 23) + (infnan_mask & ((255u - 31u - 127u + 15u) << 23));
    uint32_t sub = bits_from_f32((float)(int32_t)em * 0x1p-24f);
    return sign | (r & ~sub_mask) | (sub & sub_mask);
}

float mmg__f16_to_f32(uint16_t h) { return f32_from_bits(f16_to_f32_bits(h)); }

float mmg__bf16_to_f32(uint16_t b) { return f32_from_bits((uint32_t)b << 16); }

/* Round to nearest, ties to even; NaN becomes the canonical quiet NaN with
 * the sign kept (0x7e00 | sign), as PyTorch's c10::Half does. */
uint16_t mmg__f32_to_f16(float f) {
    uint32_t x = bits_from_f32(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return sign | 0x7e00u;
    if (x >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520 (or inf) rounds to inf */
    uint32_t e = x >> 23, m = (x & 0x7fffffu) | 0x800000u;
    if (e < 102) return sign; /* below 2^-25: rounds to zero */
    if (e < 113) {            /* half subnormal: count units of 2^-24 */
        uint32_t s = 126 - e, q = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return sign | (uint16_t)q;
    }
    uint32_t q = ((e - 112) << 10) | ((m >> 13) & 0x3ffu), rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1))) q++; /* a carry moves into the exponent */
    return sign | (uint16_t)q;
}

/* Round to nearest, ties to even; NaN becomes 0x7fc0 as in c10::BFloat16. */
uint16_t mmg__f32_to_bf16(float f) {
    uint32_t x = bits_from_f32(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* ---- the file object ------------------------------------------------------- */

typedef struct st_meta {
    const char *key;
    const char *value;
} st_meta;

struct mmg__st_file {
    const char *path;           /* "<memory>" or a copy of the path */
    const uint8_t *base;        /* the whole file */
    size_t size;
    size_t data_start;          /* 8 + header length */
    void *map;                  /* munmap(map, size) on close, or NULL */
    int fd;                     /* the file, kept open while mapped for
                                   mmg__st_pread_f32; -1 otherwise */
    uint8_t *owned;             /* buffer filled by read(), or NULL */
    size_t n_tensors;
    mmg__st_tensor *tensors;    /* (n_tensors,) sorted by data offset */
    const mmg__st_tensor **by_name; /* (n_tensors,) sorted by strcmp of name */
    size_t n_meta;
    st_meta *meta;              /* (n_meta,) in header order */
};

static void errno_text(int err, char *buf, size_t n) {
    if (strerror_r(err, buf, n) != 0) snprintf(buf, n, "errno %d", err);
}

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF), and no
 * raw control bytes other than JSON whitespace: they are invalid inside JSON
 * strings and outside them alike. Returns the offset of the first bad byte or
 * `n` when all is well; *what says why. */
static size_t check_header_bytes(const uint8_t *s, size_t n, const char **what) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                *what = "a raw control byte";
                return i;
            }
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07, min = 0x10000;
        else {
            *what = "invalid UTF-8";
            return i;
        }
        if (n - i < len) {
            *what = "truncated UTF-8";
            return i;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                *what = "invalid UTF-8";
                return i;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            *what = "invalid UTF-8";
            return i;
        }
        i += len;
    }
    return n;
}

/* cJSON decodes "\u0000" into a NUL that would silently cut a name short;
 * find an unescaped one in the raw text. Returns its offset or n. */
static size_t find_escaped_nul(const char *s, size_t n) {
    for (size_t i = 0; i + 6 <= n; i++) {
        if (s[i] != '\\') continue;
        size_t run = 0;
        while (i + run < n && s[i + run] == '\\') run++;
        /* pairs of backslashes are literal backslashes; an odd run escapes */
        size_t at = i + run - 1;
        if ((run & 1) && at + 6 <= n && memcmp(s + at, "\\u0000", 6) == 0) return at;
        i += run - 1;
    }
    return n;
}

/* A JSON number that is a non-negative integer exactly representable in a
 * double (up to 2^53); cJSON keeps numbers as doubles. */
static int json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return -1;
    double d = item->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

/* "[2, 3]" for messages. */
static void format_shape(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t used = 0;
    used += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

/* Sort keys: by begin offset, then end (zero-sized tensors first), then header order. */
typedef struct st_order {
    uint64_t begin, end;
    size_t index;
} st_order;

static int cmp_order(const void *a, const void *b) {
    const st_order *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_by_name(const void *a, const void *b) {
    const mmg__st_tensor *x = *(const mmg__st_tensor *const *)a;
    const mmg__st_tensor *y = *(const mmg__st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* One tensor entry of the header, validated into `t` (name and data pointer
 * are filled in later). `order` gets its offsets. */
static mmg_status parse_entry(const char *path, const cJSON *entry, size_t data_size,
                              mmg__st_tensor *t, st_order *order) {
    const char *name = entry->string;
    if (!cJSON_IsObject(entry))
        return mmg__error(MMG_ERR_FORMAT, "%s: tensor '%s': entry must be a JSON object", path, name);
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const cJSON *f = entry->child; f; f = f->next) {
        const cJSON **slot = strcmp(f->string, "dtype") == 0          ? &dtype
                             : strcmp(f->string, "shape") == 0        ? &shape
                             : strcmp(f->string, "data_offsets") == 0 ? &offsets
                                                                      : NULL;
        if (!slot) continue; /* unknown fields are ignored, as serde does */
        if (*slot)
            return mmg__error(MMG_ERR_FORMAT, "%s: tensor '%s': duplicate field \"%s\"", path, name,
                              f->string);
        *slot = f;
    }
    if (!cJSON_IsString(dtype))
        return mmg__error(MMG_ERR_FORMAT, "%s: tensor '%s': %s \"dtype\" (expected a string like \"F32\")",
                          path, name, dtype ? "non-string" : "missing");
    if (dtype_from_name(dtype->valuestring, &t->dtype) != 0)
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: tensor '%s': unknown dtype \"%s\" (mmgen reads F32, F16, BF16, F64, "
                          "I64, I32, I16, I8, U64, U32, U16, U8, BOOL)",
                          path, name, dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return mmg__error(MMG_ERR_FORMAT, "%s: tensor '%s': %s \"shape\" (expected an array of integers)",
                          path, name, shape ? "non-array" : "missing");
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > MMG__ST_MAX_DIMS)
        return mmg__error(MMG_ERR_FORMAT, "%s: tensor '%s': shape has %d dims; at most %d are supported",
                          path, name, ndim, MMG__ST_MAX_DIMS);
    t->ndim = ndim;
    size_t numel = 1;
    int d = 0, overflow = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, d++) {
        uint64_t v;
        if (json_uint(dim, &v) != 0) {
            char *text = cJSON_PrintUnformatted(dim);
            mmg_status st = mmg__error(MMG_ERR_FORMAT,
                                       "%s: tensor '%s': shape[%d] is %s; dims must be non-negative integers",
                                       path, name, d, text ? text : "not a number");
            cJSON_free(text);
            return st;
        }
        t->shape[d] = (int64_t)v;
        if (v > SIZE_MAX || mmg__mul_size(numel, (size_t)v, &numel) != 0) overflow = 1;
    }
    size_t nbytes = 0;
    if (overflow || mmg__mul_size(numel, mmg__dtype_size(t->dtype), &nbytes) != 0) {
        char sbuf[256];
        format_shape(sbuf, sizeof sbuf, ndim, t->shape);
        return mmg__error(MMG_ERR_FORMAT, "%s: tensor '%s': shape %s has too many elements (overflow)",
                          path, name, sbuf);
    }
    t->numel = numel;
    t->nbytes = nbytes;
    uint64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        json_uint(offsets->child, &begin) != 0 || json_uint(offsets->child->next, &end) != 0)
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: tensor '%s': %s \"data_offsets\" (expected [begin, end] non-negative integers)",
                          path, name, offsets ? "malformed" : "missing");
    if (begin > end)
        return mmg__error(MMG_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] has begin > end",
                          path, name, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: tensor '%s': data_offsets end %llu is beyond the data buffer (%zu bytes)",
                          path, name, (unsigned long long)end, data_size);
    if (end - begin != nbytes) {
        char sbuf[256];
        format_shape(sbuf, sizeof sbuf, ndim, t->shape);
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] span %llu bytes but %s %s needs %zu",
                          path, name, (unsigned long long)begin, (unsigned long long)end,
                          (unsigned long long)(end - begin), mmg__dtype_name(t->dtype), sbuf, nbytes);
    }
    order->begin = begin;
    order->end = end;
    return MMG_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Scratch space for parse_file, one allocation. */
typedef struct st_scratch {
    mmg__st_tensor *tensors; /* (n,) header order */
    st_order *order;         /* (n,) then sorted by offset */
    const char **names;      /* (n,) header order, point into the cJSON tree */
    const char **sorted;     /* (max(n, n_meta),) for duplicate checks */
} st_scratch;

static mmg_status check_duplicates(const char *path, const char **keys, size_t n, const char *what) {
    qsort(keys, n, sizeof *keys, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return mmg__error(MMG_ERR_FORMAT, "%s: %s '%s' appears twice in the header", path, what, keys[i]);
    return MMG_OK;
}

/* The tensors, sorted by offset, must cover [0, data_size) exactly. */
static mmg_status check_tiling(const char *path, const st_scratch *s, size_t n, size_t data_size) {
    uint64_t expect = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        const st_order *o = &s->order[i];
        const char *name = s->names[o->index];
        if (o->begin > expect)
            return mmg__error(MMG_ERR_FORMAT,
                              "%s: tensor '%s' starts at data byte %llu but %s%s%s ends at %llu: tensors must "
                              "tile the data buffer without holes",
                              path, name, (unsigned long long)o->begin, prev ? "tensor '" : "the buffer start",
                              prev ? prev : "", prev ? "'" : "", (unsigned long long)expect);
        if (o->begin < expect)
            return mmg__error(MMG_ERR_FORMAT,
                              "%s: tensor '%s' at data bytes [%llu, %llu) overlaps tensor '%s' which ends at %llu",
                              path, name, (unsigned long long)o->begin, (unsigned long long)o->end,
                              prev ? prev : "?", (unsigned long long)expect);
        expect = o->end;
        prev = name;
    }
    if (expect != data_size)
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: the data buffer has %zu bytes but the tensors cover only %llu (%s)", path,
                          data_size, (unsigned long long)expect,
                          n ? "trailing bytes after the last tensor" : "there are no tensors");
    return MMG_OK;
}

/* Validates the header of the file in [base, base+size) and builds the file
 * object. Takes no ownership of base: the caller sets map/owned afterwards. */
static mmg_status parse_file(const char *path, const uint8_t *base, size_t size, mmg__st_file **out) {
    if (size < 8)
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: file is %zu bytes, shorter than the 8-byte safetensors header length", path,
                          size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | base[i];
    if (n > MMG__ST_MAX_HEADER)
        return mmg__error(MMG_ERR_LIMIT, "%s: header length %llu exceeds the %u-byte limit", path,
                          (unsigned long long)n, MMG__ST_MAX_HEADER);
    if (n > size - 8)
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: header length %llu runs past the end of the file (%zu bytes follow the length)",
                          path, (unsigned long long)n, size - 8);
    const uint8_t *hdr = base + 8;
    size_t hlen = (size_t)n, data_size = size - 8 - hlen;
    if (hlen == 0 || hdr[0] != '{')
        return mmg__error(MMG_ERR_FORMAT, "%s: header does not start with '{' (not a safetensors file?)",
                          path);
    const char *what = NULL;
    size_t bad = check_header_bytes(hdr, hlen, &what);
    if (bad != hlen)
        return mmg__error(MMG_ERR_FORMAT, "%s: header has %s (0x%02x) at byte %zu; it must be UTF-8 JSON",
                          path, what, hdr[bad], bad);
    bad = find_escaped_nul((const char *)hdr, hlen);
    if (bad != hlen)
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: header has a \\u0000 escape at byte %zu; NUL is not allowed in names", path, bad);

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)hdr, hlen, &end, 0);
    if (!root) {
        size_t at = end && end >= (const char *)hdr ? (size_t)(end - (const char *)hdr) : 0;
        if (at > hlen) at = hlen;
        int show = (int)(hlen - at < 24 ? hlen - at : 24);
        return mmg__error(MMG_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu: \"%.*s\")",
                          path, at, show, (const char *)hdr + at);
    }
    mmg_status st = MMG_OK;
    void *scratch_block = NULL;
    size_t at = (size_t)(end - (const char *)hdr);
    while (at < hlen && (hdr[at] == ' ' || hdr[at] == '\t' || hdr[at] == '\n' || hdr[at] == '\r')) at++;
    if (at != hlen) {
        st = mmg__error(MMG_ERR_FORMAT, "%s: header has data after the JSON object at byte %zu", path, at);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        st = mmg__error(MMG_ERR_FORMAT, "%s: header is not a JSON object", path);
        goto done;
    }

    /* Count and measure first so that the file object is one allocation. */
    size_t n_tensors = 0, n_meta = 0, strings = strlen(path) + 1;
    const cJSON *meta = NULL;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") != 0) {
            n_tensors++;
            strings += strlen(e->string) + 1;
            continue;
        }
        if (meta) {
            st = mmg__error(MMG_ERR_FORMAT, "%s: header has two \"__metadata__\" entries", path);
            goto done;
        }
        meta = e;
        if (cJSON_IsNull(e)) continue;
        if (!cJSON_IsObject(e)) {
            st = mmg__error(MMG_ERR_FORMAT, "%s: \"__metadata__\" must be an object of strings", path);
            goto done;
        }
        for (const cJSON *kv = e->child; kv; kv = kv->next) {
            if (!cJSON_IsString(kv)) {
                st = mmg__error(MMG_ERR_FORMAT, "%s: __metadata__ value of \"%s\" is not a string", path,
                                kv->string);
                goto done;
            }
            n_meta++;
            strings += strlen(kv->string) + strlen(kv->valuestring) + 2;
        }
    }

    st_scratch s;
    size_t nn = n_tensors ? n_tensors : 1, ns = n_tensors > n_meta ? n_tensors : n_meta;
    size_t o1 = nn * sizeof(mmg__st_tensor), o2 = o1 + nn * sizeof(st_order),
           o3 = o2 + nn * sizeof(char *), o4 = o3 + (ns ? ns : 1) * sizeof(char *);
    scratch_block = mmg__malloc(o4);
    if (!scratch_block) {
        st = mmg__error(MMG_ERR_NOMEM, "%s: out of memory indexing %zu tensors", path, n_tensors);
        goto done;
    }
    s.tensors = scratch_block;
    s.order = (st_order *)((char *)scratch_block + o1);
    s.names = (const char **)((char *)scratch_block + o2);
    s.sorted = (const char **)((char *)scratch_block + o3);

    if (meta && n_meta) {
        size_t m = 0;
        for (const cJSON *kv = meta->child; kv; kv = kv->next) s.sorted[m++] = kv->string;
        if ((st = check_duplicates(path, s.sorted, n_meta, "__metadata__ key")) != MMG_OK) goto done;
    }
    size_t i = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (e == meta) continue;
        memset(&s.tensors[i], 0, sizeof s.tensors[i]);
        st = parse_entry(path, e, data_size, &s.tensors[i], &s.order[i]);
        if (st != MMG_OK) goto done;
        s.order[i].index = i;
        s.names[i] = e->string;
        s.sorted[i] = e->string;
        i++;
    }
    if ((st = check_duplicates(path, s.sorted, n_tensors, "tensor")) != MMG_OK) goto done;
    qsort(s.order, n_tensors, sizeof *s.order, cmp_order);
    if ((st = check_tiling(path, &s, n_tensors, data_size)) != MMG_OK) goto done;

    /* One block: struct | tensors | by_name | meta | strings. */
    size_t off_t = align_up(sizeof(mmg__st_file), _Alignof(mmg__st_tensor));
    size_t off_idx = align_up(off_t + n_tensors * sizeof(mmg__st_tensor), _Alignof(mmg__st_tensor *));
    size_t off_meta = align_up(off_idx + n_tensors * sizeof(mmg__st_tensor *), _Alignof(st_meta));
    size_t off_str = off_meta + n_meta * sizeof(st_meta);
    uint8_t *block = mmg__malloc(off_str + strings);
    if (!block) {
        st = mmg__error(MMG_ERR_NOMEM, "%s: out of memory for the index of %zu tensors", path, n_tensors);
        goto done;
    }
    mmg__st_file *f = (mmg__st_file *)block;
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->base = base;
    f->size = size;
    f->data_start = 8 + hlen;
    f->n_tensors = n_tensors;
    f->tensors = (mmg__st_tensor *)(block + off_t);
    f->by_name = (const mmg__st_tensor **)(block + off_idx);
    f->n_meta = n_meta;
    f->meta = (st_meta *)(block + off_meta);
    char *sp = (char *)(block + off_str);
#define COPY_STR(dst, src)             \
    do {                               \
        size_t len_ = strlen(src) + 1; \
        memcpy(sp, (src), len_);       \
        (dst) = sp;                    \
        sp += len_;                    \
    } while (0)
    COPY_STR(f->path, path);
    for (i = 0; i < n_tensors; i++) {
        mmg__st_tensor *t = &f->tensors[i];
        *t = s.tensors[s.order[i].index];
        COPY_STR(t->name, s.names[s.order[i].index]);
        t->data = base + f->data_start + s.order[i].begin;
        f->by_name[i] = t;
    }
    if (n_meta) {
        size_t m = 0;
        for (const cJSON *kv = meta->child; kv; kv = kv->next, m++) {
            COPY_STR(f->meta[m].key, kv->string);
            COPY_STR(f->meta[m].value, kv->valuestring);
        }
    }
#undef COPY_STR
    qsort(f->by_name, n_tensors, sizeof *f->by_name, cmp_by_name);
    *out = f;
done:
    mmg__free(scratch_block);
    cJSON_Delete(root);
    return st;
}

mmg_status mmg__st_open_memory(const uint8_t *buf, size_t len, mmg__st_file **out) {
    if (!out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_open_memory: out is NULL");
    if (!buf && len) return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_open_memory: buf is NULL");
    static const uint8_t empty[1] = {0};
    return parse_file("<memory>", buf ? buf : empty, len, out);
}

/* Reads everything from fd (the fallback when mmap is impossible: pipes,
 * some filesystems). Checks the header length early so /dev/zero-like inputs
 * fail fast instead of filling memory. `hint` is st_size for regular files. */
static mmg_status read_all(const char *path, int fd, size_t hint, uint8_t **out, size_t *out_len) {
    size_t cap = hint >= 8 ? hint + 1 : 4096, len = 0;
    uint8_t *buf = mmg__malloc(cap);
    if (!buf) return mmg__error(MMG_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, cap);
    int checked = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap * 2;
            uint8_t *nb = ncap > cap ? mmg__realloc(buf, ncap) : NULL;
            if (!nb) {
                mmg__free(buf);
                return mmg__error(MMG_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, ncap);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            char e[128];
            errno_text(errno, e, sizeof e);
            mmg__free(buf);
            return mmg__error(MMG_ERR_IO, "%s: read failed: %s", path, e);
        }
        if (r == 0) break;
        len += (size_t)r;
        if (!checked && len >= 9) {
            uint64_t n = 0;
            for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
            if (n > MMG__ST_MAX_HEADER || buf[8] != '{') break; /* parse_file reports it */
            checked = 1;
        }
    }
    *out = buf;
    *out_len = len;
    return MMG_OK;
}

mmg_status mmg__st_open(const char *path, mmg__st_file **out) {
    if (!path || !out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_open: path or out is NULL");
    char e[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errno_text(errno, e, sizeof e);
        return mmg__error(MMG_ERR_IO, "cannot open safetensors file '%s': %s", path, e);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        errno_text(errno, e, sizeof e);
        close(fd);
        return mmg__error(MMG_ERR_IO, "cannot stat '%s': %s", path, e);
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return mmg__error(MMG_ERR_IO, "'%s' is a directory, not a safetensors file", path);
    }
    void *map = NULL;
    uint8_t *owned = NULL;
    const uint8_t *base;
    size_t size = 0;
    if (S_ISREG(sb.st_mode) && sb.st_size >= 8 && (uint64_t)sb.st_size <= SIZE_MAX) {
        size = (size_t)sb.st_size;
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            mmg__log(MMG_LOG_DEBUG, "%s: mmap failed (%d); reading instead", path, errno);
            map = NULL;
        }
    }
    if (map) {
        base = map;
    } else {
        mmg_status st = read_all(path, fd, S_ISREG(sb.st_mode) ? (size_t)sb.st_size : 0, &owned, &size);
        if (st != MMG_OK) {
            close(fd);
            return st;
        }
        base = owned;
    }
    /* A mapped file keeps its descriptor for mmg__st_pread_f32; read data
     * is already in memory. */
    if (!map) {
        close(fd);
        fd = -1;
    }
    mmg__st_file *f = NULL;
    mmg_status st = parse_file(path, base, size, &f);
    if (st != MMG_OK) {
        if (map) munmap(map, size);
        if (fd >= 0) close(fd);
        mmg__free(owned);
        return st;
    }
    f->map = map;
    f->owned = owned;
    f->fd = fd;
    *out = f;
    return MMG_OK;
}

void mmg__st_close(mmg__st_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->size);
    if (f->fd >= 0) close(f->fd);
    mmg__free(f->owned);
    mmg__free(f);
}

size_t mmg__st_count(const mmg__st_file *f) { return f ? f->n_tensors : 0; }

const mmg__st_tensor *mmg__st_at(const mmg__st_file *f, size_t i) {
    return f && i < f->n_tensors ? &f->tensors[i] : NULL;
}

static int cmp_key_tensor(const void *key, const void *elem) {
    return strcmp((const char *)key, (*(const mmg__st_tensor *const *)elem)->name);
}

const mmg__st_tensor *mmg__st_find(const mmg__st_file *f, const char *name) {
    if (!f || !name || !f->n_tensors) return NULL;
    const mmg__st_tensor *const *hit =
        bsearch(name, f->by_name, f->n_tensors, sizeof *f->by_name, cmp_key_tensor);
    return hit ? *hit : NULL;
}

const char *mmg__st_metadata(const mmg__st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

size_t mmg__st_metadata_count(const mmg__st_file *f) { return f ? f->n_meta : 0; }

int mmg__st_metadata_at(const mmg__st_file *f, size_t i, const char **key, const char **value) {
    if (!f || i >= f->n_meta) return 0;
    if (key) *key = f->meta[i].key;
    if (value) *value = f->meta[i].value;
    return 1;
}

const char *mmg__st_path(const mmg__st_file *f) { return f ? f->path : "<null>"; }
size_t mmg__st_file_size(const mmg__st_file *f) { return f ? f->size : 0; }
size_t mmg__st_data_size(const mmg__st_file *f) { return f ? f->size - f->data_start : 0; }

/* ---- conversion ------------------------------------------------------------ */

/* Bulk loops over unaligned sources, in blocks of a fixed size so that
 * GCC's -O2 cost model vectorizes them (memcpy of 2 bytes is a plain load). */
#define CONVERT_BLOCK 16
static void convert_f16(const uint8_t *restrict p, float *restrict dst, size_t n) {
    size_t i = 0;
    for (; i + CONVERT_BLOCK <= n; i += CONVERT_BLOCK) {
        uint16_t h[CONVERT_BLOCK];
        uint32_t bits[CONVERT_BLOCK];
        memcpy(h, p + 2 * i, sizeof h);
        for (int k = 0; k < CONVERT_BLOCK; k++) bits[k] = f16_to_f32_bits(h[k]);
        memcpy(dst + i, bits, sizeof bits);
    }
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        uint32_t bits = f16_to_f32_bits(h);
        memcpy(&dst[i], &bits, 4);
    }
}

static void convert_bf16(const uint8_t *restrict p, float *restrict dst, size_t n) {
    size_t i = 0;
    for (; i + CONVERT_BLOCK <= n; i += CONVERT_BLOCK) {
        uint16_t b[CONVERT_BLOCK];
        uint32_t bits[CONVERT_BLOCK];
        memcpy(b, p + 2 * i, sizeof b);
        for (int k = 0; k < CONVERT_BLOCK; k++) bits[k] = (uint32_t)b[k] << 16;
        memcpy(dst + i, bits, sizeof bits);
    }
    for (; i < n; i++) {
        uint16_t b;
        memcpy(&b, p + 2 * i, 2);
        uint32_t bits = (uint32_t)b << 16;
        memcpy(&dst[i], &bits, 4);
    }
}

mmg_status mmg__st_read_f32(const mmg__st_tensor *t, float *dst, size_t n) {
    if (!t || (!dst && n)) return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_read_f32: NULL tensor or dst");
    if (n != t->numel)
        return mmg__error(MMG_ERR_FORMAT, "tensor '%s': expected %zu elements, found %zu", t->name, n,
                          t->numel);
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case MMG__DT_F32:
        if (n) memcpy(dst, p, n * 4);
        return MMG_OK;
    case MMG__DT_F16:
        convert_f16(p, dst, n);
        return MMG_OK;
    case MMG__DT_BF16:
        convert_bf16(p, dst, n);
        return MMG_OK;
    case MMG__DT_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d; /* IEEE round to nearest; out of range gives inf */
        }
        return MMG_OK;
    default:
        return mmg__error(MMG_ERR_FORMAT, "tensor '%s': dtype %s cannot be read as F32 (expected F32, F16, BF16 or F64)",
                          t->name, mmg__dtype_name(t->dtype));
    }
}

/* pread() all of [off, off + n) into dst; MMG_ERR_IO naming the tensor on
 * an error or a file that ends early (truncated since it was opened). */
static mmg_status pread_full(const mmg__st_file *f, const mmg__st_tensor *t, void *dst, size_t n,
                             size_t off) {
    uint8_t *p = dst;
    while (n > 0) {
        ssize_t r = pread(f->fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            char e[128];
            if (r < 0) errno_text(errno, e, sizeof e);
            else snprintf(e, sizeof e, "the file ends at byte %zu (truncated after it was opened?)", off);
            return mmg__error(MMG_ERR_IO, "%s: reading tensor '%s': %s", f->path, t->name, e);
        }
        p += r;
        off += (size_t)r;
        n -= (size_t)r;
    }
    return MMG_OK;
}

/* Source bytes converted per pread in mmg__st_pread_f32. */
#define PREAD_CHUNK ((size_t)1 << 20)

mmg_status mmg__st_pread_f32(const mmg__st_file *f, const mmg__st_tensor *t, float *dst, size_t n) {
    if (!f || !t || (!dst && n))
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_pread_f32: NULL file, tensor or dst");
    /* In-memory data, a dtype or count read_f32 refuses, nothing to read. */
    if (f->fd < 0 || n != t->numel || !mmg__dtype_is_float(t->dtype) || n == 0)
        return mmg__st_read_f32(t, dst, n);
    size_t off = (size_t)(t->data - f->base);
    if (t->dtype == MMG__DT_F32) return pread_full(f, t, dst, t->nbytes, off);
    size_t es = mmg__dtype_size(t->dtype), per = PREAD_CHUNK / es;
    size_t buf_bytes = (t->nbytes < PREAD_CHUNK ? t->nbytes : per * es);
    uint8_t *buf = mmg__malloc(buf_bytes);
    if (!buf)
        return mmg__error(MMG_ERR_NOMEM, "%s: out of memory for a %zu-byte read buffer (tensor '%s')",
                          f->path, buf_bytes, t->name);
    mmg_status st = MMG_OK;
    for (size_t done = 0; done < n && st == MMG_OK; done += per) {
        size_t k = n - done < per ? n - done : per;
        st = pread_full(f, t, buf, k * es, off + done * es);
        if (st == MMG_OK) {
            /* read_f32 converts any float dtype; point a copy of t at the chunk */
            mmg__st_tensor chunk = *t;
            chunk.data = buf;
            chunk.numel = k;
            chunk.nbytes = k * es;
            st = mmg__st_read_f32(&chunk, dst + done, k);
        }
    }
    mmg__free(buf);
    return st;
}

mmg_status mmg__st_pread_bytes(const mmg__st_file *f, const mmg__st_tensor *t, size_t offset,
                               void *dst, size_t n) {
    if (!f || !t || (!dst && n) || offset > t->nbytes || n > t->nbytes - offset)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_pread_bytes: bad arguments");
    if (n == 0) return MMG_OK;
    if (f->fd < 0) {
        memcpy(dst, t->data + offset, n);
        return MMG_OK;
    }
    return pread_full(f, t, dst, n, (size_t)(t->data - f->base) + offset);
}

mmg_status mmg__st_expect(const mmg__st_file *f, const char *name, int ndim, const int64_t *shape,
                          const mmg__st_tensor **out) {
    if (!f || !name || ndim < 0 || ndim > MMG__ST_MAX_DIMS || (!shape && ndim))
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_expect: bad arguments for '%s'", name ? name : "(null)");
    char want[256], got[256];
    format_shape(want, sizeof want, ndim, shape);
    const mmg__st_tensor *t = mmg__st_find(f, name);
    if (!t)
        return mmg__error(MMG_ERR_FORMAT, "%s: tensor '%s' %s is missing", f->path, name, want);
    if (!mmg__dtype_is_float(t->dtype))
        return mmg__error(MMG_ERR_FORMAT, "%s: tensor '%s' has dtype %s; expected F32, F16, BF16 or F64",
                          f->path, name, mmg__dtype_name(t->dtype));
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        format_shape(got, sizeof got, t->ndim, t->shape);
        return mmg__error(MMG_ERR_FORMAT, "%s: tensor '%s' has shape %s; expected %s", f->path, name, got,
                          want);
    }
    if (out) *out = t;
    return MMG_OK;
}

/* ---- writing --------------------------------------------------------------- */

typedef struct st_wtensor {
    char *name;
    mmg__dtype dtype;
    int ndim;
    int64_t shape[MMG__ST_MAX_DIMS];
    const void *data; /* borrowed until write returns */
    size_t nbytes;
    mmg__st_fill_fn fill; /* or the bytes come from fill(fill_ctx, ...) */
    const void *fill_ctx;
} st_wtensor;

typedef struct st_wmeta {
    char *key;
    char *value;
} st_wmeta;

struct mmg__st_writer {
    st_wtensor *tensors; /* (n_tensors,) in the order added */
    size_t n_tensors, cap_tensors;
    st_wmeta *meta;      /* (n_meta,) in the order first set */
    size_t n_meta, cap_meta;
    /* Open-addressing set of tensor indices + 1 (0 = empty), so that
     * duplicate names are refused in O(1) per add. */
    size_t *slots;
    size_t n_slots;      /* power of two, or 0 */
};

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* The slot holding `name`, or the empty slot where it would go. */
static size_t *find_slot(const mmg__st_writer *w, const char *name) {
    size_t mask = w->n_slots - 1, i = (size_t)hash_str(name) & mask;
    for (;;) {
        size_t *s = &w->slots[i];
        if (*s == 0 || strcmp(w->tensors[*s - 1].name, name) == 0) return s;
        i = (i + 1) & mask;
    }
}

static int valid_utf8(const char *s) {
    const char *what;
    size_t n = strlen(s);
    /* reuse the header checker, but control bytes are fine: we escape them */
    for (size_t i = 0; i < n;) {
        size_t bad = check_header_bytes((const uint8_t *)s + i, n - i, &what);
        if (bad == n - i) return 1;
        if ((uint8_t)s[i + bad] >= 0x20) return 0;
        i += bad + 1;
    }
    return 1;
}

int mmg__st_valid_utf8(const char *s) { return s && valid_utf8(s); }

mmg_status mmg__st_writer_create(mmg__st_writer **out) {
    if (!out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_writer_create: out is NULL");
    mmg__st_writer *w = mmg__calloc(1, sizeof *w);
    if (!w) return mmg__error(MMG_ERR_NOMEM, "out of memory creating a safetensors writer");
    *out = w;
    return MMG_OK;
}

void mmg__st_writer_free(mmg__st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_tensors; i++) mmg__free(w->tensors[i].name);
    for (size_t i = 0; i < w->n_meta; i++) {
        mmg__free(w->meta[i].key);
        mmg__free(w->meta[i].value);
    }
    mmg__free(w->tensors);
    mmg__free(w->meta);
    mmg__free(w->slots);
    mmg__free(w);
}

/* Grows *arr (of elem bytes each) so that one more fits. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 8, bytes;
    if (mmg__mul_size(ncap, elem, &bytes) != 0) return -1;
    void *p = mmg__realloc(*arr, bytes);
    if (!p) return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

mmg_status mmg__st_writer_metadata(mmg__st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_writer_metadata: NULL writer, key or value");
    if (!valid_utf8(key) || !valid_utf8(value))
        return mmg__error(MMG_ERR_INVALID_ARG, "safetensors metadata '%s': key and value must be UTF-8", key);
    char *v = mmg__strdup(value);
    if (!v) return mmg__error(MMG_ERR_NOMEM, "out of memory copying metadata '%s'", key);
    for (size_t i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta[i].key, key) == 0) {
            mmg__free(w->meta[i].value);
            w->meta[i].value = v;
            return MMG_OK;
        }
    char *k = mmg__strdup(key);
    if (!k || grow((void **)&w->meta, &w->cap_meta, w->n_meta, sizeof *w->meta) != 0) {
        mmg__free(k);
        mmg__free(v);
        return mmg__error(MMG_ERR_NOMEM, "out of memory adding metadata '%s'", key);
    }
    w->meta[w->n_meta].key = k;
    w->meta[w->n_meta].value = v;
    w->n_meta++;
    return MMG_OK;
}

mmg_status mmg__st_writer_add_fill(mmg__st_writer *w, const char *name, mmg__dtype dtype, int ndim,
                                   const int64_t *shape, size_t nbytes, mmg__st_fill_fn fill,
                                   const void *ctx) {
    if (!fill) return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_writer_add_fill: NULL fill");
    /* any non-NULL data passes add's check; it is never read */
    mmg_status s = mmg__st_writer_add(w, name, dtype, ndim, shape, ctx ? ctx : (const void *)w, nbytes);
    if (s) return s;
    st_wtensor *t = &w->tensors[w->n_tensors - 1];
    t->data = NULL;
    t->fill = fill;
    t->fill_ctx = ctx;
    return MMG_OK;
}

mmg_status mmg__st_writer_add(mmg__st_writer *w, const char *name, mmg__dtype dtype, int ndim,
                              const int64_t *shape, const void *data, size_t nbytes) {
    if (!w || !name) return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_writer_add: NULL writer or name");
    if (strcmp(name, "__metadata__") == 0 || !valid_utf8(name))
        return mmg__error(MMG_ERR_INVALID_ARG, "safetensors tensor name '%s' is reserved or not UTF-8", name);
    if ((unsigned)dtype >= MMG__DT_COUNT)
        return mmg__error(MMG_ERR_INVALID_ARG, "tensor '%s': unknown dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > MMG__ST_MAX_DIMS || (ndim && !shape))
        return mmg__error(MMG_ERR_INVALID_ARG, "tensor '%s': ndim %d must be in 0..%d with a shape", name,
                          ndim, MMG__ST_MAX_DIMS);
    size_t numel = 1, want = 0;
    for (int i = 0; i < ndim; i++) {
        /* the reader accepts dims up to 2^53 (exact in JSON doubles) */
        if (shape[i] < 0 || shape[i] > (int64_t)1 << 53)
            return mmg__error(MMG_ERR_INVALID_ARG, "tensor '%s': shape[%d] = %lld is out of range", name, i,
                              (long long)shape[i]);
        if (mmg__mul_size(numel, (size_t)shape[i], &numel) != 0)
            return mmg__error(MMG_ERR_INVALID_ARG, "tensor '%s': shape has too many elements", name);
    }
    if (mmg__mul_size(numel, mmg__dtype_size(dtype), &want) != 0 || want != nbytes)
        return mmg__error(MMG_ERR_INVALID_ARG, "tensor '%s': nbytes is %zu but %zu %s elements need %zu", name,
                          nbytes, numel, mmg__dtype_name(dtype), want);
    if (nbytes && !data) return mmg__error(MMG_ERR_INVALID_ARG, "tensor '%s': data is NULL", name);

    /* keep the set at most half full */
    if ((w->n_tensors + 1) * 2 > w->n_slots) {
        size_t nslots = w->n_slots ? w->n_slots * 2 : 16;
        size_t *slots = mmg__calloc(nslots, sizeof *slots);
        if (!slots) return mmg__error(MMG_ERR_NOMEM, "out of memory adding tensor '%s'", name);
        mmg__free(w->slots);
        w->slots = slots;
        w->n_slots = nslots;
        for (size_t i = 0; i < w->n_tensors; i++) *find_slot(w, w->tensors[i].name) = i + 1;
    }
    size_t *slot = find_slot(w, name);
    if (*slot) return mmg__error(MMG_ERR_INVALID_ARG, "tensor '%s' was added twice", name);
    char *copy = mmg__strdup(name);
    if (!copy || grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors) != 0) {
        mmg__free(copy);
        return mmg__error(MMG_ERR_NOMEM, "out of memory adding tensor '%s'", name);
    }
    st_wtensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = copy;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = data;
    t->nbytes = nbytes;
    *slot = ++w->n_tensors;
    return MMG_OK;
}

/* A growable byte buffer for the header; `failed` latches out-of-memory. */
typedef struct st_buf {
    char *p;
    size_t len, cap;
    int failed;
} st_buf;

static void buf_put(st_buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->cap - b->len < n) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap - b->len < n) {
            if (ncap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            ncap *= 2;
        }
        char *np = mmg__realloc(b->p, ncap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_str(st_buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* A JSON string literal. */
static void buf_json_string(st_buf *b, const char *s) {
    buf_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        uint8_t c = (uint8_t)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_put(b, run, (size_t)(s - run));
        char esc[8];
        if (c == '"' || c == '\\') snprintf(esc, sizeof esc, "\\%c", c);
        else snprintf(esc, sizeof esc, "\\u%04x", c);
        buf_str(b, esc);
        run = s + 1;
    }
    buf_put(b, run, (size_t)(s - run));
    buf_put(b, "\"", 1);
}

/* Builds the 8-byte length + padded JSON header into *hdr; *data_len gets
 * the size of the data buffer. */
static mmg_status build_header(const mmg__st_writer *w, st_buf *b, size_t *data_len) {
    char num[64];
    buf_put(b, "\0\0\0\0\0\0\0\0", 8);
    buf_put(b, "{", 1);
    if (w->n_meta) {
        buf_str(b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->n_meta; i++) {
            if (i) buf_put(b, ",", 1);
            buf_json_string(b, w->meta[i].key);
            buf_put(b, ":", 1);
            buf_json_string(b, w->meta[i].value);
        }
        buf_put(b, "}", 1);
    }
    size_t off = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const st_wtensor *t = &w->tensors[i];
        if (i || w->n_meta) buf_put(b, ",", 1);
        buf_json_string(b, t->name);
        buf_str(b, ":{\"dtype\":\"");
        buf_str(b, mmg__dtype_name(t->dtype));
        buf_str(b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t->shape[d]);
            buf_str(b, num);
        }
        if (off > SIZE_MAX - t->nbytes)
            return mmg__error(MMG_ERR_LIMIT, "safetensors data larger than the address space");
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
        buf_str(b, num);
        off += t->nbytes;
    }
    buf_put(b, "}", 1);
    /* pad with spaces so the data starts 8-byte aligned, as the reference writer does */
    while (!b->failed && b->len % 8) buf_put(b, " ", 1);
    if (b->failed) return mmg__error(MMG_ERR_NOMEM, "out of memory building a safetensors header");
    uint64_t n = b->len - 8;
    if (n > MMG__ST_MAX_HEADER)
        return mmg__error(MMG_ERR_LIMIT, "safetensors header would be %llu bytes, over the %u-byte limit",
                          (unsigned long long)n, MMG__ST_MAX_HEADER);
    for (int i = 0; i < 8; i++) b->p[i] = (char)(uint8_t)(n >> (8 * i));
    if (off > SIZE_MAX - b->len)
        return mmg__error(MMG_ERR_LIMIT, "safetensors file larger than the address space");
    *data_len = off;
    return MMG_OK;
}

mmg_status mmg__st_writer_to_memory(mmg__st_writer *w, uint8_t **out, size_t *out_len) {
    if (!w || !out || !out_len)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_writer_to_memory: NULL argument");
    st_buf b = {0};
    size_t data_len = 0;
    mmg_status st = build_header(w, &b, &data_len);
    if (st != MMG_OK) {
        mmg__free(b.p);
        return st;
    }
    uint8_t *mem = mmg__malloc(b.len + data_len);
    if (!mem) {
        mmg__free(b.p);
        return mmg__error(MMG_ERR_NOMEM, "out of memory for a %zu-byte safetensors buffer", b.len + data_len);
    }
    memcpy(mem, b.p, b.len);
    size_t at = b.len;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const st_wtensor *t = &w->tensors[i];
        if (t->fill && t->nbytes) t->fill(t->fill_ctx, 0, mem + at, t->nbytes);
        else if (t->nbytes) memcpy(mem + at, t->data, t->nbytes);
        at += t->nbytes;
    }
    *out_len = b.len + data_len;
    *out = mem;
    mmg__free(b.p);
    return MMG_OK;
}

/* Makes the rename durable. `buf` (at least strlen(path) + 2 bytes) is
 * scratch space, so that nothing can fail for lack of memory once the new
 * file is in place. EINVAL means the filesystem cannot sync directories,
 * which is not an error for us. */
static mmg_status sync_parent_dir(const char *path, char *buf) {
    const char *slash = strrchr(path, '/');
    if (!slash) strcpy(buf, ".");
    else if (slash == path) strcpy(buf, "/");
    else {
        memcpy(buf, path, (size_t)(slash - path));
        buf[slash - path] = '\0';
    }
    mmg_status st = MMG_OK;
    int fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL)) {
        char e[128];
        errno_text(errno, e, sizeof e);
        st = mmg__error(MMG_ERR_IO, "%s: written, but syncing directory '%s' failed: %s", path, buf, e);
    }
    if (fd >= 0) close(fd);
    return st;
}

/* Bytes of a generated tensor (mmg__st_writer_add_fill) written per fill call. */
#define FILL_CHUNK ((size_t)1 << 20)

mmg_status mmg__st_writer_write(mmg__st_writer *w, const char *path) {
    if (!w || !path) return mmg__error(MMG_ERR_INVALID_ARG, "mmg__st_writer_write: NULL writer or path");
    st_buf b = {0};
    size_t data_len = 0;
    mmg_status st = build_header(w, &b, &data_len);
    if (st != MMG_OK) {
        mmg__free(b.p);
        return mmg__error_prefix("%s", path);
    }
    size_t tlen = strlen(path) + 32;
    char *tmp = mmg__malloc(tlen);
    if (!tmp) {
        mmg__free(b.p);
        return mmg__error(MMG_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, tlen, "%s.tmp-%ld", path, (long)getpid());
    uint8_t *fill_buf = NULL;
    char e[128];
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        errno_text(errno, e, sizeof e);
        st = mmg__error(MMG_ERR_IO, "%s: cannot create temporary file '%s': %s", path, tmp, e);
        goto out;
    }
    int ok = fwrite(b.p, 1, b.len, fp) == b.len;
    for (size_t i = 0; ok && i < w->n_tensors; i++) {
        const st_wtensor *t = &w->tensors[i];
        if (!t->fill) {
            if (t->nbytes) ok = fwrite(t->data, 1, t->nbytes, fp) == t->nbytes;
            continue;
        }
        /* generated tensors go through one buffer, a chunk at a time */
        for (size_t done = 0; ok && done < t->nbytes; done += FILL_CHUNK) {
            size_t n = t->nbytes - done < FILL_CHUNK ? t->nbytes - done : FILL_CHUNK;
            if (!fill_buf && !(fill_buf = mmg__malloc(FILL_CHUNK))) {
                fclose(fp);
                unlink(tmp);
                st = mmg__error(MMG_ERR_NOMEM, "%s: out of memory for a %zu-byte write buffer",
                                path, (size_t)FILL_CHUNK);
                goto out;
            }
            t->fill(t->fill_ctx, done, fill_buf, n);
            ok = fwrite(fill_buf, 1, n, fp) == n;
        }
    }
    if (ok) ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int err = errno;
    if (fclose(fp) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        errno_text(err, e, sizeof e);
        st = mmg__error(MMG_ERR_IO, "%s: writing %zu bytes to '%s' failed: %s", path, b.len + data_len, tmp, e);
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        errno_text(errno, e, sizeof e);
        st = mmg__error(MMG_ERR_IO, "%s: cannot rename '%s' over it: %s", path, tmp, e);
        unlink(tmp);
        goto out;
    }
    st = sync_parent_dir(path, tmp);
out:
    mmg__free(fill_buf);
    mmg__free(tmp);
    mmg__free(b.p);
    return st;
}
