/* tests/test_safetensors.c - the safetensors reader and writer (core/safetensors.c).
 *
 * Conversions are checked against PyTorch (exhaustively for F16/BF16 -> F32),
 * the reader against an independently written file (fixtures/safetensors/
 * make_fixture.py), every malformed-header rule against its error message,
 * robustness by truncating and mutating valid files at every byte (run under
 * ASan), the writer's atomic replace by making each step fail, and every
 * allocation failure by fault injection. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memory.h"
#include "mmgen/mmgen.h"
#include "safetensors.h"

#define FIXTURE_DIR MMGEN_SOURCE_DIR "/tests/fixtures/safetensors"

/* Under ASan, LeakSanitizer's report at exit does not fail a criterion test
 * (the worker's exit status is ignored once the test passed), so tests that
 * care about leaks ask for a check themselves. */
#if defined(__SANITIZE_ADDRESS__)
#  define ST_HAVE_LSAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define ST_HAVE_LSAN 1
#  endif
#endif
#ifdef ST_HAVE_LSAN
#  include <sanitizer/lsan_interface.h>
#  define EXPECT_NO_LEAKS() \
      cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks (see stderr)")
#else
#  define EXPECT_NO_LEAKS() ((void)0)
#endif

/* ---- reference values from PyTorch ------------------------------------------ */
/* produced by tests/fixtures/safetensors/conversion_reference.py, torch 1.13.0a0 */
#define REF_F16_TO_F32_HASH 0xae330038d6a5aaa3ull
#define REF_BF16_TO_F32_HASH 0xb096ae8f9814b983ull
#define REF_LCG_N 200000
#define REF_F32_TO_F16_HASH 0x2d4eeb7d6dfaf812ull
#define REF_F32_TO_BF16_HASH 0xdf4b028967860e6eull
static const uint16_t ref_f16_in[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x0002, 0x01ff, 0x0200, 0x03ff, 0x0400, 0x3555, 0x3bff, 0x3c00, 0x3c01, 0x4000, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0xc000, 0x5640};
static const uint32_t ref_f16_out[] = {0x00000000, 0x80000000, 0x33800000, 0xb3800000, 0x34000000, 0x37ff8000, 0x38000000, 0x387fc000, 0x38800000, 0x3eaaa000, 0x3f7fe000, 0x3f800000, 0x3f802000, 0x40000000, 0x477fe000, 0x7f800000, 0xff800000, 0x7fc00000, 0xc0000000, 0x42c80000};
static const uint16_t ref_bf16_in[] = {0x0000, 0x8000, 0x0001, 0x007f, 0x0080, 0x3f80, 0x3f81, 0x7f7f, 0x7f80, 0xff80, 0x4049, 0xc2f7};
static const uint32_t ref_bf16_out[] = {0x00000000, 0x80000000, 0x00010000, 0x007f0000, 0x00800000, 0x3f800000, 0x3f810000, 0x7f7f0000, 0x7f800000, 0xff800000, 0x40490000, 0xc2f70000};
static const uint32_t ref_edge_in[] = {0x00000000, 0x80000000, 0x3f800000, 0x3f801000, 0x3f803000, 0x3f802000, 0x3f801001, 0x477fe000, 0x477fefff, 0x477ff000, 0x477fffff, 0x47800000, 0x7f800000, 0xff800000, 0x33000000, 0x33000001, 0x33800000, 0x33c00000, 0x387fc000, 0x387fe000, 0x38800000, 0x38000000, 0x3f808000, 0x3f818000, 0x3f817fff, 0x7f7fffff, 0x00000001, 0x3eaaaaab, 0xc0490fdb};
static const uint16_t ref_edge_f16[] = {0x0000, 0x8000, 0x3c00, 0x3c00, 0x3c02, 0x3c01, 0x3c01, 0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x7c00, 0x7c00, 0xfc00, 0x0000, 0x0001, 0x0001, 0x0002, 0x03ff, 0x0400, 0x0400, 0x0200, 0x3c04, 0x3c0c, 0x3c0c, 0x7c00, 0x0000, 0x3555, 0xc248};
static const uint16_t ref_edge_bf16[] = {0x0000, 0x8000, 0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x4780, 0x4780, 0x4780, 0x4780, 0x4780, 0x7f80, 0xff80, 0x3300, 0x3300, 0x3380, 0x33c0, 0x3880, 0x3880, 0x3880, 0x3800, 0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x0000, 0x3eab, 0xc049};
static const double ref_f64_in[] = {0.1, -0.3333333333333333, 1e-40, 1e-50, 3.4028235677973366e+38, 1e+39, -1e+39, 1.401298464324817e-45, 7.006492321624085e-46, 1.0000000596046448};
static const uint32_t ref_f64_out[] = {0x3dcccccd, 0xbeaaaaab, 0x000116c2, 0x00000000, 0x7f800000, 0x7f800000, 0xff800000, 0x00000001, 0x00000000, 0x3f800000};

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
#define FNV_OFFSET 1469598103934665603ull

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
/* NaN canonicalization as in conversion_reference.py. */
static uint32_t canon32(uint32_t b) {
    return (b & 0x7fffffffu) > 0x7f800000u ? (b & 0x80000000u) | 0x7fc00000u : b;
}
static uint16_t canon16(uint16_t b) {
    return (b & 0x7fffu) > 0x7c00u ? (uint16_t)((b & 0x8000u) | 0x7e00u) : b;
}
static uint16_t canonbf(uint16_t b) { return (b & 0x7fffu) > 0x7f80u ? 0x7fc0u : b; }

Test(safetensors_convert, f16_and_bf16_to_f32_match_torch_for_all_65536_patterns) {
    uint64_t hf = FNV_OFFSET, hb = FNV_OFFSET;
    for (uint32_t v = 0; v < 65536; v++) {
        uint32_t a = canon32(f32_bits(mmg__f16_to_f32((uint16_t)v)));
        uint32_t b = canon32(f32_bits(mmg__bf16_to_f32((uint16_t)v)));
        hf = fnv_bytes(hf, &a, 4);
        hb = fnv_bytes(hb, &b, 4);
    }
    for (size_t i = 0; i < sizeof ref_f16_in / sizeof *ref_f16_in; i++)
        cr_expect_eq(canon32(f32_bits(mmg__f16_to_f32(ref_f16_in[i]))), ref_f16_out[i],
                     "f16 0x%04x -> 0x%08x, torch says 0x%08x", ref_f16_in[i],
                     f32_bits(mmg__f16_to_f32(ref_f16_in[i])), ref_f16_out[i]);
    for (size_t i = 0; i < sizeof ref_bf16_in / sizeof *ref_bf16_in; i++)
        cr_expect_eq(f32_bits(mmg__bf16_to_f32(ref_bf16_in[i])), ref_bf16_out[i], "bf16 0x%04x",
                     ref_bf16_in[i]);
    cr_assert_eq(hf, REF_F16_TO_F32_HASH, "F16->F32 differs from torch somewhere");
    cr_assert_eq(hb, REF_BF16_TO_F32_HASH, "BF16->F32 differs from torch somewhere");
}

Test(safetensors_convert, f16_nan_payload_and_sign_are_kept) {
    /* a signaling NaN with payload: our integer path keeps it bit for bit */
    cr_assert_eq(f32_bits(mmg__f16_to_f32(0xfc01)), 0xff802000u);
    cr_assert_eq(f32_bits(mmg__f16_to_f32(0x7fff)), 0x7fffe000u);
}

