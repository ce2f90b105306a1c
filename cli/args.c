/* cli/args.c - the table-driven option parser (see args.h).
 *
 * Every message names the option as the user typed it and the value, says
 * what was expected, and for an unknown option suggests the nearest known
 * one, so a typo costs one glance. */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int args_to_i64(const char *s, int64_t *out) {
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = (int64_t)v;
    return 0;
}

int args_to_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

int args_to_double(const char *s, double *out) {
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int args_usage_error(const args_command *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mmgen %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see `mmgen %s --help`)\n", cmd->name);
    va_end(ap);
    return ARGS_ERROR;
}

args_option *args_find(args_option *opts, const char *name) {
    for (args_option *o = opts; o->name; o++)
        if (!strcmp(o->name, name)) return o;
    return NULL;
}

/* Levenshtein distance, capped: only small distances matter for hints. */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *nearest(const args_option *opts, const char *name) {
    const char *best = NULL;
    int bestd = 3;
    for (const args_option *o = opts; o->name; o++) {
        int d = edit_distance(name, o->name);
        if (d < bestd) bestd = d, best = o->name;
    }
    return best;
}

static void print_choices(FILE *f, const char *const *choices) {
    for (int i = 0; choices[i]; i++) fprintf(f, "%s%s", i ? ", " : "", choices[i]);
}

static int in_range(const args_option *o, double v) {
    if (o->min == 0 && o->max == 0) return 1;
    return v >= o->min && v <= o->max;
}

static int range_error(const args_command *cmd, const args_option *o, const char *value) {
    if (o->max >= 1e18)
        return args_usage_error(cmd, "--%s: %s is out of range; expected at least %g", o->name, value,
                                o->min);
    return args_usage_error(cmd, "--%s: %s is out of range; expected %g to %g", o->name, value,
                            o->min, o->max);
}

/* Stores `value` into option o. */
static int set_value(const args_command *cmd, args_option *o, const char *value) {
    int64_t i;
    uint64_t u;
    double d;
    switch (o->kind) {
    case ARG_FLAG: *(int *)o->dest = 1; break;
    case ARG_STRING: *(const char **)o->dest = value; break;
    case ARG_INT:
        if (args_to_i64(value, &i) || i < INT32_MIN || i > INT32_MAX)
            return args_usage_error(cmd, "--%s: '%s' is not an integer", o->name, value);
        if (!in_range(o, (double)i)) return range_error(cmd, o, value);
        *(int32_t *)o->dest = (int32_t)i;
        break;
    case ARG_I64:
        if (args_to_i64(value, &i))
            return args_usage_error(cmd, "--%s: '%s' is not an integer", o->name, value);
        if (!in_range(o, (double)i)) return range_error(cmd, o, value);
        *(int64_t *)o->dest = i;
        break;
    case ARG_U64:
        if (args_to_u64(value, &u))
            return args_usage_error(cmd, "--%s: '%s' is not a non-negative integer", o->name, value);
        *(uint64_t *)o->dest = u;
        break;
    case ARG_FLOAT:
        if (args_to_double(value, &d))
            return args_usage_error(cmd, "--%s: '%s' is not a number", o->name, value);
        if (!in_range(o, d)) return range_error(cmd, o, value);
        *(float *)o->dest = (float)d;
        break;
    case ARG_CHOICE:
        for (int k = 0; o->choices[k]; k++)
            if (!strcmp(o->choices[k], value)) {
                *(int32_t *)o->dest = k;
                return ARGS_OK;
            }
        fprintf(stderr, "mmgen %s: --%s: '%s' is not one of: ", cmd->name, o->name, value);
        print_choices(stderr, o->choices);
        fprintf(stderr, "\n(see `mmgen %s --help`)\n", cmd->name);
        return ARGS_ERROR;
    }
    return ARGS_OK;
}

