/* plugins/text/plugin.c - the text plugin's ABI glue: configuration, the
 * descriptor, encode/decode, special tokens, and the stream_decode and
 * constraint extensions. The engine lives in the other files of this folder.
 *
 * Configuration (JSON; every key optional, unknown keys are an error):
 *   {"vocab": "gpt2", "encoder_json": path, "vocab_bpe": path}   GPT-2's files
 *   {"tiktoken": path, "pattern": "gpt2" | "cl100k"}             a rank file
 *       (pattern defaults to cl100k for a file named cl100k*, else gpt2)
 *   {"vocab_size": 4096, "pattern": "gpt2", "min_frequency": 1}  learned by fit
 *   "special_tokens": ["<|image|>", ...] appended after the vocabulary, or
 *                     {"<|im_start|>": 100264, ...} at given ids
 *   "default_special_tokens": false    drops the vocabulary's own specials
 *   "bos", "eos", "pad": special token names (default "<|endoftext|>")
 * The vocabulary's own special tokens are tiktoken's: <|endoftext|> 50256 for
 * GPT-2, r50k and p50k; <|endoftext|> 100257, <|fim_prefix|> 100258,
 * <|fim_middle|> 100259, <|fim_suffix|> 100260, <|endofprompt|> 100276 for
 * cl100k; for any other rank file and for a learned vocabulary, <|endoftext|>
 * right after the last token.
 * Special tokens reach a token stream only through special_token(); encode
 * never parses them out of a document. Decoding a special token gives its
 * name's bytes, as tiktoken's decode does.
 *
 * No config (NULL, or empty text) makes a tokenizer without a vocabulary,
 * waiting for load_state: a saved state is self-contained (tokens, merges
 * by rank, pattern, special tokens and bos/eos/pad), so restoring one never
 * needs the vocabulary files or the config it was first made with. An
 * explicit config without a vocabulary source ({}) is still an error. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "decode.h"
#include "host.h"
#include "mmgen/plugin.h"
#include "pretokenize.h"
#include "state.h"
#include "train.h"
#include "unicode.h"
#include "vocab.h"
#include "vocab_files.h"

typedef struct special_cfg {
    char *name;
    int32_t id; /* -1: next free id */
} special_cfg;

typedef struct text_tok {
    txt_vocab vocab;
    int has_vocab;
    txt_pattern pattern;
    int32_t fit_vocab_size;  /* 0 when the vocabulary comes from files */
    int64_t min_frequency;
    int default_specials;
    special_cfg *specials;   /* from the config, added after the vocabulary's own */
    size_t n_specials;
    char *alias_name[3];     /* bos, eos, pad: special token names */
    txt_bpe_scratch scratch;
} text_tok;

static const char *const ALIASES[3] = {"bos", "eos", "pad"};
static const txt_state_format STATE_FORMAT = {"mmgen-text-bpe\n", TXT_PATTERN_CL100K};

static int text_init(const mmg_host_services *host) {
    if (!host || !host->alloc || !host->realloc || !host->free || !host->log || !host->error)
        return MMG_ERR_INVALID_ARG;
    txt_host = host;
    txt_module = "text";
    return 0;
}

static void text_deinit(void) {}

