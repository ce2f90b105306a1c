/* plugins/text/pretokenize.h - splitting text into pieces before BPE.
 *
 * BPE never merges across a piece boundary; the boundaries come from a regular
 * expression in GPT-2 and tiktoken. We implement the two patterns by hand,
 * with the regex semantics (leftmost-first alternation, the backtracking of
 * \s+(?!\S)), in one linear pass and without allocation:
 *
 *   gpt2   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   cl100k (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *          ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * gpt2 serves GPT-2, r50k_base and p50k_base. Ill-formed UTF-8 is handled as
 * unicode.h describes. */
#ifndef MMGEN_TEXT_PRETOKENIZE_H
#define MMGEN_TEXT_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

typedef enum txt_pattern { TXT_PATTERN_GPT2 = 0, TXT_PATTERN_CL100K = 1 } txt_pattern;

/* The end (exclusive) of the piece that starts at s[i], i < n. */
size_t txt_piece_end(txt_pattern pattern, const uint8_t *s, size_t n, size_t i);

/* A pre-tokenizer as the BPE engine sees it: the end (exclusive, > i) of the
 * piece that starts at s[i], i < n. The text plugin's patterns are two; the
 * code plugin brings its own. */
typedef size_t (*txt_splitter)(const uint8_t *s, size_t n, size_t i);

/* The splitter of one of the patterns above. */
txt_splitter txt_pattern_splitter(txt_pattern pattern);

/* "gpt2" / "cl100k" <-> txt_pattern; returns -1 for an unknown name. */
int txt_pattern_from_name(const char *name);
const char *txt_pattern_name(txt_pattern pattern);

#endif /* MMGEN_TEXT_PRETOKENIZE_H */
