/* tests/test_vq.c - the shared vector-quantization library (plugins/vq),
 * linked in (tests/vq.cmake) and called with a test host table: k-means on
 * a tiny set with a known optimum, the pruned search against brute force on
 * random data (AVX2 and portable paths, any thread count), ties, the thread
 * and rng helpers, argument errors, and every allocation failing in turn.
 * The same functions on image-like data are tested in
 * test_image_internals.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vq.h"

/* ---- a host that counts live allocations and can fail the n-th ---------- */
static long live, fail_at, counter;
static char last_error[1024];

static void *h_alloc(size_t size) {
    long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    if (fail_at && n >= fail_at) return NULL;
    void *p = malloc(size ? size : 1);
    if (p) __atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
    return p;
}
static void h_free(void *p) {
    if (!p) return;
    __atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
    free(p);
}
static void *h_realloc(void *p, size_t size) {
    if (!p) return h_alloc(size);
    long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    if (fail_at && n >= fail_at) return NULL;
    return realloc(p, size ? size : 1);
}
static void h_log(int level, const char *fmt, ...) { (void)level; (void)fmt; }
static int h_error(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
static const mmg_host_services host = {sizeof host, MMG_PLUGIN_ABI_VERSION, h_alloc, h_realloc,
                                       h_free, h_log, h_error};

static void setup(void) {
    vq_host = &host; /* what a plugin's init() does */
    live = fail_at = counter = 0;
    last_error[0] = 0;
}

static int is_zeroed(const vq_codebook *cb) {
    static const vq_codebook zero;
    return memcmp(cb, &zero, sizeof zero) == 0;
}

/* Uniform random vectors in [0, 1): no structure for the projection to
 * exploit, the pruned search's worst case. x (n, dim). */
static float *uniform(size_t n, int dim, uint64_t seed) {
    float *x = malloc(sizeof(float) * n * (size_t)dim);
    for (size_t i = 0; i < n * (size_t)dim; i++) x[i] = (float)vq_rng_unit(&seed);
    return x;
}

static double exact_dist(const float *a, const float *b, int dim) {
    double s = 0;
    for (int j = 0; j < dim; j++) s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return s;
}

/* ---- k-means -------------------------------------------------------------- */

/* Four clusters of four points around the corners of a square, each point
 * at squared distance 5 from its corner and the corner their exact mean:
 * the optimum is the four corners, at a total squared error of 80. */
static const float corners[4][2] = {{0, 0}, {100, 0}, {0, 100}, {100, 100}};
static const float offsets[4][2] = {{1, 2}, {-1, -2}, {2, -1}, {-2, 1}};

Test(vq, kmeans_finds_the_known_optimum_of_a_tiny_set, .init = setup) {
    float x[16 * 2];
    for (int i = 0; i < 16; i++) /* clusters interleaved, not in blocks */
        for (int j = 0; j < 2; j++) x[i * 2 + j] = corners[i % 4][j] + offsets[i / 4][j];
    for (uint64_t seed = 1; seed <= 8; seed++) {
        vq_codebook cb;
        cr_assert_eq(vq_kmeans_fit(x, 16, 2, 4, 20, seed, 1, &cb), MMG_OK, "%s", last_error);
        cr_assert(cb.k == 4 && cb.dim == 2 && cb.threads == 1);
        int found[4] = {0, 0, 0, 0};
        for (int c = 0; c < 4; c++)
            for (int q = 0; q < 4; q++)
                found[q] += cb.c[c * 2] == corners[q][0] && cb.c[c * 2 + 1] == corners[q][1];
        cr_assert(found[0] == 1 && found[1] == 1 && found[2] == 1 && found[3] == 1,
                  "seed %llu: centers (%g,%g) (%g,%g) (%g,%g) (%g,%g) are not the corners",
                  (unsigned long long)seed, cb.c[0], cb.c[1], cb.c[2], cb.c[3], cb.c[4], cb.c[5],
                  cb.c[6], cb.c[7]);
        int32_t idx[16];
        float dist[16];
        cr_assert_eq(vq_codebook_nearest(&cb, x, 16, idx, dist), MMG_OK);
        double sse = 0;
        for (int i = 0; i < 16; i++) {
            const float *c = cb.c + idx[i] * 2;
            cr_assert(c[0] == corners[i % 4][0] && c[1] == corners[i % 4][1],
                      "point %d went to (%g,%g)", i, c[0], c[1]);
            sse += dist[i];
        }
        cr_assert_float_eq(sse, 80.0, 0.05);
        vq_codebook_free(&cb);
        cr_assert(is_zeroed(&cb));
    }
    cr_assert_eq(live, 0, "%ld allocations leaked", live);
}

Test(vq, kmeans_refuses_no_points_and_empty_shapes, .init = setup) {
    float x[4] = {1, 2, 3, 4};
    vq_codebook cb;
    memset(&cb, 0xAB, sizeof cb);
    cr_assert_eq(vq_kmeans_fit(x, 0, 2, 2, 5, 1, 1, &cb), MMG_ERR_CONFIG);
    cr_assert(strncmp(last_error, "vq: ", 4) == 0, "%s", last_error);
    cr_assert(is_zeroed(&cb), "a failed fit leaves the codebook zeroed");
    cr_assert_eq(vq_kmeans_fit(x, 2, 2, 0, 5, 1, 1, &cb), MMG_ERR_INVALID_ARG);
    cr_assert_eq(vq_kmeans_fit(x, 2, 0, 2, 5, 1, 1, &cb), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(last_error, "k >= 1"), "%s", last_error);
    cr_assert_eq(live, 0);
}

/* ---- search ---------------------------------------------------------------- */

Test(vq, pruned_search_matches_brute_force_on_random_data, .init = setup) {
    const int dim = 32, k = 256;
    const size_t n = 5000;
    float *x = uniform(n, dim, 11);
    vq_codebook cb = {0};
    cb.k = k;
    cb.dim = dim;
    cb.threads = 1;
    cb.c = vq_alloc_array((size_t)k, (size_t)dim, sizeof(float));
    cr_assert_not_null(cb.c);
    uint64_t s = 12;
    for (int i = 0; i < k * dim; i++) cb.c[i] = (float)vq_rng_unit(&s);
    cr_assert_eq(vq_codebook_prepare(&cb), MMG_OK, "%s", last_error);
    cr_assert_gt(cb.pdim, 0, "the search projection is in use");

    int32_t *a = malloc(sizeof(int32_t) * n), *b = malloc(sizeof(int32_t) * n),
            *c = malloc(sizeof(int32_t) * n), *d = malloc(sizeof(int32_t) * n);
    float *da = malloc(sizeof(float) * n);
    cr_assert_eq(vq_codebook_nearest(&cb, x, n, a, da), MMG_OK);
    cr_assert_eq(vq_codebook_nearest_brute(&cb, x, n, b, NULL), MMG_OK);
    cr_assert_eq(vq_codebook_search(&cb, x, n, c, NULL, 4), MMG_OK);
    setenv("MMGEN_VQ_NO_AVX2", "1", 1); /* the portable path too */
    cr_assert_eq(vq_codebook_nearest(&cb, x, n, d, NULL), MMG_OK);
    unsetenv("MMGEN_VQ_NO_AVX2");
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * dim;
        double ea = exact_dist(xi, cb.c + (size_t)a[i] * dim, dim),
               eb = exact_dist(xi, cb.c + (size_t)b[i] * dim, dim);
        /* exact up to float rounding: never farther than brute force's pick */
        cr_assert_leq(ea, eb * (1 + 1e-5) + 1e-5, "vector %zu: pruned %d (%g) vs brute %d (%g)", i,
                      a[i], ea, b[i], eb);
        cr_assert_float_eq(da[i], ea, 1e-4 * (ea + 1), "vector %zu: dist %g, exact %g", i, da[i], ea);
        cr_assert_eq(a[i], c[i], "vector %zu: 1 and 4 threads disagree", i);
        cr_assert_eq(a[i], d[i], "vector %zu: AVX2 and portable paths disagree", i);
        same += a[i] == b[i];
    }
    cr_assert_geq(same, n - n / 1000, "only %zu of %zu identical", same, n);
    vq_codebook_free(&cb);
    free(x);
    free(a);
    free(b);
    free(c);
    free(d);
    free(da);
    cr_assert_eq(live, 0, "%ld allocations leaked", live);
}

