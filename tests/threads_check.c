/* tests/threads_check.c - the thread rules of ABI.md ("Threads") exercised at
 * once: one model shared by threads that generate with their own contexts,
 * plugins opened and closed from several threads, a tokenizer per thread,
 * errors and the log callback per thread. Each scenario checks its results
 * against a single-threaded run. A plain program rather than a criterion
 * test because built with -DMMGEN_TSAN=ON it is the ThreadSanitizer job of
 * .ci/run, and criterion's fork arena cannot be mapped under TSan. Contexts
 * use one compute thread each: libgomp is not instrumented, and its
 * barriers would be reported as races. Exits 0 when every check holds. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/mmgen.h"

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

#define N_THREADS 4
#define N_NEW 24

/* A tiny model in `weights` (F32; a quantized type: rows of whole 32-weight
 * blocks, the token embedding quantized too). */
static mmg_model *tiny_model(int32_t weights) {
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    c.vocab_size = 64;
    c.d_model = weights == MMG_WEIGHTS_F32 ? 16 : 32;
    c.n_heads = 2;
    c.n_encoder_layers = 0;
    c.n_decoder_layers = 2;
    c.d_ff = weights == MMG_WEIGHTS_F32 ? 32 : 64;
    c.max_seq_len = 48;
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = 11;
    o.init_std = 0.3f;
    o.weights = weights;
    o.quantize_embedding = weights != MMG_WEIGHTS_F32;
    mmg_model *m = NULL;
    CHECK(mmg_model_create(&c, &o, &m) == MMG_OK, "%s", mmg_last_error());
    return m;
}

/* Generates N_NEW tokens from a fixed prompt with `seed` on a context of its own. */
static mmg_status generate(const mmg_model *m, uint64_t seed, int32_t *out) {
    mmg_context_options co;
    mmg_context_options_init(&co, sizeof co);
    co.n_threads = 1;
    co.check_finite = 1;
    mmg_context *ctx;
    mmg_status s = mmg_context_create(m, &co, &ctx);
    if (s) return s;
    mmg_sampling_options so;
    mmg_sampling_options_init(&so, sizeof so);
    so.temperature = 0.9f;
    so.seed = seed;
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.sampling = &so;
    go.max_new_tokens = N_NEW;
    const int32_t prompt[3] = {1, 2, 3};
    const int32_t *prompts[1] = {prompt};
    int32_t plen = 3, n = 0;
    s = mmg_generate(ctx, &go, 1, NULL, NULL, prompts, &plen, NULL, out, &n);
    mmg_context_free(ctx);
    return s;
}

typedef struct gen_job {
    const mmg_model *model;
    uint64_t seed;
    int32_t out[N_NEW];
    mmg_status status;
} gen_job;

static void *gen_thread(void *arg) {
    gen_job *j = arg;
    for (int round = 0; round < 3 && !j->status; round++) j->status = generate(j->model, j->seed, j->out);
    return NULL;
}

static void one_model_shared_by_generating_threads(int32_t weights) {
    mmg_model *m = tiny_model(weights);
    gen_job jobs[N_THREADS];
    int32_t expect[N_THREADS][N_NEW];
    for (int i = 0; i < N_THREADS; i++) {
        CHECK(generate(m, 100 + (uint64_t)i, expect[i]) == MMG_OK, "%s", mmg_last_error());
        jobs[i] = (gen_job){.model = m, .seed = 100 + (uint64_t)i};
    }
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) pthread_create(&th[i], NULL, gen_thread, &jobs[i]);
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N_THREADS; i++) {
        CHECK(jobs[i].status == MMG_OK, "thread %d: %s", i, mmg_status_name(jobs[i].status));
        CHECK(memcmp(jobs[i].out, expect[i], sizeof expect[i]) == 0,
              "thread %d generated other tokens than alone", i);
    }
    mmg_model_free(m);
}

static char text_plugin[512];
static const char *sample =
    "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer "
    "the slings and arrows of outrageous fortune, or to take arms against a sea of troubles.";

typedef struct tok_job {
    int index;
    int failures;
    char message[256];
} tok_job;

/* Opens the text plugin, makes and fits its own tokenizer, round-trips a
 * document, and closes everything; several rounds. */
