/* cli/cmd_generate.c - `mmgen generate`: a model (and the tokenizer it
 * carries) -> a document: text streamed to stdout, or a file (-o) of the
 * tokenizer's modality (a PNG for the image plugin).
 *
 * The decoder's prompt is [bos] + encode(--prompt), as `mmgen train` framed
 * the documents. When the tokenizer's plugin has the constraint extension,
 * every step allows only the tokens that may come next in a valid document
 * (for images: a valid layout header, then exactly the layout's patch tokens,
 * then eos), so what is decoded is always a well-formed file. The
 * constraint sees the document from its first token (the prompt's part
 * after bos, then what was generated).
 *
 * Cross-modal models carry a source tokenizer too ("mmgen.source_tokenizer"):
 * --source is encoded with it and its ids moved up by the model's source id
 * offset, the decoder's output is the target tokenizer's ids (any id of the
 * source range is masked out), so `--source seven -o seven.png` draws a
 * digit. With --num-samples N the files are numbered with as many digits as N
 * needs (seven-01.png .. seven-16.png), and image samples are also laid out
 * in one contact sheet captioned with the source (seven-sheet.png), drawn by
 * ImageMagick's montage (cli/contact_sheet.h).
 *
 * Longer outputs than the model's context: when the context fills up, the
 * last half of the tokens becomes the prompt of the next call (a sliding
 * window, as nanoGPT's sampler crops its context), so --max-tokens is not
 * bounded by max_seq_len. Each call k of sample i uses seed + i + k*2^32, so
 * a seed gives the same output on every run.
 *
 * Fill-in-the-middle (a code plugin tokenizer): --prefix-file A
 * --suffix-file B encodes the document "name=A\0fim=prompt:|A|\0context=N\0\0"
 * + A + B with a twin of the tokenizer that reads the plugin's document
 * header (cli/code_fim.h): [lang] <|fim_prefix|> A <|fim_suffix|> B
 * <|fim_middle|>, checked against the model's context N. The model writes
 * the middle up to its end token, within that one context (no sliding
 * window: the prefix and suffix must stay in view); the constraint sees the
 * prompt's ids and the middle, so the middle must close what A opened and
 * leave B well-formed. The output is the bytes of A, the decoded middle,
 * the bytes of B (joined here, so they stand even when an unconstrained
 * middle holds FIM markers), or the middle alone with --middle-only. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "cli.h"
#include "code_fim.h"
#include "contact_sheet.h"
#include "files.h"
#include "mmgen/context.h"
#include "mmgen/generate.h"
#include "mmgen/model.h"
#include "tokens_io.h"
#include "tokfile.h"

static volatile sig_atomic_t g_interrupted;
static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

/* One sample's state, shared by the constraint and token callbacks. */
typedef struct sample_state {
    mmg_tokenizer *tok;          /* NULL: no constraint */
    int32_t *doc;                /* the document's tokens so far: prompt part + generated */
    size_t n_doc, cap;
    mmg_decode_stream *stream;   /* streaming to stdout, or NULL */
    int32_t eos;
    int32_t ban;                 /* a token never to generate (--ignore-eos), or -1 */
    int32_t limit;               /* ids >= limit are never generated (the source range), or 0 */
    int ended;                   /* eos was generated */
    char constraint_error[512];  /* the plugin's message when the constraint failed */
    int write_error;
} sample_state;

static int doc_push(sample_state *s, int32_t t) {
    if (s->n_doc == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        int32_t *p = realloc(s->doc, cap * sizeof *p);
        if (!p) return -1;
        s->doc = p;
        s->cap = cap;
    }
    s->doc[s->n_doc++] = t;
    return 0;
}

/* mmg_token_mask_cb. `tokens` are only this call's new tokens (after the
 * window's prompt); the plugin must see the whole document, which the token
 * callback has recorded in s->doc up to this step. */
static int constraint_cb(void *ud, const int32_t *tokens, size_t n, uint8_t *allowed, size_t vocab) {
    sample_state *s = ud;
    (void)tokens;
    (void)n;
    int rc = s->tok ? mmg_tokenizer_allowed_next(s->tok, s->doc, s->n_doc, allowed, vocab) : 0;
    if (rc) snprintf(s->constraint_error, sizeof s->constraint_error, "%s", mmg_last_error());
    if (s->ban >= 0 && (size_t)s->ban < vocab) allowed[s->ban] = 0;
    if (s->limit > 0 && (size_t)s->limit < vocab) memset(allowed + s->limit, 0, vocab - (size_t)s->limit);
    return rc;
}

