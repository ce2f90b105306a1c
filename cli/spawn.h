/* cli/spawn.h - running a well-kept external tool (ImageMagick's montage,
 * gnuplot) from the CLI: an argument vector, no shell, so no text of the
 * user's is ever parsed as a command. */
#ifndef MMGEN_CLI_SPAWN_H
#define MMGEN_CLI_SPAWN_H

/* Runs argv[0] (looked up on PATH) with argv and waits for it. Returns its
 * exit status; -2 when it could not be started (errno set: ENOENT when it
 * is not installed); -1 when it was killed by a signal. */
int spawn_wait(char *const argv[]);

#endif /* MMGEN_CLI_SPAWN_H */
