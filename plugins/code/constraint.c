/* plugins/code/constraint.c - the "mmgen.constraint/1" extension of the code
 * plugin: which tokens may come next so that the generated document stays
 * well-formed.
 *
 * A byte-level lexer follows the document through code, line comments, block
 * comments and string literals (the language's rules, code_syntax in lang.c,
 * picked by the stream's first token when it is a language tag, else by the
 * config's "lang", else brackets only) and keeps the stack of open (, [ and {.
 * Working on bytes makes it exact on token boundaries that split lexemes: a
 * token may end inside "/" + "*", hold a quote and a bracket at once, or
 * end on the backslash that escapes the next token's first byte.
 *
 * Rules:
 *   - a token may not close a bracket that is not open, or close the wrong
 *     kind, outside strings and comments; nor put a raw newline inside a
 *     string literal of a kind that cannot hold one ('...' in Python, "..."
 *     in C); nothing else ever becomes impossible to finish, so nothing else
 *     is forbidden;
 *   - the end token (eos) only where every bracket is closed and no string or
 *     block comment is open (a line comment may end the document: a file may
 *     end without a newline);
 *   - special tokens: a language tag only first; <|fim_prefix|> first (after
 *     an optional tag), then <|fim_suffix|>, then <|fim_middle|>, in that
 *     order. While generating a FIM middle M after prefix P and suffix S,
 *     the lexer follows P then M, and eos needs P + M + S to be well-formed.
 * A token without a bracket or newline byte can never be wrong, so per step
 * only the tokens that hold one are simulated, from the current state and a
 * view of the stack that pushes into scratch space (no copy of the stack).
 *
 * Incremental: a few cursors remember the ids they have lexed and their
 * state; a call whose ids extend a cursor's lexes only the new ones
 * (generation adds one token per call; batches of sequences get one cursor
 * each, up to N_CURSORS). Ids seen in the history are lexed leniently (an
 * unmatched bracket is skipped, a string cut by a newline ends there), so a
 * prompt the constraint would not have produced still gets a mask. */
#include <string.h>

#include "code.h"
#include "host.h"

#define N_CURSORS 4

enum { M_CODE, M_LINE, M_BLOCK, M_STRING };
enum { P_NONE, P_MARK, P_ESC, P_OPEN1, P_OPEN2, P_CLOSE1, P_CLOSE2, P_STAR };
enum { S_PLAIN, S_PREFIX, S_SUFFIX, S_MIDDLE };

/* The lexer's state apart from the bracket stack. */
typedef struct lex {
    uint8_t mode, q, triple, pend, mark;
    uint8_t line_start; /* only spaces since the last newline (for # directives) */
    uint8_t directive;  /* in a preprocessor line */
    uint8_t prev;       /* the previous byte, 0 at the start */
} lex;

/* A bracket stack seen as a read-only bottom (the cursor's stack while
 * simulating a token) and a top that pushes land in. The caller makes room
 * for as many pushes as bytes it feeds. */
typedef struct bstack {
    const uint8_t *base;
    size_t base_n;
    uint8_t *top;
    size_t top_n;
} bstack;

typedef struct cursor {
    int32_t *ids;                 /* (cap) the tokens lexed so far */
    size_t n, cap;
    const code_syntax *syn;
    int stage, content;           /* S_*; whether content came yet */
    lex lx;
    uint8_t *stack;               /* (stack_cap) open brackets, innermost last */
    size_t depth, stack_cap;
    uint8_t *suffix;              /* (suffix_cap) a FIM suffix's bytes */
    size_t n_suffix, suffix_cap;
    uint64_t used;
} cursor;

struct code_constraint {
    cursor cur[N_CURSORS];
    uint64_t clock;
    int ready;                    /* the vocabulary tables below are built */
    int32_t *sensitive;           /* ids whose bytes hold a bracket or a newline */
    size_t n_sensitive;
    int32_t *unused;              /* ids that are neither a token nor special */
    size_t n_unused;
    uint8_t *scratch;             /* (scratch_cap) one simulated token's pushes */
    size_t scratch_cap;
};