Test(safetensors_convert, f32_to_f16_and_bf16_round_like_torch) {
    for (size_t i = 0; i < sizeof ref_edge_in / sizeof *ref_edge_in; i++) {
        float f = bits_f32(ref_edge_in[i]);
        cr_expect_eq(mmg__f32_to_f16(f), ref_edge_f16[i], "f32 0x%08x -> f16 0x%04x, torch 0x%04x",
                     ref_edge_in[i], mmg__f32_to_f16(f), ref_edge_f16[i]);
        cr_expect_eq(mmg__f32_to_bf16(f), ref_edge_bf16[i], "f32 0x%08x -> bf16 0x%04x, torch 0x%04x",
                     ref_edge_in[i], mmg__f32_to_bf16(f), ref_edge_bf16[i]);
    }
    /* the same LCG as conversion_reference.py */
    uint64_t x = 0x853C49E6748FEA9Bull, hh = FNV_OFFSET, hb = FNV_OFFSET;
    for (int i = 0; i < REF_LCG_N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t b = (uint32_t)(x >> 32);
        if (i & 1) b = (b & 0x807fffffu) | ((96 + (b >> 23) % 50) << 23);
        uint16_t h = canon16(mmg__f32_to_f16(bits_f32(b))), g = canonbf(mmg__f32_to_bf16(bits_f32(b)));
        hh = fnv_bytes(hh, &h, 2);
        hb = fnv_bytes(hb, &g, 2);
    }
    cr_assert_eq(hh, REF_F32_TO_F16_HASH, "F32->F16 rounding differs from torch");
    cr_assert_eq(hb, REF_F32_TO_BF16_HASH, "F32->BF16 rounding differs from torch");
    /* every finite half survives a round trip exactly */
    for (uint32_t v = 0; v < 65536; v++)
        if ((v & 0x7c00) != 0x7c00) cr_assert_eq(mmg__f32_to_f16(mmg__f16_to_f32((uint16_t)v)), v);
}

/* ---- helpers ---------------------------------------------------------------- */

/* A fresh temporary directory (removed by the test's process exit is not
 * guaranteed: tests clean up what they create). */
static char *temp_dir(void) {
    static char dir[256];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mmgen-st-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    return dir;
}

static uint8_t *read_whole(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void write_whole(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(p, 1, n, fp), n);
    cr_assert_eq(fclose(fp), 0);
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A small writer with metadata and F32, F16, BF16, I64 tensors. */
static float g_f32[6] = {-1.5f, 0.0f, 1.0f, 2.5f, 1e-3f, -7.25f};
static uint16_t g_f16[4], g_bf16[3];
static int64_t g_i64[2] = {-3, 1234567890123ll};

static mmg__st_writer *sample_writer(void) {
    for (int i = 0; i < 4; i++) g_f16[i] = mmg__f32_to_f16(0.25f * (float)i - 0.5f);
    for (int i = 0; i < 3; i++) g_bf16[i] = mmg__f32_to_bf16(3.0f * (float)i - 1.0f);
    mmg__st_writer *w = NULL;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    cr_assert_eq(mmg__st_writer_metadata(w, "format", "pt"), MMG_OK);
    cr_assert_eq(mmg__st_writer_metadata(w, "step", "17"), MMG_OK);
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s3[1] = {3}, s21[2] = {2, 1};
    cr_assert_eq(mmg__st_writer_add(w, "w.f32", MMG__DT_F32, 2, s23, g_f32, sizeof g_f32), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "h.f16", MMG__DT_F16, 1, s4, g_f16, sizeof g_f16), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "b.bf16", MMG__DT_BF16, 1, s3, g_bf16, sizeof g_bf16), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "i.i64", MMG__DT_I64, 2, s21, g_i64, sizeof g_i64), MMG_OK);
    return w;
}

static void check_sample(const mmg__st_file *f) {
    cr_assert_eq(mmg__st_count(f), 4);
    cr_assert_str_eq(mmg__st_metadata(f, "format"), "pt");
    cr_assert_str_eq(mmg__st_metadata(f, "step"), "17");
    cr_assert_null(mmg__st_metadata(f, "absent"));
    const char *order[4] = {"w.f32", "h.f16", "b.bf16", "i.i64"};
    for (size_t i = 0; i < 4; i++) cr_assert_str_eq(mmg__st_at(f, i)->name, order[i]);
    cr_assert_null(mmg__st_at(f, 4));
    const mmg__st_tensor *t = NULL;
    int64_t s23[2] = {2, 3};
    cr_assert_eq(mmg__st_expect(f, "w.f32", 2, s23, &t), MMG_OK);
    float out[6];
    cr_assert_eq(mmg__st_read_f32(t, out, 6), MMG_OK);
    cr_assert_eq(memcmp(out, g_f32, sizeof out), 0);
    t = mmg__st_find(f, "h.f16");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, MMG__DT_F16);
    cr_assert_eq(mmg__st_read_f32(t, out, 4), MMG_OK);
    for (int i = 0; i < 4; i++) cr_assert_eq(out[i], 0.25f * (float)i - 0.5f);
    t = mmg__st_find(f, "b.bf16");
    cr_assert_eq(mmg__st_read_f32(t, out, 3), MMG_OK);
    for (int i = 0; i < 3; i++) cr_assert_eq(out[i], 3.0f * (float)i - 1.0f);
    t = mmg__st_find(f, "i.i64");
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->shape[0], 2);
    cr_assert_eq(t->shape[1], 1);
    cr_assert_eq(memcmp(t->data, g_i64, sizeof g_i64), 0);
    cr_assert_null(mmg__st_find(f, "nope"));
}

/* ---- the independent reference file ----------------------------------------- */

Test(safetensors, reads_the_file_written_by_make_fixture_py) {
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open(FIXTURE_DIR "/reference.safetensors", &f), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(mmg__st_path(f), FIXTURE_DIR "/reference.safetensors");
    cr_assert_eq(mmg__st_count(f), 7);
    /* data-offset order; the zero-sized tensor at 82 comes before the one starting at 82 */
    const char *order[7] = {"mask", "weird \"quoted\" name", "embed.weight", "\xc3\xb1orm.scale", "empty",
                            "proj.bf16", "step"};
    for (size_t i = 0; i < 7; i++) cr_assert_str_eq(mmg__st_at(f, i)->name, order[i]);
    cr_assert_str_eq(mmg__st_metadata(f, "format"), "pt");
    cr_assert_str_eq(mmg__st_metadata(f, "note"), "made by make_fixture.py");
    cr_assert_eq(mmg__st_metadata_count(f), 2);

    float out[12];
    const mmg__st_tensor *t;
    int64_t s34[2] = {3, 4};
    cr_assert_eq(mmg__st_expect(f, "embed.weight", 2, s34, &t), MMG_OK);
    cr_assert_eq(mmg__st_read_f32(t, out, 12), MMG_OK);
    for (int i = 0; i < 12; i++) cr_assert_eq(out[i], (float)i * 0.5f - 1.0f);

    t = mmg__st_find(f, "\xc3\xb1orm.scale");
    cr_assert_not_null(t);
    cr_assert_eq(mmg__st_read_f32(t, out, 7), MMG_OK);
    const float want16[7] = {-0.5f, -0.25f, 0.0f, 0.25f, 0x1p-24f, 65504.0f, INFINITY};
    for (int i = 0; i < 7; i++) cr_assert_eq(out[i], want16[i], "F16[%d] = %g", i, out[i]);

    t = mmg__st_find(f, "proj.bf16");
    cr_assert_eq(mmg__st_read_f32(t, out, 6), MMG_OK);
    const float wantbf[6] = {-3.0f, -1.5f, 0.0f, 1.5f, 3.140625f, 0x1p-130f};
    for (int i = 0; i < 6; i++) cr_assert_eq(out[i], wantbf[i], "BF16[%d] = %g", i, out[i]);

    t = mmg__st_find(f, "weird \"quoted\" name"); /* F64 at data offset 4: unaligned */
    cr_assert_eq((t->data - mmg__st_at(f, 0)->data), 4);
    cr_assert_eq(mmg__st_read_f32(t, out, 2), MMG_OK);
    cr_assert_eq(out[0], 0.1f);
    cr_assert_eq(out[1], -2.5f);

    t = mmg__st_find(f, "empty");
    cr_assert_eq(t->numel, 0);
    cr_assert_eq(t->nbytes, 0);
    cr_assert_eq(mmg__st_read_f32(t, out, 0), MMG_OK);

    t = mmg__st_find(f, "step");
    cr_assert_eq(t->ndim, 0);
    cr_assert_eq(t->numel, 1);
    int64_t step;
    memcpy(&step, t->data, 8);
    cr_assert_eq(step, 42);

    t = mmg__st_find(f, "mask");
    cr_assert_eq(mmg__st_read_f32(t, out, 4), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "'mask'") && strstr(mmg_last_error(), "U8"), "%s", mmg_last_error());
    mmg__st_close(f);
}

