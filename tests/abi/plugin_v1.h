/* tests/abi/plugin_v1.h - FROZEN copy of include/mmgen/plugin.h as released
 * at plugin ABI 1.0. NEVER EDIT THIS FILE: it stands for every plugin built
 * against the first v1 header. tests/abi/plugin_v1_fixture.c is compiled
 * against it alone and must keep loading in every later 1.x host, and
 * tests/abi/plugin_v1_layout.c checks that the live header still lays out
 * every v1.0 field at the same offset.
 *
 * The only change from the original: its two includes (status.h, version.h)
 * are replaced by the one macro it used from them, so nothing here can drift.
 * ------------------------------------------------------------------------ */
/* mmgen/plugin.h - the ABI between mmgen and modality plugins.
 *
 * A plugin is a shared object that turns documents of one modality (text,
 * code, PNG images, WAV audio) into token ids and back. Write one against this
 * header alone: a plugin never links libmmgen. The host hands it a table of
 * services (allocation, logging, error reporting) at init.
 *
 * Loading: the host dlopens the file and looks up exactly one symbol,
 * MMG_PLUGIN_ENTRY_SYMBOL ("mmg_plugin_entry_v1"). Its name carries the ABI
 * major, so a plugin of another major fails at dlsym. The entry returns a
 * pointer to a constant descriptor; the host never writes to it and never reads
 * past its struct_size.
 *
 * Versioning: structs here only grow at their end. A plugin states the ABI
 * version it was built against in abi_version; the host refuses another major
 * and uses min(host minor, plugin minor) for what it calls. Optional features
 * are found by a versioned string id through get_extension().
 *
 * Status: every function returning int returns 0 (MMG_OK) or an mmg_status
 * value, after reporting a message through host->error(). Out-parameters are
 * left untouched on failure.
 *
 * Threads: init/deinit are called by the host under its own lock. One
 * tokenizer instance is used by one thread at a time; distinct instances may
 * be used from different threads at once. */
#ifndef MMGEN_PLUGIN_V1_FROZEN_H
#define MMGEN_PLUGIN_V1_FROZEN_H

#include <stddef.h>
#include <stdint.h>

/* from mmgen/version.h 1.0 */
#ifndef MMGEN_MAKE_ABI_VERSION
#define MMGEN_MAKE_ABI_VERSION(major, minor) \
    ((uint32_t)(((uint32_t)(major) << 16) | ((uint32_t)(minor) & 0xffffu)))
#endif

#define MMG_PLUGIN_ABI_MAJOR 1
#define MMG_PLUGIN_ABI_MINOR 0
#define MMG_PLUGIN_ABI_VERSION MMGEN_MAKE_ABI_VERSION(MMG_PLUGIN_ABI_MAJOR, MMG_PLUGIN_ABI_MINOR)
#define MMG_PLUGIN_ENTRY_SYMBOL "mmg_plugin_entry_v1"

#if defined(_WIN32)
#  define MMG_PLUGIN_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#  define MMG_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#  define MMG_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* What kind of documents a plugin reads and writes. Values are ABI. */
typedef enum mmg_modality {
    MMG_MODALITY_OTHER = 0,
    MMG_MODALITY_TEXT = 1,
    MMG_MODALITY_CODE = 2,
    MMG_MODALITY_IMAGE = 3,
    MMG_MODALITY_AUDIO = 4
} mmg_modality;

/* Log levels match mmg_log_level in mmgen/log.h. */
#define MMG_PLUGIN_LOG_ERROR 0
#define MMG_PLUGIN_LOG_WARN 1
#define MMG_PLUGIN_LOG_INFO 2
#define MMG_PLUGIN_LOG_DEBUG 3