static void lex_init(lex *l) {
    memset(l, 0, sizeof *l);
    l->line_start = 1;
}

static int closer_of(uint8_t b) { return b == ')' ? '(' : b == ']' ? '[' : '{'; }

/* Feeds byte b. Returns 0, or 1 when b is wrong here (see the rules); with
 * `lenient` a wrong byte is absorbed instead (skipped bracket, string ended
 * at the newline) and 0 returned. */
static int lex_byte(const code_syntax *y, lex *l, bstack *st, uint8_t b, int lenient) {
    for (;;) {
        switch (l->mode) {
        case M_CODE:
            if (l->pend == P_MARK) {
                l->pend = P_NONE;
                for (int k = 0; k < 2; k++) {
                    if (y->line[k][1] && y->line[k][0] == l->mark && y->line[k][1] == b) {
                        l->mode = M_LINE;
                        l->prev = b;
                        return 0;
                    }
                }
                if (y->block[0][1] && y->block[0][0] == l->mark && y->block[0][1] == b) {
                    l->mode = M_BLOCK;
                    l->prev = b;
                    return 0;
                }
            }
            if (b == '\n') {
                if (l->directive && l->prev != '\\') l->directive = 0;
                l->line_start = 1;
                l->prev = b;
                return 0;
            }
            for (int k = 0; k < 2; k++) {
                if (y->line[k][0] == b && !y->line[k][1] &&
                    (!y->word_comment || l->prev == 0 || l->prev == ' ' || l->prev == '\t' ||
                     l->prev == '\n' || l->prev == '\r' || l->prev == ';')) {
                    l->mode = M_LINE;
                    l->prev = b;
                    return 0;
                }
                if (y->line[k][1] && y->line[k][0] == b) l->pend = P_MARK;
            }
            if (y->block[0][1] && y->block[0][0] == b) l->pend = P_MARK;
            if (l->pend == P_MARK) l->mark = b;
            if (y->directives && b == '#' && l->line_start) l->directive = 1;
            if (b != ' ' && b != '\t' && b != '\r') l->line_start = 0;
            for (int k = 0; k < 3 && y->quote[k]; k++) {
                if ((uint8_t)y->quote[k] == b && !(l->directive && b == '\'')) {
                    l->mode = M_STRING;
                    l->q = (uint8_t)k;
                    l->triple = 0;
                    l->pend = y->triple[k] ? P_OPEN1 : P_NONE;
                    l->prev = b;
                    return 0;
                }
            }
            if (b == '(' || b == '[' || b == '{') {
                st->top[st->top_n++] = b;
            } else if (b == ')' || b == ']' || b == '}') {
                uint8_t open = st->top_n ? st->top[st->top_n - 1] : st->base_n ? st->base[st->base_n - 1] : 0;
                if (open != closer_of(b)) {
                    if (!lenient) return 1;
                } else if (st->top_n) {
                    st->top_n--;
                } else {
                    st->base_n--;
                }
            }
            l->prev = b;
            return 0;
        case M_LINE:
            if (b == '\n') {
                l->mode = M_CODE;
                l->line_start = 1;
                l->directive = 0;
            }
            l->prev = b;
            return 0;
        case M_BLOCK:
            if (l->pend == P_STAR && b == (uint8_t)y->block[1][1]) {
                l->mode = M_CODE;
                l->pend = P_NONE;
            } else {
                l->pend = b == (uint8_t)y->block[1][0] ? P_STAR : P_NONE;
            }
            l->prev = b;
            return 0;
        default: { /* M_STRING */
            uint8_t qc = (uint8_t)y->quote[l->q];
            if (l->pend == P_OPEN1) {
                if (b == qc) {
                    l->pend = P_OPEN2;
                    l->prev = b;
                    return 0;
                }
                l->pend = P_NONE;
            } else if (l->pend == P_OPEN2) {
                l->pend = P_NONE;
                if (b == qc) {
                    l->triple = 1;
                    l->prev = b;
                    return 0;
                }
                l->mode = M_CODE; /* "" was an empty string: b is code */
                continue;
            } else if (l->pend == P_ESC) {
                l->pend = P_NONE;
                l->prev = b;
                return 0;
            }
            if (b == '\\' && y->escapes[l->q]) {
                l->pend = P_ESC;
            } else if (l->triple) {
                if (b != qc) l->pend = P_NONE;
                else if (l->pend == P_CLOSE2) l->mode = M_CODE, l->pend = P_NONE;
                else l->pend = l->pend == P_CLOSE1 ? P_CLOSE2 : P_CLOSE1;
            } else if (b == qc) {
                l->mode = M_CODE;
            } else if ((b == '\n' || b == '\r') && !y->multiline[l->q]) {
                if (!lenient) return 1;
                l->mode = M_CODE; /* the string ends where the line does */
                continue;
            }
            l->prev = b;
            return 0;
        }
        }
    }
}

