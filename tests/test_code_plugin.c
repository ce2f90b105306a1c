/* tests/test_code_plugin.c - the code plugin through its ABI: fitting,
 * byte-exact round trips over every file under /usr/include and random
 * bytes, special tokens and language tags, the document header, FIM
 * layouts, saved states, stream decoding, and bad input (unknown language,
 * bad config, out-of-range ids, malformed or foreign states). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "code_plugin_host.h"

static const mmg_plugin_descriptor *D;
static void *T;           /* fitted, no options */
static uint8_t *STATE;
static size_t STATE_SIZE;

static void setup(void) {
    D = ch_open_code();
    cr_assert_not_null(D, "the code plugin must load");
    T = ch_fit(D, 2000, &STATE, &STATE_SIZE);
    cr_assert_not_null(T, "fit: %s", th_error);
}

static void teardown(void) {
    D->destroy(T);
    free(STATE);
}

TestSuite(code_plugin, .init = setup, .fini = teardown);

static void roundtrip(void *t, const uint8_t *doc, size_t n, const char *what) {
    size_t count, m;
    int32_t *ids = ch_encode(D, t, doc, n, &count);
    cr_assert_not_null(ids, "%s: encode: %s", what, th_error);
    uint8_t *back;
    cr_assert_eq(D->decode(t, ids, count, &back, &m), 0, "%s: decode: %s", what, th_error);
    cr_assert(m == n && memcmp(back, doc, n) == 0, "%s: %zu bytes came back as %zu different ones", what, n, m);
    free(back);
    free(ids);
}

Test(code_plugin, descriptor) {
    cr_assert_str_eq(D->name, "code");
    cr_assert_eq(D->modality, MMG_MODALITY_CODE);
    cr_assert_eq(D->vocab_size(T), 2000);
    cr_assert_not_null(D->get_extension(T, MMG_EXT_CONSTRAINT_V1));
    cr_assert_not_null(D->get_extension(T, MMG_EXT_STREAM_DECODE_V1));
}

/* Walks dir, round-tripping every regular file; returns the bytes seen. */
static size_t walk(const char *dir, int stride, size_t *files, size_t *counter) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t total = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            total += walk(path, stride, files, counter);
        } else if (S_ISREG(st.st_mode) && (*counter)++ % (size_t)stride == 0) {
            size_t n;
            uint8_t *b = ch_read(path, &n);
            if (!b) continue;
            roundtrip(T, b, n, path);
            free(b);
            total += n;
            (*files)++;
        }
    }
    closedir(d);
    return total;
}

Test(code_plugin, every_file_under_usr_include_round_trips, .timeout = 600) {
    /* Under the sanitizers every 8th file (each costs several times more). */
    const char *san = getenv("MMGEN_SANITIZE");
    int stride = san && !strcmp(san, "1") ? 8 : 1;
    size_t files = 0, counter = 0;
    size_t bytes = walk("/usr/include", stride, &files, &counter);
    if (!files) cr_skip_test("/usr/include is empty here");
    cr_log_info("%zu files, %zu bytes round-tripped", files, bytes);
    cr_assert_gt(files, 100);
}

Test(code_plugin, random_bytes_round_trip) {
    static const char ALPHABET[] = "  \t\r\n\n{}()[];:=+-*/\"'#\\x_9\x00\xf0\x9f\xe9 ";
    uint64_t r = 0x123456789ABCDEFull;
    uint8_t buf[8192];
    for (int iter = 0; iter < 300; iter++) {
        size_t n = (size_t)(iter * 2654435761u % sizeof buf);
        for (size_t i = 0; i < n; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            uint8_t c = (uint8_t)(r >> 40);
            /* raw bytes, or code-like text with CRLF, tabs, NUL and trailing spaces */
            buf[i] = iter % 2 ? c : (uint8_t)ALPHABET[c % (sizeof ALPHABET - 1)];
        }
        roundtrip(T, buf, n, "random bytes");
    }
    roundtrip(T, (const uint8_t *)"", 0, "the empty document");
    roundtrip(T, (const uint8_t *)"x = 1   \r\n\t\ty\t \n", 17, "trailing whitespace");
}