Test(safetensors, f64_to_f32_matches_torch) {
    size_t n = sizeof ref_f64_in / sizeof *ref_f64_in;
    mmg__st_writer *w = NULL;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    int64_t shape[1] = {(int64_t)n};
    cr_assert_eq(mmg__st_writer_add(w, "d", MMG__DT_F64, 1, shape, ref_f64_in, sizeof ref_f64_in), MMG_OK);
    uint8_t *mem = NULL;
    size_t len = 0;
    cr_assert_eq(mmg__st_writer_to_memory(w, &mem, &len), MMG_OK);
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open_memory(mem, len, &f), MMG_OK);
    float out[16];
    cr_assert_eq(mmg__st_read_f32(mmg__st_find(f, "d"), out, n), MMG_OK);
    for (size_t i = 0; i < n; i++) cr_expect_eq(f32_bits(out[i]), ref_f64_out[i], "%.17g", ref_f64_in[i]);
    mmg__st_close(f);
    mmg_free(mem);
    mmg__st_writer_free(w);
}

/* ---- round trips ------------------------------------------------------------ */

Test(safetensors, round_trip_through_memory) {
    mmg__st_writer *w = sample_writer();
    uint8_t *mem = NULL;
    size_t len = 0;
    cr_assert_eq(mmg__st_writer_to_memory(w, &mem, &len), MMG_OK);
    uint64_t n;
    memcpy(&n, mem, 8);
    cr_assert_eq((8 + n) % 8, 0, "header is padded to a multiple of 8");
    cr_assert_eq(len, 8 + n + sizeof g_f32 + sizeof g_f16 + sizeof g_bf16 + sizeof g_i64);
    cr_assert_eq(mem[8], '{');
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open_memory(mem, len, &f), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(mmg__st_path(f), "<memory>");
    cr_assert_eq(mmg__st_data_size(f), len - 8 - n);
    check_sample(f);
    mmg__st_close(f);
    mmg_free(mem);
    mmg__st_writer_free(w);
    EXPECT_NO_LEAKS();
}

Test(safetensors, round_trip_through_a_file) {
    char path[512];
    char *dir = temp_dir();
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mmg__st_writer *w = sample_writer();
    cr_assert_eq(mmg__st_writer_write(w, path), MMG_OK, "%s", mmg_last_error());
    uint8_t *mem = NULL;
    size_t len = 0, flen = 0;
    cr_assert_eq(mmg__st_writer_to_memory(w, &mem, &len), MMG_OK);
    uint8_t *disk = read_whole(path, &flen);
    cr_assert_eq(flen, len);
    cr_assert_eq(memcmp(disk, mem, len), 0, "file and memory serializations are identical");
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg__st_file_size(f), len);
    check_sample(f);
    mmg__st_close(f);
    /* only the target remains: no temp file left behind */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    cr_assert(!exists(tmp));
    unlink(path);
    rmdir(dir);
    free(disk);
    mmg_free(mem);
    mmg__st_writer_free(w);
    EXPECT_NO_LEAKS();
}

Test(safetensors, empty_writer_gives_a_valid_empty_file) {
    mmg__st_writer *w = NULL;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    uint8_t *mem = NULL;
    size_t len = 0;
    cr_assert_eq(mmg__st_writer_to_memory(w, &mem, &len), MMG_OK);
    cr_assert_eq(len, 16);
    cr_assert_eq(memcmp(mem + 8, "{}      ", 8), 0);
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open_memory(mem, len, &f), MMG_OK);
    cr_assert_eq(mmg__st_count(f), 0);
    cr_assert_null(mmg__st_find(f, "x"));
    mmg__st_close(f);
    mmg__st_close(NULL);
    mmg__st_writer_free(NULL);
    mmg_free(mem);
    mmg__st_writer_free(w);
}

Test(safetensors, writer_escapes_names_and_metadata) {
    mmg__st_writer *w = NULL;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    const char *name = "a\"b\\c\nd\x01 \xe2\x98\x83";
    cr_assert_eq(mmg__st_writer_metadata(w, "k\"", "v\\\t"), MMG_OK);
    cr_assert_eq(mmg__st_writer_metadata(w, "k\"", "replaced"), MMG_OK);
    uint8_t one = 1;
    cr_assert_eq(mmg__st_writer_add(w, name, MMG__DT_BOOL, 0, NULL, &one, 1), MMG_OK);
    uint8_t *mem = NULL;
    size_t len = 0;
    cr_assert_eq(mmg__st_writer_to_memory(w, &mem, &len), MMG_OK);
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open_memory(mem, len, &f), MMG_OK, "%s", mmg_last_error());
    cr_assert_not_null(mmg__st_find(f, name));
    cr_assert_str_eq(mmg__st_metadata(f, "k\""), "replaced");
    cr_assert_eq(mmg__st_metadata_count(f), 1);
    mmg__st_close(f);
    mmg_free(mem);
    mmg__st_writer_free(w);
}

Test(safetensors, writer_refuses_bad_tensors) {
    mmg__st_writer *w = NULL;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    float d[4] = {0};
    int64_t s4[1] = {4}, s2[1] = {2}, neg[1] = {-1}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 4};
    cr_assert_eq(mmg__st_writer_add(w, "x", MMG__DT_F32, 1, s4, d, sizeof d), MMG_OK);
    struct { const char *name; int ndim; const int64_t *shape; size_t nbytes; const char *needle; } bad[] = {
        {"x", 1, s4, 16, "added twice"},
        {"__metadata__", 1, s4, 16, "reserved"},
        {"y", 1, s2, 16, "nbytes is 16"},
        {"y", 1, neg, 0, "shape[0]"},
        {"y", 9, s9, 16, "ndim 9"},
        {"bad\xff", 1, s4, 16, "UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(mmg__st_writer_add(w, bad[i].name, MMG__DT_F32, bad[i].ndim, bad[i].shape, d, bad[i].nbytes),
                     MMG_ERR_INVALID_ARG, "case %zu", i);
        cr_assert(strstr(mmg_last_error(), bad[i].needle), "case %zu: %s", i, mmg_last_error());
    }
    cr_assert_eq(mmg__st_writer_metadata(w, "k", "\xc0\xaf"), MMG_ERR_INVALID_ARG);
    mmg__st_writer_free(w);
    EXPECT_NO_LEAKS();
}

Test(safetensors, many_tensors_find_by_name) {
    mmg__st_writer *w = NULL;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    enum { N = 3000 };
    static float vals[N];
    char name[32];
    int64_t s1[1] = {1};
    for (int i = 0; i < N; i++) {
        vals[i] = (float)i;
        snprintf(name, sizeof name, "layer.%d.w", (i * 7919) % N);
        cr_assert_eq(mmg__st_writer_add(w, name, MMG__DT_F32, 1, s1, &vals[i], 4), MMG_OK);
    }
    uint8_t *mem = NULL;
    size_t len = 0;
    cr_assert_eq(mmg__st_writer_to_memory(w, &mem, &len), MMG_OK);
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open_memory(mem, len, &f), MMG_OK);
    cr_assert_eq(mmg__st_count(f), N);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "layer.%d.w", (i * 7919) % N);
        const mmg__st_tensor *t = mmg__st_find(f, name);
        cr_assert_not_null(t, "%s", name);
        float v;
        cr_assert_eq(mmg__st_read_f32(t, &v, 1), MMG_OK);
        cr_assert_eq(v, (float)i);
        cr_assert_eq(mmg__st_at(f, (size_t)i), t, "data order is the order added");
    }
    mmg__st_close(f);
    mmg_free(mem);
    mmg__st_writer_free(w);
}

/* ---- malformed input ---------------------------------------------------------- */

/* 8-byte length + header + data_len zero bytes, in a buffer of exactly that
 * size so ASan catches any read past it. */