/* Whether the document may end in this state. */
static int may_end(const lex *l, size_t depth) {
    if (depth) return 0;
    if (l->mode == M_CODE || l->mode == M_LINE) return 1;
    return l->mode == M_STRING && l->pend == P_OPEN2; /* "" just closed */
}

/* ---- cursors --------------------------------------------------------------- */

static void cursor_reset(cursor *c, const code_syntax *syn) {
    c->n = 0;
    c->syn = syn;
    c->stage = S_PLAIN;
    c->content = 0;
    lex_init(&c->lx);
    c->depth = 0;
    c->n_suffix = 0;
}

static void cursor_free(cursor *c) {
    txt_free(c->ids);
    txt_free(c->stack);
    txt_free(c->suffix);
}

/* The special token `id` is, or -1. */
static int special_kind(const code_specials *sp, int32_t id, int *lang) {
    if (id < sp->min_id) return -1;
    for (int k = 0; k < CODE_N_FIXED; k++)
        if (sp->fixed[k] == id) return k;
    for (int k = 0; k < code_n_langs; k++) {
        if (sp->lang[k] == id) {
            *lang = k;
            return CODE_N_FIXED;
        }
    }
    return -1;
}

/* Lexes one more token of the history into cursor c. */
static int cursor_feed(cursor *c, const txt_vocab *v, const code_specials *sp, int32_t id) {
    int lang = -1, kind = special_kind(sp, id, &lang);
    if (kind == CODE_N_FIXED) {
        if (c->n == 0) c->syn = code_langs[lang].syntax;
    } else if (kind == CODE_FIM_PREFIX) {
        if (c->stage == S_PLAIN && !c->content) c->stage = S_PREFIX;
    } else if (kind == CODE_FIM_SUFFIX) {
        if (c->stage == S_PREFIX) c->stage = S_SUFFIX;
    } else if (kind == CODE_FIM_MIDDLE) {
        if (c->stage == S_SUFFIX) c->stage = S_MIDDLE;
    } else if (kind < 0 && v->len[id] != TXT_NO_TOKEN) {
        const uint8_t *p = v->arena + v->off[id];
        size_t n = v->len[id];
        c->content = 1;
        if (c->stage == S_SUFFIX) {
            int rc = txt_grow((void **)&c->suffix, &c->suffix_cap, c->n_suffix + n, 1);
            if (rc) return rc;
            memcpy(c->suffix + c->n_suffix, p, n);
            c->n_suffix += n;
        } else {
            int rc = txt_grow((void **)&c->stack, &c->stack_cap, c->depth + n, 1);
            if (rc) return rc;
            bstack st = {NULL, 0, c->stack, c->depth};
            for (size_t i = 0; i < n; i++) lex_byte(c->syn, &c->lx, &st, p[i], 1);
            c->depth = st.top_n;
        }
    }
    int rc = txt_grow((void **)&c->ids, &c->cap, c->n + 1, sizeof *c->ids);
    if (rc) return rc;
    c->ids[c->n++] = id;
    return 0;
}

/* ---- the vocabulary's tables -------------------------------------------------- */

