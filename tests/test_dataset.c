/* tests/test_dataset.c - token files and batch loaders.
 *
 * Expected batches are derived from the token arrays the tests write (a window
 * at offset o holds tokens o..o+T, labels shifted by one), so every check
 * follows from the definition of the batch, not from a previous run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dataset.h"
#include "mmgen/mmgen.h"

static char dir[256];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/mmgen-test-dataset-%d", (int)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)system(cmd);
}

static void write_tokens(const char *path, const uint32_t *t, size_t n, int bytes) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    for (size_t i = 0; i < n; i++) {
        if (bytes == 2) {
            uint16_t u = (uint16_t)t[i];
            fwrite(&u, 2, 1, f);
        } else {
            fwrite(&t[i], 4, 1, f);
        }
    }
    fclose(f);
}

static void path_of(char *out, const char *name) { snprintf(out, 512, "%s/%s", dir, name); }

/* Checks every row of a packed batch against the token array. */
static void check_windows(const mmg_batch *b, const uint32_t *tok, size_t n, int T) {
    for (int r = 0; r < b->batch_size; r++) {
        const int32_t *in = b->tgt + (size_t)r * T, *lab = b->labels + (size_t)r * T;
        /* find the window: it starts where in[0..T) matches */
        int len = b->tgt_len ? b->tgt_len[r] : T;
        size_t o = 0;
        int found = 0;
        for (o = 0; o + (size_t)len < n && !found; o++) {
            found = 1;
            for (int t = 0; t < len && found; t++)
                found = in[t] == (int32_t)tok[o + t] && lab[t] == (int32_t)tok[o + t + 1];
        }
        cr_assert(found, "row %d is not a window of the data with labels shifted by one", r);
    }
}

Test(dataset, packed_random_windows_u16_and_u32, .init = setup, .fini = teardown) {
    enum { N = 1000, T = 16 };
    static uint32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = (uint32_t)((i * 7919) % 50000); /* unique-ish sequence */
    for (int bytes = 2; bytes <= 4; bytes += 2) {
        char p[512];
        path_of(p, bytes == 2 ? "u16.bin" : "u32.bin");
        write_tokens(p, tok, N, bytes);
        mmg_dataset *ds;
        cr_assert_eq(mmg_dataset_open(p, bytes, &ds), MMG_OK, "%s", mmg_last_error());
        cr_assert_eq(mmg_dataset_n_tokens(ds), N);
        mmg_loader_options o;
        mmg_loader_options_init(&o, sizeof o);
        o.batch_size = 5;
        o.seq_len = T;
        o.seed = 99;
        mmg_loader *l;
        cr_assert_eq(mmg_loader_create_packed(ds, &o, &l), MMG_OK, "%s", mmg_last_error());
        for (int k = 0; k < 20; k++) {
            const mmg_batch *b;
            cr_assert_eq(mmg_loader_next(l, &b), MMG_OK);
            cr_assert_eq(b->batch_size, 5);
            cr_assert_eq(b->tgt_len_max, T);
            cr_assert_null(b->src);
            cr_assert_null(b->tgt_len, "full rows need no lengths");
            check_windows(b, tok, N, T);
        }
        mmg_loader_free(l);
        mmg_dataset_free(ds);
    }
}

