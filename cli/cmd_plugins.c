/* cli/cmd_plugins.c - `mmgen plugins`: every plugin file in the search path,
 * with its name, version, modality and path, and each broken one with the
 * reason it does not load. A broken plugin is reported, not fatal: the exit
 * status is 0 unless the listing itself fails. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "mmgen/mmgen.h"

int cmd_plugins(int argc, char **argv) {
    const char *path = NULL;
    int quiet = 0;
    args_option opts[] = {
        {"path", 0, ARG_STRING, &path, "DIRS", "search these colon-separated directories instead "
                                               "of MMGEN_PLUGIN_PATH and the install directory"},
        {"names", 0, ARG_FLAG, &quiet, NULL, "print only the names of the plugins that load"},
        {0}};
    const args_command cmd = {
        "plugins", "[options]",
        "Lists the modality plugins (mmgen-*.so) found in the plugin search path:\n"
        "MMGEN_PLUGIN_PATH's directories, then the install directory. Plugins that\n"
        "fail to load are listed with the reason.",
        NULL};
    int n_pos = 0;
    int rc = args_parse(&cmd, opts, argc, argv, NULL, 0, &n_pos);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;

    char *search = NULL;
    if (!path) {
        if (mmg_plugin_search_path(&search) != MMG_OK) return cli_fail("reading the plugin search path");
        path = search;
    }
    mmg_plugin_list *list = NULL;
    if (mmg_plugin_list_create(path, &list) != MMG_OK) {
        rc = cli_fail("listing plugins in '%s'", path);
        mmg_free(search);
        return rc;
    }
    size_t n = mmg_plugin_list_count(list), ok = 0;
    for (size_t i = 0; i < n; i++) ok += mmg_plugin_list_status(list, i) == MMG_OK;
    if (quiet) {
        for (size_t i = 0; i < n; i++)
            if (mmg_plugin_list_status(list, i) == MMG_OK) printf("%s\n", mmg_plugin_list_name(list, i));
    } else {
        printf("search path: %s\n", *path ? path : "(empty)");
        if (n == 0) printf("no plugins found\n");
        if (ok) printf("%-12s %-10s %-9s %s\n", "NAME", "VERSION", "MODALITY", "PATH");
        for (size_t i = 0; i < n; i++) {
            if (mmg_plugin_list_status(list, i) != MMG_OK) continue;
            printf("%-12s %-10s %-9s %s\n", mmg_plugin_list_name(list, i),
                   mmg_plugin_list_version(list, i),
                   mmg_modality_name(mmg_plugin_list_modality(list, i)), mmg_plugin_list_path(list, i));
        }
        if (ok < n) printf("\nbroken (%zu):\n", n - ok);
        for (size_t i = 0; i < n; i++) {
            mmg_status s = mmg_plugin_list_status(list, i);
            if (s == MMG_OK) continue;
            printf("  %s\n    %s: %s\n", mmg_plugin_list_path(list, i), mmg_status_name(s),
                   mmg_plugin_list_error(list, i));
        }
    }
    mmg_plugin_list_free(list);
    mmg_free(search);
    return CLI_OK;
}
