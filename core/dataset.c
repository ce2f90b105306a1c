/* core/dataset.c - token files and the loaders that cut them into batches.
 *
 * Two loaders share one object:
 *  - packed (decoder-only): rows are windows of seq_len+1 consecutive tokens,
 *    at random offsets (nanoGPT's get_batch) or one after another;
 *  - pairs (encoder-decoder): sequence i of a source file with sequence i of a
 *    target file, both split at a separator token; rows are padded to the
 *    longest in the batch and the padding is masked (lengths) and ignored
 *    (labels = ignore_index).
 * Only the windows a batch needs are read, so token files may be larger than
 * memory. Everything random comes from the loader's seeded xoshiro256** RNG,
 * whose state a checkpoint saves. */
#include "dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "memory.h"
#include "options.h"

/* ---- datasets ----------------------------------------------------------------- */

static void dataset_release(mmg_dataset *ds) {
    if (!ds) return;
    if (ds->mapped && ds->data) munmap((void *)ds->data, ds->data_len);
    else if (!ds->mapped) mmg__free((void *)ds->data);
    if (ds->fd >= 0) close(ds->fd);
    mmg__free(ds->path);
    mmg__free(ds);
}

mmg_status mmg_dataset_open(const char *path, int32_t token_bytes, mmg_dataset **out) {
    return mmg__dataset_open_ex(path, token_bytes, 1, out);
}

mmg_status mmg__dataset_open_ex(const char *path, int32_t token_bytes, int use_mmap,
                                mmg_dataset **out) {
    if (!path || !out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_dataset_open: NULL path or out");
    if (token_bytes != 2 && token_bytes != 4)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_dataset_open: token_bytes is %d; expected 2 (uint16) or 4 (uint32)",
                          (int)token_bytes);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mmg__error(MMG_ERR_IO, "%s: cannot open token file: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return mmg__error(MMG_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    if (len == 0 || len % (size_t)token_bytes != 0) {
        close(fd);
        return mmg__error(MMG_ERR_FORMAT,
                          "%s: %zu bytes is not a positive multiple of %d bytes per token", path, len,
                          (int)token_bytes);
    }
    mmg_dataset *ds = mmg__calloc(1, sizeof *ds);
    char *p = mmg__strdup(path);
    if (!ds || !p) {
        mmg__free(ds);
        mmg__free(p);
        close(fd);
        return mmg__error(MMG_ERR_NOMEM, "%s: out of memory opening the token file", path);
    }
    ds->path = p;
    ds->fd = fd;
    ds->token_bytes = token_bytes;
    ds->n_tokens = len / (size_t)token_bytes;
    ds->data_len = len;
    void *map = use_mmap ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (map != MAP_FAILED) {
        ds->data = map;
        ds->mapped = 1;
        close(fd);
        ds->fd = -1;
    } /* else: keep the descriptor and pread the windows batches need */
    *out = ds;
    return MMG_OK;
}

mmg_status mmg_dataset_from_tokens(const int32_t *tokens, size_t n, mmg_dataset **out) {
    if (!tokens || !out || n == 0)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_dataset_from_tokens: NULL tokens/out or n == 0");
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0)
            return mmg__error(MMG_ERR_INVALID_ARG,
                              "mmg_dataset_from_tokens: token %zu is %d; ids must be >= 0", i,
                              (int)tokens[i]);
    size_t bytes;
    if (mmg__mul_size(n, sizeof(uint32_t), &bytes))
        return mmg__error(MMG_ERR_LIMIT, "mmg_dataset_from_tokens: %zu tokens overflow", n);
    mmg_dataset *ds = mmg__calloc(1, sizeof *ds);
    uint32_t *copy = mmg__malloc(bytes);
    char *p = mmg__strdup("<memory>");
    if (!ds || !copy || !p) {
        mmg__free(ds);
        mmg__free(copy);
        mmg__free(p);
        return mmg__error(MMG_ERR_NOMEM, "mmg_dataset_from_tokens: cannot copy %zu tokens", n);
    }
    for (size_t i = 0; i < n; i++) copy[i] = (uint32_t)tokens[i];
    ds->path = p;
    ds->fd = -1;
    ds->data = (const uint8_t *)copy;
    ds->data_len = bytes;
    ds->token_bytes = 4;
    ds->n_tokens = n;
    *out = ds;
    return MMG_OK;
}

