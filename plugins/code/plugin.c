/* plugins/code/plugin.c - the code plugin's ABI glue: configuration, the
 * descriptor, encode (language tag, FIM layouts) and decode, special tokens,
 * and the stream_decode and constraint extensions. Merging, training and the
 * saved state are the text plugin's BPE engine (mmgen_bpe); the pieces come
 * from the code pre-tokenizer (code.h).
 *
 * Configuration (JSON; every key optional, unknown keys are an error):
 *   "vocab_size": 32768     learn a vocabulary of this many ids with fit()
 *                           (special tokens included)
 *   "min_frequency": 1      fit: stop when no pair occurs this often
 *   "lang": "python"        the language of documents that do not say one
 *                           ("none", the default: no tag); it also picks the
 *                           constraint's rules for a stream without a tag
 *   "header": true          every document starts with a header (name=, lang=,
 *                           fim=, context=; see document.c)
 *   "fim_rate": 0.5         share of documents encode() turns into FIM
 *                           training examples (StarCoder's PSM), 0 by default
 *   "fim_seed": 0           seeds the FIM draws (with each document's bytes)
 * A config without "vocab_size" (or no config) makes a tokenizer waiting for
 * load_state; the encode-time keys (lang, header, fim_*) apply to it, so a
 * caller loads a saved state into an instance made with the options it
 * wants.
 *
 * Tokens: [lang] content, where [lang] is <|lang:NAME|> when the document
 * has a language. A FIM training example, middle M = content [a, b):
 *   [lang] <|fim_prefix|> P <|fim_suffix|> S <|fim_middle|> M
 * and a FIM prompt (header fim=prompt:A) stops after <|fim_middle|>; the
 * model writes M and then <|endoftext|>. Each section is encoded on its own.
 * decode() drops language tags and puts FIM sections back in document order
 * (P M S), so decode(encode(x)) == x for every document; stream decoding
 * drops tags and markers and emits sections as they come. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "code.h"
#include "decode.h"
#include "host.h"
#include "mmgen/plugin.h"
#include "state.h"
#include "train.h"
#include "vocab.h"

typedef struct code_tok {
    txt_vocab vocab;
    int has_vocab;
    int32_t fit_vocab_size;  /* 0: no fit; the vocabulary comes from load_state */
    int64_t min_frequency;
    int lang;                /* config "lang": an index, -1 none */
    int header;              /* documents start with a header */
    double fim_rate;
    uint64_t fim_seed;
    code_specials sp;
    txt_bpe_scratch scratch;
    code_constraint *constraint;
} code_tok;

/* Piece cache entries (about 90 bytes each). Code has many more distinct
 * multi-token pieces than prose (whole identifiers, indentation runs), but
 * few of them repeat: on held-out C, 16384 entries leave 2.5% fewer pieces
 * to merge than 4096, and their 1.4 MB, which every new tokenizer zeroes,
 * cost more than that saves. */
#ifndef CODE_CACHE_SIZE
#define CODE_CACHE_SIZE (1 << 12)
#endif

static const txt_state_format STATE_FORMAT = {"mmgen-code-bpe\n", 0};
static const char *const FIXED_NAMES[CODE_N_FIXED] = {"<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>",
                                                       "<|fim_suffix|>"};
static const char *const FIXED_ALIASES[CODE_N_FIXED] = {NULL, "fim_prefix", "fim_middle", "fim_suffix"};

static int code_init(const mmg_host_services *host) {
    if (!host || !host->alloc || !host->realloc || !host->free || !host->log || !host->error)
        return MMG_ERR_INVALID_ARG;
    txt_host = host;
    txt_module = "code";
    return 0;
}

static void code_deinit(void) {}

static void code_destroy(void *instance) {
    code_tok *t = instance;
    if (!t) return;
    txt_vocab_clear(&t->vocab);
    txt_bpe_scratch_free(&t->scratch);
    txt_free(t->sp.lang);
    code_constraint_free(t->constraint);
    txt_free(t);
}

/* ---- configuration ------------------------------------------------------------ */

