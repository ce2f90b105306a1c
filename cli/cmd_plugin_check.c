/* cli/cmd_plugin_check.c - `mmgen plugin check`: a conformance validator for
 * modality plugins, in the spirit of clap-validator.
 *
 * It opens a plugin through the public API, makes tokenizers from it and runs
 * named rules (the table RULES below), printing one line per rule:
 *
 *   ok   <rule>: what was checked, with counts
 *   FAIL <rule>: what went wrong, naming ids, positions and statuses
 *   skip <rule>: why the rule does not apply
 *
 * then a summary. Every rule runs in a fork()ed child that opens the plugin
 * and sets up its own tokenizer, so a plugin that crashes fails that rule
 * (naming the signal and what the rule was doing) and the next rules still
 * run; the child passes its verdict back through a pipe. The parent never
 * loads the plugin, which lets the `allocations` rule load it afresh with its
 * own counting host services (mmgen/plugin.h, driven directly as any host
 * would).
 *
 * Exit status: 0 when every rule passes or is skipped, 1 when one fails, 2
 * for a usage error. */
#define _GNU_SOURCE /* MAP_ANONYMOUS, RTLD_LOCAL */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "files.h"
#include "mmgen/mmgen.h"

#define MAX_SAMPLES 256
#define MAX_THREADS 64
#define RANDOM_STREAMS 256  /* decode-random-streams */
#define THREAD_ROUNDS 3     /* threads: encode+decode passes per thread */
#define WALKS 20            /* constraint: random walks */
#define WALK_MAX_TOKENS 4096
#define WALKS_MAX_TOKENS 200000
#define CONSTRAINT_MAX_POSITIONS 4096 /* per sample */

/* What the user asked for; read-only in the rules. */
typedef struct check_opts {
    const char *plugin;     /* name or path for mmg_plugin_open */
    char path[4096];        /* the loaded file, as `load` found it ("" until then) */
    const char *config;     /* JSON, or NULL for the plugin's defaults */
    int fit;
    int n_samples;
    const char *sample_names[MAX_SAMPLES];
    uint8_t *samples[MAX_SAMPLES];
    size_t sizes[MAX_SAMPLES];
    int32_t threads;
    uint64_t seed;
    int32_t timeout;        /* seconds per rule */
} check_opts;

/* One rule's run, inside the child. */
typedef struct rule_ctx {
    const check_opts *o;
    char *where;            /* shared with the parent: what the child is doing now */
    char verdict;           /* 'o' ok, 'F' fail, 's' skip, 0 not decided */
    char text[2048];
    char data[4096];        /* extra result for the parent (load: the path) */
    mmg_plugin *plugin;     /* set up by setup() */
    mmg_tokenizer *tok;
    int32_t vocab;
    int32_t modality;
} rule_ctx;

typedef struct rule {
    const char *name;
    void (*run)(rule_ctx *c);
    int needs_instance;     /* skipped when `create` failed */
} rule;

#define WHERE_SIZE 512

/* ---- helpers the rules share ---------------------------------------------- */

static void doing(rule_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void doing(rule_ctx *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->where, WHERE_SIZE, fmt, ap);
    va_end(ap);
}

static void verdict(rule_ctx *c, char v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void verdict(rule_ctx *c, char v, const char *fmt, ...) {
    if (c->verdict == 'F') return; /* the first failure is the one reported */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text, sizeof c->text, fmt, ap);
    va_end(ap);
    c->verdict = v;
}

#define PASS(c, ...) verdict((c), 'o', __VA_ARGS__)
#define FAIL(c, ...) verdict((c), 'F', __VA_ARGS__)
#define SKIP(c, ...) verdict((c), 's', __VA_ARGS__)

/* The last error's text, or the status name when the message is empty. */
static const char *why(mmg_status s) {
    const char *m = mmg_last_error();
    return m && *m ? m : mmg_status_name(s);
}

static uint64_t rng_next(uint64_t *state) { /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *state, uint64_t n) { return n ? rng_next(state) % n : 0; }

/* Counts of statuses, printed as "MMG_OK 300, MMG_ERR_FORMAT 12". */
typedef struct status_counts {
    size_t n[MMG_STATUS_COUNT_ + 1]; /* the last one: values outside the map */
} status_counts;

static void count_status(status_counts *sc, mmg_status s) {
    sc->n[(unsigned)s < MMG_STATUS_COUNT_ ? (unsigned)s : MMG_STATUS_COUNT_]++;
}

static const char *format_counts(const status_counts *sc, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i <= MMG_STATUS_COUNT_ && len < size; i++)
        if (sc->n[i])
            len += (size_t)snprintf(buf + len, size - len, "%s%s %zu", len ? ", " : "",
                                    i < MMG_STATUS_COUNT_ ? mmg_status_name((mmg_status)i)
                                                          : "an unknown status",
                                    sc->n[i]);
    return buf;
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGSYS: return "SIGSYS";
    case SIGKILL: return "SIGKILL";
    case SIGALRM: return "SIGALRM";
    case SIGPIPE: return "SIGPIPE";
    default: return "signal";
    }
}

/* Opens the plugin, creates a tokenizer from --config and fits it on the
 * samples with --fit. Returns 0, or -1 after a FAIL naming the step. */
static int setup(rule_ctx *c) {
    const check_opts *o = c->o;
    doing(c, "opening the plugin");
    mmg_status s = mmg_plugin_open(o->plugin, &c->plugin);
    if (s != MMG_OK) {
        FAIL(c, "opening '%s': %s", o->plugin, why(s));
        return -1;
    }
    c->modality = mmg_plugin_modality(c->plugin);
    doing(c, "creating a tokenizer");
    if ((s = mmg_tokenizer_create(c->plugin, o->config, &c->tok)) != MMG_OK) {
        FAIL(c, "creating a tokenizer with %s: %s: %s", o->config ? "--config" : "the defaults",
             mmg_status_name(s), why(s));
        return -1;
    }
    if (o->fit) {
        doing(c, "fitting the tokenizer on %d samples", o->n_samples);
        s = mmg_tokenizer_fit(c->tok, (const uint8_t *const *)o->samples, o->sizes,
                              (size_t)o->n_samples);
        if (s != MMG_OK && s != MMG_ERR_UNSUPPORTED) {
            FAIL(c, "fitting on %d samples: %s: %s", o->n_samples, mmg_status_name(s), why(s));
            return -1;
        }
    }
    doing(c, "asking vocab_size");
    c->vocab = mmg_tokenizer_vocab_size(c->tok);
    if (c->vocab <= 0) {
        FAIL(c, "vocab_size is %d; %s", (int)c->vocab,
             o->fit ? "it must be > 0 after fit"
                    : "a learned vocabulary needs --fit with --sample FILES, or a config "
                      "naming a preset");
        return -1;
    }
    return 0;
}