static char *dup_string(const char *s) {
    size_t n = strlen(s);
    char *d = txt_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

static void text_destroy(void *instance) {
    text_tok *t = instance;
    if (!t) return;
    txt_vocab_clear(&t->vocab);
    txt_bpe_scratch_free(&t->scratch);
    for (size_t i = 0; i < t->n_specials; i++) txt_free(t->specials[i].name);
    txt_free(t->specials);
    for (int i = 0; i < 3; i++) txt_free(t->alias_name[i]);
    txt_free(t);
}

/* Adds the vocabulary's own special tokens, then the configured ones, then
 * the aliases. */
static int add_specials(text_tok *t, txt_vocab *v, int from_files) {
    int rc = 0;
    if (t->default_specials && !from_files) {
        /* A learned vocabulary: <|endoftext|> right after the merges. */
        rc = txt_vocab_add_special(v, "<|endoftext|>", -1);
    } else if (t->default_specials && txt_vocab_special(v, "<|endoftext|>") < 0) {
        static const struct { const char *name; int32_t id; } cl100k[] = {
            {"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258}, {"<|fim_middle|>", 100259},
            {"<|fim_suffix|>", 100260}, {"<|endofprompt|>", 100276}};
        /* tiktoken's ids for its own files; after the ranks for other files. */
        if (t->pattern == TXT_PATTERN_CL100K && v->n_ids == 100256) {
            for (size_t i = 0; i < sizeof cl100k / sizeof cl100k[0] && !rc; i++)
                rc = txt_vocab_add_special(v, cl100k[i].name, cl100k[i].id);
        } else if (t->pattern == TXT_PATTERN_GPT2 && v->n_ids >= 50256 && v->n_ids <= 50281 &&
                   (v->n_ids == 50256 || v->len[50256] == TXT_NO_TOKEN)) {
            rc = txt_vocab_add_special(v, "<|endoftext|>", 50256);
        } else {
            rc = txt_vocab_add_special(v, "<|endoftext|>", -1);
        }
    }
    for (size_t i = 0; i < t->n_specials && !rc; i++)
        rc = txt_vocab_add_special(v, t->specials[i].name, t->specials[i].id);
    for (int a = 0; a < 3 && !rc; a++) {
        const char *name = t->alias_name[a] ? t->alias_name[a] : "<|endoftext|>";
        int32_t id = -1;
        for (size_t i = 0; i < v->n_special; i++)
            if (strcmp(v->special[i].name, name) == 0) id = v->special[i].id;
        if (id < 0) {
            if (!t->alias_name[a]) continue; /* no <|endoftext|>: no default alias */
            rc = txt_error(MMG_ERR_CONFIG, "text config: \"%s\" names \"%s\", which is not a special token",
                           ALIASES[a], name);
            break;
        }
        rc = txt_vocab_set_alias(v, ALIASES[a], id);
    }
    return rc;
}

static int parse_specials(text_tok *t, const cJSON *item) {
    size_t n = (size_t)cJSON_GetArraySize(item);
    if (!cJSON_IsArray(item) && !cJSON_IsObject(item))
        return txt_error(MMG_ERR_CONFIG, "text config: \"special_tokens\" must be an array of names or an object name -> id");
    t->specials = txt_calloc(n ? n : 1, sizeof *t->specials);
    if (!t->specials) return txt_error(MMG_ERR_NOMEM, "text: out of memory for the config");
    for (const cJSON *e = item->child; e; e = e->next) {
        const char *name = cJSON_IsArray(item) ? cJSON_GetStringValue(e) : e->string;
        int32_t id = -1;
        if (cJSON_IsObject(item)) {
            if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= INT32_MAX ||
                e->valuedouble != (double)(int32_t)e->valuedouble)
                return txt_error(MMG_ERR_CONFIG, "text config: special token \"%s\" needs an id in [0, %d)",
                                 name ? name : "", INT32_MAX);
            id = (int32_t)e->valuedouble;
        }
        if (!name || !*name)
            return txt_error(MMG_ERR_CONFIG, "text config: \"special_tokens\" holds an entry that is not a non-empty string");
        t->specials[t->n_specials].name = dup_string(name);
        if (!t->specials[t->n_specials].name) return txt_error(MMG_ERR_NOMEM, "text: out of memory for the config");
        t->specials[t->n_specials++].id = id;
    }
    return 0;
}

static const char *string_field(const cJSON *root, const char *key, int *rc) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) return NULL;
    if (!cJSON_IsString(item) || !item->valuestring[0]) {
        *rc = txt_error(MMG_ERR_CONFIG, "text config: \"%s\" must be a non-empty string", key);
        return NULL;
    }
    return item->valuestring;
}

