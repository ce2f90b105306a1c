/* cli/cmd_train.c - `mmgen train`: documents of any modality -> a model file
 * that carries its tokenizer.
 *
 * The data: each FILE is one document, encoded by the tokenizer's plugin and
 * framed as [bos] doc [eos] (one shared <|endoftext|> between documents when
 * bos and eos are the same token, as in GPT-2); or a pre-tokenized file
 * (--tokens). The last --val-fraction of the tokens (of the pairs, for an
 * encoder-decoder) is held out and evaluated at the end. With --fim-rate R
 * (code tokenizers) each FILE goes to the code plugin as "name=FILE\0\0" +
 * its bytes, through a twin of the tokenizer with the plugin's document
 * header on and "fim_rate": R (cli/code_fim.h): the language tag comes from
 * the file name and a share R of the documents become fill-in-the-middle
 * examples. The model carries the tokenizer as fitted.
 *
 * Decoder-only models (the default) train on packed windows of --seq-len
 * tokens. With --encoder-layers > 0 the FILES are (source, target) pairs:
 * SRC1 TGT1 SRC2 TGT2 ...; the decoder learns target given source. --pairs
 * reads the pairs from a manifest instead (cli/manifest.h: inline text or
 * file sources, file targets), and --source-tokenizer encodes the sources
 * with another tokenizer than the targets (text -> image): the model's one
 * vocabulary then holds the target ids first and the source ids after them
 * (moved up by the target vocabulary's size), and the file carries both
 * tokenizers and that offset (ABI.md, "Tokenizer documents").
 *
 * The run prints the training loss every --log-every steps (on a terminal
 * under a progress line with the time left; --log-file also writes JSON
 * lines, --plot draws the loss curve with gnuplot), saves a resumable
 * checkpoint (--checkpoint, every --save-every steps and at the end), and
 * writes the model with the tokenizer embedded in its metadata (-o). Ctrl-C
 * stops after the current step and saves both. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "code_fim.h"
#include "files.h"
#include "manifest.h"
#include "mmgen/model.h"
#include "mmgen/train.h"
#include "parallel.h"
#include "tokens_io.h"
#include "tokfile.h"
#include "train_progress.h"

#define MAX_FILES 65536

static volatile sig_atomic_t g_interrupted;
static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

/* A growing array of token ids. */
typedef struct tok_vec {
    int32_t *ids;
    size_t n, cap;
} tok_vec;

static int vec_push(tok_vec *v, const int32_t *ids, size_t n) {
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? v->cap : 1 << 16;
        while (cap < v->n + n) cap *= 2;
        int32_t *p = realloc(v->ids, cap * sizeof *p);
        if (!p) return cli_error("out of memory holding %zu tokens", v->n + n);
        v->ids = p;
        v->cap = cap;
    }
    if (n) memcpy(v->ids + v->n, ids, n * sizeof *ids);
    v->n += n;
    return 0;
}

typedef struct train_args {
    /* data */
    const char *tokenizer, *plugin, *tok_config, *tokens, *target_tokens;
    const char *source_tokenizer, *pairs;
    int32_t token_bytes;
    float val_fraction, fim_rate;
    /* model */
    const char *config;
    int32_t d_model, heads, layers, encoder_layers, d_ff, max_seq_len, vocab_size;
    int32_t norm, activation, pos;
    float dropout;
    /* training */
    int64_t steps, warmup, decay_steps;
    int32_t batch, seq_len, max_src_len, accum, threads, log_every, eval_every, eval_batches;
    int64_t save_every;
    float max_time, mpi_timeout, bucket_mb;
    float lr, min_lr, weight_decay, grad_clip, beta2, label_smoothing;
    uint64_t seed;
    const char *output, *checkpoint, *log_file, *plot;
    int resume;
} train_args;

/* Adds `offset` to n ids (a source tokenizer's ids move past the target
 * vocabulary). */
static void shift_ids(int32_t *ids, size_t n, int32_t offset) {
    for (size_t i = 0; offset && i < n; i++) ids[i] += offset;
}

/* Reads and tokenizes FILES into `out`, each framed by bos/eos; adds the
 * documents' bytes to *bytes. With `sep` >= 0 every document ends with it
 * instead (pair files), its ids moved up by `offset`. With `named`, each
 * document goes to the plugin behind a header naming its file (the code
 * plugin's "name=FILE\0\0"); *bytes counts the file's bytes alone. */
static int tokenize_docs(cli_tok *t, const char *const *files, int n, int stride, int first,
                         int32_t bos, int32_t eos, int32_t sep, int32_t offset, int named, tok_vec *out,
                         double *bytes) {
    for (int i = first; i < n; i += stride) {
        uint8_t *doc;
        size_t size;
        if (files_read(files[i], &doc, &size) != 0) return CLI_ERR;
        uint8_t *framed = NULL;
        size_t framed_size = 0;
        if (named && code_fim_named_doc(files[i], doc, size, &framed, &framed_size) != 0) {
            free(doc);
            return CLI_ERR;
        }
        int32_t *ids = NULL;
        size_t count = 0;
        int rc = 0;
        if (mmg_tokenizer_encode(t->tok, named ? framed : doc, named ? framed_size : size, &ids, &count) != MMG_OK)
            rc = cli_fail("encoding '%s'", files[i]);
        free(doc);
        free(framed);
        if (!rc && count == 0 && sep >= 0)
            rc = cli_error("'%s' encodes to no tokens; a pair needs a non-empty document", files[i]);
        if (!rc) shift_ids(ids, count, offset);
        if (!rc && sep < 0 && bos >= 0 && (bos != eos || out->n == 0)) rc = vec_push(out, &bos, 1);
        if (!rc) rc = vec_push(out, ids, count);
        if (!rc && sep < 0 && eos >= 0) rc = vec_push(out, &eos, 1);
        if (!rc && sep >= 0) rc = vec_push(out, &sep, 1);
        *bytes += (double)size;
        mmg_free(ids);
        if (rc) return rc;
    }
    return 0;
}

/* The token counts of one manifest pair, for the length checks made once
 * the model's context is known. */
typedef struct pair_len {
    int line;
    size_t src, tgt;
} pair_len;

/* Encodes the manifest's pairs: each source (inline text or a file) with
 * `src_tok`, its ids moved up by `offset`, into `sources`; each target file
 * with `tgt_tok` into `targets`; both ended by `sep`. Errors name the
 * manifest line and the file. */
