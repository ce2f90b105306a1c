/* core/threads.h - how many threads mmgen computes with (private).
 *
 * mmgen parallelizes with OpenMP itself and runs OpenBLAS single-threaded
 * inside its own parallel loops (see ops.h), so the thread count of a
 * computation is the OpenMP thread count of the calling thread, which each
 * context sets from its own option. */
#ifndef MMGEN_CORE_THREADS_H
#define MMGEN_CORE_THREADS_H

/* Once per process: makes OpenBLAS single-threaded (mmgen's OpenMP loops call
 * it from several threads at once), and logs once when OpenBLAS runs AVX2
 * kernels on an AVX-512 CPU (threads.c says why). Cheap after the first
 * call. */
void mmg__threads_init(void);

/* Work (elements or multiply-adds) below which a loop runs on the calling
 * thread alone: starting a parallel region costs microseconds, more than a
 * small loop itself, and the result is the same either way. */
#define MMG__PAR_MIN 32768

/* The number of online cores (>= 1), read once. */
int mmg__threads_cores(void);

/* The default thread count: MMGEN_NUM_THREADS when it is a positive integer
 * (values above 1024 are clamped), else the number of online cores. */
int mmg__threads_default(void);

/* The count a context uses for a requested value (0 = default). */
int mmg__threads_resolve(int requested);

/* Sets the calling thread's OpenMP thread count (for the parallel regions it
 * starts next). */
void mmg__threads_use(int n);

#endif /* MMGEN_CORE_THREADS_H */
