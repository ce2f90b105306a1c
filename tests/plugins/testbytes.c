/* tests/plugins/testbytes.c - a small byte tokenizer that exercises the whole
 * plugin host, and (built with one compile definition each, see
 * tests/plugins.cmake) the broken plugins the host must refuse.
 *
 * Vocabulary: the bytes the tokenizer knows, in byte order, then the special
 * tokens bos, eos, pad. By default it knows all 256 bytes; with config
 * {"empty": true} it knows none until fit() learns the bytes of its
 * documents. State (save/load): "TBYT", a version byte, 256 presence bytes.
 *
 * Extensions: mmgen.constraint/1 (never bos after the first token, never pad,
 * with {"ascii_only": true} only ASCII bytes) and mmgen.stream_decode/1
 * (holds back an incomplete UTF-8 character).
 *
 * Config {"misbehave": "<mode>"} makes an instance break one output rule, so
 * the tests can check the host catches it (see MISBEHAVE_ below).
 *
 * init/deinit counts are published in environment variables
 * TESTPLUGIN_<NAME>_INITS / _DEINITS, which outlive a dlclose.
 *
 * The descriptor sits at the very end of a read-only page followed by an
 * inaccessible one: a host that reads past struct_size, or writes to the
 * descriptor, crashes the test. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmgen/plugin.h"

#ifndef TESTPLUGIN_NAME
#  define TESTPLUGIN_NAME "testbytes"
#endif
#ifndef TESTPLUGIN_ENV
#  define TESTPLUGIN_ENV "TESTBYTES"
#endif
#ifndef TESTPLUGIN_ENTRY
#  define TESTPLUGIN_ENTRY mmg_plugin_entry_v1
#endif
#ifndef TESTPLUGIN_ABI_VERSION
#  define TESTPLUGIN_ABI_VERSION MMG_PLUGIN_ABI_VERSION
#endif

static const mmg_host_services *host;
static char *module_scratch; /* allocated at init so init can fail for want of memory */

enum { SPECIAL_BOS, SPECIAL_EOS, SPECIAL_PAD, N_SPECIAL };
static const char *const special_names[N_SPECIAL] = {"bos", "eos", "pad"};

enum {
    MISBEHAVE_NONE,
    MISBEHAVE_ENCODE_RANGE,    /* encode: last id == vocab_size */
    MISBEHAVE_ENCODE_NEGATIVE, /* encode: first id -1 */
    MISBEHAVE_ENCODE_NULL,     /* encode: count > 0, NULL buffer */
    MISBEHAVE_BAD_STATUS,      /* decode: returns 1234 */
    MISBEHAVE_SILENT_ERROR,    /* save_state: MMG_ERR_FORMAT without a message */
    MISBEHAVE_SPECIAL_RANGE,   /* special_token: id past the vocabulary */
    MISBEHAVE_DESCRIBE_HUGE,   /* describe_token: absurd length */
    MISBEHAVE_CONSTRAINT_STATUS, /* allowed_next: returns -7 */
};
static const char *const misbehave_names[] = {
    "none", "encode_range", "encode_negative", "encode_null", "bad_status",
    "silent_error", "special_range", "describe_huge", "constraint_status",
};

typedef struct testbytes {
    uint8_t present[256]; /* which bytes are in the vocabulary */
    int32_t id_of[256];   /* byte -> id, -1 if absent */
    uint8_t byte_of[256]; /* id -> byte, for ids < n_bytes */
    int32_t n_bytes;
    int ascii_only;
    int misbehave;
} testbytes;

static void rebuild(testbytes *tb) {
    tb->n_bytes = 0;
    for (int b = 0; b < 256; b++) {
        tb->id_of[b] = -1;
        if (tb->present[b]) {
            tb->id_of[b] = tb->n_bytes;
            tb->byte_of[tb->n_bytes++] = (uint8_t)b;
        }
    }
}

static int32_t vocab_of(const testbytes *tb) { return tb->n_bytes ? tb->n_bytes + N_SPECIAL : 0; }

/* ---- counters visible to the test through the environment ---------------- */