Test(dataset, same_seed_same_batches_and_reset, .init = setup, .fini = teardown) {
    enum { N = 500, T = 8 };
    static int32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = i;
    mmg_dataset *ds;
    cr_assert_eq(mmg_dataset_from_tokens(tok, N, &ds), MMG_OK);
    mmg_loader_options o;
    mmg_loader_options_init(&o, sizeof o);
    o.batch_size = 3;
    o.seq_len = T;
    o.seed = 5;
    mmg_loader *a, *b;
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &a), MMG_OK);
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &b), MMG_OK);
    int32_t first[3 * T];
    for (int k = 0; k < 10; k++) {
        const mmg_batch *x, *y;
        cr_assert_eq(mmg_loader_next(a, &x), MMG_OK);
        cr_assert_eq(mmg_loader_next(b, &y), MMG_OK);
        cr_assert_eq(memcmp(x->tgt, y->tgt, sizeof(int32_t) * 3 * T), 0);
        if (k == 0) memcpy(first, x->tgt, sizeof first);
    }
    mmg_loader_reset(a);
    const mmg_batch *x;
    cr_assert_eq(mmg_loader_next(a, &x), MMG_OK);
    cr_assert_eq(memcmp(x->tgt, first, sizeof first), 0, "reset starts over");
    o.seed = 6;
    mmg_loader *c;
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &c), MMG_OK);
    cr_assert_eq(mmg_loader_next(c, &x), MMG_OK);
    cr_assert_neq(memcmp(x->tgt, first, sizeof first), 0, "another seed, other windows");
    mmg_loader_free(a);
    mmg_loader_free(b);
    mmg_loader_free(c);
    mmg_dataset_free(ds);
}

Test(dataset, sequential_covers_every_label_once_then_ends) {
    enum { N = 103, T = 10 };
    static int32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = i;
    mmg_dataset *ds;
    cr_assert_eq(mmg_dataset_from_tokens(tok, N, &ds), MMG_OK);
    mmg_loader_options o;
    mmg_loader_options_init(&o, sizeof o);
    o.batch_size = 4;
    o.seq_len = T;
    o.shuffle = 0;
    mmg_loader *l;
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &l), MMG_OK);
    for (int epoch = 0; epoch < 2; epoch++) {
        int seen[N] = {0}, batches = 0;
        for (;;) {
            const mmg_batch *b;
            cr_assert_eq(mmg_loader_next(l, &b), MMG_OK);
            if (!b) break;
            batches++;
            for (int r = 0; r < b->batch_size; r++) {
                int len = b->tgt_len ? b->tgt_len[r] : T;
                for (int t = 0; t < T; t++) {
                    int32_t y = b->labels[r * T + t];
                    if (t >= len) {
                        cr_assert_eq(y, -100, "padding is ignored");
                        continue;
                    }
                    cr_assert_eq(b->tgt[r * T + t] + 1, y);
                    seen[y]++;
                }
            }
        }
        /* labels 1..N-1 exactly once: 102 labels = 10 full rows + one of 2 */
        for (int i = 1; i < N; i++) cr_assert_eq(seen[i], 1, "epoch %d label %d seen %d times", epoch, i, seen[i]);
        cr_assert_eq(seen[0], 0);
        cr_assert_eq(batches, 3);
    }
    mmg_loader_free(l);
    mmg_dataset_free(ds);
}

