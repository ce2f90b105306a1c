/* plugins/code/lang.c - the languages the code plugin tags: each one's name
 * (its tag is <|lang:NAME|>), the file names that say it, and how it writes
 * comments and strings (for the constraint).
 *
 * The table's order gives the tags' ids in a fitted vocabulary, so languages
 * are only ever appended; a saved state lists its own tags, so a state from
 * a shorter table keeps working (its missing languages have no tag). */
#include <string.h>

#include "code.h"

/* Fields: line comment markers, block comment open/close, quote characters,
 * then per quote: escapes, multiline, triple; directives, word_comment. */
static const code_syntax C_LIKE = {
    {"//", ""}, {"/*", "*/"}, {'"', '\''}, {1, 1}, {0, 0}, {0, 0}, 1, 0};
static const code_syntax JAVA_LIKE = {
    {"//", ""}, {"/*", "*/"}, {'"', '\''}, {1, 1}, {0, 0}, {1, 0}, 0, 0};
static const code_syntax JS_LIKE = {
    {"//", ""}, {"/*", "*/"}, {'"', '\'', '`'}, {1, 1, 1}, {0, 0, 1}, {0, 0, 0}, 0, 0};
static const code_syntax GO = {
    {"//", ""}, {"/*", "*/"}, {'"', '\'', '`'}, {1, 1, 0}, {0, 0, 1}, {0, 0, 0}, 0, 0};
static const code_syntax RUST = {
    {"//", ""}, {"/*", "*/"}, {'"'}, {1}, {1}, {0}, 0, 0};
static const code_syntax PYTHON = {
    {"#", ""}, {"", ""}, {'"', '\''}, {1, 1}, {0, 0}, {1, 1}, 0, 0};
static const code_syntax SHELL = {
    {"#", ""}, {"", ""}, {'"', '\''}, {1, 0}, {1, 1}, {0, 0}, 0, 1};
static const code_syntax HASH_QUOTES = {
    {"#", ""}, {"", ""}, {'"', '\''}, {1, 1}, {1, 1}, {0, 0}, 0, 0};
static const code_syntax HASH_DQUOTE = {
    {"#", ""}, {"", ""}, {'"'}, {1}, {1}, {0}, 0, 0};
static const code_syntax HASH_ONLY = {{"#", ""}, {"", ""}, {0}, {0}, {0}, {0}, 0, 0};
static const code_syntax SQL = {
    {"--", ""}, {"/*", "*/"}, {'\'', '"'}, {0, 0}, {1, 1}, {0, 0}, 0, 0};
static const code_syntax DASH_QUOTES = {
    {"--", ""}, {"", ""}, {'"', '\''}, {1, 1}, {0, 0}, {0, 0}, 0, 0};
static const code_syntax HASKELL = {{"--", ""}, {"", ""}, {'"'}, {1}, {0}, {0}, 0, 0};
static const code_syntax CSS = {
    {"", ""}, {"/*", "*/"}, {'"', '\''}, {1, 1}, {0, 0}, {0, 0}, 0, 0};
static const code_syntax JSON = {{"", ""}, {"", ""}, {'"'}, {1}, {0}, {0}, 0, 0};
static const code_syntax TEX = {{"%", ""}, {"", ""}, {0}, {0}, {0}, {0}, 0, 0};
const code_syntax code_generic_syntax = {{"", ""}, {"", ""}, {0}, {0}, {0}, {0}, 0, 0};

const code_lang code_langs[] = {
    {"c", ".c .h", "", &C_LIKE},
    {"cpp", ".cc .cpp .cxx .c++ .hpp .hh .hxx .h++ .ipp .tcc .inl", "", &C_LIKE},
    {"python", ".py .pyi .pyw", "SConstruct SConscript", &PYTHON},
    {"shell", ".sh .bash .zsh .ksh", ".bashrc .profile", &SHELL},
    {"javascript", ".js .mjs .cjs .jsx", "", &JS_LIKE},
    {"typescript", ".ts .tsx .mts .cts", "", &JS_LIKE},
    {"java", ".java", "", &JAVA_LIKE},
    {"csharp", ".cs", "", &C_LIKE},
    {"go", ".go", "", &GO},
    {"rust", ".rs", "", &RUST},
    {"kotlin", ".kt .kts", "", &JAVA_LIKE},
    {"swift", ".swift", "", &JAVA_LIKE},
    {"scala", ".scala .sc", "", &JAVA_LIKE},
    {"php", ".php", "", &JS_LIKE},
    {"ruby", ".rb .rake .gemspec", "Rakefile Gemfile", &HASH_QUOTES},
    {"perl", ".pl .pm .t", "", &HASH_QUOTES},
    {"r", ".r", "", &HASH_QUOTES},
    {"lua", ".lua", "", &DASH_QUOTES},
    {"haskell", ".hs .lhs", "", &HASKELL},
    {"sql", ".sql", "", &SQL},
    {"html", ".html .htm .xhtml", "", &code_generic_syntax},
    {"xml", ".xml .xsd .xsl .xslt .svg", "", &code_generic_syntax},
    {"css", ".css", "", &CSS},
    {"json", ".json", "", &JSON},
    {"yaml", ".yaml .yml", "", &HASH_DQUOTE},
    {"toml", ".toml", "", &HASH_QUOTES},
    {"markdown", ".md .markdown .rst", "", &code_generic_syntax},
    {"tex", ".tex .sty .cls", "", &TEX},
    {"cmake", ".cmake", "CMakeLists.txt", &HASH_DQUOTE},
    {"make", ".mk .mak", "Makefile makefile GNUmakefile", &HASH_ONLY},
    {"dockerfile", ".dockerfile", "Dockerfile Containerfile", &HASH_ONLY},
    {"assembly", ".s .asm", "", &code_generic_syntax},
};
const int code_n_langs = (int)(sizeof code_langs / sizeof code_langs[0]);

int code_lang_find(const char *name, size_t n) {
    for (int i = 0; i < code_n_langs; i++)
        if (strlen(code_langs[i].name) == n && memcmp(code_langs[i].name, name, n) == 0) return i;
    return -1;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Whether the space-separated `list` holds word[0..n); case-insensitively
 * when `fold`. */
static int in_list(const char *list, const char *word, size_t n, int fold) {
    for (const char *p = list; *p;) {
        while (*p == ' ') p++;
        size_t k = strcspn(p, " ");
        if (k == n && k) {
            size_t j = 0;
            while (j < n && (fold ? lower((unsigned char)p[j]) == lower((unsigned char)word[j]) : p[j] == word[j])) j++;
            if (j == n) return 1;
        }
        p += k;
    }
    return 0;
}

int code_lang_from_path(const char *path, size_t n) {
    size_t base = n;
    while (base > 0 && path[base - 1] != '/') base--;
    const char *name = path + base;
    size_t len = n - base;
    for (int i = 0; i < code_n_langs; i++)
        if (in_list(code_langs[i].file_names, name, len, 0)) return i;
    size_t dot = len;
    while (dot > 0 && name[dot - 1] != '.') dot--;
    if (dot <= 1) return -1; /* no extension, or a hidden file's name */
    for (int i = 0; i < code_n_langs; i++)
        if (in_list(code_langs[i].extensions, name + dot - 1, len - dot + 1, 1)) return i;
    return -1;
}