uint64_t mmg_dataset_n_tokens(const mmg_dataset *ds) { return ds ? ds->n_tokens : 0; }

void mmg_dataset_free(mmg_dataset *ds) { dataset_release(ds); }

/* Converts raw little-endian tokens to int32, checking the range. */
static mmg_status convert(const mmg_dataset *ds, const uint8_t *raw, uint64_t start, size_t n,
                          int32_t *dst, int32_t vocab) {
    for (size_t i = 0; i < n; i++) {
        uint32_t t;
        if (ds->token_bytes == 2) {
            uint16_t u;
            memcpy(&u, raw + i * 2, 2);
            t = u;
        } else {
            memcpy(&t, raw + i * 4, 4);
        }
        if (t > (uint32_t)INT32_MAX || (vocab > 0 && t >= (uint32_t)vocab))
            return mmg__error(MMG_ERR_RANGE,
                              "%s: token %llu (at token offset %llu) is outside the vocabulary "
                              "[0, %d)",
                              ds->path, (unsigned long long)t, (unsigned long long)(start + i),
                              vocab > 0 ? (int)vocab : INT32_MAX);
        dst[i] = (int32_t)t;
    }
    return MMG_OK;
}

mmg_status mmg__dataset_read(const mmg_dataset *ds, uint64_t start, size_t n, int32_t *dst,
                             int32_t vocab) {
    if (start > ds->n_tokens || n > ds->n_tokens - start)
        return mmg__error(MMG_ERR_RANGE, "%s: tokens [%llu, +%zu) lie beyond its %llu tokens",
                          ds->path, (unsigned long long)start, n, (unsigned long long)ds->n_tokens);
    const size_t tb = (size_t)ds->token_bytes;
    if (ds->data) return convert(ds, ds->data + start * tb, start, n, dst, vocab);
    /* pread in chunks through a stack buffer */
    uint8_t buf[16384];
    size_t done = 0;
    while (done < n) {
        size_t k = n - done;
        if (k > sizeof buf / tb) k = sizeof buf / tb;
        size_t want = k * tb, got = 0;
        off_t off = (off_t)((start + done) * tb);
        while (got < want) {
            ssize_t r = pread(ds->fd, buf + got, want - got, off + (off_t)got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0)
                return mmg__error(MMG_ERR_IO, "%s: read failed at byte %lld: %s", ds->path,
                                  (long long)(off + (off_t)got), r < 0 ? strerror(errno) : "end of file");
            got += (size_t)r;
        }
        mmg_status s = convert(ds, buf, start + done, k, dst + done, vocab);
        if (s) return s;
        done += k;
    }
    return MMG_OK;
}

/* ---- loaders ------------------------------------------------------------------ */

struct mmg_loader {
    int kind;                  /* MMG__LOADER_* */
    mmg_loader_options o;      /* full size */
    const mmg_dataset *ds;     /* packed */
    const mmg_dataset *src, *tgt; /* pairs */
    uint64_t n_items;          /* tokens (packed) or pairs */
    uint64_t *src_start;       /* (n_pairs + 1) start of each source sequence; [n] = end marker */
    uint64_t *tgt_start;       /* (n_pairs + 1) */
    uint64_t *order;           /* (n_pairs) this epoch's order */
    uint64_t position, epoch;
    mmg__rng rng;
    int ended;                 /* sequential: the last call returned the end-of-epoch NULL */
    /* the batch handed out and its arrays */
    mmg_batch batch;
    int32_t *src_buf;          /* (B, max_src_len) */
    int32_t *src_len;          /* (B) */
    int32_t *tgt_buf;          /* (B, seq_len) */
    int32_t *tgt_len;          /* (B) */
    int32_t *lab_buf;          /* (B, seq_len) */
    int32_t *row;              /* (max(seq_len, max_src_len) + 2) one sequence */
};