Test(code_plugin, special_tokens) {
    int32_t eos, bos, pad, pre, mid, suf, c, py, py2;
    cr_assert_eq(D->special_token(T, "eos", &eos), 0);
    cr_assert_eq(D->special_token(T, "bos", &bos), 0);
    cr_assert_eq(D->special_token(T, "pad", &pad), 0);
    cr_assert(eos == bos && bos == pad);
    cr_assert_eq(D->special_token(T, "<|endoftext|>", &eos), 0);
    cr_assert_eq(D->special_token(T, "fim_prefix", &pre), 0);
    cr_assert_eq(D->special_token(T, "fim_middle", &mid), 0);
    cr_assert_eq(D->special_token(T, "fim_suffix", &suf), 0);
    cr_assert_eq(D->special_token(T, "lang:c", &c), 0);
    cr_assert_eq(D->special_token(T, "lang:python", &py), 0);
    cr_assert_eq(D->special_token(T, "<|lang:python|>", &py2), 0);
    cr_assert_eq(py, py2);
    /* The documented layout: eot, prefix, middle, suffix, then the tags in table order. */
    cr_assert_eq(pre, eos + 1);
    cr_assert_eq(mid, eos + 2);
    cr_assert_eq(suf, eos + 3);
    cr_assert_eq(c, eos + 4);
    cr_assert_eq(py, eos + 6);
    char desc[64];
    size_t len;
    cr_assert_eq(D->describe_token(T, py, desc, sizeof desc, &len), 0);
    cr_assert_str_eq(desc, "<|lang:python|>");
    cr_assert_eq(D->special_token(T, "lang:cobol", &c), MMG_ERR_NOT_FOUND);
    cr_assert(strstr(th_error, "cobol"), "%s", th_error);
    cr_assert_eq(D->special_token(T, "<|nothing|>", &c), MMG_ERR_NOT_FOUND);
    /* encode never makes a special token from the document's text */
    size_t count;
    int32_t *ids = ch_encode(D, T, "<|endoftext|><|lang:c|>", 23, &count);
    for (size_t i = 0; i < count; i++) cr_assert_lt(ids[i], eos);
    free(ids);
}

static int32_t special(void *t, const char *name) {
    int32_t id = -1;
    cr_assert_eq(D->special_token(t, name, &id), 0, "%s: %s", name, th_error);
    return id;
}

/* A header with the given fields (NUL-separated in `fields`, `nf` bytes)
 * followed by content. */
static uint8_t *with_header(const char *fields, size_t nf, const char *content, size_t *n) {
    size_t nc = strlen(content);
    uint8_t *b = malloc(nf + 1 + nc);
    memcpy(b, fields, nf);
    b[nf] = 0;
    memcpy(b + nf + 1, content, nc);
    *n = nf + 1 + nc;
    return b;
}

static int32_t first_id(void *t, const char *fields, size_t nf, const char *content) {
    size_t n, count;
    uint8_t *doc = with_header(fields, nf, content, &n);
    int32_t *ids = ch_encode(D, t, doc, n, &count);
    cr_assert_not_null(ids, "header \"%s\": %s", fields, th_error);
    int32_t id = count ? ids[0] : -1;
    free(ids), free(doc);
    return id;
}

#define F(s) s, sizeof s - 1

