/* tests/test_code_constraint.c - the code plugin's "mmgen.constraint/1":
 * brackets balanced and strings closed before the end token, no end inside
 * a string or block comment, special tokens in their order, FIM middles
 * checked against their suffix, tokens that split lexemes, and the
 * incremental cursors agreeing with a fresh start. Real code never gets its
 * own next token refused. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code_plugin_host.h"

static const mmg_plugin_descriptor *D;
static void *T;
static uint8_t *STATE;
static size_t STATE_SIZE;
static const mmg_ext_constraint_v1 *C;
static int32_t V, EOS;

static void setup(void) {
    D = ch_open_code();
    cr_assert_not_null(D);
    T = ch_fit(D, 2000, &STATE, &STATE_SIZE);
    cr_assert_not_null(T, "%s", th_error);
    C = D->get_extension(T, MMG_EXT_CONSTRAINT_V1);
    V = D->vocab_size(T);
    cr_assert_eq(D->special_token(T, "eos", &EOS), 0);
}

static void teardown(void) {
    D->destroy(T);
    free(STATE);
}

TestSuite(code_constraint, .init = setup, .fini = teardown);

static int32_t sp(const char *name) {
    int32_t id;
    cr_assert_eq(D->special_token(T, name, &id), 0, "%s", name);
    return id;
}

/* A token stream: optional tag, then `code` as single-byte tokens (ids of a
 * learned vocabulary: byte b is id b) so lexemes split at every byte. */
static size_t bytes_stream(int32_t tag, const char *code, int32_t *out) {
    size_t n = 0;
    if (tag >= 0) out[n++] = tag;
    for (const char *p = code; *p; p++) out[n++] = (uint8_t)*p;
    return n;
}

static uint8_t *mask_after(void *t, const int32_t *ids, size_t n) {
    static uint8_t *mask;
    free(mask);
    mask = malloc((size_t)V);
    memset(mask, 1, (size_t)V);
    cr_assert_eq(C->allowed_next(t, ids, n, mask, (size_t)V), 0, "%s", th_error);
    return mask;
}

/* Whether eos may follow `code` (byte tokens after the tag). */
static int may_end(int32_t tag, const char *code) {
    int32_t ids[1024];
    size_t n = bytes_stream(tag, code, ids);
    return mask_after(T, ids, n)[EOS];
}

static int allows(int32_t tag, const char *code, int32_t next) {
    int32_t ids[1024];
    size_t n = bytes_stream(tag, code, ids);
    return mask_after(T, ids, n)[next];
}

Test(code_constraint, brackets) {
    int32_t py = sp("lang:python");
    cr_assert(may_end(py, "f(x[1], {2: 3})\n"));
    cr_assert(!may_end(py, "f(x[1], {2: 3}\n"));
    cr_assert(!may_end(py, "f(["));
    cr_assert(allows(py, "f([", ']'));
    cr_assert(!allows(py, "f([", ')'), "a ) may not close a [");
    cr_assert(!allows(py, "x = 1", ')'), "nothing to close");
    cr_assert(!allows(py, "", '}'));
    cr_assert(allows(py, "x = 1", '('));
}

Test(code_constraint, python_strings_and_comments) {
    int32_t py = sp("lang:python");
    cr_assert(!may_end(py, "x = \"abc"));
    cr_assert(may_end(py, "x = \"abc\""));
    cr_assert(!may_end(py, "x = 'a\\'"), "an escaped quote does not close");
    cr_assert(may_end(py, "x = 'a\\\\'"), "an escaped backslash does");
    cr_assert(!allows(py, "x = 'abc", '\n'), "no raw newline in a '...' string");
    cr_assert(allows(py, "x = 'abc\\", '\n'), "a backslash-newline continues it");
    cr_assert(!may_end(py, "x = \"\"\"doc"));
    cr_assert(allows(py, "x = \"\"\"doc", '\n'), "triple-quoted strings span lines");
    cr_assert(may_end(py, "x = \"\"\"doc\n(\"\"\""), "a bracket inside a string is text");
    cr_assert(may_end(py, "x = \"\"\n"), "\"\" is an empty string");
    cr_assert(!may_end(py, "x = \"\"\"a\"\""), "two quotes do not end a triple string");
    cr_assert(may_end(py, "x = 1  # f(  [ \"don't"), "a line comment may end the document");
    cr_assert(allows(py, "# (\n", ')') == 0, "the comment's ( was never opened");
    cr_assert(may_end(py, "s = \"(\"  # )\n"));
}

