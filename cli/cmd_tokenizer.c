/* cli/cmd_tokenizer.c - `mmgen tokenizer fit|new|encode|decode|info|eval`.
 *
 * A tokenizer is made by a plugin from a JSON config, fitted on sample
 * documents (BPE merges, an image codebook) and saved as one JSON file
 * (tokfile.h) that train and generate read. encode/decode turn a document
 * into token ids and back, so any stage can be inspected by hand; eval
 * measures the round trip (bytes per token for text, PSNR for images;
 * tokens/s, kbit/s, SNR and MCD for audio). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "audio_quality.h"
#include "cli.h"
#include "files.h"
#include "image_quality.h"
#include "tokens_io.h"
#include "tokfile.h"

#define MAX_FILES 65536

static int usage_status(int rc) { return rc == ARGS_HELP ? CLI_OK : CLI_USAGE; }

/* The tokenizer named by --tokenizer (file or model), or --plugin/--config
 * alone for plugins that need no learned state. */
static int open_tokenizer(const args_command *cmd, const char *path, const char *plugin,
                          const char *config_arg, cli_tok *out) {
    char *config = NULL;
    if (config_arg && !(config = files_json_arg("--config", config_arg))) return CLI_ERR;
    int rc;
    if (path) rc = tokfile_load(path, plugin, config, out);
    else if (plugin) rc = tokfile_create(plugin, config, out);
    else rc = args_usage_error(cmd, "give --tokenizer FILE (from `mmgen tokenizer fit`, or a model)");
    free(config);
    return rc;
}

static void human_bytes(double b, char *buf, size_t size) {
    if (b >= 1e6) snprintf(buf, size, "%.1f MB", b / 1e6);
    else if (b >= 1e3) snprintf(buf, size, "%.1f kB", b / 1e3);
    else snprintf(buf, size, "%.0f bytes", b);
}

/* ---- fit / new ------------------------------------------------------------- */

static int tokenizer_fit(int argc, char **argv, int fit) {
    const char *plugin = NULL, *config_arg = NULL, *output = NULL;
    args_option opts[] = {
        {"plugin", 'p', ARG_STRING, &plugin, "NAME", "the plugin: a name (text, image) or a path to a .so"},
        {"config", 'c', ARG_STRING, &config_arg, "JSON|FILE", "the plugin's JSON config, inline or in a file"},
        {"output", 'o', ARG_STRING, &output, "FILE", "where to write the tokenizer (JSON)"},
        {0}};
    const args_command fit_cmd = {
        "tokenizer fit", "--plugin NAME --config JSON -o OUT FILES...",
        "Creates a tokenizer with the plugin's config, learns its state (BPE merges,\n"
        "an image codebook) from the documents FILES (each file one document; - is\n"
        "standard input) and writes it to OUT as one JSON file.",
        "examples:\n"
        "  mmgen tokenizer fit --plugin text --config '{\"vocab_size\": 4096}' -o tok.json input.txt\n"
        "  mmgen tokenizer fit --plugin image --config '{\"patch_size\": 4, \"codebook_size\": 256}' \\\n"
        "      -o img.json a.png b.png\n"};
    const args_command new_cmd = {
        "tokenizer new", "--plugin NAME [--config JSON] -o OUT",
        "Creates a tokenizer that needs no fitting (e.g. GPT-2's vocabulary:\n"
        "{\"vocab\": \"gpt2\", \"encoder_json\": PATH, \"vocab_bpe\": PATH}) and writes it\n"
        "to OUT as one JSON file.",
        NULL};
    const args_command *cmd = fit ? &fit_cmd : &new_cmd;
    const char **files = malloc(MAX_FILES * sizeof *files);
    if (!files) return cli_error("out of memory");
    int n = 0;
    int rc = args_parse(cmd, opts, argc, argv, files, fit ? MAX_FILES : 0, &n);
    if (rc != ARGS_OK) {
        free(files);
        return usage_status(rc);
    }
    if (!plugin) rc = args_usage_error(cmd, "--plugin is required (see `mmgen plugins`)");
    else if (!output) rc = args_usage_error(cmd, "-o/--output is required");
    else if (fit && n == 0) rc = args_usage_error(cmd, "no documents to fit on; give one or more FILES");
    if (rc) {
        free(files);
        return CLI_USAGE;
    }
    cli_tok t;
    rc = open_tokenizer(cmd, NULL, plugin, config_arg, &t);
    if (rc) {
        free(files);
        return rc;
    }
    uint8_t **docs = calloc((size_t)n + 1, sizeof *docs);
    size_t *sizes = calloc((size_t)n + 1, sizeof *sizes);
    double total = 0, t0 = cli_now();
    if (!docs || !sizes) rc = cli_error("out of memory");
    for (int i = 0; i < n && !rc; i++) {
        if (files_read(files[i], &docs[i], &sizes[i]) != 0) rc = CLI_ERR;
        total += (double)sizes[i];
    }
    if (!rc && fit &&
        mmg_tokenizer_fit(t.tok, (const uint8_t *const *)docs, sizes, (size_t)n) != MMG_OK)
        rc = cli_fail("fitting the '%s' tokenizer on %d document%s", t.plugin, n, n == 1 ? "" : "s");
    char *json = rc ? NULL : tokfile_serialize(&t);
    if (!rc && !json) rc = CLI_ERR;
    if (!rc && files_write(output, json, strlen(json)) != 0) rc = CLI_ERR;
    if (!rc && strcmp(output, "-") != 0) {
        char hb[32];
        human_bytes(total, hb, sizeof hb);
        if (fit)
            printf("fitted a tokenizer (%s plugin): %d tokens from %d document%s (%s) in %.1f s -> %s\n", t.plugin,
                   (int)mmg_tokenizer_vocab_size(t.tok), n, n == 1 ? "" : "s", hb, cli_now() - t0,
                   output);
        else
            printf("a tokenizer (%s plugin): %d tokens -> %s\n", t.plugin, (int)mmg_tokenizer_vocab_size(t.tok),
                   output);
    }
    free(json);
    for (int i = 0; i < n; i++) free(docs ? docs[i] : NULL);
    free(docs);
    free(sizes);
    free(files);
    tokfile_free(&t);
    return rc;
}