static int configure(text_tok *t, const cJSON *root) {
    static const char *const known[] = {"vocab", "encoder_json", "vocab_bpe", "tiktoken", "pattern",
                                        "vocab_size", "min_frequency", "special_tokens",
                                        "default_special_tokens", "bos", "eos", "pad"};
    if (!cJSON_IsObject(root)) return txt_error(MMG_ERR_CONFIG, "text config: expected a JSON object");
    for (const cJSON *e = root->child; e; e = e->next) {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k], e->string) != 0) k++;
        if (k == sizeof known / sizeof known[0])
            return txt_error(MMG_ERR_CONFIG,
                             "text config: unknown key \"%s\" (known: vocab, encoder_json, vocab_bpe, "
                             "tiktoken, pattern, vocab_size, min_frequency, special_tokens, "
                             "default_special_tokens, bos, eos, pad)",
                             e->string);
    }
    int rc = 0;
    const char *vocab = string_field(root, "vocab", &rc);
    const char *encoder = string_field(root, "encoder_json", &rc);
    const char *bpe = string_field(root, "vocab_bpe", &rc);
    const char *tiktoken = string_field(root, "tiktoken", &rc);
    const char *pattern = string_field(root, "pattern", &rc);
    for (int a = 0; a < 3 && !rc; a++) {
        const char *name = string_field(root, ALIASES[a], &rc);
        if (name && !(t->alias_name[a] = dup_string(name))) rc = txt_error(MMG_ERR_NOMEM, "text: out of memory");
    }
    if (rc) return rc;
    const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(root, "default_special_tokens");
    if (dflt && !cJSON_IsBool(dflt))
        return txt_error(MMG_ERR_CONFIG, "text config: \"default_special_tokens\" must be true or false");
    t->default_specials = !dflt || cJSON_IsTrue(dflt);
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(root, "special_tokens");
    if (specials && (rc = parse_specials(t, specials))) return rc;

    if (pattern) {
        int p = txt_pattern_from_name(pattern);
        if (p < 0) return txt_error(MMG_ERR_CONFIG, "text config: \"pattern\" is \"%s\"; expected \"gpt2\" or \"cl100k\"", pattern);
        t->pattern = (txt_pattern)p;
    } else if (tiktoken) {
        const char *base = strrchr(tiktoken, '/');
        base = base ? base + 1 : tiktoken;
        t->pattern = strncmp(base, "cl100k", 6) == 0 ? TXT_PATTERN_CL100K : TXT_PATTERN_GPT2;
    }
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(root, "vocab_size");
    const cJSON *minf = cJSON_GetObjectItemCaseSensitive(root, "min_frequency");
    int sources = (vocab || encoder || bpe) + (tiktoken != NULL) + (size != NULL);
    if (sources > 1)
        return txt_error(MMG_ERR_CONFIG, "text config: give one of \"vocab\" (with encoder_json and vocab_bpe), \"tiktoken\" or \"vocab_size\"");
    t->min_frequency = 1;
    if (minf) {
        if (!cJSON_IsNumber(minf) || minf->valuedouble < 1 || minf->valuedouble > 1e15)
            return txt_error(MMG_ERR_CONFIG, "text config: \"min_frequency\" must be a number >= 1");
        t->min_frequency = (int64_t)minf->valuedouble;
    }
    if (size) {
        if (!cJSON_IsNumber(size) || size->valuedouble < 257 || size->valuedouble > 1 << 24)
            return txt_error(MMG_ERR_CONFIG, "text config: \"vocab_size\" must be a number in [257, %d] (256 bytes + merges + special tokens)",
                             1 << 24);
        t->fit_vocab_size = (int32_t)size->valuedouble;
        return 0; /* no vocabulary until fit() or load_state() */
    }
    txt_vocab v;
    txt_vocab_init(&v);
    if (vocab || encoder || bpe) {
        if (!vocab || strcmp(vocab, "gpt2") != 0)
            rc = txt_error(MMG_ERR_CONFIG, "text config: \"vocab\" must be \"gpt2\" (with \"encoder_json\" and \"vocab_bpe\")");
        else if (!encoder || !bpe)
            rc = txt_error(MMG_ERR_CONFIG, "text config: \"vocab\": \"gpt2\" needs both \"encoder_json\" and \"vocab_bpe\" paths");
        else if (t->pattern != TXT_PATTERN_GPT2)
            rc = txt_error(MMG_ERR_CONFIG, "text config: GPT-2's vocabulary goes with the \"gpt2\" pattern");
        if (!rc) rc = txt_load_gpt2(&v, encoder, bpe);
    } else if (tiktoken) {
        rc = txt_load_tiktoken(&v, tiktoken);
    } else {
        txt_vocab_clear(&v);
        return txt_error(MMG_ERR_CONFIG, "text config: no vocabulary; give \"vocab\": \"gpt2\" with its files, \"tiktoken\": path, or \"vocab_size\" to learn one");
    }
    if (!rc) rc = add_specials(t, &v, 1);
    if (!rc) {
        txt_vocab_move(&t->vocab, &v);
        t->has_vocab = 1;
    }
    txt_vocab_clear(&v);
    return rc;
}

static int text_create(const char *config_json, size_t config_size, void **out_instance) {
    if (!out_instance) return txt_error(MMG_ERR_INVALID_ARG, "text: create needs out_instance");
    text_tok *t = txt_calloc(1, sizeof *t);
    if (!t) return txt_error(MMG_ERR_NOMEM, "text: out of memory creating a tokenizer");
    txt_vocab_init(&t->vocab);
    t->default_specials = 1;
    t->min_frequency = 1;
    int rc = 0;
    /* Trailing NULs and whitespace are not part of the config. */
    while (config_json && config_size &&
           (config_json[config_size - 1] == 0 || config_json[config_size - 1] == ' ' ||
            config_json[config_size - 1] == '\n' || config_json[config_size - 1] == '\t' ||
            config_json[config_size - 1] == '\r'))
        config_size--;
    if (!config_json || config_size == 0) {
        /* empty: no vocabulary until load_state() */
    } else {
        const char *end = NULL;
        cJSON *root = cJSON_ParseWithLengthOpts(config_json, config_size, &end, 0);
        if (!root) {
            size_t at = end ? (size_t)(end - config_json) : 0;
            rc = txt_error(MMG_ERR_CONFIG, "text config: invalid JSON near byte %zu", at);
        } else {
            rc = configure(t, root);
            cJSON_Delete(root);
        }
    }
    if (rc) {
        text_destroy(t);
        return rc;
    }
    *out_instance = t;
    return 0;
}