static void bump(const char *what) {
    char var[96], val[32];
    snprintf(var, sizeof var, "TESTPLUGIN_%s_%s", TESTPLUGIN_ENV, what);
    const char *old = getenv(var);
    snprintf(val, sizeof val, "%ld", (old ? strtol(old, NULL, 10) : 0) + 1);
    setenv(var, val, 1);
}

/* ---- module lifecycle ---------------------------------------------------- */

static int tb_init(const mmg_host_services *services) {
    if (!services || services->struct_size < sizeof(mmg_host_services)) return MMG_ERR_ABI;
#ifdef TESTPLUGIN_INIT_FAILS
    return services->error(MMG_ERR_CONFIG, "init refuses to start (built to fail)");
#endif
    if (host) return services->error(MMG_ERR_INTERNAL, "init called twice without deinit");
    module_scratch = services->alloc(64);
    if (!module_scratch) return services->error(MMG_ERR_NOMEM, "out of memory in init");
    host = services;
    host->log(MMG_PLUGIN_LOG_INFO, "init (%s)", TESTPLUGIN_NAME);
    bump("INITS");
    return 0;
}

static void tb_deinit(void) {
    if (!host) return;
    host->log(MMG_PLUGIN_LOG_INFO, "deinit");
    host->free(module_scratch);
    module_scratch = NULL;
    host = NULL;
    bump("DEINITS");
}

/* ---- instances ----------------------------------------------------------- */

static int config_flag(const char *cfg, const char *key) {
    const char *p = strstr(cfg, key);
    if (!p) return 0;
    p = strchr(p + strlen(key), ':');
    while (p && (*++p == ' ')) {
    }
    return p && strncmp(p, "true", 4) == 0;
}

static int tb_create(const char *config_json, size_t config_size, void **out_instance) {
    char *cfg = host->alloc(config_size + 1);
    if (!cfg) return host->error(MMG_ERR_NOMEM, "out of memory reading the config");
    if (config_size) memcpy(cfg, config_json, config_size);
    cfg[config_size] = '\0';
    int empty = config_flag(cfg, "\"empty\"");
    int ascii_only = config_flag(cfg, "\"ascii_only\"");
    int misbehave = MISBEHAVE_NONE;
    const char *m = strstr(cfg, "\"misbehave\"");
    if (m) {
        m = strchr(m + 11, '"');
        misbehave = -1;
        for (int i = 0; m && i < (int)(sizeof misbehave_names / sizeof *misbehave_names); i++) {
            size_t n = strlen(misbehave_names[i]);
            if (strncmp(m + 1, misbehave_names[i], n) == 0 && m[1 + n] == '"') misbehave = i;
        }
    }
    int bad_json = config_size && cfg[0] != '{';
    host->free(cfg);
    if (bad_json) return host->error(MMG_ERR_CONFIG, "config must be a JSON object");
    if (misbehave < 0) return host->error(MMG_ERR_CONFIG, "unknown misbehave mode");

    testbytes *tb = host->alloc(sizeof *tb);
    if (!tb) return host->error(MMG_ERR_NOMEM, "out of memory creating a tokenizer");
    memset(tb, 0, sizeof *tb);
    if (!empty) memset(tb->present, 1, sizeof tb->present);
    tb->ascii_only = ascii_only;
    tb->misbehave = misbehave;
    rebuild(tb);
    *out_instance = tb;
    return 0;
}

static void tb_destroy(void *instance) { host->free(instance); }

static int tb_fit(void *instance, const mmg_plugin_document *docs, size_t n_docs) {
    testbytes *tb = instance;
    if (n_docs == 0) return host->error(MMG_ERR_INVALID_ARG, "fit needs at least one document");
    memset(tb->present, 0, sizeof tb->present);
    for (size_t d = 0; d < n_docs; d++)
        for (size_t i = 0; i < docs[d].size; i++) tb->present[docs[d].data[i]] = 1;
    rebuild(tb);
    return 0;
}

static int tb_save_state(void *instance, uint8_t **out_bytes, size_t *out_size) {
    testbytes *tb = instance;
    if (tb->misbehave == MISBEHAVE_SILENT_ERROR) return MMG_ERR_FORMAT;
    uint8_t *b = host->alloc(5 + 256);
    if (!b) return host->error(MMG_ERR_NOMEM, "out of memory saving state");
    memcpy(b, "TBYT\x01", 5);
    memcpy(b + 5, tb->present, 256);
    *out_bytes = b;
    *out_size = 5 + 256;
    return 0;
}