/* Encodes sample i with `t`; returns the status, after a FAIL naming it. */
static mmg_status encode_sample(rule_ctx *c, mmg_tokenizer *t, int i, int32_t **ids, size_t *n) {
    doing(c, "encoding sample '%s'", c->o->sample_names[i]);
    mmg_status s = mmg_tokenizer_encode(t, c->o->samples[i], c->o->sizes[i], ids, n);
    if (s != MMG_OK)
        FAIL(c, "encoding sample '%s' (%zu bytes): %s: %s", c->o->sample_names[i], c->o->sizes[i],
             mmg_status_name(s), why(s));
    return s;
}

static int need_samples(rule_ctx *c) {
    if (c->o->n_samples) return 0;
    SKIP(c, "no --sample documents given");
    return -1;
}

/* The typical length of a token stream: the longest encoded sample (64 with
 * no samples), at most 2048. */
static size_t typical_length(rule_ctx *c) {
    size_t typical = 0;
    for (int i = 0; i < c->o->n_samples; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (mmg_tokenizer_encode(c->tok, c->o->samples[i], c->o->sizes[i], &ids, &n) == MMG_OK &&
            n > typical)
            typical = n;
        mmg_free(ids);
    }
    if (typical == 0) typical = 64;
    return typical < 2048 ? typical : 2048;
}

/* ---- the rules ---------------------------------------------------------------- */

static void rule_load(rule_ctx *c) {
    doing(c, "opening the plugin");
    mmg_status s = mmg_plugin_open(c->o->plugin, &c->plugin);
    if (s != MMG_OK) {
        FAIL(c, "'%s' does not load: %s: %s", c->o->plugin, mmg_status_name(s), why(s));
        return;
    }
    uint32_t abi = mmg_plugin_abi_version(c->plugin), host = mmg_plugin_host_abi_version();
    int32_t modality = mmg_plugin_modality(c->plugin);
    snprintf(c->data, sizeof c->data, "%s", mmg_plugin_path(c->plugin));
    if (!*mmg_plugin_name(c->plugin)) {
        FAIL(c, "the descriptor's name is empty");
        return;
    }
    PASS(c, "%s %s, modality %s%s, plugin ABI %u.%u (host %u.%u), %s", mmg_plugin_name(c->plugin),
         mmg_plugin_version(c->plugin), mmg_modality_name(modality),
         strcmp(mmg_modality_name(modality), "unknown") ? "" : " (an unknown value)",
         (unsigned)MMGEN_ABI_VERSION_MAJOR(abi), (unsigned)MMGEN_ABI_VERSION_MINOR(abi),
         (unsigned)MMGEN_ABI_VERSION_MAJOR(host), (unsigned)MMGEN_ABI_VERSION_MINOR(host),
         mmg_plugin_path(c->plugin));
}

static void rule_create(rule_ctx *c) {
    if (setup(c) != 0) return;
    size_t bytes = 0;
    for (int i = 0; i < c->o->n_samples; i++) bytes += c->o->sizes[i];
    char fitted[128] = "";
    if (c->o->fit)
        snprintf(fitted, sizeof fitted, ", fitted on %d sample%s (%zu bytes)", c->o->n_samples,
                 c->o->n_samples == 1 ? "" : "s", bytes);
    PASS(c, "a tokenizer from %s%s: vocab_size %d", c->o->config ? "--config" : "the defaults",
         fitted, (int)c->vocab);
}

static void rule_encode_bounds(rule_ctx *c) {
    if (need_samples(c) || setup(c)) return;
    size_t total = 0;
    for (int i = 0; i < c->o->n_samples; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (encode_sample(c, c->tok, i, &ids, &n) != MMG_OK) return;
        for (size_t k = 0; k < n; k++)
            if (ids[k] < 0 || ids[k] >= c->vocab) {
                FAIL(c, "sample '%s': id %d at position %zu is outside [0, %d)",
                     c->o->sample_names[i], (int)ids[k], k, (int)c->vocab);
                mmg_free(ids);
                return;
            }
        total += n;
        mmg_free(ids);
    }
    PASS(c, "%d sample%s encode%s to %zu ids, all in [0, %d)", c->o->n_samples,
         c->o->n_samples == 1 ? "" : "s", c->o->n_samples == 1 ? "s" : "", total, (int)c->vocab);
}

static void rule_round_trip(rule_ctx *c) {
    if (need_samples(c) || setup(c)) return;
    int exact = c->modality == MMG_MODALITY_TEXT || c->modality == MMG_MODALITY_CODE;
    int same_ids = 0;
    for (int i = 0; i < c->o->n_samples; i++) {
        const char *name = c->o->sample_names[i];
        int32_t *ids = NULL, *ids2 = NULL;
        uint8_t *doc = NULL;
        size_t n = 0, size = 0, n2 = 0;
        if (encode_sample(c, c->tok, i, &ids, &n) != MMG_OK) return;
        doing(c, "decoding the %zu ids of sample '%s'", n, name);
        mmg_status s = mmg_tokenizer_decode(c->tok, ids, n, &doc, &size);
        if (s != MMG_OK) {
            FAIL(c, "decoding the %zu ids of sample '%s': %s: %s", n, name, mmg_status_name(s),
                 why(s));
        } else if (exact) {
            size_t k = 0;
            while (k < size && k < c->o->sizes[i] && doc[k] == c->o->samples[i][k]) k++;
            if (size != c->o->sizes[i] || k < size)
                FAIL(c, "sample '%s' (%zu bytes) decodes to %zu bytes that differ from byte %zu",
                     name, c->o->sizes[i], size, k);
        } else {
            doing(c, "encoding the decoded sample '%s' again", name);
            if ((s = mmg_tokenizer_encode(c->tok, doc, size, &ids2, &n2)) != MMG_OK)
                FAIL(c, "sample '%s' decodes to %zu bytes that do not encode again: %s: %s", name,
                     size, mmg_status_name(s), why(s));
            else
                same_ids += n2 == n && (n == 0 || !memcmp(ids, ids2, n * sizeof *ids));
        }
        mmg_free(ids);
        mmg_free(ids2);
        mmg_free(doc);
        if (c->verdict == 'F') return;
    }
    if (exact)
        PASS(c, "%d sample%s decode%s to the exact bytes", c->o->n_samples,
             c->o->n_samples == 1 ? "" : "s", c->o->n_samples == 1 ? "s" : "");
    else
        PASS(c, "%d sample%s decode%s and encode%s again (%s: not exact); the ids are the same "
                "for %d of %d", c->o->n_samples, c->o->n_samples == 1 ? "" : "s",
             c->o->n_samples == 1 ? "s" : "", c->o->n_samples == 1 ? "s" : "",
             mmg_modality_name(c->modality), same_ids, c->o->n_samples);
}