static void *tok_thread(void *arg) {
    tok_job *j = arg;
    for (int round = 0; round < 4; round++) {
        mmg_plugin *p = NULL;
        mmg_tokenizer *t = NULL;
        int32_t *ids = NULL;
        uint8_t *back = NULL;
        size_t n_ids = 0, n_back = 0;
        char config[64];
        snprintf(config, sizeof config, "{\"vocab_size\": %d}", 270 + j->index);
        const uint8_t *docs[1] = {(const uint8_t *)sample};
        size_t sizes[1] = {strlen(sample)};
        mmg_status s = mmg_plugin_open(text_plugin, &p);
        if (!s) s = mmg_tokenizer_create(p, config, &t);
        if (!s) s = mmg_tokenizer_fit(t, docs, sizes, 1);
        if (!s) s = mmg_tokenizer_encode(t, docs[0], sizes[0], &ids, &n_ids);
        if (!s) s = mmg_tokenizer_decode(t, ids, n_ids, &back, &n_back);
        if (s) {
            j->failures++;
            snprintf(j->message, sizeof j->message, "%s", mmg_last_error());
        } else if (n_back != sizes[0] || memcmp(back, sample, n_back) != 0) {
            j->failures++;
            snprintf(j->message, sizeof j->message, "round trip changed the text");
        }
        mmg_free(ids);
        mmg_free(back);
        mmg_tokenizer_free(t);
        mmg_plugin_close(p);
    }
    return NULL;
}

static void plugins_and_tokenizers_on_several_threads(void) {
    snprintf(text_plugin, sizeof text_plugin, "%s/mmgen-text.so", MMGEN_TEST_PLUGIN_DIR);
    tok_job jobs[N_THREADS];
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (tok_job){.index = i};
        pthread_create(&th[i], NULL, tok_thread, &jobs[i]);
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N_THREADS; i++)
        CHECK(jobs[i].failures == 0, "thread %d: %s", i, jobs[i].message);
}

/* Each thread fails in its own way and must read its own message, while the
 * others fail at the same time; the log callback sees every error. */
static atomic_int logged_errors;
static void count_log(mmg_log_level level, const char *message, void *user_data) {
    (void)user_data;
    if (level == MMG_LOG_DEBUG && message[0]) atomic_fetch_add(&logged_errors, 1);
}

typedef struct err_job {
    int index;
    int wrong;
} err_job;

static void *err_thread(void *arg) {
    err_job *j = arg;
    char name[64], want[80];
    snprintf(name, sizeof name, "no-such-model-%d.safetensors", j->index);
    snprintf(want, sizeof want, "no-such-model-%d", j->index);
    for (int round = 0; round < 50; round++) {
        mmg_model *m = NULL;
        mmg_model_config c;
        mmg_model_config_init(&c, sizeof c);
        char json[64];
        snprintf(json, sizeof json, "{\"d_model\": %d, \"nope\": 1}", j->index);
        if (mmg_model_load(name, NULL, &m) != MMG_ERR_IO || !strstr(mmg_last_error(), want)) j->wrong++;
        if (mmg_model_config_from_json(json, strlen(json), &c) != MMG_ERR_CONFIG ||
            !strstr(mmg_last_error(), "nope"))
            j->wrong++;
    }
    return NULL;
}

static void errors_and_log_callback_per_thread(void) {
    atomic_store(&logged_errors, 0);
    mmg_set_log_callback(count_log, MMG_LOG_DEBUG, NULL);
    err_job jobs[N_THREADS];
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (err_job){.index = i};
        pthread_create(&th[i], NULL, err_thread, &jobs[i]);
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    mmg_set_log_callback(NULL, MMG_LOG_ERROR, NULL);
    for (int i = 0; i < N_THREADS; i++) CHECK(jobs[i].wrong == 0, "thread %d read another's error", i);
    CHECK(atomic_load(&logged_errors) >= N_THREADS * 50 * 2, "%d errors logged",
          atomic_load(&logged_errors));
}

/* A deliberate data race, run only when MMGEN_THREADS_CHECK_RACE is set:
 * .ci/run uses it to show that its ThreadSanitizer job does catch races. */
static int racy_counter;
static void *race_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) racy_counter++;
    return NULL;
}

int main(void) {
    if (getenv("MMGEN_THREADS_CHECK_RACE")) {
        pthread_t a, b;
        pthread_create(&a, NULL, race_thread, NULL);
        pthread_create(&b, NULL, race_thread, NULL);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        printf("raced: %d\n", racy_counter);
        return 0;
    }
    one_model_shared_by_generating_threads(MMG_WEIGHTS_F32);
    /* quantized: the prompt goes through the several-rows kernel */
    one_model_shared_by_generating_threads(MMG_WEIGHTS_Q4_0);
    plugins_and_tokenizers_on_several_threads();
    errors_and_log_callback_per_thread();
    printf("ok: %d threads: one shared model generating (F32, Q4_0), plugins and tokenizers, errors and logs\n",
           N_THREADS);
    return 0;
}
