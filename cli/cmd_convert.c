/* cli/cmd_convert.c - `mmgen convert IN OUT`: a GPT-2-style mmgen model
 * (safetensors) to a GGUF file that llama.cpp runs as its `gpt2`
 * architecture, and such a GGUF file back to an mmgen model.
 *
 * The direction comes from IN's first bytes ("GGUF" or not). Both layouts
 * are row-major with a linear's weight stored (out, in), so every tensor's
 * bytes map one to one; only the names differ and GGUF lists dimensions
 * fastest first. The mapping (llama.cpp's convert_hf_to_gguf.py GPT2Model and
 * src/llama-model.cpp LLM_ARCH_GPT2; C = d_model, F = d_ff, V = vocab,
 * T = max_seq_len):
 *
 *   mmgen (row-major shape)                    GGUF name (ne, fastest first)
 *   tok_emb.weight (V, C)                      token_embd.weight [C, V]
 *   pos_emb.weight (T, C)                      position_embd.weight [C, T]
 *   decoder.layers.N.sa_norm.{weight,bias}     blk.N.attn_norm.{weight,bias} [C]
 *   decoder.layers.N.self_attn.qkv.weight (3C, C)  blk.N.attn_qkv.weight [C, 3C]
 *                  (rows q, k, v: the order llama.cpp's views read)
 *   decoder.layers.N.self_attn.qkv.bias (3C)   blk.N.attn_qkv.bias [3C]
 *   decoder.layers.N.self_attn.out.* (C, C)    blk.N.attn_output.* [C, C]
 *   decoder.layers.N.ff_norm.*                 blk.N.ffn_norm.* [C]
 *   decoder.layers.N.ff.fc1.* (F, C)           blk.N.ffn_up.* [C, F]
 *   decoder.layers.N.ff.fc2.* (C, F)           blk.N.ffn_down.* [F, C]
 *   decoder.norm.{weight,bias}                 output_norm.{weight,bias} [C]
 *   lm_head.weight (V, C), or tok_emb when tied    output.weight [C, V]
 *
 * Every tensor goes to GGUF as the model holds it (mmg_model_read_param_data):
 * a quantized model's linear weights keep their Q8_0 / Q4_0 blocks or F16
 * values, the embeddings and vectors stay F32. A GGUF file whose linear
 * matrices (and, tied, the tensor the logits read) are all F16, all Q8_0 or
 * all Q4_0 becomes a model of that type: its blocks are mmgen's bytes too
 * (ABI.md, "Quantized weights"), reached by quantizing the dequantized
 * weights again, which is checked to give back every weight.
 *
 * llama.cpp requires every bias and output.weight: a model without biases
 * gets zero ones (the same function), a tied one a copy of the embedding (a
 * quantized model: its copy in that type, which its logits read). Back to
 * mmgen, output.weight equal to token_embd.weight, or to token_embd.weight
 * quantized (mmg_quantize), makes the model tied again, and the mmgen.config
 * hint restores bias-free flags when those
 * biases are all zero. The model's own metadata (its tokenizer) travels as
 * GGUF strings "mmgen.metadata.<key>", so a round trip is lossless. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "files.h"
#include "gguf.h"
#include "mmgen/mmgen.h"
#include "tokfile.h"

#define META_PREFIX "mmgen.metadata."

/* GGUF token types (llama.cpp's llama_token_type). */
enum { TOKEN_NORMAL = 1, TOKEN_CONTROL = 3 };

/* ---- the tensor mapping ----------------------------------------------------- */

/* A dimension of a tensor, in terms of the config. */
typedef enum dim { D_NONE, D_C, D_3C, D_F, D_V, D_T } dim;

/* Which tensors exist only under some config flags. */
typedef enum when { ALWAYS, LINEAR_BIAS, NORM_BIAS, UNTIED } when;

typedef struct tensor_map {
    const char *mmgen, *gguf; /* "%d" is the layer */
    dim rows, cols;           /* row-major shape; cols D_NONE for vectors */
    when when;
} tensor_map;

static const tensor_map GLOBAL_MAP[] = {
    {"tok_emb.weight", "token_embd.weight", D_V, D_C, ALWAYS},
    {"pos_emb.weight", "position_embd.weight", D_T, D_C, ALWAYS},
    {"decoder.norm.weight", "output_norm.weight", D_C, D_NONE, ALWAYS},
    {"decoder.norm.bias", "output_norm.bias", D_C, D_NONE, NORM_BIAS},
    {"lm_head.weight", "output.weight", D_V, D_C, UNTIED},
};

static const tensor_map LAYER_MAP[] = {
    {"decoder.layers.%d.sa_norm.weight", "blk.%d.attn_norm.weight", D_C, D_NONE, ALWAYS},
    {"decoder.layers.%d.sa_norm.bias", "blk.%d.attn_norm.bias", D_C, D_NONE, NORM_BIAS},
    {"decoder.layers.%d.self_attn.qkv.weight", "blk.%d.attn_qkv.weight", D_3C, D_C, ALWAYS},
    {"decoder.layers.%d.self_attn.qkv.bias", "blk.%d.attn_qkv.bias", D_3C, D_NONE, LINEAR_BIAS},
    {"decoder.layers.%d.self_attn.out.weight", "blk.%d.attn_output.weight", D_C, D_C, ALWAYS},
    {"decoder.layers.%d.self_attn.out.bias", "blk.%d.attn_output.bias", D_C, D_NONE, LINEAR_BIAS},
    {"decoder.layers.%d.ff_norm.weight", "blk.%d.ffn_norm.weight", D_C, D_NONE, ALWAYS},
    {"decoder.layers.%d.ff_norm.bias", "blk.%d.ffn_norm.bias", D_C, D_NONE, NORM_BIAS},
    {"decoder.layers.%d.ff.fc1.weight", "blk.%d.ffn_up.weight", D_F, D_C, ALWAYS},
    {"decoder.layers.%d.ff.fc1.bias", "blk.%d.ffn_up.bias", D_F, D_NONE, LINEAR_BIAS},
    {"decoder.layers.%d.ff.fc2.weight", "blk.%d.ffn_down.weight", D_C, D_F, ALWAYS},
    {"decoder.layers.%d.ff.fc2.bias", "blk.%d.ffn_down.bias", D_C, D_NONE, LINEAR_BIAS},
};

#define N_GLOBAL (sizeof GLOBAL_MAP / sizeof GLOBAL_MAP[0])
#define N_LAYER (sizeof LAYER_MAP / sizeof LAYER_MAP[0])

/* One tensor of a concrete model: names and shape resolved. */
typedef struct tensor_ref {
    char mmgen[96], gguf[GGUF_MAX_NAME];
    uint64_t rows, cols; /* cols 0 for vectors */
    when when;
} tensor_ref;