/* Ids outside the vocabulary must give MMG_ERR_RANGE; *checked lists them. */
static int check_out_of_range(rule_ctx *c, const char *what, char *checked, size_t size) {
    const int32_t bad[] = {-1, c->vocab, INT32_MAX};
    snprintf(checked, size, "ids -1, %d and %d give MMG_ERR_RANGE", (int)c->vocab, INT32_MAX);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        mmg_status s;
        if (!strcmp(what, "decode")) {
            uint8_t *doc = NULL;
            size_t n = 0;
            doing(c, "decoding the out-of-range id %d", (int)bad[k]);
            s = mmg_tokenizer_decode(c->tok, &bad[k], 1, &doc, &n);
            mmg_free(doc);
        } else {
            char *text = NULL;
            doing(c, "describing the out-of-range id %d", (int)bad[k]);
            s = mmg_tokenizer_describe_token(c->tok, bad[k], &text);
            mmg_free(text);
        }
        if (s != MMG_ERR_RANGE) {
            FAIL(c, "%s of the out-of-range id %d gave %s, not MMG_ERR_RANGE%s%s", what, (int)bad[k],
                 mmg_status_name(s), s ? ": " : "", s ? why(s) : "");
            return -1;
        }
    }
    return 0;
}

static void rule_decode_single_ids(rule_ctx *c) {
    if (setup(c)) return;
    status_counts sc = {{0}};
    for (int32_t id = 0; id < c->vocab; id++) {
        uint8_t *doc = NULL;
        size_t n = 0;
        doing(c, "decoding the single id %d", (int)id);
        mmg_status s = mmg_tokenizer_decode(c->tok, &id, 1, &doc, &n);
        mmg_free(doc);
        count_status(&sc, s);
        /* MMG_ERR_PLUGIN: the host caught the plugin breaking the ABI's rules */
        if (s == MMG_ERR_PLUGIN || (unsigned)s >= MMG_STATUS_COUNT_) {
            FAIL(c, "decoding the single id %d: %s: %s", (int)id, mmg_status_name(s), why(s));
            return;
        }
    }
    char counts[512], range[128];
    if (check_out_of_range(c, "decode", range, sizeof range)) return;
    PASS(c, "decoded each of the %d ids alone (%s); %s", (int)c->vocab,
         format_counts(&sc, counts, sizeof counts), range);
}

static void rule_decode_random_streams(rule_ctx *c) {
    if (setup(c)) return;
    size_t max_len = 2 * typical_length(c);
    uint64_t rng = c->o->seed;
    int32_t *ids = malloc((max_len + 1) * sizeof *ids);
    if (!ids) {
        FAIL(c, "out of memory");
        return;
    }
    status_counts sc = {{0}};
    size_t longest = 0;
    for (int k = 0; k < RANDOM_STREAMS; k++) {
        size_t len = (size_t)rng_below(&rng, max_len + 1);
        for (size_t i = 0; i < len; i++) ids[i] = (int32_t)rng_below(&rng, (uint64_t)c->vocab);
        if (len > longest) longest = len;
        uint8_t *doc = NULL;
        size_t n = 0;
        doing(c, "decoding random stream %d of %zu ids (seed %llu)", k, len,
              (unsigned long long)c->o->seed);
        mmg_status s = mmg_tokenizer_decode(c->tok, ids, len, &doc, &n);
        mmg_free(doc);
        count_status(&sc, s);
        if (s == MMG_ERR_PLUGIN) {
            FAIL(c, "decoding random stream %d (%zu ids, seed %llu): %s: %s", k, len,
                 (unsigned long long)c->o->seed, mmg_status_name(s), why(s));
            break;
        }
    }
    free(ids);
    char counts[512];
    PASS(c, "%d random streams of 0 to %zu in-range ids decoded without a crash: %s",
         RANDOM_STREAMS, longest, format_counts(&sc, counts, sizeof counts));
}