static int prepare(code_constraint *cc, const txt_vocab *v, const code_specials *sp) {
    size_t n_sens = 0, n_unused = 0;
    for (int32_t id = 0; id < v->n_ids; id++) {
        if (v->len[id] == TXT_NO_TOKEN) {
            n_unused += id < sp->min_id || !txt_vocab_special_by_id(v, id);
            continue;
        }
        const uint8_t *p = v->arena + v->off[id];
        for (uint32_t i = 0; i < v->len[id]; i++) {
            uint8_t b = p[i];
            if (b == '(' || b == ')' || b == '[' || b == ']' || b == '{' || b == '}' || b == '\n' || b == '\r') {
                n_sens++;
                break;
            }
        }
    }
    txt_free(cc->sensitive);
    txt_free(cc->unused);
    txt_free(cc->scratch);
    cc->sensitive = txt_malloc((n_sens ? n_sens : 1) * sizeof *cc->sensitive);
    cc->unused = txt_malloc((n_unused ? n_unused : 1) * sizeof *cc->unused);
    cc->scratch_cap = v->max_token_len + 1;
    cc->scratch = txt_malloc(cc->scratch_cap);
    if (!cc->sensitive || !cc->unused || !cc->scratch)
        return txt_error(MMG_ERR_NOMEM, "code: out of memory for the constraint's tables");
    cc->n_sensitive = cc->n_unused = 0;
    for (int32_t id = 0; id < v->n_ids; id++) {
        if (v->len[id] == TXT_NO_TOKEN) {
            if (id < sp->min_id || !txt_vocab_special_by_id(v, id)) cc->unused[cc->n_unused++] = id;
            continue;
        }
        const uint8_t *p = v->arena + v->off[id];
        for (uint32_t i = 0; i < v->len[id]; i++) {
            uint8_t b = p[i];
            if (b == '(' || b == ')' || b == '[' || b == ']' || b == '{' || b == '}' || b == '\n' || b == '\r') {
                cc->sensitive[cc->n_sensitive++] = id;
                break;
            }
        }
    }
    cc->ready = 1;
    return 0;
}

void code_constraint_reset(code_constraint *cc) {
    if (!cc) return;
    cc->ready = 0;
    for (int k = 0; k < N_CURSORS; k++) {
        cc->cur[k].n = 0;
        cc->cur[k].used = 0;
    }
}

void code_constraint_free(code_constraint *cc) {
    if (!cc) return;
    for (int k = 0; k < N_CURSORS; k++) cursor_free(&cc->cur[k]);
    txt_free(cc->sensitive);
    txt_free(cc->unused);
    txt_free(cc->scratch);
    txt_free(cc);
}

/* Whether the bytes p[0..n) may follow state (l, stack). */
static int token_fits(const code_constraint *cc, const code_syntax *y, const lex *l,
                      const uint8_t *stack, size_t depth, const uint8_t *p, size_t n) {
    lex x = *l;
    bstack st = {stack, depth, cc->scratch, 0};
    for (size_t i = 0; i < n; i++)
        if (lex_byte(y, &x, &st, p[i], 0)) return 0;
    return 1;
}

/* Sets *ok to whether the document may end here: for a FIM middle, after
 * the suffix, which may close brackets the prefix and middle opened. */
static int end_allowed(const cursor *c, int *ok) {
    *ok = 0;
    if (c->stage == S_PREFIX || c->stage == S_SUFFIX) return 0;
    if (c->stage == S_PLAIN) {
        *ok = may_end(&c->lx, c->depth);
        return 0;
    }
    lex x = c->lx;
    uint8_t small[256];
    uint8_t *pushes = c->n_suffix <= sizeof small ? small : txt_malloc(c->n_suffix);
    if (!pushes) return txt_error(MMG_ERR_NOMEM, "code: out of memory checking the FIM suffix");
    bstack st = {c->stack, c->depth, pushes, 0};
    int fits = 1;
    for (size_t i = 0; i < c->n_suffix && fits; i++)
        if (lex_byte(c->syn, &x, &st, c->suffix[i], 0)) fits = 0;
    *ok = fits && may_end(&x, st.base_n + st.top_n);
    if (pushes != small) txt_free(pushes);
    return 0;
}