static uint64_t dim_value(dim d, const mmg_model_config *c) {
    switch (d) {
    case D_C: return (uint64_t)c->d_model;
    case D_3C: return 3 * (uint64_t)c->d_model;
    case D_F: return (uint64_t)c->d_ff;
    case D_V: return (uint64_t)c->vocab_size;
    case D_T: return (uint64_t)c->max_seq_len;
    default: return 0;
    }
}

static void resolve(const tensor_map *m, int layer, const mmg_model_config *c, tensor_ref *out) {
    snprintf(out->mmgen, sizeof out->mmgen, m->mmgen, layer);
    snprintf(out->gguf, sizeof out->gguf, m->gguf, layer);
    out->rows = dim_value(m->rows, c);
    out->cols = dim_value(m->cols, c);
    out->when = m->when;
}

/* Every tensor of the gpt2 layout for config c, in llama.cpp's order:
 * embeddings, output, then the blocks. *n gets the count; NULL when out
 * of memory. */
static tensor_ref *all_tensors(const mmg_model_config *c, size_t *n) {
    size_t total = N_GLOBAL + N_LAYER * (size_t)c->n_decoder_layers, k = 0;
    tensor_ref *t = calloc(total, sizeof *t);
    if (!t) return NULL;
    for (size_t i = 0; i < N_GLOBAL; i++) resolve(&GLOBAL_MAP[i], 0, c, &t[k++]);
    for (int l = 0; l < c->n_decoder_layers; l++)
        for (size_t i = 0; i < N_LAYER; i++) resolve(&LAYER_MAP[i], l, c, &t[k++]);
    *n = k;
    return t;
}

static uint64_t numel(const tensor_ref *t) { return t->rows * (t->cols ? t->cols : 1); }

/* ---- GPT-2's vocabulary -------------------------------------------------------- */

/* GPT-2's byte-level alphabet: byte b as the UTF-8 of the code point its
 * bytes_to_unicode() gives it (printable Latin-1 bytes are themselves, the
 * others 256 + their rank). buf holds at least 3 bytes. */
static void byte_token(int b, char *buf) {
    int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    int cp = b;
    if (!printable) {
        int rank = 0;
        for (int x = 0; x < b; x++)
            rank += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255));
        cp = 256 + rank;
    }
    if (cp < 0x80) {
        buf[0] = (char)cp, buf[1] = 0;
    } else {
        buf[0] = (char)(0xc0 | (cp >> 6)), buf[1] = (char)(0x80 | (cp & 0x3f)), buf[2] = 0;
    }
}

/* A vocabulary for the GGUF file: token strings, types, merges. */
typedef struct vocab {
    char **tokens;  /* (n_tokens) */
    int32_t *types; /* (n_tokens) */
    uint64_t n_tokens;
    char **merges;  /* (n_merges) */
    uint64_t n_merges;
    char *merges_text; /* what merges point into */
    int64_t bos, eos;  /* -1 when unknown */
    const char *kind;  /* for the summary line */
} vocab;

static void vocab_free(vocab *v) {
    if (v->tokens)
        for (uint64_t i = 0; i < v->n_tokens; i++) free(v->tokens[i]);
    free(v->tokens);
    free(v->types);
    free(v->merges);
    free(v->merges_text);
    memset(v, 0, sizeof *v);
}

/* The minimal vocabulary llama.cpp accepts for a model of n tokens: the 256
 * byte tokens, then one control token per remaining id, no merges. Benchmarks
 * feed ids, so only the size matters. */
static int vocab_minimal(uint64_t n, int64_t bos, int64_t eos, vocab *v) {
    v->tokens = calloc(n, sizeof *v->tokens);
    v->types = calloc(n, sizeof *v->types);
    v->merges = calloc(1, sizeof *v->merges);
    if (!v->tokens || !v->types || !v->merges) return cli_error("out of memory");
    v->n_tokens = n;
    for (uint64_t i = 0; i < n; i++) {
        char buf[32];
        if (i < 256) byte_token((int)i, buf);
        else snprintf(buf, sizeof buf, "<|mmgen_%llu|>", (unsigned long long)i);
        v->types[i] = i < 256 ? TOKEN_NORMAL : TOKEN_CONTROL;
        if (!(v->tokens[i] = strdup(buf))) return cli_error("out of memory");
    }
    if (bos >= 0 && (uint64_t)bos < n) v->types[bos] = TOKEN_CONTROL;
    if (eos >= 0 && (uint64_t)eos < n) v->types[eos] = TOKEN_CONTROL;
    v->bos = bos, v->eos = eos;
    v->kind = "minimal byte-level";
    return 0;
}

/* GPT-2's tokens (encoder.json: token -> id) and merges (vocab.bpe: a
 * "#version" line, then "a b" per line, by rank). Returns 0; 1 when a file
 * cannot be read or does not give exactly n_expected dense ids (after a
 * warning, so the caller falls back); CLI_ERR when out of memory. */
static int vocab_gpt2(const char *encoder_json, const char *vocab_bpe, uint64_t n_expected, vocab *v) {
    uint8_t *js = NULL, *bpe = NULL;
    size_t js_size, bpe_size;
    if (files_read(encoder_json, &js, &js_size) != 0) return 1;
    if (files_read(vocab_bpe, &bpe, &bpe_size) != 0) {
        free(js);
        return 1;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)js, js_size);
    free(js);
    int rc = 0;
    if (!cJSON_IsObject(root) || (uint64_t)cJSON_GetArraySize(root) != n_expected) {
        cli_warn("'%s' is not a JSON object of %llu tokens", encoder_json, (unsigned long long)n_expected);
        rc = 1;
    }
    v->tokens = calloc(n_expected, sizeof *v->tokens);
    v->types = calloc(n_expected, sizeof *v->types);
    if (!rc && (!v->tokens || !v->types)) rc = cli_error("out of memory");
    v->n_tokens = n_expected;
    v->bos = v->eos = -1;
    for (const cJSON *e = root ? root->child : NULL; !rc && e; e = e->next) {
        double id = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(id >= 0 && id < (double)n_expected) || id != (double)(int64_t)id || v->tokens[(int64_t)id]) {
            cli_warn("'%s': token \"%s\" has id %g, outside [0, %llu) or repeated", encoder_json, e->string, id,
                     (unsigned long long)n_expected);
            rc = 1;
            break;
        }
        if (!(v->tokens[(int64_t)id] = strdup(e->string))) rc = cli_error("out of memory");
        int special = !strcmp(e->string, "<|endoftext|>");
        v->types[(int64_t)id] = special ? TOKEN_CONTROL : TOKEN_NORMAL;
        if (special) v->bos = v->eos = (int64_t)id;
    }
    cJSON_Delete(root);
    /* merges: one per line after the "#version" line; lines point into bpe */
    uint64_t lines = 1;
    for (size_t i = 0; i < bpe_size; i++) lines += bpe[i] == '\n';
    v->merges = calloc(lines, sizeof *v->merges);
    if (!rc && !v->merges) rc = cli_error("out of memory");
    v->merges_text = (char *)bpe;
    for (char *line = (char *)bpe; !rc && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[--len] = 0;
        if (len && strncmp(line, "#version", 8) != 0) {
            if (!strchr(line, ' ')) {
                cli_warn("'%s': merge \"%.40s\" has no space", vocab_bpe, line);
                rc = 1;
            }
            v->merges[v->n_merges++] = line;
        }
        line = nl ? nl + 1 : NULL;
    }
    v->kind = "GPT-2";
    return rc;
}

