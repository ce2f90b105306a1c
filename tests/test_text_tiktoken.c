/* tests/test_text_tiktoken.c - the text plugin yields exactly tiktoken's ids.
 *
 * tests/fixtures/text/tiktoken_cases.txt holds (encoding, text, ids) triples
 * produced by tiktoken itself (tests/tiktoken/make_fixture.js): English,
 * contractions in every case, digits, 15 scripts, emoji sequences, code,
 * whitespace runs, \r\n mixes, Unicode 16 letters, seeded fuzz. The whole
 * Shakespeare file, C headers and invalid UTF-8 are compared live with
 * tiktoken by tests/check_tiktoken.sh.
 *
 * Long pieces: the merge engine switches to a heap above 48 bytes; pieces of
 * a few thousand bytes are compared with tiktoken's own O(n^2) algorithm
 * written out here, and 1 MB pieces (tiktoken#195) must round-trip. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_plugin_host.h"

static const mmg_plugin_descriptor *D;
static const char *DATA;

static void setup(void) {
    D = th_open_text(NULL);
    cr_assert_not_null(D, "the text plugin must load");
    DATA = th_data_dir();
}

TestSuite(text_tiktoken, .init = setup);

static int hexval(int c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

Test(text_tiktoken, fixture_ids_match_tiktoken) {
    if (!DATA) cr_skip_test("shared data (gpt2/ vocabularies) not found; set MMGEN_TEST_DATA");
    FILE *f = fopen(MMGEN_SOURCE_DIR "/tests/fixtures/text/tiktoken_cases.txt", "rb");
    cr_assert_not_null(f, "fixture missing");
    static char line[1 << 20];
    char current[32] = "";
    void *t = NULL;
    int compared = 0, per_encoding[4] = {0};
    const char *names[4] = {"gpt2", "r50k_base", "p50k_base", "cl100k_base"};
    while (fgets(line, sizeof line, f)) {
        char *enc = strtok(line, " \n"), *hex = strtok(NULL, " \n"), *ids_s = strtok(NULL, " \n");
        if (!enc) continue;
        if (!hex || hex[0] == ',') { /* empty text: the fields shift */
            ids_s = hex;
            hex = "";
        }
        if (strcmp(enc, current) != 0) {
            D->destroy(t);
            t = th_create(D, th_config(DATA, enc));
            cr_assert_not_null(t, "%s: %s", enc, th_error);
            snprintf(current, sizeof current, "%s", enc);
        }
        size_t n = strlen(hex) / 2;
        uint8_t *text = malloc(n + 1);
        for (size_t i = 0; i < n; i++) text[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
        size_t n_ref = 0;
        int32_t *ref = malloc((strlen(ids_s ? ids_s : "") / 2 + 1) * sizeof *ref);
        for (char *p = ids_s; p && *p;) {
            ref[n_ref++] = (int32_t)strtol(p, &p, 10);
            if (*p == ',') p++;
        }
        int32_t *ids;
        size_t count;
        cr_assert_eq(D->encode(t, text, n, &ids, &count), 0);
        size_t i = 0;
        while (i < count && i < n_ref && ids[i] == ref[i]) i++;
        cr_assert(i == count && i == n_ref,
                  "%s: text \"%.80s\": first difference at token %zu (ours %d, tiktoken %d), %zu vs %zu tokens",
                  enc, (char *)text, i, i < count ? ids[i] : -1, i < n_ref ? ref[i] : -1, count, n_ref);
        free(ids);
        free(ref);
        free(text);
        compared++;
        for (int k = 0; k < 4; k++) per_encoding[k] += strcmp(enc, names[k]) == 0;
    }
    fclose(f);
    D->destroy(t);
    for (int k = 0; k < 4; k++) cr_assert_gt(per_encoding[k], 50, "%s: only %d cases", names[k], per_encoding[k]);
    cr_log_info("%d texts gave tiktoken's ids", compared);
}

/* ---- tiktoken's merge algorithm, written out (O(n^2)) ---------------------- */

typedef struct rank_map {
    const mmg_plugin_descriptor *d;
    void *t;
    uint8_t **tok;
    size_t *len;
    int32_t n;
    int32_t *slot; /* open addressing over (hash -> id) */
    size_t cap;
} rank_map;

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void rank_map_build(rank_map *m, void *t) {
    m->t = t;
    m->n = D->vocab_size(t);
    m->tok = calloc((size_t)m->n, sizeof *m->tok);
    m->len = calloc((size_t)m->n, sizeof *m->len);
    m->cap = 1;
    while (m->cap < 4 * (size_t)m->n) m->cap *= 2;
    m->slot = malloc(m->cap * sizeof *m->slot);
    for (size_t i = 0; i < m->cap; i++) m->slot[i] = -1;
    for (int32_t id = 0; id < m->n; id++) {
        char desc[8];
        size_t dl;
        /* Special tokens (unquoted descriptions) and unused ids have no rank. */
        if (D->describe_token(t, id, desc, sizeof desc, &dl) != 0 || desc[0] != '"') continue;
        if (D->decode(t, &id, 1, &m->tok[id], &m->len[id]) != 0) continue;
        size_t k = fnv(m->tok[id], m->len[id]) & (m->cap - 1);
        while (m->slot[k] >= 0) k = (k + 1) & (m->cap - 1);
        m->slot[k] = id;
    }
}

static int32_t rank_of(const rank_map *m, const uint8_t *p, size_t n) {
    for (size_t k = fnv(p, n) & (m->cap - 1); m->slot[k] >= 0; k = (k + 1) & (m->cap - 1)) {
        int32_t id = m->slot[k];
        if (m->len[id] == n && memcmp(m->tok[id], p, n) == 0) return id;
    }
    return INT32_MAX;
}

