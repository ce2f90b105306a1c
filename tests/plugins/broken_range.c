/* tests/plugins/broken_range.c - a plugin that loads and works well enough to
 * be checked, but breaks two rules on purpose, so that tests can see
 * `mmgen plugin check` point at them (tests/check_plugin_validator.sh):
 *
 *   - encode appends the id vocab_size (one past the last id) to every
 *     document: `FAIL encode-bounds`;
 *   - decode of token BROKEN_CRASH_ID dereferences NULL: `FAIL
 *     decode-single-ids: ... crashed`.
 *
 * Otherwise a byte tokenizer: byte b is token b, token 256 is "eos". */
#include <string.h>

#include "mmgen/plugin.h"

#define BROKEN_VOCAB 257
#define BROKEN_EOS 256
#define BROKEN_CRASH_ID 7

static const mmg_host_services *host;

static int br_init(const mmg_host_services *services) {
    host = services;
    return MMG_OK;
}

static void br_deinit(void) { host = NULL; }

static int br_create(const char *config_json, size_t config_size, void **out_instance) {
    (void)config_json;
    (void)config_size;
    void *instance = host->alloc(1);
    if (!instance) return host->error(MMG_ERR_NOMEM, "out of memory");
    *out_instance = instance;
    return MMG_OK;
}

static void br_destroy(void *instance) { host->free(instance); }

static int br_save_state(void *instance, uint8_t **out_bytes, size_t *out_size) {
    (void)instance;
    uint8_t *b = host->alloc(1);
    if (!b) return host->error(MMG_ERR_NOMEM, "out of memory");
    b[0] = 'B';
    *out_bytes = b;
    *out_size = 1;
    return MMG_OK;
}

static int br_load_state(void *instance, const uint8_t *bytes, size_t size) {
    (void)instance;
    if (size != 1 || bytes[0] != 'B') return host->error(MMG_ERR_FORMAT, "not a broken-range state");
    return MMG_OK;
}

static int br_encode(void *instance, const uint8_t *doc, size_t doc_size, int32_t **out_ids,
                     size_t *out_count) {
    (void)instance;
    int32_t *ids = host->alloc((doc_size + 1) * sizeof *ids);
    if (!ids) return host->error(MMG_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < doc_size; i++) ids[i] = doc[i];
    ids[doc_size] = BROKEN_VOCAB; /* the bug: one past the vocabulary */
    *out_ids = ids;
    *out_count = doc_size + 1;
    return MMG_OK;
}

static int br_decode(void *instance, const int32_t *ids, size_t count, uint8_t **out_doc,
                     size_t *out_size) {
    (void)instance;
    uint8_t *doc = host->alloc(count);
    if (!doc) return host->error(MMG_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= BROKEN_VOCAB) {
            host->free(doc);
            return host->error(MMG_ERR_RANGE, "token %d is outside the vocabulary", (int)ids[i]);
        }
        if (ids[i] == BROKEN_CRASH_ID) {
            volatile uint8_t *null = NULL; /* the bug: a crash on one valid id */
            doc[n++] = *null;
            continue;
        }
        if (ids[i] != BROKEN_EOS) doc[n++] = (uint8_t)ids[i];
    }
    *out_doc = doc;
    *out_size = n;
    return MMG_OK;
}

static int32_t br_vocab_size(void *instance) {
    (void)instance;
    return BROKEN_VOCAB;
}

static int br_special_token(void *instance, const char *name, int32_t *out_id) {
    (void)instance;
    if (strcmp(name, "eos") != 0) return host->error(MMG_ERR_NOT_FOUND, "only 'eos'");
    *out_id = BROKEN_EOS;
    return MMG_OK;
}

static int br_describe_token(void *instance, int32_t id, char *buf, size_t buf_size,
                             size_t *out_length) {
    (void)instance;
    if (id < 0 || id >= BROKEN_VOCAB) return host->error(MMG_ERR_RANGE, "token %d", (int)id);
    const char *text = id == BROKEN_EOS ? "<eos>" : "byte";
    size_t n = strlen(text);
    if (buf_size) {
        size_t k = n < buf_size - 1 ? n : buf_size - 1;
        memcpy(buf, text, k);
        buf[k] = '\0';
    }
    *out_length = n;
    return MMG_OK;
}

static const mmg_plugin_descriptor br_descriptor = {
    .struct_size = sizeof(mmg_plugin_descriptor),
    .abi_version = MMG_PLUGIN_ABI_VERSION,
    .name = "broken-range",
    .version = "0.0.1",
    .modality = MMG_MODALITY_TEXT,
    .description = "breaks encode's bounds and crashes in decode (for tests)",
    .init = br_init,
    .deinit = br_deinit,
    .create = br_create,
    .destroy = br_destroy,
    .save_state = br_save_state,
    .load_state = br_load_state,
    .encode = br_encode,
    .decode = br_decode,
    .vocab_size = br_vocab_size,
    .special_token = br_special_token,
    .describe_token = br_describe_token,
};

MMG_PLUGIN_EXPORT const mmg_plugin_descriptor *mmg_plugin_entry_v1(void);
const mmg_plugin_descriptor *mmg_plugin_entry_v1(void) { return &br_descriptor; }
