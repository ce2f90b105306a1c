/* core/threads.c - thread counts for contexts and the OpenBLAS setup. */
#include "threads.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

/* Declared by OpenBLAS's cblas.h; repeated here so this file needs only the
 * symbols, not that header. */
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* OpenBLAS picks its kernels when it loads, by CPU model or by
 * $OPENBLAS_CORETYPE, before any of mmgen's code runs. On an AVX-512 CPU its
 * AVX2 kernels ("Haswell", "Zen") reach about half the sgemm rate of its
 * AVX-512 ones ("SkylakeX", "Cooperlake"): an environment that forces them,
 * or an OpenBLAS older than the CPU, costs prompts and training that much.
 * mmgen cannot change the choice, so it says so once.
 *
 * Nonzero when the CPU has AVX-512 (F, BW, DQ, VL, CD) but OpenBLAS loaded
 * kernels for an older core. */
static int blas_avx512_unused(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
          __builtin_cpu_supports("avx512cd")))
        return 0;
    const char *core = openblas_get_corename();
    if (!core) return 0;
    static const char *const avx512_cores[] = {"skylakex", "cooperlake", "sapphirerapids"};
    for (size_t i = 0; i < sizeof avx512_cores / sizeof *avx512_cores; i++)
        if (strcasecmp(core, avx512_cores[i]) == 0) return 0;
    return 1;
#else
    return 0;
#endif
}

static void blas_setup(void) {
    openblas_set_num_threads(1);
    if (blas_avx512_unused()) {
        /* a warning when OpenBLAS chose by itself; the environment's own
         * choice is only reported (MMGEN_LOG=info) */
        const char *forced = getenv("OPENBLAS_CORETYPE");
        mmg__log(forced ? MMG_LOG_INFO : MMG_LOG_WARN,
                 "OpenBLAS runs its %s kernels on this AVX-512 CPU%s%s%s; matrix products "
                 "(prompts, training) run about 1.5x faster with its AVX-512 ones "
                 "(OPENBLAS_CORETYPE=SkylakeX, or unset where OpenBLAS knows the CPU)",
                 openblas_get_corename(), forced ? " (OPENBLAS_CORETYPE=" : "",
                 forced ? forced : "", forced ? " is set)" : "");
    }
}

void mmg__threads_init(void) { pthread_once(&blas_once, blas_setup); }

static int n_cores;
static pthread_once_t cores_once = PTHREAD_ONCE_INIT;

static void read_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    n_cores = n > 0 ? (n > 1024 ? 1024 : (int)n) : 1;
}

int mmg__threads_cores(void) {
    pthread_once(&cores_once, read_cores);
    return n_cores;
}

int mmg__threads_default(void) {
    const char *env = getenv("MMGEN_NUM_THREADS");
    if (env && *env) {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        if (end && *end == '\0' && v > 0) return v > 1024 ? 1024 : (int)v;
    }
    return mmg__threads_cores();
}

int mmg__threads_resolve(int requested) {
    return requested > 0 ? (requested > 1024 ? 1024 : requested) : mmg__threads_default();
}

void mmg__threads_use(int n) {
    mmg__threads_init();
    omp_set_num_threads(n > 0 ? n : 1);
}