Test(dataset, pread_fallback_reads_the_same, .init = setup, .fini = teardown) {
    enum { N = 40000 };
    static uint32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = (uint32_t)(i % 60000);
    char p[512];
    path_of(p, "big.bin");
    write_tokens(p, tok, N, 2);
    mmg_dataset *a, *b;
    cr_assert_eq(mmg_dataset_open(p, 2, &a), MMG_OK);
    cr_assert_eq(mmg__dataset_open_ex(p, 2, 0, &b), MMG_OK);
    cr_assert_null(b->data, "the pread dataset must not be mapped");
    static int32_t x[N], y[N];
    cr_assert_eq(mmg__dataset_read(a, 0, N, x, 0), MMG_OK);
    cr_assert_eq(mmg__dataset_read(b, 0, N, y, 0), MMG_OK); /* several pread chunks */
    cr_assert_eq(memcmp(x, y, sizeof x), 0);
    for (int i = 0; i < N; i++) cr_assert_eq(x[i], (int32_t)tok[i]);
    cr_assert_eq(mmg__dataset_read(b, N - 5, 10, y, 0), MMG_ERR_RANGE);
    mmg_dataset_free(a);
    mmg_dataset_free(b);
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A 40 GiB token file (sparse: it takes no disk) is larger than this
 * machine's memory; random windows from all over it come back right while
 * the process's resident memory stays small: only touched pages load. */
Test(dataset, streams_a_file_larger_than_memory, .init = setup, .fini = teardown) {
    char p[512];
    path_of(p, "huge.bin");
    const uint64_t n_tokens = (uint64_t)20 << 30; /* u16: 40 GiB */
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    /* a marker run of tokens 1..9 near the end, the rest zeros (holes) */
    const uint64_t mark = n_tokens - 1000;
    if (fseeko(f, (off_t)(mark * 2), SEEK_SET) != 0) cr_skip_test("cannot seek to 40 GiB here");
    for (uint16_t v = 1; v < 10; v++) fwrite(&v, 2, 1, f);
    if (ftruncate(fileno(f), (off_t)(n_tokens * 2)) != 0) {
        fclose(f);
        cr_skip_test("this file system cannot hold a 40 GiB sparse file");
    }
    fclose(f);
    long before = rss_kb();
    mmg_dataset *ds;
    cr_assert_eq(mmg_dataset_open(p, 2, &ds), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_dataset_n_tokens(ds), n_tokens);
    mmg_loader_options o;
    mmg_loader_options_init(&o, sizeof o);
    o.batch_size = 8;
    o.seq_len = 128;
    o.vocab_size = 16;
    mmg_loader *l;
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &l), MMG_OK);
    for (int k = 0; k < 50; k++) {
        const mmg_batch *b;
        cr_assert_eq(mmg_loader_next(l, &b), MMG_OK, "%s", mmg_last_error());
    }
    int32_t w[9];
    cr_assert_eq(mmg__dataset_read(ds, mark, 9, w, 16), MMG_OK);
    for (int i = 0; i < 9; i++) cr_assert_eq(w[i], i + 1);
    long grown = rss_kb() - before;
    cr_assert_lt(grown, 64 * 1024, "resident memory grew by %ld KiB reading a 40 GiB file", grown);
    mmg_loader_free(l);
    mmg_dataset_free(ds);
}

Test(dataset, bad_files_and_options_are_refused, .init = setup, .fini = teardown) {
    mmg_dataset *ds = (mmg_dataset *)0x1;
    char p[512];
    cr_assert_eq(mmg_dataset_open("/nonexistent/x.bin", 2, &ds), MMG_ERR_IO);
    cr_assert(strstr(mmg_last_error(), "/nonexistent/x.bin") != NULL);
    cr_assert_eq(ds, (mmg_dataset *)0x1, "out untouched on error");
    path_of(p, "odd.bin");
    FILE *f = fopen(p, "wb");
    fputc(1, f);
    fputc(2, f);
    fputc(3, f);
    fclose(f);
    cr_assert_eq(mmg_dataset_open(p, 2, &ds), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "multiple of 2") != NULL, "%s", mmg_last_error());
    path_of(p, "empty.bin");
    f = fopen(p, "wb");
    fclose(f);
    cr_assert_eq(mmg_dataset_open(p, 4, &ds), MMG_ERR_FORMAT);
    cr_assert_eq(mmg_dataset_open(p, 3, &ds), MMG_ERR_INVALID_ARG);
    const int32_t neg[2] = {1, -4};
    cr_assert_eq(mmg_dataset_from_tokens(neg, 2, &ds), MMG_ERR_INVALID_ARG);

    const int32_t tok[20] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 99};
    cr_assert_eq(mmg_dataset_from_tokens(tok, 20, &ds), MMG_OK);
    mmg_loader_options o;
    mmg_loader_options_init(&o, sizeof o);
    mmg_loader *l = NULL;
    o.seq_len = 20; /* needs 21 tokens */
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &l), MMG_ERR_RANGE);
    o.seq_len = 4;
    o.batch_size = 0;
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &l), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "batch_size") != NULL);
    o.batch_size = 2;
    o.struct_size = 3;
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &l), MMG_ERR_INVALID_ARG);
    o.struct_size = sizeof o;
    /* token 99 is outside a vocabulary of 50: named when read */
    o.vocab_size = 50;
    o.shuffle = 0;
    o.batch_size = 8;
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &l), MMG_OK);
    const mmg_batch *b;
    cr_assert_eq(mmg_loader_next(l, &b), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "token 99") != NULL, "%s", mmg_last_error());
    mmg_loader_free(l);
    mmg_dataset_free(ds);
}