/* The vocabulary to write for `model`: GPT-2's when its tokenizer is the
 * text plugin created from GPT-2's files (and those files are readable
 * here), else the minimal one. */
static int model_vocab(const mmg_model *model, const mmg_model_config *cfg, vocab *v) {
    const char *doc = NULL;
    if (mmg_model_get_metadata(model, MMG_METADATA_TOKENIZER, &doc) == MMG_OK) {
        cJSON *root = cJSON_Parse(doc);
        const cJSON *plugin = cJSON_GetObjectItemCaseSensitive(root, "plugin");
        const cJSON *config = cJSON_GetObjectItemCaseSensitive(root, "config");
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(config, "vocab");
        const cJSON *enc = cJSON_GetObjectItemCaseSensitive(config, "encoder_json");
        const cJSON *bpe = cJSON_GetObjectItemCaseSensitive(config, "vocab_bpe");
        int rc = -1;
        if (cJSON_IsString(plugin) && !strcmp(plugin->valuestring, "text") && cJSON_IsString(kind) &&
            !strcmp(kind->valuestring, "gpt2") && cJSON_IsString(enc) && cJSON_IsString(bpe)) {
            rc = vocab_gpt2(enc->valuestring, bpe->valuestring, (uint64_t)cfg->vocab_size, v);
            if (rc == 1) {
                cli_warn("the model's tokenizer is GPT-2's, but its files are not usable here: writing a "
                         "minimal vocabulary instead");
                vocab_free(v);
            }
        }
        cJSON_Delete(root);
        if (rc == 0 || rc == CLI_ERR) return rc;
    } else {
        mmg_clear_error();
    }
    /* bos/eos from the tokenizer when its plugin loads here; none otherwise */
    int32_t bos = -1, eos = -1;
    mmg_tokenizer *tok = NULL;
    if (mmg_model_tokenizer(model, NULL, &tok) == MMG_OK) {
        if (mmg_tokenizer_special_token(tok, "bos", &bos) != MMG_OK) bos = -1;
        if (mmg_tokenizer_special_token(tok, "eos", &eos) != MMG_OK) eos = -1;
        mmg_tokenizer_free(tok);
    }
    mmg_clear_error();
    return vocab_minimal((uint64_t)cfg->vocab_size, bos, eos, v);
}

/* ---- safetensors -> GGUF ---------------------------------------------------- */

/* Why llama.cpp's gpt2 graph cannot run config c, or NULL when it can. */
static const char *gpt2_mismatch(const mmg_model_config *c) {
    if (c->n_encoder_layers > 0) return "it is an encoder-decoder; gpt2 is decoder-only";
    if (c->norm_placement != MMG_NORM_PRE) return "its LayerNorms are post-LN; gpt2 is pre-LN (--norm pre)";
    if (c->activation != MMG_ACT_GELU_TANH) return "its activation is not gelu_tanh, the GELU llama.cpp computes";
    if (c->position_encoding != MMG_POS_LEARNED) return "its positions are not learned (--position learned)";
    if (!c->final_norm) return "it has no final LayerNorm; gpt2 always applies one";
    if (c->scale_embeddings) return "it scales its embeddings by sqrt(d_model); gpt2 does not";
    return NULL;
}