static void loader_defaults(mmg_loader_options *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->batch_size = 8;
    o->seq_len = 256;
    o->max_src_len = 256;
    o->shuffle = 1;
    o->seed = 0;
    o->separator = 0;
    o->bos_id = -1;
    o->eos_id = -1;
    o->pad_id = 0;
    o->ignore_index = -100;
    o->vocab_size = 0;
}

void mmg_loader_options_init(mmg_loader_options *opts, size_t struct_size) {
    mmg_loader_options d;
    loader_defaults(&d);
    mmg__init_options(opts, struct_size, &d, sizeof d);
}

static mmg_status check_options(const mmg_loader_options *o, int pairs) {
    if (o->batch_size < 1)
        return mmg__error(MMG_ERR_INVALID_ARG, "loader: batch_size is %d; expected >= 1",
                          (int)o->batch_size);
    if (o->seq_len < 1)
        return mmg__error(MMG_ERR_INVALID_ARG, "loader: seq_len is %d; expected >= 1", (int)o->seq_len);
    if (o->shuffle != 0 && o->shuffle != 1)
        return mmg__error(MMG_ERR_INVALID_ARG, "loader: shuffle is %d; expected 0 or 1", (int)o->shuffle);
    if (o->vocab_size < 0)
        return mmg__error(MMG_ERR_INVALID_ARG, "loader: vocab_size is %d; expected >= 0",
                          (int)o->vocab_size);
    if (pairs) {
        if (o->max_src_len < 1)
            return mmg__error(MMG_ERR_INVALID_ARG, "loader: max_src_len is %d; expected >= 1",
                              (int)o->max_src_len);
        struct { const char *name; int32_t v; int optional; } ids[] = {
            {"separator", o->separator, 0}, {"bos_id", o->bos_id, 1}, {"eos_id", o->eos_id, 1},
            {"pad_id", o->pad_id, 0}};
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            if (ids[i].optional && ids[i].v == -1) continue;
            if (ids[i].v < 0 || (o->vocab_size > 0 && ids[i].v >= o->vocab_size))
                return mmg__error(MMG_ERR_INVALID_ARG, "loader: %s is %d; expected a token id in [0, %d)%s",
                                  ids[i].name, (int)ids[i].v,
                                  o->vocab_size > 0 ? (int)o->vocab_size : INT32_MAX,
                                  ids[i].optional ? " or -1 for none" : "");
        }
    }
    /* rows are indexed with int: keep the batch arrays comfortably in range */
    if ((int64_t)o->batch_size * ((int64_t)o->seq_len + 1) > INT32_MAX ||
        (pairs && (int64_t)o->batch_size * ((int64_t)o->max_src_len + 1) > INT32_MAX))
        return mmg__error(MMG_ERR_LIMIT, "loader: batch_size %d x length is too large",
                          (int)o->batch_size);
    return MMG_OK;
}

static mmg_status loader_alloc(mmg_loader *l, int pairs) {
    const size_t B = (size_t)l->o.batch_size, T = (size_t)l->o.seq_len;
    const size_t S = pairs ? (size_t)l->o.max_src_len : 0;
    const size_t R = (T > S ? T : S) + 2;
    l->src_buf = pairs ? mmg__malloc(B * S * sizeof(int32_t)) : NULL;
    l->src_len = pairs ? mmg__malloc(B * sizeof(int32_t)) : NULL;
    l->tgt_buf = mmg__malloc(B * T * sizeof(int32_t));
    l->tgt_len = mmg__malloc(B * sizeof(int32_t));
    l->lab_buf = mmg__malloc(B * T * sizeof(int32_t));
    l->row = mmg__malloc(R * sizeof(int32_t));
    if ((pairs && (!l->src_buf || !l->src_len)) || !l->tgt_buf || !l->tgt_len || !l->lab_buf ||
        !l->row)
        return mmg__error(MMG_ERR_NOMEM, "loader: cannot allocate batch buffers for %zu x %zu tokens",
                          B, T);
    return MMG_OK;
}