Test(code_constraint, c_comments_strings_and_directives) {
    int32_t c = sp("lang:c");
    cr_assert(!may_end(c, "int x; /* open"));
    cr_assert(may_end(c, "int x; /* ( */"));
    cr_assert(!may_end(c, "int x; /* a *"), "a star alone does not close");
    cr_assert(may_end(c, "int x; /* a **/"));
    cr_assert(may_end(c, "int x; // ( unbalanced in a comment"));
    cr_assert(!may_end(c, "char *s = \"(;"));
    cr_assert(may_end(c, "char c = ')';"), "a bracket in a char literal is text");
    cr_assert(may_end(c, "#error don't do this\nint x;\n"), "no ' strings on a # line");
    cr_assert(!allows(c, "char *s = \"abc", '\n'));
    cr_assert(may_end(c, "a / b; c = (d / e);"), "a lone slash is division");
}

Test(code_constraint, no_tag_means_brackets_only) {
    cr_assert(may_end(-1, "don't \"quote"));
    cr_assert(!may_end(-1, "f(x"));
    cr_assert(!allows(-1, "x", ']'));
    /* the config's language stands in for a missing tag */
    void *t = ch_with_state(D, "{\"lang\": \"python\"}", STATE, STATE_SIZE);
    int32_t ids[64];
    size_t n = bytes_stream(-1, "x = 'abc", ids);
    cr_assert(!mask_after(t, ids, n)[EOS]);
    D->destroy(t);
}

Test(code_constraint, special_tokens_in_order) {
    int32_t py = sp("lang:python"), c = sp("lang:c"), pre = sp("fim_prefix"), suf = sp("fim_suffix"),
            mid = sp("fim_middle");
    uint8_t *m = mask_after(T, NULL, 0);
    cr_assert(m[py] && m[c] && m[pre] && m[EOS] && !m[suf] && !m[mid]);
    int32_t s1[] = {py};
    m = mask_after(T, s1, 1);
    cr_assert(!m[c] && m[pre] && !m[suf]);
    int32_t s2[] = {py, 'x'};
    m = mask_after(T, s2, 2);
    cr_assert(!m[pre] && !m[py] && !m[suf] && !m[mid]);
    int32_t s3[] = {py, pre, 'x'};
    m = mask_after(T, s3, 3);
    cr_assert(m[suf] && !m[mid] && !m[EOS]);
    int32_t s4[] = {py, pre, 'x', suf, 'y'};
    m = mask_after(T, s4, 5);
    cr_assert(m[mid] && !m[suf] && !m[EOS]);
}

Test(code_constraint, fim_middle_ends_only_when_prefix_middle_suffix_balance) {
    int32_t py = sp("lang:python"), pre = sp("fim_prefix"), suf = sp("fim_suffix"), mid = sp("fim_middle");
    int32_t ids[256];
    size_t n = 0;
    ids[n++] = py;
    ids[n++] = pre;
    for (const char *p = "print(f(a, "; *p; p++) ids[n++] = (uint8_t)*p;
    ids[n++] = suf;
    for (const char *p = "))\n"; *p; p++) ids[n++] = (uint8_t)*p;
    ids[n++] = mid;
    cr_assert(mask_after(T, ids, n)[EOS], "an empty middle: print(f(a, ))");
    ids[n++] = 'b';
    cr_assert(mask_after(T, ids, n)[EOS]);
    cr_assert(mask_after(T, ids, n)[')'], "the middle may close the prefix's brackets");
    ids[n++] = ')';
    cr_assert(!mask_after(T, ids, n)[EOS], "then the suffix's )) is one too many");
    n--;
    ids[n++] = '[';
    cr_assert(!mask_after(T, ids, n)[EOS], "an open [ before the suffix");
    ids[n++] = ']';
    cr_assert(mask_after(T, ids, n)[EOS]);
    ids[n++] = '"';
    cr_assert(!mask_after(T, ids, n)[EOS], "the suffix would sit in a string");
}

/* Ids of tokens whose bytes are exactly `s`, or -1. */
static int32_t token_of(const char *s) {
    size_t count;
    int32_t *ids = ch_encode(D, T, s, strlen(s), &count);
    int32_t id = count == 1 ? ids[0] : -1;
    free(ids);
    return id;
}

