/* cli/spawn.c - running an external tool and waiting for it (see spawn.h). */
#include "spawn.h"

#include <errno.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

int spawn_wait(char *const argv[]) {
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (err) {
        errno = err;
        return -2;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