static int tb_load_state(void *instance, const uint8_t *bytes, size_t size) {
    testbytes *tb = instance;
    if (size != 5 + 256 || memcmp(bytes, "TBYT\x01", 5) != 0)
        return host->error(MMG_ERR_FORMAT, "state is not a testbytes v1 state (%zu bytes)", size);
    for (int i = 0; i < 256; i++)
        if (bytes[5 + i] > 1)
            return host->error(MMG_ERR_FORMAT, "state byte %d is %d, not 0 or 1", i, bytes[5 + i]);
    memcpy(tb->present, bytes + 5, 256);
    rebuild(tb);
    return 0;
}

static int tb_encode(void *instance, const uint8_t *doc, size_t doc_size, int32_t **out_ids,
                     size_t *out_count) {
    testbytes *tb = instance;
    if (!tb->n_bytes) return host->error(MMG_ERR_STATE, "no vocabulary yet: fit or load a state");
    if (tb->misbehave == MISBEHAVE_ENCODE_NULL) {
        *out_count = doc_size ? doc_size : 1;
        *out_ids = NULL;
        return 0;
    }
    if (doc_size > SIZE_MAX / sizeof(int32_t))
        return host->error(MMG_ERR_LIMIT, "document too large");
    int32_t *ids = host->alloc(doc_size * sizeof *ids);
    if (!ids) return host->error(MMG_ERR_NOMEM, "out of memory encoding %zu bytes", doc_size);
    for (size_t i = 0; i < doc_size; i++) {
        ids[i] = tb->id_of[doc[i]];
        if (ids[i] < 0) {
            host->free(ids);
            return host->error(MMG_ERR_RANGE, "byte 0x%02x at offset %zu is not in the vocabulary",
                               doc[i], i);
        }
    }
    if (doc_size && tb->misbehave == MISBEHAVE_ENCODE_RANGE) ids[doc_size - 1] = vocab_of(tb);
    if (doc_size && tb->misbehave == MISBEHAVE_ENCODE_NEGATIVE) ids[0] = -1;
    *out_ids = ids;
    *out_count = doc_size;
    return 0;
}

/* Appends the bytes of `ids` (specials decode to nothing) to `out`. */
static int bytes_of(const testbytes *tb, const int32_t *ids, size_t count, uint8_t *out,
                    size_t *n) {
    for (size_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= vocab_of(tb))
            return host->error(MMG_ERR_RANGE, "token id %d is outside [0, %d)", (int)ids[i],
                               (int)vocab_of(tb));
        if (ids[i] < tb->n_bytes) out[(*n)++] = tb->byte_of[ids[i]];
    }
    return 0;
}

static int tb_decode(void *instance, const int32_t *ids, size_t count, uint8_t **out_doc,
                     size_t *out_size) {
    testbytes *tb = instance;
    if (tb->misbehave == MISBEHAVE_BAD_STATUS) return 1234;
    uint8_t *doc = host->alloc(count);
    if (!doc) return host->error(MMG_ERR_NOMEM, "out of memory decoding");
    size_t n = 0;
    int rc = bytes_of(tb, ids, count, doc, &n);
    if (rc) {
        host->free(doc);
        return rc;
    }
    *out_doc = doc;
    *out_size = n;
    return 0;
}

static int32_t tb_vocab_size(void *instance) { return vocab_of(instance); }

static int tb_special_token(void *instance, const char *name, int32_t *out_id) {
    testbytes *tb = instance;
    for (int i = 0; i < N_SPECIAL; i++) {
        if (strcmp(name, special_names[i]) == 0) {
            if (!tb->n_bytes) return host->error(MMG_ERR_STATE, "no vocabulary yet");
            *out_id = tb->n_bytes + i + (tb->misbehave == MISBEHAVE_SPECIAL_RANGE ? 100 : 0);
            return 0;
        }
    }
    return host->error(MMG_ERR_NOT_FOUND, "no special token named '%s' (bos, eos, pad)", name);
}

