/* cli/files.h - reading and writing whole files for the CLI.
 *
 * Errors are printed here ("mmgen: cannot read 'x': No such file or
 * directory") so callers only return CLI_ERR. "-" means standard input or
 * standard output. Writes go to a temporary file in the same directory that
 * is renamed into place, so an interrupted run never leaves half a file
 * under the final name. */
#ifndef MMGEN_CLI_FILES_H
#define MMGEN_CLI_FILES_H

#include <stddef.h>
#include <stdint.h>

/* Reads all of `path` ("-" = stdin) into a malloc'ed buffer with a NUL byte
 * after the data (not counted in *size). Returns 0, or -1 after printing. */
int files_read(const char *path, uint8_t **data, size_t *size);

/* Writes `size` bytes to `path` ("-" = stdout) atomically. Returns 0 or -1
 * after printing. */
int files_write(const char *path, const void *data, size_t size);

/* Nonzero when `path` exists (any kind of file). */
int files_exist(const char *path);

/* Checks before a long job that `path` can be written later: its directory
 * exists, is a directory and is writable, and `path` itself is not a
 * directory. Returns 0, or -1 after printing an error naming `what` (e.g.
 * "--output") and the path. */
int files_check_writable(const char *what, const char *path);

/* The lower-case extension of path after the last '.', "" if none. Points
 * into path. */
const char *files_extension(const char *path);

/* Writes `path` with the number `n` (index + 1) of `total` inserted before
 * the extension, with as many digits as `total` has, so the names sort in
 * order: out.png -> out-2.png (of 9), out-02.png (of 16). Returns a
 * malloc'ed string or NULL. */
char *files_numbered(const char *path, int n, int total);

/* An inline JSON value ("{...}") or the contents of a file holding one:
 * the argument of options like --config. Returns a malloc'ed NUL-terminated
 * string, or NULL after printing an error naming `option`. */
char *files_json_arg(const char *option, const char *arg);

#endif /* MMGEN_CLI_FILES_H */