static int token_cb(void *ud, int32_t sequence, int32_t index, int32_t token) {
    sample_state *s = ud;
    (void)sequence;
    (void)index;
    if (token == s->eos) {
        s->ended = 1;
        return 0; /* generation stops here on its own */
    }
    if (doc_push(s, token)) return MMG_ERR_NOMEM;
    if (s->stream) {
        uint8_t *out = NULL;
        size_t size = 0;
        if (mmg_decode_stream_feed(s->stream, &token, 1, &out, &size) != MMG_OK) return mmg_last_status();
        if (size && fwrite(out, 1, size, stdout) != size) s->write_error = 1;
        fflush(stdout);
        mmg_free(out);
    }
    return g_interrupted ? MMG_ERR_CANCELLED : 0;
}

static uint64_t random_seed(void) {
    uint64_t seed = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&seed, sizeof seed, 1, f) != 1) seed = 0;
        fclose(f);
    }
    if (!seed) seed = (uint64_t)time(NULL) * 6364136223846793005ull;
    return seed >> 11; /* keep it short enough to retype */
}

typedef struct gen_args {
    const char *model, *tokenizer, *plugin, *tok_config;
    const char *prompt, *prompt_file, *prompt_ids, *source, *source_file, *source_ids;
    const char *prefix_file, *suffix_file;
    int32_t max_tokens, top_k, num, threads, rep_window;
    float temperature, top_p, min_p, rep_penalty;
    uint64_t seed;
    const char *output;
    int ids, no_constraint, no_bos, ignore_eos, verbose, no_sheet, middle_only;
} gen_args;

/* Tokens of a document given as text, a file or ids, each moved up by
 * `offset` (a source tokenizer's ids in the model's vocabulary). NULL/0
 * when none. */
static int document_tokens(cli_tok *t, const char *text, const char *file, const char *ids_text,
                           const char *what, int32_t offset, int32_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (ids_text) {
        if (tokens_parse((const uint8_t *)ids_text, strlen(ids_text), TOKENS_TEXT, what, out, n)) return CLI_ERR;
        /* checked before the offset moves them: a negative or too large source id
         * must not land on a valid id of the other range */
        int32_t limit = offset && t->tok ? mmg_tokenizer_vocab_size(t->tok) : INT32_MAX - offset;
        for (size_t i = 0; i < *n; i++) {
            if ((*out)[i] < 0 || (*out)[i] >= limit) {
                int rc = cli_error("%s token %d (position %zu) is outside the %s tokenizer's %d ids", what,
                                   (int)(*out)[i], i, offset && t->tok ? t->plugin : "model's", (int)limit);
                free(*out);
                *out = NULL;
                *n = 0;
                return rc;
            }
            (*out)[i] += offset;
        }
        return 0;
    }
    if (!text && !file) return 0;
    if (!t->tok)
        return cli_error("the model carries no tokenizer to encode the %s; give --tokenizer, or "
                         "token ids with --%s-ids", what, strstr(what, "source") ? "source" : "prompt");
    uint8_t *data = (uint8_t *)text;
    size_t size = text ? strlen(text) : 0;
    if (file && files_read(file, &data, &size) != 0) return CLI_ERR;
    int rc = 0;
    int32_t *ids = NULL;
    size_t count = 0;
    if (mmg_tokenizer_encode(t->tok, data, size, &ids, &count) != MMG_OK)
        rc = cli_fail("encoding the %s", what);
    if (file) free(data);
    if (!rc) {
        *out = malloc((count ? count : 1) * sizeof **out);
        if (!*out) rc = cli_error("out of memory");
        else if (count) memcpy(*out, ids, count * sizeof *ids);
        for (size_t i = 0; *out && i < count; i++) (*out)[i] += offset;
        *n = count;
    }
    mmg_free(ids);
    return rc;
}

/* The bytes of --prefix-file and --suffix-file, written around each middle. */
typedef struct fim_sides {
    uint8_t *prefix, *suffix;
    size_t n_prefix, n_suffix;
} fim_sides;