Test(code_constraint, tokens_that_split_lexemes) {
    int32_t c = sp("lang:c");
    /* A learned token holding a quote and a bracket at once. */
    const char *both[] = {"\")", "\");", "')", "\"),", "(\"", "('"};
    int32_t tok = -1;
    const char *bytes = NULL;
    for (size_t i = 0; i < sizeof both / sizeof both[0] && tok < 0; i++)
        if ((tok = token_of(both[i])) >= 0) bytes = both[i];
    cr_assert_geq(tok, 0, "the fitted vocabulary should hold one of \"), \");, ')...");
    int32_t ids[64];
    size_t n;
    if (bytes[0] == '"' || bytes[0] == '\'') {
        /* closing a string and a call at once */
        char prefix[8] = "f(";
        prefix[2] = bytes[0];
        prefix[3] = 'x';
        prefix[4] = 0;
        n = bytes_stream(c, prefix, ids);
        cr_assert(mask_after(T, ids, n)[tok], "%s closes %s", bytes, prefix);
        ids[n++] = tok;
        uint8_t *m = mask_after(T, ids, n);
        cr_assert(strchr(bytes, ';') || m[EOS] || bytes[2] == ',', "after %s%s", prefix, bytes);
        /* outside a string the same token opens one: its ) is text */
        n = bytes_stream(c, "f(x", ids);
        cr_assert(mask_after(T, ids, n)[tok]);
        ids[n++] = tok;
        cr_assert(!mask_after(T, ids, n)[EOS], "now inside a string");
    } else {
        n = bytes_stream(c, "x = f", ids);
        cr_assert(mask_after(T, ids, n)[tok]);
        ids[n++] = tok;
        cr_assert(!mask_after(T, ids, n)[EOS]);
    }
    /* "/" then "*" as two tokens opens a comment; "*" then "/" closes it */
    n = bytes_stream(c, "x /", ids);
    ids[n++] = '*';
    ids[n++] = ' ';
    ids[n++] = '(';
    cr_assert(!mask_after(T, ids, n)[EOS]);
    cr_assert(mask_after(T, ids, n)[']'], "in a comment anything goes");
    ids[n++] = '*';
    ids[n++] = '/';
    cr_assert(mask_after(T, ids, n)[EOS]);
    /* a backslash ending one token escapes the next token's quote */
    n = bytes_stream(c, "s = \"a\\", ids);
    ids[n++] = '"';
    cr_assert(!mask_after(T, ids, n)[EOS]);
}

/* Every real file: its own next token always allowed, and it may end at its end. */
static void check_file(const char *path, const char *lang) {
    size_t size;
    uint8_t *doc = ch_read(path, &size);
    if (!doc) return;
    char config[64];
    snprintf(config, sizeof config, "{\"lang\": \"%s\"}", lang);
    void *t = ch_with_state(D, config, STATE, STATE_SIZE);
    size_t count;
    int32_t *ids = ch_encode(D, t, doc, size, &count);
    uint8_t *mask = malloc((size_t)V);
    for (size_t i = 0; i <= count; i++) {
        memset(mask, 1, (size_t)V);
        cr_assert_eq(C->allowed_next(t, ids, i, mask, (size_t)V), 0);
        if (i < count) cr_assert(mask[ids[i]], "%s: token %zu (id %d) refused", path, i, ids[i]);
        else cr_assert(mask[EOS], "%s may not end at its end", path);
    }
    free(mask), free(ids), free(doc);
    D->destroy(t);
}

Test(code_constraint, real_code_is_never_refused, .timeout = 600) {
    check_file("/usr/lib/python3.11/textwrap.py", "python");
    check_file("/usr/lib/python3.11/json/encoder.py", "python");
    check_file("/usr/lib/python3.11/shlex.py", "python");
    check_file("/usr/include/stdio.h", "c");
    check_file("/usr/include/zlib.h", "c");
}

Test(code_constraint, cursors_agree_with_a_fresh_start) {
    size_t size;
    uint8_t *doc = ch_read("/usr/lib/python3.11/textwrap.py", &size);
    if (!doc) cr_skip_test("no textwrap.py");
    void *t = ch_with_state(D, "{\"lang\": \"python\"}", STATE, STATE_SIZE);
    size_t count;
    int32_t *ids = ch_encode(D, t, doc, size < 6000 ? size : 6000, &count);
    uint8_t *a = malloc((size_t)V), *b = malloc((size_t)V);
    uint64_t r = 88172645463325252ull;
    /* interleave several histories (as a batch does) and jump back and forth */
    for (int k = 0; k < 60; k++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        size_t n = (size_t)(r % (count + 1));
        memset(a, 1, (size_t)V);
        cr_assert_eq(C->allowed_next(t, ids, n, a, (size_t)V), 0);
        void *fresh = ch_with_state(D, "{\"lang\": \"python\"}", STATE, STATE_SIZE);
        memset(b, 1, (size_t)V);
        cr_assert_eq(C->allowed_next(fresh, ids, n, b, (size_t)V), 0);
        D->destroy(fresh);
        cr_assert(memcmp(a, b, (size_t)V) == 0, "prefix of %zu tokens: masks differ", n);
    }
    free(a), free(b), free(ids), free(doc);
    D->destroy(t);
}

Test(code_constraint, bad_arguments) {
    int32_t bad = V + 5;
    uint8_t *mask = malloc((size_t)V);
    memset(mask, 1, (size_t)V);
    cr_assert_eq(C->allowed_next(T, &bad, 1, mask, (size_t)V), MMG_ERR_RANGE);
    cr_assert(strstr(th_error, "outside"), "%s", th_error);
    cr_assert_eq(C->allowed_next(T, NULL, 0, NULL, (size_t)V), MMG_ERR_INVALID_ARG);
    void *empty = th_create(D, "");
    cr_assert_eq(C->allowed_next(empty, NULL, 0, mask, (size_t)V), MMG_ERR_STATE);
    D->destroy(empty);
    free(mask);
}
