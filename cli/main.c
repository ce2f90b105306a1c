/* cli/main.c - the `mmgen` command: entry point and subcommand dispatch.
 *
 * Each subcommand lives in its own cli/cmd_<name>.c; this file only parses the
 * first word and reports errors. Unlike the library, the CLI may print and exit. */
#include <stdio.h>
#include <string.h>

#include "mmgen/mmgen.h"

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: mmgen <command> [options]\n"
            "\n"
            "commands:\n"
            "  version        print the library version and ABI\n"
            "  help           show this message\n"
            "\n"
            "options:\n"
            "  --version      same as `mmgen version`\n");
}

static int cmd_version(void) {
    uint32_t abi = mmg_abi_version();
    printf("mmgen %s (ABI %u.%u)\n", mmg_version_string(), (unsigned)MMGEN_ABI_VERSION_MAJOR(abi),
           (unsigned)MMGEN_ABI_VERSION_MINOR(abi));
    return 0;
}

int main(int argc, char **argv) {
    if (!mmg_abi_compatible(MMGEN_ABI_MAJOR, MMGEN_ABI_MINOR)) {
        fprintf(stderr, "mmgen: libmmgen %s is older than this program's headers (%d.%d)\n",
                mmg_version_string(), MMGEN_ABI_MAJOR, MMGEN_ABI_MINOR);
        return 1;
    }
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) return cmd_version();
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        print_usage(stdout);
        return 0;
    }
    fprintf(stderr, "mmgen: unknown command '%s'\n", cmd);
    print_usage(stderr);
    return 2;
}