/* ---- encode ------------------------------------------------------------------ */

static int tokenizer_encode(int argc, char **argv) {
    const char *tok_path = NULL, *plugin = NULL, *config_arg = NULL, *output = "-";
    int32_t format = TOKENS_TEXT;
    int add_bos = 0, add_eos = 0;
    args_option opts[] = {
        {"tokenizer", 't', ARG_STRING, &tok_path, "FILE", "tokenizer file, or a model that carries one"},
        {"plugin", 'p', ARG_STRING, &plugin, "NAME", "with --tokenizer: the file is this plugin's raw state; "
                                                     "alone: a plugin that needs no state"},
        {"config", 'c', ARG_STRING, &config_arg, "JSON|FILE", "the plugin's config (with --plugin)"},
        {"output", 'o', ARG_STRING, &output, "FILE", "where to write the ids (- = stdout)"},
        {"format", 'f', ARG_CHOICE, &format, "FMT", "text: a line of ids per document; lines: one id per "
                                                    "line; u16/u32: little-endian binary (for train --tokens)",
         0, 0, tokens_format_names},
        {"bos", 0, ARG_FLAG, &add_bos, NULL, "start each document with the bos token"},
        {"eos", 0, ARG_FLAG, &add_eos, NULL, "end each document with the eos token"},
        {0}};
    const args_command cmd = {
        "tokenizer encode", "--tokenizer FILE [options] [FILES...]",
        "Encodes each document FILE (default: standard input) into token ids.",
        "example:\n  echo 'To be, or not to be' | mmgen tokenizer encode -t tok.json\n"};
    const char **files = malloc(MAX_FILES * sizeof *files);
    if (!files) return cli_error("out of memory");
    int n = 0;
    int rc = args_parse(&cmd, opts, argc, argv, files, MAX_FILES, &n);
    if (rc != ARGS_OK) {
        free(files);
        return usage_status(rc);
    }
    if (n == 0) files[n++] = "-";
    cli_tok t;
    if ((rc = open_tokenizer(&cmd, tok_path, plugin, config_arg, &t)) != 0) {
        free(files);
        return rc;
    }
    int32_t bos = add_bos ? tokfile_special(&t, "bos") : -1;
    int32_t eos = add_eos ? tokfile_special(&t, "eos") : -1;
    if ((add_bos && bos < 0) || (add_eos && eos < 0))
        rc = cli_error("the %s tokenizer has no %s token", t.plugin, add_bos && bos < 0 ? "bos" : "eos");
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    for (int i = 0; i < n && !rc; i++) {
        uint8_t *doc;
        size_t size;
        if (files_read(files[i], &doc, &size) != 0) {
            rc = CLI_ERR;
            break;
        }
        int32_t *ids = NULL;
        size_t count = 0;
        if (mmg_tokenizer_encode(t.tok, doc, size, &ids, &count) != MMG_OK) {
            rc = cli_fail("encoding '%s'", files[i]);
        } else {
            /* one buffer with the optional bos/eos around the ids */
            int32_t *all = malloc((count + 2) * sizeof *all);
            size_t m = 0;
            if (!all) {
                rc = cli_error("out of memory");
            } else {
                if (bos >= 0) all[m++] = bos;
                if (count) memcpy(all + m, ids, count * sizeof *ids);
                m += count;
                if (eos >= 0) all[m++] = eos;
                if (tokens_format_append(all, m, (tokens_format)format, &out, &len, &cap)) rc = CLI_ERR;
            }
            free(all);
        }
        mmg_free(ids);
        free(doc);
    }
    if (!rc && files_write(output, out, len) != 0) rc = CLI_ERR;
    free(out);
    free(files);
    tokfile_free(&t);
    return rc;
}

