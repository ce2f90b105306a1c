/* core/plugin_tokenizer.c - tokenizer instances: the public tokenizer API
 * over a plugin's function table, with every plugin output checked.
 *
 * The plugin's functions are called as the descriptor declares them; what
 * comes back is validated before the caller sees it (ids inside the
 * vocabulary, a buffer wherever a length is nonzero, a real mmg_status), so a
 * misbehaving plugin yields MMG_ERR_PLUGIN instead of corrupt data. Inputs
 * are checked too (ids against the vocabulary), so a plugin that indexes its
 * tables by id never sees an id it does not have. */
#include <string.h>

#include "error.h"
#include "log.h"
#include "memory.h"
#include "mmgen/memory.h"
#include "mmgen/tokenizer.h"
#include "plugin_handle.h"
#include "tokenizer-impl.h"

struct mmg_tokenizer {
    mmg_plugin plugin; /* embedded handle: holds one module reference */
    void *instance;    /* the plugin's instance (may be NULL for a stateless plugin) */
    char *config;      /* the JSON config it was created with (NULL: defaults), kept
                          so mmg_tokenizer_to_json can write it back */
    uint8_t *mask;     /* (tokenizer vocab) scratch for a caller mask smaller than our vocab */
    size_t mask_size;
};

struct mmg_decode_stream {
    mmg_tokenizer *tokenizer;     /* must outlive the stream */
    mmg_ext_stream_decode_v1 ext; /* host-sized copy of the plugin's table */
    void *stream;                 /* the plugin's stream object */
};

/* The longest description accepted from describe_token. */
#define DESCRIBE_MAX ((size_t)1 << 20)

static mmg__module *module_of(const mmg_tokenizer *t) { return t->plugin.module; }
static const mmg_plugin_descriptor *desc_of(const mmg_tokenizer *t) {
    return &t->plugin.module->desc;
}
static const char *name_of(const mmg_tokenizer *t) { return t->plugin.module->name; }

/* The plugin's vocabulary size; negative values are returned as they are. */
static int32_t plugin_vocab(const mmg_tokenizer *t) {
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int32_t n = desc_of(t)->vocab_size(t->instance);
    mmg__plugin_call_end(module_of(t), &call, "vocab_size", 0);
    return n;
}

/* The vocabulary size for checking ids; an empty or negative one is an
 * error (nothing can be in range). */
static mmg_status checked_vocab(const mmg_tokenizer *t, int32_t *out) {
    int32_t n = plugin_vocab(t);
    if (n < 0)
        return mmg__plugin_error(module_of(t), MMG_ERR_PLUGIN,
                                 "vocab_size() returned %d, a negative size", (int)n);
    *out = n;
    return MMG_OK;
}

/* Checks caller-supplied ids before the plugin sees them. */
static mmg_status check_ids(const mmg_tokenizer *t, const int32_t *ids, size_t count,
                            const char *what) {
    if (count && !ids)
        return mmg__error(MMG_ERR_INVALID_ARG, "%s: ids is NULL but count is %zu", what, count);
    int32_t vocab = 0;
    mmg_status s = checked_vocab(t, &vocab);
    if (s != MMG_OK) return s;
    for (size_t i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return mmg__error(MMG_ERR_RANGE,
                              "%s: token id %d at position %zu is outside the vocabulary of "
                              "plugin '%s' [0, %d)",
                              what, (int)ids[i], i, name_of(t), (int)vocab);
    return MMG_OK;
}

/* A buffer the plugin returned must exist wherever its length is nonzero. */
static mmg_status check_buffer(const mmg_tokenizer *t, const void *buf, size_t size,
                               const char *function) {
    if (size && !buf)
        return mmg__plugin_error(module_of(t), MMG_ERR_PLUGIN,
                                 "%s() returned a length of %zu with a NULL buffer", function,
                                 size);
    return MMG_OK;
}

mmg_status mmg_tokenizer_create(const mmg_plugin *plugin, const char *config_json,
                                mmg_tokenizer **out_tokenizer) {
    if (!plugin || !out_tokenizer)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_tokenizer_create: plugin and out_tokenizer "
                                               "must not be NULL");
    mmg_tokenizer *t = mmg__calloc(1, sizeof *t);
    if (t && config_json && *config_json && !(t->config = mmg__strdup(config_json))) {
        mmg__free(t);
        t = NULL;
    }
    if (!t)
        return mmg__error(MMG_ERR_NOMEM, "out of memory creating a tokenizer of plugin '%s'",
                          plugin->module->name);
    t->plugin.module = plugin->module;
    mmg__module_retain(t->plugin.module);
    void *instance = NULL;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = desc_of(t)->create(config_json, config_json ? strlen(config_json) : 0, &instance);
    mmg_status s = mmg__plugin_call_end(module_of(t), &call, "create", rc);
    if (s != MMG_OK) {
        mmg__module_release(t->plugin.module);
        mmg__free(t->config);
        mmg__free(t);
        return s;
    }
    t->instance = instance;
    *out_tokenizer = t;
    return MMG_OK;
}