static uint8_t *make_file(const char *header, size_t hlen, size_t data_len, size_t *len) {
    *len = 8 + hlen + data_len;
    uint8_t *b = calloc(1, *len);
    uint64_t n = hlen;
    memcpy(b, &n, 8);
    memcpy(b + 8, header, hlen);
    return b;
}

typedef struct bad_case {
    const char *header;
    size_t data_len;
    mmg_status want;
    const char *needle1, *needle2; /* both must appear in the message */
} bad_case;

#define E(name, body) "\"" name "\":{" body "}"
static const bad_case bad_cases[] = {
    {"[1,2]", 0, MMG_ERR_FORMAT, "start with '{'", "<memory>"},
    {"", 0, MMG_ERR_FORMAT, "start with '{'", "<memory>"},
    {" {}", 0, MMG_ERR_FORMAT, "start with '{'", "<memory>"},
    {"{\"a\":", 0, MMG_ERR_FORMAT, "not valid JSON", "<memory>"},
    {"{\"a\":{}} x", 0, MMG_ERR_FORMAT, "after the JSON object", "<memory>"},
    {"{} {}", 0, MMG_ERR_FORMAT, "after the JSON object", "<memory>"},
    {"{\"a\xff\":{}}", 0, MMG_ERR_FORMAT, "UTF-8", "byte 3"},
    {"{\"\xc0\xaf\":{}}", 0, MMG_ERR_FORMAT, "UTF-8", "byte 2"},
    {"{\"\xed\xa0\x80\":{}}", 0, MMG_ERR_FORMAT, "UTF-8", "byte 2"}, /* a surrogate */
    {"{\"\xe2\x98\":{}}", 0, MMG_ERR_FORMAT, "UTF-8", "header"},
    {"{\"a\x01\":{}}", 0, MMG_ERR_FORMAT, "control byte", "header"},
    {"{\"a\\u0000b\":{}}", 0, MMG_ERR_FORMAT, "\\u0000", "NUL"},
    {"{" E("t", "\"shape\":[1],\"data_offsets\":[0,4]") "}", 4, MMG_ERR_FORMAT, "'t'", "missing \"dtype\""},
    {"{" E("t", "\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]") "}", 4, MMG_ERR_FORMAT, "'t'", "\"dtype\""},
    {"{" E("t", "\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]") "}", 1, MMG_ERR_FORMAT, "'t'",
     "unknown dtype \"F8_E4M3\""},
    {"{" E("t", "\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]") "}", 4, MMG_ERR_FORMAT, "'t'",
     "unknown dtype"},
    {"{" E("t", "\"dtype\":\"F32\",\"data_offsets\":[0,4]") "}", 4, MMG_ERR_FORMAT, "'t'", "missing \"shape\""},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]") "}", 4, MMG_ERR_FORMAT, "'t'", "\"shape\""},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]") "}", 4, MMG_ERR_FORMAT, "'t'",
     "shape[0] is -1"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[2,1.5],\"data_offsets\":[0,4]") "}", 4, MMG_ERR_FORMAT, "'t'",
     "shape[1] is 1.5"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]") "}", 8, MMG_ERR_FORMAT, "'t'",
     "shape[0]"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]") "}", 8, MMG_ERR_FORMAT, "'t'",
     "shape[0]"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]") "}", 0,
     MMG_ERR_FORMAT, "'t'", "overflow"},
    {"{" E("t", "\"dtype\":\"F64\",\"shape\":[4294967296,536870912],\"data_offsets\":[0,0]") "}", 0,
     MMG_ERR_FORMAT, "'t'", "overflow"},
    {"{" E("t", "\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]") "}", 1, MMG_ERR_FORMAT,
     "'t'", "9 dims"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[1]") "}", 4, MMG_ERR_FORMAT, "'t'", "missing \"data_offsets\""},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]") "}", 4, MMG_ERR_FORMAT, "'t'",
     "data_offsets"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]") "}", 8, MMG_ERR_FORMAT, "'t'",
     "data_offsets"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]") "}", 4, MMG_ERR_FORMAT, "'t'",
     "data_offsets"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]") "}", 4, MMG_ERR_FORMAT, "'t'",
     "data_offsets"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"a\":1}") "}", 4, MMG_ERR_FORMAT, "'t'",
     "data_offsets"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]") "}", 8, MMG_ERR_FORMAT, "'t'",
     "begin > end"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") "}", 3, MMG_ERR_FORMAT, "'t'",
     "beyond the data buffer"},
    {"{" E("t", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]") "}", 4, MMG_ERR_FORMAT, "'t'",
     "needs 8"},
    {"{" E("a", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]") ","
         E("b", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]") "}", 12, MMG_ERR_FORMAT, "'b'",
     "overlaps tensor 'a'"},
    {"{" E("a", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") ","
         E("b", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]") "}", 12, MMG_ERR_FORMAT, "'b'",
     "holes"},
    {"{" E("a", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]") "}", 8, MMG_ERR_FORMAT, "'a'", "holes"},
    {"{" E("a", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") "}", 8, MMG_ERR_FORMAT, "8 bytes",
     "trailing"},
    {"{}", 4, MMG_ERR_FORMAT, "4 bytes", "no tensors"},
    {"{" E("a", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") ","
         E("a", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]") "}", 8, MMG_ERR_FORMAT, "'a'",
     "twice"},
    {"{" E("t", "\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]") "}", 4,
     MMG_ERR_FORMAT, "'t'", "duplicate field \"dtype\""},
    {"{\"t\":5}", 0, MMG_ERR_FORMAT, "'t'", "JSON object"},
    {"{\"t\":[]}", 0, MMG_ERR_FORMAT, "'t'", "JSON object"},
    {"{\"__metadata__\":{\"k\":1}}", 0, MMG_ERR_FORMAT, "__metadata__", "\"k\""},
    {"{\"__metadata__\":{\"k\":\"v\",\"j\":null}}", 0, MMG_ERR_FORMAT, "__metadata__", "\"j\""},
    {"{\"__metadata__\":[\"k\"]}", 0, MMG_ERR_FORMAT, "__metadata__", "object"},
    {"{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, MMG_ERR_FORMAT, "__metadata__", "'k'"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, MMG_ERR_FORMAT, "__metadata__", "two"},
};

Test(safetensors, every_malformed_header_is_named_in_the_error) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *c = &bad_cases[i];
        size_t len;
        uint8_t *b = make_file(c->header, strlen(c->header), c->data_len, &len);
        mmg__st_file *f = (mmg__st_file *)(uintptr_t)0x1; /* must stay untouched */
        mmg_clear_error();
        mmg_status st = mmg__st_open_memory(b, len, &f);
        cr_expect_eq(st, c->want, "case %zu (%s): got %s: %s", i, c->header, mmg_status_name(st),
                     mmg_last_error());
        cr_expect(strstr(mmg_last_error(), c->needle1) && strstr(mmg_last_error(), c->needle2),
                  "case %zu (%s): message \"%s\" lacks \"%s\" or \"%s\"", i, c->header, mmg_last_error(),
                  c->needle1, c->needle2);
        cr_expect_eq((uintptr_t)f, 0x1, "case %zu: out-param touched on error", i);
        free(b);
    }
    EXPECT_NO_LEAKS();
}

Test(safetensors, accepted_variants) {
    /* null metadata, unknown fields, whitespace, zero-sized and scalar tensors */
    const char *ok[] = {
        "{\"__metadata__\":null}",
        "{ \"t\" : { \"dtype\" : \"F32\" , \"shape\" : [ ] , \"data_offsets\" : [ 0 , 4 ] , \"x\": [1,{}] } }\n\t ",
        "{" E("z", "\"dtype\":\"BF16\",\"shape\":[0,5],\"data_offsets\":[0,0]") ","
            E("t", "\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]") "}",
        /* an escaped backslash followed by "u0000" is not a NUL escape */
        "{" E("a\\\\u0000", "\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]") "}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        size_t len;
        uint8_t *b = make_file(ok[i], strlen(ok[i]), i ? 4 : 0, &len);
        mmg__st_file *f = NULL;
        cr_expect_eq(mmg__st_open_memory(b, len, &f), MMG_OK, "case %zu: %s", i, mmg_last_error());
        if (i == 3) cr_expect_not_null(mmg__st_find(f, "a\\u0000"));
        mmg__st_close(f);
        free(b);
    }
}