/* ---- decode ------------------------------------------------------------------ */

static int tokenizer_decode(int argc, char **argv) {
    const char *tok_path = NULL, *plugin = NULL, *config_arg = NULL, *output = "-";
    int32_t format = TOKENS_TEXT;
    args_option opts[] = {
        {"tokenizer", 't', ARG_STRING, &tok_path, "FILE", "tokenizer file, or a model that carries one"},
        {"plugin", 'p', ARG_STRING, &plugin, "NAME", "with --tokenizer: the file is this plugin's raw state"},
        {"config", 'c', ARG_STRING, &config_arg, "JSON|FILE", "the plugin's config (with --plugin)"},
        {"output", 'o', ARG_STRING, &output, "FILE", "where to write the document (- = stdout)"},
        {"format", 'f', ARG_CHOICE, &format, "FMT", "how the ids are written (text and lines both read "
                                                    "any whitespace-separated ids)",
         0, 0, tokens_format_names},
        {0}};
    const args_command cmd = {
        "tokenizer decode", "--tokenizer FILE [options] [IDS_FILE]",
        "Decodes token ids (from IDS_FILE, default standard input) into one document.",
        "example:\n  mmgen tokenizer encode -t img.json a.png | mmgen tokenizer decode -t img.json -o a2.png\n"};
    const char *pos[1];
    int n = 0;
    int rc = args_parse(&cmd, opts, argc, argv, pos, 1, &n);
    if (rc != ARGS_OK) return usage_status(rc);
    const char *input = n ? pos[0] : "-";
    cli_tok t;
    if ((rc = open_tokenizer(&cmd, tok_path, plugin, config_arg, &t)) != 0) return rc;
    uint8_t *data = NULL;
    size_t size = 0;
    int32_t *ids = NULL;
    size_t count = 0;
    if (files_read(input, &data, &size) != 0) rc = CLI_ERR;
    if (!rc && tokens_parse(data, size, (tokens_format)format,
                            strcmp(input, "-") ? input : "standard input", &ids, &count) != 0)
        rc = CLI_ERR;
    uint8_t *doc = NULL;
    size_t doc_size = 0;
    if (!rc && mmg_tokenizer_decode(t.tok, ids, count, &doc, &doc_size) != MMG_OK)
        rc = cli_fail("decoding %zu token ids from %s%s%s", count, strcmp(input, "-") ? "'" : "",
                      strcmp(input, "-") ? input : "standard input", strcmp(input, "-") ? "'" : "");
    if (!rc && files_write(output, doc, doc_size) != 0) rc = CLI_ERR;
    mmg_free(doc);
    free(ids);
    free(data);
    tokfile_free(&t);
    return rc;
}

/* ---- info -------------------------------------------------------------------- */