/* Services the host gives a plugin. Valid from init() until deinit(). */
typedef struct mmg_host_services {
    size_t struct_size;
    uint32_t abi_version;  /* the host's MMG_PLUGIN_ABI_VERSION */
    /* Memory returned to the host (token arrays, documents, saved state) must
     * come from these; the host releases it (the user with mmg_free()).
     * alloc(0) returns a valid, unique pointer. [thread-safe] */
    void *(*alloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
    /* Sends a message to the host's log. [thread-safe] */
    void (*log)(int level, const char *fmt, ...);
    /* Records the error message the user will read from mmg_last_error() and
     * returns `status`, so plugins write `return host->error(MMG_ERR_FORMAT,
     * "...", ...);`. [thread-safe: per-thread message] */
    int (*error)(int status, const char *fmt, ...);
} mmg_host_services;

/* One document: raw bytes (UTF-8 text, a PNG file, a WAV file...). */
typedef struct mmg_plugin_document {
    const uint8_t *data;
    size_t size;
} mmg_plugin_document;

/* The descriptor a plugin's entry function returns. Required functions must
 * be non-NULL; the host checks them at load. */
typedef struct mmg_plugin_descriptor {
    size_t struct_size;       /* sizeof(mmg_plugin_descriptor) as compiled */
    uint32_t abi_version;     /* MMG_PLUGIN_ABI_VERSION as compiled */
    const char *name;         /* short unique name, e.g. "text" */
    const char *version;      /* the plugin's own version, e.g. "1.0.0" */
    int32_t modality;         /* an mmg_modality */
    const char *description;  /* one line for listings */

    /* Module lifecycle. init() runs once when the host first loads the module
     * (reference-counted by the host); deinit() when the last user closes it.
     * Required. */
    int (*init)(const mmg_host_services *host);
    void (*deinit)(void);

    /* Creates a tokenizer from a JSON config (may be NULL or empty: defaults;
     * config_size bytes, not necessarily NUL-terminated). Required. */
    int (*create)(const char *config_json, size_t config_size, void **out_instance);
    /* destroy(NULL) does nothing. Required. */
    void (*destroy)(void *instance);

    /* Learns the tokenizer's state (BPE merges, a codebook...) from sample
     * documents; replaces any previous state. Optional (NULL: nothing to learn). */
    int (*fit)(void *instance, const mmg_plugin_document *docs, size_t n_docs);
    /* Serializes the learned state; *out_bytes comes from host->alloc.
     * Required. */
    int (*save_state)(void *instance, uint8_t **out_bytes, size_t *out_size);
    /* Restores a state written by save_state (any version of this plugin that
     * can read it); a malformed state gives MMG_ERR_FORMAT. Required. */
    int (*load_state)(void *instance, const uint8_t *bytes, size_t size);

    /* Document -> token ids, every id in [0, vocab_size). Never emits a special
     * token because of the document's content. *out_ids from host->alloc.
     * Required. */
    int (*encode)(void *instance, const uint8_t *doc, size_t doc_size, int32_t **out_ids,
                  size_t *out_count);
    /* Token ids -> document; ids outside the vocabulary give MMG_ERR_RANGE.
     * *out_doc from host->alloc. Required. */
    int (*decode)(void *instance, const int32_t *ids, size_t count, uint8_t **out_doc,
                  size_t *out_size);

    /* Number of token ids, special tokens included; 0 before fit/load when the
     * vocabulary is learned. Required. */
    int32_t (*vocab_size)(void *instance);
    /* The id of a named special token ("bos", "eos", "pad", or a modality
     * marker); MMG_ERR_NOT_FOUND if the tokenizer has none by that name.
     * Required. */
    int (*special_token)(void *instance, const char *name, int32_t *out_id);
    /* A human-readable description of one token (UTF-8, NUL-terminated,
     * truncated to buf_size). *out_length gets the full length. Required. */
    int (*describe_token)(void *instance, int32_t id, char *buf, size_t buf_size,
                          size_t *out_length);

    /* Looks up an optional extension by versioned id (e.g.
     * MMG_EXT_CONSTRAINT_V1); NULL when absent. The returned table is constant
     * and lives as long as the instance. Optional (NULL: no extensions). */
    const void *(*get_extension)(void *instance, const char *id);
} mmg_plugin_descriptor;

/* The entry point every plugin exports:
 *   MMG_PLUGIN_EXPORT const mmg_plugin_descriptor *mmg_plugin_entry_v1(void); */
typedef const mmg_plugin_descriptor *(*mmg_plugin_entry_fn)(void);

/* ---- extension "mmgen.constraint/1": which tokens may come next ---------- */
#define MMG_EXT_CONSTRAINT_V1 "mmgen.constraint/1"
typedef struct mmg_ext_constraint_v1 {
    size_t struct_size;
    /* Given the tokens generated so far for one document (this plugin's token
     * stream, from its first token), clears entries of `allowed` (vocab_size
     * bytes, 1 on entry) for ids that may not come next. An end-of-document
     * special token, when allowed, means the document may end here.
     * Returns 0 or an mmg_status. */
    int (*allowed_next)(void *instance, const int32_t *tokens, size_t n_tokens, uint8_t *allowed,
                        size_t vocab_size);
} mmg_ext_constraint_v1;

/* ---- extension "mmgen.stream_decode/1": incremental decoding -------------- */
#define MMG_EXT_STREAM_DECODE_V1 "mmgen.stream_decode/1"
typedef struct mmg_ext_stream_decode_v1 {
    size_t struct_size;
    /* A decoding stream keeps bytes that do not yet form a complete unit
     * (a UTF-8 character split across tokens) until the next call. */
    int (*stream_create)(void *instance, void **out_stream);
    void (*stream_destroy)(void *stream);
    /* Appends the complete output produced by `ids` to *out (host->alloc). */
    int (*stream_feed)(void *stream, const int32_t *ids, size_t count, uint8_t **out,
                       size_t *out_size);
    /* Emits whatever is still held (possibly an incomplete character). */
    int (*stream_flush)(void *stream, uint8_t **out, size_t *out_size);
} mmg_ext_stream_decode_v1;

#ifdef __cplusplus
}
#endif

#endif /* MMGEN_PLUGIN_V1_FROZEN_H */