void mmg_loader_free(mmg_loader *l) {
    if (!l) return;
    mmg__free(l->src_start);
    mmg__free(l->tgt_start);
    mmg__free(l->order);
    mmg__free(l->src_buf);
    mmg__free(l->src_len);
    mmg__free(l->tgt_buf);
    mmg__free(l->tgt_len);
    mmg__free(l->lab_buf);
    mmg__free(l->row);
    mmg__free(l);
}

/* Pairs: this epoch's order, a Fisher-Yates shuffle from a stream numbered by
 * the epoch (or file order without shuffling). */
static void make_order(mmg_loader *l) {
    for (uint64_t i = 0; i < l->n_items; i++) l->order[i] = i;
    if (!l->o.shuffle) return;
    mmg__rng r;
    mmg__rng_seed_stream(&r, l->o.seed, l->epoch);
    for (uint64_t i = l->n_items; i > 1; i--) {
        uint64_t j = mmg__rng_next(&r) % i;
        uint64_t t = l->order[i - 1];
        l->order[i - 1] = l->order[j];
        l->order[j] = t;
    }
}

void mmg_loader_reset(mmg_loader *l) {
    if (!l) return;
    l->position = 0;
    l->epoch = 0;
    l->ended = 0;
    mmg__rng_seed(&l->rng, l->o.seed);
    if (l->kind == MMG__LOADER_PAIRS) make_order(l);
}