Test(code_plugin, language_from_the_header_or_the_config) {
    void *h = ch_with_state(D, "{\"header\": true}", STATE, STATE_SIZE);
    cr_assert_not_null(h, "%s", th_error);
    cr_assert_eq(first_id(h, F("name=src/util.py\0"), "x = 1\n"), special(h, "lang:python"));
    cr_assert_eq(first_id(h, F("name=/usr/include/stdio.h\0"), "int x;\n"), special(h, "lang:c"));
    cr_assert_eq(first_id(h, F("name=a/b/Makefile\0"), "all:\n"), special(h, "lang:make"));
    cr_assert_eq(first_id(h, F("name=x.CPP\0"), "int x;\n"), special(h, "lang:cpp"));
    cr_assert_eq(first_id(h, F("name=x.py\0lang=c\0"), "int x;\n"), special(h, "lang:c"));
    cr_assert_lt(first_id(h, F("name=notes.unknownext\0"), "x"), special(h, "eos"), "no tag for an unknown extension");
    cr_assert_lt(first_id(h, F("name=x.py\0lang=none\0"), "x"), special(h, "eos"));
    cr_assert_lt(first_id(h, "", 0, "x"), special(h, "eos"), "an empty header: no tag");
    /* the content round-trips without the header, the tag decoding to nothing */
    size_t n, count, m;
    uint8_t *doc = with_header(F("name=a.py\0"), "def f():\n    return 1\n", &n);
    int32_t *ids = ch_encode(D, h, doc, n, &count);
    uint8_t *back;
    cr_assert_eq(D->decode(h, ids, count, &back, &m), 0);
    cr_assert(m == n - 11 && memcmp(back, doc + 11, m) == 0);
    free(back), free(ids), free(doc);
    D->destroy(h);

    void *c = ch_with_state(D, "{\"lang\": \"python\"}", STATE, STATE_SIZE);
    cr_assert_not_null(c, "%s", th_error);
    size_t k;
    ids = ch_encode(D, c, "pass\n", 5, &k);
    cr_assert_eq(ids[0], special(c, "lang:python"));
    free(ids);
    D->destroy(c);
}