void mmg_tokenizer_free(mmg_tokenizer *tokenizer) {
    if (!tokenizer) return;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(tokenizer), &call);
    desc_of(tokenizer)->destroy(tokenizer->instance);
    mmg__plugin_call_end(module_of(tokenizer), &call, "destroy", 0);
    mmg__module_release(tokenizer->plugin.module);
    mmg__free(tokenizer->mask);
    mmg__free(tokenizer->config);
    mmg__free(tokenizer);
}

const mmg_plugin *mmg_tokenizer_plugin(const mmg_tokenizer *tokenizer) {
    return tokenizer ? &tokenizer->plugin : NULL;
}

const char *mmg_tokenizer_config(const mmg_tokenizer *tokenizer) {
    return tokenizer ? tokenizer->config : NULL;
}

mmg_status mmg__tokenizer_keep_config(mmg_tokenizer *t, const char *config) {
    char *copy = NULL;
    if (config && *config && !(copy = mmg__strdup(config)))
        return mmg__error(MMG_ERR_NOMEM, "out of memory keeping a tokenizer's config");
    mmg__free(t->config);
    t->config = copy;
    return MMG_OK;
}

mmg_status mmg_tokenizer_fit(mmg_tokenizer *t, const uint8_t *const *docs, const size_t *sizes,
                             size_t n_docs) {
    if (!t) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_tokenizer_fit: tokenizer is NULL");
    if (n_docs && (!docs || !sizes))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_tokenizer_fit: docs and sizes must not be NULL for %zu documents",
                          n_docs);
    if (!desc_of(t)->fit)
        return mmg__error(MMG_ERR_UNSUPPORTED, "plugin '%s' has nothing to fit (no fit function)",
                          name_of(t));
    for (size_t i = 0; i < n_docs; i++)
        if (sizes[i] && !docs[i])
            return mmg__error(MMG_ERR_INVALID_ARG,
                              "mmg_tokenizer_fit: document %zu is NULL but has %zu bytes", i,
                              sizes[i]);
    mmg_plugin_document *pd = NULL;
    size_t bytes;
    if (mmg__mul_size(n_docs, sizeof *pd, &bytes) != 0)
        return mmg__error(MMG_ERR_LIMIT, "mmg_tokenizer_fit: %zu documents is too many", n_docs);
    if (n_docs) {
        pd = mmg__malloc(bytes);
        if (!pd) return mmg__error(MMG_ERR_NOMEM, "out of memory fitting %zu documents", n_docs);
        for (size_t i = 0; i < n_docs; i++) {
            pd[i].data = docs[i];
            pd[i].size = sizes[i];
        }
    }
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = desc_of(t)->fit(t->instance, pd, n_docs);
    mmg_status s = mmg__plugin_call_end(module_of(t), &call, "fit", rc);
    mmg__free(pd);
    return s;
}

mmg_status mmg_tokenizer_save_state(mmg_tokenizer *t, uint8_t **out_bytes, size_t *out_size) {
    if (!t || !out_bytes || !out_size)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_tokenizer_save_state: NULL argument");
    uint8_t *bytes = NULL;
    size_t size = 0;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = desc_of(t)->save_state(t->instance, &bytes, &size);
    mmg_status s = mmg__plugin_call_end(module_of(t), &call, "save_state", rc);
    if (s == MMG_OK) s = check_buffer(t, bytes, size, "save_state");
    if (s != MMG_OK) return s;
    *out_bytes = bytes;
    *out_size = size;
    return MMG_OK;
}

mmg_status mmg_tokenizer_load_state(mmg_tokenizer *t, const uint8_t *bytes, size_t size) {
    if (!t || (size && !bytes))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_tokenizer_load_state: tokenizer is NULL or bytes is NULL with a "
                          "size of %zu",
                          size);
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = desc_of(t)->load_state(t->instance, bytes, size);
    return mmg__plugin_call_end(module_of(t), &call, "load_state", rc);
}

