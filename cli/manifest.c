/* cli/manifest.c - reading the pairs manifest of `mmgen train --pairs`
 * (the format is in manifest.h). */
#include "manifest.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "files.h"

/* `rel` resolved against directory `dir` ("" = current), malloc'ed. */
static char *resolve(const char *dir, const char *rel, size_t rel_len) {
    int absolute = rel_len && rel[0] == '/';
    size_t n = (absolute ? 0 : strlen(dir)) + rel_len + 2;
    char *out = malloc(n);
    if (!out) return NULL;
    if (absolute || !*dir) snprintf(out, n, "%.*s", (int)rel_len, rel);
    else snprintf(out, n, "%s/%.*s", dir, (int)rel_len, rel);
    return out;
}

/* 0 when `path` can be read; else prints "manifest:line: what 'path': why". */
static int check_file(const char *list, int line, const char *what, const char *path) {
    if (access(path, R_OK) == 0) return 0;
    return cli_error("%s:%d: the %s '%s' cannot be read: %s", list, line, what, path, strerror(errno));
}

static int add_pair(manifest *m, size_t *cap, manifest_pair p) {
    if (m->n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        manifest_pair *grown = realloc(m->pairs, c * sizeof *grown);
        if (!grown) return -1;
        m->pairs = grown;
        *cap = c;
    }
    m->pairs[m->n++] = p;
    return 0;
}

int manifest_read(const char *path, manifest *out) {
    if (strcmp(path, "-") == 0)
        return cli_error("--pairs: give the manifest as a file (its paths are relative to its directory)");
    uint8_t *data;
    size_t size;
    if (files_read(path, &data, &size) != 0) return CLI_ERR;
    /* the manifest's directory, for relative paths */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup("");
    manifest m = {0};
    size_t cap = 0;
    int rc = dir ? 0 : cli_error("out of memory");
    const char *p = (const char *)data, *end = p + size;
    for (int line = 1; !rc && p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t len = (size_t)(stop - p);
        if (len && p[len - 1] == '\r') len--;
        const char *text = p;
        p = nl ? nl + 1 : end;
        if (len == 0) continue;
        if (memchr(text, 0, len)) {
            rc = cli_error("%s:%d: the line holds a NUL byte; a manifest is text", path, line);
            break;
        }
        const char *tab = memchr(text, '\t', len);
        if (!tab) {
            rc = cli_error("%s:%d: expected SOURCE<TAB>TARGET; the line has no TAB", path, line);
            break;
        }
        const char *tgt = tab + 1;
        size_t src_len = (size_t)(tab - text), tgt_len = len - src_len - 1;
        if (memchr(tgt, '\t', tgt_len)) {
            rc = cli_error("%s:%d: expected SOURCE<TAB>TARGET; the line has more than one TAB", path, line);
            break;
        }
        if (src_len == 0 || (src_len == 1 && text[0] == '@')) {
            rc = cli_error("%s:%d: the source is empty", path, line);
            break;
        }
        if (tgt_len == 0) {
            rc = cli_error("%s:%d: the target is empty; give a file path", path, line);
            break;
        }
        manifest_pair pair = {.line = line};
        if (text[0] == '@' && text[1] != '@') {
            pair.source_is_file = 1;
            pair.source = resolve(dir, text + 1, src_len - 1);
        } else {
            size_t skip = text[0] == '@' ? 1 : 0; /* "@@x" is the text "@x" */
            pair.source = strndup(text + skip, src_len - skip);
        }
        pair.target = resolve(dir, tgt, tgt_len);
        if (!pair.source || !pair.target || add_pair(&m, &cap, pair)) {
            free(pair.source);
            free(pair.target);
            rc = cli_error("out of memory reading '%s'", path);
            break;
        }
        if (pair.source_is_file) rc = check_file(path, line, "source file", pair.source);
        if (!rc) rc = check_file(path, line, "target file", pair.target);
    }
    if (!rc && m.n == 0) rc = cli_error("%s: no pairs (expected lines SOURCE<TAB>TARGET)", path);
    free(data);
    free(dir);
    if (rc) {
        manifest_free(&m);
        return rc;
    }
    *out = m;
    return 0;
}

void manifest_free(manifest *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->pairs[i].source);
        free(m->pairs[i].target);
    }
    free(m->pairs);
    memset(m, 0, sizeof *m);
}