static int tokenizer_info(int argc, char **argv) {
    const char *tok_path = NULL, *plugin = NULL, *config_arg = NULL;
    args_option opts[] = {
        {"tokenizer", 't', ARG_STRING, &tok_path, "FILE", "tokenizer file, or a model that carries one"},
        {"plugin", 'p', ARG_STRING, &plugin, "NAME", "with --tokenizer: the file is this plugin's raw state"},
        {"config", 'c', ARG_STRING, &config_arg, "JSON|FILE", "the plugin's config (with --plugin)"},
        {0}};
    const args_command cmd = {"tokenizer info", "--tokenizer FILE [IDS...]",
                              "Describes a tokenizer: plugin, vocabulary size, special tokens,\n"
                              "extensions; and each token id given.",
                              NULL};
    const char *pos[256];
    int n = 0;
    int rc = args_parse(&cmd, opts, argc, argv, pos, 256, &n);
    if (rc != ARGS_OK) return usage_status(rc);
    cli_tok t;
    if ((rc = open_tokenizer(&cmd, tok_path, plugin, config_arg, &t)) != 0) return rc;
    const mmg_plugin *p = mmg_tokenizer_plugin(t.tok);
    printf("plugin      %s %s (%s)\n", t.plugin, mmg_plugin_version(p), mmg_plugin_path(p));
    printf("modality    %s\n", mmg_modality_name(t.modality));
    printf("config      %s\n", t.config ? t.config : "(defaults)");
    printf("vocab_size  %d\n", (int)mmg_tokenizer_vocab_size(t.tok));
    static const char *const specials[] = {"bos", "eos", "pad"};
    for (int i = 0; i < 3; i++) {
        int32_t id = tokfile_special(&t, specials[i]);
        if (id >= 0) printf("%-11s %d\n", specials[i], (int)id);
    }
    printf("extensions ");
    if (mmg_tokenizer_has_extension(t.tok, MMG_EXT_CONSTRAINT_V1)) printf(" %s", MMG_EXT_CONSTRAINT_V1);
    if (mmg_tokenizer_has_extension(t.tok, MMG_EXT_STREAM_DECODE_V1)) printf(" %s", MMG_EXT_STREAM_DECODE_V1);
    printf("\n");
    for (int i = 0; i < n && !rc; i++) {
        int64_t id;
        if (args_to_i64(pos[i], &id) || id < 0 || id > INT32_MAX) {
            rc = args_usage_error(&cmd, "'%s' is not a token id", pos[i]);
            break;
        }
        char *text = NULL;
        if (mmg_tokenizer_describe_token(t.tok, (int32_t)id, &text) != MMG_OK)
            rc = cli_fail("describing token %lld", (long long)id);
        else printf("%-11lld %s\n", (long long)id, text);
        mmg_free(text);
    }
    tokfile_free(&t);
    return rc;
}

/* ---- eval -------------------------------------------------------------------- */

/* The information a token stream carries, in bits: the sum over positions of
 * log2(the number of ids allowed there). With the constraint extension that
 * is what the tokenizer's constraint allows after the ids before it (so a
 * fixed header costs nothing and a stage with a smaller codebook costs less);
 * without it, log2(vocab_size) per token. Every id the encoder produced must
 * be one its constraint allows. */