static void rule_state(rule_ctx *c) {
    if (setup(c)) return;
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    mmg_tokenizer *fresh = NULL;
    static const char defaults[] = "a fresh tokenizer with the defaults";
    const char *made = defaults;
    char refused[640] = "";
    doing(c, "saving the state");
    mmg_status s = mmg_tokenizer_save_state(c->tok, &a, &na);
    if (s != MMG_OK) {
        FAIL(c, "save_state: %s: %s", mmg_status_name(s), why(s));
        return;
    }
    doing(c, "creating a fresh tokenizer with the defaults");
    if (mmg_tokenizer_create(c->plugin, NULL, &fresh) != MMG_OK) {
        made = "a fresh tokenizer from --config (the defaults are refused)";
        doing(c, "creating a fresh tokenizer from --config");
        if ((s = mmg_tokenizer_create(c->plugin, c->o->config, &fresh)) != MMG_OK) {
            FAIL(c, "creating a fresh tokenizer: %s: %s", mmg_status_name(s), why(s));
            goto done;
        }
    }
    doing(c, "loading the saved state (%zu bytes) into a fresh tokenizer", na);
    s = mmg_tokenizer_load_state(fresh, a, na);
    if (s != MMG_OK && c->o->config && made == defaults) {
        /* A state that needs its config is still loadable the way
         * mmg_tokenizer_from_json loads it first; say what the defaults did. */
        snprintf(refused, sizeof refused, " (one made with the defaults refuses it: %s)", why(s));
        mmg_tokenizer_free(fresh);
        fresh = NULL;
        made = "a fresh tokenizer from --config";
        doing(c, "creating a fresh tokenizer from --config");
        if ((s = mmg_tokenizer_create(c->plugin, c->o->config, &fresh)) == MMG_OK)
            s = mmg_tokenizer_load_state(fresh, a, na);
    }
    if (s != MMG_OK) {
        FAIL(c, "loading the saved state (%zu bytes) into %s: %s: %s%s", na, made,
             mmg_status_name(s), why(s), refused);
        goto done;
    }
    doing(c, "saving the reloaded state");
    if ((s = mmg_tokenizer_save_state(fresh, &b, &nb)) != MMG_OK) {
        FAIL(c, "save_state after load_state: %s: %s", mmg_status_name(s), why(s));
        goto done;
    }
    if (na != nb || (na && memcmp(a, b, na))) {
        size_t k = 0;
        while (k < na && k < nb && a[k] == b[k]) k++;
        FAIL(c, "the state saved after load_state differs: %zu bytes, then %zu, from byte %zu", na,
             nb, k);
        goto done;
    }
    if (mmg_tokenizer_vocab_size(fresh) != c->vocab) {
        FAIL(c, "the reloaded tokenizer's vocab_size is %d, not %d",
             (int)mmg_tokenizer_vocab_size(fresh), (int)c->vocab);
        goto done;
    }
    for (int i = 0; i < c->o->n_samples; i++) {
        int32_t *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0;
        if (encode_sample(c, c->tok, i, &x, &nx) == MMG_OK &&
            encode_sample(c, fresh, i, &y, &ny) == MMG_OK) {
            size_t k = 0;
            while (k < nx && k < ny && x[k] == y[k]) k++;
            if (nx != ny || k < nx)
                FAIL(c, "sample '%s' encodes differently after load_state: %zu ids, then %zu, "
                        "from position %zu",
                     c->o->sample_names[i], nx, ny, k);
        }
        mmg_free(x);
        mmg_free(y);
        if (c->verdict == 'F') goto done;
    }
    PASS(c, "save_state (%zu bytes) -> load_state into %s -> save_state gives the same bytes; "
            "%d sample%s encode%s the same%s",
         na, made, c->o->n_samples, c->o->n_samples == 1 ? "" : "s",
         c->o->n_samples == 1 ? "s" : "", refused);
done:
    mmg_free(a);
    mmg_free(b);
    mmg_tokenizer_free(fresh);
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int valid_utf8(const unsigned char *s) {
    while (*s) {
        unsigned char b = *s;
        int n = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2
                                                      : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
        if (n < 0) return 0;
        for (int k = 1; k <= n; k++)
            if ((s[k] & 0xc0) != 0x80) return 0;
        if ((b == 0xe0 && s[1] < 0xa0) || (b == 0xed && s[1] >= 0xa0) ||
            (b == 0xf0 && s[1] < 0x90) || (b == 0xf4 && s[1] >= 0x90))
            return 0;
        s += n + 1;
    }
    return 1;
}

static void rule_special_tokens(rule_ctx *c) {
    if (setup(c)) return;
    static const char *const names[] = {"bos", "eos", "pad"};
    char found[256] = "";
    size_t len = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        int32_t id = -1;
        doing(c, "asking for the special token '%s'", names[k]);
        mmg_status s = mmg_tokenizer_special_token(c->tok, names[k], &id);
        if (s == MMG_ERR_NOT_FOUND) {
            len += (size_t)snprintf(found + len, sizeof found - len, "%s%s absent", len ? ", " : "",
                                    names[k]);
        } else if (s != MMG_OK) {
            FAIL(c, "special_token(\"%s\"): %s, expected MMG_OK or MMG_ERR_NOT_FOUND: %s", names[k],
                 mmg_status_name(s), why(s));
            return;
        } else if (id < 0 || id >= c->vocab) {
            FAIL(c, "special_token(\"%s\") is %d, outside [0, %d)", names[k], (int)id, (int)c->vocab);
            return;
        } else {
            len += (size_t)snprintf(found + len, sizeof found - len, "%s%s %d", len ? ", " : "",
                                    names[k], (int)id);
        }
        if (len >= sizeof found) len = sizeof found - 1;
    }
    size_t not_utf8 = 0;
    int32_t first_bad = -1;
    for (int32_t id = 0; id < c->vocab; id++) {
        char *text = NULL;
        doing(c, "describing token %d", (int)id);
        mmg_status s = mmg_tokenizer_describe_token(c->tok, id, &text);
        if (s != MMG_OK) {
            FAIL(c, "describe_token(%d): %s: %s", (int)id, mmg_status_name(s), why(s));
            return;
        }
        if (!text) {
            FAIL(c, "describe_token(%d) gave no text", (int)id);
            return;
        }
        if (!valid_utf8((const unsigned char *)text) && not_utf8++ == 0) first_bad = id;
        mmg_free(text);
    }
    if (not_utf8) {
        FAIL(c, "describe_token gives text that is not UTF-8 for %zu ids, the first %d", not_utf8,
             (int)first_bad);
        return;
    }
    char range[128];
    if (check_out_of_range(c, "describe_token", range, sizeof range)) return;
    PASS(c, "%s; describe_token gives UTF-8 text for all %d ids; %s", found, (int)c->vocab, range);
}

/* ---- threads ------------------------------------------------------------------- */

typedef struct thread_job {
    rule_ctx *c;
    const uint8_t *state;
    size_t state_size;
    int32_t *const *ref_ids;   /* [sample] the single-thread results */
    const size_t *ref_n;
    uint8_t *const *ref_doc;
    const size_t *ref_size;
    char error[512];           /* "" when every result matched */
} thread_job;

static void *thread_main(void *arg) {
    thread_job *j = arg;
    const check_opts *o = j->c->o;
    mmg_tokenizer *t = NULL;
    mmg_status s = mmg_tokenizer_create(j->c->plugin, o->config, &t);
    if (s == MMG_OK) s = mmg_tokenizer_load_state(t, j->state, j->state_size);
    if (s != MMG_OK) {
        snprintf(j->error, sizeof j->error, "creating and loading a tokenizer: %s: %s",
                 mmg_status_name(s), why(s));
        mmg_tokenizer_free(t);
        return NULL;
    }
    for (int round = 0; round < THREAD_ROUNDS && !j->error[0]; round++)
        for (int i = 0; i < o->n_samples && !j->error[0]; i++) {
            int32_t *ids = NULL;
            uint8_t *doc = NULL;
            size_t n = 0, size = 0;
            if ((s = mmg_tokenizer_encode(t, o->samples[i], o->sizes[i], &ids, &n)) != MMG_OK)
                snprintf(j->error, sizeof j->error, "encoding sample '%s': %s: %s",
                         o->sample_names[i], mmg_status_name(s), why(s));
            else if (n != j->ref_n[i] || (n && memcmp(ids, j->ref_ids[i], n * sizeof *ids)))
                snprintf(j->error, sizeof j->error, "sample '%s' encodes to other ids (%zu, not %zu)",
                         o->sample_names[i], n, j->ref_n[i]);
            else if ((s = mmg_tokenizer_decode(t, ids, n, &doc, &size)) != MMG_OK)
                snprintf(j->error, sizeof j->error, "decoding sample '%s': %s: %s",
                         o->sample_names[i], mmg_status_name(s), why(s));
            else if (size != j->ref_size[i] || (size && memcmp(doc, j->ref_doc[i], size)))
                snprintf(j->error, sizeof j->error,
                         "sample '%s' decodes to other bytes (%zu, not %zu)", o->sample_names[i],
                         size, j->ref_size[i]);
            mmg_free(ids);
            mmg_free(doc);
        }
    mmg_tokenizer_free(t);
    return NULL;
}

