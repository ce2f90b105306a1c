/* tests/abi/plugin_v1_fixture.c - a plugin built against the FROZEN plugin
 * ABI 1.0 header (tests/abi/plugin_v1.h) and nothing else from mmgen.
 *
 * It stands for a third-party plugin compiled once, years ago: every later
 * 1.x host must load it and use it. Like the header, this file is frozen:
 * never change what it does, only fix it if it was wrong for 1.0.
 *
 * Tokenizer: byte b is token b; token 256 is "eos". State: "V1FX" then one
 * byte, the number of fit() calls seen (saturating), to prove state travels.
 * Extension mmgen.constraint/1: "eos" only after at least one token. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "plugin_v1.h"

/* Status numbers as frozen by ABI 1.0. */
enum { ST_OK = 0, ST_NOMEM = 2, ST_FORMAT = 4, ST_RANGE = 8, ST_NOT_FOUND = 14 };

#define V1FX_VOCAB 257
#define V1FX_EOS 256

static const mmg_host_services *host;

typedef struct v1fx {
    uint8_t fits;
} v1fx;

static int fx_init(const mmg_host_services *services) {
    host = services;
    return ST_OK;
}

static void fx_deinit(void) { host = NULL; }

static int fx_create(const char *config_json, size_t config_size, void **out_instance) {
    v1fx *fx = host->alloc(sizeof *fx);
    if (!fx) return host->error(ST_NOMEM, "out of memory");
    fx->fits = 0;
    *out_instance = fx;
    return ST_OK;
}

static void fx_destroy(void *instance) { host->free(instance); }

static int fx_fit(void *instance, const mmg_plugin_document *docs, size_t n_docs) {
    v1fx *fx = instance;
    if (fx->fits < 255) fx->fits++;
    return ST_OK;
}

static int fx_save_state(void *instance, uint8_t **out_bytes, size_t *out_size) {
    uint8_t *b = host->alloc(5);
    if (!b) return host->error(ST_NOMEM, "out of memory");
    memcpy(b, "V1FX", 4);
    b[4] = ((v1fx *)instance)->fits;
    *out_bytes = b;
    *out_size = 5;
    return ST_OK;
}

static int fx_load_state(void *instance, const uint8_t *bytes, size_t size) {
    if (size != 5 || memcmp(bytes, "V1FX", 4) != 0)
        return host->error(ST_FORMAT, "not a v1fixture state");
    ((v1fx *)instance)->fits = bytes[4];
    return ST_OK;
}

static int fx_encode(void *instance, const uint8_t *doc, size_t doc_size, int32_t **out_ids,
                     size_t *out_count) {
    int32_t *ids = host->alloc(doc_size * sizeof *ids);
    if (!ids) return host->error(ST_NOMEM, "out of memory");
    for (size_t i = 0; i < doc_size; i++) ids[i] = doc[i];
    *out_ids = ids;
    *out_count = doc_size;
    return ST_OK;
}

static int fx_decode(void *instance, const int32_t *ids, size_t count, uint8_t **out_doc,
                     size_t *out_size) {
    uint8_t *doc = host->alloc(count);
    if (!doc) return host->error(ST_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= V1FX_VOCAB) {
            host->free(doc);
            return host->error(ST_RANGE, "token %d out of range", (int)ids[i]);
        }
        if (ids[i] != V1FX_EOS) doc[n++] = (uint8_t)ids[i];
    }
    *out_doc = doc;
    *out_size = n;
    return ST_OK;
}

static int32_t fx_vocab_size(void *instance) { return V1FX_VOCAB; }

static int fx_special_token(void *instance, const char *name, int32_t *out_id) {
    if (strcmp(name, "eos") != 0) return host->error(ST_NOT_FOUND, "only eos");
    *out_id = V1FX_EOS;
    return ST_OK;
}

static int fx_describe_token(void *instance, int32_t id, char *buf, size_t buf_size,
                             size_t *out_length) {
    int n = id == V1FX_EOS ? snprintf(buf, buf_size, "<eos>")
                           : snprintf(buf, buf_size, "v1 byte %d", (int)id);
    *out_length = (size_t)n;
    return ST_OK;
}

static int fx_allowed_next(void *instance, const int32_t *tokens, size_t n_tokens,
                           uint8_t *allowed, size_t vocab_size) {
    if (n_tokens == 0 && vocab_size > V1FX_EOS) allowed[V1FX_EOS] = 0;
    return ST_OK;
}

static const mmg_ext_constraint_v1 fx_constraint = {sizeof fx_constraint, fx_allowed_next};

static const void *fx_get_extension(void *instance, const char *id) {
    return strcmp(id, MMG_EXT_CONSTRAINT_V1) == 0 ? &fx_constraint : NULL;
}

static const mmg_plugin_descriptor fx_descriptor = {
    sizeof(mmg_plugin_descriptor),
    MMG_PLUGIN_ABI_VERSION,
    "v1fixture",
    "1.0.0",
    MMG_MODALITY_OTHER,
    "frozen ABI 1.0 fixture",
    fx_init,
    fx_deinit,
    fx_create,
    fx_destroy,
    fx_fit,
    fx_save_state,
    fx_load_state,
    fx_encode,
    fx_decode,
    fx_vocab_size,
    fx_special_token,
    fx_describe_token,
    fx_get_extension,
};

MMG_PLUGIN_EXPORT const mmg_plugin_descriptor *mmg_plugin_entry_v1(void);
const mmg_plugin_descriptor *mmg_plugin_entry_v1(void) { return &fx_descriptor; }
