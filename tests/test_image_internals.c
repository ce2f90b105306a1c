/* tests/test_image_internals.c - the image plugin's parts, compiled in
 * with the vq library it links (tests/image.cmake) and called directly with
 * a test host table: nearest search against brute force and k-means
 * determinism and re-seeding on patch-like data, resize against PyTorch and
 * exact area averages, allocation limits on hostile headers, and every
 * allocation failing in turn. vq alone is tested in test_vq.c. */
#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

const mmg_plugin_descriptor *mmg_plugin_entry_v1(void);

/* ---- a host that counts: live allocations, the largest one, and can fail
 * the n-th allocation ------------------------------------------------------ */
static long live, fail_at, counter;
static size_t largest;
static char last_error[1024];
static int last_status;

typedef struct hdr { size_t size; size_t pad; } hdr;
static void *h_alloc(size_t size) {
    long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    if (fail_at && n >= fail_at) return NULL;
    hdr *h = malloc(sizeof(hdr) + (size ? size : 1));
    if (!h) return NULL;
    h->size = size;
    __atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
    if (size > largest) largest = size;
    return h + 1;
}
static void h_free(void *p) {
    if (!p) return;
    __atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
    free((hdr *)p - 1);
}
static void *h_realloc(void *p, size_t size) {
    if (!p) return h_alloc(size);
    long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    if (fail_at && n >= fail_at) return NULL;
    hdr *h = realloc((hdr *)p - 1, sizeof(hdr) + (size ? size : 1));
    if (!h) return NULL;
    h->size = size;
    if (size > largest) largest = size;
    return h + 1;
}
static void h_log(int level, const char *fmt, ...) { (void)level; (void)fmt; }
static int h_error(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    last_status = status;
    return status;
}
static const mmg_host_services host = {sizeof host, MMG_PLUGIN_ABI_VERSION, h_alloc, h_realloc,
                                       h_free, h_log, h_error};

static void setup(void) {
    cr_assert_eq(mmg_plugin_entry_v1()->init(&host), 0);
    live = fail_at = counter = 0;
    largest = 0;
}

static uint8_t *read_fixture(const char *name, size_t *size) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", MMGEN_IMAGE_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*size);
    cr_assert_eq(fread(b, 1, *size, f), *size);
    fclose(f);
    return b;
}

/* Patch-like vectors: a strong shared brightness direction, a few weaker
 * ones and noise, like natural image patches. x (n, dim). */
