/* tests/test_alloc_sweep.c - allocation-failure sweeps over the public
 * operations, in the manner of SQLite's malloc tests: for each operation,
 * with everything it needs already made, fail its 1st allocation, then its
 * 2nd, ... (mmg__fault_fail_after: that one and every later one) until it
 * succeeds. Every failed run must return MMG_ERR_NOMEM with a message and
 * leave its out-parameters untouched; after the sweep the objects it used
 * must still work (the operation succeeds once more). The sanitizer build
 * checks that no failure path leaks. Plugins allocate through the host's
 * services, so their allocations are swept too; cJSON's are not (it would
 * need process-wide hooks, which a library must not set). Each test logs how
 * many allocations it swept. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory.h"
#include "mmgen/mmgen.h"

#define SENTINEL ((void *)0x5e47)

/* Runs op(env) with the n-th and later allocations failing, for n = 1, 2...
 * until it succeeds; returns the number of allocations swept. `op` returns
 * its status and checks its own out-parameters; `redo` (may be NULL) undoes
 * a success so the operation can run again. */
typedef mmg_status (*sweep_op)(void *env);
static long sweep(const char *what, sweep_op op, sweep_op redo, void *env) {
    long n;
    for (n = 1; n < 200000; n++) {
        mmg_clear_error();
        mmg__fault_fail_after(n);
        mmg_status s = op(env);
        mmg__fault_fail_after(0);
        if (s == MMG_OK) break;
        cr_assert_eq(s, MMG_ERR_NOMEM, "%s, allocation %ld: %s: %s", what, n, mmg_status_name(s),
                     mmg_last_error());
        cr_assert(mmg_last_error()[0], "%s, allocation %ld: no message", what, n);
    }
    cr_assert_lt(n, 200000, "%s never succeeded", what);
    /* still usable: the same operation works again */
    if (redo) cr_assert_eq(redo(env), MMG_OK, "%s: undo: %s", what, mmg_last_error());
    cr_assert_eq(op(env), MMG_OK, "%s after the sweep: %s", what, mmg_last_error());
    cr_log_info("%s: %ld allocations swept", what, n - 1);
    return n - 1;
}

/* ---- models, contexts, generation ------------------------------------------------------ */

typedef struct model_env {
    mmg_model_config cfg;
    mmg_model *model;
    mmg_context *ctx;
    char path[128];
    uint8_t *file;
    size_t file_size;
} model_env;

static void model_env_init(model_env *e, int n_encoder_layers) {
    memset(e, 0, sizeof *e);
    mmg_model_config_init(&e->cfg, sizeof e->cfg);
    e->cfg.vocab_size = 40, e->cfg.d_model = 16, e->cfg.n_heads = 2, e->cfg.d_ff = 32;
    e->cfg.n_encoder_layers = n_encoder_layers, e->cfg.n_decoder_layers = 2, e->cfg.max_seq_len = 16;
    cr_assert_eq(mmg_model_create(&e->cfg, NULL, &e->model), MMG_OK, "%s", mmg_last_error());
    snprintf(e->path, sizeof e->path, "/tmp/mmgen-sweep-%d.safetensors", (int)getpid());
    cr_assert_eq(mmg_model_save(e->model, e->path), MMG_OK, "%s", mmg_last_error());
    FILE *f = fopen(e->path, "rb");
    fseek(f, 0, SEEK_END);
    e->file_size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    e->file = malloc(e->file_size);
    cr_assert_eq(fread(e->file, 1, e->file_size, f), e->file_size);
    fclose(f);
    mmg_context_options co;
    mmg_context_options_init(&co, sizeof co);
    co.n_threads = 1;
    co.n_slots = 2;
    cr_assert_eq(mmg_context_create(e->model, &co, &e->ctx), MMG_OK, "%s", mmg_last_error());
}

static void model_env_free(model_env *e) {
    mmg_context_free(e->ctx);
    mmg_model_free(e->model);
    unlink(e->path);
    free(e->file);
}