mmg_status mmg_tokenizer_encode(mmg_tokenizer *t, const uint8_t *doc, size_t doc_size,
                                int32_t **out_ids, size_t *out_count) {
    if (!t || !out_ids || !out_count || (doc_size && !doc))
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_tokenizer_encode: NULL argument");
    int32_t *ids = NULL;
    size_t count = 0;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = desc_of(t)->encode(t->instance, doc, doc_size, &ids, &count);
    mmg_status s = mmg__plugin_call_end(module_of(t), &call, "encode", rc);
    if (s != MMG_OK) return s;
    if ((s = check_buffer(t, ids, count, "encode")) != MMG_OK) return s;
    int32_t vocab = 0;
    if ((s = checked_vocab(t, &vocab)) != MMG_OK) {
        mmg__free(ids);
        return s;
    }
    for (size_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= vocab) {
            s = mmg__plugin_error(module_of(t), MMG_ERR_PLUGIN,
                                  "encode() returned token id %d at position %zu of %zu, outside "
                                  "its vocabulary [0, %d)",
                                  (int)ids[i], i, count, (int)vocab);
            mmg__free(ids);
            return s;
        }
    }
    *out_ids = ids;
    *out_count = count;
    return MMG_OK;
}

mmg_status mmg_tokenizer_decode(mmg_tokenizer *t, const int32_t *ids, size_t count,
                                uint8_t **out_doc, size_t *out_size) {
    if (!t || !out_doc || !out_size)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_tokenizer_decode: NULL argument");
    mmg_status s = check_ids(t, ids, count, "mmg_tokenizer_decode");
    if (s != MMG_OK) return s;
    uint8_t *doc = NULL;
    size_t size = 0;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = desc_of(t)->decode(t->instance, ids, count, &doc, &size);
    s = mmg__plugin_call_end(module_of(t), &call, "decode", rc);
    if (s == MMG_OK) s = check_buffer(t, doc, size, "decode");
    if (s != MMG_OK) return s;
    *out_doc = doc;
    *out_size = size;
    return MMG_OK;
}

int32_t mmg_tokenizer_vocab_size(mmg_tokenizer *t) {
    if (!t) return 0;
    int32_t n = plugin_vocab(t);
    if (n < 0) {
        mmg__log(MMG_LOG_WARN, "plugin '%s': vocab_size() returned %d; using 0", name_of(t),
                 (int)n);
        return 0;
    }
    return n;
}

mmg_status mmg_tokenizer_special_token(mmg_tokenizer *t, const char *name, int32_t *out_id) {
    if (!t || !name || !out_id)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_tokenizer_special_token: NULL argument");
    int32_t id = -1;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = desc_of(t)->special_token(t->instance, name, &id);
    mmg_status s = mmg__plugin_call_end(module_of(t), &call, "special_token", rc);
    if (s != MMG_OK) return s;
    int32_t vocab = 0;
    if ((s = checked_vocab(t, &vocab)) != MMG_OK) return s;
    if (id < 0 || id >= vocab)
        return mmg__plugin_error(module_of(t), MMG_ERR_PLUGIN,
                                 "special_token(\"%s\") returned id %d, outside its vocabulary "
                                 "[0, %d)",
                                 name, (int)id, (int)vocab);
    *out_id = id;
    return MMG_OK;
}

/* One describe_token call into `buf`; *len gets the full length. */
static mmg_status describe_into(mmg_tokenizer *t, int32_t id, char *buf, size_t size,
                                size_t *len) {
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = desc_of(t)->describe_token(t->instance, id, buf, size, len);
    mmg_status s = mmg__plugin_call_end(module_of(t), &call, "describe_token", rc);
    buf[size - 1] = '\0';
    if (s == MMG_OK && *len >= DESCRIBE_MAX)
        return mmg__plugin_error(module_of(t), MMG_ERR_PLUGIN,
                                 "describe_token(%d) reported a length of %zu bytes (more than "
                                 "%zu)",
                                 (int)id, *len, DESCRIBE_MAX);
    return s;
}

