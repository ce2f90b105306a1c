/* caesar.c - a third-party mmgen plugin: a Caesar-shifted byte tokenizer.
 *
 * Written against the installed <mmgen/plugin.h> alone, as any plugin author
 * would: no libmmgen, everything else comes from the host services at init.
 * Byte b is token (b + shift) mod 256; token 256 is "eos". The shift comes
 * from the config {"shift": N} and is the whole saved state. */
#include <mmgen/plugin.h>

#include <stdlib.h>
#include <string.h>

#define CAESAR_VOCAB 257
#define CAESAR_EOS 256

static const mmg_host_services *host;

typedef struct caesar {
    int shift; /* 0..255 */
} caesar;

static int caesar_init(const mmg_host_services *services) {
    host = services;
    return MMG_OK;
}

static void caesar_deinit(void) { host = NULL; }

static int caesar_create(const char *config_json, size_t config_size, void **out_instance) {
    long shift = 3;
    /* A real plugin would use a JSON parser; one integer field is enough here. */
    char cfg[256];
    if (config_size >= sizeof cfg) return host->error(MMG_ERR_CONFIG, "config too long");
    if (config_size) memcpy(cfg, config_json, config_size);
    cfg[config_size] = '\0';
    const char *key = strstr(cfg, "\"shift\"");
    if (key) {
        const char *colon = strchr(key, ':');
        char *end = NULL;
        shift = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || end == colon + 1 || shift < 0 || shift > 255)
            return host->error(MMG_ERR_CONFIG, "\"shift\" must be an integer in [0, 255]");
    }
    caesar *c = host->alloc(sizeof *c);
    if (!c) return host->error(MMG_ERR_NOMEM, "out of memory");
    c->shift = (int)shift;
    *out_instance = c;
    return MMG_OK;
}

static void caesar_destroy(void *instance) { host->free(instance); }

static int caesar_save_state(void *instance, uint8_t **out_bytes, size_t *out_size) {
    uint8_t *b = host->alloc(1);
    if (!b) return host->error(MMG_ERR_NOMEM, "out of memory");
    b[0] = (uint8_t)((caesar *)instance)->shift;
    *out_bytes = b;
    *out_size = 1;
    return MMG_OK;
}

static int caesar_load_state(void *instance, const uint8_t *bytes, size_t size) {
    if (size != 1) return host->error(MMG_ERR_FORMAT, "a caesar state is 1 byte, not %zu", size);
    ((caesar *)instance)->shift = bytes[0];
    return MMG_OK;
}

static int caesar_encode(void *instance, const uint8_t *doc, size_t doc_size, int32_t **out_ids,
                         size_t *out_count) {
    const caesar *c = instance;
    int32_t *ids = host->alloc(doc_size * sizeof *ids);
    if (!ids) return host->error(MMG_ERR_NOMEM, "out of memory encoding %zu bytes", doc_size);
    for (size_t i = 0; i < doc_size; i++) ids[i] = (doc[i] + c->shift) % 256;
    *out_ids = ids;
    *out_count = doc_size;
    return MMG_OK;
}

static int caesar_decode(void *instance, const int32_t *ids, size_t count, uint8_t **out_doc,
                         size_t *out_size) {
    const caesar *c = instance;
    uint8_t *doc = host->alloc(count);
    if (!doc) return host->error(MMG_ERR_NOMEM, "out of memory decoding");
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= CAESAR_VOCAB) {
            host->free(doc);
            return host->error(MMG_ERR_RANGE, "token %d is not a caesar token", (int)ids[i]);
        }
        if (ids[i] != CAESAR_EOS) doc[n++] = (uint8_t)((ids[i] - c->shift + 256) % 256);
    }
    *out_doc = doc;
    *out_size = n;
    return MMG_OK;
}

static int32_t caesar_vocab_size(void *instance) { return CAESAR_VOCAB; }

static int caesar_special_token(void *instance, const char *name, int32_t *out_id) {
    if (strcmp(name, "eos") != 0)
        return host->error(MMG_ERR_NOT_FOUND, "caesar has only the special token 'eos'");
    *out_id = CAESAR_EOS;
    return MMG_OK;
}

static int caesar_describe_token(void *instance, int32_t id, char *buf, size_t buf_size,
                                 size_t *out_length) {
    const caesar *c = instance;
    const char *eos = "<eos>";
    char text[32];
    size_t n;
    if (id == CAESAR_EOS) {
        n = strlen(eos);
        memcpy(text, eos, n + 1);
    } else {
        int b = (id - c->shift + 256) % 256;
        static const char hex[] = "0123456789abcdef";
        memcpy(text, "byte 0x", 7);
        text[7] = hex[b >> 4];
        text[8] = hex[b & 15];
        text[9] = '\0';
        n = 9;
    }
    if (buf_size) {
        size_t k = n < buf_size - 1 ? n : buf_size - 1;
        memcpy(buf, text, k);
        buf[k] = '\0';
    }
    *out_length = n;
    return MMG_OK;
}

/* mmgen.constraint/1: once eos is out, only eos may follow. */
static int caesar_allowed_next(void *instance, const int32_t *tokens, size_t n_tokens,
                               uint8_t *allowed, size_t vocab_size) {
    if (n_tokens && tokens[n_tokens - 1] == CAESAR_EOS)
        for (size_t i = 0; i < vocab_size && i < CAESAR_EOS; i++) allowed[i] = 0;
    return MMG_OK;
}

static const mmg_ext_constraint_v1 caesar_constraint = {sizeof caesar_constraint,
                                                        caesar_allowed_next};

static const void *caesar_get_extension(void *instance, const char *id) {
    return strcmp(id, MMG_EXT_CONSTRAINT_V1) == 0 ? &caesar_constraint : NULL;
}

static const mmg_plugin_descriptor caesar_descriptor = {
    .struct_size = sizeof(mmg_plugin_descriptor),
    .abi_version = MMG_PLUGIN_ABI_VERSION,
    .name = "caesar",
    .version = "1.0.0",
    .modality = MMG_MODALITY_TEXT,
    .description = "Caesar-shifted bytes (an out-of-tree example plugin)",
    .init = caesar_init,
    .deinit = caesar_deinit,
    .create = caesar_create,
    .destroy = caesar_destroy,
    .fit = NULL, /* nothing to learn */
    .save_state = caesar_save_state,
    .load_state = caesar_load_state,
    .encode = caesar_encode,
    .decode = caesar_decode,
    .vocab_size = caesar_vocab_size,
    .special_token = caesar_special_token,
    .describe_token = caesar_describe_token,
    .get_extension = caesar_get_extension,
};

MMG_PLUGIN_EXPORT const mmg_plugin_descriptor *mmg_plugin_entry_v1(void);
const mmg_plugin_descriptor *mmg_plugin_entry_v1(void) { return &caesar_descriptor; }
