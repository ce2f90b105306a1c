/* plugins/code/pretokenize.c - the code pre-tokenizer: where BPE may not merge
 * across, chosen for source code (see code.h for the rules in one place).
 *
 * One linear pass, no allocation, and every piece ends past its start, so the
 * pieces partition any bytes: decode(encode(x)) == x for invalid UTF-8, NUL,
 * CRLF, tabs and trailing whitespace alike. Characters are classed as an
 * identifier character (letters and '_'), a digit (\p{N}), a space or tab, a
 * newline, or punctuation (everything else, including each maximal
 * ill-formed UTF-8 subsequence, as the text plugin treats them). */
#include "code.h"

#include <string.h>

#include "unicode.h"

enum { K_PUNCT = 0, K_IDENT, K_DIGIT, K_SPACE, K_NEWLINE };

/* The kind of each ASCII character (0 punctuation, 1 identifier, 2 digit,
 * 3 space or tab, 4 newline). */
static const uint8_t KINDS[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4, 3, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
};

/* The kind of the unit at s[i] and its length. */
static inline int kind_at(const uint8_t *kinds, const uint8_t *s, size_t n, size_t i, size_t *len) {
    if (s[i] < 0x80) {
        *len = 1;
        return kinds[s[i]];
    }
    int cls = txt_class_at(s, n, i, len);
    return cls == TXT_LETTER ? K_IDENT : cls == TXT_NUMBER ? K_DIGIT : cls == TXT_SPACE ? K_SPACE : K_PUNCT;
}

/* Identifier, space and newline runs are scanned eight bytes at a time:
 * nearly all code is ASCII, and most identifiers and indentation runs end
 * within the first word, so the loop's exit is predicted where a byte loop's
 * is not. In each byte of a word, 0x80 marks "in the run"; bytes_in is the
 * classic SWAR range test, exact for bytes under 0x80 (no carry crosses a
 * byte). Punctuation runs are short and keep the byte loop. */
#define ONES 0x0101010101010101ull
#define HIGH 0x8080808080808080ull

static inline uint64_t load8(const uint8_t *s) {
    uint64_t x;
    memcpy(&x, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x); /* byte i of the word is s[i] */
#endif
    return x;
}

static inline uint64_t bytes_in(uint64_t x7, unsigned lo, unsigned hi) {
    return (x7 + (0x80 - lo) * ONES) & ~(x7 + (0x7F - hi) * ONES) & HIGH;
}

/* The bytes of word x whose kind is in `mask`, as KINDS classes them; bytes
 * of longer characters are left out (kind_at classes those). */
static inline uint64_t run_bytes(uint64_t x, unsigned mask) {
    uint64_t x7 = x & ~HIGH, in = 0;
    if (mask & 1u << K_IDENT) in |= bytes_in(x7 | 0x20 * ONES, 'a', 'z') | bytes_in(x7, '_', '_');
    if (mask & 1u << K_DIGIT) in |= bytes_in(x7, '0', '9');
    if (mask & 1u << K_SPACE) in |= bytes_in(x7, ' ', ' ') | bytes_in(x7, '\t', '\t') | bytes_in(x7, 0x0B, 0x0C);
    if (mask & 1u << K_NEWLINE) in |= bytes_in(x7, '\n', '\n') | bytes_in(x7, '\r', '\r');
    return in & ~x;
}

/* End of the run of units whose kind is in `mask` (bit per kind). */
static inline size_t run_end(const uint8_t *kinds, const uint8_t *s, size_t n, size_t i, unsigned mask) {
    while (i < n) {
        if (!(mask & 1u << K_PUNCT) && i + 8 <= n) {
            uint64_t stop = ~run_bytes(load8(s + i), mask) & HIGH;
            if (!stop) {
                i += 8;
                continue;
            }
            i += (size_t)__builtin_ctzll(stop) >> 3; /* the first byte outside the run, or of a longer character */
        }
        size_t len;
        if (s[i] < 0x80) {
            if (!(mask >> kinds[s[i]] & 1)) break;
            i++;
            continue;
        }
        if (!(mask >> kind_at(kinds, s, n, i, &len) & 1)) break;
        i += len;
    }
    return i;
}

/* Up to three digits, as cl100k groups them. */
static size_t digits_end(const uint8_t *kinds, const uint8_t *s, size_t n, size_t i) {
    for (int k = 0; k < 3 && i < n; k++) {
        size_t len;
        if (kind_at(kinds, s, n, i, &len) != K_DIGIT) break;
        i += len;
    }
    return i;
}

