/* cli/common.c - error printing, the library's log, and finding the
 * plugins of a build tree: what every subcommand shares (see cli.h). */
#define _DEFAULT_SOURCE /* setenv, realpath */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mmgen/mmgen.h"

/* One line to stderr in one write: ranks under mpirun share the stream, and
 * piecewise writes from two of them interleave mid-line. */
static void print_line(const char *prefix, const char *fmt, va_list ap, const char *suffix) {
    char line[4096];
    int n = snprintf(line, sizeof line, "mmgen: %s", prefix);
    if (n >= 0 && (size_t)n < sizeof line) n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
    snprintf(line + n, sizeof line - (size_t)n, "%s\n", suffix);
    size_t len = strlen(line);
    if (line[len - 1] != '\n') { /* cut short: keep the line a line */
        if (len > sizeof line - 2) len = sizeof line - 2;
        line[len] = '\n', line[len + 1] = '\0';
    }
    fputs(line, stderr);
}

int cli_fail(const char *doing_fmt, ...) {
    const char *why = mmg_last_error();
    if (!why || !*why) why = mmg_status_string(mmg_last_status());
    char suffix[2048];
    snprintf(suffix, sizeof suffix, ": %s", why);
    va_list ap;
    va_start(ap, doing_fmt);
    print_line("", doing_fmt, ap, suffix);
    va_end(ap);
    return CLI_ERR;
}

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_line("", fmt, ap, "");
    va_end(ap);
    return CLI_ERR;
}

void cli_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_line("warning: ", fmt, ap, "");
    va_end(ap);
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void log_to_stderr(mmg_log_level level, const char *message, void *user_data) {
    static const char *const names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "mmgen: %s: %s\n", names[level <= MMG_LOG_DEBUG ? level : MMG_LOG_DEBUG], message);
}

/* $MMGEN_LOG picks how much of the library's log reaches stderr. */
static int setup_log(void) {
    const char *env = getenv("MMGEN_LOG");
    mmg_log_level level = MMG_LOG_WARN;
    if (env && *env) {
        if (!strcmp(env, "quiet") || !strcmp(env, "none")) return 0;
        if (!strcmp(env, "error")) level = MMG_LOG_ERROR;
        else if (!strcmp(env, "warn") || !strcmp(env, "warning")) level = MMG_LOG_WARN;
        else if (!strcmp(env, "info")) level = MMG_LOG_INFO;
        else if (!strcmp(env, "debug")) level = MMG_LOG_DEBUG;
        else {
            cli_error("MMGEN_LOG is '%s'; expected quiet, error, warn, info or debug", env);
            return -1;
        }
    }
    mmg_set_log_callback(log_to_stderr, level, NULL);
    return 0;
}

/* A `mmgen` run from its build tree (build/bin/mmgen beside build/plugins)
 * also finds the plugins built with it, after any MMGEN_PLUGIN_PATH entries,
 * so it works before `cmake --install`. An installed mmgen finds its plugins
 * in the install directory, which libmmgen searches itself. */
static void setup_plugin_path(void) {
#ifdef MMGEN_PLUGIN_BUILD_DIR
    char exe[PATH_MAX], plugins[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = '\0'; /* .../bin */
    slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = '\0'; /* the build tree */
    if (!realpath(MMGEN_PLUGIN_BUILD_DIR, plugins)) return;
    char mine[PATH_MAX + 16];
    snprintf(mine, sizeof mine, "%s/plugins", exe);
    char resolved[PATH_MAX];
    if (!realpath(mine, resolved) || strcmp(resolved, plugins) != 0) return;
    const char *old = getenv("MMGEN_PLUGIN_PATH");
    if (old && *old) {
        size_t len = strlen(old) + strlen(plugins) + 2;
        char *joined = malloc(len);
        if (!joined) return;
        snprintf(joined, len, "%s:%s", old, plugins);
        setenv("MMGEN_PLUGIN_PATH", joined, 1);
        free(joined);
    } else {
        setenv("MMGEN_PLUGIN_PATH", plugins, 1);
    }
#endif
}

int cli_setup(void) {
    setup_plugin_path();
    return setup_log();
}
