/* plugins/vq/vq.h - vector quantization shared by the plugins: learning a
 * codebook with k-means, finding each vector's nearest codebook entry, and
 * the thread and random-number helpers both need.
 *
 * It is a static library (plugins/vq/CMakeLists.txt: `mmgen_vq`) linked into
 * each plugin module that uses it, never a plugin itself, so every module
 * has its own copy and its own vq_host. Where things are: kmeans.c
 * (k-means++ seeding, Lloyd iterations), codebook.c (the search: brute force
 * by sgemm, and a pruned search on a PCA projection with an AVX2 kernel),
 * parallel.c (vq_parallel_for), host.c (vq_host, vq_alloc_array).
 *
 * Memory: everything vq allocates comes from vq_host->alloc and is released
 * with vq_host->free, so a codebook's vectors may be handed to the host.
 * Errors: a failing function returns an mmg_status (MMG_OK is 0) after
 * recording the message with vq_host->error; messages start with "vq:".
 * Threads: functions on different codebooks may run concurrently; a
 * prepared codebook may be searched from many threads at once; functions
 * that change a codebook (prepare, lloyd, free) need it to themselves. */
#ifndef MMGEN_PLUGIN_VQ_H
#define MMGEN_PLUGIN_VQ_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/plugin.h"

/* ---- host services ------------------------------------------------------ */

/* The host's services. The plugin's init() sets it before any vq_ call; it
 * stays valid until the plugin's deinit(). */
extern const mmg_host_services *vq_host;

/* a*b*c bytes from vq_host->alloc, checked for overflow: NULL on overflow or
 * when the allocation fails (no error is recorded). Free with
 * vq_host->free. [thread-safe] */
void *vq_alloc_array(size_t a, size_t b, size_t c);

/* ---- codebooks ---------------------------------------------------------- */

/* K vectors of `dim` floats and what nearest-neighbour search needs. The
 * caller owns the struct; its arrays come from vq_host->alloc and belong to
 * it (vq_codebook_free releases them). To build one by hand: zero it, set
 * k >= 1, dim >= 1, threads, c (from vq_host->alloc), then call
 * vq_codebook_prepare. The search fields are written by prepare only. */
typedef struct vq_codebook {
    int32_t k, dim;
    int32_t threads;   /* threads a search may use (vq_thread_count) */
    float *c;          /* (k, dim) the codebook vectors */
    float *norm2;      /* (k) ||c||^2 */
    int32_t pdim;      /* dims of the search projection, 0: brute force */
    float *basis;      /* (dim, pdim) orthonormal top principal directions */
    float *mean_proj;  /* (pdim) the codebook mean projected on basis */
    float *cproj;      /* (k, pdim) (c - mean) projected on basis */
    float *cprojT;     /* (k rounded up to 16, pdim) the same in blocks of 8
                        * vectors, each (pdim, 8), for the AVX2 kernel */
    float *cproj_norm2;/* (k rounded up to 16) ||cproj||^2, padding infinite */
} vq_codebook;

/* Frees every array and zeroes the struct; a zeroed struct frees nothing. */
void vq_codebook_free(vq_codebook *cb);
/* Recomputes norms and the search projection from c; call it after c
 * changed and before searching. Deterministic. Codebooks with dim < 12 or
 * k < 64 get no projection (pdim 0) and are searched by brute force, which
 * is as fast there. On failure (MMG_ERR_NOMEM) c is kept; prepare again
 * before searching. */
int vq_codebook_prepare(vq_codebook *cb);
/* For each of the n rows of x (n, dim): the index of the nearest vector in
 * idx (ties to the lowest index) and, if dist is not NULL, its squared
 * distance. Exact up to float rounding: a projection on the top principal
 * directions gives lower bounds that skip most vectors. Uses cb->threads
 * threads. The same answers whatever the thread count and CPU (AVX2 or
 * not; MMGEN_VQ_NO_AVX2 in the environment forces the portable kernel).
 * cb must be prepared. MMG_ERR_NOMEM if scratch memory runs out. */
int vq_codebook_nearest(const vq_codebook *cb, const float *x, size_t n, int32_t *idx,
                        float *dist);
/* The same on at most `threads` threads instead of cb->threads. */
int vq_codebook_search(const vq_codebook *cb, const float *x, size_t n, int32_t *idx,
                       float *dist, int32_t threads);
/* The same by brute force over all K vectors (distances ||x||^2 - 2 x·c +
 * ||c||^2 with x·c from cblas_sgemm): the reference the pruned search is
 * tested against. */
int vq_codebook_nearest_brute(const vq_codebook *cb, const float *x, size_t n, int32_t *idx,
                              float *dist);

/* ---- k-means (kmeans.c) -------------------------------------------------- */

/* Learns k vectors from x (n, dim), n >= 1, k >= 1, dim >= 1: k-means++
 * seeding from `seed`, then up to `iters` Lloyd iterations; empty clusters
 * are re-seeded at the points farthest from their centers. Deterministic for
 * a seed, whatever the thread count. *cb is overwritten (not freed first):
 * on success it holds k, dim, threads and c, and is prepared; on failure it
 * is zeroed. MMG_ERR_CONFIG when n is 0, MMG_ERR_INVALID_ARG when k or dim
 * is below 1, MMG_ERR_NOMEM. */
int vq_kmeans_fit(const float *x, size_t n, int32_t dim, int32_t k, int32_t iters, uint64_t seed,
                  int32_t threads, vq_codebook *cb);
/* Up to `iters` Lloyd iterations on x (n, dim) from the vectors already in
 * cb->c (k, dim and threads set; prepared or not); stops early once no
 * assignment changes. cb is prepared on success; on failure it keeps its
 * arrays for the caller to free. */
int vq_kmeans_lloyd(const float *x, size_t n, int32_t iters, vq_codebook *cb);

/* ---- threads (parallel.c) ------------------------------------------------ */

/* `configured` if > 0, else the CPUs this process may run on; at most 64.
 * [thread-safe] */
int32_t vq_thread_count(int32_t configured);
/* One thread's share of a loop: items [begin, end); worker is 0 for the
 * calling thread, 1.. for the others. */
typedef void (*vq_range_fn)(void *ctx, size_t begin, size_t end, int32_t worker);
/* Runs fn over [0, n) split into contiguous ranges, one per thread, at most
 * `threads` threads and at least min_per_thread items each; threads are
 * created for the call and joined before it returns (nothing outlives it,
 * so the module can be unloaded). A thread that cannot be created has its
 * range run on the calling thread. fn must not call vq_host->error (the
 * message is per thread): report failures through ctx. */
void vq_parallel_for(size_t n, size_t min_per_thread, int32_t threads, vq_range_fn fn, void *ctx);

/* ---- deterministic random numbers (splitmix64) -------------------------- */

/* The next 64 random bits of the stream in *s (any start value). */
static inline uint64_t vq_rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static inline double vq_rng_unit(uint64_t *s) { return (double)(vq_rng_next(s) >> 11) * 0x1.0p-53; }
/* Uniform in [0, n), n > 0. */
static inline uint64_t vq_rng_below(uint64_t *s, uint64_t n) {
    return (uint64_t)(vq_rng_unit(s) * (double)n) % n;
}

#endif /* MMGEN_PLUGIN_VQ_H */