static int configure(code_tok *t, const cJSON *root) {
    static const char *const known[] = {"vocab_size", "min_frequency", "lang", "header", "fim_rate", "fim_seed"};
    if (!cJSON_IsObject(root)) return txt_error(MMG_ERR_CONFIG, "code config: expected a JSON object");
    for (const cJSON *e = root->child; e; e = e->next) {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k], e->string) != 0) k++;
        if (k == sizeof known / sizeof known[0])
            return txt_error(MMG_ERR_CONFIG, "code config: unknown key \"%s\" (known: vocab_size, min_frequency, "
                                             "lang, header, fim_rate, fim_seed)", e->string);
    }
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(root, "vocab_size");
    int32_t n_special = CODE_N_FIXED + code_n_langs;
    if (size) {
        if (!cJSON_IsNumber(size) || size->valuedouble < 256 + n_special || size->valuedouble > 1 << 24 ||
            size->valuedouble != floor(size->valuedouble))
            return txt_error(MMG_ERR_CONFIG, "code config: \"vocab_size\" must be an integer in [%d, %d] (256 bytes + "
                                             "%d special tokens + merges)", 256 + n_special, 1 << 24, n_special);
        t->fit_vocab_size = (int32_t)size->valuedouble;
    }
    const cJSON *minf = cJSON_GetObjectItemCaseSensitive(root, "min_frequency");
    if (minf) {
        if (!cJSON_IsNumber(minf) || minf->valuedouble < 1 || minf->valuedouble > 1e15)
            return txt_error(MMG_ERR_CONFIG, "code config: \"min_frequency\" must be a number >= 1");
        t->min_frequency = (int64_t)minf->valuedouble;
    }
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(root, "lang");
    if (lang) {
        if (!cJSON_IsString(lang))
            return txt_error(MMG_ERR_CONFIG, "code config: \"lang\" must be a language name such as \"python\", or \"none\"");
        if (strcmp(lang->valuestring, "none") == 0) {
            t->lang = -1;
        } else if ((t->lang = code_lang_find(lang->valuestring, strlen(lang->valuestring))) < 0) {
            char names[512];
            size_t at = 0;
            for (int i = 0; i < code_n_langs && at + 20 < sizeof names; i++)
                at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "", code_langs[i].name);
            return txt_error(MMG_ERR_CONFIG, "code config: unknown language \"%s\" in \"lang\" (known: %s; or none)",
                             lang->valuestring, names);
        }
    }
    const cJSON *header = cJSON_GetObjectItemCaseSensitive(root, "header");
    if (header) {
        if (!cJSON_IsBool(header)) return txt_error(MMG_ERR_CONFIG, "code config: \"header\" must be true or false");
        t->header = cJSON_IsTrue(header);
    }
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(root, "fim_rate");
    if (rate) {
        if (!cJSON_IsNumber(rate) || !(rate->valuedouble >= 0 && rate->valuedouble <= 1))
            return txt_error(MMG_ERR_CONFIG, "code config: \"fim_rate\" must be a number in [0, 1]");
        t->fim_rate = rate->valuedouble;
    }
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "fim_seed");
    if (seed) {
        if (!cJSON_IsNumber(seed) || seed->valuedouble < 0 || seed->valuedouble > 9007199254740992.0 ||
            seed->valuedouble != floor(seed->valuedouble))
            return txt_error(MMG_ERR_CONFIG, "code config: \"fim_seed\" must be an integer in [0, 2^53]");
        t->fim_seed = (uint64_t)seed->valuedouble;
    }
    return 0;
}

static int code_create(const char *config_json, size_t config_size, void **out_instance) {
    if (!out_instance) return txt_error(MMG_ERR_INVALID_ARG, "code: create needs out_instance");
    code_tok *t = txt_calloc(1, sizeof *t);
    if (!t) return txt_error(MMG_ERR_NOMEM, "code: out of memory creating a tokenizer");
    txt_vocab_init(&t->vocab);
    t->min_frequency = 1;
    t->lang = -1;
    t->scratch.cache_size = CODE_CACHE_SIZE;
    int rc = 0;
    /* Trailing NULs and whitespace are not part of the config. */
    while (config_json && config_size &&
           (config_json[config_size - 1] == 0 || config_json[config_size - 1] == ' ' ||
            config_json[config_size - 1] == '\n' || config_json[config_size - 1] == '\t' ||
            config_json[config_size - 1] == '\r'))
        config_size--;
    if (config_json && config_size) {
        const char *end = NULL;
        cJSON *root = cJSON_ParseWithLengthOpts(config_json, config_size, &end, 0);
        if (!root) {
            rc = txt_error(MMG_ERR_CONFIG, "code config: invalid JSON near byte %zu",
                           end ? (size_t)(end - config_json) : (size_t)0);
        } else {
            rc = configure(t, root);
            cJSON_Delete(root);
        }
    }
    if (rc) {
        code_destroy(t);
        return rc;
    }
    *out_instance = t;
    return 0;
}