/* The file name without directory and extension, for general.name (cut to 200 bytes). */
static void model_name(const char *path, char *buf, size_t size) {
    const char *s = strrchr(path, '/');
    snprintf(buf, size, "%.200s", s ? s + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
}

/* The GGUF element type of a stored mmg_weight_format. */
static uint32_t gguf_dtype_of(int32_t weights) {
    switch (weights) {
    case MMG_WEIGHTS_F16: return GGUF_DT_F16;
    case MMG_WEIGHTS_Q8_0: return GGUF_DT_Q8_0;
    case MMG_WEIGHTS_Q4_0: return GGUF_DT_Q4_0;
    default: return GGUF_DT_F32;
    }
}

/* llama.cpp's llama_ftype for a model whose matrices are in `weights`:
 * ALL_F32, MOSTLY_F16, MOSTLY_Q8_0, MOSTLY_Q4_0. */
static uint32_t ftype_of(int32_t weights) {
    switch (weights) {
    case MMG_WEIGHTS_F16: return 1;
    case MMG_WEIGHTS_Q8_0: return 7;
    case MMG_WEIGHTS_Q4_0: return 2;
    default: return 0;
    }
}

/* One GGUF tensor's bytes, in the file's form. */
typedef struct tensor_data {
    const void *bytes;
    uint64_t n_bytes;
    uint32_t dtype;
    void *owned; /* what bytes points into when this tensor allocated it */
} tensor_data;

/* `model` loaded with `weights` (MMG_WEIGHTS_DEFAULT: as the file stores
 * it; `embedding`: the token embedding quantized too) written as a GGUF file: every tensor in the form the model holds it
 * (mmg_model_read_param_data), so llama.cpp computes with mmgen's own
 * weights: quantized or F16 linear weights as they are, F32 embeddings,
 * positions and vectors; a tied output gets the model's quantized copy of the
 * embedding (the same bytes: mmg_quantize is the library's quantizer). */
static int to_gguf(const char *in, const char *out, int32_t weights, int embedding) {
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.weights = weights;
    o.quantize_embedding = embedding;
    mmg_model *model = NULL;
    if (mmg_model_load(in, &o, &model) != MMG_OK) return cli_fail("loading model '%s'", in);
    mmg_model_config cfg;
    mmg_model_config_init(&cfg, sizeof cfg);
    int rc = mmg_model_get_config(model, &cfg) != MMG_OK ? cli_fail("reading the config of '%s'", in) : 0;
    const char *why = rc ? NULL : gpt2_mismatch(&cfg);
    if (why) rc = cli_error("'%s' cannot become a llama.cpp gpt2 model: %s", in, why);
    size_t n_refs = 0;
    tensor_ref *refs = rc ? NULL : all_tensors(&cfg, &n_refs);
    float *zeros = NULL;
    tensor_data *td = NULL;
    gguf_writer *w = NULL;
    vocab voc = {0};
    char *config_json = NULL;
    if (!rc && !refs) rc = cli_error("out of memory");
    if (!rc) {
        zeros = calloc(dim_value(D_3C, &cfg) > dim_value(D_F, &cfg) ? dim_value(D_3C, &cfg) : dim_value(D_F, &cfg),
                       sizeof *zeros);
        td = calloc(n_refs, sizeof *td);
        w = gguf_writer_create();
        if (!zeros || !td || !w) rc = cli_error("out of memory");
    }
    /* Every tensor's bytes: the model's own, zeros for absent biases; the
     * tied output after the loop, once the model's format is known. */
    size_t tok_emb = 0, output = 0;
    int32_t held = MMG_WEIGHTS_F32; /* the format of the model's linear weights */
    for (size_t i = 0; !rc && i < n_refs; i++) {
        size_t index;
        if (!strcmp(refs[i].mmgen, "tok_emb.weight")) tok_emb = i;
        if (mmg_model_param_find(model, refs[i].mmgen, &index) == MMG_OK) {
            mmg_param_info info = {.struct_size = sizeof info};
            if (mmg_model_param_info(model, index, &info) != MMG_OK) {
                rc = cli_fail("describing parameter '%s'", refs[i].mmgen);
                break;
            }
            if (!(td[i].owned = malloc(info.n_bytes ? info.n_bytes : 1))) {
                rc = cli_error("out of memory");
                break;
            }
            if (mmg_model_read_param_data(model, refs[i].mmgen, td[i].owned, info.n_bytes) != MMG_OK) {
                rc = cli_fail("reading parameter '%s'", refs[i].mmgen);
                break;
            }
            td[i].bytes = td[i].owned, td[i].n_bytes = info.n_bytes, td[i].dtype = gguf_dtype_of(info.weights);
            if (info.weights != MMG_WEIGHTS_F32) held = info.weights;
        } else if (refs[i].when == LINEAR_BIAS || refs[i].when == NORM_BIAS) {
            mmg_clear_error();
            td[i].bytes = zeros, td[i].n_bytes = numel(&refs[i]) * sizeof *zeros, td[i].dtype = GGUF_DT_F32;
        } else if (refs[i].when == UNTIED) {
            mmg_clear_error();
            output = i;
        } else {
            rc = cli_fail("reading parameter '%s'", refs[i].mmgen);
        }
    }
    if (!rc && cfg.tied_output) {
        /* the embedding's bytes when it is held quantized (the logits read
         * it), else its copy in the linear weights' type */
        td[output] = td[tok_emb];
        td[output].owned = NULL;
        if (held != MMG_WEIGHTS_F32 && td[tok_emb].dtype == GGUF_DT_F32) {
            const uint64_t n = numel(&refs[tok_emb]), bytes = mmg_weights_size(held, n);
            if (!(td[output].owned = malloc(bytes))) rc = cli_error("out of memory");
            else if (mmg_quantize(held, td[tok_emb].bytes, n, td[output].owned, bytes) != MMG_OK)
                rc = cli_fail("quantizing the tied output projection");
            td[output].bytes = td[output].owned, td[output].n_bytes = bytes, td[output].dtype = gguf_dtype_of(held);
        }
    }
    if (!rc) rc = model_vocab(model, &cfg, &voc);
    if (!rc && mmg_model_config_to_json(&cfg, &config_json) != MMG_OK) rc = cli_fail("writing the config as JSON");
    if (!rc) {
        /* llama.cpp's keys for gpt2 (convert_hf_to_gguf.py GPT2Model) */
        gguf_writer_add_str(w, "general.architecture", "gpt2");
        char name[256];
        model_name(in, name, sizeof name);
        gguf_writer_add_str(w, "general.name", name);
        gguf_writer_add_u32(w, "general.file_type", ftype_of(held));
        gguf_writer_add_u32(w, "gpt2.context_length", (uint32_t)cfg.max_seq_len);
        gguf_writer_add_u32(w, "gpt2.embedding_length", (uint32_t)cfg.d_model);
        gguf_writer_add_u32(w, "gpt2.feed_forward_length", (uint32_t)cfg.d_ff);
        gguf_writer_add_u32(w, "gpt2.block_count", (uint32_t)cfg.n_decoder_layers);
        gguf_writer_add_u32(w, "gpt2.attention.head_count", (uint32_t)cfg.n_heads);
        gguf_writer_add_f32(w, "gpt2.attention.layer_norm_epsilon", cfg.layernorm_eps);
        gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2");
        gguf_writer_add_str(w, "tokenizer.ggml.pre", "gpt-2");
        gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", (const char *const *)voc.tokens, voc.n_tokens);
        gguf_writer_add_i32_array(w, "tokenizer.ggml.token_type", voc.types, voc.n_tokens);
        gguf_writer_add_str_array(w, "tokenizer.ggml.merges", (const char *const *)voc.merges, voc.n_merges);
        if (voc.bos >= 0) gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)voc.bos);
        if (voc.eos >= 0) gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)voc.eos);
        /* what only mmgen reads: the exact config and the model's metadata */
        gguf_writer_add_str(w, "mmgen.config", config_json);
        for (size_t i = 0; !rc && i < mmg_model_metadata_count(model); i++) {
            const char *key = mmg_model_metadata_key_at(model, i), *value = "";
            char *gkey = malloc(sizeof META_PREFIX + strlen(key));
            if (!gkey) {
                rc = cli_error("out of memory");
                break;
            }
            mmg_model_get_metadata(model, key, &value);
            strcpy(gkey, META_PREFIX);
            strcat(gkey, key);
            gguf_writer_add_str(w, gkey, value);
            free(gkey);
        }
        for (size_t i = 0; i < n_refs; i++) {
            uint64_t ne[2] = {refs[i].cols ? refs[i].cols : refs[i].rows, refs[i].rows};
            if (gguf_writer_add_tensor(w, refs[i].gguf, refs[i].cols ? 2 : 1, ne, td[i].dtype, td[i].bytes,
                                       td[i].n_bytes) != 0)
                rc = cli_error("adding tensor '%s' to the GGUF file failed (out of memory, or a size that "
                               "does not match its shape)",
                               refs[i].gguf);
        }
    }
    char err[512];
    if (!rc && gguf_writer_write(w, out, err, sizeof err) != 0) rc = cli_error("%s", err);
    if (!rc) {
        char what[96] = "F32";
        if (held != MMG_WEIGHTS_F32)
            snprintf(what, sizeof what, "%s linear weights%s%s, the rest F32", gguf_dtype_name(gguf_dtype_of(held)),
                     td[tok_emb].dtype != GGUF_DT_F32 ? ", token embedding" : "",
                     cfg.tied_output ? " and output" : "");
        printf("%s -> %s: GGUF v3, llama.cpp gpt2, %d layers, d_model %d, %d heads, vocab %d, context %d; %zu "
               "tensors (%s); %s output%s; vocabulary %s (%llu tokens, %llu merges)\n",
               in, out, cfg.n_decoder_layers, cfg.d_model, cfg.n_heads, cfg.vocab_size, cfg.max_seq_len, n_refs,
               what,
               cfg.tied_output ? (held != MMG_WEIGHTS_F32 ? "tied (output.weight is the model's copy in that type)"
                                                          : "tied (output.weight is a copy)")
                               : "untied",
               cfg.bias && cfg.norm_bias ? "" : "; zero biases written where the model has none", voc.kind,
               (unsigned long long)voc.n_tokens, (unsigned long long)voc.n_merges);
    }
    mmg_free(config_json);
    vocab_free(&voc);
    gguf_writer_free(w);
    for (size_t i = 0; td && i < n_refs; i++) free(td[i].owned);
    free(td);
    free(zeros);
    free(refs);
    mmg_model_free(model);
    return rc;
}