static int text_fit(void *instance, const mmg_plugin_document *docs, size_t n_docs) {
    text_tok *t = instance;
    if (!t || (!docs && n_docs)) return txt_error(MMG_ERR_INVALID_ARG, "text: fit needs a tokenizer and documents");
    if (!t->fit_vocab_size)
        return txt_error(MMG_ERR_STATE, "text: fit needs a tokenizer created with {\"vocab_size\": N}; this one "
                                        "was created from vocabulary files or without a config (for load_state)");
    int32_t n_special = t->default_specials ? 1 : 0;
    for (size_t i = 0; i < t->n_specials; i++) n_special += t->specials[i].id < 0;
    int32_t n_tokens = t->fit_vocab_size - n_special;
    if (n_tokens < 256)
        return txt_error(MMG_ERR_CONFIG, "text config: vocab_size %d leaves no room for 256 bytes and %d special tokens",
                         t->fit_vocab_size, n_special);
    txt_vocab v;
    txt_vocab_init(&v);
    int rc = txt_train(&v, txt_pattern_splitter(t->pattern), docs, n_docs, n_tokens, t->min_frequency);
    if (!rc) rc = add_specials(t, &v, 0);
    if (!rc) {
        txt_vocab_move(&t->vocab, &v);
        t->has_vocab = 1;
        txt_bpe_cache_reset(&t->scratch);
    }
    txt_vocab_clear(&v);
    return rc;
}

static int text_save_state(void *instance, uint8_t **out_bytes, size_t *out_size) {
    text_tok *t = instance;
    if (!t || !out_bytes || !out_size) return txt_error(MMG_ERR_INVALID_ARG, "text: save_state needs a tokenizer and outputs");
    if (!t->has_vocab) return txt_error(MMG_ERR_STATE, "text: nothing to save; fit the tokenizer or load a state first");
    return txt_state_save(&t->vocab, &STATE_FORMAT, (uint32_t)t->pattern, out_bytes, out_size);
}

static int text_load_state(void *instance, const uint8_t *bytes, size_t size) {
    text_tok *t = instance;
    if (!t || (!bytes && size)) return txt_error(MMG_ERR_INVALID_ARG, "text: load_state needs a tokenizer and bytes");
    txt_vocab v;
    txt_vocab_init(&v);
    uint32_t pattern = 0;
    int rc = txt_state_load(&v, &STATE_FORMAT, &pattern, bytes, size);
    if (!rc) {
        txt_vocab_move(&t->vocab, &v);
        t->pattern = (txt_pattern)pattern;
        t->has_vocab = 1;
        txt_bpe_cache_reset(&t->scratch);
    }
    txt_vocab_clear(&v);
    return rc;
}

static int need_vocab(const text_tok *t) {
    if (!t) return txt_error(MMG_ERR_INVALID_ARG, "text: NULL tokenizer");
    if (!t->has_vocab) return txt_error(MMG_ERR_STATE, "text: the tokenizer has no vocabulary yet; fit it or load a state");
    return 0;
}

static int text_encode(void *instance, const uint8_t *doc, size_t doc_size, int32_t **out_ids,
                       size_t *out_count) {
    text_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    if ((!doc && doc_size) || !out_ids || !out_count) return txt_error(MMG_ERR_INVALID_ARG, "text: encode needs a document and outputs");
    txt_ids out = {0};
    /* English averages over 4 bytes per token. */
    rc = txt_ids_reserve(&out, doc_size / 3 + 16);
    if (!rc) rc = txt_bpe_encode(&t->vocab, txt_pattern_splitter(t->pattern), doc, doc_size, &out, &t->scratch);
    if (rc) {
        txt_free(out.ids);
        return rc;
    }
    *out_ids = out.ids;
    *out_count = out.count;
    return 0;
}

static int text_decode(void *instance, const int32_t *ids, size_t count, uint8_t **out_doc,
                       size_t *out_size) {
    text_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    if ((!ids && count) || !out_doc || !out_size) return txt_error(MMG_ERR_INVALID_ARG, "text: decode needs ids and outputs");
    return txt_decode_into(&t->vocab, ids, count, NULL, 0, out_doc, out_size);
}