/* tiktoken's _byte_pair_merge on one piece. */
static size_t reference_bpe(const rank_map *m, const uint8_t *p, size_t n, int32_t *out) {
    size_t *start = malloc((n + 1) * sizeof *start), parts = n + 1;
    int32_t *rank = malloc((n + 1) * sizeof *rank);
    for (size_t i = 0; i <= n; i++) {
        start[i] = i;
        rank[i] = i + 2 <= n ? rank_of(m, p + i, 2) : INT32_MAX;
    }
    for (;;) {
        int32_t best = INT32_MAX;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < parts; i++)
            if (rank[i] < best) best = rank[i], bi = i;
        if (best == INT32_MAX) break;
        rank[bi] = bi + 3 < parts ? rank_of(m, p + start[bi], start[bi + 3] - start[bi]) : INT32_MAX;
        if (bi > 0) rank[bi - 1] = bi + 2 < parts ? rank_of(m, p + start[bi - 1], start[bi + 2] - start[bi - 1]) : INT32_MAX;
        memmove(&start[bi + 1], &start[bi + 2], (parts - bi - 2) * sizeof *start);
        memmove(&rank[bi + 1], &rank[bi + 2], (parts - bi - 2) * sizeof *rank);
        parts--;
    }
    for (size_t i = 0; i + 1 < parts; i++) out[i] = rank_of(m, p + start[i], start[i + 1] - start[i]);
    free(start);
    free(rank);
    return parts - 1;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

Test(text_tiktoken, long_pieces_merge_as_tiktoken_does) {
    if (!DATA) cr_skip_test("shared data (gpt2/ vocabularies) not found; set MMGEN_TEST_DATA");
    const char *encs[] = {"r50k_base", "cl100k_base"};
    for (int e = 0; e < 2; e++) {
        void *t = th_create(D, th_config(DATA, encs[e]));
        cr_assert_not_null(t);
        rank_map m = {0};
        rank_map_build(&m, t);
        /* One piece each: a letter run, a whitespace run (ending the text), a
         * symbol run; several alphabets so that merges vary. */
        const char *alphabets[] = {"a", "ab", "abcdefghijklmnopqrstuvwxyz", "etaoinshrdlu", " ", "!?.", "é"};
        for (int iter = 0; iter < 21; iter++) {
            const char *alpha = alphabets[iter % 7];
            size_t an = strlen(alpha), n = 49 + rnd() % 2000;
            uint8_t *p = malloc(n + 2);
            if (iter % 7 == 6) {
                for (size_t i = 0; i + 1 < n; i += 2) p[i] = 0xC3, p[i + 1] = 0xA9;
                n &= ~(size_t)1;
            } else {
                for (size_t i = 0; i < n; i++) p[i] = (uint8_t)alpha[rnd() % an];
            }
            int32_t *ids, *ref = malloc(n * sizeof *ref);
            size_t count;
            cr_assert_eq(D->encode(t, p, n, &ids, &count), 0);
            size_t n_ref = reference_bpe(&m, p, n, ref);
            /* The plugin pre-tokenizes; these inputs are one piece except the
             * cl100k letter runs, which are one piece too. Compare. */
            cr_assert_eq(count, n_ref, "%s alphabet \"%s\" n=%zu: %zu vs %zu tokens", encs[e], alpha, n, count, n_ref);
            cr_assert(memcmp(ids, ref, count * sizeof *ids) == 0, "%s alphabet \"%s\" n=%zu: ids differ", encs[e], alpha, n);
            free(ids), free(ref), free(p);
        }
        for (int32_t id = 0; id < m.n; id++) free(m.tok[id]);
        free(m.tok), free(m.len), free(m.slot);
        D->destroy(t);
    }
}

static void megabyte(void *t, const char *what, uint8_t (*byte)(size_t)) {
    size_t n = 1 << 20;
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++) p[i] = byte(i);
    int32_t *ids;
    size_t count;
    cr_assert_eq(D->encode(t, p, n, &ids, &count), 0, "%s: %s", what, th_error);
    cr_assert_gt(count, 0);
    cr_assert_leq(count, n);
    uint8_t *back;
    size_t m;
    cr_assert_eq(D->decode(t, ids, count, &back, &m), 0);
    cr_assert_eq(m, n, "%s", what);
    cr_assert(memcmp(back, p, n) == 0, "%s: round trip", what);
    free(ids), free(back), free(p);
}

static uint8_t one_char(size_t i) { (void)i; return 'a'; }
static uint8_t space(size_t i) { (void)i; return ' '; }
static uint8_t word(size_t i) { return (uint8_t)('a' + (i * 7 + i / 3 + (i >> 5) * 11) % 26); }
static uint8_t digit(size_t i) { return (uint8_t)('0' + (i * 7) % 10); }

/* The timings are in bench/run_text.sh; here only correctness. */
Test(text_tiktoken, megabyte_pieces_round_trip) {
    if (!DATA) cr_skip_test("shared data (gpt2/ vocabularies) not found; set MMGEN_TEST_DATA");
    const char *encs[] = {"gpt2", "cl100k_base"};
    for (int e = 0; e < 2; e++) {
        void *t = th_create(D, th_config(DATA, encs[e]));
        cr_assert_not_null(t);
        megabyte(t, "1 MB of 'a'", one_char);
        megabyte(t, "1 MB of spaces", space);
        megabyte(t, "a 1 MB word", word);
        megabyte(t, "1 MB of digits", digit);
        D->destroy(t);
    }
}