static int tokenize_manifest(const char *path, const manifest *m, cli_tok *src_tok, int32_t offset,
                             cli_tok *tgt_tok, int32_t sep, tok_vec *sources, tok_vec *targets,
                             pair_len *lens, double *bytes) {
    for (size_t i = 0; i < m->n; i++) {
        const manifest_pair *p = &m->pairs[i];
        for (int side = 0; side < 2; side++) {
            cli_tok *t = side ? tgt_tok : src_tok;
            const char *file = side ? p->target : p->source_is_file ? p->source : NULL;
            uint8_t *doc = (uint8_t *)p->source;
            size_t size = strlen(p->source);
            if (file && files_read(file, &doc, &size) != 0)
                return cli_error("%s:%d: (the line naming '%s')", path, p->line, file);
            int32_t *ids = NULL;
            size_t count = 0;
            int rc = 0;
            if (mmg_tokenizer_encode(t->tok, doc, size, &ids, &count) != MMG_OK) {
                if (file)
                    rc = cli_fail("%s:%d: the %s plugin cannot encode the %s '%s'", path, p->line, t->plugin,
                                  side ? "target" : "source", file);
                else
                    rc = cli_fail("%s:%d: the %s plugin cannot encode the source text", path, p->line,
                                  t->plugin);
            }
            if (file) free(doc);
            if (!rc && count == 0)
                rc = cli_error("%s:%d: the %s%s%s%s encodes to no tokens; a pair needs a non-empty document",
                               path, p->line, side ? "target" : "source", file ? " '" : "", file ? file : "",
                               file ? "'" : "");
            if (!rc) {
                if (side == 0) shift_ids(ids, count, offset);
                tok_vec *out = side ? targets : sources;
                rc = vec_push(out, ids, count);
                if (!rc) rc = vec_push(out, &sep, 1);
            }
            mmg_free(ids);
            if (rc) return rc;
            *bytes += (double)size;
            lens[i].line = p->line;
            if (side) lens[i].tgt = count;
            else lens[i].src = count;
        }
    }
    return 0;
}

/* Every manifest pair must fit the model as it is, since the loader would
 * silently cut a longer one (a target cut before its end token teaches the
 * model documents that never end). */
static int check_pair_lengths(const char *path, const manifest *m, const pair_len *lens, size_t n,
                              const train_args *a, const mmg_model_config *cfg, int32_t bos) {
    size_t src_max = (size_t)(a->max_src_len < cfg->max_seq_len ? a->max_src_len : cfg->max_seq_len);
    size_t tgt_max = (size_t)(a->seq_len < cfg->max_seq_len ? a->seq_len : cfg->max_seq_len);
    size_t framing = bos >= 0 ? 1 : 0; /* the decoder reads [bos] + target */
    for (size_t i = 0; i < n; i++) {
        const manifest_pair *p = &m->pairs[i];
        if (lens[i].src > src_max)
            return cli_error("%s:%d: the source%s%s%s is %zu tokens; the encoder takes at most %zu "
                             "(--max-src-len %d, the model's max_seq_len %d)",
                             path, lens[i].line, p->source_is_file ? " '" : "",
                             p->source_is_file ? p->source : "", p->source_is_file ? "'" : "", lens[i].src,
                             src_max, (int)a->max_src_len, (int)cfg->max_seq_len);
        if (lens[i].tgt + framing > tgt_max)
            return cli_error("%s:%d: the target '%s' is %zu tokens, %zu with bos; the decoder takes at most "
                             "%zu (--seq-len %d, the model's max_seq_len %d): raise --seq-len",
                             path, lens[i].line, p->target, lens[i].tgt, lens[i].tgt + framing, tgt_max,
                             (int)a->seq_len, (int)cfg->max_seq_len);
    }
    return 0;
}

/* Reads a pre-tokenized u16/u32 file into `out`. */
static int read_token_file(const char *path, int32_t token_bytes, tok_vec *out) {
    uint8_t *data;
    size_t size;
    if (files_read(path, &data, &size) != 0) return CLI_ERR;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = tokens_parse(data, size, token_bytes == 2 ? TOKENS_U16 : TOKENS_U32, path, &ids, &n);
    free(data);
    if (rc) return CLI_ERR;
    if (n == 0) {
        free(ids);
        return cli_error("'%s' holds no tokens", path);
    }
    free(out->ids);
    out->ids = ids;
    out->n = out->cap = n;
    return 0;
}

/* The index just past the k-th separator (the start of sequence k). */
static size_t seq_start(const tok_vec *v, int32_t sep, size_t k) {
    size_t i = 0;
    while (k && i < v->n)
        if (v->ids[i++] == sep) k--;
    return i;
}

static size_t count_sep(const tok_vec *v, int32_t sep) {
    size_t c = 0;
    for (size_t i = 0; i < v->n; i++) c += v->ids[i] == sep;
    return c;
}

/* The spellings of --norm, --activation and --position: those of the
 * model config JSON (mmg_model_config_to_json), in enum order. */
static const char *const norm_names[] = {"post", "pre", NULL};
static const char *const activation_names[] = {"relu", "gelu", "gelu_tanh", NULL};
static const char *const position_names[] = {"sinusoidal", "learned", "none", NULL};

/* *out = `base` with the keys of the JSON object `json` applied: the text
 * and base (as mmg_model_config_to_json writes it) are merged key by key,
 * then read by mmg_model_config_from_json, which names unknown keys and bad
 * values. `where` names the JSON in messages. Returns 0 or CLI_ERR. */
static int config_apply_json(const mmg_model_config *base, const char *json, const char *where,
                             mmg_model_config *out) {
    char *base_json = NULL;
    if (mmg_model_config_to_json(base, &base_json) != MMG_OK) return cli_fail("%s", where);
    cJSON *merged = cJSON_Parse(base_json);
    cJSON *user = cJSON_Parse(json);
    mmg_free(base_json);
    int rc = 0;
    if (!merged) rc = cli_error("%s: out of memory", where);
    else if (!user || !cJSON_IsObject(user))
        rc = cli_error("%s: the model config is not a JSON object", where);
    while (!rc && user && user->child) {
        cJSON *item = cJSON_DetachItemViaPointer(user, user->child);
        cJSON *old = cJSON_GetObjectItemCaseSensitive(merged, item->string);
        if (old) cJSON_DeleteItemFromObjectCaseSensitive(merged, item->string);
        /* an unknown key is added too: the library names it */
        cJSON_AddItemToObject(merged, item->string, item);
    }
    char *text = rc ? NULL : cJSON_PrintUnformatted(merged);
    if (!rc && !text) rc = cli_error("%s: out of memory", where);
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    if (!rc && mmg_model_config_from_json(text, strlen(text), &c) != MMG_OK) rc = cli_fail("%s", where);
    if (!rc) *out = c;
    cJSON_free(text);
    cJSON_Delete(merged);
    cJSON_Delete(user);
    return rc;
}

/* The config of a training checkpoint (or model file), from its
 * "mmgen.config" metadata. Returns 0 or CLI_ERR. */
static int config_from_file(const char *path, mmg_model_config *out) {
    char *json = NULL;
    if (mmg_model_file_metadata(path, "mmgen.config", &json) != MMG_OK)
        return cli_fail("reading the model config of '%s'", path);
    mmg_model_config_init(out, sizeof *out);
    int rc = 0;
    if (mmg_model_config_from_json(json, strlen(json), out) != MMG_OK)
        rc = cli_fail("reading the model config of '%s'", path);
    mmg_free(json);
    return rc;
}

/* Builds the model config: library defaults, then the CLI's small GPT-2
 * style defaults (or a checkpoint's config when resuming), then --config,
 * then the flags the user gave. */