static int32_t text_vocab_size(void *instance) {
    text_tok *t = instance;
    return t && t->has_vocab ? t->vocab.n_ids : 0;
}

static int text_special_token(void *instance, const char *name, int32_t *out_id) {
    text_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    if (!name || !out_id) return txt_error(MMG_ERR_INVALID_ARG, "text: special_token needs a name and an output");
    int32_t id = txt_vocab_special(&t->vocab, name);
    if (id < 0) return txt_error(MMG_ERR_NOT_FOUND, "text: no special token named \"%s\"", name);
    *out_id = id;
    return 0;
}

/* Byte tokens quoted with C escapes, special tokens as their name
 * (decode.h). */
static int text_describe_token(void *instance, int32_t id, char *buf, size_t buf_size,
                               size_t *out_length) {
    text_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    return txt_describe_token(&t->vocab, id, buf, buf_size, out_length);
}

/* ---- extension: stream_decode (decode.h) ----------------------------------- */

static int stream_create(void *instance, void **out_stream) {
    text_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    if (!out_stream) return txt_error(MMG_ERR_INVALID_ARG, "text: stream_create needs an output");
    return txt_stream_create(&t->vocab, (txt_stream **)out_stream);
}

static void stream_destroy(void *stream) { txt_stream_destroy(stream); }

static int stream_feed(void *stream, const int32_t *ids, size_t count, uint8_t **out, size_t *out_size) {
    if (!stream || (!ids && count) || !out || !out_size) return txt_error(MMG_ERR_INVALID_ARG, "text: stream_feed needs a stream, ids and outputs");
    return txt_stream_feed(stream, ids, count, out, out_size);
}

static int stream_flush(void *stream, uint8_t **out, size_t *out_size) {
    if (!stream || !out || !out_size) return txt_error(MMG_ERR_INVALID_ARG, "text: stream_flush needs a stream and outputs");
    return txt_stream_flush(stream, out, out_size);
}

static const mmg_ext_stream_decode_v1 stream_ext = {
    sizeof(mmg_ext_stream_decode_v1), stream_create, stream_destroy, stream_feed, stream_flush};

/* ---- extension: constraint --------------------------------------------------
 * Any token may follow any other in text; what is never allowed are ids
 * that are no token (gaps in cl100k) and special tokens other than "eos",
 * which ends the document. */
static int allowed_next(void *instance, const int32_t *tokens, size_t n_tokens, uint8_t *allowed,
                        size_t vocab_size) {
    text_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    if (!allowed) return txt_error(MMG_ERR_INVALID_ARG, "text: allowed_next needs a mask");
    const txt_vocab *v = &t->vocab;
    size_t n = vocab_size < (size_t)v->n_ids ? vocab_size : (size_t)v->n_ids;
    for (size_t i = 0; i < n; i++)
        if (v->len[i] == TXT_NO_TOKEN) allowed[i] = 0;
    int32_t eos = txt_vocab_special(v, "eos");
    if (eos >= 0 && (size_t)eos < vocab_size) allowed[eos] = 1;
    return 0;
}

static const mmg_ext_constraint_v1 constraint_ext = {sizeof(mmg_ext_constraint_v1), allowed_next};

static const void *text_get_extension(void *instance, const char *id) {
    if (!id) return NULL;
    if (strcmp(id, MMG_EXT_STREAM_DECODE_V1) == 0) return &stream_ext;
    if (strcmp(id, MMG_EXT_CONSTRAINT_V1) == 0) return &constraint_ext;
    return NULL;
}

static const mmg_plugin_descriptor descriptor = {
    .struct_size = sizeof(mmg_plugin_descriptor),
    .abi_version = MMG_PLUGIN_ABI_VERSION,
    .name = "text",
    .version = "1.0.0",
    .modality = MMG_MODALITY_TEXT,
    .description = "byte-level BPE: GPT-2, r50k, p50k and cl100k vocabularies (tiktoken-exact) or learned",
    .init = text_init,
    .deinit = text_deinit,
    .create = text_create,
    .destroy = text_destroy,
    .fit = text_fit,
    .save_state = text_save_state,
    .load_state = text_load_state,
    .encode = text_encode,
    .decode = text_decode,
    .vocab_size = text_vocab_size,
    .special_token = text_special_token,
    .describe_token = text_describe_token,
    .get_extension = text_get_extension,
};

MMG_PLUGIN_EXPORT const mmg_plugin_descriptor *mmg_plugin_entry_v1(void) { return &descriptor; }