/* ---- GGUF -> safetensors ---------------------------------------------------- */

/* A hyperparameter that must be an integer in [1, INT32_MAX]. */
static int hparam(gguf_reader *r, const char *key, int32_t *out) {
    uint64_t v;
    if (gguf_kv_uint(r, gguf_reader_find(r, key), key, &v) != 0)
        return cli_error("'%s': %s", r->path, r->error);
    if (v < 1 || v > INT32_MAX)
        return cli_error("'%s': %s is %llu; expected 1 to %d", r->path, key, (unsigned long long)v, INT32_MAX);
    *out = (int32_t)v;
    return 0;
}

/* "[768, 2304]": a GGUF shape, fastest dimension first. */
static void shape_text(const uint64_t *ne, uint32_t n_dims, char *buf, size_t size) {
    size_t k = 0;
    buf[0] = 0;
    for (uint32_t j = 0; j < n_dims && k < size; j++)
        k += (size_t)snprintf(buf + k, size - k, "%s%llu", j ? ", " : "[", (unsigned long long)ne[j]);
    if (k < size) snprintf(buf + k, size - k, "]");
}

/* Reads GGUF tensor `ref` as floats into dst after checking its shape. */
static int read_tensor(gguf_reader *r, const tensor_ref *ref, float *dst) {
    const gguf_tensor *t = gguf_reader_tensor(r, ref->gguf);
    if (!t) return cli_error("'%s' has no tensor '%s'", r->path, ref->gguf);
    uint32_t n_dims = ref->cols ? 2 : 1;
    uint64_t want[2] = {ref->cols ? ref->cols : ref->rows, ref->rows};
    if (t->n_dims != n_dims || t->ne[0] != want[0] || (n_dims == 2 && t->ne[1] != want[1])) {
        char has[128], needs[64];
        shape_text(t->ne, t->n_dims, has, sizeof has);
        shape_text(want, n_dims, needs, sizeof needs);
        return cli_error("'%s': tensor '%s' has shape %s; the model's hyperparameters need %s (GGUF order, "
                         "fastest first)",
                         r->path, t->name, has, needs);
    }
    if (gguf_reader_read_f32(r, t, dst, numel(ref)) != 0) return cli_error("'%s': %s", r->path, r->error);
    return 0;
}

static int all_zero(const float *x, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (x[i] != 0.0f) return 0;
    return 1;
}

/* The config a gpt2 GGUF file describes. `hint` is its mmgen.config, when
 * it has one, for the flags GGUF cannot say: bias-free models. */
static int gguf_config(gguf_reader *r, mmg_model_config *cfg, mmg_model_config *hint, int *has_hint) {
    uint64_t len = 0;
    const char *arch = gguf_kv_str(r, gguf_reader_find(r, "general.architecture"), &len);
    if (!arch) return cli_error("'%s' has no general.architecture string", r->path);
    if (len != 4 || memcmp(arch, "gpt2", 4) != 0)
        return cli_error("'%s' is a '%.*s' model; mmgen converts llama.cpp's gpt2 architecture", r->path,
                         (int)(len > 40 ? 40 : len), arch);
    mmg_model_config_init(cfg, sizeof *cfg);
    cfg->n_encoder_layers = 0;
    cfg->norm_placement = MMG_NORM_PRE;
    cfg->final_norm = 1;
    cfg->activation = MMG_ACT_GELU_TANH;
    cfg->position_encoding = MMG_POS_LEARNED;
    cfg->bias = 1;
    cfg->norm_bias = 1;
    cfg->scale_embeddings = 0;
    if (hparam(r, "gpt2.block_count", &cfg->n_decoder_layers) || hparam(r, "gpt2.embedding_length", &cfg->d_model) ||
        hparam(r, "gpt2.feed_forward_length", &cfg->d_ff) || hparam(r, "gpt2.attention.head_count", &cfg->n_heads) ||
        hparam(r, "gpt2.context_length", &cfg->max_seq_len))
        return CLI_ERR;
    const gguf_kv *kv_heads = gguf_reader_find(r, "gpt2.attention.head_count_kv");
    uint64_t kv_n;
    if (kv_heads && (gguf_kv_uint(r, kv_heads, "gpt2.attention.head_count_kv", &kv_n) || kv_n != (uint64_t)cfg->n_heads))
        return cli_error("'%s': gpt2.attention.head_count_kv differs from head_count; mmgen has no grouped-query "
                         "attention",
                         r->path);
    double eps;
    if (gguf_kv_float(r, gguf_reader_find(r, "gpt2.attention.layer_norm_epsilon"), "gpt2.attention.layer_norm_epsilon",
                      &eps) != 0)
        return cli_error("'%s': %s", r->path, r->error);
    cfg->layernorm_eps = (float)eps;
    const gguf_tensor *emb = gguf_reader_tensor(r, "token_embd.weight");
    if (!emb) return cli_error("'%s' has no tensor 'token_embd.weight'", r->path);
    if (emb->n_dims != 2 || emb->ne[0] != (uint64_t)cfg->d_model || emb->ne[1] > INT32_MAX)
        return cli_error("'%s': token_embd.weight is not [%d, vocab]", r->path, cfg->d_model);
    cfg->vocab_size = (int32_t)emb->ne[1];
    cfg->tied_output = 0;
    if (mmg_model_config_validate(cfg) != MMG_OK) return cli_fail("'%s' describes an invalid model", r->path);
    *has_hint = 0;
    const char *json = gguf_kv_str(r, gguf_reader_find(r, "mmgen.config"), &len);
    mmg_model_config_init(hint, sizeof *hint);
    if (json) {
        if (mmg_model_config_from_json(json, (size_t)len, hint) == MMG_OK) *has_hint = 1;
        else cli_warn("'%s': ignoring its mmgen.config: %s", r->path, mmg_last_error());
        mmg_clear_error();
    }
    return 0;
}