static void rule_threads(rule_ctx *c) {
    if (need_samples(c) || setup(c)) return;
    const check_opts *o = c->o;
    int n = o->n_samples, n_threads = o->threads;
    int32_t *ref_ids[MAX_SAMPLES] = {0};
    uint8_t *ref_doc[MAX_SAMPLES] = {0};
    size_t ref_n[MAX_SAMPLES] = {0}, ref_size[MAX_SAMPLES] = {0};
    uint8_t *state = NULL;
    size_t state_size = 0;
    thread_job jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    for (int i = 0; i < n; i++) {
        if (encode_sample(c, c->tok, i, &ref_ids[i], &ref_n[i]) != MMG_OK) goto done;
        doing(c, "decoding sample '%s'", o->sample_names[i]);
        mmg_status s = mmg_tokenizer_decode(c->tok, ref_ids[i], ref_n[i], &ref_doc[i], &ref_size[i]);
        if (s != MMG_OK) {
            FAIL(c, "decoding sample '%s': %s: %s", o->sample_names[i], mmg_status_name(s), why(s));
            goto done;
        }
    }
    doing(c, "saving the state");
    mmg_status s = mmg_tokenizer_save_state(c->tok, &state, &state_size);
    if (s != MMG_OK) {
        FAIL(c, "save_state: %s: %s", mmg_status_name(s), why(s));
        goto done;
    }
    doing(c, "encoding and decoding on %d threads at once", n_threads);
    int started = 0;
    for (int k = 0; k < n_threads; k++) {
        jobs[k] = (thread_job){c, state, state_size, ref_ids, ref_n, ref_doc, ref_size, ""};
        if (pthread_create(&tid[k], NULL, thread_main, &jobs[k]) != 0) break;
        started++;
    }
    for (int k = 0; k < started; k++) pthread_join(tid[k], NULL);
    if (started < n_threads) {
        FAIL(c, "could only start %d of %d threads", started, n_threads);
        goto done;
    }
    for (int k = 0; k < n_threads; k++)
        if (jobs[k].error[0]) {
            FAIL(c, "thread %d: %s", k, jobs[k].error);
            goto done;
        }
    PASS(c, "%d threads, each with its own tokenizer, encoded and decoded %d sample%s %d times "
            "at once: the same ids and bytes as on one thread",
         n_threads, n, n == 1 ? "" : "s", THREAD_ROUNDS);
done:
    for (int i = 0; i < n; i++) {
        mmg_free(ref_ids[i]);
        mmg_free(ref_doc[i]);
    }
    mmg_free(state);
}

/* ---- constraint ------------------------------------------------------------------ */

static void rule_constraint(rule_ctx *c) {
    if (setup(c)) return;
    if (!mmg_tokenizer_has_extension(c->tok, MMG_EXT_CONSTRAINT_V1)) {
        SKIP(c, "the plugin has no %s extension", MMG_EXT_CONSTRAINT_V1);
        return;
    }
    const check_opts *o = c->o;
    size_t vocab = (size_t)c->vocab;
    int32_t eos = -1;
    if (mmg_tokenizer_special_token(c->tok, "eos", &eos) != MMG_OK) eos = -1;
    uint8_t *mask = malloc(vocab);
    int32_t *walk = malloc(WALK_MAX_TOKENS * sizeof *walk);
    int32_t *choices = malloc(vocab * sizeof *choices);
    if (!mask || !walk || !choices) {
        FAIL(c, "out of memory");
        goto done;
    }
    /* Each sample's own ids are allowed where they stand. */
    size_t positions = 0;
    int truncated = 0;
    for (int i = 0; i < o->n_samples; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (encode_sample(c, c->tok, i, &ids, &n) != MMG_OK) goto done;
        size_t upto = n < CONSTRAINT_MAX_POSITIONS ? n : CONSTRAINT_MAX_POSITIONS;
        truncated |= upto < n;
        for (size_t k = 0; k < upto; k++) {
            memset(mask, 1, vocab);
            doing(c, "allowed_next after %zu ids of sample '%s'", k, o->sample_names[i]);
            mmg_status s = mmg_tokenizer_allowed_next(c->tok, ids, k, mask, vocab);
            if (s != MMG_OK)
                FAIL(c, "allowed_next after %zu ids of sample '%s': %s: %s", k, o->sample_names[i],
                     mmg_status_name(s), why(s));
            else if (ids[k] < 0 || (size_t)ids[k] >= vocab)
                FAIL(c, "sample '%s': id %d at position %zu is outside the vocabulary [0, %zu)",
                     o->sample_names[i], (int)ids[k], k, vocab);
            else if (!mask[ids[k]])
                FAIL(c, "sample '%s': its own id %d at position %zu is not allowed there",
                     o->sample_names[i], (int)ids[k], k);
            if (c->verdict == 'F') break;
        }
        positions += upto;
        mmg_free(ids);
        if (c->verdict == 'F') goto done;
    }
    /* Random walks: never an empty mask before eos, and what ends decodes. */
    uint64_t rng = o->seed ^ 0x5bd1e995u;
    int ended = 0, stopped = 0;
    size_t total = 0, longest = 0;
    for (int w = 0; w < WALKS && total < WALKS_MAX_TOKENS; w++) {
        size_t n = 0;
        int done_walk = 0;
        while (!done_walk) {
            if (n == WALK_MAX_TOKENS || total >= WALKS_MAX_TOKENS) {
                stopped++;
                break;
            }
            memset(mask, 1, vocab);
            doing(c, "allowed_next after %zu ids of random walk %d (seed %llu)", n, w,
                  (unsigned long long)o->seed);
            mmg_status s = mmg_tokenizer_allowed_next(c->tok, walk, n, mask, vocab);
            if (s != MMG_OK) {
                FAIL(c, "allowed_next after %zu ids of random walk %d (seed %llu): %s: %s", n, w,
                     (unsigned long long)o->seed, mmg_status_name(s), why(s));
                goto done;
            }
            size_t n_choices = 0;
            for (size_t id = 0; id < vocab; id++)
                if (mask[id]) choices[n_choices++] = (int32_t)id;
            if (n_choices == 0) {
                FAIL(c, "random walk %d (seed %llu) reaches an empty mask after %zu ids, before eos",
                     w, (unsigned long long)o->seed, n);
                goto done;
            }
            int32_t next = choices[rng_below(&rng, n_choices)];
            total++;
            if (next == eos) {
                done_walk = 1;
                ended++;
                uint8_t *doc = NULL;
                size_t size = 0;
                doing(c, "decoding random walk %d (%zu ids)", w, n);
                s = mmg_tokenizer_decode(c->tok, walk, n, &doc, &size);
                mmg_free(doc);
                if (s != MMG_OK) {
                    FAIL(c, "random walk %d (seed %llu) reaches eos after %zu ids that do not "
                            "decode: %s: %s",
                         w, (unsigned long long)o->seed, n, mmg_status_name(s), why(s));
                    goto done;
                }
            } else {
                walk[n++] = next;
            }
        }
        if (n > longest) longest = n;
    }
    char stop_note[160] = "";
    if (stopped)
        snprintf(stop_note, sizeof stop_note, "; %d stopped early at %d ids (or %d in all)", stopped,
                 WALK_MAX_TOKENS, WALKS_MAX_TOKENS);
    PASS(c, "sample ids allowed at all %zu positions%s; %d random walks: %d reached %s and decoded%s",
         positions, truncated ? " checked (the first 4096 of each sample)" : "",
         ended + stopped, ended, eos >= 0 ? "eos" : "the end (no eos token)", stop_note);
done:
    free(mask);
    free(walk);
    free(choices);
}