/* ---- (source, target) pairs ------------------------------------------------------------ */

Test(dataset, pairs_are_padded_masked_and_framed_with_bos_eos) {
    /* separator 0; three pairs */
    const int32_t src[] = {5, 6, 7, 0, 8, 0, 9, 9, 9, 9, 0};
    const int32_t tgt[] = {11, 12, 0, 13, 14, 15, 0, 16, 0};
    mmg_dataset *ds, *dt;
    cr_assert_eq(mmg_dataset_from_tokens(src, sizeof src / 4, &ds), MMG_OK);
    cr_assert_eq(mmg_dataset_from_tokens(tgt, sizeof tgt / 4, &dt), MMG_OK);
    mmg_loader_options o;
    mmg_loader_options_init(&o, sizeof o);
    o.batch_size = 3;
    o.seq_len = 8;
    o.max_src_len = 3; /* the third source (4 tokens) is cut */
    o.shuffle = 0;
    o.bos_id = 1;
    o.eos_id = 2;
    o.pad_id = 3;
    mmg_loader *l;
    cr_assert_eq(mmg_loader_create_pairs(ds, dt, &o, &l), MMG_OK, "%s", mmg_last_error());
    const mmg_batch *b;
    cr_assert_eq(mmg_loader_next(l, &b), MMG_OK);
    cr_assert_eq(b->batch_size, 3);
    cr_assert_eq(b->src_len_max, 3);
    const int32_t want_src[9] = {5, 6, 7, 8, 3, 3, 9, 9, 9};
    const int32_t want_slen[3] = {3, 1, 3};
    cr_assert_eq(memcmp(b->src, want_src, sizeof want_src), 0);
    cr_assert_eq(memcmp(b->src_len, want_slen, sizeof want_slen), 0);
    /* targets: [bos] + tgt + [eos] -> inputs row[0..n-1), labels row[1..n) */
    cr_assert_eq(b->tgt_len_max, 4);
    const int32_t want_in[12] = {1, 11, 12, 3, 1, 13, 14, 15, 1, 16, 3, 3};
    const int32_t want_lab[12] = {11, 12, 2, -100, 13, 14, 15, 2, 16, 2, -100, -100};
    const int32_t want_tlen[3] = {3, 4, 2};
    cr_assert_eq(memcmp(b->tgt, want_in, sizeof want_in), 0);
    cr_assert_eq(memcmp(b->labels, want_lab, sizeof want_lab), 0);
    cr_assert_eq(memcmp(b->tgt_len, want_tlen, sizeof want_tlen), 0);
    cr_assert_eq(mmg_loader_next(l, &b), MMG_OK);
    cr_assert_null(b, "sequential: the epoch ends");
    cr_assert_eq(mmg_loader_next(l, &b), MMG_OK);
    cr_assert_not_null(b, "and starts again");
    mmg_loader_free(l);
    mmg_dataset_free(ds);
    mmg_dataset_free(dt);
}

