/* cli/files.c - whole-file reads and atomic writes (see files.h). */
#include "files.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int files_read(const char *path, uint8_t **data, size_t *size) {
    int is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        cli_error("cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (!is_stdin && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        cli_error("cannot read '%s': it is a directory", path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        uint8_t *nb = cap > SIZE_MAX / 4 ? NULL : realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f);
    int saved = errno;
    if (!is_stdin) fclose(f);
    if (!buf) {
        cli_error("cannot read '%s': out of memory", path);
        return -1;
    }
    if (err) {
        free(buf);
        cli_error("cannot read '%s': %s", is_stdin ? "standard input" : path, strerror(saved));
        return -1;
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return 0;
}

static int write_all(int fd, const void *data, size_t size) {
    const uint8_t *p = data;
    while (size) {
        ssize_t w = write(fd, p, size);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        size -= (size_t)w;
    }
    return 0;
}

int files_write(const char *path, const void *data, size_t size) {
    if (!strcmp(path, "-")) {
        if (write_all(STDOUT_FILENO, data, size) != 0) {
            cli_error("cannot write to standard output: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    /* A device or pipe (/dev/null, a FIFO) is written in place: renaming a
     * temporary file over it would replace it. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            cli_error("cannot write '%s': it is a directory", path);
            return -1;
        }
        int fd = open(path, O_WRONLY);
        if (fd < 0 || write_all(fd, data, size) != 0) {
            cli_error("cannot write '%s': %s", path, strerror(errno));
            if (fd >= 0) close(fd);
            return -1;
        }
        close(fd);
        return 0;
    }
    size_t len = strlen(path);
    char *tmp = malloc(len + 32);
    if (!tmp) {
        cli_error("cannot write '%s': out of memory", path);
        return -1;
    }
    snprintf(tmp, len + 32, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        cli_error("cannot write '%s': %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = write_all(fd, data, size);
    int saved = errno;
    if (close(fd) != 0 && rc == 0) rc = -1, saved = errno;
    if (rc == 0 && rename(tmp, path) != 0) rc = -1, saved = errno;
    if (rc != 0) {
        unlink(tmp);
        cli_error("cannot write '%s': %s", path, strerror(saved));
    }
    free(tmp);
    return rc;
}

int files_exist(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int files_check_writable(const char *what, const char *path) {
    if (strcmp(path, "-") == 0) return 0;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "mmgen: %s '%s' is a directory\n", what, path);
        return -1;
    }
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    if (!dir) {
        fprintf(stderr, "mmgen: out of memory\n");
        return -1;
    }
    int rc = 0;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "mmgen: %s '%s': cannot use its directory '%s': %s\n", what, path, dir,
                strerror(errno));
        rc = -1;
    } else if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "mmgen: %s '%s': '%s' is not a directory\n", what, path, dir);
        rc = -1;
    } else if (access(dir, W_OK) != 0) {
        fprintf(stderr, "mmgen: %s '%s': cannot write into '%s': %s\n", what, path, dir, strerror(errno));
        rc = -1;
    }
    free(dir);
    return rc;
}

const char *files_extension(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    return dot ? dot + 1 : "";
}

char *files_numbered(const char *path, int n, int total) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    size_t stem = dot ? (size_t)(dot - path) : strlen(path);
    size_t size = strlen(path) + 16;
    int width = snprintf(NULL, 0, "%d", total > n ? total : n); /* so names sort in order */
    char *out = malloc(size);
    if (out) snprintf(out, size, "%.*s-%0*d%s", (int)stem, path, width, n, dot ? dot : "");
    return out;
}

char *files_json_arg(const char *option, const char *arg) {
    const char *p = arg;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '{' || *p == '[') {
        char *copy = strdup(arg);
        if (!copy) cli_error("%s: out of memory", option);
        return copy;
    }
    uint8_t *data;
    size_t size;
    if (files_read(arg, &data, &size) != 0) {
        fprintf(stderr, "mmgen: (%s takes inline JSON such as '{\"vocab_size\": 4096}' or a file "
                        "holding it)\n", option);
        return NULL;
    }
    if (memchr(data, 0, size)) {
        free(data);
        cli_error("%s: '%s' holds a NUL byte; expected a JSON text file", option, arg);
        return NULL;
    }
    return (char *)data;
}