static int build_config(const args_command *cmd, args_option *opts, const train_args *a,
                        int32_t tok_vocab, mmg_model_config *cfg) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    int from_file = a->resume && a->checkpoint && files_exist(a->checkpoint);
    if (from_file) {
        if (config_from_file(a->checkpoint, &c)) return CLI_ERR;
    } else {
        c.d_model = 128;
        c.n_heads = 4;
        c.n_encoder_layers = 0;
        c.n_decoder_layers = 4;
        c.d_ff = 0; /* 4 * d_model unless given */
        c.max_seq_len = 0; /* the training length unless given */
        c.norm_placement = MMG_NORM_PRE;
        c.activation = MMG_ACT_GELU_TANH;
        c.position_encoding = MMG_POS_LEARNED;
        c.vocab_size = 0;
    }
    if (a->config) {
        char *json = files_json_arg("--config", a->config);
        if (!json) return CLI_ERR;
        int rc = config_apply_json(&c, json, "--config", &c);
        free(json);
        if (rc) return rc;
    }
#define FLAG(name, field, value) \
    if (args_find(opts, name)->seen) c.field = (value)
    FLAG("d-model", d_model, a->d_model);
    FLAG("heads", n_heads, a->heads);
    FLAG("layers", n_decoder_layers, a->layers);
    FLAG("encoder-layers", n_encoder_layers, a->encoder_layers);
    FLAG("d-ff", d_ff, a->d_ff);
    FLAG("max-seq-len", max_seq_len, a->max_seq_len);
    FLAG("vocab-size", vocab_size, a->vocab_size);
    FLAG("norm", norm_placement, a->norm);
    FLAG("activation", activation, a->activation);
    FLAG("position", position_encoding, a->pos);
#undef FLAG
    /* a manifest trains an encoder-decoder: as deep as the decoder unless told */
    if (a->pairs && !from_file && c.n_encoder_layers == 0) c.n_encoder_layers = c.n_decoder_layers;
    if (c.d_ff == 0) c.d_ff = 4 * c.d_model;
    if (c.max_seq_len == 0) {
        c.max_seq_len = a->seq_len;
        if (c.n_encoder_layers > 0 && a->max_src_len > c.max_seq_len) c.max_seq_len = a->max_src_len;
    }
    if (c.vocab_size == 0) c.vocab_size = tok_vocab; /* both tokenizers' ids, with --source-tokenizer */
    if (c.vocab_size <= 0)
        return args_usage_error(cmd, "the vocabulary size is unknown; give --vocab-size with --tokens");
    if (tok_vocab > 0 && c.vocab_size < tok_vocab)
        return cli_error("the model's vocab_size %d is smaller than the %s %d",
                         (int)c.vocab_size, a->source_tokenizer ? "two tokenizers' ids together" : "tokenizer's",
                         (int)tok_vocab);
    if (c.n_encoder_layers == 0 && a->seq_len > c.max_seq_len)
        return cli_error("--seq-len %d is longer than the model's max_seq_len %d", (int)a->seq_len,
                         (int)c.max_seq_len);
    if (mmg_model_config_validate(&c) != MMG_OK) return cli_fail("checking the model config");
    *cfg = c;
    return 0;
}

/* Evaluates on the validation loader from its start and prints one line. */
static int evaluate(mmg_trainer *tr, mmg_loader *val, int64_t max_batches, double bytes_per_token,
                    int64_t step, train_progress *pg) {
    double loss, ppl, bpb;
    mmg_loader_reset(val);
    if (mmg_trainer_evaluate(tr, val, max_batches, bytes_per_token, &loss, &ppl, &bpb) != MMG_OK) {
        progress_clear(pg);
        return cli_fail("evaluating at step %lld", (long long)step);
    }
    char bits[48] = "";
    if (bytes_per_token > 0) snprintf(bits, sizeof bits, "  bits/byte %.4f", bpb);
    progress_print(pg, "eval  step %lld  loss %.4f  perplexity %.2f%s", (long long)step, loss, ppl, bits);
    progress_json(pg, "eval", "\"step\": %lld, \"loss\": %.6g, \"perplexity\": %.6g", (long long)step, loss, ppl);
    progress_eval(pg, step, loss);
    return 0;
}

static int save_all(mmg_trainer *tr, mmg_loader *loader, mmg_model *model, cli_tok *t,
                    cli_tok *source, int32_t source_offset, const train_args *a) {
    if (a->checkpoint && mmg_trainer_save(tr, loader, a->checkpoint) != MMG_OK)
        return cli_fail("at the end of training"); /* the message names the file */
    if (t->tok && tokfile_embed(model, t) != 0) return CLI_ERR;
    if (source->tok) {
        char offset[16];
        snprintf(offset, sizeof offset, "%d", (int)source_offset);
        if (tokfile_embed_key(model, TOKFILE_SOURCE_METADATA_KEY, source) != 0) return CLI_ERR;
        if (mmg_model_set_metadata(model, MMG_METADATA_SOURCE_ID_OFFSET, offset) != MMG_OK)
            return cli_fail("storing the source id offset in the model's metadata");
    }
    if (mmg_model_save(model, a->output) != MMG_OK) return cli_fail("saving model '%s'", a->output);
    return 0;
}

