/* plugins/vq/parallel.c - splitting a loop over threads, with nothing
 * left running afterwards.
 *
 * Threads are created for the call and joined before it returns. A plugin
 * can be unloaded (dlclose) as soon as its last tokenizer is gone; a thread
 * pool that outlives the call (OpenMP's, for one) would then run code that is
 * no longer mapped. Calls here are coarse (thousands of vectors), so the cost
 * of creating a thread is noise; and no thread spins between calls, which on
 * a busy 2-core machine matters more than the pool would save.
 *
 * Work is split into contiguous ranges, one per thread, so results never
 * depend on the number of threads as long as the tasks are independent. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "vq.h"

#define MAX_THREADS 64

int32_t vq_thread_count(int32_t configured) {
    if (configured > 0) return configured < MAX_THREADS ? configured : MAX_THREADS;
    cpu_set_t set;
    long n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    return n < MAX_THREADS ? (int32_t)n : MAX_THREADS;
}

typedef struct range_job {
    vq_range_fn fn;
    void *ctx;
    size_t begin, end;
    int32_t worker;
} range_job;

static void *run_range(void *arg) {
    range_job *j = (range_job *)arg;
    j->fn(j->ctx, j->begin, j->end, j->worker);
    return NULL;
}

void vq_parallel_for(size_t n, size_t min_per_thread, int32_t threads, vq_range_fn fn, void *ctx) {
    if (n == 0) return;
    if (min_per_thread == 0) min_per_thread = 1;
    size_t t = (size_t)(threads > 0 ? threads : 1);
    if (t > n / min_per_thread) t = n / min_per_thread;
    if (t < 1) t = 1;
    if (t > MAX_THREADS) t = MAX_THREADS;
    range_job jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (size_t i = 0; i < t; i++)
        jobs[i] = (range_job){fn, ctx, n * i / t, n * (i + 1) / t, (int32_t)i};
    /* workers 1..t-1 on new threads; a thread that cannot start runs here */
    for (size_t i = 1; i < t; i++) started[i] = pthread_create(&tid[i], NULL, run_range, &jobs[i]) == 0;
    run_range(&jobs[0]);
    for (size_t i = 1; i < t; i++) {
        if (started[i]) pthread_join(tid[i], NULL);
        else run_range(&jobs[i]);
    }
}