/* GGUF_DT_Q8_0, GGUF_DT_Q4_0 or GGUF_DT_F16 when every matrix mmgen keeps in such a type (the
 * linear layers' weights, and when the output is tied the tensor the logits
 * read: the token embedding, or with `tied_copy` output.weight, its
 * quantized copy) is stored in that one type; else 0. */
static int quantized_type(gguf_reader *r, const tensor_ref *refs, size_t n_refs, int tied, int tied_copy) {
    int type = -1;
    for (size_t j = 0; j < n_refs; j++) {
        const int emb = !strcmp(refs[j].mmgen, "tok_emb.weight"), out = refs[j].when == UNTIED;
        if (!refs[j].cols || !strcmp(refs[j].mmgen, "pos_emb.weight") || (emb && (!tied || tied_copy)) ||
            (out && tied && !tied_copy))
            continue;
        const gguf_tensor *t = gguf_reader_tensor(r, refs[j].gguf);
        if (!t) continue; /* a bias-free layout has no such tensor; matrices are all there */
        if (type < 0) type = (int)t->dtype;
        if ((int)t->dtype != type) return 0;
    }
    return type == GGUF_DT_Q8_0 || type == GGUF_DT_Q4_0 || type == GGUF_DT_F16 ? type : 0;
}

/* Whether output.weight (of type F16, Q8_0 or Q4_0) holds exactly the bytes
 * of quantizing the F32 token embedding `emb`: a tied model as to_gguf
 * writes it, the embedding exact and the logits' copy beside it. */
static int is_quantized_copy(gguf_reader *r, const tensor_ref *emb_ref, const tensor_ref *out_ref, const float *emb,
                             int *copy) {
    *copy = 0;
    const gguf_tensor *te = gguf_reader_tensor(r, emb_ref->gguf), *to = gguf_reader_tensor(r, out_ref->gguf);
    const int32_t weights = to->dtype == GGUF_DT_F16    ? MMG_WEIGHTS_F16
                            : to->dtype == GGUF_DT_Q8_0 ? MMG_WEIGHTS_Q8_0
                            : to->dtype == GGUF_DT_Q4_0 ? MMG_WEIGHTS_Q4_0
                                                        : MMG_WEIGHTS_DEFAULT;
    const uint64_t n = numel(emb_ref), bytes = weights ? mmg_weights_size(weights, n) : 0;
    if (te->dtype != GGUF_DT_F32 || !bytes || bytes != to->n_bytes) return 0;
    unsigned char *want = malloc(bytes), *got = malloc(bytes);
    int rc = !want || !got ? cli_error("out of memory") : 0;
    if (!rc && gguf_reader_read_data(r, to, got, bytes) != 0) rc = cli_error("'%s': %s", r->path, r->error);
    if (!rc) {
        if (mmg_quantize(weights, emb, n, want, bytes) == MMG_OK) *copy = !memcmp(want, got, bytes);
        else mmg_clear_error(); /* an embedding that type cannot hold: not a copy */
    }
    free(want);
    free(got);
    return rc;
}

/* Saves `model` (the GGUF file's weights, dequantized) to `out` in the
 * quantized type `weights` when quantizing them again gives back every
 * weight exactly (it does for blocks ggml's quantizers wrote: their largest
 * value is +-127, or n = 0, so the scale comes out the same); *kept says
 * whether it did; with `embedding` its token embedding is kept in that type
 * too. Goes through a temporary F32 file beside `out`. */
static int save_quantized(const mmg_model *model, const char *out, int32_t weights, int embedding, int *kept) {
    *kept = 0;
    size_t n = strlen(out);
    char *tmp = malloc(n + 16);
    if (!tmp) return cli_error("out of memory");
    snprintf(tmp, n + 16, "%s.f32-XXXXXX", out);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = cli_error("cannot create a temporary file beside '%s': %s", out, strerror(errno));
        free(tmp);
        return rc;
    }
    close(fd);
    int rc = 0;
    mmg_model *q = NULL;
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.weights = weights;
    o.quantize_embedding = embedding;
    if (mmg_model_save(model, tmp) != MMG_OK) rc = cli_fail("writing '%s'", tmp);
    if (!rc && mmg_model_load(tmp, &o, &q) != MMG_OK) rc = cli_fail("quantizing '%s' again", tmp);
    unlink(tmp);
    free(tmp);
    /* every parameter, dequantized, must be what the file holds */
    size_t count = rc ? 0 : mmg_model_param_count(q), same = 1;
    float *a = NULL, *b = NULL;
    for (size_t i = 0; !rc && same && i < count; i++) {
        mmg_param_info info = {sizeof info};
        if (mmg_model_param_info(q, i, &info) != MMG_OK) {
            rc = cli_fail("reading parameter %zu", i);
            break;
        }
        float *na = realloc(a, info.n_elements * sizeof *a), *nb = realloc(b, info.n_elements * sizeof *b);
        if (na) a = na;
        if (nb) b = nb;
        if (!na || !nb) {
            rc = cli_error("out of memory");
            break;
        }
        if (mmg_model_read_param(q, info.name, a, info.n_elements) != MMG_OK ||
            mmg_model_read_param(model, info.name, b, info.n_elements) != MMG_OK) {
            rc = cli_fail("reading parameter '%s'", info.name);
            break;
        }
        same = !memcmp(a, b, info.n_elements * sizeof *a);
    }
    free(a);
    free(b);
    if (!rc && same) {
        if (mmg_model_save(q, out) != MMG_OK) rc = cli_fail("writing '%s'", out);
        else *kept = 1;
    }
    mmg_model_free(q);
    return rc;
}