Test(dataset, pairs_shuffle_each_epoch_as_a_permutation) {
    enum { P = 7 };
    int32_t src[2 * P], tgt[3 * P];
    for (int i = 0; i < P; i++) {
        src[2 * i] = 10 + i;
        src[2 * i + 1] = 0;
        tgt[3 * i] = 20 + i;
        tgt[3 * i + 1] = 30 + i;
        tgt[3 * i + 2] = 0;
    }
    mmg_dataset *ds, *dt;
    cr_assert_eq(mmg_dataset_from_tokens(src, 2 * P, &ds), MMG_OK);
    cr_assert_eq(mmg_dataset_from_tokens(tgt, 3 * P, &dt), MMG_OK);
    mmg_loader_options o;
    mmg_loader_options_init(&o, sizeof o);
    o.batch_size = 1;
    o.seed = 3;
    mmg_loader *l;
    cr_assert_eq(mmg_loader_create_pairs(ds, dt, &o, &l), MMG_OK, "%s", mmg_last_error());
    int order[2][P];
    for (int e = 0; e < 2; e++) {
        int seen[P] = {0};
        for (int k = 0; k < P; k++) {
            const mmg_batch *b;
            cr_assert_eq(mmg_loader_next(l, &b), MMG_OK);
            int i = b->src[0] - 10;
            cr_assert_eq(b->tgt[0], 20 + i, "pairs stay together");
            cr_assert_eq(b->labels[0], 30 + i);
            seen[i]++;
            order[e][k] = i;
        }
        for (int i = 0; i < P; i++) cr_assert_eq(seen[i], 1, "epoch %d is a permutation", e);
    }
    cr_assert_neq(memcmp(order[0], order[1], sizeof order[0]), 0, "each epoch reshuffles");
    mmg_loader_free(l);
    mmg_dataset_free(ds);
    mmg_dataset_free(dt);
}

Test(dataset, mismatched_pair_files_are_refused) {
    const int32_t src[] = {5, 0, 6, 0};
    const int32_t tgt[] = {7, 8, 0};
    const int32_t empty_src[] = {0, 6, 0};
    mmg_dataset *ds, *dt, *de;
    cr_assert_eq(mmg_dataset_from_tokens(src, 4, &ds), MMG_OK);
    cr_assert_eq(mmg_dataset_from_tokens(tgt, 3, &dt), MMG_OK);
    cr_assert_eq(mmg_dataset_from_tokens(empty_src, 3, &de), MMG_OK);
    mmg_loader *l = NULL;
    cr_assert_eq(mmg_loader_create_pairs(ds, dt, NULL, &l), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "2 sequences") != NULL, "%s", mmg_last_error());
    cr_assert_null(l);
    cr_assert_eq(mmg_loader_create_pairs(de, de, NULL, &l), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "empty") != NULL, "%s", mmg_last_error());
    mmg_loader_options o;
    mmg_loader_options_init(&o, sizeof o);
    o.vocab_size = 10;
    o.pad_id = 10;
    cr_assert_eq(mmg_loader_create_pairs(ds, ds, &o, &l), MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "pad_id") != NULL, "%s", mmg_last_error());
    mmg_dataset_free(ds);
    mmg_dataset_free(dt);
    mmg_dataset_free(de);
}

Test(dataset, loader_state_round_trip_resumes_the_same_batches) {
    enum { N = 300, T = 5 };
    static int32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = i;
    mmg_dataset *ds;
    cr_assert_eq(mmg_dataset_from_tokens(tok, N, &ds), MMG_OK);
    mmg_loader_options o;
    mmg_loader_options_init(&o, sizeof o);
    o.batch_size = 2;
    o.seq_len = T;
    mmg_loader *a, *b;
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &a), MMG_OK);
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &b), MMG_OK);
    const mmg_batch *x, *y;
    for (int k = 0; k < 7; k++) cr_assert_eq(mmg_loader_next(a, &x), MMG_OK);
    uint64_t st[MMG__LOADER_STATE_LEN];
    mmg__loader_get_state(a, st);
    cr_assert_eq(mmg__loader_set_state(b, st), MMG_OK);
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(mmg_loader_next(a, &x), MMG_OK);
        cr_assert_eq(mmg_loader_next(b, &y), MMG_OK);
        cr_assert_eq(memcmp(x->tgt, y->tgt, sizeof(int32_t) * 2 * T), 0);
    }
    /* another loader shape refuses the state and stays as it was */
    o.seq_len = T + 1;
    mmg_loader *c;
    cr_assert_eq(mmg_loader_create_packed(ds, &o, &c), MMG_OK);
    cr_assert_eq(mmg__loader_set_state(c, st), MMG_ERR_CONFIG);
    cr_assert(strstr(mmg_last_error(), "seq_len") != NULL, "%s", mmg_last_error());
    mmg_loader_free(a);
    mmg_loader_free(b);
    mmg_loader_free(c);
    mmg_dataset_free(ds);
}