Test(vq, equal_vectors_tie_to_the_lowest_index, .init = setup) {
    /* the second half of the codebook repeats the first: a query equal to
     * a vector of the second half must get its twin in the first */
    const int dim = 16, k = 128;
    vq_codebook cb = {0};
    cb.k = k;
    cb.dim = dim;
    cb.threads = 2;
    cb.c = vq_alloc_array((size_t)k, (size_t)dim, sizeof(float));
    uint64_t s = 3;
    for (int i = 0; i < k / 2 * dim; i++) cb.c[i] = (float)(100 * vq_rng_unit(&s));
    memcpy(cb.c + k / 2 * dim, cb.c, sizeof(float) * (size_t)(k / 2) * dim);
    cr_assert_eq(vq_codebook_prepare(&cb), MMG_OK);
    cr_assert_gt(cb.pdim, 0);
    int32_t idx[64];
    float dist[64];
    for (int pass = 0; pass < 2; pass++) {
        if (pass) setenv("MMGEN_VQ_NO_AVX2", "1", 1);
        cr_assert_eq(vq_codebook_nearest(&cb, cb.c + k / 2 * dim, 64, idx, dist), MMG_OK);
        for (int i = 0; i < 64; i++) {
            cr_assert_eq(idx[i], i, "pass %d: query %d got %d", pass, k / 2 + i, idx[i]);
            cr_assert_eq(dist[i], 0.0f);
        }
    }
    unsetenv("MMGEN_VQ_NO_AVX2");
    vq_codebook_free(&cb);
    cr_assert_eq(live, 0);
}