static float *patchlike(size_t n, int dim, uint64_t seed) {
    float *x = malloc(sizeof(float) * n * dim);
    for (size_t i = 0; i < n; i++) {
        double b = vq_rng_unit(&seed) * 255, gx = vq_rng_unit(&seed) - 0.5,
               gy = vq_rng_unit(&seed) - 0.5;
        for (int j = 0; j < dim; j++) {
            double v = b + 60 * gx * ((j % 4) - 1.5) + 60 * gy * ((j / 4 % 4) - 1.5) +
                       8 * (vq_rng_unit(&seed) - 0.5);
            x[i * dim + j] = (float)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    return x;
}

static double exact_dist(const float *a, const float *b, int dim) {
    double s = 0;
    for (int j = 0; j < dim; j++) s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return s;
}

Test(image_internals, pruned_search_finds_the_brute_force_nearest, .init = setup) {
    const int dim = 48;
    const size_t n = 6000;
    float *train = patchlike(n, dim, 1), *x = patchlike(n, dim, 2);
    vq_codebook cb;
    cr_assert_eq(vq_kmeans_fit(train, n, dim, 256, 4, 7, 2, &cb), MMG_OK, "%s", last_error);
    cr_assert_gt(cb.pdim, 0, "the search projection is in use");
    int32_t *a = malloc(sizeof(int32_t) * n), *b = malloc(sizeof(int32_t) * n),
            *c = malloc(sizeof(int32_t) * n);
    cr_assert_eq(vq_codebook_nearest(&cb, x, n, a, NULL), MMG_OK);
    cr_assert_eq(vq_codebook_nearest_brute(&cb, x, n, b, NULL), MMG_OK);
    setenv("MMGEN_VQ_NO_AVX2", "1", 1); /* the portable path too */
    cr_assert_eq(vq_codebook_nearest(&cb, x, n, c, NULL), MMG_OK);
    unsetenv("MMGEN_VQ_NO_AVX2");
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        /* exact up to float rounding: never farther than brute force's pick */
        double da = exact_dist(x + i * dim, cb.c + (size_t)a[i] * dim, dim),
               db = exact_dist(x + i * dim, cb.c + (size_t)b[i] * dim, dim);
        cr_assert_leq(da, db * (1 + 1e-5) + 1e-2, "patch %zu: pruned %d (%g) vs brute %d (%g)", i,
                      a[i], da, b[i], db);
        cr_assert_eq(a[i], c[i], "patch %zu: AVX2 and portable paths disagree", i);
        same += a[i] == b[i];
    }
    cr_assert_geq(same, n - n / 1000, "only %zu of %zu identical", same, n);
    vq_codebook_free(&cb);
    free(train);
    free(x);
    free(a);
    free(b);
    free(c);
    cr_assert_eq(live, 0, "%ld allocations leaked", live);
}

Test(image_internals, kmeans_is_deterministic_whatever_the_thread_count, .init = setup) {
    const int dim = 16;
    const size_t n = 20000;
    float *x = patchlike(n, dim, 3);
    vq_codebook a, b, c;
    openblas_set_num_threads(1);
    cr_assert_eq(vq_kmeans_fit(x, n, dim, 128, 6, 42, 1, &a), MMG_OK);
    openblas_set_num_threads(2);
    cr_assert_eq(vq_kmeans_fit(x, n, dim, 128, 6, 42, 4, &b), MMG_OK);
    cr_assert_eq(memcmp(a.c, b.c, sizeof(float) * 128 * dim), 0,
                 "1 thread and 4 threads learned different codebooks");
    cr_assert_eq(vq_kmeans_fit(x, n, dim, 128, 6, 43, 2, &c), MMG_OK);
    cr_assert_neq(memcmp(a.c, c.c, sizeof(float) * 128 * dim), 0, "the seed changes nothing");
    vq_codebook_free(&a);
    vq_codebook_free(&b);
    vq_codebook_free(&c);
    free(x);
}

Test(image_internals, an_empty_cluster_is_reseeded_at_the_worst_served_point, .init = setup) {
    /* three tight blobs; the start puts two centers on blob A and one far
     * from everything, so blob C is served badly and one center gets no
     * point: it must move onto blob C */
    const int dim = 2;
    const size_t n = 300;
    float *x = malloc(sizeof(float) * n * dim);
    uint64_t s = 5;
    const float blob[3][2] = {{10, 10}, {100, 10}, {55, 200}};
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) x[i * dim + j] = blob[i % 3][j] + (float)vq_rng_unit(&s);
    vq_codebook cb = {0};
    cb.k = 3;
    cb.dim = dim;
    cb.threads = 1;
    cb.c = h_alloc(sizeof(float) * 6);
    const float start[6] = {10, 10, 10.5f, 10.5f, 1000, 1000};
    memcpy(cb.c, start, sizeof start);
    cr_assert_eq(vq_kmeans_lloyd(x, n, 10, &cb), MMG_OK);
    int found[3] = {0, 0, 0};
    for (int c = 0; c < 3; c++)
        for (int b = 0; b < 3; b++)
            if (fabsf(cb.c[c * 2] - blob[b][0] - 0.5f) < 1 && fabsf(cb.c[c * 2 + 1] - blob[b][1] - 0.5f) < 1)
                found[b]++;
    cr_assert(found[0] == 1 && found[1] == 1 && found[2] == 1,
              "centers (%g,%g) (%g,%g) (%g,%g) do not sit one on each blob", cb.c[0], cb.c[1],
              cb.c[2], cb.c[3], cb.c[4], cb.c[5]);
    vq_codebook_free(&cb);
    free(x);
}

Test(image_internals, fewer_points_than_clusters_still_fits, .init = setup) {
    float x[5 * 3];
    for (int i = 0; i < 15; i++) x[i] = (float)(i * 7 % 11);
    vq_codebook cb;
    cr_assert_eq(vq_kmeans_fit(x, 5, 3, 8, 5, 1, 1, &cb), MMG_OK);
    for (int i = 0; i < 8 * 3; i++) cr_assert(isfinite(cb.c[i]));
    vq_codebook_free(&cb);
}

/* ---- resize ---------------------------------------------------------------- */

Test(image_internals, resize_matches_pytorch_bilinear_and_exact_area_averages, .init = setup) {
    size_t size;
    uint8_t *g = read_fixture("resize_golden.bin", &size);
    cr_assert_eq(size, 105 + 612 + 612 + 105);
    img_image src = {7, 5, 3, g}, out;
    cr_assert_eq(img_resize(&src, 17, 12, &out), MMG_OK);
    for (int i = 0; i < 612; i++)
        cr_assert(abs((int)out.pixels[i] - g[105 + i]) <= 1, "bilinear %d: %d vs torch %d", i,
                  out.pixels[i], g[105 + i]);
    int exact = 0;
    for (int i = 0; i < 612; i++) exact += out.pixels[i] == g[105 + i];
    cr_assert_geq(exact, 600, "only %d of 612 identical (float vs double rounding allowed)", exact);
    img_image_free(&out);
    img_image big = {17, 12, 3, g + 717};
    cr_assert_eq(img_resize(&big, 7, 5, &out), MMG_OK);
    for (int i = 0; i < 105; i++)
        cr_assert(abs((int)out.pixels[i] - g[1329 + i]) <= 1, "area %d: %d vs exact %d", i,
                  out.pixels[i], g[1329 + i]);
    img_image_free(&out);
    free(g);
}