mmg_status mmg_tokenizer_describe_token(mmg_tokenizer *t, int32_t id, char **out_text) {
    if (!t || !out_text)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_tokenizer_describe_token: NULL argument");
    mmg_status s = check_ids(t, &id, 1, "mmg_tokenizer_describe_token");
    if (s != MMG_OK) return s;
    char small[256];
    size_t len = 0;
    if ((s = describe_into(t, id, small, sizeof small, &len)) != MMG_OK) return s;
    char *text = mmg__malloc(len + 1);
    if (!text) return mmg__error(MMG_ERR_NOMEM, "out of memory describing token %d", (int)id);
    if (len < sizeof small) {
        memcpy(text, small, len);
    } else {
        /* Too long for the first buffer: ask again with room for all of it. */
        size_t len2 = 0;
        if ((s = describe_into(t, id, text, len + 1, &len2)) == MMG_OK && len2 != len)
            s = mmg__plugin_error(module_of(t), MMG_ERR_PLUGIN,
                                  "describe_token(%d) reported %zu bytes, then %zu", (int)id, len,
                                  len2);
        if (s != MMG_OK) {
            mmg__free(text);
            return s;
        }
    }
    text[len] = '\0';
    *out_text = text;
    return MMG_OK;
}

/* The plugin's extension table `id`, or NULL. */
static const void *lookup_extension(mmg_tokenizer *t, const char *id) {
    if (!desc_of(t)->get_extension) return NULL;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    const void *ext = desc_of(t)->get_extension(t->instance, id);
    mmg__plugin_call_end(module_of(t), &call, "get_extension", 0);
    return ext;
}

int mmg_tokenizer_has_extension(mmg_tokenizer *t, const char *id) {
    return t && id && lookup_extension(t, id) != NULL;
}

/* Copies extension `id` into `dst` (host size `dst_size`, zero past the
 * plugin's struct_size) after checking it covers `needed` bytes. */
static mmg_status read_extension(mmg_tokenizer *t, const char *id, void *dst, size_t dst_size,
                                 size_t needed) {
    const void *ext = lookup_extension(t, id);
    if (!ext)
        return mmg__error(MMG_ERR_UNSUPPORTED, "plugin '%s' does not offer the extension %s",
                          name_of(t), id);
    size_t size;
    memcpy(&size, ext, sizeof size);
    if (size < needed)
        return mmg__plugin_error(module_of(t), MMG_ERR_PLUGIN,
                                 "extension %s has struct_size %zu, smaller than the %zu bytes of "
                                 "its version 1",
                                 id, size, needed);
    memset(dst, 0, dst_size);
    memcpy(dst, ext, size < dst_size ? size : dst_size);
    return MMG_OK;
}

#define EXT_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

mmg_status mmg_tokenizer_allowed_next(mmg_tokenizer *t, const int32_t *tokens, size_t n_tokens,
                                      uint8_t *allowed, size_t vocab_size) {
    if (!t || (vocab_size && !allowed))
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_tokenizer_allowed_next: NULL argument");
    mmg_ext_constraint_v1 ext;
    mmg_status s = read_extension(t, MMG_EXT_CONSTRAINT_V1, &ext, sizeof ext,
                                  EXT_END(mmg_ext_constraint_v1, allowed_next));
    if (s != MMG_OK) return s;
    if (!ext.allowed_next)
        return mmg__plugin_error(module_of(t), MMG_ERR_PLUGIN,
                                 "extension %s has a NULL allowed_next", MMG_EXT_CONSTRAINT_V1);
    if ((s = check_ids(t, tokens, n_tokens, "mmg_tokenizer_allowed_next")) != MMG_OK) return s;
    size_t own = (size_t)plugin_vocab(t); /* >= 0: check_ids verified it */
    if (own == 0)
        return mmg__error(MMG_ERR_STATE,
                          "mmg_tokenizer_allowed_next: the tokenizer of plugin '%s' has no "
                          "vocabulary yet (fit it or load its state first)",
                          name_of(t));
    uint8_t *mask = allowed;
    if (vocab_size < own) {
        /* The caller's vocabulary is smaller than ours: let the plugin write a
         * full-size scratch mask and copy back the part the caller has. */
        if (t->mask_size < own) {
            uint8_t *grown = mmg__realloc(t->mask, own);
            if (!grown) return mmg__error(MMG_ERR_NOMEM, "out of memory for a token mask");
            t->mask = grown;
            t->mask_size = own;
        }
        mask = t->mask;
        if (vocab_size) memcpy(mask, allowed, vocab_size);
        memset(mask + vocab_size, 1, own - vocab_size);
    }
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = ext.allowed_next(t->instance, tokens, n_tokens, mask, own);
    s = mmg__plugin_call_end(module_of(t), &call, "allowed_next", rc);
    if (s != MMG_OK) return s;
    if (mask != allowed) {
        if (vocab_size) memcpy(allowed, mask, vocab_size);
    } else if (vocab_size > own) {
        memset(allowed + own, 0, vocab_size - own);
    }
    return MMG_OK;
}