static int stream_bits(cli_tok *t, int constrained, uint8_t *mask, const int32_t *ids, size_t count,
                       const char *file, double *bits) {
    size_t vocab = (size_t)mmg_tokenizer_vocab_size(t->tok);
    if (!constrained) {
        *bits = (double)count * log2((double)vocab);
        return 0;
    }
    double sum = 0;
    for (size_t i = 0; i < count; i++) {
        memset(mask, 1, vocab);
        if (mmg_tokenizer_allowed_next(t->tok, ids, i, mask, vocab) != MMG_OK)
            return cli_fail("asking the '%s' tokenizer's constraint which ids may follow position %zu "
                            "of '%s'", t->plugin, i, file);
        size_t allowed = 0;
        for (size_t v = 0; v < vocab; v++) allowed += mask[v] != 0;
        if (ids[i] < 0 || (size_t)ids[i] >= vocab || !mask[ids[i]])
            return cli_error("'%s': the '%s' tokenizer encoded id %d at position %zu, which its own "
                             "constraint does not allow there (%zu ids allowed)", file, t->plugin,
                             (int)ids[i], i, allowed);
        sum += log2((double)allowed);
    }
    *bits = sum;
    return 0;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* --save-dir writes DIR/<basename of each FILE>: standard input has no name,
 * and two FILES with one basename would overwrite each other. The directory
 * is made when missing. Returns 0 or an exit status after printing. */
static int check_save_dir(const args_command *cmd, const char *dir, const char **files, int n) {
    const char **names = malloc((size_t)n * sizeof *names);
    if (!names) return cli_error("out of memory");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        names[i] = base_name(files[i]);
        if (!strcmp(files[i], "-") || !*names[i])
            rc = args_usage_error(cmd, "--save-dir needs FILES with names; '%s' has none", files[i]);
    }
    if (!rc) {
        qsort(names, (size_t)n, sizeof *names, compare_names);
        for (int i = 1; i < n && !rc; i++)
            if (!strcmp(names[i - 1], names[i]))
                rc = args_usage_error(cmd, "two FILES are named '%s'; --save-dir would write both to "
                                           "%s/%s", names[i], dir, names[i]);
    }
    free(names);
    if (rc) return CLI_USAGE;
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return args_usage_error(cmd, "--save-dir '%s' is not a directory", dir);
    } else if (mkdir(dir, 0777) != 0) {
        return cli_error("cannot make the --save-dir directory '%s': %s", dir, strerror(errno));
    }
    return 0;
}

/* Running sums over the files for the closing means. */
typedef struct eval_sums {
    double psnr;
    int n_psnr;
    double tokens_per_s, kbit_per_s, snr, mcd, mcd_scaled;
    int n_audio, n_snr, n_snr_inf;
    double encode_s, decode_s, audio_s; /* plugin time; decoded audio measured */
} eval_sums;

/* Audio: tokens/s and kbit/s over the decoded duration, SNR and MCD
 * (audio_quality.h), printed on the file's line. */
static void eval_audio(cli_tok *t, int constrained, uint8_t *mask, const char *file,
                       const uint8_t *doc, size_t size, const uint8_t *back, size_t back_size,
                       const int32_t *ids, size_t count, eval_sums *s, int *rc) {
    audio_quality q;
    char err[512];
    if (audio_quality_measure(doc, size, back, back_size, &q, err, sizeof err) != 0) {
        printf(" (no SNR/MCD: %s)", err);
        return;
    }
    double bits = 0;
    if ((*rc = stream_bits(t, constrained, mask, ids, count, file, &bits)) != 0) return;
    double tps = (double)count / q.duration_s, kbps = bits / q.duration_s / 1000.0;
    printf("; %.3f s decoded: %.1f tokens/s, %.2f kbit/s, SNR %.2f dB, MCD %.3f dB (scaled %.3f dB)",
           q.duration_s, tps, kbps, q.snr_db, q.mcd_db, q.mcd_scaled_db);
    if (q.orig_rate != q.rate) printf(" [original resampled %d -> %d Hz]", q.orig_rate, q.rate);
    s->tokens_per_s += tps, s->kbit_per_s += kbps, s->mcd += q.mcd_db, s->mcd_scaled += q.mcd_scaled_db;
    s->n_audio++;
    s->audio_s += q.duration_s;
    if (isfinite(q.snr_db)) s->snr += q.snr_db, s->n_snr++;
    else if (q.snr_db > 0) s->n_snr_inf++;
}