Test(safetensors, header_limits_and_short_files) {
    uint8_t b[16] = {0};
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open_memory(b, 5, &f), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "5 bytes") && strstr(mmg_last_error(), "shorter than"));
    cr_assert_eq(mmg__st_open_memory(NULL, 0, &f), MMG_ERR_FORMAT);
    uint64_t n = 100000001;
    memcpy(b, &n, 8);
    cr_assert_eq(mmg__st_open_memory(b, 16, &f), MMG_ERR_LIMIT);
    cr_assert(strstr(mmg_last_error(), "100000001"), "%s", mmg_last_error());
    n = 9;
    memcpy(b, &n, 8);
    cr_assert_eq(mmg__st_open_memory(b, 16, &f), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "header length 9") && strstr(mmg_last_error(), "past the end"));
    n = UINT64_MAX;
    memcpy(b, &n, 8);
    cr_assert_eq(mmg__st_open_memory(b, 16, &f), MMG_ERR_LIMIT);
    cr_assert_null(f);
}

Test(safetensors, open_errors_name_the_path) {
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open("/nonexistent/dir/x.safetensors", &f), MMG_ERR_IO);
    cr_assert(strstr(mmg_last_error(), "/nonexistent/dir/x.safetensors"), "%s", mmg_last_error());
    cr_assert_eq(mmg__st_open(FIXTURE_DIR, &f), MMG_ERR_IO);
    cr_assert(strstr(mmg_last_error(), "directory"), "%s", mmg_last_error());
    /* a malformed file on disk: the message names the file */
    char *dir = temp_dir(), path[512];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    size_t len;
    const char *h = "{" E("w", "\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]") "}";
    uint8_t *b = make_file(h, strlen(h), 8, &len);
    write_whole(path, b, len);
    cr_assert_eq(mmg__st_open(path, &f), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), path) && strstr(mmg_last_error(), "'w'"), "%s", mmg_last_error());
    write_whole(path, "abc", 3);
    cr_assert_eq(mmg__st_open(path, &f), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), path) && strstr(mmg_last_error(), "3 bytes"), "%s", mmg_last_error());
    cr_assert_null(f);
    unlink(path);
    rmdir(dir);
    free(b);
    EXPECT_NO_LEAKS();
}

Test(safetensors, expect_and_read_f32_report_mismatches) {
    mmg__st_writer *w = sample_writer();
    uint8_t *mem = NULL;
    size_t len = 0;
    cr_assert_eq(mmg__st_writer_to_memory(w, &mem, &len), MMG_OK);
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open_memory(mem, len, &f), MMG_OK);
    const mmg__st_tensor *t = (const mmg__st_tensor *)(uintptr_t)0x1;
    int64_t s32[2] = {3, 2}, s4[1] = {4}, s3[1] = {3};
    cr_assert_eq(mmg__st_expect(f, "w.f32", 2, s32, &t), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "'w.f32'") && strstr(mmg_last_error(), "[2, 3]") &&
                  strstr(mmg_last_error(), "[3, 2]"), "%s", mmg_last_error());
    cr_assert_eq(mmg__st_expect(f, "w.f32", 1, s4, &t), MMG_ERR_FORMAT);
    cr_assert_eq(mmg__st_expect(f, "missing.w", 1, s4, &t), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "'missing.w'") && strstr(mmg_last_error(), "missing"));
    cr_assert_eq(mmg__st_expect(f, "i.i64", 2, (int64_t[]){2, 1}, &t), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "'i.i64'") && strstr(mmg_last_error(), "I64"), "%s", mmg_last_error());
    cr_assert_eq((uintptr_t)t, 0x1, "out untouched on error");
    cr_assert_eq(mmg__st_expect(f, "b.bf16", 1, s3, NULL), MMG_OK);
    float out[8];
    cr_assert_eq(mmg__st_read_f32(mmg__st_find(f, "h.f16"), out, 5), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "'h.f16'") && strstr(mmg_last_error(), "expected 5") &&
                  strstr(mmg_last_error(), "found 4"), "%s", mmg_last_error());
    mmg__st_close(f);
    mmg_free(mem);
    mmg__st_writer_free(w);
}

/* ---- robustness: truncate and mutate valid files everywhere ------------------ */

/* For a file that opened, every tensor must lie inside the buffer, tile the
 * data exactly, be found by name, and be readable in full. */
static void check_invariants(const mmg__st_file *f, const uint8_t *buf, size_t len) {
    size_t data_size = mmg__st_data_size(f), start = len - data_size, at = 0;
    cr_assert_leq(data_size, len - 8);
    for (size_t i = 0; i < mmg__st_count(f); i++) {
        const mmg__st_tensor *t = mmg__st_at(f, i);
        cr_assert_eq(t->data, buf + start + at);
        cr_assert_leq(t->nbytes, data_size - at);
        cr_assert_eq(t->nbytes, t->numel * mmg__dtype_size(t->dtype));
        cr_assert_leq(t->ndim, MMG__ST_MAX_DIMS);
        cr_assert_eq(mmg__st_find(f, t->name), t);
        at += t->nbytes;
        volatile uint8_t sink = 0;
        for (size_t k = 0; k < t->nbytes; k++) sink ^= t->data[k];
        (void)sink;
        if (mmg__dtype_is_float(t->dtype) && t->numel <= 4096) {
            float tmp[4096];
            cr_assert_eq(mmg__st_read_f32(t, tmp, t->numel), MMG_OK);
        }
    }
    cr_assert_eq(at, data_size);
    for (size_t i = 0; i < mmg__st_metadata_count(f); i++) {
        const char *k = NULL, *v = NULL;
        cr_assert(mmg__st_metadata_at(f, i, &k, &v));
        cr_assert_not_null(mmg__st_metadata(f, k));
        (void)strlen(v);
    }
}

static size_t fuzz_accepted, fuzz_rejected;

/* Opens an exact-size heap copy (so ASan sees any overread); returns the status. */
static mmg_status open_copy(const uint8_t *src, size_t len) {
    uint8_t *b = malloc(len ? len : 1);
    memcpy(b, src, len);
    mmg__st_file *f = NULL;
    mmg_clear_error();
    mmg_status st = mmg__st_open_memory(b, len, &f);
    if (st == MMG_OK) fuzz_accepted++;
    else fuzz_rejected++;
    if (st == MMG_OK) {
        check_invariants(f, b, len);
        mmg__st_close(f);
    } else {
        cr_assert(st == MMG_ERR_FORMAT || st == MMG_ERR_LIMIT, "unexpected %s", mmg_status_name(st));
        cr_assert_neq(mmg_last_error()[0], '\0', "an error always has a message");
    }
    free(b);
    return st;
}

static void fuzz_file(const uint8_t *file, size_t len) {
    cr_assert_eq(open_copy(file, len), MMG_OK);
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_neq(open_copy(file, cut), MMG_OK, "truncated to %zu bytes but accepted", cut);
    static const uint8_t vals[] = {0x00, 0xff, '"', '{', '}', '[', ']', ',', ':', '0', '9',
                                   '-', '.', 'e', '\\', ' ', 0x80, 0xc3, 0x01};
    uint8_t *m = malloc(len + 1);
    for (size_t p = 0; p < len; p++) {
        for (size_t v = 0; v < sizeof vals + 2; v++) {
            memcpy(m, file, len);
            m[p] = v < sizeof vals ? vals[v] : (uint8_t)(file[p] ^ (v == sizeof vals ? 0x01 : 0x20));
            open_copy(m, len);
        }
        /* delete byte p, and insert a byte at p */
        memcpy(m, file, p);
        memcpy(m + p, file + p + 1, len - p - 1);
        open_copy(m, len - 1);
        memcpy(m, file, p);
        m[p] = ' ';
        memcpy(m + p + 1, file + p, len - p);
        open_copy(m, len + 1);
    }
    /* random multi-byte mutations, fixed seed */
    uint64_t x = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(m, file, len);
        int k = 1 + iter % 4;
        for (int j = 0; j < k; j++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            size_t p = (size_t)(x >> 33) % len;
            m[p] = (iter & 8) ? vals[(x >> 20) % sizeof vals] : (uint8_t)(x >> 12);
        }
        open_copy(m, len);
    }
    free(m);
    /* both outcomes must occur, or the fuzzing is not exercising anything */
    cr_assert_gt(fuzz_accepted, 100, "accepted %zu mutated files", fuzz_accepted);
    cr_assert_gt(fuzz_rejected, 10000, "rejected %zu mutated files", fuzz_rejected);
    cr_log_info("fuzz: %zu mutated files accepted, %zu rejected", fuzz_accepted, fuzz_rejected);
}

