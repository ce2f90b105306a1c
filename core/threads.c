/* core/threads.c - thread counts for contexts and the OpenBLAS setup. */
#include "threads.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* Declared by OpenBLAS's cblas.h; repeated here so this file needs only the
 * symbol, not that header. */
void openblas_set_num_threads(int num_threads);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_single_thread(void) { openblas_set_num_threads(1); }

void mmg__threads_init(void) { pthread_once(&blas_once, blas_single_thread); }

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
