/* cli/args.h - the option parser every subcommand shares.
 *
 * A subcommand describes its options in a table (name, value kind, where to
 * store it, its range and one line of help); args_parse() walks argv, stores
 * values, collects positional arguments and prints `--help` from the same
 * table, so the help text can never drift from what is accepted.
 *
 * Accepted forms: --name VALUE, --name=VALUE, -x VALUE, -xVALUE (short
 * options), --flag, and `--` to end options. A lone `-` is a positional
 * argument (standard input or output). Errors name the option and the value
 * and what was expected; they are usage errors (exit status 2). */
#ifndef MMGEN_CLI_ARGS_H
#define MMGEN_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* What an option's value is. */
typedef enum args_kind {
    ARG_FLAG,   /* no value; *(int *)dest = 1 */
    ARG_STRING, /* *(const char **)dest = the argv string */
    ARG_INT,    /* *(int32_t *)dest, within [min, max] */
    ARG_I64,    /* *(int64_t *)dest, within [min, max] */
    ARG_U64,    /* *(uint64_t *)dest, any value that fits */
    ARG_FLOAT,  /* *(float *)dest, finite, within [min, max] */
    ARG_CHOICE  /* *(int32_t *)dest = index of the value in `choices` */
} args_kind;

typedef struct args_option {
    const char *name;     /* long name without "--"; NULL ends the table */
    char short_name;      /* 0 = none */
    args_kind kind;
    void *dest;
    const char *metavar;  /* shown in help: "N", "FILE" */
    const char *help;     /* one line; "(default ...)" is appended from the value */
    double min, max;      /* ARG_INT/I64/FLOAT range; min == max == 0 means none */
    const char *const *choices; /* ARG_CHOICE: NULL-terminated names */
    int seen;             /* set by args_parse when given */
} args_option;

/* Results of args_parse. */
enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_ERROR = 2 };

/* A subcommand's description for --help and error messages. */
typedef struct args_command {
    const char *name;      /* "train", "tokenizer fit" */
    const char *synopsis;  /* "[options] FILES..." */
    const char *summary;   /* one paragraph, printed under the usage line */
    const char *epilog;    /* examples printed after the options, or NULL */
} args_command;

/* Parses argv[0..argc) (argv[0] is the first argument after the subcommand's
 * own name). Positional arguments are stored in order in pos[] (at most
 * max_pos; their count in *n_pos). Returns ARGS_OK; ARGS_HELP after printing
 * the help to stdout (-h/--help); ARGS_ERROR after printing a message naming
 * the problem and a hint to stderr. Options keep their defaults unless given;
 * opts[i].seen says which were. */
int args_parse(const args_command *cmd, args_option *opts, int argc, char **argv,
               const char **pos, int max_pos, int *n_pos);

/* Prints the help of a command from its table. */
void args_print_help(const args_command *cmd, const args_option *opts, void *out_file);

/* The option named `name` in the table (for .seen), or NULL. */
args_option *args_find(args_option *opts, const char *name);

/* Prints "mmgen <cmd>: <message>\n" and a "try --help" hint to stderr;
 * returns ARGS_ERROR (2), the usage exit status. */
int args_usage_error(const args_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a whole string as a number; 0 on success, -1 if it is not one. */
int args_to_i64(const char *s, int64_t *out);
int args_to_u64(const char *s, uint64_t *out);
int args_to_double(const char *s, double *out);

#endif /* MMGEN_CLI_ARGS_H */