static int tokenizer_eval(int argc, char **argv) {
    const char *tok_path = NULL, *plugin = NULL, *config_arg = NULL, *save = NULL, *save_dir = NULL;
    args_option opts[] = {
        {"tokenizer", 't', ARG_STRING, &tok_path, "FILE", "tokenizer file, or a model that carries one"},
        {"plugin", 'p', ARG_STRING, &plugin, "NAME", "with --tokenizer: the file is this plugin's raw state"},
        {"config", 'c', ARG_STRING, &config_arg, "JSON|FILE", "the plugin's config (with --plugin)"},
        {"save", 0, ARG_STRING, &save, "FILE", "also write the decoded document (one FILE only)"},
        {"save-dir", 0, ARG_STRING, &save_dir, "DIR", "also write each decoded document as DIR/<its "
                                                      "FILE's name> (made if missing)"},
        {0}};
    const args_command cmd = {
        "tokenizer eval", "--tokenizer FILE [options] FILES...",
        "Encodes and decodes each document and reports the token count, bytes per\n"
        "token, whether the round trip is exact, for images the PSNR of the decoded\n"
        "image against the original, and for audio tokens/s and kbit/s of decoded\n"
        "audio, SNR and mel-cepstral distortion (MCD, plain and divided by sqrt(80)).\n"
        "Audio is compared sample by sample from the first sample, mixed to mono, the\n"
        "original resampled to the decoded rate; kbit/s counts log2 of the ids the\n"
        "tokenizer's constraint allows at each position (log2 of the vocabulary\n"
        "without one). The last lines give totals and means over the FILES, and for\n"
        "audio the plugin's encode and decode speed in multiples of real time.",
        "example:\n"
        "  mmgen tokenizer eval --plugin audio --config '{\"mode\": \"mulaw\"}' --save-dir out a.wav b.wav\n"};
    const char **files = malloc(MAX_FILES * sizeof *files);
    if (!files) return cli_error("out of memory");
    int n = 0;
    int rc = args_parse(&cmd, opts, argc, argv, files, MAX_FILES, &n);
    if (rc == ARGS_OK && n == 0) rc = args_usage_error(&cmd, "no documents given");
    if (rc == ARGS_OK && save && n != 1) rc = args_usage_error(&cmd, "--save needs exactly one FILE");
    if (rc == ARGS_OK && save && save_dir) rc = args_usage_error(&cmd, "give --save or --save-dir, not both");
    if (rc != ARGS_OK) {
        free(files);
        return usage_status(rc);
    }
    if (save_dir && (rc = check_save_dir(&cmd, save_dir, files, n)) != 0) {
        free(files);
        return rc;
    }
    cli_tok t;
    if ((rc = open_tokenizer(&cmd, tok_path, plugin, config_arg, &t)) != 0) {
        free(files);
        return rc;
    }
    int image = t.modality == MMG_MODALITY_IMAGE, audio = t.modality == MMG_MODALITY_AUDIO;
    int constrained = audio && mmg_tokenizer_has_extension(t.tok, MMG_EXT_CONSTRAINT_V1);
    uint8_t *mask = NULL;
    if (constrained && !(mask = malloc((size_t)mmg_tokenizer_vocab_size(t.tok) + 1)))
        rc = cli_error("out of memory");
    if (!rc && audio) {
        if (constrained)
            printf("kbit/s: log2 of the number of ids the tokenizer's constraint allows at each position\n");
        else
            printf("kbit/s: log2(vocab_size) = %.2f bits per token (the '%s' tokenizer has no constraint "
                   "extension)\n", log2((double)mmg_tokenizer_vocab_size(t.tok)), t.plugin);
    }
    eval_sums s;
    memset(&s, 0, sizeof s);
    size_t all_bytes = 0, all_tokens = 0;
    for (int i = 0; i < n && !rc; i++) {
        uint8_t *doc = NULL, *back = NULL;
        size_t size = 0, back_size = 0, count = 0;
        int32_t *ids = NULL;
        double t0 = 0, t1 = 0, t2 = 0;
        if (files_read(files[i], &doc, &size) != 0) rc = CLI_ERR;
        if (!rc) {
            t0 = cli_now();
            if (mmg_tokenizer_encode(t.tok, doc, size, &ids, &count) != MMG_OK)
                rc = cli_fail("encoding '%s'", files[i]);
        }
        if (!rc) {
            t1 = cli_now();
            if (mmg_tokenizer_decode(t.tok, ids, count, &back, &back_size) != MMG_OK)
                rc = cli_fail("decoding the %zu tokens of '%s'", count, files[i]);
            t2 = cli_now();
        }
        if (!rc) {
            s.encode_s += t1 - t0, s.decode_s += t2 - t1;
            all_bytes += size, all_tokens += count;
            int exact = back_size == size && (size == 0 || memcmp(back, doc, size) == 0);
            printf("%s: %zu bytes -> %zu tokens (%.2f bytes/token), round trip %s", files[i], size,
                   count, count ? (double)size / (double)count : 0.0, exact ? "exact" : "lossy");
            if (image && !exact) {
                double psnr;
                uint32_t dims[4];
                char err[256];
                int q = image_psnr(doc, size, back, back_size, &psnr, dims, err, sizeof err);
                if (q == 0) {
                    printf(", PSNR %.2f dB", psnr);
                    if (isfinite(psnr)) s.psnr += psnr, s.n_psnr++;
                } else if (q == 1) {
                    printf(", decoded %ux%u vs original %ux%u (no PSNR)", dims[2], dims[3], dims[0],
                           dims[1]);
                } else {
                    printf(" (no PSNR: %s)", err);
                }
            }
            if (audio)
                eval_audio(&t, constrained, mask, files[i], doc, size, back, back_size, ids, count, &s, &rc);
            printf("\n");
            if (!rc && save && files_write(save, back, back_size) != 0) rc = CLI_ERR;
            if (!rc && save_dir) {
                size_t len = strlen(save_dir) + strlen(files[i]) + 2;
                char *path = malloc(len);
                if (!path) rc = cli_error("out of memory");
                else {
                    snprintf(path, len, "%s/%s", save_dir, base_name(files[i]));
                    if (files_write(path, back, back_size) != 0) rc = CLI_ERR;
                }
                free(path);
            }
        }
        mmg_free(ids);
        mmg_free(back);
        free(doc);
    }
    if (!rc && n > 1) {
        printf("total: %zu bytes -> %zu tokens (%.2f bytes/token)", all_bytes, all_tokens,
               all_tokens ? (double)all_bytes / (double)all_tokens : 0.0);
        if (s.n_psnr) printf(", mean PSNR %.2f dB", s.psnr / s.n_psnr);
        printf("\n");
        if (s.n_audio) {
            printf("mean over %d file%s: %.1f tokens/s, %.2f kbit/s, ", s.n_audio, s.n_audio == 1 ? "" : "s",
                   s.tokens_per_s / s.n_audio, s.kbit_per_s / s.n_audio);
            if (s.n_snr) printf("SNR %.2f dB", s.snr / s.n_snr);
            else printf("SNR n/a");
            if (s.n_snr_inf)
                printf(" (%d identical file%s left out)", s.n_snr_inf, s.n_snr_inf == 1 ? "" : "s");
            printf(", MCD %.3f dB (scaled %.3f dB)", s.mcd / s.n_audio, s.mcd_scaled / s.n_audio);
            if (s.n_audio < n)
                printf("; %d file%s not measured", n - s.n_audio, n - s.n_audio == 1 ? "" : "s");
            printf("\n");
            /* speed over the files measured: seconds of audio per second of
             * the plugin's encode or decode (file reads and measures apart) */
            if (s.n_audio == n && s.encode_s > 0 && s.decode_s > 0)
                printf("speed: encode %.1fx real time, decode %.1fx real time (%.2f s of audio)\n",
                       s.audio_s / s.encode_s, s.audio_s / s.decode_s, s.audio_s);
        }
    }
    free(mask);
    free(files);
    tokfile_free(&t);
    return rc;
}