Test(safetensors_fuzz, truncations_and_mutations_of_a_written_file, .timeout = 300) {
    mmg__st_writer *w = sample_writer();
    uint8_t *mem = NULL;
    size_t len = 0;
    cr_assert_eq(mmg__st_writer_to_memory(w, &mem, &len), MMG_OK);
    fuzz_file(mem, len);
    mmg_free(mem);
    mmg__st_writer_free(w);
    EXPECT_NO_LEAKS();
}

Test(safetensors_fuzz, truncations_and_mutations_of_the_reference_file, .timeout = 300) {
    size_t len = 0;
    uint8_t *file = read_whole(FIXTURE_DIR "/reference.safetensors", &len);
    cr_assert_not_null(file);
    fuzz_file(file, len);
    free(file);
    EXPECT_NO_LEAKS();
}

/* ---- atomic writes ----------------------------------------------------------- */

static mmg__st_writer *tiny_writer(const float *v) {
    mmg__st_writer *w = NULL;
    int64_t s[1] = {2};
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "v", MMG__DT_F32, 1, s, v, 2 * sizeof(float)), MMG_OK);
    return w;
}

static int dir_entries(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
    return system(cmd) == 0 ? 0 : 1;
}

Test(safetensors_atomic, failed_writes_leave_the_old_file_and_no_temp_file) {
    char *d = temp_dir(), dir[256], path[512], tmp[700], sub[600];
    snprintf(dir, sizeof dir, "%s", d);
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    const float va[2] = {1, 2}, vb[2] = {3, 4};
    mmg__st_writer *a = tiny_writer(va), *b = tiny_writer(vb);
    cr_assert_eq(mmg__st_writer_write(a, path), MMG_OK, "%s", mmg_last_error());
    size_t alen = 0, len = 0;
    uint8_t *old = read_whole(path, &alen);

    /* 1. the temp file cannot be created (a directory is in its way) */
    cr_assert_eq(mkdir(tmp, 0700), 0);
    cr_assert_eq(mmg__st_writer_write(b, path), MMG_ERR_IO);
    cr_assert(strstr(mmg_last_error(), path) && strstr(mmg_last_error(), "temporary"), "%s", mmg_last_error());
    cr_assert_eq(rmdir(tmp), 0);
    uint8_t *now = read_whole(path, &len);
    cr_assert(len == alen && memcmp(now, old, len) == 0, "old file intact");
    free(now);

    /* 2. a path in a missing directory */
    snprintf(sub, sizeof sub, "%s/missing/ckpt.safetensors", dir);
    cr_assert_eq(mmg__st_writer_write(b, sub), MMG_ERR_IO);
    cr_assert(strstr(mmg_last_error(), sub), "%s", mmg_last_error());

    /* 3. the rename fails: the target is a non-empty directory; temp removed */
    snprintf(sub, sizeof sub, "%s/adir", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    char inner[700];
    snprintf(inner, sizeof inner, "%s/keep", sub);
    write_whole(inner, "x", 1);
    cr_assert_eq(mmg__st_writer_write(b, sub), MMG_ERR_IO);
    cr_assert(strstr(mmg_last_error(), "rename"), "%s", mmg_last_error());
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", sub, (long)getpid());
    cr_assert(!exists(tmp), "temp file removed after a failed rename");
    unlink(inner);
    rmdir(sub);

    /* 4. the disk fills up mid-write (file size limit): old file intact, temp removed */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {16, 16};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    cr_assert_eq(mmg__st_writer_write(b, path), MMG_ERR_IO);
    cr_assert(strstr(mmg_last_error(), path), "%s", mmg_last_error());
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    cr_assert(!exists(tmp), "temp file removed after a failed write");
    rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
    setrlimit(RLIMIT_FSIZE, &rl); /* may fail (cannot raise a hard limit): fine, we are done writing */
    now = read_whole(path, &len);
    cr_assert(len == alen && memcmp(now, old, len) == 0, "old file intact");
    free(now);

    unlink(path);
    cr_assert_eq(dir_entries(dir), 0, "nothing else left in %s", dir);
    rmdir(dir);
    free(old);
    mmg__st_writer_free(a);
    mmg__st_writer_free(b);
    EXPECT_NO_LEAKS();
}

Test(safetensors_atomic, a_successful_write_replaces_the_old_file) {
    char *dir = temp_dir(), path[512];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    const float va[2] = {1, 2}, vb[2] = {3, 4};
    mmg__st_writer *a = tiny_writer(va), *b = tiny_writer(vb);
    cr_assert_eq(mmg__st_writer_write(a, path), MMG_OK);
    cr_assert_eq(mmg__st_writer_write(b, path), MMG_OK);
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK);
    float out[2];
    cr_assert_eq(mmg__st_read_f32(mmg__st_find(f, "v"), out, 2), MMG_OK);
    cr_assert(out[0] == 3 && out[1] == 4);
    mmg__st_close(f);
    unlink(path);
    cr_assert_eq(dir_entries(dir), 0);
    rmdir(dir);
    mmg__st_writer_free(a);
    mmg__st_writer_free(b);
}

/* ---- allocation failures ------------------------------------------------------ */

/* Everything the module allocates for, without criterion asserts in the way:
 * returns the first failing status, frees everything. */
static mmg_status alloc_scenario(const char *path) {
    static float v32[6] = {1, 2, 3, 4, 5, 6};
    static uint16_t v16[3] = {0x3c00, 0x4000, 0x4200};
    int64_t s23[2] = {2, 3}, s3[1] = {3};
    mmg__st_writer *w = NULL;
    mmg__st_file *f = NULL, *g = NULL;
    uint8_t *mem = NULL;
    size_t len = 0;
    char name[32];
    mmg_status st = mmg__st_writer_create(&w);
    if (!st) st = mmg__st_writer_metadata(w, "format", "pt");
    if (!st) st = mmg__st_writer_metadata(w, "format", "pt2");
    if (!st) st = mmg__st_writer_metadata(w, "epoch", "3");
    if (!st) st = mmg__st_writer_add(w, "a", MMG__DT_F32, 2, s23, v32, sizeof v32);
    for (int i = 0; !st && i < 20; i++) { /* enough to grow the arrays and the name set */
        snprintf(name, sizeof name, "b%d", i);
        st = mmg__st_writer_add(w, name, MMG__DT_F16, 1, s3, v16, sizeof v16);
    }
    if (!st) st = mmg__st_writer_to_memory(w, &mem, &len);
    if (!st) st = mmg__st_open_memory(mem, len, &f);
    if (!st) st = mmg__st_writer_write(w, path);
    if (!st) st = mmg__st_open(path, &g);
    mmg__st_close(g);
    mmg__st_close(f);
    mmg_free(mem);
    mmg__st_writer_free(w);
    return st;
}