static mmg_status op_model_create(void *p) {
    model_env *e = p;
    mmg_model *m = SENTINEL;
    mmg_status s = mmg_model_create(&e->cfg, NULL, &m);
    if (s) cr_assert_eq(m, SENTINEL, "out untouched");
    else mmg_model_free(m);
    return s;
}

static mmg_status op_model_load(void *p) {
    model_env *e = p;
    mmg_model *m = SENTINEL;
    mmg_status s = mmg_model_load(e->path, NULL, &m);
    if (s) cr_assert_eq(m, SENTINEL, "out untouched");
    else mmg_model_free(m);
    return s;
}

static mmg_status op_model_load_memory(void *p) {
    model_env *e = p;
    mmg_model *m = SENTINEL;
    mmg_status s = mmg_model_load_memory(e->file, e->file_size, NULL, &m);
    if (s) cr_assert_eq(m, SENTINEL, "out untouched");
    else mmg_model_free(m);
    return s;
}

static mmg_status op_model_save(void *p) {
    model_env *e = p;
    mmg_status s = mmg_model_save(e->model, e->path);
    /* a failed save leaves the previous file as it was */
    FILE *f = fopen(e->path, "rb");
    cr_assert(f, "the model file is gone after a failed save");
    uint8_t *now = malloc(e->file_size + 1);
    size_t n = fread(now, 1, e->file_size + 1, f);
    fclose(f);
    cr_assert(n == e->file_size && memcmp(now, e->file, n) == 0, "the model file changed");
    free(now);
    return s;
}

static mmg_status op_context_create(void *p) {
    model_env *e = p;
    mmg_context *c = SENTINEL;
    mmg_status s = mmg_context_create(e->model, NULL, &c);
    if (s) cr_assert_eq(c, SENTINEL, "out untouched");
    else mmg_context_free(c);
    return s;
}

static mmg_status op_context_forward(void *p) {
    model_env *e = p;
    const int32_t src[4] = {1, 2, 3, 4}, tgt[5] = {5, 6, 7, 8, 9};
    float logits[5 * 40];
    int enc = e->cfg.n_encoder_layers > 0;
    mmg_context *c;
    mmg_status s = mmg_context_create(e->model, NULL, &c); /* a fresh one: forward allocates once */
    if (s) return s;
    s = mmg_context_forward(c, 1, enc ? src : NULL, NULL, enc ? 4 : 0, tgt, NULL, 5, logits);
    mmg_context_free(c);
    return s;
}

static mmg_status op_decode(void *p) {
    model_env *e = p;
    const int32_t src[4] = {1, 2, 3, 4}, tgt[3] = {5, 6, 7};
    float logits[40];
    mmg_context_reset(e->ctx, 1);
    mmg_status s = MMG_OK;
    if (e->cfg.n_encoder_layers > 0) s = mmg_context_encode(e->ctx, 1, src, 4);
    if (!s) s = mmg_context_decode(e->ctx, 1, tgt, 3, logits, 0);
    return s;
}

static mmg_status op_generate(void *p) {
    model_env *e = p;
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.max_new_tokens = 6;
    const int32_t prompt[2] = {3, 4}, src[3] = {1, 2, 3};
    const int32_t *prompts[2] = {prompt, prompt}, *sources[2] = {src, src};
    int32_t plen[2] = {2, 2}, slen[2] = {3, 3}, out[12], n_out[2] = {-7, -7};
    int enc = e->cfg.n_encoder_layers > 0;
    mmg_context_reset(e->ctx, 0);
    mmg_context_reset(e->ctx, 1);
    mmg_status s = mmg_generate(e->ctx, &go, 2, enc ? sources : NULL, enc ? slen : NULL, prompts,
                                plen, NULL, out, n_out);
    if (s) cr_assert(n_out[0] == -7 && n_out[1] == -7, "lengths untouched");
    return s;
}