static int from_gguf(const char *in, const char *out, const char *tokenizer_path) {
    char err[600];
    gguf_reader *r = gguf_reader_open(in, err, sizeof err);
    if (!r) return cli_error("%s", err);
    mmg_model_config cfg, hint;
    int has_hint = 0, rc = gguf_config(r, &cfg, &hint, &has_hint);
    /* Refuse counts the file cannot back before allocating for them: each
     * layer has 12 tensors, the model 4 more (5 untied). */
    if (!rc && r->n_tensors < 4 + 12 * (uint64_t)cfg.n_decoder_layers)
        rc = cli_error("'%s' has %llu tensors; a gpt2 model of %d layers has at least %llu", in,
                       (unsigned long long)r->n_tensors, cfg.n_decoder_layers,
                       (unsigned long long)(4 + 12 * (uint64_t)cfg.n_decoder_layers));
    size_t n_refs = 0;
    tensor_ref *refs = rc ? NULL : all_tensors(&cfg, &n_refs);
    float *emb = NULL, *buf = NULL;
    mmg_model *model = NULL;
    if (!rc && !refs) rc = cli_error("out of memory");
    size_t tok_emb = 0, output = 0;
    uint64_t max_numel = 0;
    for (size_t j = 0; !rc && j < n_refs; j++) {
        if (!strcmp(refs[j].gguf, "token_embd.weight")) tok_emb = j;
        if (!strcmp(refs[j].gguf, "output.weight")) output = j;
        if (numel(&refs[j]) > max_numel) max_numel = numel(&refs[j]);
    }
    /* Every tensor the file has must be one of the layout's. */
    for (uint64_t i = 0; !rc && i < r->n_tensors; i++) {
        size_t j = 0;
        while (j < n_refs && strcmp(refs[j].gguf, r->tensors[i].name) != 0) j++;
        if (j == n_refs)
            rc = cli_error("'%s' has a tensor '%s' that llama.cpp's gpt2 layout (and mmgen) does not have", in,
                           r->tensors[i].name);
    }
    /* Tied when output.weight is absent or equal to the embedding. */
    if (!rc && (!(emb = malloc(numel(&refs[tok_emb]) * sizeof *emb)) || !(buf = malloc(max_numel * sizeof *buf))))
        rc = cli_error("out of memory");
    if (!rc) rc = read_tensor(r, &refs[tok_emb], emb);
    cfg.tied_output = 1;
    int tied_copy = 0;
    if (!rc && gguf_reader_tensor(r, refs[output].gguf)) {
        rc = read_tensor(r, &refs[output], buf);
        cfg.tied_output = !rc && !memcmp(buf, emb, numel(&refs[tok_emb]) * sizeof *emb);
        if (!rc && !cfg.tied_output) rc = is_quantized_copy(r, &refs[tok_emb], &refs[output], emb, &tied_copy);
        if (tied_copy) cfg.tied_output = 1;
    }
    /* Bias-free flags come only from the hint, and hold only when the file's
     * biases of that kind are all zero. */
    if (!rc && has_hint) {
        if (!hint.bias) cfg.bias = 0;
        if (!hint.norm_bias) cfg.norm_bias = 0;
        for (size_t j = 0; !rc && j < n_refs; j++) {
            if ((refs[j].when == LINEAR_BIAS && !hint.bias) || (refs[j].when == NORM_BIAS && !hint.norm_bias)) {
                rc = read_tensor(r, &refs[j], buf);
                if (!rc && !all_zero(buf, numel(&refs[j]))) {
                    if (refs[j].when == LINEAR_BIAS) cfg.bias = 1;
                    else cfg.norm_bias = 1;
                }
            }
        }
    }
    if (!rc) {
        mmg_model_options o;
        mmg_model_options_init(&o, sizeof o);
        o.init_std = 0.0f; /* every weight is overwritten below */
        if (mmg_model_create(&cfg, &o, &model) != MMG_OK) rc = cli_fail("creating the model");
    }
    /* One tensor at a time: peak memory is the model plus two embedding-sized buffers. */
    for (size_t j = 0; !rc && j < n_refs; j++) {
        size_t index;
        if (mmg_model_param_find(model, refs[j].mmgen, &index) != MMG_OK) {
            mmg_clear_error(); /* a bias or lm_head this config has not */
            continue;
        }
        const float *src = emb;
        if (j != tok_emb) {
            rc = read_tensor(r, &refs[j], buf);
            src = buf;
        }
        if (!rc && mmg_model_write_param(model, refs[j].mmgen, src, numel(&refs[j])) != MMG_OK)
            rc = cli_fail("writing parameter '%s'", refs[j].mmgen);
    }
    /* The model's metadata, as to_gguf stored it. */
    for (uint64_t i = 0; !rc && i < r->n_kv; i++) {
        const gguf_kv *kv = &r->kv[i];
        size_t plen = strlen(META_PREFIX);
        if (kv->type != GGUF_V_STRING || kv->key_len <= plen || memcmp(r->head + kv->key_off, META_PREFIX, plen))
            continue;
        uint64_t vlen;
        const char *value = gguf_kv_str(r, kv, &vlen);
        char *key = strndup((const char *)r->head + kv->key_off + plen, (size_t)(kv->key_len - plen));
        char *val = strndup(value, (size_t)vlen);
        if (!key || !val) rc = cli_error("out of memory");
        else if (strlen(key) != kv->key_len - plen || strlen(val) != vlen)
            rc = cli_error("'%s': metadata '%s' contains a NUL byte", in, key);
        else if (mmg_model_set_metadata(model, key, val) != MMG_OK)
            rc = cli_fail("'%s': restoring metadata '%s'", in, key);
        free(key);
        free(val);
    }
    if (!rc && tokenizer_path) {
        cli_tok t;
        rc = tokfile_load(tokenizer_path, NULL, NULL, &t);
        if (!rc) {
            if (mmg_tokenizer_vocab_size(t.tok) > cfg.vocab_size)
                rc = cli_error("--tokenizer '%s' has %d tokens, more than the model's %d", tokenizer_path,
                               (int)mmg_tokenizer_vocab_size(t.tok), cfg.vocab_size);
            else
                rc = tokfile_embed(model, &t);
            tokfile_free(&t);
        }
    }
    const char *tok_doc = NULL;
    int has_tok = !rc && mmg_model_get_metadata(model, MMG_METADATA_TOKENIZER, &tok_doc) == MMG_OK;
    mmg_clear_error();
    /* Q8_0 / Q4_0 files stay quantized, block for block, when they can */
    const int qtype = rc ? 0 : quantized_type(r, refs, n_refs, cfg.tied_output, tied_copy);
    int kept = 0;
    /* a token embedding in that type too stays so (llama-quantize writes it quantized) */
    const gguf_tensor *emb_t = qtype ? gguf_reader_tensor(r, refs[tok_emb].gguf) : NULL;
    const int emb_quantized = emb_t && (int)emb_t->dtype == qtype;
    const int32_t qweights = qtype == GGUF_DT_Q8_0   ? MMG_WEIGHTS_Q8_0
                             : qtype == GGUF_DT_Q4_0 ? MMG_WEIGHTS_Q4_0
                                                     : MMG_WEIGHTS_F16;
    if (qtype) rc = save_quantized(model, out, qweights, emb_quantized, &kept);
    /* an embedding whose blocks did not come back: the linear weights may still */
    if (!rc && qtype && !kept && emb_quantized) rc = save_quantized(model, out, qweights, 0, &kept);
    if (!rc && !kept && mmg_model_save(model, out) != MMG_OK) rc = cli_fail("writing '%s'", out);
    if (!rc) {
        const gguf_tensor *qkv = gguf_reader_tensor(r, "blk.0.attn_qkv.weight");
        char what[160];
        if (kept)
            snprintf(what, sizeof what, "%s: the file's %s, as they are", gguf_dtype_name((uint32_t)qtype),
                     qtype == GGUF_DT_F16 ? "values" : "blocks");
        else
            snprintf(what, sizeof what, "F32%s%s", qkv && qkv->dtype != GGUF_DT_F32 ? ", converted from the file's " : "",
                     !qkv || qkv->dtype == GGUF_DT_F32 ? ""
                     : qtype ? "quantized data (quantizing it again would not give the same blocks)"
                             : "F16/BF16/quantized data");
        printf("%s -> %s: mmgen safetensors (%s), %d layers, d_model %d, %d heads, vocab %d, context %d; %s "
               "output; %s\n",
               in, out, what,
               cfg.n_decoder_layers, cfg.d_model, cfg.n_heads, cfg.vocab_size, cfg.max_seq_len,
               cfg.tied_output ? "tied" : "untied",
               has_tok ? "tokenizer restored" : "no mmgen tokenizer (give --tokenizer; generate prints ids otherwise)");
    }
    free(emb);
    free(buf);
    free(refs);
    mmg_model_free(model);
    gguf_reader_close(r);
    return rc;
}