/* ---- threads, rng, allocation ------------------------------------------------ */

typedef struct cover {
    int hits[1000];
    int32_t max_worker;
} cover;

static void mark(void *ctx, size_t begin, size_t end, int32_t worker) {
    cover *c = ctx;
    for (size_t i = begin; i < end; i++) __atomic_add_fetch(&c->hits[i], 1, __ATOMIC_RELAXED);
    int32_t m = __atomic_load_n(&c->max_worker, __ATOMIC_RELAXED);
    while (worker > m && !__atomic_compare_exchange_n(&c->max_worker, &m, worker, 0,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

Test(vq, parallel_for_runs_every_item_once, .init = setup) {
    static cover c;
    const struct { size_t n, min; int32_t threads, max_worker; } cases[] = {
        {1000, 10, 4, 3},   /* four workers */
        {1000, 400, 4, 1},  /* only two get 400 each */
        {1000, 1, 1, 0},    /* the calling thread alone */
        {7, 1, 64, 6},      /* no more workers than items */
    };
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        memset(&c, 0, sizeof c);
        vq_parallel_for(cases[t].n, cases[t].min, cases[t].threads, mark, &c);
        for (size_t i = 0; i < 1000; i++)
            cr_assert_eq(c.hits[i], i < cases[t].n, "case %zu: item %zu ran %d times", t, i, c.hits[i]);
        cr_assert_eq(c.max_worker, cases[t].max_worker, "case %zu", t);
    }
    memset(&c, 0, sizeof c);
    vq_parallel_for(0, 1, 4, mark, &c); /* nothing to do: fn never runs */
    for (size_t i = 0; i < 1000; i++) cr_assert_eq(c.hits[i], 0);
}

Test(vq, thread_count_takes_the_configured_value_up_to_64, .init = setup) {
    cr_assert_eq(vq_thread_count(3), 3);
    cr_assert_eq(vq_thread_count(1000), 64);
    int32_t n = vq_thread_count(0);
    cr_assert(n >= 1 && n <= 64, "%d", n);
}

Test(vq, rng_is_splitmix64, .init = setup) {
    uint64_t s = 0;
    cr_assert_eq(vq_rng_next(&s), 0xE220A8397B1DCDAFull); /* splitmix64's first output from 0 */
    for (int i = 0; i < 10000; i++) {
        double u = vq_rng_unit(&s);
        cr_assert(u >= 0 && u < 1);
        cr_assert_lt(vq_rng_below(&s, 7), 7u);
    }
}

Test(vq, alloc_array_refuses_overflow_without_allocating, .init = setup) {
    cr_assert_null(vq_alloc_array((size_t)-1 / 2, 3, 1));
    cr_assert_null(vq_alloc_array(1u << 20, 1u << 20, (size_t)1 << 40));
    cr_assert_eq(counter, 0, "the host was asked for memory");
    void *p = vq_alloc_array(3, 5, 7);
    cr_assert_not_null(p);
    h_free(p);
}

Test(vq, every_allocation_failure_is_reported_and_leaks_nothing, .init = setup) {
    const int dim = 16;
    const size_t n = 3000;
    float *x = uniform(n, dim, 21);
    int32_t *idx = malloc(sizeof(int32_t) * n);
    int succeeded = 0;
    for (long f = 1; f < 10000 && !succeeded; f++) {
        live = counter = 0;
        fail_at = f;
        vq_codebook cb;
        int rc = vq_kmeans_fit(x, n, dim, 64, 3, 5, 2, &cb);
        if (rc == MMG_OK) rc = vq_codebook_search(&cb, x, n, idx, NULL, 2);
        cr_assert(rc == MMG_OK || rc == MMG_ERR_NOMEM, "failing allocation %ld: status %d (%s)", f,
                  rc, last_error);
        if (rc != MMG_OK) cr_assert(strncmp(last_error, "vq: ", 4) == 0, "%s", last_error);
        succeeded = rc == MMG_OK;
        vq_codebook_free(&cb);
        cr_assert_eq(live, 0, "failing allocation %ld leaked %ld blocks", f, live);
    }
    cr_assert(succeeded);
    fail_at = 0;
    free(x);
    free(idx);
}