static void sweep_models(int n_encoder_layers) {
    model_env e;
    model_env_init(&e, n_encoder_layers);
    long total = 0;
    total += sweep("mmg_model_create", op_model_create, NULL, &e);
    total += sweep("mmg_model_load", op_model_load, NULL, &e);
    total += sweep("mmg_model_load_memory", op_model_load_memory, NULL, &e);
    total += sweep("mmg_model_save", op_model_save, NULL, &e);
    total += sweep("mmg_context_create", op_context_create, NULL, &e);
    total += sweep("mmg_context_create + forward", op_context_forward, NULL, &e);
    total += sweep("mmg_context_encode/decode", op_decode, NULL, &e);
    total += sweep("mmg_generate", op_generate, NULL, &e);
    cr_log_info("models (%d encoder layers): %ld allocations swept", n_encoder_layers, total);
    model_env_free(&e);
}

Test(alloc_sweep, decoder_only_models) { sweep_models(0); }
Test(alloc_sweep, encoder_decoder_models) { sweep_models(1); }

/* ---- training ------------------------------------------------------------------------- */

typedef struct train_env {
    model_env m;
    mmg_dataset *ds;
    mmg_loader *loader;
    mmg_trainer *trainer;
    char ckpt[128];
} train_env;

static mmg_status op_trainer_create(void *p) {
    train_env *e = p;
    mmg_trainer *t = SENTINEL;
    mmg_status s = mmg_trainer_create(e->m.model, NULL, &t);
    if (s) cr_assert_eq(t, SENTINEL, "out untouched");
    else mmg_trainer_free(t);
    return s;
}

static mmg_status op_train_step(void *p) {
    train_env *e = p;
    const mmg_batch *b;
    mmg_status s = mmg_loader_next(e->loader, &b);
    if (!s) s = mmg_trainer_step(e->trainer, b, NULL);
    return s;
}

static mmg_status op_trainer_save(void *p) {
    train_env *e = p;
    return mmg_trainer_save(e->trainer, e->loader, e->ckpt);
}

static mmg_status op_trainer_load(void *p) {
    train_env *e = p;
    int64_t steps = mmg_trainer_steps_done(e->trainer);
    mmg_status s = mmg_trainer_load(e->trainer, e->loader, e->ckpt);
    if (s) cr_assert_eq(mmg_trainer_steps_done(e->trainer), steps, "trainer untouched");
    return s;
}

static mmg_status op_loader_create(void *p) {
    train_env *e = p;
    mmg_loader_options lo;
    mmg_loader_options_init(&lo, sizeof lo);
    lo.batch_size = 2, lo.seq_len = 8;
    mmg_loader *l = SENTINEL;
    mmg_status s = mmg_loader_create_packed(e->ds, &lo, &l);
    if (s) cr_assert_eq(l, SENTINEL, "out untouched");
    else mmg_loader_free(l);
    return s;
}

Test(alloc_sweep, training) {
    train_env e;
    model_env_init(&e.m, 0);
    int32_t tokens[200];
    for (int i = 0; i < 200; i++) tokens[i] = (i * 7) % 40;
    cr_assert_eq(mmg_dataset_from_tokens(tokens, 200, &e.ds), MMG_OK);
    mmg_loader_options lo;
    mmg_loader_options_init(&lo, sizeof lo);
    lo.batch_size = 2, lo.seq_len = 8;
    cr_assert_eq(mmg_loader_create_packed(e.ds, &lo, &e.loader), MMG_OK);
    mmg_train_options to;
    mmg_train_options_init(&to, sizeof to);
    to.n_threads = 1;
    cr_assert_eq(mmg_trainer_create(e.m.model, &to, &e.trainer), MMG_OK, "%s", mmg_last_error());
    snprintf(e.ckpt, sizeof e.ckpt, "/tmp/mmgen-sweep-%d.ckpt", (int)getpid());
    long total = 0;
    total += sweep("mmg_loader_create_packed", op_loader_create, NULL, &e);
    total += sweep("mmg_trainer_create", op_trainer_create, NULL, &e);
    total += sweep("mmg_trainer_step", op_train_step, NULL, &e);
    total += sweep("mmg_trainer_save", op_trainer_save, NULL, &e);
    total += sweep("mmg_trainer_load", op_trainer_load, NULL, &e);
    cr_log_info("training: %ld allocations swept", total);
    unlink(e.ckpt);
    mmg_trainer_free(e.trainer);
    mmg_loader_free(e.loader);
    mmg_dataset_free(e.ds);
    model_env_free(&e.m);
}