mmg_status mmg_loader_create_packed(const mmg_dataset *ds, const mmg_loader_options *opts,
                                    mmg_loader **out) {
    if (!ds || !out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_loader_create_packed: NULL dataset or out");
    mmg_loader_options o;
    loader_defaults(&o);
    mmg_status s = mmg__read_options(&o, sizeof o, opts, "mmg_loader_options");
    if (!s) s = check_options(&o, 0);
    if (s) return s;
    if (ds->n_tokens < (uint64_t)o.seq_len + 1)
        return mmg__error(MMG_ERR_RANGE,
                          "loader: %s holds %llu tokens, fewer than one window of seq_len + 1 = %d",
                          ds->path, (unsigned long long)ds->n_tokens, (int)o.seq_len + 1);
    mmg_loader *l = mmg__calloc(1, sizeof *l);
    if (!l) return mmg__error(MMG_ERR_NOMEM, "loader: out of memory");
    l->kind = MMG__LOADER_PACKED;
    l->o = o;
    l->ds = ds;
    l->n_items = ds->n_tokens;
    s = loader_alloc(l, 0);
    if (s) {
        mmg_loader_free(l);
        return s;
    }
    mmg_loader_reset(l);
    *out = l;
    return MMG_OK;
}

/* Records where each separator-terminated sequence starts: starts (n+1),
 * starts[n] = one past the last separator (or the end). */
static mmg_status index_sequences(const mmg_dataset *ds, int32_t sep, uint64_t **out_starts,
                                  uint64_t *out_n) {
    uint64_t cap = 1024, n = 0;
    uint64_t *starts = mmg__malloc(cap * sizeof *starts);
    if (!starts) return mmg__error(MMG_ERR_NOMEM, "%s: out of memory indexing sequences", ds->path);
    starts[0] = 0;
    int32_t chunk[4096];
    for (uint64_t pos = 0; pos < ds->n_tokens;) {
        size_t k = ds->n_tokens - pos < 4096 ? (size_t)(ds->n_tokens - pos) : 4096;
        mmg_status s = mmg__dataset_read(ds, pos, k, chunk, 0);
        if (s) {
            mmg__free(starts);
            return s;
        }
        for (size_t i = 0; i < k; i++) {
            int last = pos + i + 1 == ds->n_tokens;
            if (chunk[i] != sep && !last) continue;
            /* a sequence ends here: at a separator, or at the end of the file */
            if (n + 2 > cap) {
                uint64_t *g = mmg__realloc(starts, 2 * cap * sizeof *starts);
                if (!g) {
                    mmg__free(starts);
                    return mmg__error(MMG_ERR_NOMEM, "%s: out of memory indexing sequences", ds->path);
                }
                starts = g;
                cap *= 2;
            }
            /* an unterminated last sequence gets a virtual separator after the end */
            starts[++n] = pos + i + 1 + (chunk[i] != sep ? 1 : 0);
        }
        pos += k;
    }
    *out_starts = starts;
    *out_n = n;
    return MMG_OK;
}

mmg_status mmg_loader_create_pairs(const mmg_dataset *src, const mmg_dataset *tgt,
                                   const mmg_loader_options *opts, mmg_loader **out) {
    if (!src || !tgt || !out)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_loader_create_pairs: NULL dataset or out");
    mmg_loader_options o;
    loader_defaults(&o);
    mmg_status s = mmg__read_options(&o, sizeof o, opts, "mmg_loader_options");
    if (!s) s = check_options(&o, 1);
    if (s) return s;
    mmg_loader *l = mmg__calloc(1, sizeof *l);
    if (!l) return mmg__error(MMG_ERR_NOMEM, "loader: out of memory");
    l->kind = MMG__LOADER_PAIRS;
    l->o = o;
    l->src = src;
    l->tgt = tgt;
    uint64_t ns = 0, nt = 0;
    s = index_sequences(src, o.separator, &l->src_start, &ns);
    if (!s) s = index_sequences(tgt, o.separator, &l->tgt_start, &nt);
    if (!s && ns != nt)
        s = mmg__error(MMG_ERR_FORMAT, "loader: %s holds %llu sequences but %s holds %llu; "
                       "sources and targets must pair one to one (separator %d)",
                       src->path, (unsigned long long)ns, tgt->path, (unsigned long long)nt,
                       (int)o.separator);
    if (!s && ns == 0)
        s = mmg__error(MMG_ERR_FORMAT, "loader: %s holds no sequences", src->path);
    const int extra = (o.bos_id >= 0) + (o.eos_id >= 0);
    for (uint64_t i = 0; !s && i < ns; i++) {
        uint64_t ls = l->src_start[i + 1] - l->src_start[i] - 1;
        uint64_t lt = l->tgt_start[i + 1] - l->tgt_start[i] - 1;
        if (ls == 0)
            s = mmg__error(MMG_ERR_FORMAT, "loader: source sequence %llu in %s is empty",
                           (unsigned long long)i, src->path);
        else if (lt + (uint64_t)extra < 2)
            s = mmg__error(MMG_ERR_FORMAT,
                           "loader: target sequence %llu in %s has %llu tokens; with bos/eos it "
                           "needs at least 2 to give one input and one label",
                           (unsigned long long)i, tgt->path, (unsigned long long)lt);
    }
    if (!s) {
        l->n_items = ns;
        l->order = mmg__malloc(ns * sizeof *l->order);
        if (!l->order) s = mmg__error(MMG_ERR_NOMEM, "loader: out of memory for %llu pairs",
                                      (unsigned long long)ns);
    }
    if (!s) s = loader_alloc(l, 1);
    if (s) {
        mmg_loader_free(l);
        return s;
    }
    mmg_loader_reset(l);
    *out = l;
    return MMG_OK;
}

/* Packed: one row from window start `off`, `len` input tokens (len + 1 read,
 * or len when the window is cut by the end of the data). */
static mmg_status packed_row(mmg_loader *l, int r, uint64_t off, int len) {
    const int T = l->o.seq_len;
    const uint64_t avail = l->ds->n_tokens - off;
    int n_read = (uint64_t)len + 1 <= avail ? len + 1 : (int)avail;
    mmg_status s = mmg__dataset_read(l->ds, off, (size_t)n_read, l->row, l->o.vocab_size);
    if (s) return s;
    int32_t *in = l->tgt_buf + (size_t)r * T, *lab = l->lab_buf + (size_t)r * T;
    int n_in = n_read - 1; /* inputs with a label */
    for (int t = 0; t < T; t++) {
        in[t] = t < n_in ? l->row[t] : l->row[0];
        lab[t] = t < n_in ? l->row[t + 1] : l->o.ignore_index;
    }
    l->tgt_len[r] = n_in;
    return MMG_OK;
}

static mmg_status next_packed(mmg_loader *l, int *rows) {
    const int B = l->o.batch_size, T = l->o.seq_len;
    const uint64_t n = l->n_items;
    int r = 0;
    if (l->o.shuffle) {
        for (; r < B; r++) {
            uint64_t off = mmg__rng_next(&l->rng) % (n - (uint64_t)T); /* window fits: off+T+1 <= n */
            mmg_status s = packed_row(l, r, off, T);
            if (s) return s;
        }
    } else {
        /* consecutive windows; the last may be short (padded) */
        for (; r < B && l->position + 1 < n; r++) {
            mmg_status s = packed_row(l, r, l->position, T);
            if (s) return s;
            l->position += (uint64_t)l->tgt_len[r];
        }
    }
    *rows = r;
    return MMG_OK;
}

static mmg_status next_pairs(mmg_loader *l, int *rows, int *ts_max, int *tt_max) {
    const int B = l->o.batch_size, T = l->o.seq_len, S = l->o.max_src_len;
    const int32_t vocab = l->o.vocab_size;
    int r = 0, ts = 1, tt = 1;
    for (; r < B; r++) {
        if (l->position >= l->n_items) {
            if (!l->o.shuffle) break; /* end of the epoch */
            l->epoch++;
            l->position = 0;
            make_order(l);
        }
        uint64_t i = l->order[l->position++];
        /* source, cut to S */
        uint64_t s0 = l->src_start[i], ls = l->src_start[i + 1] - s0 - 1;
        int n_src = ls > (uint64_t)S ? S : (int)ls;
        int32_t *srow = l->src_buf + (size_t)r * S;
        mmg_status s = mmg__dataset_read(l->src, s0, (size_t)n_src, srow, vocab);
        if (s) return s;
        l->src_len[r] = n_src;
        if (n_src > ts) ts = n_src;
        /* target row [bos] + tgt + [eos], cut to T + 1 tokens */
        uint64_t t0 = l->tgt_start[i], lt = l->tgt_start[i + 1] - t0 - 1;
        int k = 0;
        if (l->o.bos_id >= 0) l->row[k++] = l->o.bos_id;
        int room = T + 1 - k;
        int n_tgt = lt > (uint64_t)room ? room : (int)lt;
        s = mmg__dataset_read(l->tgt, t0, (size_t)n_tgt, l->row + k, vocab);
        if (s) return s;
        k += n_tgt;
        if (l->o.eos_id >= 0 && k < T + 1) l->row[k++] = l->o.eos_id;
        int n_in = k - 1;
        int32_t *in = l->tgt_buf + (size_t)r * T, *lab = l->lab_buf + (size_t)r * T;
        for (int t = 0; t < n_in; t++) {
            in[t] = l->row[t];
            lab[t] = l->row[t + 1];
        }
        l->tgt_len[r] = n_in;
        if (n_in > tt) tt = n_in;
    }
    *rows = r;
    *ts_max = ts;
    *tt_max = tt;
    return MMG_OK;
}

mmg_status mmg_loader_next(mmg_loader *l, const mmg_batch **out) {
    if (!l || !out) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_loader_next: NULL loader or out");
    if (l->ended) { /* the NULL that ended the last epoch was returned: start over */
        l->ended = 0;
        l->position = 0;
        l->epoch++;
    }
    int rows = 0, ts = 0, tt = l->o.seq_len;
    mmg_status s;
    if (l->kind == MMG__LOADER_PACKED) s = next_packed(l, &rows);
    else s = next_pairs(l, &rows, &ts, &tt);
    if (s) return s;
    if (rows == 0) {
        l->ended = 1;
        *out = NULL;
        return MMG_OK;
    }
    /* pack the rows to the batch's widths (packed loaders already use seq_len) */
    mmg_batch *b = &l->batch;
    memset(b, 0, sizeof *b);
    b->struct_size = sizeof *b;
    b->batch_size = rows;
    int all_full = 1;
    for (int r = 0; r < rows; r++) all_full &= l->tgt_len[r] == l->o.seq_len;
    if (l->kind == MMG__LOADER_PAIRS) {
        const int T = l->o.seq_len, S = l->o.max_src_len;
        for (int r = 0; r < rows; r++) { /* compact in place: rows only shrink */
            int32_t *sd = l->src_buf + (size_t)r * ts, *ss = l->src_buf + (size_t)r * S;
            memmove(sd, ss, sizeof(int32_t) * (size_t)l->src_len[r]);
            for (int t = l->src_len[r]; t < ts; t++) sd[t] = l->o.pad_id;
            int32_t *td = l->tgt_buf + (size_t)r * tt, *tsrc = l->tgt_buf + (size_t)r * T;
            int32_t *ld = l->lab_buf + (size_t)r * tt, *lsrc = l->lab_buf + (size_t)r * T;
            memmove(td, tsrc, sizeof(int32_t) * (size_t)l->tgt_len[r]);
            memmove(ld, lsrc, sizeof(int32_t) * (size_t)l->tgt_len[r]);
            for (int t = l->tgt_len[r]; t < tt; t++) {
                td[t] = l->o.pad_id;
                ld[t] = l->o.ignore_index;
            }
        }
        b->src_len_max = ts;
        b->src = l->src_buf;
        b->src_len = l->src_len;
        all_full = 0;
    }
    b->tgt_len_max = tt;
    b->tgt = l->tgt_buf;
    b->tgt_len = all_full ? NULL : l->tgt_len;
    b->labels = l->lab_buf;
    *out = b;
    return MMG_OK;
}

void mmg__loader_get_state(const mmg_loader *l, uint64_t out[MMG__LOADER_STATE_LEN]) {
    out[0] = (uint64_t)l->kind;
    out[1] = (uint64_t)l->o.shuffle;
    out[2] = (uint64_t)l->o.batch_size;
    out[3] = (uint64_t)l->o.seq_len;
    out[4] = l->n_items;
    /* a pending end-of-epoch is folded in: the next batch starts the next epoch */
    out[5] = l->ended ? 0 : l->position;
    out[6] = l->ended ? l->epoch + 1 : l->epoch;
    for (int i = 0; i < 4; i++) out[7 + i] = l->rng.s[i];
}

mmg_status mmg__loader_set_state(mmg_loader *l, const uint64_t in[MMG__LOADER_STATE_LEN]) {
    static const char *what[5] = {"kind (packed/pairs)", "shuffle", "batch_size", "seq_len",
                                  "number of tokens or pairs in the data"};
    uint64_t mine[MMG__LOADER_STATE_LEN];
    mmg__loader_get_state(l, mine);
    for (int i = 0; i < 5; i++)
        if (in[i] != mine[i])
            return mmg__error(MMG_ERR_CONFIG,
                              "loader state: the checkpoint's %s is %llu but this loader's is %llu",
                              what[i], (unsigned long long)in[i], (unsigned long long)mine[i]);
    if (in[5] > l->n_items)
        return mmg__error(MMG_ERR_FORMAT, "loader state: position %llu is beyond %llu items",
                          (unsigned long long)in[5], (unsigned long long)l->n_items);
    if ((in[7] | in[8] | in[9] | in[10]) == 0)
        return mmg__error(MMG_ERR_FORMAT, "loader state: the RNG state is all zero");
    l->position = in[5];
    l->epoch = in[6];
    l->ended = 0;
    for (int i = 0; i < 4; i++) l->rng.s[i] = in[7 + i];
    if (l->kind == MMG__LOADER_PAIRS) make_order(l);
    return MMG_OK;
}

int mmg__loader_shuffles(const mmg_loader *l) { return l->o.shuffle; }