/* ---- vocabulary -------------------------------------------------------------- */

/* Finds the special tokens in a new vocabulary; a state without the fixed
 * ones is not a code tokenizer's. */
static int resolve_specials(const txt_vocab *v, code_specials *sp) {
    sp->lang = txt_malloc((size_t)code_n_langs * sizeof *sp->lang);
    if (!sp->lang) return txt_error(MMG_ERR_NOMEM, "code: out of memory");
    sp->min_id = v->n_ids;
    for (int k = 0; k < CODE_N_FIXED; k++) {
        sp->fixed[k] = txt_vocab_special(v, FIXED_NAMES[k]);
        if (sp->fixed[k] < 0)
            return txt_error(MMG_ERR_FORMAT, "code state: no %s token; not a code tokenizer's state", FIXED_NAMES[k]);
        if (sp->fixed[k] < sp->min_id) sp->min_id = sp->fixed[k];
    }
    for (int k = 0; k < code_n_langs; k++) {
        char name[64];
        snprintf(name, sizeof name, "<|lang:%s|>", code_langs[k].name);
        sp->lang[k] = txt_vocab_special(v, name);
        if (sp->lang[k] >= 0 && sp->lang[k] < sp->min_id) sp->min_id = sp->lang[k];
    }
    return 0;
}

/* Takes v as the tokenizer's vocabulary (v is left empty). */
static int adopt(code_tok *t, txt_vocab *v) {
    code_specials sp = {0};
    int rc = resolve_specials(v, &sp);
    if (rc) {
        txt_free(sp.lang);
        return rc;
    }
    txt_vocab_move(&t->vocab, v);
    txt_free(t->sp.lang);
    t->sp = sp;
    t->has_vocab = 1;
    txt_bpe_cache_reset(&t->scratch);
    code_constraint_reset(t->constraint);
    return 0;
}

static int code_fit(void *instance, const mmg_plugin_document *docs, size_t n_docs) {
    code_tok *t = instance;
    if (!t || (!docs && n_docs)) return txt_error(MMG_ERR_INVALID_ARG, "code: fit needs a tokenizer and documents");
    if (!t->fit_vocab_size)
        return txt_error(MMG_ERR_STATE, "code: fit needs a tokenizer created with {\"vocab_size\": N}");
    int32_t n_special = CODE_N_FIXED + code_n_langs;
    txt_vocab v;
    txt_vocab_init(&v);
    int rc = txt_train(&v, code_piece_end, docs, n_docs, t->fit_vocab_size - n_special, t->min_frequency);
    for (int k = 0; k < CODE_N_FIXED && !rc; k++) rc = txt_vocab_add_special(&v, FIXED_NAMES[k], -1);
    for (int k = 0; k < code_n_langs && !rc; k++) {
        char name[64];
        snprintf(name, sizeof name, "<|lang:%s|>", code_langs[k].name);
        rc = txt_vocab_add_special(&v, name, -1);
    }
    static const char *const eot_aliases[] = {"bos", "eos", "pad"};
    for (int a = 0; a < 3 && !rc; a++) rc = txt_vocab_set_alias(&v, eot_aliases[a], txt_vocab_special(&v, FIXED_NAMES[CODE_EOT]));
    for (int k = 1; k < CODE_N_FIXED && !rc; k++) rc = txt_vocab_set_alias(&v, FIXED_ALIASES[k], txt_vocab_special(&v, FIXED_NAMES[k]));
    if (!rc) rc = adopt(t, &v);
    txt_vocab_clear(&v);
    return rc;
}

static int code_save_state(void *instance, uint8_t **out_bytes, size_t *out_size) {
    code_tok *t = instance;
    if (!t || !out_bytes || !out_size) return txt_error(MMG_ERR_INVALID_ARG, "code: save_state needs a tokenizer and outputs");
    if (!t->has_vocab) return txt_error(MMG_ERR_STATE, "code: nothing to save; fit the tokenizer or load a state first");
    return txt_state_save(&t->vocab, &STATE_FORMAT, 0, out_bytes, out_size);
}

