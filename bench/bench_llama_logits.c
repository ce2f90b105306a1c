/* bench/bench_llama_logits.c - llama.cpp's side of the logits check in
 * bench/run_llama.sh: loads a GGUF model with libllama, decodes one sequence
 * of token ids in one batch and writes the logits of every position,
 * (n, vocab) float32, as `bench_llama logits` does for mmgen.
 *
 *   llama-logits MODEL.gguf 1,2,3 OUT.f32 [THREADS]
 *
 * The KV cache is kept in F32 (llama.cpp's default is F16) so that the only
 * roundings left are those of llama.cpp's kernels. run_llama.sh compiles
 * this file against the llama.cpp it builds (-DMMGEN_WITH_LLAMA); mmgen's
 * own build, which globs bench/bench_*.c, gets a stub that says so. */
#if defined(MMGEN_WITH_LLAMA)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.gguf 1,2,3 OUT.f32 [THREADS]\n", argv[0]);
        return 2;
    }
    llama_token ids[1024];
    int n = 0;
    for (const char *p = argv[2]; *p && n < 1024; p = *p == ',' ? p + 1 : p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            fprintf(stderr, "bad id list '%s'\n", argv[2]);
            return 2;
        }
        ids[n++] = (llama_token)v;
        p = end;
    }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "cannot load '%s'\n", argv[1]);
        return 1;
    }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)n;
    cp.n_batch = cp.n_ubatch = (uint32_t)n;
    cp.type_k = cp.type_v = GGML_TYPE_F32;
    cp.n_threads = cp.n_threads_batch = argc > 4 ? atoi(argv[4]) : 1;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "cannot create a context\n");
        return 1;
    }
    const int V = llama_vocab_n_tokens(llama_model_get_vocab(model));
    struct llama_batch batch = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; i++) {
        batch.token[i] = ids[i];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = n;
    if (llama_decode(ctx, batch) != 0) {
        fprintf(stderr, "llama_decode failed\n");
        return 1;
    }
    FILE *f = fopen(argv[3], "wb");
    for (int i = 0; f && i < n; i++) fwrite(llama_get_logits_ith(ctx, i), sizeof(float), (size_t)V, f);
    if (!f || fclose(f) != 0) {
        perror(argv[3]);
        return 1;
    }
    printf("%d positions, vocab %d\n", n, V);
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
#else
#include <stdio.h>

int main(void) {
    fprintf(stderr, "bench_llama_logits is built against llama.cpp by bench/run_llama.sh "
                    "(this copy, from mmgen's build, has no llama.cpp)\n");
    return 2;
}
#endif
