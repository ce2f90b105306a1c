/* plugins/code/code.h - the code plugin's internals: the pre-tokenizer, the
 * language table, the document header and fill-in-the-middle layout, and the
 * syntax constraint. The BPE engine is the text plugin's (plugins/text,
 * linked as mmgen_bpe); what differs is how a document is cut into pieces
 * and the special tokens around it.
 *
 * Pre-tokenization rules (pretokenize.c), at each position, first match:
 *   identifier      letters, digits and '_' run whole: snake_case, camelCase,
 *                   int32_t, __init__ are one piece each
 *   digits          one to three digits (\p{N}), as cl100k groups them
 *   line break      \r or \n with every space, tab and newline after it: the
 *                   blank lines and the next line's indentation are one piece
 *   spaces          a run of spaces or tabs; trailing ones join the line break
 *                   after them; before a word the last plain space is left
 *                   to lead it (" return", " 0", " ==")
 *   punctuation     a run of everything else, so operators (->, ==, ::, +=,
 *                   <<=, ...) are never split; its last lexeme, when one
 *                   character or -> or ::, leads a following identifier
 *                   ("(self", ".append", "#include", "->next", "'t")
 * Prose in comments and strings falls into " word" pieces as in text BPE,
 * so it compresses the same way. */
#ifndef MMGEN_CODE_H
#define MMGEN_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "bpe.h"
#include "vocab.h"

/* The pre-tokenizer: end of the piece starting at s[i] (a txt_splitter). */
size_t code_piece_end(const uint8_t *s, size_t n, size_t i);

/* ---- languages (lang.c) --------------------------------------------------- */

/* How a language writes comments and strings, for the constraint. */
typedef struct code_syntax {
    char line[2][3];      /* line comment markers ("//", "#", "--", "%"), "" if none */
    char block[2][3];     /* block comment open and close (slash-star, star-slash), "" if none */
    char quote[3];        /* quote characters that open strings, 0 if unused */
    uint8_t escapes[3];   /* per quote: a backslash escapes the next byte */
    uint8_t multiline[3]; /* per quote: a raw newline may sit inside */
    uint8_t triple[3];    /* per quote: tripled it opens a multi-line string (""" ''') */
    uint8_t directives;   /* C preprocessor: no ' strings on a line starting with # */
    uint8_t word_comment; /* the line marker only starts a comment after a space (shell) */
} code_syntax;

typedef struct code_lang {
    const char *name;        /* "python": the tag is <|lang:python|> */
    const char *extensions;  /* ".py .pyi": space-separated, matched case-insensitively */
    const char *file_names;  /* "Makefile GNUmakefile": whole base names */
    const code_syntax *syntax;
} code_lang;

extern const code_lang code_langs[];
extern const int code_n_langs;
/* Brackets only: for a document without a language. */
extern const code_syntax code_generic_syntax;

/* The index of language `name` (n bytes), or -1. */
int code_lang_find(const char *name, size_t n);
/* The language a file name says (by base name, then extension), or -1. */
int code_lang_from_path(const char *path, size_t n);

/* ---- special tokens -------------------------------------------------------- */

/* After the learned tokens, in this order: <|endoftext|> (bos, eos, pad),
 * <|fim_prefix|>, <|fim_middle|>, <|fim_suffix|>, then <|lang:NAME|> for
 * each language of code_langs in table order. */
enum { CODE_EOT = 0, CODE_FIM_PREFIX, CODE_FIM_MIDDLE, CODE_FIM_SUFFIX, CODE_N_FIXED };

typedef struct code_specials {
    int32_t fixed[CODE_N_FIXED];
    int32_t *lang;      /* (code_n_langs) id of each language's tag, -1 when the state has none */
    int32_t min_id;     /* smallest special id: ids below it are learned tokens or unused */
} code_specials;

/* ---- documents (document.c) ---------------------------------------------- */

/* What the header of one document asks for (all optional). */
typedef struct code_doc_opts {
    int lang;          /* a language index; -1 none; -2 not said (use the tokenizer's) */
    int fim;           /* CODE_FIM_* */
    size_t fim_a, fim_b;  /* PSM: middle = content [a, b); PROMPT: prefix = content [0, a) */
    int64_t context;   /* PROMPT: the model's context; 0 when not said */
} code_doc_opts;

enum { CODE_FIM_DEFAULT = 0, CODE_FIM_NONE, CODE_FIM_PSM, CODE_FIM_PROMPT };

/* Parses the header at the start of doc (fields "key=value" each ended by a
 * NUL byte, then an empty field); *content_at gets where the content starts.
 * Reports MMG_ERR_FORMAT or MMG_ERR_NOT_FOUND naming the field. */
int code_parse_header(const uint8_t *doc, size_t size, code_doc_opts *opts, size_t *content_at);

/* The split StarCoder's FIM makes, drawn from (seed, the content's bytes):
 * two uniform positions, sorted, moved back onto UTF-8 character starts.
 * Returns 1 and sets [a, b) to the middle when the draw (probability `rate`)
 * says this document becomes a FIM example. */
int code_fim_draw(const uint8_t *p, size_t n, double rate, uint64_t seed, size_t *a, size_t *b);

/* ---- the syntax constraint (constraint.c) -------------------------------- */

typedef struct code_constraint code_constraint;

void code_constraint_free(code_constraint *c);
/* Forgets everything derived from the vocabulary (call when it changes). */
void code_constraint_reset(code_constraint *c);
/* Clears `allowed` for ids that may not follow `tokens` (see constraint.c). */
int code_allowed_next(code_constraint **cp, const txt_vocab *v, const code_specials *sp,
                      int default_lang, const int32_t *tokens, size_t n_tokens, uint8_t *allowed,
                      size_t vocab_size);

#endif /* MMGEN_CODE_H */