static int code_load_state(void *instance, const uint8_t *bytes, size_t size) {
    code_tok *t = instance;
    if (!t || (!bytes && size)) return txt_error(MMG_ERR_INVALID_ARG, "code: load_state needs a tokenizer and bytes");
    if (size >= TXT_STATE_MAGIC_LEN && memcmp(bytes, "mmgen-text-bpe\n", TXT_STATE_MAGIC_LEN) == 0)
        return txt_error(MMG_ERR_FORMAT, "code state: this is the text plugin's state (\"mmgen-text-bpe\"); the code "
                                         "plugin reads states it saved itself (fit with --plugin code)");
    txt_vocab v;
    txt_vocab_init(&v);
    uint32_t pattern = 0;
    int rc = txt_state_load(&v, &STATE_FORMAT, &pattern, bytes, size);
    if (!rc) rc = adopt(t, &v);
    txt_vocab_clear(&v);
    return rc;
}

static int need_vocab(const code_tok *t) {
    if (!t) return txt_error(MMG_ERR_INVALID_ARG, "code: NULL tokenizer");
    if (!t->has_vocab) return txt_error(MMG_ERR_STATE, "code: the tokenizer has no vocabulary yet; fit it or load a state");
    return 0;
}

/* ---- encode --------------------------------------------------------------------- */

static int push_id(txt_ids *out, int32_t id) {
    int rc = txt_ids_reserve(out, 1);
    if (!rc) out->ids[out->count++] = id;
    return rc;
}

static int encode_doc(code_tok *t, const uint8_t *doc, size_t doc_size, txt_ids *out) {
    code_doc_opts o = {-2, CODE_FIM_DEFAULT, 0, 0, 0};
    size_t at = 0;
    int rc = 0;
    if (t->header && (rc = code_parse_header(doc, doc_size, &o, &at))) return rc;
    const uint8_t *p = doc + at;
    size_t n = doc_size - at;
    int lang = o.lang != -2 ? o.lang : t->lang;
    if (lang >= 0) {
        if (t->sp.lang[lang] < 0)
            return txt_error(MMG_ERR_NOT_FOUND, "code: this tokenizer's vocabulary has no <|lang:%s|> tag",
                             code_langs[lang].name);
        if ((rc = push_id(out, t->sp.lang[lang]))) return rc;
    }
    if (o.fim == CODE_FIM_DEFAULT && code_fim_draw(p, n, t->fim_rate, t->fim_seed, &o.fim_a, &o.fim_b))
        o.fim = CODE_FIM_PSM;
    const txt_vocab *v = &t->vocab;
    if (o.fim == CODE_FIM_PSM || o.fim == CODE_FIM_PROMPT) {
        size_t a = o.fim_a, b = o.fim == CODE_FIM_PSM ? o.fim_b : a; /* a prompt has no middle */
        if ((rc = push_id(out, t->sp.fixed[CODE_FIM_PREFIX])) ||
            (rc = txt_bpe_encode(v, code_piece_end, p, a, out, &t->scratch)) ||
            (rc = push_id(out, t->sp.fixed[CODE_FIM_SUFFIX])) ||
            (rc = txt_bpe_encode(v, code_piece_end, p + b, n - b, out, &t->scratch)) ||
            (rc = push_id(out, t->sp.fixed[CODE_FIM_MIDDLE])))
            return rc;
        if (o.fim == CODE_FIM_PROMPT) {
            /* The CLI adds bos, and the model needs room for one token at least. */
            if (o.context && (int64_t)out->count + 2 > o.context)
                return txt_error(MMG_ERR_LIMIT, "code: the FIM prompt is %zu tokens (prefix %zu bytes, suffix %zu "
                                                "bytes); with bos and one token to generate it needs a context of "
                                                "%zu, the model's is %lld",
                                 out->count, a, n - b, out->count + 2, (long long)o.context);
            return 0;
        }
        return txt_bpe_encode(v, code_piece_end, p + a, b - a, out, &t->scratch);
    }
    return txt_bpe_encode(v, code_piece_end, p, n, out, &t->scratch);
}

static int code_encode(void *instance, const uint8_t *doc, size_t doc_size, int32_t **out_ids,
                       size_t *out_count) {
    code_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    if ((!doc && doc_size) || !out_ids || !out_count)
        return txt_error(MMG_ERR_INVALID_ARG, "code: encode needs a document and outputs");
    txt_ids out = {0};
    /* Code averages about 4 bytes per token. */
    rc = txt_ids_reserve(&out, doc_size / 3 + 16);
    if (!rc) rc = encode_doc(t, doc ? doc : (const uint8_t *)"", doc_size, &out);
    if (rc) {
        txt_free(out.ids);
        return rc;
    }
    *out_ids = out.ids;
    *out_count = out.count;
    return 0;
}

/* ---- decode --------------------------------------------------------------------- */

