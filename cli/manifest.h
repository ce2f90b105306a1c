/* cli/manifest.h - the pairs manifest of `mmgen train --pairs`: one
 * (source, target) training pair per line, for encoder-decoders whose
 * sources and targets may be documents of different plugins.
 *
 *   <source> TAB <target>
 *
 * - target: a file path, relative to the manifest's directory unless it
 *   starts with '/'; the target tokenizer's plugin encodes the file.
 * - source: inline text, taken as it is (UTF-8; it cannot hold a TAB or a
 *   newline), unless it starts with '@': "@PATH" is the file PATH (relative
 *   as above) and "@@..." is inline text starting with one '@'. The source
 *   tokenizer's plugin encodes either.
 * - Exactly one TAB per line; a "\r" before the "\n" is dropped; empty lines
 *   are skipped. Nothing else is special (no comments, no escapes), so every
 *   line means one thing.
 *
 * Class-conditional data is just text sources: "seven<TAB>img/0007.png". */
#ifndef MMGEN_CLI_MANIFEST_H
#define MMGEN_CLI_MANIFEST_H

#include <stddef.h>

typedef struct manifest_pair {
    int line;           /* 1-based line number in the manifest */
    char *source;       /* the inline text, or the resolved path when source_is_file */
    int source_is_file;
    char *target;       /* the resolved target path */
} manifest_pair;

typedef struct manifest {
    manifest_pair *pairs;
    size_t n;
} manifest;

/* Reads and checks the manifest `path` ("-" is not allowed: paths are
 * relative to its directory): every line well-formed, every named file
 * present and readable. Errors name "path:line" and the field. Returns 0, or
 * CLI_ERR after printing (nothing kept). */
int manifest_read(const char *path, manifest *out);

void manifest_free(manifest *m);

#endif /* MMGEN_CLI_MANIFEST_H */