/* The FIM prompt of --prefix-file/--suffix-file for the code tokenizer `t`:
 * reads both files into *f and makes the ids of [lang] <|fim_prefix|> A
 * <|fim_suffix|> B <|fim_middle|>, which the plugin checks fit a context of
 * `context` with bos and one token more. *out is malloc'ed. Returns 0 or
 * CLI_ERR after printing. */
static int fim_prompt_tokens(cli_tok *t, const char *prefix_file, const char *suffix_file, int32_t context,
                             fim_sides *f, int32_t **out, size_t *n) {
    uint8_t *doc = NULL;
    size_t size = 0;
    cli_tok fim = {0};
    int32_t *ids = NULL;
    size_t count = 0;
    int rc = files_read(prefix_file, &f->prefix, &f->n_prefix) != 0 ||
                     files_read(suffix_file, &f->suffix, &f->n_suffix) != 0
                 ? CLI_ERR
                 : 0;
    if (!rc)
        rc = code_fim_prompt_doc(prefix_file, f->prefix, f->n_prefix, f->suffix, f->n_suffix, context, &doc, &size);
    if (!rc) rc = code_fim_tokenizer(t, 0, &fim);
    if (!rc && mmg_tokenizer_encode(fim.tok, doc, size, &ids, &count) != MMG_OK)
        rc = cli_fail("encoding the fill-in-the-middle prompt (--prefix-file '%s', --suffix-file '%s')", prefix_file,
                      suffix_file);
    if (!rc && !(*out = malloc(count * sizeof **out))) rc = cli_error("out of memory");
    if (!rc) {
        memcpy(*out, ids, count * sizeof *ids);
        *n = count;
    }
    mmg_free(ids);
    tokfile_free(&fim);
    free(doc);
    return rc;
}

/* prefix + the `size` bytes of `middle` + suffix, malloc'ed, or NULL. The
 * CLI joins the bytes itself rather than decoding the whole FIM document,
 * so the output starts and ends with the files' bytes even when the middle
 * holds markers (--no-constraint). */
static uint8_t *fim_join(const fim_sides *f, const uint8_t *middle, size_t size, size_t *out_size) {
    uint8_t *p = malloc(f->n_prefix + size + f->n_suffix + 1);
    if (!p) return NULL;
    if (f->n_prefix) memcpy(p, f->prefix, f->n_prefix);
    if (size) memcpy(p + f->n_prefix, middle, size);
    if (f->n_suffix) memcpy(p + f->n_prefix + size, f->suffix, f->n_suffix);
    *out_size = f->n_prefix + size + f->n_suffix;
    return p;
}