int args_parse(const args_command *cmd, args_option *opts, int argc, char **argv,
               const char **pos, int max_pos, int *n_pos) {
    int np = 0, only_pos = 0;
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (only_pos || arg[0] != '-' || arg[1] == '\0') {
            if (np >= max_pos)
                return max_pos == 0
                           ? args_usage_error(cmd, "unexpected argument '%s'", arg)
                           : args_usage_error(cmd, "too many arguments (at most %d); '%s' is extra",
                                              max_pos, arg);
            pos[np++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            args_print_help(cmd, opts, stdout);
            return ARGS_HELP;
        }
        args_option *o = NULL;
        const char *value = NULL;
        char name[64];
        if (arg[1] == '-') {
            const char *eq = strchr(arg + 2, '=');
            size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            if (len >= sizeof name) len = sizeof name - 1;
            memcpy(name, arg + 2, len);
            name[len] = '\0';
            o = args_find(opts, name);
            if (!o) {
                const char *near = nearest(opts, name);
                if (near)
                    return args_usage_error(cmd, "unknown option '--%s'; did you mean '--%s'?", name,
                                            near);
                return args_usage_error(cmd, "unknown option '--%s'", name);
            }
            if (eq) {
                if (o->kind == ARG_FLAG)
                    return args_usage_error(cmd, "--%s takes no value (got '%s')", name, eq + 1);
                value = eq + 1;
            }
        } else {
            for (args_option *p = opts; p->name; p++)
                if (p->short_name && p->short_name == arg[1]) o = p;
            if (!o) return args_usage_error(cmd, "unknown option '-%c'", arg[1]);
            if (arg[2]) {
                if (o->kind == ARG_FLAG)
                    return args_usage_error(cmd, "-%c takes no value (got '%s')", arg[1], arg + 2);
                value = arg + 2;
            }
        }
        if (o->kind != ARG_FLAG && !value) {
            if (a + 1 >= argc)
                return args_usage_error(cmd, "--%s needs a value (%s)", o->name,
                                        o->metavar ? o->metavar : "VALUE");
            value = argv[++a];
        }
        if (set_value(cmd, o, value) != ARGS_OK) return ARGS_ERROR;
        o->seen = 1;
    }
    *n_pos = np;
    return ARGS_OK;
}

/* The current value of an option, for "(default ...)". Empty for none. */
static void format_default(const args_option *o, char *buf, size_t size) {
    buf[0] = '\0';
    switch (o->kind) {
    case ARG_FLAG: break;
    case ARG_STRING:
        if (*(const char *const *)o->dest) snprintf(buf, size, "%s", *(const char *const *)o->dest);
        break;
    case ARG_INT: snprintf(buf, size, "%d", (int)*(const int32_t *)o->dest); break;
    case ARG_I64: snprintf(buf, size, "%lld", (long long)*(const int64_t *)o->dest); break;
    case ARG_U64: snprintf(buf, size, "%llu", (unsigned long long)*(const uint64_t *)o->dest); break;
    case ARG_FLOAT: snprintf(buf, size, "%g", (double)*(const float *)o->dest); break;
    case ARG_CHOICE: snprintf(buf, size, "%s", o->choices[*(const int32_t *)o->dest]); break;
    }
}

void args_print_help(const args_command *cmd, const args_option *opts, void *out_file) {
    FILE *f = out_file;
    fprintf(f, "usage: mmgen %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->synopsis, cmd->summary);
    for (const args_option *o = opts; o->name; o++) {
        char left[96];
        const char *mv = o->kind == ARG_FLAG ? "" : o->metavar ? o->metavar : "VALUE";
        if (o->short_name)
            snprintf(left, sizeof left, "  -%c, --%s%s%s", o->short_name, o->name, *mv ? " " : "", mv);
        else
            snprintf(left, sizeof left, "      --%s%s%s", o->name, *mv ? " " : "", mv);
        if (strlen(left) > 28)
            fprintf(f, "%s\n%30s", left, "");
        else
            fprintf(f, "%-30s", left);
        fputs(o->help, f);
        if (o->kind == ARG_CHOICE) {
            fputs(": ", f);
            print_choices(f, o->choices);
        }
        char def[128];
        format_default(o, def, sizeof def);
        if (def[0] && !strstr(o->help, "default")) fprintf(f, " (default %s)", def);
        fputc('\n', f);
    }
    fprintf(f, "%-30s%s\n", "  -h, --help", "show this help");
    if (cmd->epilog) fprintf(f, "\n%s", cmd->epilog);
}