/* Operators kept whole, longest first (maximal munch). */
static const char *const OPS3[] = {"<<=", ">>=", "...", "->*", "**=", "//=", "!==", "===", "<=>", ">>>"};
static const char *const OPS2[] = {"->", "::", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>",
                                   "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "++", "--",
                                   "**", "//", "=>", ":=", "@=", ".*", "##", "/*", "*/"};

/* Length of the punctuation lexeme at s[i] (a unit of kind K_PUNCT). */
static size_t lexeme_len(const uint8_t *s, size_t n, size_t i) {
    if (s[i] >= 0x80) {
        uint32_t cp;
        return txt_utf8_next(s, n, i, &cp);
    }
    if (i + 2 < n)
        for (size_t k = 0; k < sizeof OPS3 / sizeof OPS3[0]; k++)
            if (s[i] == (uint8_t)OPS3[k][0] && s[i + 1] == (uint8_t)OPS3[k][1] && s[i + 2] == (uint8_t)OPS3[k][2])
                return 3;
    if (i + 1 < n)
        for (size_t k = 0; k < sizeof OPS2 / sizeof OPS2[0]; k++)
            if (s[i] == (uint8_t)OPS2[k][0] && s[i + 1] == (uint8_t)OPS2[k][1]) return 2;
    return 1;
}

/* A lexeme that may lead the identifier right after it: any single
 * character ("(self", ".append", "#include", "'t"), and member access and
 * scope ("->next", "::std"). */
static int leads(const uint8_t *s, size_t at, size_t len) {
    if (len == 1 || s[at] >= 0x80) return 1;
    return len == 2 && ((s[at] == '-' && s[at + 1] == '>') || (s[at] == ':' && s[at + 1] == ':'));
}

/* A punctuation run starting at i (after an optional lead space at i - 1 when
 * `spaced`): the whole run, so operators stay whole, except that its last
 * lexeme, when it may lead and an identifier follows, is left to the
 * identifier's piece; a run of that one lexeme takes the identifier with it
 * unless a space leads the run (" (" then "void", as cl100k splits). */
static size_t punct_end(const uint8_t *kinds, const uint8_t *s, size_t n, size_t i, int spaced) {
    size_t r = run_end(kinds, s, n, i, 1u << K_PUNCT);
    size_t len;
    if (r >= n || kind_at(kinds, s, n, r, &len) != K_IDENT) return r;
    size_t last = i, count = 0;
    for (size_t j = i; j < r;) {
        size_t l = lexeme_len(s, r, j);
        last = j;
        j += l;
        count++;
    }
    if (!leads(s, last, r - last)) return r;
    if (count > 1) return last;
    if (spaced) return r;
    return run_end(kinds, s, n, r, 1u << K_IDENT | 1u << K_DIGIT);
}

size_t code_piece_end(const uint8_t *s, size_t n, size_t i) {
    const uint8_t *kinds = KINDS;
    size_t len;
    int k = kind_at(kinds, s, n, i, &len);
    switch (k) {
    case K_IDENT:
        /* Identifiers whole: letters, digits and '_' (snake_case, camelCase, int32_t). */
        return run_end(kinds, s, n, i + len, 1u << K_IDENT | 1u << K_DIGIT);
    case K_DIGIT:
        return digits_end(kinds, s, n, i);
    case K_NEWLINE:
        /* A line break with the blank lines after it and the next line's indentation. */
        return run_end(kinds, s, n, i + len, 1u << K_SPACE | 1u << K_NEWLINE);
    case K_SPACE: {
        size_t j = run_end(kinds, s, n, i, 1u << K_SPACE);
        if (j == n) return j;
        size_t len_j;
        int next = kind_at(kinds, s, n, j, &len_j);
        if (next == K_NEWLINE) /* trailing whitespace joins the line break */
            return run_end(kinds, s, n, j, 1u << K_SPACE | 1u << K_NEWLINE);
        if (s[j - 1] != ' ') return j; /* only a plain space leads a word */
        if (j - i > 1) return j - 1;   /* alignment: the last space leads the next piece */
        if (next == K_IDENT) return run_end(kinds, s, n, j + len_j, 1u << K_IDENT | 1u << K_DIGIT);
        if (next == K_DIGIT) return digits_end(kinds, s, n, j);
        return punct_end(kinds, s, n, j, 1);
    }
    default:
        return punct_end(kinds, s, n, i, 0);
    }
}