int code_allowed_next(code_constraint **cp, const txt_vocab *v, const code_specials *sp,
                      int default_lang, const int32_t *tokens, size_t n_tokens, uint8_t *allowed,
                      size_t vocab_size) {
    if (!allowed || (!tokens && n_tokens)) return txt_error(MMG_ERR_INVALID_ARG, "code: allowed_next needs tokens and a mask");
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= v->n_ids)
            return txt_error(MMG_ERR_RANGE, "code: allowed_next: token %zu is id %d, outside the vocabulary [0, %d)",
                             i, tokens[i], v->n_ids);
    if (!*cp) {
        *cp = txt_calloc(1, sizeof **cp);
        if (!*cp) return txt_error(MMG_ERR_NOMEM, "code: out of memory for the constraint");
    }
    code_constraint *cc = *cp;
    int rc = cc->ready ? 0 : prepare(cc, v, sp);
    if (rc) return rc;
    const code_syntax *syn0 = default_lang >= 0 ? code_langs[default_lang].syntax : &code_generic_syntax;

    /* The cursor that has lexed the longest prefix of `tokens`, else the
     * least recently used one, started afresh. */
    cursor *c = NULL, *lru = &cc->cur[0];
    for (int k = 0; k < N_CURSORS; k++) {
        cursor *x = &cc->cur[k];
        if (x->used && x->n <= n_tokens && (x->n == 0 || memcmp(x->ids, tokens, x->n * sizeof *tokens) == 0) &&
            (!c || x->n > c->n))
            c = x;
        if (x->used < lru->used) lru = x;
    }
    if (!c) {
        c = lru;
        cursor_reset(c, syn0);
    }
    c->used = ++cc->clock;
    for (size_t i = c->n; i < n_tokens; i++) {
        if ((rc = cursor_feed(c, v, sp, tokens[i]))) {
            cursor_reset(c, syn0);
            return rc;
        }
    }

    size_t n = vocab_size < (size_t)v->n_ids ? vocab_size : (size_t)v->n_ids;
    for (size_t i = 0; i < cc->n_unused; i++)
        if ((size_t)cc->unused[i] < n) allowed[cc->unused[i]] = 0;
    /* Special tokens: none, then those this point allows. */
    for (size_t i = 0; i < v->n_special; i++)
        if ((size_t)v->special[i].id < n) allowed[v->special[i].id] = 0;
    int32_t allow[2] = {-1, -1};
    int first = c->n == 0, after_tag = c->n == 1 && c->stage == S_PLAIN && !c->content;
    if (c->stage == S_PLAIN && !c->content && (first || after_tag)) allow[0] = sp->fixed[CODE_FIM_PREFIX];
    if (c->stage == S_PREFIX) allow[0] = sp->fixed[CODE_FIM_SUFFIX];
    if (c->stage == S_SUFFIX) allow[0] = sp->fixed[CODE_FIM_MIDDLE];
    int end_ok;
    if ((rc = end_allowed(c, &end_ok))) return rc;
    if (end_ok) allow[1] = sp->fixed[CODE_EOT];
    for (int k = 0; k < 2; k++)
        if (allow[k] >= 0 && (size_t)allow[k] < n) allowed[allow[k]] = 1;
    if (first)
        for (int k = 0; k < code_n_langs; k++)
            if (sp->lang[k] >= 0 && (size_t)sp->lang[k] < n) allowed[sp->lang[k]] = 1;
    /* Content: only tokens holding a bracket or newline can be wrong. */
    if (c->stage != S_SUFFIX) {
        for (size_t i = 0; i < cc->n_sensitive; i++) {
            int32_t id = cc->sensitive[i];
            if ((size_t)id >= n || !allowed[id]) continue;
            if (!token_fits(cc, c->syn, &c->lx, c->stack, c->depth, v->arena + v->off[id], v->len[id]))
                allowed[id] = 0;
        }
    }
    return 0;
}