int cmd_generate(int argc, char **argv) {
    gen_args a = {.max_tokens = 256, .top_k = 0, .num = 1, .threads = 0, .rep_window = 64,
                  .temperature = 0.8f, .top_p = 0.95f, .min_p = 0, .rep_penalty = 1.0f};
    args_option opts[] = {
        {"model", 'm', ARG_STRING, &a.model, "FILE", "the model (from `mmgen train`)"},
        {"tokenizer", 't', ARG_STRING, &a.tokenizer, "FILE", "tokenizer to use instead of the one the model carries"},
        {"plugin", 'p', ARG_STRING, &a.plugin, "NAME", "with --tokenizer: the file is this plugin's raw state"},
        {"tokenizer-config", 0, ARG_STRING, &a.tok_config, "JSON|FILE", "the plugin's config (with --plugin)"},
        {"prompt", 0, ARG_STRING, &a.prompt, "TEXT", "the start of the document"},
        {"prompt-file", 0, ARG_STRING, &a.prompt_file, "FILE", "the start of the document, from a file"},
        {"prompt-ids", 0, ARG_STRING, &a.prompt_ids, "IDS", "the decoder's prompt as token ids (\"1 2 3\"; no bos added)"},
        {"source", 0, ARG_STRING, &a.source, "TEXT", "encoder-decoder: the source document"},
        {"source-file", 0, ARG_STRING, &a.source_file, "FILE", "encoder-decoder: the source document, from a file"},
        {"source-ids", 0, ARG_STRING, &a.source_ids, "IDS", "encoder-decoder: the source as token ids (of the "
                                                            "source tokenizer; the model's offset is added)"},
        {"prefix-file", 0, ARG_STRING, &a.prefix_file, "FILE", "code tokenizers: fill in the middle after this file's "
                                                               "bytes (with --suffix-file; see below)"},
        {"suffix-file", 0, ARG_STRING, &a.suffix_file, "FILE", "code tokenizers: ... and before this file's bytes"},
        {"middle-only", 0, ARG_FLAG, &a.middle_only, NULL, "with --prefix-file: write only the generated middle"},
        {"max-tokens", 'n', ARG_INT, &a.max_tokens, "N", "most tokens to generate per sample", 1, 1 << 30},
        {"temperature", 'T', ARG_FLOAT, &a.temperature, "F", "sampling temperature (0 = greedy)", 0, 1e6},
        {"top-k", 'k', ARG_INT, &a.top_k, "K", "sample among the K most likely tokens (0 = all)", 0, 1 << 30},
        {"top-p", 0, ARG_FLOAT, &a.top_p, "P", "nucleus sampling: the most likely tokens up to probability P "
                                              "(1 = off)", 1e-9, 1},
        {"min-p", 0, ARG_FLOAT, &a.min_p, "P", "drop tokens below P x the top probability (0 = off)", 0, 1},
        {"repetition-penalty", 0, ARG_FLOAT, &a.rep_penalty, "F", "CTRL repetition penalty (1 = off)", 1e-6, 1e6},
        {"repetition-window", 0, ARG_INT, &a.rep_window, "N", "recent tokens the penalty looks at (0 = all)", 0, 1 << 30},
        {"seed", 's', ARG_U64, &a.seed, "N", "random seed; the same seed gives the same output (default: random)"},
        {"num-samples", 0, ARG_INT, &a.num, "N", "how many documents to generate", 1, 1 << 20},
        {"output", 'o', ARG_STRING, &a.output, "FILE", "write the document here (several: FILE-1.ext, ..., or "
                                                      "FILE-01.ext ... for 10 or more); default: text to stdout"},
        {"no-sheet", 0, ARG_FLAG, &a.no_sheet, NULL, "several images: no contact sheet (FILE-sheet.png)"},
        {"ids", 0, ARG_FLAG, &a.ids, NULL, "print the document's token ids instead of decoding them"},
        {"no-constraint", 0, ARG_FLAG, &a.no_constraint, NULL, "do not restrict tokens with the plugin's constraint"},
        {"no-bos", 0, ARG_FLAG, &a.no_bos, NULL, "do not start the prompt with the bos token"},
        {"ignore-eos", 0, ARG_FLAG, &a.ignore_eos, NULL, "never generate the end token: always --max-tokens tokens"},
        {"threads", 'j', ARG_INT, &a.threads, "N", "threads (0 = MMGEN_NUM_THREADS or all cores)", 0, 4096},
        {"verbose", 'v', ARG_FLAG, &a.verbose, NULL, "print the seed and the speed to stderr"},
        {0}};
    const args_command cmd = {
        "generate", "--model MODEL [options]",
        "Generates documents with a model. Text streams to stdout; other modalities\n"
        "(an image for the image plugin) are written with -o. The plugin's constraint\n"
        "keeps every document well-formed.\n"
        "\n"
        "Fill-in-the-middle (a `code` plugin tokenizer, a model trained with\n"
        "`mmgen train --fim-rate`): --prefix-file A --suffix-file B prompts with\n"
        "<|fim_prefix|> A <|fim_suffix|> B <|fim_middle|> (the language tag of A's file\n"
        "name first), generates the middle within the model's context, and writes A +\n"
        "middle + B byte for byte (--middle-only: the middle alone). The constraint\n"
        "sees A and B too: the middle must close what A opens and leave B\n"
        "well-formed. A prompt that leaves no room in the context is an error.",
        "examples:\n"
        "  mmgen generate -m shakespeare.safetensors --prompt 'ROMEO:' -n 200 --seed 7\n"
        "  mmgen generate -m images.safetensors -o out.png --seed 1\n"
        "  mmgen generate -m digits.safetensors --source seven -o seven.png --num-samples 16\n"
        "  mmgen generate -m code.safetensors --prefix-file head.py --suffix-file tail.py -o filled.py\n"};
    int n_pos = 0;
    int rc = args_parse(&cmd, opts, argc, argv, NULL, 0, &n_pos);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;
    if (!a.model) return args_usage_error(&cmd, "--model is required");
    if (!!a.prompt + !!a.prompt_file + !!a.prompt_ids > 1)
        return args_usage_error(&cmd, "give only one of --prompt, --prompt-file, --prompt-ids");
    if (!!a.source + !!a.source_file + !!a.source_ids > 1)
        return args_usage_error(&cmd, "give only one of --source, --source-file, --source-ids");
    int fim_mode = a.prefix_file || a.suffix_file;
    if (fim_mode && !(a.prefix_file && a.suffix_file))
        return args_usage_error(&cmd, "give --prefix-file and --suffix-file together (an empty file for an empty side)");
    if (fim_mode && (a.prompt || a.prompt_file || a.prompt_ids))
        return args_usage_error(&cmd, "--prefix-file/--suffix-file make the prompt; not with --prompt, --prompt-file "
                                      "or --prompt-ids");
    if (a.middle_only && !fim_mode) return args_usage_error(&cmd, "--middle-only needs --prefix-file and --suffix-file");
    if (!args_find(opts, "seed")->seen) a.seed = random_seed();

    mmg_model *model = NULL;
    if (mmg_model_load(a.model, NULL, &model) != MMG_OK) return cli_fail("loading model '%s'", a.model);
    mmg_model_config cfg;
    mmg_model_config_init(&cfg, sizeof cfg);
    mmg_model_get_config(model, &cfg);
    int encdec = cfg.n_encoder_layers > 0;

    cli_tok tok = {0};
    if (a.tokenizer) {
        char *c = a.tok_config ? files_json_arg("--tokenizer-config", a.tok_config) : NULL;
        if (a.tok_config && !c) rc = CLI_ERR;
        if (!rc) rc = tokfile_load(a.tokenizer, a.plugin, c, &tok);
        free(c);
    } else {
        int found = 0;
        rc = tokfile_from_loaded_model(model, a.model, &tok, &found);
        if (!rc && !found && !a.ids && !a.prompt_ids)
            rc = cli_error("model '%s' carries no tokenizer; give --tokenizer FILE, or --prompt-ids "
                           "and --ids to work in token ids", a.model);
    }
    int32_t tok_vocab = tok.tok ? mmg_tokenizer_vocab_size(tok.tok) : 0;
    if (!rc && tok_vocab > cfg.vocab_size)
        rc = cli_error("the tokenizer has %d tokens but the model only %d; they do not belong together",
                       (int)tok_vocab, (int)cfg.vocab_size);
    /* a cross-modal model's source side: its own tokenizer, its ids after the target's */
    cli_tok stok = {0};
    int32_t src_offset = 0;
    if (!rc) {
        int found = 0;
        rc = tokfile_from_loaded_model_key(model, TOKFILE_SOURCE_METADATA_KEY, a.model, &stok, &found);
        if (!rc && mmg_model_source_id_offset(model, &src_offset) != MMG_OK) rc = cli_fail("reading '%s'", a.model);
        if (!rc && stok.tok && src_offset + mmg_tokenizer_vocab_size(stok.tok) > cfg.vocab_size)
            rc = cli_error("'%s': the source tokenizer's %d ids from offset %d pass the model's vocabulary of %d",
                           a.model, (int)mmg_tokenizer_vocab_size(stok.tok), (int)src_offset, (int)cfg.vocab_size);
    }
    int image_like = tok.tok && tok.modality != MMG_MODALITY_TEXT && tok.modality != MMG_MODALITY_CODE;
    if (!rc && image_like && !a.output && !a.ids)
        rc = args_usage_error(&cmd, "a %s tokenizer makes %s documents; give -o FILE (or --ids)",
                              tok.plugin, mmg_modality_name(tok.modality));
    if (!rc && encdec && !a.source && !a.source_file && !a.source_ids)
        rc = args_usage_error(&cmd, "'%s' is an encoder-decoder: give --source TEXT (or --source-file, "
                                    "--source-ids)", a.model);
    if (!rc && !encdec && (a.source || a.source_file || a.source_ids))
        rc = args_usage_error(&cmd, "'%s' is decoder-only; --source is for encoder-decoder models", a.model);
    if (!rc && fim_mode && encdec)
        rc = args_usage_error(&cmd, "--prefix-file/--suffix-file are for decoder-only models; '%s' is an "
                                    "encoder-decoder", a.model);
    if (!rc && fim_mode && !code_fim_is_code(&tok))
        rc = args_usage_error(&cmd, "--prefix-file/--suffix-file need a tokenizer of the code plugin; '%s' carries "
                                    "a %s tokenizer", a.tokenizer ? a.tokenizer : a.model, tok.plugin ? tok.plugin : "no");

    int32_t bos = tok.tok && !a.no_bos && !a.prompt_ids ? tokfile_special(&tok, "bos") : -1;
    int32_t eos = tok.tok ? tokfile_special(&tok, "eos") : -1;
    int32_t *prompt = NULL, *source = NULL;
    size_t n_prompt = 0, n_source = 0;
    fim_sides sides = {0};
    if (!rc && fim_mode)
        rc = fim_prompt_tokens(&tok, a.prefix_file, a.suffix_file, cfg.max_seq_len, &sides, &prompt, &n_prompt);
    else if (!rc) rc = document_tokens(&tok, a.prompt, a.prompt_file, a.prompt_ids, "prompt", 0, &prompt, &n_prompt);
    if (!rc)
        rc = document_tokens(stok.tok ? &stok : &tok, a.source, a.source_file, a.source_ids, "source", src_offset,
                             &source, &n_source);
    if (!rc && encdec && n_source == 0) rc = cli_error("the source encodes to no tokens");
    if (!rc && n_source > (size_t)cfg.max_seq_len)
        rc = cli_error("the source is %zu tokens; the model takes at most %d", n_source, (int)cfg.max_seq_len);
    for (size_t k = 0; !rc && k < n_source; k++)
        if (source[k] < 0 || source[k] >= cfg.vocab_size)
            rc = cli_error("source token %d (position %zu) is outside the model's vocabulary of %d", (int)source[k],
                           k, (int)cfg.vocab_size);
    if (!rc && n_prompt == 0 && bos < 0)
        rc = cli_error("nothing to start from: give a --prompt (the tokenizer has no bos token)");

    mmg_context *ctx = NULL;
    if (!rc) {
        mmg_context_options co;
        mmg_context_options_init(&co, sizeof co);
        co.n_threads = a.threads;
        if (mmg_context_create(model, &co, &ctx) != MMG_OK) rc = cli_fail("creating a context for '%s'", a.model);
    }
    mmg_sampling_options so;
    mmg_sampling_options_init(&so, sizeof so);
    so.temperature = a.temperature;
    so.top_k = a.top_k;
    so.top_p = a.top_p;
    so.min_p = a.min_p;
    so.repetition_penalty = a.rep_penalty;
    so.repetition_window = a.rep_window;
    if (!rc && mmg_sampling_options_validate(&so) != MMG_OK) rc = cli_fail("checking the sampling options");
    int use_constraint = tok.tok && !a.no_constraint && mmg_tokenizer_has_extension(tok.tok, MMG_EXT_CONSTRAINT_V1);
    /* a FIM document decodes in document order only at the end (stream decoding emits token order) */
    int streaming = tok.tok && !a.output && !a.ids && !fim_mode &&
                    mmg_tokenizer_has_extension(tok.tok, MMG_EXT_STREAM_DECODE_V1);
    if (a.verbose && !rc) fprintf(stderr, "mmgen: seed %llu\n", (unsigned long long)a.seed);

    const int32_t W = cfg.max_seq_len;
    int32_t *window = malloc((size_t)W * sizeof *window);
    int32_t *out_tokens = malloc((size_t)W * sizeof *out_tokens);
    if (!rc && (!window || !out_tokens)) rc = cli_error("out of memory");
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_sa);
    double t0 = cli_now();
    int64_t total_generated = 0;
    /* several images: also one contact sheet of them, captioned with what they came from */
    int want_sheet = !rc && image_like && a.num > 1 && a.output && strcmp(a.output, "-") != 0 && !a.ids && !a.no_sheet;
    char **sheet_paths = want_sheet ? calloc((size_t)a.num, sizeof *sheet_paths) : NULL;
    int n_sheet = 0;
    uint32_t sheet_w = 0, sheet_h = 0;
    if (want_sheet && !sheet_paths) rc = cli_error("out of memory");

    for (int i = 0; i < a.num && !rc && !g_interrupted; i++) {
        sample_state s = {0};
        s.tok = use_constraint ? tok.tok : NULL;
        s.eos = a.ignore_eos ? -1 : eos;
        s.ban = a.ignore_eos ? eos : -1;
        s.limit = tok.tok && tok_vocab < cfg.vocab_size ? tok_vocab : 0; /* never a source-side id */
        /* the document starts with the prompt's tokens (after bos) */
        for (size_t k = 0; k < n_prompt && !rc; k++)
            if (doc_push(&s, prompt[k])) rc = cli_error("out of memory");
        if (!rc && streaming) {
            if (mmg_decode_stream_create(tok.tok, &s.stream) != MMG_OK) {
                rc = cli_fail("starting to decode");
            } else {
                if (a.num > 1) printf("%s--- sample %d ---\n", i ? "\n" : "", i + 1);
                uint8_t *o = NULL;
                size_t os = 0;
                if (n_prompt && mmg_decode_stream_feed(s.stream, prompt, n_prompt, &o, &os) != MMG_OK)
                    rc = cli_fail("decoding the prompt");
                else if (os) fwrite(o, 1, os, stdout);
                mmg_free(o);
                fflush(stdout);
            }
        }
        int32_t remaining = a.max_tokens;
        for (int64_t call = 0; !rc && remaining > 0 && !s.ended && !g_interrupted; call++) {
            if (fim_mode && call > 0) {
                cli_warn("sample %d: the middle did not reach its end token within the model's context of %d "
                         "tokens; it stops there", i + 1, (int)W);
                break;
            }
            /* the window: [bos] + the document's last tokens, leaving room to generate */
            int32_t keep_max = call == 0 ? W - 1 : W / 2;
            int32_t nb = bos >= 0 ? 1 : 0;
            if (keep_max - nb < 1) keep_max = nb + 1;
            size_t keep = s.n_doc < (size_t)(keep_max - nb) ? s.n_doc : (size_t)(keep_max - nb);
            if (call == 0 && keep < s.n_doc)
                cli_warn("the prompt is %zu tokens; only the last %zu fit the model's context of %d",
                         s.n_doc, keep, (int)W);
            int32_t n_win = 0;
            if (nb) window[n_win++] = bos;
            if (keep) memcpy(window + n_win, s.doc + s.n_doc - keep, keep * sizeof *window);
            n_win += (int32_t)keep;
            int32_t room = W - n_win;
            if (room <= 0) {
                rc = cli_error("the model's context (%d tokens) leaves no room to generate", (int)W);
                break;
            }
            int32_t max_new = remaining < room ? remaining : room;
            mmg_generate_options go;
            mmg_generate_options_init(&go, sizeof go);
            go.sampling = &so;
            go.max_new_tokens = max_new;
            go.end_token = s.eos;
            go.constraint = use_constraint || s.ban >= 0 || s.limit > 0 ? constraint_cb : NULL;
            go.constraint_user_data = &s;
            go.on_token = token_cb;
            go.on_token_user_data = &s;
            uint64_t seed = a.seed + (uint64_t)i + ((uint64_t)call << 32);
            const int32_t *prompts[1] = {window};
            const int32_t *sources[1] = {source};
            int32_t plen = n_win, slen = (int32_t)n_source, olen = 0;
            size_t before = s.n_doc;
            mmg_status st = mmg_generate(ctx, &go, 1, encdec ? sources : NULL, encdec ? &slen : NULL,
                                         prompts, &plen, &seed, out_tokens, &olen);
            int32_t made = (int32_t)(s.n_doc - before) + (s.ended ? 1 : 0);
            total_generated += made;
            remaining -= made;
            if (st == MMG_ERR_CANCELLED && g_interrupted) break;
            if (st != MMG_OK) {
                if (s.constraint_error[0])
                    rc = cli_error("generating sample %d: the %s plugin's constraint: %s", i + 1,
                                   tok.plugin, s.constraint_error);
                else
                    rc = cli_fail("generating sample %d", i + 1);
            }
            if (!rc && made == 0) break; /* nothing more can come */
        }
        if (!rc && s.stream) {
            uint8_t *o = NULL;
            size_t os = 0;
            if (mmg_decode_stream_flush(s.stream, &o, &os) == MMG_OK && os) fwrite(o, 1, os, stdout);
            mmg_free(o);
            printf("\n");
            fflush(stdout);
            if (s.write_error) rc = cli_error("cannot write to standard output");
        }
        if (!rc && !streaming) {
            const char *path = a.output ? a.output : "-";
            char *numbered = NULL;
            if (a.num > 1 && a.output && strcmp(a.output, "-") != 0)
                path = numbered = files_numbered(a.output, i + 1, a.num);
            if (!path) rc = cli_error("out of memory");
            if (!rc && (a.ids || !tok.tok)) {
                uint8_t *buf = NULL;
                size_t len = 0, cap = 0;
                if (tokens_format_append(s.doc, s.n_doc, TOKENS_TEXT, &buf, &len, &cap)) rc = CLI_ERR;
                else if (files_write(path, buf, len) != 0) rc = CLI_ERR;
                free(buf);
            } else if (!rc) {
                uint8_t *doc = NULL, *joined = NULL;
                size_t size = 0;
                size_t from = fim_mode ? n_prompt : 0; /* a FIM prompt's sides are the files' bytes */
                if (fim_mode && a.num > 1 && !strcmp(path, "-")) {
                    printf("%s--- sample %d ---\n", i ? "\n" : "", i + 1);
                    fflush(stdout); /* files_write writes to the descriptor */
                }
                mmg_status ds = mmg_tokenizer_decode(tok.tok, s.doc + from, s.n_doc - from, &doc, &size);
                if (!ds && fim_mode && !a.middle_only && !(joined = fim_join(&sides, doc, size, &size))) {
                    rc = cli_error("out of memory");
                } else if (ds) {
                    rc = cli_fail("decoding the %zu tokens of sample %d", s.n_doc, i + 1);
                    if (!s.ended && use_constraint)
                        fprintf(stderr, "mmgen: hint: the document did not reach its end token within "
                                        "--max-tokens %d; raise it, or bound the documents' size in the "
                                        "tokenizer's config (e.g. the audio plugin's max_seconds)\n",
                                (int)a.max_tokens);
                } else if (files_write(path, joined ? joined : doc, size) != 0) {
                    rc = CLI_ERR;
                } else if (strcmp(path, "-") != 0) {
                    fprintf(stderr, "mmgen: wrote %s (%zu bytes, %zu tokens%s)\n", path, size, s.n_doc,
                            s.ended || !image_like ? "" : ", no end token");
                    uint32_t w, h;
                    if (want_sheet && numbered && contact_sheet_png_size(doc, size, &w, &h)) {
                        sheet_paths[n_sheet++] = numbered;
                        numbered = NULL; /* kept for the sheet */
                        if (!sheet_w) sheet_w = w, sheet_h = h;
                    }
                }
                mmg_free(doc);
                free(joined);
            }
            free(numbered);
        }
        mmg_decode_stream_free(s.stream);
        free(s.doc);
    }
    sigaction(SIGINT, &old_sa, NULL);
    if (!rc && !g_interrupted && n_sheet > 1) {
        char *sheet = contact_sheet_path(a.output);
        char caption[512];
        if (a.source) snprintf(caption, sizeof caption, "%s", a.source);
        else if (a.source_file) snprintf(caption, sizeof caption, "%s", a.source_file);
        else if (a.source_ids) snprintf(caption, sizeof caption, "ids %s", a.source_ids);
        else if (a.prompt) snprintf(caption, sizeof caption, "%s", a.prompt);
        else snprintf(caption, sizeof caption, "%s", a.model);
        int drawn = sheet ? contact_sheet_write(sheet, (const char *const *)sheet_paths, n_sheet, sheet_w, sheet_h,
                                                caption)
                          : cli_error("out of memory");
        if (drawn == 0) fprintf(stderr, "mmgen: wrote %s (%d images, captioned \"%s\")\n", sheet, n_sheet, caption);
        else if (drawn == CLI_ERR) rc = CLI_ERR; /* else montage is missing: warned, the samples stand */
        free(sheet);
    }
    for (int k = 0; k < n_sheet; k++) free(sheet_paths[k]);
    free(sheet_paths);
    if (a.verbose && !rc) {
        double dt = cli_now() - t0;
        fprintf(stderr, "mmgen: %lld tokens in %.2f s (%.1f tokens/s)\n", (long long)total_generated, dt,
                dt > 0 ? (double)total_generated / dt : 0.0);
    }
    if (!rc && g_interrupted) rc = 130;
    free(window);
    free(out_tokens);
    free(prompt);
    free(source);
    free(sides.prefix);
    free(sides.suffix);
    mmg_context_free(ctx);
    mmg_model_free(model);
    tokfile_free(&tok);
    tokfile_free(&stok);
    return rc;
}
