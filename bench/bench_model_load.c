/* bench/bench_model_load.c - peak memory and time of loading a model file.
 *
 *   bench_model_load make PATH [f32|f16|bf16]
 *       writes a GPT-2-small-sized model (124M parameters: vocab 50257,
 *       d_model 768, 12 layers, 12 heads, d_ff 3072, context 1024, learned
 *       positions, seed 1) to PATH in that dtype.
 *   bench_model_load load PATH [ROUNDS]
 *       loads PATH in child processes, alternating two ways, ROUNDS times
 *       (default 2), and prints one JSON line per load:
 *         "mmap_copy": the pre-1.0 loader, kept here as the reference: the
 *             file mapped, every tensor copied (converted) out of the
 *             mapping, the mapping unmapped at the end;
 *         "mmg_model_load": the library's loader.
 *       Each child reads its resident set (VmRSS) before loading and its
 *       peak (VmHWM) after; "peak_extra_mib" is the difference, i.e. what
 *       loading added at its worst moment (compare with "params_mib", the
 *       parameters' own size). Sizes in MiB.
 *       The file is read once first so that both ways find it in the page
 *       cache (page-cache pages count in RSS only while mapped).
 * Run it through bench/run_model_load.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memory.h"
#include "mmgen/model.h"
#include "mmgen/status.h"
#include "model-impl.h"
#include "safetensors.h"
#include "config.h"

#include "bench_common.h"

/* A line of /proc/self/status in kB ("VmRSS", "VmHWM"). */
static long status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    if (f) fclose(f);
    return kb;
}

static void die(const char *what) {
    fprintf(stderr, "bench_model_load: %s: %s\n", what, mmg_last_error());
    exit(1);
}

static void gpt2_small(mmg_model_config *c) {
    mmg_model_config_init(c, sizeof *c);
    c->vocab_size = 50257;
    c->d_model = 768;
    c->n_heads = 12;
    c->n_encoder_layers = 0;
    c->n_decoder_layers = 12;
    c->d_ff = 3072;
    c->max_seq_len = 1024;
    c->norm_placement = MMG_NORM_PRE;
    c->activation = MMG_ACT_GELU_TANH;
    c->position_encoding = MMG_POS_LEARNED;
}

static int make(const char *path, const char *dtype) {
    mmg_model_config c;
    gpt2_small(&c);
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.seed = 1;
    mmg_model *m;
    if (mmg_model_create(&c, &o, &m)) die("create");
    if (strcmp(dtype, "f32") == 0) {
        if (mmg_model_save(m, path)) die("save");
    } else {
        /* Half-precision files as an exporter would write them. */
        int bf = strcmp(dtype, "bf16") == 0;
        uint16_t *half = malloc(m->n_params * sizeof *half);
        char *json;
        mmg__st_writer *w;
        if (!half || mmg__config_to_json(&m->cfg, &json) || mmg__st_writer_create(&w)) die("f16");
        for (size_t i = 0; i < m->n_params; i++)
            half[i] = bf ? mmg__f32_to_bf16(m->params[i]) : mmg__f32_to_f16(m->params[i]);
        mmg__st_writer_metadata(w, MMG__FORMAT_KEY, MMG__FORMAT_VALUE);
        mmg__st_writer_metadata(w, MMG__CONFIG_KEY, json);
        for (int i = 0; i < m->n_tensors; i++) {
            const mmg__param *p = &m->tensors[i];
            if (mmg__st_writer_add(w, p->name, bf ? MMG__DT_BF16 : MMG__DT_F16, p->ndim, p->shape,
                                   half + p->offset, p->numel * 2))
                die("add");
        }
        if (mmg__st_writer_write(w, path)) die("write");
        mmg__st_writer_free(w);
        mmg__free(json);
        free(half);
    }
    printf("{\"made\": \"%s\", \"dtype\": \"%s\", \"n_params\": %llu}\n", path, dtype,
           (unsigned long long)mmg_model_n_params(m));
    mmg_model_free(m);
    return 0;
}

/* The loader as it was before pread: copy out of the mapping. */
static mmg_status mmap_copy(const char *path, mmg_model **out) {
    mmg__st_file *f;
    mmg_status s = mmg__st_open(path, &f);
    if (s) return s;
    const char *json = mmg__st_metadata(f, MMG__CONFIG_KEY);
    mmg_model_config cfg;
    s = json ? mmg__config_from_json(json, strlen(json), path, &cfg) : MMG_ERR_FORMAT;
    mmg_model *m = NULL;
    if (!s) s = mmg__model_alloc(&cfg, 0, &m);
    for (int i = 0; !s && i < m->n_tensors; i++) {
        const mmg__param *p = &m->tensors[i];
        const mmg__st_tensor *t;
        s = mmg__st_expect(f, p->name, p->ndim, p->shape, &t);
        if (!s) s = mmg__st_read_f32(t, p->data, p->numel);
    }
    mmg__st_close(f);
    if (s) {
        mmg__model_free_memory(m);
        return s;
    }
    *out = m;
    return MMG_OK;
}

static void load_child(const char *path, int way) {
    long before = status_kb("VmRSS");
    double t0 = bench_now();
    mmg_model *m = NULL;
    mmg_status s = way == 0 ? mmap_copy(path, &m) : mmg_model_load(path, NULL, &m);
    double t = bench_now() - t0;
    if (s) die("load");
    long hwm = status_kb("VmHWM");
    double params_mib = (double)m->n_params * 4 / 1048576.0;
    printf("{\"way\": \"%s\", \"file\": \"%s\", \"params_mib\": %.1f, \"rss_before_mib\": %.1f, "
           "\"peak_mib\": %.1f, \"peak_extra_mib\": %.1f, \"seconds\": %.3f}\n",
           way == 0 ? "mmap_copy" : "mmg_model_load", path, params_mib, before / 1024.0,
           hwm / 1024.0, (hwm - before) / 1024.0, t);
    fflush(stdout);
    mmg_model_free(m);
}

static int load(const char *path, int rounds) {
    /* Warm the page cache so both ways read from memory. */
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    static char buf[1 << 20];
    while (fread(buf, 1, sizeof buf, f) > 0) {
    }
    fclose(f);
    for (int r = 0; r < rounds; r++)
        for (int way = 0; way < 2; way++) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                load_child(path, way);
                _exit(0);
            }
            int st;
            waitpid(pid, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st)) return 1;
        }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "make") == 0) return make(argv[2], argc > 3 ? argv[3] : "f32");
    if (argc >= 3 && strcmp(argv[1], "load") == 0) return load(argv[2], argc > 3 ? atoi(argv[3]) : 2);
    fprintf(stderr, "usage: bench_model_load make PATH [f32|f16|bf16] | load PATH [ROUNDS]\n");
    return 2;
}