Test(safetensors_fault, every_allocation_failure_gives_nomem_and_leaks_nothing) {
    char *dir = temp_dir(), path[512];
    snprintf(path, sizeof path, "%s/f.safetensors", dir);
    long k;
    for (k = 1; k < 100000; k++) {
        mmg__fault_fail_after(k);
        mmg_status st = alloc_scenario(path);
        mmg__fault_fail_after(0);
        if (st == MMG_OK) break;
        cr_assert_eq(st, MMG_ERR_NOMEM, "allocation %ld failed: got %s (%s)", k, mmg_status_name(st),
                     mmg_last_error());
        unlink(path); /* written before a later step failed, or absent */
        cr_assert_eq(dir_entries(dir), 0, "allocation %ld: temp file left behind", k);
    }
    cr_assert_gt(k, 20, "the scenario allocates (k=%ld)", k);
    unlink(path);
    rmdir(dir);
    EXPECT_NO_LEAKS();
}

/* ---- reading without mmap ----------------------------------------------------- */

Test(safetensors, reads_from_a_pipe_when_mmap_is_impossible) {
    char *dir = temp_dir(), path[512];
    snprintf(path, sizeof path, "%s/fifo", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    mmg__st_writer *w = sample_writer();
    uint8_t *mem = NULL;
    size_t len = 0;
    cr_assert_eq(mmg__st_writer_to_memory(w, &mem, &len), MMG_OK);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int fd = open(path, O_WRONLY);
        for (size_t at = 0; fd >= 0 && at < len;) { /* in small pieces */
            ssize_t r = write(fd, mem + at, len - at < 7 ? len - at : 7);
            if (r <= 0) break;
            at += (size_t)r;
        }
        _exit(0);
    }
    mmg__st_file *f = NULL;
    mmg_status st = mmg__st_open(path, &f);
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert_eq(st, MMG_OK, "%s", mmg_last_error());
    check_sample(f);
    mmg__st_close(f);
    unlink(path);
    rmdir(dir);
    mmg_free(mem);
    mmg__st_writer_free(w);
    EXPECT_NO_LEAKS();
}

/* ---- opening is O(header): a 512 MiB file is mapped, not read ------------------ */

static long max_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

Test(safetensors, opening_a_512_mib_file_does_not_read_its_data) {
    char *dir = temp_dir(), path[512];
    snprintf(path, sizeof path, "%s/big.safetensors", dir);
    const size_t numel = (size_t)1 << 27; /* 512 MiB of F32 */
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr,
                      "{\"big\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[0,%zu]}}", numel, numel * 4);
    size_t len;
    uint8_t *b = make_file(hdr, (size_t)hl, 0, &len);
    write_whole(path, b, len);
    free(b);
    if (truncate(path, (off_t)(len + numel * 4)) != 0) {
        unlink(path);
        rmdir(dir);
        cr_skip_test("cannot create a sparse 512 MiB file here: %s", strerror(errno));
    }
    long before = max_rss_kb();
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK, "%s", mmg_last_error());
    const mmg__st_tensor *t = mmg__st_find(f, "big");
    cr_assert_eq(t->nbytes, numel * 4);
    cr_assert_eq(t->data[0] | t->data[t->nbytes - 1], 0);
    long grown = max_rss_kb() - before;
    cr_assert_lt(grown, 64 * 1024, "opening grew the resident set by %ld KiB", grown);
    mmg__st_close(f);
    unlink(path);
    rmdir(dir);
}

/* ---- interop: the file tests/check_safetensors_interop.sh checks with Python ---- */

/* Writes to $MMGEN_ST_INTEROP_OUT when set (the check script), else to a
 * temporary file; the content is what read_safetensors.py --mmgen expects. */
Test(safetensors, interop_file) {
    const char *out = getenv("MMGEN_ST_INTEROP_OUT");
    char path[512], *dir = NULL;
    if (out && *out) snprintf(path, sizeof path, "%s", out);
    else {
        dir = temp_dir();
        snprintf(path, sizeof path, "%s/interop.safetensors", dir);
    }
    float a[6], b[4], c[3];
    uint16_t bh[4], cb[3];
    for (int i = 0; i < 6; i++) a[i] = (float)i * 0.75f - 2.0f;
    for (int i = 0; i < 4; i++) bh[i] = mmg__f32_to_f16(b[i] = (float)i * 0.1f);
    for (int i = 0; i < 3; i++) cb[i] = mmg__f32_to_bf16(c[i] = (float)(i + 1) / 3.0f);
    uint8_t scalar = 7;
    int32_t d[2] = {-7, 123456789};
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s3[1] = {3}, s21[2] = {2, 1}, s30[2] = {3, 0};
    mmg__st_writer *w = NULL;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    cr_assert_eq(mmg__st_writer_metadata(w, "producer", "mmgen test_safetensors"), MMG_OK);
    cr_assert_eq(mmg__st_writer_metadata(w, "unicode", "h\xc3\xa9llo \"q\"\n\\"), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "a.f32", MMG__DT_F32, 2, s23, a, sizeof a), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "b.f16", MMG__DT_F16, 1, s4, bh, sizeof bh), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "c.bf16", MMG__DT_BF16, 1, s3, cb, sizeof cb), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "tab\tname \xe2\x98\x83", MMG__DT_U8, 0, NULL, &scalar, 1), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "d.i32", MMG__DT_I32, 2, s21, d, sizeof d), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "e.empty", MMG__DT_F16, 2, s30, NULL, 0), MMG_OK);
    cr_assert_eq(mmg__st_writer_write(w, path), MMG_OK, "%s", mmg_last_error());
    mmg__st_writer_free(w);

    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg__st_count(f), 6);
    float got[6];
    cr_assert_eq(mmg__st_read_f32(mmg__st_find(f, "a.f32"), got, 6), MMG_OK);
    cr_assert_eq(memcmp(got, a, sizeof a), 0);
    cr_assert_eq(mmg__st_read_f32(mmg__st_find(f, "b.f16"), got, 4), MMG_OK);
    for (int i = 0; i < 4; i++) cr_assert(fabsf(got[i] - b[i]) <= fabsf(b[i]) * 0x1p-11f);
    cr_assert_eq(mmg__st_read_f32(mmg__st_find(f, "c.bf16"), got, 3), MMG_OK);
    for (int i = 0; i < 3; i++) cr_assert(fabsf(got[i] - c[i]) <= fabsf(c[i]) * 0x1p-8f);
    cr_assert_str_eq(mmg__st_metadata(f, "unicode"), "h\xc3\xa9llo \"q\"\n\\");
    mmg__st_close(f);
    if (dir) {
        unlink(path);
        rmdir(dir);
    }
}

/* ---- mmg__st_pread_f32: reading without the mapping ----------------------------- */

static uint32_t lcg_next(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

/* Writes a file with float tensors larger than the 1 MiB pread buffer, a
 * tiny one, an empty one and an integer one; returns the open writer's
 * buffers through the statics so the caller can free them. */
static float *p_f32;
static uint16_t *p_f16, *p_bf16;
static double *p_f64;
enum { P_F32 = 300001, P_F16 = 700003, P_BF16 = 3, P_F64 = 200001 };

static void write_pread_file(const char *path) {
    uint32_t s = 12345;
    p_f32 = malloc(P_F32 * sizeof *p_f32);
    p_f16 = malloc(P_F16 * sizeof *p_f16);
    p_bf16 = malloc(P_BF16 * sizeof *p_bf16);
    p_f64 = malloc(P_F64 * sizeof *p_f64);
    for (size_t i = 0; i < P_F32; i++) p_f32[i] = (float)(int32_t)lcg_next(&s) * 0x1p-20f;
    for (size_t i = 0; i < P_F16; i++) p_f16[i] = (uint16_t)(lcg_next(&s) >> 16);
    for (size_t i = 0; i < P_BF16; i++) p_bf16[i] = (uint16_t)(lcg_next(&s) >> 16);
    for (size_t i = 0; i < P_F64; i++) p_f64[i] = (double)(int32_t)lcg_next(&s) * 1e-7;
    int64_t a[1] = {P_F32}, b[2] = {P_F16, 1}, c[1] = {P_BF16}, d[1] = {P_F64}, e[2] = {0, 5}, g[1] = {2};
    int64_t ints[2] = {1, 2};
    mmg__st_writer *w = NULL;
    cr_assert_eq(mmg__st_writer_create(&w), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "f32", MMG__DT_F32, 1, a, p_f32, P_F32 * 4), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "f16", MMG__DT_F16, 2, b, p_f16, P_F16 * 2), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "bf16", MMG__DT_BF16, 1, c, p_bf16, P_BF16 * 2), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "f64", MMG__DT_F64, 1, d, p_f64, P_F64 * 8), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "empty", MMG__DT_F16, 2, e, NULL, 0), MMG_OK);
    cr_assert_eq(mmg__st_writer_add(w, "ints", MMG__DT_I64, 1, g, ints, sizeof ints), MMG_OK);
    cr_assert_eq(mmg__st_writer_write(w, path), MMG_OK, "%s", mmg_last_error());
    mmg__st_writer_free(w);
}