static int is_lang_tag(const code_tok *t, int32_t id) {
    if (id < t->sp.min_id) return 0;
    for (int k = 0; k < code_n_langs; k++)
        if (t->sp.lang[k] == id) return 1;
    return 0;
}

static int check_ids(const code_tok *t, const int32_t *ids, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p;
        size_t n;
        int rc = txt_token_bytes(&t->vocab, ids[i], &p, &n);
        if (rc) return rc;
    }
    return 0;
}

static int code_decode(void *instance, const int32_t *ids, size_t count, uint8_t **out_doc,
                       size_t *out_size) {
    code_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    if ((!ids && count) || !out_doc || !out_size) return txt_error(MMG_ERR_INVALID_ARG, "code: decode needs ids and outputs");
    if ((rc = check_ids(t, ids, count))) return rc;
    int32_t *kept = txt_malloc((count ? count : 1) * sizeof *kept);
    if (!kept) return txt_error(MMG_ERR_NOMEM, "code: out of memory decoding %zu tokens", count);
    /* Without tags; where the FIM markers are, in that order. */
    size_t n = 0, mark[3] = {0}, seen[3] = {0};
    int ordered = 1;
    for (size_t i = 0; i < count; i++) {
        if (is_lang_tag(t, ids[i])) continue;
        for (int k = 0; k < 3; k++) {
            if (ids[i] != t->sp.fixed[CODE_FIM_PREFIX + k]) continue;
            /* prefix, middle, suffix are fixed[1..3]; document order wants prefix, suffix, middle */
            int step = k == 0 ? 0 : k == 2 ? 1 : 2;
            if (seen[step] || (step > 0 && !seen[step - 1])) ordered = 0;
            seen[step]++;
            mark[step] = n;
        }
        kept[n++] = ids[i];
    }
    uint8_t *buf = NULL;
    size_t size = 0;
    if (ordered && seen[0]) {
        /* before <fim_prefix> | P | <fim_suffix> S | <fim_middle> M  ->  before P M S */
        size_t p0 = mark[0] + 1, p1 = seen[1] ? mark[1] : n;
        size_t s0 = seen[1] ? mark[1] + 1 : n, s1 = seen[2] ? mark[2] : n;
        size_t m0 = seen[2] ? mark[2] + 1 : n;
        int32_t *order = txt_malloc((n ? n : 1) * sizeof *order);
        if (!order) {
            txt_free(kept);
            return txt_error(MMG_ERR_NOMEM, "code: out of memory decoding %zu tokens", count);
        }
        size_t o = 0;
        memcpy(order + o, kept, mark[0] * sizeof *order), o += mark[0];
        memcpy(order + o, kept + p0, (p1 - p0) * sizeof *order), o += p1 - p0;
        memcpy(order + o, kept + m0, (n - m0) * sizeof *order), o += n - m0;
        memcpy(order + o, kept + s0, (s1 - s0) * sizeof *order), o += s1 - s0;
        rc = txt_decode_into(&t->vocab, order, o, NULL, 0, &buf, &size);
        txt_free(order);
    } else {
        rc = txt_decode_into(&t->vocab, kept, n, NULL, 0, &buf, &size);
    }
    txt_free(kept);
    if (rc) return rc;
    *out_doc = buf;
    *out_size = size;
    return 0;
}

static int32_t code_vocab_size(void *instance) {
    code_tok *t = instance;
    return t && t->has_vocab ? t->vocab.n_ids : 0;
}

/* Names: bos, eos, pad, fim_prefix, fim_middle, fim_suffix, lang:NAME, or a
 * special token's own name (<|lang:c|>). */
static int code_special_token(void *instance, const char *name, int32_t *out_id) {
    code_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    if (!name || !out_id) return txt_error(MMG_ERR_INVALID_ARG, "code: special_token needs a name and an output");
    int32_t id = txt_vocab_special(&t->vocab, name);
    if (id < 0 && strncmp(name, "lang:", 5) == 0) {
        int k = code_lang_find(name + 5, strlen(name + 5));
        if (k < 0)
            return txt_error(MMG_ERR_NOT_FOUND, "code: unknown language \"%s\" (see plugins/code/lang.c)", name + 5);
        id = t->sp.lang[k];
    }
    if (id < 0) return txt_error(MMG_ERR_NOT_FOUND, "code: no special token named \"%s\"", name);
    *out_id = id;
    return 0;
}

static int code_describe_token(void *instance, int32_t id, char *buf, size_t buf_size, size_t *out_length) {
    code_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    return txt_describe_token(&t->vocab, id, buf, buf_size, out_length);
}