/* ---- the command ----------------------------------------------------------- */

static const char *const type_names[] = {"f32", "f16", "q8_0", "q4_0", NULL};
static const int32_t type_weights[] = {MMG_WEIGHTS_F32, MMG_WEIGHTS_F16, MMG_WEIGHTS_Q8_0, MMG_WEIGHTS_Q4_0};

int cmd_convert(int argc, char **argv) {
    int32_t type = 0;
    int embedding = 0;
    const char *tokenizer = NULL;
    args_option opts[] = {
        {"type", 0, ARG_CHOICE, &type, "TYPE",
         "GGUF element type of the linear layers' weights (default: the type the model holds them in)", 0, 0,
         type_names},
        {"embedding", 0, ARG_FLAG, &embedding, NULL,
         "with a quantized --type: the token embedding in that type too (as llama-quantize writes it)"},
        {"tokenizer", 't', ARG_STRING, &tokenizer, "FILE", "GGUF -> mmgen: embed this tokenizer (a tokenizer file "
                                                           "or model) instead of the one the GGUF file carries"},
        {0}};
    const args_command cmd = {
        "convert", "[options] IN OUT",
        "Converts between mmgen's model files and GGUF, llama.cpp's format. IN is GGUF\n"
        "when it starts with \"GGUF\" or is named *.gguf, else safetensors. An mmgen\n"
        "model becomes a GGUF file of llama.cpp's `gpt2` architecture (the model must\n"
        "be GPT-2-style: decoder-only, pre-LN, gelu_tanh, learned positions, a final\n"
        "LayerNorm); a GGUF file of that architecture becomes an mmgen model.\n"
        "\n"
        "To GGUF: every tensor as the model holds it, so llama.cpp computes with\n"
        "mmgen's own weights: a float32 model's exact values, a quantized model's\n"
        "Q8_0 / Q4_0 blocks or F16 values as they are (`mmgen quantize`), with\n"
        "embeddings, LayerNorms and biases float32; a tied output's output.weight\n"
        "is the model's copy of the embedding in that type. --type quantizes (or\n"
        "dequantizes) the linear layers' weights on the way, as `mmgen quantize`\n"
        "does: one command from a float32 model to a Q4_0 GGUF file (--embedding:\n"
        "the token embedding too, as llama-quantize writes it). A model without\n"
        "biases gets zero biases, a tied output a copy of the embedding, as\n"
        "llama.cpp requires. The vocabulary is GPT-2's tokens and merges when the\n"
        "model's tokenizer is the text plugin made from GPT-2's files (and they are\n"
        "readable here), else a minimal byte-level one of the model's size (enough\n"
        "to run token ids). The config and the model's metadata (its tokenizer)\n"
        "are kept as mmgen.* keys.\n"
        "\n"
        "From GGUF: F32, F16 and BF16 tensors are read exactly, Q8_0 and Q4_0\n"
        "dequantized, and the model is written as float32 safetensors, except\n"
        "when every matrix mmgen quantizes is in one of F16, Q8_0 and Q4_0 (as\n"
        "this command and llama-quantize --pure write): then the model is written\n"
        "in that type with the file's values or blocks as they are (checked weight\n"
        "for weight; float32 otherwise). output.weight equal to token_embd.weight,\n"
        "or to its quantized copy, makes a tied model: a file this command wrote\n"
        "converts back to the model it came from, byte for byte.",
        "examples:\n"
        "  mmgen convert model.safetensors model-q4_0.gguf --type q4_0\n"
        "  mmgen convert model.safetensors model-q4_0.gguf --type q4_0 --embedding\n"
        "  mmgen convert model-q8_0.safetensors model-q8_0.gguf\n"
        "  mmgen convert model.gguf model.safetensors\n"};
    const char *pos[2];
    int n = 0;
    int rc = args_parse(&cmd, opts, argc, argv, pos, 2, &n);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;
    if (n != 2) return args_usage_error(&cmd, "give IN and OUT");
    FILE *f = fopen(pos[0], "rb");
    if (!f) return cli_error("cannot open '%s': %s", pos[0], strerror(errno));
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    /* A .gguf name counts too, so a damaged GGUF file gets the GGUF reader's diagnosis. */
    int is_gguf = (got == 4 && !memcmp(magic, "GGUF", 4)) || !strcmp(files_extension(pos[0]), "gguf");
    if (is_gguf && (args_find(opts, "type")->seen || embedding))
        return args_usage_error(&cmd, "--%s applies when writing GGUF; '%s' is already GGUF",
                                embedding ? "embedding" : "type", pos[0]);
    if (embedding && (!args_find(opts, "type")->seen || type_weights[type] == MMG_WEIGHTS_F32))
        return args_usage_error(&cmd, "--embedding goes with a quantized --type (f16, q8_0, q4_0)");
    if (!is_gguf && tokenizer)
        return args_usage_error(&cmd, "--tokenizer applies when reading GGUF; '%s' is not GGUF", pos[0]);
    if (files_check_writable("OUT", pos[1]) != 0) return CLI_ERR;
    return is_gguf ? from_gguf(pos[0], pos[1], tokenizer)
                   : to_gguf(pos[0], pos[1], args_find(opts, "type")->seen ? type_weights[type] : MMG_WEIGHTS_DEFAULT,
                             embedding);
}
