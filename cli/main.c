/* cli/main.c - the `mmgen` command: entry point and subcommand dispatch.
 *
 * Each subcommand lives in its own cli/cmd_<name>.c; this file only parses the
 * first word and reports errors. Unlike the library, the CLI may print and exit.
 * Exit statuses: 0 success, 1 runtime error, 2 usage error (cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mmgen/mmgen.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"plugins", cmd_plugins, "list the modality plugins found, and the broken ones"},
    {"plugin", cmd_plugin, "`plugin check`: test a plugin against the plugin ABI's rules"},
    {"tokenizer", cmd_tokenizer, "fit a tokenizer; encode and decode documents"},
    {"train", cmd_train, "train a model on documents of any modality"},
    {"generate", cmd_generate, "generate a document (text, image...) with a model"},
    {"info", cmd_info, "describe a model file: config, size, tokenizer"},
    {"quantize", cmd_quantize, "rewrite a model with Q8_0 or Q4_0 weights for faster inference"},
    {"convert", cmd_convert, "convert a GPT-2-style model to llama.cpp's GGUF and back"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: mmgen <command> [options]\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-14s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out,
            "  version        print the library version and ABI\n"
            "  help           show this message\n"
            "\n"
            "options:\n"
            "  --version      same as `mmgen version`\n"
            "\n"
            "`mmgen <command> --help` describes a command. Exit status: 0 success,\n"
            "1 runtime error, 2 usage error. Environment: MMGEN_PLUGIN_PATH (plugin\n"
            "directories), MMGEN_NUM_THREADS, MMGEN_LOG (quiet|error|warn|info|debug).\n");
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
        /* `mmgen help train` is `mmgen train --help` */
        if (argc > 2) {
            for (size_t i = 0; i < N_COMMANDS; i++)
                if (!strcmp(argv[2], COMMANDS[i].name)) {
                    char *help_argv[] = {(char *)"--help", NULL};
                    return COMMANDS[i].run(1, help_argv);
                }
        }
        print_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, COMMANDS[i].name)) {
            if (cli_setup() != 0) return CLI_USAGE;
            return COMMANDS[i].run(argc - 2, argv + 2);
        }
    fprintf(stderr, "mmgen: unknown command '%s'\n", cmd);
    print_usage(stderr);
    return 2;
}