/* ---- allocations: the plugin driven directly with counting host services ------ */

/* Every live block host->alloc handed out, in an open-addressing set. */
static struct {
    pthread_mutex_t lock;
    void **slots;
    size_t cap, used, live; /* used counts tombstones too */
    size_t allocs, bad_frees;
} track = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, 0, 0};

static void *const TOMBSTONE = &track;

static size_t slot_of(void *p, size_t cap) {
    return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static int track_insert_locked(void *p) {
    if ((track.used + 1) * 2 > track.cap) {
        size_t cap = track.cap ? track.cap * 2 : 1024;
        while (track.live * 4 > cap) cap *= 2;
        void **slots = calloc(cap, sizeof *slots);
        if (!slots) return -1;
        for (size_t i = 0; i < track.cap; i++)
            if (track.slots[i] && track.slots[i] != TOMBSTONE) {
                size_t k = slot_of(track.slots[i], cap);
                while (slots[k]) k = (k + 1) & (cap - 1);
                slots[k] = track.slots[i];
            }
        free(track.slots);
        track.slots = slots;
        track.cap = cap;
        track.used = track.live;
    }
    size_t k = slot_of(p, track.cap);
    while (track.slots[k] && track.slots[k] != TOMBSTONE) k = (k + 1) & (track.cap - 1);
    if (!track.slots[k]) track.used++;
    track.slots[k] = p;
    track.live++;
    return 0;
}

/* Removes p; 0 when it was live, -1 when host->alloc never made it. */
static int track_remove_locked(void *p) {
    if (!track.cap) return -1;
    size_t k = slot_of(p, track.cap);
    while (track.slots[k]) {
        if (track.slots[k] == p) {
            track.slots[k] = TOMBSTONE;
            track.live--;
            return 0;
        }
        k = (k + 1) & (track.cap - 1);
    }
    return -1;
}

static int track_owns(void *p) {
    pthread_mutex_lock(&track.lock);
    int owned = track_remove_locked(p) == 0;
    if (owned) track_insert_locked(p);
    pthread_mutex_unlock(&track.lock);
    return owned;
}

static void *host_alloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) return NULL;
    pthread_mutex_lock(&track.lock);
    int bad = track_insert_locked(p);
    track.allocs++;
    pthread_mutex_unlock(&track.lock);
    if (bad) {
        free(p);
        return NULL;
    }
    return p;
}

static void host_free(void *p) {
    if (!p) return;
    pthread_mutex_lock(&track.lock);
    int bad = track_remove_locked(p);
    if (bad) track.bad_frees++;
    pthread_mutex_unlock(&track.lock);
    if (!bad) free(p); /* a pointer we never made is counted, not freed */
}

static void *host_realloc(void *p, size_t size) {
    if (!p) return host_alloc(size);
    pthread_mutex_lock(&track.lock);
    int bad = track_remove_locked(p);
    if (bad) track.bad_frees++;
    pthread_mutex_unlock(&track.lock);
    if (bad) return NULL;
    void *q = realloc(p, size ? size : 1);
    pthread_mutex_lock(&track.lock);
    int full = track_insert_locked(q ? q : p);
    track.allocs += q != NULL;
    pthread_mutex_unlock(&track.lock);
    (void)full;
    return q;
}

static void host_log(int level, const char *fmt, ...) {
    (void)level;
    (void)fmt;
}

static __thread char host_message[512];

static int host_error(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(host_message, sizeof host_message, fmt, ap);
    va_end(ap);
    return status;
}

static const mmg_host_services counting_host = {
    sizeof(mmg_host_services), MMG_PLUGIN_ABI_VERSION, host_alloc, host_realloc, host_free,
    host_log, host_error};

/* A buffer the plugin returned must come from host->alloc (NULL is allowed
 * for an empty one). */
static int foreign(rule_ctx *c, const char *what, void *p, size_t size) {
    if (!p && size == 0) return 0;
    if (p && track_owns(p)) return 0;
    FAIL(c, "%s returned a buffer that host->alloc did not make (%p); memory handed to the host "
            "must come from the host services",
         what, p);
    return -1;
}

static void rule_allocations(rule_ctx *c) {
    const check_opts *o = c->o;
    doing(c, "loading '%s' with dlopen", o->path);
    void *h = dlopen(o->path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        FAIL(c, "dlopen: %s", dlerror());
        return;
    }
    mmg_plugin_entry_fn entry = (mmg_plugin_entry_fn)dlsym(h, MMG_PLUGIN_ENTRY_SYMBOL);
    const mmg_plugin_descriptor *d = entry ? entry() : NULL;
    if (!d) {
        FAIL(c, "no descriptor from %s", MMG_PLUGIN_ENTRY_SYMBOL);
        return;
    }
    doing(c, "init with counting host services");
    int rc = d->init(&counting_host);
    if (rc) {
        FAIL(c, "init: status %d: %s", rc, host_message);
        return;
    }
    size_t before = track.live, calls = 0;
    void *inst = NULL, *inst2 = NULL;
    const char *cfg = o->config;
    doing(c, "create");
    if ((rc = d->create(cfg, cfg ? strlen(cfg) : 0, &inst)) != 0) {
        FAIL(c, "create: status %d: %s", rc, host_message);
        goto deinit;
    }
    if (o->fit && d->fit && o->n_samples) {
        mmg_plugin_document docs[MAX_SAMPLES];
        for (int i = 0; i < o->n_samples; i++) docs[i] = (mmg_plugin_document){o->samples[i], o->sizes[i]};
        doing(c, "fit");
        if ((rc = d->fit(inst, docs, (size_t)o->n_samples)) != 0) {
            FAIL(c, "fit: status %d: %s", rc, host_message);
            goto destroy;
        }
    }
    for (int i = 0; i < o->n_samples; i++) {
        int32_t *ids = NULL;
        uint8_t *doc = NULL;
        size_t n = 0, size = 0;
        doing(c, "encoding sample '%s'", o->sample_names[i]);
        if ((rc = d->encode(inst, o->samples[i], o->sizes[i], &ids, &n)) != 0) {
            FAIL(c, "encode of sample '%s': status %d: %s", o->sample_names[i], rc, host_message);
            goto destroy;
        }
        calls++;
        if (foreign(c, "encode", ids, n)) goto destroy;
        doing(c, "decoding sample '%s'", o->sample_names[i]);
        rc = d->decode(inst, ids, n, &doc, &size);
        host_free(ids);
        calls++;
        if (rc == 0 && foreign(c, "decode", doc, size)) goto destroy;
        if (rc == 0) host_free(doc);
    }
    uint8_t *state = NULL;
    size_t state_size = 0;
    doing(c, "save_state");
    if ((rc = d->save_state(inst, &state, &state_size)) != 0) {
        FAIL(c, "save_state: status %d: %s", rc, host_message);
        goto destroy;
    }
    calls++;
    if (foreign(c, "save_state", state, state_size)) goto destroy;
    doing(c, "load_state into a second instance");
    if (d->create(NULL, 0, &inst2) == 0) {
        d->load_state(inst2, state, state_size);
        calls++;
    } else {
        inst2 = NULL;
    }
    host_free(state);
    for (int k = 0; k < 3; k++) {
        char buf[64];
        size_t len = 0;
        doing(c, "describe_token(%d)", k);
        d->describe_token(inst, k, buf, sizeof buf, &len);
        calls++;
    }
destroy:
    doing(c, "destroy");
    d->destroy(inst2);
    d->destroy(inst);
    if (c->verdict != 'F' && track.live != before) {
        FAIL(c, "%zu block%s from host->alloc still live after destroy (%zu before create)",
             track.live - before, track.live - before == 1 ? "" : "s", before);
    }
deinit:
    doing(c, "deinit");
    d->deinit();
    if (c->verdict == 'F') return;
    if (track.live) {
        FAIL(c, "%zu block%s from host->alloc never freed by deinit", track.live,
             track.live == 1 ? "" : "s");
    } else if (track.bad_frees) {
        FAIL(c, "host->free or host->realloc was given %zu pointer%s that host->alloc did not make",
             track.bad_frees, track.bad_frees == 1 ? "" : "s");
    } else {
        PASS(c, "init, create%s, %zu calls, destroy and deinit through counting host services: "
                "%zu allocations, none left; every returned buffer came from host->alloc",
             o->fit && d->fit ? ", fit" : "", calls, track.allocs);
    }
    /* not dlclose'd: the child exits */
}

