/* cli/cli.h - what the `mmgen` subcommands share: exit statuses, error
 * printing and the subcommand entry points.
 *
 * Exit statuses, the same for every subcommand:
 *   0  success
 *   1  a runtime error: a file that cannot be read, a malformed model, a
 *      library call that failed (printed as "mmgen: <doing>: <why>")
 *   2  a usage error: an unknown option, a bad value, a missing argument
 * Results go to stdout, diagnostics to stderr. */
#ifndef MMGEN_CLI_H
#define MMGEN_CLI_H

#include <stddef.h>
#include <stdint.h>

enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

/* Prints "mmgen: <doing>: <mmg_last_error()>" (the status name when the
 * message is empty) and returns CLI_ERR. `doing` is printf-style. */
int cli_fail(const char *doing_fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "mmgen: <message>" and returns CLI_ERR. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "mmgen: warning: <message>". */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Process-wide setup main() does once: the library's log goes to stderr at
 * the level $MMGEN_LOG names (quiet, error, warn (default), info, debug),
 * and an mmgen run from its build tree finds the plugins built with it.
 * Returns 0, or -1 after printing (a bad $MMGEN_LOG). */
int cli_setup(void);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* Subcommands: argv[0] is the first argument after the subcommand's name.
 * Each returns an exit status. */
int cmd_plugins(int argc, char **argv);
int cmd_plugin(int argc, char **argv); /* `plugin check` */
int cmd_tokenizer(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_quantize(int argc, char **argv); /* cli/cmd_quantize.c: Q8_0 weights */
int cmd_convert(int argc, char **argv); /* cli/cmd_convert.c: safetensors <-> GGUF */

#endif /* MMGEN_CLI_H */