int cmd_train(int argc, char **argv) {
    train_args a = {
        .token_bytes = 2, .val_fraction = 0.1f,
        .d_model = 128, .heads = 4, .layers = 4, .encoder_layers = 0, .d_ff = 0, .max_seq_len = 0,
        .norm = MMG_NORM_PRE, .activation = MMG_ACT_GELU_TANH, .pos = MMG_POS_LEARNED,
        .steps = 1000, .warmup = -1, .decay_steps = -1, .batch = 12, .seq_len = 64, .max_src_len = 64,
        .accum = 1, .threads = 0, .log_every = 10, .eval_every = 0, .eval_batches = 50,
        .save_every = 0, .lr = 1e-3f, .min_lr = -1, .weight_decay = 0.1f, .grad_clip = 1.0f,
        .beta2 = 0.99f, .seed = 1337, .mpi_timeout = 300, .bucket_mb = 4};
    args_option opts[] = {
        {"tokenizer", 't', ARG_STRING, &a.tokenizer, "FILE", "tokenizer (from `mmgen tokenizer fit`) for the documents FILES "
                                                            "(an encoder-decoder's targets)"},
        {"source-tokenizer", 0, ARG_STRING, &a.source_tokenizer, "FILE", "encoder-decoder: another tokenizer for the sources "
                                                                        "(e.g. text sources, image targets); the model "
                                                                        "carries both"},
        {"pairs", 0, ARG_STRING, &a.pairs, "FILE", "encoder-decoder training pairs from a manifest of "
                                                   "SOURCE<TAB>TARGET lines instead of FILES (see below)"},
        {"plugin", 'p', ARG_STRING, &a.plugin, "NAME", "with --tokenizer: the file is this plugin's raw state"},
        {"tokenizer-config", 0, ARG_STRING, &a.tok_config, "JSON|FILE", "the plugin's config (with --plugin)"},
        {"tokens", 0, ARG_STRING, &a.tokens, "FILE", "pre-tokenized data instead of FILES (decoder input; "
                                                     "sources for an encoder-decoder)"},
        {"target-tokens", 0, ARG_STRING, &a.target_tokens, "FILE", "encoder-decoder: targets matching --tokens, "
                                                                   "sequences ended by the eos id (--vocab-size - 1 if none)"},
        {"token-bytes", 0, ARG_INT, &a.token_bytes, "N", "bytes per id in --tokens files: 2 (u16) or 4 (u32)", 2, 4},
        {"val-fraction", 0, ARG_FLOAT, &a.val_fraction, "F", "share of the data held out for evaluation", 0, 0.9},
        {"fim-rate", 0, ARG_FLOAT, &a.fim_rate, "R", "code tokenizers: turn this share of the documents into "
                                                    "fill-in-the-middle examples (each also gets the language "
                                                    "tag of its file name)", 0, 1},
        {"config", 0, ARG_STRING, &a.config, "JSON|FILE", "model config (the keys of a model's mmgen.config); "
                                                          "flags override it"},
        {"d-model", 0, ARG_INT, &a.d_model, "N", "embedding width", 1, 1 << 20},
        {"heads", 0, ARG_INT, &a.heads, "N", "attention heads (divides --d-model)", 1, 1 << 16},
        {"layers", 0, ARG_INT, &a.layers, "N", "decoder layers", 1, 1 << 16},
        {"encoder-layers", 0, ARG_INT, &a.encoder_layers, "N", "encoder layers; > 0 makes an encoder-decoder "
                                                               "whose FILES are SRC TGT pairs", 0, 1 << 16},
        {"d-ff", 0, ARG_INT, &a.d_ff, "N", "feed-forward width (0 = 4 x d-model)", 0, 1 << 24},
        {"max-seq-len", 0, ARG_INT, &a.max_seq_len, "N", "longest sequence the model handles (0 = --seq-len)", 0, 1 << 24},
        {"vocab-size", 0, ARG_INT, &a.vocab_size, "N", "vocabulary size (default: the tokenizer's)", 1, 1 << 30},
        {"norm", 0, ARG_CHOICE, &a.norm, "WHERE", "LayerNorm placement", 0, 0, norm_names},
        {"activation", 0, ARG_CHOICE, &a.activation, "ACT", "feed-forward activation", 0, 0,
         activation_names},
        {"position", 0, ARG_CHOICE, &a.pos, "ENC", "position encoding", 0, 0, position_names},
        {"steps", 'n', ARG_I64, &a.steps, "N", "optimizer steps in all (a resumed run continues to N)", 0, 1e15},
        {"batch", 'b', ARG_INT, &a.batch, "N", "sequences per batch", 1, 1 << 20},
        {"seq-len", 0, ARG_INT, &a.seq_len, "N", "tokens per training sequence (decoder side)", 1, 1 << 24},
        {"max-src-len", 0, ARG_INT, &a.max_src_len, "N", "encoder-decoder: longest source (longer are cut)", 1, 1 << 24},
        {"accum", 0, ARG_INT, &a.accum, "N", "batches per optimizer step (gradient accumulation)", 1, 1 << 20},
        {"lr", 0, ARG_FLOAT, &a.lr, "F", "peak learning rate", 1e-12, 10},
        {"min-lr", 0, ARG_FLOAT, &a.min_lr, "F", "learning rate at the end of the cosine decay (-1 = lr/10)", -1, 10},
        {"warmup", 0, ARG_I64, &a.warmup, "N", "linear warm-up steps (-1 = min(100, steps/10))", -1, 1e15},
        {"decay-steps", 0, ARG_I64, &a.decay_steps, "N", "cosine decay ends here (-1 = --steps, 0 = constant)", -1, 1e15},
        {"weight-decay", 0, ARG_FLOAT, &a.weight_decay, "F", "AdamW decoupled weight decay", 0, 10},
        {"beta2", 0, ARG_FLOAT, &a.beta2, "F", "AdamW beta2", 0, 0.99999},
        {"grad-clip", 0, ARG_FLOAT, &a.grad_clip, "F", "clip the global gradient norm (0 = off)", 0, 1e9},
        {"dropout", 0, ARG_FLOAT, &a.dropout, "F", "dropout probability", 0, 0.99},
        {"label-smoothing", 0, ARG_FLOAT, &a.label_smoothing, "F", "label smoothing", 0, 0.99},
        {"seed", 's', ARG_U64, &a.seed, "N", "seed of the initial weights, batch order and dropout"},
        {"threads", 'j', ARG_INT, &a.threads, "N", "threads (0 = MMGEN_NUM_THREADS or all cores)", 0, 4096},
        {"log-every", 0, ARG_INT, &a.log_every, "N", "print the mean training loss every N steps", 1, 1 << 30},
        {"eval-every", 0, ARG_INT, &a.eval_every, "N", "also evaluate every N steps (0 = only at the end)", 0, 1 << 30},
        {"eval-batches", 0, ARG_INT, &a.eval_batches, "N", "validation batches per evaluation (0 = all)", 0, 1 << 30},
        {"output", 'o', ARG_STRING, &a.output, "FILE", "the model file to write (safetensors, tokenizer embedded)"},
        {"checkpoint", 0, ARG_STRING, &a.checkpoint, "FILE", "resumable training state (weights, AdamW moments, "
                                                             "step, data position)"},
        {"save-every", 0, ARG_I64, &a.save_every, "N", "also save the checkpoint every N steps", 0, 1e15},
        {"log-file", 0, ARG_STRING, &a.log_file, "FILE", "also write the run as JSON lines (start, step, eval, end)"},
        {"plot", 0, ARG_STRING, &a.plot, "FILE", "draw the loss curve into this PNG at the end (needs gnuplot)"},
        {"resume", 0, ARG_FLAG, &a.resume, NULL, "continue from --checkpoint (same data and options)"},
        {"max-time", 0, ARG_FLOAT, &a.max_time, "SECONDS", "stop after the step that passes this much training "
                                                           "time (0 = no limit), then evaluate and save. Only a stop: "
                                                           "the learning-rate schedule still runs over --steps "
                                                           "(--decay-steps), so an early stop leaves it mid-decay; "
                                                           "size --steps to the time, or --decay-steps 0", 0, 1e9},
        {"mpi-timeout", 0, ARG_FLOAT, &a.mpi_timeout, "SECONDS", "under mpirun: the longest wait for the other ranks "
                                                                "before a rank gives up with an error (a rank died "
                                                                "or hangs)", 1, 1e9},
        {"bucket-mb", 0, ARG_FLOAT, &a.bucket_mb, "MB", "under mpirun: gradients are summed in buckets of this "
                                                        "size while the backward pass runs (0 = one sum after it)",
         0, 1e6},
        {0}};
    const args_command cmd = {
        "train", "--tokenizer TOK -o MODEL [options] FILES...",
        "Trains a transformer on documents of any modality: each FILE is a document\n"
        "the tokenizer's plugin encodes (text, PNG...). A decoder-only model by\n"
        "default; with --encoder-layers > 0 an encoder-decoder trained on FILES given\n"
        "as pairs SRC1 TGT1 SRC2 TGT2 ... Prints the training loss every --log-every\n"
        "steps and the validation loss at the end; writes MODEL with the tokenizer\n"
        "inside, so `mmgen generate --model MODEL` needs nothing else.\n"
        "\n"
        "--pairs FILE trains an encoder-decoder (as many encoder layers as --layers\n"
        "unless --encoder-layers says) on a manifest, one pair per line:\n"
        "  SOURCE<TAB>TARGET\n"
        "TARGET is a file path, relative to the manifest's directory. SOURCE is\n"
        "inline text as it stands, or @PATH for a file (relative likewise); @@ starts\n"
        "inline text with one @. Empty lines are skipped. --source-tokenizer encodes\n"
        "the sources with another plugin than the targets (text -> image); the model\n"
        "file then carries both tokenizers. Every file is checked and every pair must\n"
        "fit the model (source <= --max-src-len, bos + target <= --seq-len) before\n"
        "training starts; an error names the manifest line.\n"
        "\n"
        "The learning rate warms up linearly for --warmup steps, then follows a\n"
        "cosine from --lr down to --min-lr at --decay-steps (default --steps). The\n"
        "schedule is fixed by these step counts before training starts: --max-time\n"
        "and Ctrl-C stop early without changing it, so such a run ends at whatever\n"
        "learning rate the schedule had reached (printed when it stops).\n"
        "\n"
        "--fim-rate R (a `code` plugin tokenizer, decoder-only, document FILES)\n"
        "hands each FILE to the plugin with a header naming it, so the document\n"
        "starts with the language tag of its file name, and makes a share R of the\n"
        "documents fill-in-the-middle examples (StarCoder's PSM order: <|fim_prefix|>\n"
        "P <|fim_suffix|> S <|fim_middle|> M, the split drawn per document). The\n"
        "model still carries the tokenizer as fitted; `mmgen generate --prefix-file\n"
        "A --suffix-file B` then writes a middle. The \"fim:\" line after the data\n"
        "line counts the FIM examples.",
        "examples:\n"
        "  mmgen tokenizer fit --plugin text --config '{\"vocab_size\": 1024}' -o tok.json input.txt\n"
        "  mmgen train -t tok.json -o shakespeare.safetensors --steps 500 input.txt\n"
        "  mmgen train -t tok.json -o m.safetensors --checkpoint m.ckpt --resume --steps 1000 input.txt\n"
        "  mmgen train --source-tokenizer names.json -t digits.json --pairs pairs.tsv -o digits.safetensors\n"
        "  mmgen train -t code.json --fim-rate 0.5 -o code.safetensors --seq-len 256 src/*.py\n"
        "  mpirun -np 2 mmgen train -t tok.json -o m.safetensors --batch 16 input.txt   (-DMMGEN_MPI=ON)\n"};

    const char **files = malloc(MAX_FILES * sizeof *files);
    if (!files) return cli_error("out of memory");
    int n_files = 0;
    int rc = args_parse(&cmd, opts, argc, argv, files, MAX_FILES, &n_files);
    if (rc != ARGS_OK) {
        free(files);
        return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;
    }
    if (a.token_bytes != 2 && a.token_bytes != 4) rc = args_usage_error(&cmd, "--token-bytes must be 2 or 4");
    else if (!a.output) rc = args_usage_error(&cmd, "-o/--output MODEL is required");
    else if (a.tokens && n_files) rc = args_usage_error(&cmd, "give either --tokens or document FILES, not both");
    else if (a.pairs && n_files) rc = args_usage_error(&cmd, "give either --pairs or document FILES, not both");
    else if (a.pairs && a.tokens) rc = args_usage_error(&cmd, "give either --pairs or --tokens, not both");
    else if (a.source_tokenizer && a.tokens)
        rc = args_usage_error(&cmd, "--source-tokenizer encodes documents; --tokens are already token ids");
    else if (a.pairs && args_find(opts, "encoder-layers")->seen && a.encoder_layers == 0)
        rc = args_usage_error(&cmd, "--pairs trains an encoder-decoder; --encoder-layers must be > 0");
    else if (!a.tokens && !n_files && !a.pairs)
        rc = args_usage_error(&cmd, "no training data: give document FILES or --pairs (with --tokenizer), or --tokens");
    else if (!a.tokens && !a.tokenizer) rc = args_usage_error(&cmd, "--tokenizer is required to encode document FILES");
    else if (a.resume && !a.checkpoint) rc = args_usage_error(&cmd, "--resume needs --checkpoint FILE");
    else if (a.resume && !files_exist(a.checkpoint))
        rc = cli_error("--resume: checkpoint '%s' does not exist", a.checkpoint);
    else if (a.save_every && !a.checkpoint) rc = args_usage_error(&cmd, "--save-every needs --checkpoint FILE");
    /* Paths written only at the end are checked now, not after hours of training. */
    else if (files_check_writable("--output", a.output) ||
             (a.checkpoint && files_check_writable("--checkpoint", a.checkpoint)) ||
             (a.log_file && files_check_writable("--log-file", a.log_file)) ||
             (a.plot && files_check_writable("--plot", a.plot)))
        rc = CLI_ERR;
    else if (args_find(opts, "fim-rate")->seen && (a.tokens || a.pairs || args_find(opts, "encoder-layers")->seen))
        rc = args_usage_error(&cmd, "--fim-rate makes FIM examples of document FILES for a decoder-only model; "
                                    "not with --tokens, --pairs or --encoder-layers");
    if (rc) {
        free(files);
        return rc;
    }
    /* under mpirun: one rank of several (cli/parallel.h) */
    cli_parallel par;
    size_t bucket = a.bucket_mb > 0 ? (size_t)((double)a.bucket_mb * 1e6) : SIZE_MAX;
    if (cli_parallel_begin(&par, a.mpi_timeout, bucket) != 0) {
        free(files);
        return CLI_ERR;
    }
    int together = 0; /* a failure every rank saw at the same point */

    /* --- the tokenizer and the data --- */
    cli_tok tok = {0}, stok = {0}, fim = {0};
    manifest mf = {0};
    pair_len *lens = NULL;
    tok_vec train = {0}, target = {0};
    mmg_model *model = NULL;
    mmg_trainer *tr = NULL;
    mmg_dataset *ds = NULL, *ds_t = NULL, *vds = NULL, *vds_t = NULL;
    mmg_loader *loader = NULL, *vloader = NULL;
    double bytes = 0, t0 = cli_now();
    int32_t tok_vocab = 0, bos = -1, eos = -1, pad = -1, src_offset = 0;
    if (a.tokenizer) {
        char *cfg = a.tok_config ? files_json_arg("--tokenizer-config", a.tok_config) : NULL;
        if (a.tok_config && !cfg) rc = CLI_ERR;
        if (!rc) rc = tokfile_load(a.tokenizer, a.plugin, cfg, &tok);
        free(cfg);
        if (!rc) {
            tok_vocab = mmg_tokenizer_vocab_size(tok.tok);
            bos = tokfile_special(&tok, "bos");
            eos = tokfile_special(&tok, "eos");
            pad = tokfile_special(&tok, "pad");
        }
    }
    int fim_on = args_find(opts, "fim-rate")->seen;
    if (!rc && fim_on && !code_fim_is_code(&tok))
        rc = args_usage_error(&cmd, "--fim-rate needs a tokenizer of the code plugin; '%s' is a %s tokenizer",
                              a.tokenizer, tok.plugin);
    if (!rc && fim_on) rc = code_fim_tokenizer(&tok, a.fim_rate, &fim);
    if (!rc && a.source_tokenizer) {
        rc = tokfile_load(a.source_tokenizer, NULL, NULL, &stok);
        if (!rc) {
            /* the source ids go after the target ids in the model's vocabulary */
            src_offset = tok_vocab;
            int32_t sv = mmg_tokenizer_vocab_size(stok.tok);
            if (sv <= 0) rc = cli_error("--source-tokenizer '%s' has no vocabulary", a.source_tokenizer);
            tok_vocab += sv;
        }
    }
    int encdec = a.pairs || (args_find(opts, "encoder-layers")->seen && a.encoder_layers > 0);
    if (!rc && a.config) { /* the config file may make it an encoder-decoder */
        mmg_model_config c;
        mmg_model_config_init(&c, sizeof c);
        c.n_encoder_layers = 0;
        char *json = files_json_arg("--config", a.config);
        if (!json || config_apply_json(&c, json, "--config", &c)) rc = CLI_ERR;
        free(json);
        if (!args_find(opts, "encoder-layers")->seen && !a.pairs) encdec = c.n_encoder_layers > 0;
    }
    if (!rc && a.resume && !args_find(opts, "encoder-layers")->seen && !a.pairs) {
        mmg_model_config c;
        if (config_from_file(a.checkpoint, &c)) rc = CLI_ERR;
        else encdec = c.n_encoder_layers > 0;
    }
    int32_t sep = -1;
    if (!rc && encdec) {
        sep = eos >= 0 ? eos : (a.tokens ? (a.vocab_size > 0 ? a.vocab_size - 1 : -1) : -1);
        if (!a.tokens && !a.pairs && n_files % 2)
            rc = args_usage_error(&cmd, "an encoder-decoder trains on pairs: give SRC TGT files in pairs "
                                        "(got %d files)", n_files);
        else if (a.tokens && !a.target_tokens)
            rc = args_usage_error(&cmd, "an encoder-decoder with --tokens needs --target-tokens");
        else if (sep < 0)
            rc = cli_error("an encoder-decoder needs an eos token to end each sequence; the tokenizer "
                           "has none (with --tokens, give --vocab-size)");
    }
    if (!rc && fim_on && encdec)
        rc = args_usage_error(&cmd, "--fim-rate is for decoder-only models; the model (--config) has encoder layers");
    if (!rc && a.source_tokenizer && !encdec)
        rc = args_usage_error(&cmd, "--source-tokenizer is for encoder-decoders (--pairs or --encoder-layers N)");
    if (!rc && a.pairs) {
        rc = manifest_read(a.pairs, &mf);
        if (!rc && !(lens = calloc(mf.n, sizeof *lens))) rc = cli_error("out of memory");
        if (!rc)
            rc = tokenize_manifest(a.pairs, &mf, stok.tok ? &stok : &tok, src_offset, &tok, sep, &train,
                                   &target, lens, &bytes);
    } else if (!rc && a.tokens) {
        rc = read_token_file(a.tokens, a.token_bytes, &train);
        if (!rc && encdec) rc = read_token_file(a.target_tokens, a.token_bytes, &target);
    } else if (!rc && !encdec) {
        rc = tokenize_docs(fim_on ? &fim : &tok, files, n_files, 1, 0, bos, eos, -1, 0, fim_on, &train, &bytes);
    } else if (!rc) {
        rc = tokenize_docs(stok.tok ? &stok : &tok, files, n_files, 2, 0, bos, eos, sep, src_offset, 0, &train,
                           &bytes);
        if (!rc) rc = tokenize_docs(&tok, files, n_files, 2, 1, bos, eos, sep, 0, 0, &target, &bytes);
    }
    if (!rc && a.tokens && a.vocab_size <= 0 && tok_vocab <= 0 && !a.config && !a.resume) {
        /* the largest id seen fixes the smallest vocabulary that fits */
        int32_t mx = 0;
        for (size_t i = 0; i < train.n; i++) mx = train.ids[i] > mx ? train.ids[i] : mx;
        for (size_t i = 0; i < target.n; i++) mx = target.ids[i] > mx ? target.ids[i] : mx;
        a.vocab_size = mx + 1;
        args_find(opts, "vocab-size")->seen = 1;
        cli_warn("no --vocab-size: using %d (the largest token id + 1)", (int)a.vocab_size);
    }
    double bytes_per_token = bytes > 0 && train.n + target.n > 0 ? bytes / (double)(train.n + target.n) : 0;
    /* bits per byte means something for text, not for PNG bytes */
    int textual = tok.tok && (tok.modality == MMG_MODALITY_TEXT || tok.modality == MMG_MODALITY_CODE);
    double eval_bytes_per_token = !encdec && textual ? bytes_per_token : 0;
    if (!rc && a.pairs)
        printf("data: %zu pairs from %s, %.0f bytes -> %zu source tokens (%s) + %zu target tokens (%s), "
               "vocabulary %d\n", mf.n, a.pairs, bytes, train.n - mf.n, stok.tok ? stok.plugin : tok.plugin,
               target.n - mf.n, tok.plugin, (int)tok_vocab);
    else if (!rc && a.tokenizer)
        printf("data: %d document%s, %.0f bytes -> %zu tokens (%.2f bytes/token), vocabulary %d\n",
               n_files, n_files == 1 ? "" : "s", bytes, train.n + target.n, bytes_per_token, (int)tok_vocab);
    if (!rc && fim_on) {
        /* a document's content never encodes to a special token: one <|fim_prefix|> per example */
        int32_t marker = tokfile_special(&fim, "fim_prefix");
        size_t n_fim = 0;
        for (size_t i = 0; i < train.n; i++) n_fim += train.ids[i] == marker;
        printf("fim: %zu of %d documents are fill-in-the-middle examples (--fim-rate %g)\n", n_fim, n_files,
               (double)a.fim_rate);
    }
    if (!rc && stok.tok)
        printf("tokenizers: sources %s (%d ids, at %d..%d), targets %s (%d ids, at 0..%d)\n", stok.plugin,
               (int)(tok_vocab - src_offset), (int)src_offset, (int)tok_vocab - 1, tok.plugin, (int)src_offset,
               (int)src_offset - 1);

    /* every rank must train on the same tokens with the same flags */
    if (!rc && par.size > 1) {
        struct {
            int64_t steps, warmup, decay_steps, save_every;
            int32_t batch, seq_len, max_src_len, accum, eval_every, eval_batches, resume;
            float val_fraction, max_time;
        } flags;
        memset(&flags, 0, sizeof flags);
        flags.steps = a.steps, flags.warmup = a.warmup, flags.decay_steps = a.decay_steps;
        flags.save_every = a.save_every, flags.batch = a.batch, flags.seq_len = a.seq_len;
        flags.max_src_len = a.max_src_len, flags.accum = a.accum, flags.eval_every = a.eval_every;
        flags.eval_batches = a.eval_batches, flags.resume = a.resume, flags.val_fraction = a.val_fraction;
        flags.max_time = a.max_time;
        rc = cli_parallel_agree(&par, &flags, sizeof flags,
                                "flags (--steps --warmup --decay-steps --save-every --batch --seq-len "
                                "--max-src-len --accum --eval-every --eval-batches --resume --val-fraction "
                                "--max-time)");
        if (!rc) rc = cli_parallel_agree(&par, train.ids, train.n * sizeof *train.ids, "training data (token ids)");
        if (!rc) rc = cli_parallel_agree(&par, target.ids, target.n * sizeof *target.ids, "target data (token ids)");
        together = rc != 0;
    }

    /* --- the model --- */
    mmg_model_config cfg;
    if (!rc) rc = build_config(&cmd, opts, &a, tok_vocab, &cfg);
    if (!rc && encdec != (cfg.n_encoder_layers > 0)) {
        if (a.pairs) rc = cli_error("--pairs trains an encoder-decoder, but the model (--config or the checkpoint) "
                                    "has no encoder layers");
        else rc = cli_error("internal: model kind mismatch");
    }
    if (!rc && a.pairs) rc = check_pair_lengths(a.pairs, &mf, lens, mf.n, &a, &cfg, bos);
    if (!rc) {
        mmg_model_options mo;
        mmg_model_options_init(&mo, sizeof mo);
        mo.seed = a.seed;
        if (mmg_model_create(&cfg, &mo, &model) != MMG_OK) rc = cli_fail("creating the model");
    }
    if (!rc) {
        uint64_t np = mmg_model_n_params(model);
        printf("model: %s, %d+%d layers, d_model %d, %d heads, d_ff %d, context %d, vocab %d: %.2f M parameters\n",
               encdec ? "encoder-decoder" : "decoder-only", (int)cfg.n_encoder_layers,
               (int)cfg.n_decoder_layers, (int)cfg.d_model, (int)cfg.n_heads, (int)cfg.d_ff,
               (int)cfg.max_seq_len, (int)cfg.vocab_size, (double)np / 1e6);
    }

    /* --- train/validation split and loaders --- */
    mmg_loader_options lo;
    mmg_loader_options_init(&lo, sizeof lo);
    lo.batch_size = a.batch;
    lo.seq_len = a.seq_len;
    lo.max_src_len = a.max_src_len;
    lo.seed = a.seed;
    lo.vocab_size = rc ? 0 : cfg.vocab_size;
    if (encdec) {
        lo.separator = sep;
        lo.bos_id = bos >= 0 ? bos : -1;
        lo.eos_id = eos;
        lo.pad_id = pad >= 0 ? pad : (eos >= 0 ? eos : 0);
    }
    size_t n_train = train.n, n_val = 0, val_start = train.n;
    size_t n_train_t = target.n, val_start_t = target.n;
    if (!rc && !encdec && a.val_fraction > 0) {
        n_val = (size_t)((double)train.n * a.val_fraction);
        if (n_val < (size_t)a.seq_len + 1) {
            cli_warn("the validation share (%zu tokens) is shorter than one sequence of %d; no evaluation",
                     n_val, (int)a.seq_len + 1);
            n_val = 0;
        }
        n_train = train.n - n_val;
        val_start = n_train;
    } else if (!rc && encdec && a.val_fraction > 0) {
        size_t pairs = count_sep(&train, sep), pairs_t = count_sep(&target, sep);
        if (pairs != pairs_t) {
            rc = cli_error("the sources hold %zu sequences but the targets %zu", pairs, pairs_t);
        } else {
            size_t nv = (size_t)((double)pairs * a.val_fraction);
            if (nv == 0 || nv >= pairs) {
                cli_warn("%zu pairs are too few to hold out %.0f%% for evaluation; no evaluation", pairs,
                         100.0 * a.val_fraction);
            } else {
                val_start = seq_start(&train, sep, pairs - nv);
                val_start_t = seq_start(&target, sep, pairs - nv);
                n_train = val_start, n_train_t = val_start_t;
                n_val = train.n - val_start;
            }
        }
    }
    if (!rc && n_train == 0) rc = cli_error("no training tokens");
    if (!rc && mmg_dataset_from_tokens(train.ids, n_train, &ds) != MMG_OK) rc = cli_fail("preparing the training data");
    if (!rc && encdec && mmg_dataset_from_tokens(target.ids, n_train_t, &ds_t) != MMG_OK)
        rc = cli_fail("preparing the training targets");
    if (!rc) {
        mmg_status s = encdec ? mmg_loader_create_pairs(ds, ds_t, &lo, &loader)
                              : mmg_loader_create_packed(ds, &lo, &loader);
        if (s != MMG_OK) {
            rc = cli_fail("preparing training batches");
            if (s == MMG_ERR_RANGE && !encdec)
                fprintf(stderr, "mmgen: hint: %zu training tokens; lower --seq-len (%d) or give more data\n",
                        n_train, (int)a.seq_len);
        }
    }
    if (!rc && n_val > 0) {
        mmg_loader_options vo = lo;
        vo.shuffle = 0;
        mmg_status s = mmg_dataset_from_tokens(train.ids + val_start, n_val, &vds);
        if (!s && encdec) s = mmg_dataset_from_tokens(target.ids + val_start_t, target.n - val_start_t, &vds_t);
        if (!s) s = encdec ? mmg_loader_create_pairs(vds, vds_t, &vo, &vloader)
                           : mmg_loader_create_packed(vds, &vo, &vloader);
        if (s) rc = cli_fail("preparing validation batches");
    }

    /* --- the trainer --- */
    mmg_train_options to;
    mmg_train_options_init(&to, sizeof to);
    to.learning_rate = a.lr;
    to.min_learning_rate = a.min_lr;
    to.warmup_steps = a.warmup >= 0 ? a.warmup : (a.steps / 10 < 100 ? a.steps / 10 : 100);
    to.decay_steps = a.decay_steps >= 0 ? a.decay_steps : a.steps;
    to.weight_decay = a.weight_decay;
    to.beta2 = a.beta2;
    to.grad_clip = a.grad_clip;
    to.grad_accum_steps = a.accum;
    to.dropout = a.dropout;
    to.label_smoothing = a.label_smoothing;
    to.seed = a.seed;
    to.n_threads = a.threads;
    if (!rc && mmg_trainer_create(model, &to, &tr) != MMG_OK) rc = cli_fail("creating the trainer");
    if (!rc && a.resume) {
        if (mmg_trainer_load(tr, loader, a.checkpoint) != MMG_OK)
            rc = cli_fail("resuming from checkpoint '%s'", a.checkpoint);
        else
            printf("resumed from %s at step %lld\n", a.checkpoint, (long long)mmg_trainer_steps_done(tr));
    }
    if (!rc && a.resume && par.size > 1) {
        /* every rank read its own copy: they must be one checkpoint */
        uint8_t *ck = NULL;
        size_t ck_n = 0;
        rc = files_read(a.checkpoint, &ck, &ck_n) != 0 ? CLI_ERR : 0;
        if (!rc) rc = cli_parallel_agree(&par, ck, ck_n, "checkpoint file (--resume)"), together = rc != 0;
        free(ck);
    }
    if (!rc && par.size > 1) {
        rc = cli_parallel_join(&par, tr);
        together = rc != 0;
    }
    if (!rc) printf("prepared in %.1f s\n", cli_now() - t0);
    if (!rc && a.max_time > 0 && to.decay_steps > 0)
        printf("note: --max-time only stops the run; the learning rate decays over %lld steps whatever "
               "time that takes\n", (long long)to.decay_steps);
    fflush(stdout);

    /* --- the loop --- */
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_sa);
    double t_log = cli_now(), t_start = t_log, loss_sum = 0;
    int timed_out = 0;
    int64_t loss_n = 0, tokens_since = 0;
    int64_t step = rc ? 0 : mmg_trainer_steps_done(tr);
    int64_t first_step = step;
    train_progress pg;
    char jout[1024], jdata[1024];
    char start_json[2200];
    snprintf(start_json, sizeof start_json, "\"model\": %s, \"data\": %s, ",
             progress_json_string(a.output, jout, sizeof jout),
             progress_json_string(a.pairs ? a.pairs : a.tokens ? a.tokens : n_files ? files[0] : "", jdata, sizeof jdata));
    int pg_rc = progress_begin(&pg, rc || par.rank != 0 ? NULL : a.log_file, first_step, a.steps, start_json);
    if (!rc) rc = pg_rc;
    while (!rc && step < a.steps && !g_interrupted && !timed_out) {
        float step_loss = 0;
        for (int k = 0; k < a.accum && !rc; k++) {
            const mmg_batch *b = NULL;
            if (mmg_loader_next(loader, &b) != MMG_OK) {
                progress_clear(&pg);
                rc = cli_fail("reading batch at step %lld", (long long)step + 1);
                together = 1; /* every rank reads the same batches */
                break;
            }
            float loss;
            if (mmg_trainer_step(tr, b, &loss) != MMG_OK) {
                progress_clear(&pg);
                /* a failed sum across ranks (a timeout) is this rank's alone */
                together = mmg_last_status() != MMG_ERR_IO;
                rc = cli_fail("training step %lld", (long long)step + 1);
                if (a.checkpoint)
                    fprintf(stderr, "mmgen: the last checkpoint (%s) is untouched\n", a.checkpoint);
                break;
            }
            step_loss += loss / (float)a.accum;
            for (int r = 0; r < b->batch_size; r++)
                tokens_since += b->tgt_len ? b->tgt_len[r] : b->tgt_len_max;
        }
        if (rc) break;
        step = mmg_trainer_steps_done(tr);
        loss_sum += step_loss;
        loss_n++;
        double now = cli_now();
        if (a.max_time > 0 && now - t_start >= a.max_time) timed_out = 1;
        if (a.max_time > 0) timed_out = cli_parallel_decide(&par, timed_out); /* rank 0's clock */
        progress_step(&pg, step, step_loss);
        if (step == first_step + 1 || step % a.log_every == 0 || step == a.steps || timed_out) {
            double eta = progress_eta(&pg, step), mean = loss_sum / (double)loss_n;
            double lr = (double)mmg_trainer_learning_rate(tr), gn = (double)mmg_trainer_last_grad_norm(tr);
            double tps = (double)tokens_since / (now - t_log);
            char left[32];
            progress_print(&pg, "step %lld/%lld  loss %.4f  lr %.2e  grad-norm %.3f  %.0f tok/s  eta %s",
                           (long long)step, (long long)a.steps, mean, lr, gn, tps,
                           progress_duration(eta, left, sizeof left));
            progress_json(&pg, "step",
                          "\"step\": %lld, \"loss\": %.6g, \"lr\": %.6g, \"grad_norm\": %.6g, \"tokens_per_s\": %.6g, "
                          "\"elapsed_s\": %.3f, \"eta_s\": %.3f",
                          (long long)step, mean, lr, gn, tps, now - t_start, eta < 0 ? 0 : eta);
            loss_sum = 0, loss_n = 0, tokens_since = 0, t_log = now;
        }
        if (vloader && a.eval_every && step % a.eval_every == 0 && step != a.steps) {
            rc = evaluate(tr, vloader, a.eval_batches, eval_bytes_per_token, step, &pg);
            together = rc && mmg_last_status() != MMG_ERR_IO;
        }
        if (!rc && par.rank == 0 && a.save_every && step % a.save_every == 0 && step != a.steps) {
            if (mmg_trainer_save(tr, loader, a.checkpoint) != MMG_OK) {
                progress_clear(&pg);
                rc = cli_fail("at step %lld", (long long)step); /* the message names the file */
            }
        }
    }
    sigaction(SIGINT, &old_sa, NULL);
    progress_clear(&pg);
    if (!rc && g_interrupted) printf("interrupted at step %lld\n", (long long)step);
    if (!rc && timed_out && !g_interrupted && step < a.steps)
        printf("stopped at step %lld of %lld: --max-time %g s reached; the learning rate had reached %.2e "
               "(the schedule ends at step %lld)\n",
               (long long)step, (long long)a.steps, (double)a.max_time, (double)mmg_trainer_learning_rate(tr),
               (long long)(to.decay_steps > 0 ? to.decay_steps : to.warmup_steps));
    if (!rc && vloader) {
        rc = evaluate(tr, vloader, a.eval_batches, eval_bytes_per_token, step, &pg);
        together = rc && mmg_last_status() != MMG_ERR_IO;
    }
    if (!rc) cli_parallel_report(&par, cli_now() - t_start, (long long)(step - first_step));
    if (!rc && par.rank == 0) rc = save_all(tr, loader, model, &tok, &stok, src_offset, &a);
    if (!rc) {
        printf("saved %s%s%s%s in %.1f s\n", a.output,
               stok.tok ? " (both tokenizers embedded)" : tok.tok ? " (tokenizer embedded)" : "",
               a.checkpoint ? " and checkpoint " : "", a.checkpoint ? a.checkpoint : "", cli_now() - t0);
        if (g_interrupted) rc = 130;
    }
    if (a.log_file && pg.log)
        progress_json(&pg, "end", "\"step\": %lld, \"elapsed_s\": %.3f, \"status\": \"%s\"", (long long)step,
                      cli_now() - t_start, rc == 0 ? "saved" : rc == 130 ? "interrupted" : "failed");
    if ((rc == 0 || rc == 130) && par.rank == 0 && a.plot && step > first_step) {
        int drawn = progress_plot(&pg, a.plot, a.output);
        if (drawn == 0) printf("loss curve: %s\n", a.plot);
        else if (drawn == CLI_ERR) rc = CLI_ERR;
    }
    progress_end(&pg);

    mmg_trainer_free(tr);
    mmg_loader_free(loader);
    mmg_loader_free(vloader);
    mmg_dataset_free(ds);
    mmg_dataset_free(ds_t);
    mmg_dataset_free(vds);
    mmg_dataset_free(vds_t);
    mmg_model_free(model);
    tokfile_free(&tok);
    tokfile_free(&stok);
    tokfile_free(&fim);
    manifest_free(&mf);
    free(lens);
    free(train.ids);
    free(target.ids);
    free(files);
    return cli_parallel_end(&par, rc, together);
}
