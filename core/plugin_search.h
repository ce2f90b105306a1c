/* core/plugin_search.h - where plugin files are looked for (private).
 *
 * The search path is MMGEN_PLUGIN_PATH's directories, then the compiled-in
 * install directory (MMGEN_PLUGIN_INSTALL_DIR). A name maps to the file
 * "mmgen-<name>.so"; a name with a '/' is a path and is not searched. */
#ifndef MMGEN_CORE_PLUGIN_SEARCH_H
#define MMGEN_CORE_PLUGIN_SEARCH_H

#include "mmgen/status.h"

/* The default search path, colon-separated, in *out (mmg__malloc'ed). */
mmg_status mmg__plugin_default_search_path(char **out);

/* The file to open for `name_or_path` in *out_path (mmg__malloc'ed): the
 * argument itself when it contains '/', else the first match in the default
 * search path. MMG_ERR_NOT_FOUND lists the directories tried. */
mmg_status mmg__plugin_resolve(const char *name_or_path, char **out_path);

#endif /* MMGEN_CORE_PLUGIN_SEARCH_H */