int mmg_tokenizer_mask_cb(void *user_data, const int32_t *tokens, size_t n_tokens,
                          uint8_t *allowed, size_t vocab_size) {
    return (int)mmg_tokenizer_allowed_next((mmg_tokenizer *)user_data, tokens, n_tokens, allowed,
                                           vocab_size);
}

/* ---- decode streams -------------------------------------------------------- */

mmg_status mmg_decode_stream_create(mmg_tokenizer *t, mmg_decode_stream **out_stream) {
    if (!t || !out_stream)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_decode_stream_create: NULL argument");
    mmg_ext_stream_decode_v1 ext;
    mmg_status s = read_extension(t, MMG_EXT_STREAM_DECODE_V1, &ext, sizeof ext,
                                  EXT_END(mmg_ext_stream_decode_v1, stream_flush));
    if (s != MMG_OK) return s;
    const char *missing = !ext.stream_create    ? "stream_create"
                          : !ext.stream_destroy ? "stream_destroy"
                          : !ext.stream_feed    ? "stream_feed"
                          : !ext.stream_flush   ? "stream_flush"
                                                : NULL;
    if (missing)
        return mmg__plugin_error(module_of(t), MMG_ERR_PLUGIN, "extension %s has a NULL %s",
                                 MMG_EXT_STREAM_DECODE_V1, missing);
    mmg_decode_stream *ds = mmg__calloc(1, sizeof *ds);
    if (!ds) return mmg__error(MMG_ERR_NOMEM, "out of memory creating a decode stream");
    ds->tokenizer = t;
    ds->ext = ext;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = ext.stream_create(t->instance, &ds->stream);
    if ((s = mmg__plugin_call_end(module_of(t), &call, "stream_create", rc)) != MMG_OK) {
        mmg__free(ds);
        return s;
    }
    *out_stream = ds;
    return MMG_OK;
}

mmg_status mmg_decode_stream_feed(mmg_decode_stream *ds, const int32_t *ids, size_t count,
                                  uint8_t **out, size_t *out_size) {
    if (!ds || !out || !out_size)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_decode_stream_feed: NULL argument");
    mmg_tokenizer *t = ds->tokenizer;
    mmg_status s = check_ids(t, ids, count, "mmg_decode_stream_feed");
    if (s != MMG_OK) return s;
    uint8_t *bytes = NULL;
    size_t size = 0;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = ds->ext.stream_feed(ds->stream, ids, count, &bytes, &size);
    s = mmg__plugin_call_end(module_of(t), &call, "stream_feed", rc);
    if (s == MMG_OK) s = check_buffer(t, bytes, size, "stream_feed");
    if (s != MMG_OK) return s;
    *out = bytes;
    *out_size = size;
    return MMG_OK;
}

mmg_status mmg_decode_stream_flush(mmg_decode_stream *ds, uint8_t **out, size_t *out_size) {
    if (!ds || !out || !out_size)
        return mmg__error(MMG_ERR_INVALID_ARG, "mmg_decode_stream_flush: NULL argument");
    mmg_tokenizer *t = ds->tokenizer;
    uint8_t *bytes = NULL;
    size_t size = 0;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(t), &call);
    int rc = ds->ext.stream_flush(ds->stream, &bytes, &size);
    mmg_status s = mmg__plugin_call_end(module_of(t), &call, "stream_flush", rc);
    if (s == MMG_OK) s = check_buffer(t, bytes, size, "stream_flush");
    if (s != MMG_OK) return s;
    *out = bytes;
    *out_size = size;
    return MMG_OK;
}

void mmg_decode_stream_free(mmg_decode_stream *ds) {
    if (!ds) return;
    mmg__plugin_call call;
    mmg__plugin_call_begin(module_of(ds->tokenizer), &call);
    ds->ext.stream_destroy(ds->stream);
    mmg__plugin_call_end(module_of(ds->tokenizer), &call, "stream_destroy", 0);
    mmg__free(ds);
}