Test(image_internals, resize_keeps_constants_and_averages_integer_blocks, .init = setup) {
    uint8_t px[24 * 18 * 4];
    for (int i = 0; i < 24 * 18 * 4; i++) px[i] = (uint8_t)(i % 4 == 3 ? 255 : 77 + i % 4);
    img_image im = {24, 18, 4, px}, out;
    const int sizes[][2] = {{7, 5}, {24, 18}, {50, 37}, {3, 40}, {1, 1}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        cr_assert_eq(img_resize(&im, sizes[s][0], sizes[s][1], &out), MMG_OK);
        for (int i = 0; i < sizes[s][0] * sizes[s][1] * 4; i++)
            cr_assert_eq(out.pixels[i], px[i % 4], "size %dx%d", sizes[s][0], sizes[s][1]);
        img_image_free(&out);
    }
    uint64_t seed = 9;
    for (int i = 0; i < 24 * 18 * 4; i++) px[i] = (uint8_t)vq_rng_below(&seed, 256);
    cr_assert_eq(img_resize(&im, 8, 6, &out), MMG_OK); /* 3x3 blocks */
    int exact = 0;
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 8; x++)
            for (int c = 0; c < 4; c++) {
                int sum = 0;
                for (int dy = 0; dy < 3; dy++)
                    for (int dx = 0; dx < 3; dx++) sum += px[((y * 3 + dy) * 24 + x * 3 + dx) * 4 + c];
                int want = (int)floor(sum / 9.0 + 0.5), got = out.pixels[(y * 8 + x) * 4 + c];
                /* float weights of 1/3 may round a .5 the other way */
                cr_assert(abs(got - want) <= 1, "(%d,%d,%d): %d vs block mean %d", x, y, c, got, want);
                exact += got == want;
            }
    cr_assert_geq(exact, 8 * 6 * 4 * 95 / 100, "only %d of 192 exact", exact);
    img_image_free(&out);
}

/* ---- hostile input ----------------------------------------------------------- */

Test(image_internals, a_huge_header_allocates_nothing_large, .init = setup) {
    size_t size;
    uint8_t *png = read_fixture("rgb8.png", &size);
    /* IHDR 60000 x 60000 (3.6 Gpixel) with a valid CRC */
    const uint32_t dims[2] = {60000, 60000};
    for (int i = 0; i < 2; i++) {
        png[16 + 4 * i] = (uint8_t)(dims[i] >> 24);
        png[17 + 4 * i] = (uint8_t)(dims[i] >> 16);
        png[18 + 4 * i] = (uint8_t)(dims[i] >> 8);
        png[19 + 4 * i] = (uint8_t)dims[i];
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (int i = 12; i < 29; i++) {
        crc ^= png[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    crc ^= 0xFFFFFFFFu;
    png[29] = (uint8_t)(crc >> 24);
    png[30] = (uint8_t)(crc >> 16);
    png[31] = (uint8_t)(crc >> 8);
    png[32] = (uint8_t)crc;
    img_image im;
    int rc = img_png_read(png, size, 3, 64u << 20, &im);
    cr_assert_eq(rc, MMG_ERR_LIMIT, "status %d: %s", rc, last_error);
    cr_assert(strstr(last_error, "60000x60000"), "%s", last_error);
    cr_assert_lt(largest, 1u << 20, "an allocation of %zu bytes", largest);
    cr_assert_eq(live, 0);
    free(png);
}

Test(image_internals, every_allocation_failure_is_reported_and_leaks_nothing, .init = setup) {
    size_t size;
    uint8_t *png = read_fixture("rgba8_i.png", &size);
    const mmg_plugin_descriptor *d = mmg_plugin_entry_v1();
    const char *cfg = "{\"channels\":\"rgba\",\"patch_size\":2,\"codebook_size\":8,\"stages\":2,"
                      "\"kmeans_iterations\":3,\"threads\":2}";
    int succeeded = 0;
    for (long n = 1; n < 100000 && !succeeded; n++) {
        live = counter = 0;
        fail_at = n;
        void *inst = NULL;
        int32_t *ids = NULL;
        uint8_t *out = NULL, *state = NULL;
        size_t count = 0, out_size = 0, state_size = 0;
        mmg_plugin_document doc = {png, size};
        int rc = d->create(cfg, strlen(cfg), &inst);
        if (rc == MMG_OK) rc = d->fit(inst, &doc, 1);
        if (rc == MMG_OK) rc = d->encode(inst, png, size, &ids, &count);
        if (rc == MMG_OK) rc = d->decode(inst, ids, count, &out, &out_size);
        if (rc == MMG_OK) rc = d->save_state(inst, &state, &state_size);
        if (rc == MMG_OK) rc = d->load_state(inst, state, state_size);
        cr_assert(rc == MMG_OK || rc == MMG_ERR_NOMEM, "failing allocation %ld: status %d (%s)", n,
                  rc, last_error);
        succeeded = rc == MMG_OK;
        h_free(ids);
        h_free(out);
        h_free(state);
        d->destroy(inst);
        cr_assert_eq(live, 0, "failing allocation %ld leaked %ld blocks", n, live);
    }
    cr_assert(succeeded);
    fail_at = 0;
    free(png);
}