static void free_pread_data(void) {
    free(p_f32);
    free(p_f16);
    free(p_bf16);
    free(p_f64);
}

/* The number of open file descriptors (entries of /proc/self/fd). */
static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* pread and the mapping give the same floats, bit for bit. */
static void check_pread_equals_read(const mmg__st_file *f) {
    const char *names[] = {"f32", "f16", "bf16", "f64", "empty"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const mmg__st_tensor *t = mmg__st_find(f, names[i]);
        cr_assert_not_null(t);
        float *x = malloc((t->numel + 1) * 4), *y = malloc((t->numel + 1) * 4);
        cr_assert_eq(mmg__st_read_f32(t, x, t->numel), MMG_OK);
        cr_assert_eq(mmg__st_pread_f32(f, t, y, t->numel), MMG_OK, "%s: %s", names[i], mmg_last_error());
        cr_assert_eq(memcmp(x, y, t->numel * 4), 0, "tensor %s differs", names[i]);
        free(x);
        free(y);
    }
    /* what read_f32 refuses, pread_f32 refuses the same way */
    float tmp[4];
    cr_assert_eq(mmg__st_pread_f32(f, mmg__st_find(f, "ints"), tmp, 2), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "ints"), "%s", mmg_last_error());
    cr_assert_eq(mmg__st_pread_f32(f, mmg__st_find(f, "bf16"), tmp, 4), MMG_ERR_FORMAT);
    cr_assert_eq(mmg__st_pread_f32(NULL, mmg__st_find(f, "bf16"), tmp, 3), MMG_ERR_INVALID_ARG);
}

Test(safetensors_pread, matches_the_mapping_for_every_float_dtype) {
    char *dir = temp_dir(), path[512];
    snprintf(path, sizeof path, "%s/pread.safetensors", dir);
    write_pread_file(path);
    int fds_before = open_fds();
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(open_fds(), fds_before + 1, "a mapped file keeps its descriptor");
    check_pread_equals_read(f);
    /* the values are the written ones (F32 exactly, F16 per element) */
    const mmg__st_tensor *t = mmg__st_find(f, "f16");
    float *y = malloc(P_F16 * 4);
    cr_assert_eq(mmg__st_pread_f32(f, t, y, P_F16), MMG_OK);
    for (size_t i = 0; i < P_F16; i += 9973) {
        float want = mmg__f16_to_f32(p_f16[i]);
        cr_assert(memcmp(&want, &y[i], 4) == 0, "f16 element %zu", i);
    }
    free(y);
    mmg__st_close(f);
    cr_assert_eq(open_fds(), fds_before, "close releases the descriptor");
    /* a file opened from memory falls back to the in-memory bytes */
    size_t len;
    uint8_t *mem = read_whole(path, &len);
    cr_assert_eq(mmg__st_open_memory(mem, len, &f), MMG_OK);
    check_pread_equals_read(f);
    mmg__st_close(f);
    free(mem);
    unlink(path);
    rmdir(dir);
    free_pread_data();
}

/* Through the mapping, reading a truncated file raises SIGBUS; through
 * pread it is an error naming the file and the tensor. */
Test(safetensors_pread, a_file_truncated_after_opening_is_an_io_error) {
    char *dir = temp_dir(), path[512];
    snprintf(path, sizeof path, "%s/shrinks.safetensors", dir);
    write_pread_file(path);
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK, "%s", mmg_last_error());
    const mmg__st_tensor *t = mmg__st_find(f, "f64");
    cr_assert_eq(truncate(path, (off_t)mmg__st_file_size(f) / 2), 0);
    float *y = malloc(P_F32 * 4); /* the larger of f64 and f32 */
    cr_assert_eq(mmg__st_pread_f32(f, t, y, P_F64), MMG_ERR_IO);
    cr_assert(strstr(mmg_last_error(), path) && strstr(mmg_last_error(), "'f64'") &&
                  strstr(mmg_last_error(), "truncated"),
              "%s", mmg_last_error());
    /* the first tensor lies before the cut: still readable */
    cr_assert_eq(mmg__st_pread_f32(f, mmg__st_find(f, "f32"), y, P_F32), MMG_OK, "%s", mmg_last_error());
    free(y);
    mmg__st_close(f);
    unlink(path);
    rmdir(dir);
    free_pread_data();
}

Test(safetensors_pread, allocation_failure_of_the_buffer) {
    char *dir = temp_dir(), path[512];
    snprintf(path, sizeof path, "%s/nomem.safetensors", dir);
    write_pread_file(path);
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK, "%s", mmg_last_error());
    float *y = malloc(P_F16 * 4);
    mmg__fault_fail_after(1);
    mmg_status st = mmg__st_pread_f32(f, mmg__st_find(f, "f16"), y, P_F16);
    mmg__fault_fail_after(0);
    cr_assert_eq(st, MMG_ERR_NOMEM, "%s", mmg_last_error());
    /* F32 needs no buffer */
    mmg__fault_fail_after(1);
    st = mmg__st_pread_f32(f, mmg__st_find(f, "f32"), y, P_F32);
    mmg__fault_fail_after(0);
    cr_assert_eq(st, MMG_OK, "%s", mmg_last_error());
    free(y);
    mmg__st_close(f);
    unlink(path);
    rmdir(dir);
    free_pread_data();
    EXPECT_NO_LEAKS();
}

static long current_rss_kb(void) {
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    if (fp) fclose(fp);
    return kb;
}

/* The point of pread: the file's pages never join the resident set. The
 * mapping, as the control, does add them. */
Test(safetensors_pread, the_files_pages_stay_out_of_the_resident_set) {
    char *dir = temp_dir(), path[512];
    snprintf(path, sizeof path, "%s/rss.safetensors", dir);
    const size_t numel = (size_t)1 << 24; /* 64 MiB of F32 */
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr,
                      "{\"big\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[0,%zu]}}", numel, numel * 4);
    size_t len;
    uint8_t *b = make_file(hdr, (size_t)hl, 0, &len);
    write_whole(path, b, len);
    free(b);
    if (truncate(path, (off_t)(len + numel * 4)) != 0 || current_rss_kb() < 0) {
        unlink(path);
        rmdir(dir);
        cr_skip_test("no sparse file or no /proc/self/status here");
    }
    float *dst = malloc(numel * 4);
    memset(dst, 1, numel * 4); /* resident before measuring */
    mmg__st_file *f = NULL;
    cr_assert_eq(mmg__st_open(path, &f), MMG_OK, "%s", mmg_last_error());
    const mmg__st_tensor *t = mmg__st_find(f, "big");
    long before = current_rss_kb();
    cr_assert_eq(mmg__st_pread_f32(f, t, dst, numel), MMG_OK, "%s", mmg_last_error());
    long pread_grew = current_rss_kb() - before;
    cr_assert_eq(dst[0], 0.0f);
    cr_assert_eq(dst[numel - 1], 0.0f);
    before = current_rss_kb();
    cr_assert_eq(mmg__st_read_f32(t, dst, numel), MMG_OK);
    long map_grew = current_rss_kb() - before;
    cr_assert_lt(pread_grew, 8 * 1024, "pread grew the resident set by %ld KiB", pread_grew);
    cr_assert_gt(map_grew, 32 * 1024, "control: the mapping grew it by only %ld KiB", map_grew);
    mmg__st_close(f);
    free(dst);
    unlink(path);
    rmdir(dir);
}
