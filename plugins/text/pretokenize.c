/* plugins/text/pretokenize.c - the GPT-2 and cl100k pre-tokenizers (see
 * pretokenize.h for the patterns). Each function finds the end of the piece
 * starting at position i by trying the pattern's alternatives in order, as a
 * leftmost-first regex engine would. */
#include "pretokenize.h"

#include <string.h>

#include "unicode.h"

/* End of the run of units of class `cls` starting at i. */
static size_t run_end(const uint8_t *s, size_t n, size_t i, int cls) {
    while (i < n) {
        size_t len;
        if (s[i] < 0x80) {
            if (txt_ascii_class[s[i]] != cls) break;
            i++;
            continue;
        }
        if (txt_class_at(s, n, i, &len) != cls) break;
        i += len;
    }
    return i;
}

/* End of at most `max` units of class `cls` starting at i. */
static size_t run_end_max(const uint8_t *s, size_t n, size_t i, int cls, int max) {
    for (int k = 0; k < max && i < n; k++) {
        size_t len;
        if (txt_class_at(s, n, i, &len) != cls) break;
        i += len;
    }
    return i;
}

/* The whitespace alternatives shared by both patterns, for a whitespace run
 * starting at i: \s+(?!\S) takes the run, minus its last character when a
 * non-space follows (so that character can lead the next word); \s+ takes a
 * lone whitespace character before a non-space. With `newlines` (cl100k),
 * \s*[\r\n]+ first takes the run up to its last \r or \n. */
static size_t whitespace_end(const uint8_t *s, size_t n, size_t i, int newlines) {
    size_t j = i, last_start = i, nl_end = i;
    int count = 0;
    while (j < n) {
        size_t len;
        if (txt_class_at(s, n, j, &len) != TXT_SPACE) break;
        last_start = j;
        if (s[j] == '\r' || s[j] == '\n') nl_end = j + 1;
        j += len;
        count++;
    }
    if (newlines && nl_end > i) return nl_end;
    if (j == n || count < 2) return j;
    return last_start;
}

static size_t gpt2_piece_end(const uint8_t *s, size_t n, size_t i) {
    uint8_t c = s[i];
    if (c == '\'' && i + 1 < n) {
        uint8_t d = s[i + 1];
        if (d == 's' || d == 't' || d == 'm' || d == 'd') return i + 2;
        if (i + 2 < n) {
            uint8_t e = s[i + 2];
            if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l'))
                return i + 3;
        }
    }
    size_t len0;
    int cls0 = txt_class_at(s, n, i, &len0);
    if (c == ' ' && i + 1 < n) {
        size_t len1;
        int cls1 = txt_class_at(s, n, i + 1, &len1);
        if (cls1 != TXT_SPACE) return run_end(s, n, i + 1 + len1, cls1);
    }
    if (cls0 != TXT_SPACE) return run_end(s, n, i + len0, cls0);
    return whitespace_end(s, n, i, 0);
}

/* ASCII lower case, for the (?i:...) contractions. */
static uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

static size_t cl100k_piece_end(const uint8_t *s, size_t n, size_t i) {
    uint8_t c = s[i];
    if (c == '\'' && i + 1 < n) {
        uint8_t d = lower(s[i + 1]);
        if (d == 's' || d == 't' || d == 'm' || d == 'd') return i + 2;
        /* Unicode case folding makes (?i)s match U+017F LATIN SMALL LETTER LONG S. */
        if (s[i + 1] == 0xC5 && i + 2 < n && s[i + 2] == 0xBF) return i + 3;
        if (i + 2 < n) {
            uint8_t e = lower(s[i + 2]);
            if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l'))
                return i + 3;
        }
    }
    size_t len0;
    int cls0 = txt_class_at(s, n, i, &len0);
    if (cls0 == TXT_LETTER) return run_end(s, n, i + len0, TXT_LETTER);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ : one non-letter, non-number lead, then letters. */
    if (cls0 != TXT_NUMBER && c != '\r' && c != '\n' && i + len0 < n) {
        size_t len1;
        if (txt_class_at(s, n, i + len0, &len1) == TXT_LETTER)
            return run_end(s, n, i + len0 + len1, TXT_LETTER);
    }
    if (cls0 == TXT_NUMBER) return run_end_max(s, n, i, TXT_NUMBER, 3);
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    size_t start = i;
    if (c == ' ' && i + 1 < n) {
        size_t len1;
        if (txt_class_at(s, n, i + 1, &len1) == TXT_OTHER) start = i + 1;
    }
    if (start != i || cls0 == TXT_OTHER) {
        size_t j = run_end(s, n, start, TXT_OTHER);
        while (j < n && (s[j] == '\r' || s[j] == '\n')) j++;
        return j;
    }
    return whitespace_end(s, n, i, 1);
}

size_t txt_piece_end(txt_pattern pattern, const uint8_t *s, size_t n, size_t i) {
    return pattern == TXT_PATTERN_CL100K ? cl100k_piece_end(s, n, i) : gpt2_piece_end(s, n, i);
}

static size_t gpt2_splitter(const uint8_t *s, size_t n, size_t i) { return gpt2_piece_end(s, n, i); }
static size_t cl100k_splitter(const uint8_t *s, size_t n, size_t i) { return cl100k_piece_end(s, n, i); }

txt_splitter txt_pattern_splitter(txt_pattern pattern) {
    return pattern == TXT_PATTERN_CL100K ? cl100k_splitter : gpt2_splitter;
}

int txt_pattern_from_name(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "gpt2") == 0) return TXT_PATTERN_GPT2;
    if (strcmp(name, "cl100k") == 0) return TXT_PATTERN_CL100K;
    return -1;
}

const char *txt_pattern_name(txt_pattern pattern) {
    return pattern == TXT_PATTERN_CL100K ? "cl100k" : "gpt2";
}