static const rule RULES[] = {
    {"load", rule_load, 0},
    {"create", rule_create, 0},
    {"encode-bounds", rule_encode_bounds, 1},
    {"round-trip", rule_round_trip, 1},
    {"decode-single-ids", rule_decode_single_ids, 1},
    {"decode-random-streams", rule_decode_random_streams, 1},
    {"state", rule_state, 1},
    {"special-tokens", rule_special_tokens, 1},
    {"threads", rule_threads, 1},
    {"constraint", rule_constraint, 1},
    {"allocations", rule_allocations, 1},
};
#define N_RULES (sizeof RULES / sizeof RULES[0])

/* ---- running a rule in a child ------------------------------------------------ */

/* The child's message on the pipe: a verdict byte, the text, a NUL, the data. */
static void child_report(int fd, const rule_ctx *c) {
    char v = c->verdict ? c->verdict : 'F';
    const char *text = c->verdict ? c->text : "the rule ended without a verdict (a validator bug)";
    size_t nt = strlen(text), nd = strlen(c->data);
    char *msg = malloc(1 + nt + 1 + nd);
    if (!msg) _exit(3);
    msg[0] = v;
    memcpy(msg + 1, text, nt + 1);
    memcpy(msg + 2 + nt, c->data, nd);
    size_t len = 2 + nt + nd, off = 0;
    while (off < len) {
        ssize_t w = write(fd, msg + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) _exit(3);
        off += (size_t)w;
    }
    free(msg);
}

/* Runs one rule in a child; fills verdict, text and data. */
static void run_rule(const rule *r, check_opts *o, char *where, char *v, char *text,
                     size_t text_size, char *data, size_t data_size) {
    int fds[2];
    *v = 'F';
    data[0] = '\0';
    snprintf(where, WHERE_SIZE, "starting");
    if (pipe(fds) != 0) {
        snprintf(text, text_size, "cannot make a pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(text, text_size, "cannot fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        /* the timeout must fire even if our parent ignored or blocked SIGALRM */
        signal(SIGALRM, SIG_DFL);
        sigset_t alrm;
        sigemptyset(&alrm);
        sigaddset(&alrm, SIGALRM);
        sigprocmask(SIG_UNBLOCK, &alrm, NULL);
        alarm((unsigned)o->timeout);
        rule_ctx *c = calloc(1, sizeof *c);
        if (!c) _exit(3);
        c->o = o;
        c->where = where;
        r->run(c);
        child_report(fds[1], c);
        /* No cleanup: the process ends here, and exit() would run the
         * parent's atexit handlers and flush its stdio twice. */
        _exit(0);
    }
    close(fds[1]);
    char buf[8192];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fds[0], buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == sizeof buf - 1) break;
    }
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGALRM)
            snprintf(text, text_size, "the rule did not finish within %d s (while %s)", o->timeout,
                     where);
        else
            snprintf(text, text_size, "the plugin crashed (signal %d: %s) while %s", sig,
                     signal_name(sig), where);
        return;
    }
    if (len < 2 || (buf[0] != 'o' && buf[0] != 'F' && buf[0] != 's')) {
        /* a sanitizer, or the plugin calling exit(), ends the child this way */
        snprintf(text, text_size,
                 "the plugin crashed or exited (exit status %d, no result) while %s",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, where);
        return;
    }
    *v = buf[0];
    size_t nt = strlen(buf + 1), nd = 2 + nt <= len ? len - 2 - nt : 0;
    /* copies cut to the callers' buffers */
    memcpy(text, buf + 1, nt < text_size ? nt + 1 : text_size);
    text[text_size - 1] = '\0';
    memcpy(data, buf + 2 + nt, nd < data_size ? nd : data_size - 1);
    data[nd < data_size ? nd : data_size - 1] = '\0';
}

/* ---- the command --------------------------------------------------------------- */

/* Takes every `--sample FILE` (`--sample=FILE`, `-s FILE`, `-sFILE`) out of
 * argv (the option parser keeps only the last value of an option), leaving
 * the rest in order.
 * Options that take a value are skipped with it. Returns the new argc, or
 * -1 after a usage error. */