static int tb_describe_token(void *instance, int32_t id, char *buf, size_t buf_size,
                             size_t *out_length) {
    testbytes *tb = instance;
    if (id < 0 || id >= vocab_of(tb))
        return host->error(MMG_ERR_RANGE, "token id %d is outside [0, %d)", (int)id,
                           (int)vocab_of(tb));
    int n;
    if (id >= tb->n_bytes) {
        n = snprintf(buf, buf_size, "<%s>", special_names[id - tb->n_bytes]);
    } else {
        uint8_t b = tb->byte_of[id];
        if (b >= 0x20 && b < 0x7f && b != '\'')
            n = snprintf(buf, buf_size, "byte '%c' (0x%02x)", b, b);
        else
            n = snprintf(buf, buf_size, "byte 0x%02x", b);
    }
    /* Byte 'L' is described at length, to exercise the host's second call. */
    if (id < tb->n_bytes && tb->byte_of[id] == 'L') {
        size_t want = 300;
        for (size_t i = 0; i + 1 < buf_size && i < want; i++) buf[i] = 'L';
        if (buf_size) buf[want < buf_size ? want : buf_size - 1] = '\0';
        n = (int)want;
    }
    *out_length = tb->misbehave == MISBEHAVE_DESCRIBE_HUGE ? SIZE_MAX / 2 : (size_t)n;
    return 0;
}

/* ---- extension: constraint ------------------------------------------------ */

static int tb_allowed_next(void *instance, const int32_t *tokens, size_t n_tokens,
                           uint8_t *allowed, size_t vocab_size) {
    testbytes *tb = instance;
    if (tb->misbehave == MISBEHAVE_CONSTRAINT_STATUS) return -7;
    if (vocab_size != (size_t)vocab_of(tb))
        return host->error(MMG_ERR_INTERNAL, "mask of %zu entries for a vocabulary of %d",
                           vocab_size, (int)vocab_of(tb));
    (void)tokens;
    if (n_tokens > 0) allowed[tb->n_bytes + SPECIAL_BOS] = 0;
    allowed[tb->n_bytes + SPECIAL_PAD] = 0;
    if (tb->ascii_only)
        for (int32_t id = 0; id < tb->n_bytes; id++)
            if (tb->byte_of[id] >= 0x80) allowed[id] = 0;
    return 0;
}

static const mmg_ext_constraint_v1 constraint_ext = {sizeof constraint_ext, tb_allowed_next};

/* ---- extension: stream decode ---------------------------------------------- */

typedef struct tb_stream {
    const testbytes *tb;
    uint8_t held[4]; /* the start of a UTF-8 character not yet complete */
    size_t n_held;
} tb_stream;

static int tb_stream_create(void *instance, void **out_stream) {
    tb_stream *s = host->alloc(sizeof *s);
    if (!s) return host->error(MMG_ERR_NOMEM, "out of memory creating a stream");
    memset(s, 0, sizeof *s);
    s->tb = instance;
    *out_stream = s;
    return 0;
}

static void tb_stream_destroy(void *stream) { host->free(stream); }

/* Length of the UTF-8 sequence that lead byte `b` starts (1 for invalid). */
static size_t utf8_len(uint8_t b) {
    return b < 0xc0 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf8 ? 4 : 1;
}

static int tb_stream_feed(void *stream, const int32_t *ids, size_t count, uint8_t **out,
                          size_t *out_size) {
    tb_stream *s = stream;
    uint8_t *buf = host->alloc(s->n_held + count);
    if (!buf) return host->error(MMG_ERR_NOMEM, "out of memory in stream_feed");
    memcpy(buf, s->held, s->n_held);
    size_t n = s->n_held;
    int rc = bytes_of(s->tb, ids, count, buf, &n);
    if (rc) {
        host->free(buf);
        return rc;
    }
    /* Hold back a trailing lead byte whose continuation bytes have not all
     * arrived yet. */
    size_t keep = 0;
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        uint8_t b = buf[n - back];
        if ((b & 0xc0) == 0x80) continue; /* a continuation byte: look further back */
        if (utf8_len(b) > back) keep = back;
        break;
    }
    memcpy(s->held, buf + n - keep, keep);
    s->n_held = keep;
    *out = buf;
    *out_size = n - keep;
    return 0;
}