/* ---- plugins and tokenizers ------------------------------------------------------------ */

typedef struct tok_env {
    char path[512];
    const char *config;
    mmg_plugin *plugin;
    mmg_tokenizer *tok;
    const uint8_t *doc;
    size_t doc_size;
    int32_t *ids;
    size_t n_ids;
    uint8_t *state;
    size_t state_size;
} tok_env;

static mmg_status op_plugin_open(void *p) {
    tok_env *e = p;
    mmg_plugin *pl = SENTINEL;
    mmg_status s = mmg_plugin_open(e->path, &pl);
    if (s) cr_assert_eq(pl, SENTINEL, "out untouched");
    else mmg_plugin_close(pl);
    return s;
}

static mmg_status op_tok_create(void *p) {
    tok_env *e = p;
    mmg_tokenizer *t = SENTINEL;
    mmg_status s = mmg_tokenizer_create(e->plugin, e->config, &t);
    if (s) cr_assert_eq(t, SENTINEL, "out untouched");
    else mmg_tokenizer_free(t);
    return s;
}

static mmg_status op_tok_fit(void *p) {
    tok_env *e = p;
    const uint8_t *docs[1] = {e->doc};
    size_t sizes[1] = {e->doc_size};
    return mmg_tokenizer_fit(e->tok, docs, sizes, 1);
}

static mmg_status op_tok_encode(void *p) {
    tok_env *e = p;
    int32_t *ids = SENTINEL;
    size_t n = 77;
    mmg_status s = mmg_tokenizer_encode(e->tok, e->doc, e->doc_size, &ids, &n);
    if (s) cr_assert(ids == SENTINEL && n == 77, "out untouched");
    else mmg_free(ids);
    return s;
}

/* A tokenizer restored from the saved state, then its first encode (which
 * sets up the engine's caches) and decode. */
static mmg_status op_tok_restore_and_use(void *p) {
    tok_env *e = p;
    mmg_tokenizer *t = NULL;
    int32_t *ids = NULL;
    uint8_t *doc = NULL;
    size_t n_ids = 0, n_doc = 0;
    mmg_status s = mmg_tokenizer_create(e->plugin, NULL, &t);
    if (!s) s = mmg_tokenizer_load_state(t, e->state, e->state_size);
    if (!s) s = mmg_tokenizer_encode(t, e->doc, e->doc_size, &ids, &n_ids);
    if (!s) s = mmg_tokenizer_decode(t, ids, n_ids, &doc, &n_doc);
    if (!s) cr_assert(n_ids == e->n_ids && memcmp(ids, e->ids, n_ids * sizeof *ids) == 0,
                      "a restored tokenizer encodes differently");
    mmg_free(ids);
    mmg_free(doc);
    mmg_tokenizer_free(t);
    return s;
}

static mmg_status op_tok_decode(void *p) {
    tok_env *e = p;
    uint8_t *doc = SENTINEL;
    size_t n = 77;
    mmg_status s = mmg_tokenizer_decode(e->tok, e->ids, e->n_ids, &doc, &n);
    if (s) cr_assert(doc == SENTINEL && n == 77, "out untouched");
    else mmg_free(doc);
    return s;
}

static mmg_status op_tok_save(void *p) {
    tok_env *e = p;
    uint8_t *st = SENTINEL;
    size_t n = 77;
    mmg_status s = mmg_tokenizer_save_state(e->tok, &st, &n);
    if (s) cr_assert(st == SENTINEL && n == 77, "out untouched");
    else mmg_free(st);
    return s;
}

static mmg_status op_tok_load(void *p) {
    tok_env *e = p;
    return mmg_tokenizer_load_state(e->tok, e->state, e->state_size);
}