int cmd_tokenizer(int argc, char **argv) {
    static const char usage[] =
        "usage: mmgen tokenizer <fit|new|encode|decode|info|eval> [options]\n"
        "\n"
        "  fit      learn a tokenizer from documents and save it\n"
        "  new      save a tokenizer that needs no fitting (e.g. GPT-2's vocabulary)\n"
        "  encode   document -> token ids\n"
        "  decode   token ids -> document\n"
        "  info     describe a tokenizer and token ids\n"
        "  eval     round-trip documents: tokens per byte, exactness, PSNR for images,\n"
        "           kbit/s, SNR and MCD for audio\n"
        "\n"
        "`mmgen tokenizer <sub> --help` describes each.\n";
    if (argc < 1) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *sub = argv[0];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(sub, "fit")) return tokenizer_fit(argc - 1, argv + 1, 1);
    if (!strcmp(sub, "new")) return tokenizer_fit(argc - 1, argv + 1, 0);
    if (!strcmp(sub, "encode")) return tokenizer_encode(argc - 1, argv + 1);
    if (!strcmp(sub, "decode")) return tokenizer_decode(argc - 1, argv + 1);
    if (!strcmp(sub, "info")) return tokenizer_info(argc - 1, argv + 1);
    if (!strcmp(sub, "eval")) return tokenizer_eval(argc - 1, argv + 1);
    fprintf(stderr, "mmgen tokenizer: unknown subcommand '%s'\n", sub);
    fputs(usage, stderr);
    return CLI_USAGE;
}