static int tb_stream_flush(void *stream, uint8_t **out, size_t *out_size) {
    tb_stream *s = stream;
    uint8_t *buf = host->alloc(s->n_held);
    if (!buf) return host->error(MMG_ERR_NOMEM, "out of memory in stream_flush");
    memcpy(buf, s->held, s->n_held);
    *out = buf;
    *out_size = s->n_held;
    s->n_held = 0;
    return 0;
}

static const mmg_ext_stream_decode_v1 stream_ext = {sizeof stream_ext, tb_stream_create,
                                                    tb_stream_destroy, tb_stream_feed,
                                                    tb_stream_flush};

static const void *tb_get_extension(void *instance, const char *id) {
    if (strcmp(id, MMG_EXT_CONSTRAINT_V1) == 0) return &constraint_ext;
    if (strcmp(id, MMG_EXT_STREAM_DECODE_V1) == 0) return &stream_ext;
    return NULL;
}

/* ---- the descriptor -------------------------------------------------------- */

/* A "newer minor" plugin: a descriptor from a future ABI 1.7 with fields this
 * host has never heard of appended. */
typedef struct future_descriptor {
    mmg_plugin_descriptor v1;
    int (*future_function)(void *instance, const char *what);
    uint64_t future_flags;
} future_descriptor;

static int future_function(void *instance, const char *what) {
#ifdef TESTPLUGIN_NULL_ENCODE
    (void)tb_encode;
#endif
    return MMG_ERR_INTERNAL;
}

static const future_descriptor descriptor = {
    .v1 =
        {
#ifdef TESTPLUGIN_NEWER_MINOR
            .struct_size = sizeof(future_descriptor),
            .abi_version = MMGEN_MAKE_ABI_VERSION(MMG_PLUGIN_ABI_MAJOR, 7),
#elif defined(TESTPLUGIN_SMALL_STRUCT)
            .struct_size = offsetof(mmg_plugin_descriptor, encode),
            .abi_version = TESTPLUGIN_ABI_VERSION,
#else
            .struct_size = sizeof(mmg_plugin_descriptor),
            .abi_version = TESTPLUGIN_ABI_VERSION,
#endif
            .name = TESTPLUGIN_NAME,
            .version = "1.2.3",
            .modality = MMG_MODALITY_OTHER,
            .description = "bytes as tokens, for testing the plugin host",
            .init = tb_init,
            .deinit = tb_deinit,
            .create = tb_create,
            .destroy = tb_destroy,
            .fit = tb_fit,
            .save_state = tb_save_state,
            .load_state = tb_load_state,
#ifdef TESTPLUGIN_NULL_ENCODE
            .encode = NULL, /* (tb_encode stays referenced below) */
#else
            .encode = tb_encode,
#endif
            .decode = tb_decode,
            .vocab_size = tb_vocab_size,
            .special_token = tb_special_token,
            .describe_token = tb_describe_token,
            .get_extension = tb_get_extension,
        },
    .future_function = future_function,
    .future_flags = 0xfeedfacecafebeefull,
};

/* Copies the first struct_size bytes of the descriptor to the end of a
 * read-only page that is followed by an inaccessible page. Called by the host
 * under its lock, so the one-time setup needs no lock of its own. */
static const mmg_plugin_descriptor *guarded_descriptor(void) {
    static const mmg_plugin_descriptor *guarded;
    if (guarded) return guarded;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = descriptor.v1.struct_size;
    uint8_t *mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return NULL;
    uint8_t *at = mem + ((page - size) & ~(size_t)7);
    memcpy(at, &descriptor, size);
    mprotect(mem, page, PROT_READ);
    mprotect(mem + page, page, PROT_NONE);
    guarded = (const mmg_plugin_descriptor *)at;
    return guarded;
}

MMG_PLUGIN_EXPORT const mmg_plugin_descriptor *TESTPLUGIN_ENTRY(void);
const mmg_plugin_descriptor *TESTPLUGIN_ENTRY(void) { return guarded_descriptor(); }