Test(code_plugin, bad_headers_are_named) {
    void *h = ch_with_state(D, "{\"header\": true}", STATE, STATE_SIZE);
    struct { const char *doc; size_t n; int status; const char *needle; } bad[] = {
        {"plain text, no header", 21, MMG_ERR_FORMAT, "header"},
        {F("lang=cobol\0\0x"), MMG_ERR_NOT_FOUND, "cobol"},
        {F("colour=red\0\0x"), MMG_ERR_FORMAT, "colour"},
        {F("name\0\0x"), MMG_ERR_FORMAT, "key=value"},
        {F("fim=psm:5:2\0\0abcdef"), MMG_ERR_FORMAT, "psm"},
        {F("fim=psm:2:50\0\0abcdef"), MMG_ERR_RANGE, "50"},
        {F("fim=prompt:x\0\0abcdef"), MMG_ERR_FORMAT, "prompt"},
        {F("fim=sideways\0\0abc"), MMG_ERR_FORMAT, "sideways"},
        {F("context=0\0fim=prompt:1\0\0abc"), MMG_ERR_FORMAT, "context"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t *ids = NULL;
        size_t count;
        th_status = 0;
        cr_assert_eq(D->encode(h, (const uint8_t *)bad[i].doc, bad[i].n, &ids, &count), bad[i].status,
                     "case %zu: %s", i, th_error);
        cr_assert(strstr(th_error, bad[i].needle), "case %zu: \"%s\" should name \"%s\"", i, th_error, bad[i].needle);
        cr_assert_null(ids);
    }
    D->destroy(h);
}

/* Ids of `s` encoded alone (no header). */
static int32_t *enc(const char *s, size_t *count) { return ch_encode(D, T, s, strlen(s), count); }

Test(code_plugin, fim_layouts) {
    void *h = ch_with_state(D, "{\"header\": true}", STATE, STATE_SIZE);
    const char *content = "def add(a, b):\n    return a + b\n";
    size_t n, count;
    /* middle = bytes [8, 13): "a, b)" */
    uint8_t *doc = with_header(F("name=m.py\0fim=psm:8:13\0"), content, &n);
    int32_t *ids = ch_encode(D, h, doc, n, &count);
    cr_assert_not_null(ids, "%s", th_error);
    size_t np, ns, nm;
    char part[64];
    snprintf(part, sizeof part, "%.8s", content);
    int32_t *P = enc(part, &np);
    int32_t *S = enc(content + 13, &ns);
    snprintf(part, sizeof part, "%.5s", content + 8);
    int32_t *M = enc(part, &nm);
    size_t want = 1 + 1 + np + 1 + ns + 1 + nm, at = 0;
    cr_assert_eq(count, want, "%zu ids, expected %zu", count, want);
    cr_assert_eq(ids[at++], special(h, "lang:python"));
    cr_assert_eq(ids[at++], special(h, "fim_prefix"));
    cr_assert(memcmp(ids + at, P, np * sizeof *P) == 0);
    at += np;
    cr_assert_eq(ids[at++], special(h, "fim_suffix"));
    cr_assert(memcmp(ids + at, S, ns * sizeof *S) == 0);
    at += ns;
    cr_assert_eq(ids[at++], special(h, "fim_middle"));
    cr_assert(memcmp(ids + at, M, nm * sizeof *M) == 0);
    /* decode puts the sections back in document order */
    uint8_t *back;
    size_t m;
    cr_assert_eq(D->decode(h, ids, count, &back, &m), 0);
    cr_assert(m == strlen(content) && memcmp(back, content, m) == 0, "decoded \"%.*s\"", (int)m, back);
    free(back), free(ids), free(doc);

    /* the prompt stops after <|fim_middle|> */
    doc = with_header(F("fim=prompt:8\0"), content, &n);
    ids = ch_encode(D, h, doc, n, &count);
    cr_assert_not_null(ids, "%s", th_error);
    cr_assert_eq(ids[0], special(h, "fim_prefix"));
    cr_assert_eq(ids[count - 1], special(h, "fim_middle"));
    size_t ns2;
    int32_t *S2 = enc(content + 8, &ns2);
    cr_assert_eq(count, 1 + np + 1 + ns2 + 1, "prefix, suffix and three markers");
    cr_assert(memcmp(ids + 1, P, np * sizeof *P) == 0 && memcmp(ids + 2 + np, S2, ns2 * sizeof *S2) == 0);
    free(S2);
    free(ids), free(doc);
    /* a prompt larger than the model's context is refused, naming both sizes */
    doc = with_header(F("fim=prompt:8\0context=6\0"), content, &n);
    cr_assert_eq(D->encode(h, doc, n, &ids, &count), MMG_ERR_LIMIT);
    cr_assert(strstr(th_error, "context") && strstr(th_error, "6"), "%s", th_error);
    free(doc);
    D->destroy(h);
    free(P), free(S), free(M);
}

Test(code_plugin, fim_rate_makes_seeded_examples) {
    void *a = ch_with_state(D, "{\"fim_rate\": 0.5, \"fim_seed\": 7}", STATE, STATE_SIZE);
    void *b = ch_with_state(D, "{\"fim_rate\": 0.5, \"fim_seed\": 7}", STATE, STATE_SIZE);
    void *c = ch_with_state(D, "{\"fim_rate\": 0.5, \"fim_seed\": 8}", STATE, STATE_SIZE);
    cr_assert(a && b && c, "%s", th_error);
    int32_t pre = special(a, "fim_prefix");
    int fim = 0, differ = 0;
    char doc[256];
    for (int i = 0; i < 400; i++) {
        int n = snprintf(doc, sizeof doc, "def f%d(x):\n    return x * %d  # é\n", i, i * 31);
        size_t ka, kb, kc, m;
        int32_t *ia = ch_encode(D, a, doc, (size_t)n, &ka), *ib = ch_encode(D, b, doc, (size_t)n, &kb);
        int32_t *ic = ch_encode(D, c, doc, (size_t)n, &kc);
        cr_assert(ka == kb && memcmp(ia, ib, ka * sizeof *ia) == 0, "the same seed gives the same ids");
        differ += ka != kc || memcmp(ia, ic, ka * sizeof *ia) != 0;
        fim += ia[0] == pre;
        uint8_t *back;
        cr_assert_eq(D->decode(a, ia, ka, &back, &m), 0);
        cr_assert(m == (size_t)n && memcmp(back, doc, m) == 0, "FIM examples decode to the document");
        free(back), free(ia), free(ib), free(ic);
    }
    /* Binomial(400, 0.5): 200 +- 10 sd; 140..260 is six sd. */
    cr_assert(fim > 140 && fim < 260, "%d of 400 documents became FIM examples", fim);
    cr_assert_gt(differ, 100, "another seed draws other splits");
    D->destroy(a), D->destroy(b), D->destroy(c);
}

Test(code_plugin, state_round_trip_and_stream_decode) {
    void *t = ch_with_state(D, "", STATE, STATE_SIZE);
    cr_assert_not_null(t, "%s", th_error);
    const char *src = "static int f(void) {\n\treturn 0; /* zéro */\n}\n";
    size_t k1, k2;
    int32_t *a = enc(src, &k1), *b = ch_encode(D, t, src, strlen(src), &k2);
    cr_assert(k1 == k2 && memcmp(a, b, k1 * sizeof *a) == 0);
    uint8_t *again;
    size_t n_again;
    cr_assert_eq(D->save_state(t, &again, &n_again), 0);
    cr_assert(n_again == STATE_SIZE && memcmp(again, STATE, n_again) == 0, "save(load(s)) == s");
    free(again);
    const mmg_ext_stream_decode_v1 *sd = D->get_extension(t, MMG_EXT_STREAM_DECODE_V1);
    void *s;
    cr_assert_eq(sd->stream_create(t, &s), 0);
    char out[256];
    size_t o = 0;
    int32_t tag = special(t, "lang:c");
    uint8_t *piece;
    size_t np;
    cr_assert_eq(sd->stream_feed(s, &tag, 1, &piece, &np), 0);
    cr_assert_eq(np, 0, "a tag streams no bytes");
    free(piece);
    for (size_t i = 0; i < k1; i++) {
        cr_assert_eq(sd->stream_feed(s, &a[i], 1, &piece, &np), 0);
        memcpy(out + o, piece, np), o += np;
        free(piece);
    }
    cr_assert_eq(sd->stream_flush(s, &piece, &np), 0);
    memcpy(out + o, piece, np), o += np;
    free(piece);
    sd->stream_destroy(s);
    cr_assert(o == strlen(src) && memcmp(out, src, o) == 0);
    free(a), free(b);
    D->destroy(t);
}

Test(code_plugin, bad_config_is_named) {
    struct { const char *config; const char *needle; } bad[] = {
        {"{\"vocab_size\": 100}", "vocab_size"},
        {"{\"vocab_size\": 1000.5}", "vocab_size"},
        {"{\"vocab_size\": \"big\"}", "vocab_size"},
        {"{\"lang\": \"cobol\"}", "cobol"},
        {"{\"lang\": 3}", "lang"},
        {"{\"header\": 1}", "header"},
        {"{\"fim_rate\": 1.5}", "fim_rate"},
        {"{\"fim_seed\": -1}", "fim_seed"},
        {"{\"pattern\": \"cl100k\"}", "unknown key \"pattern\""},
        {"{\"vocab_size\": ", "invalid JSON"},
        {"[1, 2]", "JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *t = NULL;
        cr_assert_eq(D->create(bad[i].config, strlen(bad[i].config), &t), MMG_ERR_CONFIG, "%s: %s", bad[i].config, th_error);
        cr_assert(strstr(th_error, bad[i].needle), "%s: \"%s\" should name \"%s\"", bad[i].config, th_error, bad[i].needle);
        cr_assert_null(t);
    }
    /* fit without vocab_size; encode before any vocabulary */
    void *t = th_create(D, "{\"lang\": \"c\"}");
    mmg_plugin_document doc = {(const uint8_t *)"x", 1};
    cr_assert_eq(D->fit(t, &doc, 1), MMG_ERR_STATE);
    int32_t *ids;
    size_t count;
    cr_assert_eq(D->encode(t, (const uint8_t *)"x", 1, &ids, &count), MMG_ERR_STATE);
    D->destroy(t);
}

Test(code_plugin, out_of_range_ids) {
    int32_t bad[] = {5, -1};
    uint8_t *out;
    size_t n;
    cr_assert_eq(D->decode(T, bad, 2, &out, &n), MMG_ERR_RANGE);
    cr_assert(strstr(th_error, "-1"), "%s", th_error);
    int32_t big = D->vocab_size(T);
    cr_assert_eq(D->decode(T, &big, 1, &out, &n), MMG_ERR_RANGE);
    char desc[16];
    cr_assert_eq(D->describe_token(T, big, desc, sizeof desc, &n), MMG_ERR_RANGE);
    const mmg_ext_constraint_v1 *c = D->get_extension(T, MMG_EXT_CONSTRAINT_V1);
    uint8_t *mask = malloc((size_t)big);
    memset(mask, 1, (size_t)big);
    cr_assert_eq(c->allowed_next(T, &big, 1, mask, (size_t)big), MMG_ERR_RANGE);
    const mmg_ext_stream_decode_v1 *sd = D->get_extension(T, MMG_EXT_STREAM_DECODE_V1);
    void *s;
    cr_assert_eq(sd->stream_create(T, &s), 0);
    cr_assert_eq(sd->stream_feed(s, &big, 1, &out, &n), MMG_ERR_RANGE);
    sd->stream_destroy(s);
    free(mask);
}

Test(code_plugin, malformed_and_foreign_states) {
    void *t = th_create(D, "");
    /* truncated, corrupted, empty */
    cr_assert_eq(D->load_state(t, STATE, STATE_SIZE / 2), MMG_ERR_FORMAT);
    uint8_t *bad = malloc(STATE_SIZE);
    memcpy(bad, STATE, STATE_SIZE);
    bad[STATE_SIZE / 2] ^= 0x55;
    cr_assert_eq(D->load_state(t, bad, STATE_SIZE), MMG_ERR_FORMAT);
    cr_assert(strstr(th_error, "checksum"), "%s", th_error);
    cr_assert_eq(D->load_state(t, (const uint8_t *)"", 0), MMG_ERR_FORMAT);
    free(bad);
    /* the text plugin's state: named as such */
    const mmg_plugin_descriptor *text = th_open_text(NULL);
    cr_assert_not_null(text);
    void *tt = th_create(text, "{\"vocab_size\": 300}");
    mmg_plugin_document doc = {(const uint8_t *)"int main(void) { return 0; }", 28};
    cr_assert_eq(text->fit(tt, &doc, 1), 0);
    uint8_t *ts;
    size_t tn;
    cr_assert_eq(text->save_state(tt, &ts, &tn), 0);
    cr_assert_eq(D->load_state(t, ts, tn), MMG_ERR_FORMAT);
    cr_assert(strstr(th_error, "text plugin"), "%s", th_error);
    /* and the code state given to the text plugin */
    cr_assert_eq(text->load_state(tt, STATE, STATE_SIZE), MMG_ERR_FORMAT);
    cr_assert(strstr(th_error, "text state"), "%s", th_error);
    free(ts);
    text->destroy(tt);
    cr_assert_eq(D->vocab_size(t), 0, "a failed load leaves no vocabulary");
    D->destroy(t);
}