static int take_samples(const args_command *cmd, const args_option *opts, int argc, char **argv,
                        check_opts *o) {
    int out = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (i < argc) argv[out++] = argv[i++];
            break;
        }
        const char *value = NULL;
        if (!strcmp(a, "--sample") || !strcmp(a, "-s")) {
            if (i + 1 >= argc) return args_usage_error(cmd, "%s needs a FILE", a), -1;
            value = argv[++i];
        } else if (!strncmp(a, "--sample=", 9)) {
            value = a + 9;
        } else if (!strncmp(a, "-s", 2)) {
            value = a + 2;
        }
        if (value) {
            if (o->n_samples == MAX_SAMPLES)
                return args_usage_error(cmd, "at most %d --sample files", MAX_SAMPLES), -1;
            o->sample_names[o->n_samples++] = value;
            continue;
        }
        argv[out++] = argv[i];
        /* keep an option's separate value with it */
        for (const args_option *opt = opts; opt->name; opt++) {
            if (opt->kind == ARG_FLAG) continue;
            int is_long = a[0] == '-' && a[1] == '-' && !strcmp(a + 2, opt->name);
            int is_short = opt->short_name && a[0] == '-' && a[1] == opt->short_name && !a[2];
            if ((is_long || is_short) && i + 1 < argc) {
                argv[out++] = argv[++i];
                break;
            }
        }
    }
    return out;
}

static int plugin_check(int argc, char **argv) {
    static check_opts o; /* large, and shared with the children by fork */
    const char *config_arg = NULL, *sample_help = NULL;
    int32_t threads = 4, timeout = 120;
    uint64_t seed = 1;
    args_option opts[] = {
        {"config", 'c', ARG_STRING, &config_arg, "JSON|FILE",
         "the tokenizer's config (default: the plugin's defaults)"},
        {"fit", 0, ARG_FLAG, &o.fit, NULL, "fit the tokenizer on the samples first (learned vocabularies)"},
        {"sample", 's', ARG_STRING, &sample_help, "FILE",
         "a sample document (repeat for more; also given as SAMPLES)"},
        {"threads", 0, ARG_INT, &threads, "N", "threads for the `threads` rule", 1, MAX_THREADS},
        {"seed", 0, ARG_U64, &seed, "N", "seed of the random streams and walks"},
        {"timeout", 0, ARG_INT, &timeout, "SECONDS", "time limit of each rule", 1, 86400},
        {0}};
    const args_command cmd = {
        "plugin check", "[options] PLUGIN [SAMPLES...]",
        "Checks that a modality plugin (a file, or a name found like mmg_plugin_open\n"
        "does) keeps the plugin ABI's contract. Rules: load, create, encode-bounds,\n"
        "round-trip, decode-single-ids, decode-random-streams, state, special-tokens,\n"
        "threads, constraint, allocations. Each prints `ok`, `FAIL` or `skip` with\n"
        "what it checked or what went wrong. Each runs in its own process, so a\n"
        "plugin that crashes fails that rule and the others still run. Exit status:\n"
        "0 when no rule fails, 1 when one does, 2 for a usage error.",
        "examples:\n"
        "  mmgen plugin check ./mmgen-caesar.so --sample README.md\n"
        "  mmgen plugin check text --config '{\"vocab_size\": 500}' --fit --sample a.txt\n"
        "  mmgen plugin check audio --config '{\"mode\": \"mulaw\"}' --sample tone.wav\n"};
    argc = take_samples(&cmd, opts, argc, argv, &o);
    if (argc < 0) return CLI_USAGE;
    const char *pos[1 + MAX_SAMPLES];
    int n_pos = 0;
    int rc = args_parse(&cmd, opts, argc, argv, pos, 1 + MAX_SAMPLES, &n_pos);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;
    (void)sample_help; /* take_samples took every --sample; the entry is for --help */
    if (n_pos < 1) return args_usage_error(&cmd, "give the PLUGIN to check (a file or a name)");
    for (int i = 1; i < n_pos; i++) {
        if (o.n_samples == MAX_SAMPLES)
            return args_usage_error(&cmd, "at most %d sample files", MAX_SAMPLES);
        o.sample_names[o.n_samples++] = pos[i];
    }
    if (o.fit && o.n_samples == 0)
        return args_usage_error(&cmd, "--fit needs sample documents (--sample FILE)");
    o.threads = threads;
    o.timeout = timeout;
    o.seed = seed;

    /* A file in the current directory is a path, not a name to search for. */
    char here[4096];
    struct stat st;
    o.plugin = pos[0];
    if (!strchr(pos[0], '/') && stat(pos[0], &st) == 0 && S_ISREG(st.st_mode)) {
        snprintf(here, sizeof here, "./%s", pos[0]);
        o.plugin = here;
    }
    char *config = NULL;
    if (config_arg && !(config = files_json_arg("--config", config_arg))) return CLI_ERR;
    o.config = config && *config ? config : NULL;
    rc = CLI_OK;
    for (int i = 0; i < o.n_samples && !rc; i++)
        if (files_read(o.sample_names[i], &o.samples[i], &o.sizes[i]) != 0) rc = CLI_ERR;
    char *where = rc ? MAP_FAILED
                     : mmap(NULL, WHERE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!rc && where == MAP_FAILED) rc = cli_error("plugin check: mmap: %s", strerror(errno));

    int n_ok = 0, n_fail = 0, n_skip = 0, loaded = 1, created = 1;
    for (size_t i = 0; i < N_RULES && !rc; i++) {
        char v, text[2048], data[4096];
        if (!loaded || (RULES[i].needs_instance && !created)) {
            v = 's';
            snprintf(text, sizeof text, "%s", !loaded ? "the plugin does not load"
                                                       : "no tokenizer (see create)");
        } else {
            run_rule(&RULES[i], &o, where, &v, text, sizeof text, data, sizeof data);
        }
        if (!strcmp(RULES[i].name, "load")) {
            loaded = v == 'o';
            snprintf(o.path, sizeof o.path, "%s", data);
        }
        if (!strcmp(RULES[i].name, "create")) created = v == 'o';
        printf("%-4s %s: %s\n", v == 'o' ? "ok" : v == 's' ? "skip" : "FAIL", RULES[i].name, text);
        fflush(stdout);
        n_ok += v == 'o';
        n_fail += v == 'F';
        n_skip += v == 's';
    }
    if (!rc) {
        printf("%s: %d rules: %d ok, %d failed, %d skipped\n", pos[0], n_ok + n_fail + n_skip, n_ok,
               n_fail, n_skip);
        rc = n_fail ? CLI_ERR : CLI_OK;
    }
    if (where != MAP_FAILED) munmap(where, WHERE_SIZE);
    for (int i = 0; i < o.n_samples; i++) free(o.samples[i]);
    free(config);
    return rc;
}

int cmd_plugin(int argc, char **argv) {
    static const char usage[] =
        "usage: mmgen plugin check [options] PLUGIN [SAMPLES...]\n"
        "\n"
        "  check    check that a plugin keeps the plugin ABI's contract\n"
        "\n"
        "`mmgen plugin check --help` describes it; `mmgen plugins` lists plugins.\n";
    if (argc < 1) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *sub = argv[0];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(sub, "check")) return plugin_check(argc - 1, argv + 1);
    fprintf(stderr, "mmgen plugin: unknown subcommand '%s'\n", sub);
    fputs(usage, stderr);
    return CLI_USAGE;
}
