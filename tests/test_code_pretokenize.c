/* tests/test_code_pretokenize.c - the code pre-tokenizer's rules, piece by
 * piece (plugins/code/pretokenize.c, summarized in plugins/code/code.h):
 * identifiers whole, operators whole, indentation with its line break,
 * digits in threes, prose as " word" pieces, and a partition of any bytes. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"

/* The pieces of s joined with '|' (pieces never hold '|' in these cases). */
static const char *split(const char *s) {
    static char out[4096];
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n;) {
        size_t e = code_piece_end((const uint8_t *)s, n, i);
        cr_assert(e > i && e <= n, "piece at %zu of \"%s\" ends at %zu", i, s, e);
        if (i) out[o++] = '|';
        memcpy(out + o, s + i, e - i);
        o += e - i;
        i = e;
    }
    out[o] = 0;
    return out;
}

#define EXPECT(text, pieces) cr_expect_str_eq(split(text), pieces, "split(\"%s\")", text)

Test(code_pretokenize, identifiers_stay_whole) {
    EXPECT("foo_bar = snake_case + camelCase", "foo_bar| =| snake_case| +| camelCase");
    EXPECT("int32_t x86_64 __init__ utf8", "int32_t| x86_64| __init__| utf8");
    EXPECT("café = naïve", "café| =| naïve");
}

Test(code_pretokenize, operators_are_never_split) {
    EXPECT("a == b != c <= d >= e", "a| ==| b| !=| c| <=| d| >=| e");
    EXPECT("x += 1; y <<= 2; z >>= 3", "x| +=| 1|;| y| <<=| 2|;| z| >>=| 3");
    EXPECT("std::vector", "std|::vector");
    EXPECT("p->next->data", "p|->next|->data");
    EXPECT("f(a)->b", "f|(a|)|->b");
    EXPECT("x<<=y", "x|<<=|y");
    EXPECT("a && b || !c", "a| &&| b| ||| !|c"); /* " !" as cl100k: a space leads one lexeme */
    EXPECT("i++ + --j", "i|++| +| --|j");
    EXPECT("lambda x: x ** 2 // 3", "lambda| x|:| x| **| 2| //| 3");
    EXPECT("a := b => c", "a| :=| b| =>| c");
}

Test(code_pretokenize, a_lexeme_leads_the_identifier_after_it) {
    EXPECT("self.append(item)", "self|.append|(item|)");
    EXPECT("#include <stdio.h>", "#include| <|stdio|.h|>");
    EXPECT("(void)x", "(void|)x");
    EXPECT(" (void)", " (|void|)");
    EXPECT("@property", "@property");
    EXPECT("don't", "don|'t");
    EXPECT("f((x", "f|(|(x");
}

Test(code_pretokenize, indentation_goes_with_its_line_break) {
    EXPECT("def f():\n    return 1\n", "def| f|():|\n    |return| 1|\n");
    EXPECT("if x:\n\n\tpass", "if| x|:|\n\n\t|pass");
    EXPECT("x  \n  y", "x|  \n  |y");             /* trailing spaces join the break */
    EXPECT("a\r\n  b\r\n", "a|\r\n  |b|\r\n");
    EXPECT("int    x;", "int|   | x|;");          /* alignment: the last space leads */
    EXPECT("  x", " | x");
    EXPECT("x\t= 1", "x|\t|=| 1");
    EXPECT("end   ", "end|   ");
}

Test(code_pretokenize, digits_in_groups_of_three) {
    EXPECT("1234567", "123|456|7");
    EXPECT("x = 12345", "x| =| 123|45");
    EXPECT("0x1F 3.14", "0|x1F| 3|.|14");
}

Test(code_pretokenize, prose_in_comments_and_strings_splits_like_text) {
    EXPECT("# Return the number of items.", "#| Return| the| number| of| items|.");
    EXPECT("/* It's a comment */", "/*| It|'s| a| comment| */");
    EXPECT("msg = \"Hello, world\"", "msg| =| \"|Hello|,| world|\"");
}

Test(code_pretokenize, any_bytes_are_partitioned) {
    static const char ALPHABET[] = " \t\n\r(){}[]\"'#/*+-=<>:;.,_aZ09\x00\xc3\xa9\xff";
    uint64_t r = 0x9E3779B97F4A7C15ull;
    uint8_t buf[4096];
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = 1 + (size_t)(iter * 7919 % 4096);
        for (size_t i = 0; i < n; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            /* mostly ASCII code characters, some high bytes, NUL, CR */
            uint8_t c = (uint8_t)(r >> 24);
            buf[i] = iter % 3 == 0 ? c : (uint8_t)ALPHABET[c % (sizeof ALPHABET - 1)];
        }
        size_t i = 0, pieces = 0;
        while (i < n) {
            size_t e = code_piece_end(buf, n, i);
            cr_assert(e > i && e <= n, "iteration %d: piece at %zu ends at %zu of %zu", iter, i, e, n);
            i = e;
            pieces++;
        }
        cr_assert(pieces >= 1);
    }
}

Test(code_pretokenize, invalid_utf8_and_nul_are_punctuation_units) {
    const uint8_t s[] = {'a', 0xFF, 0xFE, 'b', 0, 0, 'c', 0xE2, 0x82, 'd'};
    size_t n = sizeof s, ends[16], k = 0;
    for (size_t i = 0; i < n; i = ends[k - 1]) ends[k++] = code_piece_end(s, n, i);
    /* "a" | 0xFF "" 0xFE "b" (the last unit leads b) ... */
    cr_assert_eq(ends[0], 1);
    cr_assert_eq(ends[k - 1], n);
    for (size_t j = 1; j < k; j++) cr_assert_gt(ends[j], ends[j - 1]);
}