static mmg_status op_tok_json(void *p) {
    tok_env *e = p;
    char *json = SENTINEL;
    mmg_status s = mmg_tokenizer_to_json(e->tok, &json);
    if (s) {
        cr_assert_eq(json, SENTINEL, "out untouched");
        return s;
    }
    mmg_tokenizer *back = SENTINEL;
    s = mmg_tokenizer_from_json(json, strlen(json), &back);
    mmg_free(json);
    if (s) cr_assert_eq(back, SENTINEL, "out untouched");
    else mmg_tokenizer_free(back);
    return s;
}

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*size);
    if (fread(b, 1, *size, f) != *size) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static void sweep_plugin(const char *name, const char *config, const char *doc_file,
                         const char *inline_doc) {
    tok_env e;
    memset(&e, 0, sizeof e);
    const char *dir = getenv("MMGEN_TEST_PLUGIN_DIR");
    snprintf(e.path, sizeof e.path, "%s/mmgen-%s.so", dir ? dir : MMGEN_TEST_PLUGIN_DIR, name);
    setenv("MMGEN_PLUGIN_PATH", dir ? dir : MMGEN_TEST_PLUGIN_DIR, 1); /* from_json opens by name */
    e.config = config;
    uint8_t *owned = NULL;
    if (doc_file) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", MMGEN_SOURCE_DIR, doc_file);
        owned = read_file(path, &e.doc_size);
        cr_assert(owned, "cannot read %s", path);
        e.doc = owned;
    } else {
        e.doc = (const uint8_t *)inline_doc;
        e.doc_size = strlen(inline_doc);
    }
    cr_assert_eq(mmg_plugin_open(e.path, &e.plugin), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_create(e.plugin, config, &e.tok), MMG_OK, "%s", mmg_last_error());
    long total = 0;
    char what[128];
#define SWEEP(op_name, fn) \
    (snprintf(what, sizeof what, "%s: %s", name, op_name), total += sweep(what, fn, NULL, &e))
    SWEEP("mmg_plugin_open", op_plugin_open);
    SWEEP("mmg_tokenizer_create", op_tok_create);
    SWEEP("mmg_tokenizer_fit", op_tok_fit);
    cr_assert_eq(mmg_tokenizer_encode(e.tok, e.doc, e.doc_size, &e.ids, &e.n_ids), MMG_OK, "%s",
                 mmg_last_error());
    cr_assert_eq(mmg_tokenizer_save_state(e.tok, &e.state, &e.state_size), MMG_OK);
    SWEEP("mmg_tokenizer_encode", op_tok_encode);
    SWEEP("mmg_tokenizer_decode", op_tok_decode);
    SWEEP("mmg_tokenizer_save_state", op_tok_save);
    SWEEP("mmg_tokenizer_load_state", op_tok_load);
    SWEEP("mmg_tokenizer_to_json/from_json", op_tok_json);
    SWEEP("restore + first encode + decode", op_tok_restore_and_use);
#undef SWEEP
    cr_log_info("plugin %s: %ld allocations swept", name, total);
    mmg_free(e.ids);
    mmg_free(e.state);
    mmg_tokenizer_free(e.tok);
    mmg_plugin_close(e.plugin);
    free(owned);
}

Test(alloc_sweep, text_plugin) {
    sweep_plugin("text", "{\"vocab_size\": 300}", NULL,
                 "It was the best of times, it was the worst of times; caf\xc3\xa9 \xf0\x9f\x98\x80.");
}
Test(alloc_sweep, code_plugin) {
    sweep_plugin("code", "{\"vocab_size\": 300}", NULL,
                 "def f(x):\n    return [x ** 2 for x in range(10)]  # squares\n");
}
Test(alloc_sweep, image_plugin) {
    sweep_plugin("image", "{\"patch_size\": 2, \"codebook_size\": 8, \"kmeans_iterations\": 2, \"threads\": 1}",
                 "fuzz/corpus/image_encode/gradient.png", NULL);
}
Test(alloc_sweep, audio_plugin) {
    sweep_plugin("audio",
                 "{\"mode\": \"learned\", \"threads\": 1, \"stages\": 1, \"codebook_size\": 8, "
                 "\"kmeans_iterations\": 2, \"griffin_lim_iterations\": 2}",
                 "fuzz/corpus/audio_encode/tone8k.wav", NULL);
}