/* ---- extension: stream_decode ------------------------------------------------
 * Tags and FIM markers produce no bytes; content comes out in token order. */

typedef struct code_stream {
    txt_stream *inner;
    const code_tok *tok;
} code_stream;

static int stream_create(void *instance, void **out_stream) {
    code_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    if (!out_stream) return txt_error(MMG_ERR_INVALID_ARG, "code: stream_create needs an output");
    code_stream *s = txt_calloc(1, sizeof *s);
    if (!s) return txt_error(MMG_ERR_NOMEM, "code: out of memory for a decoding stream");
    if ((rc = txt_stream_create(&t->vocab, &s->inner))) {
        txt_free(s);
        return rc;
    }
    s->tok = t;
    *out_stream = s;
    return 0;
}

static void stream_destroy(void *stream) {
    code_stream *s = stream;
    if (!s) return;
    txt_stream_destroy(s->inner);
    txt_free(s);
}

static int stream_feed(void *stream, const int32_t *ids, size_t count, uint8_t **out, size_t *out_size) {
    code_stream *s = stream;
    if (!s || (!ids && count) || !out || !out_size)
        return txt_error(MMG_ERR_INVALID_ARG, "code: stream_feed needs a stream, ids and outputs");
    const code_tok *t = s->tok;
    int rc = check_ids(t, ids, count);
    if (rc) return rc;
    int32_t *kept = txt_malloc((count ? count : 1) * sizeof *kept);
    if (!kept) return txt_error(MMG_ERR_NOMEM, "code: out of memory decoding %zu tokens", count);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        int32_t id = ids[i];
        if (is_lang_tag(t, id) || id == t->sp.fixed[CODE_FIM_PREFIX] || id == t->sp.fixed[CODE_FIM_SUFFIX] ||
            id == t->sp.fixed[CODE_FIM_MIDDLE])
            continue;
        kept[n++] = id;
    }
    rc = txt_stream_feed(s->inner, kept, n, out, out_size);
    txt_free(kept);
    return rc;
}

static int stream_flush(void *stream, uint8_t **out, size_t *out_size) {
    code_stream *s = stream;
    if (!s || !out || !out_size) return txt_error(MMG_ERR_INVALID_ARG, "code: stream_flush needs a stream and outputs");
    return txt_stream_flush(s->inner, out, out_size);
}

static const mmg_ext_stream_decode_v1 stream_ext = {
    sizeof(mmg_ext_stream_decode_v1), stream_create, stream_destroy, stream_feed, stream_flush};

/* ---- extension: constraint (constraint.c) ------------------------------------ */

static int allowed_next(void *instance, const int32_t *tokens, size_t n_tokens, uint8_t *allowed,
                        size_t vocab_size) {
    code_tok *t = instance;
    int rc = need_vocab(t);
    if (rc) return rc;
    return code_allowed_next(&t->constraint, &t->vocab, &t->sp, t->lang, tokens, n_tokens, allowed, vocab_size);
}

static const mmg_ext_constraint_v1 constraint_ext = {sizeof(mmg_ext_constraint_v1), allowed_next};

static const void *code_get_extension(void *instance, const char *id) {
    (void)instance;
    if (!id) return NULL;
    if (strcmp(id, MMG_EXT_STREAM_DECODE_V1) == 0) return &stream_ext;
    if (strcmp(id, MMG_EXT_CONSTRAINT_V1) == 0) return &constraint_ext;
    return NULL;
}

static const mmg_plugin_descriptor descriptor = {
    .struct_size = sizeof(mmg_plugin_descriptor),
    .abi_version = MMG_PLUGIN_ABI_VERSION,
    .name = "code",
    .version = "1.0.0",
    .modality = MMG_MODALITY_CODE,
    .description = "byte-level BPE for source code: code pre-tokenizer, language tags, fill-in-the-middle, "
                   "syntax constraint",
    .init = code_init,
    .deinit = code_deinit,
    .create = code_create,
    .destroy = code_destroy,
    .fit = code_fit,
    .save_state = code_save_state,
    .load_state = code_load_state,
    .encode = code_encode,
    .decode = code_decode,
    .vocab_size = code_vocab_size,
    .special_token = code_special_token,
    .describe_token = code_describe_token,
    .get_extension = code_get_extension,
};

MMG_PLUGIN_EXPORT const mmg_plugin_descriptor *mmg_plugin_entry_v1(void) { return &descriptor; }
