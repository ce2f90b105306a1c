/* mmgen/plugin_host.h - finding, opening and listing modality plugins.
 *
 * A plugin is a shared object (mmgen/plugin.h describes what it exports) that
 * turns documents of one modality into token ids and back. This header is the
 * application's side: open a plugin by path or by name, ask what it is, list
 * every plugin installed. mmgen/tokenizer.h makes tokenizers from an open
 * plugin.
 *
 * Search order for a name (mmg_plugin_open("text")):
 *   1. a name containing '/' is a path and is opened as given, nothing else;
 *   2. each directory of the environment variable MMGEN_PLUGIN_PATH
 *      (colon-separated, empty entries ignored), in order;
 *   3. the directory the library was installed with (<libdir>/mmgen/plugins,
 *      `pkg-config --variable=plugindir mmgen`).
 * The name "text" means the file "mmgen-text.so"; a name that already ends in
 * ".so" is taken as the file name. The current directory is never searched
 * implicitly: write "./mmgen-x.so".
 *
 * Opening the same file twice (by any path) shares one loaded module: the
 * plugin's init() runs on the first open and its deinit() when the last user,
 * a plugin handle or a tokenizer made from it, is released. A plugin that
 * breaks the ABI contract is refused with MMG_ERR_PLUGIN (or MMG_ERR_ABI for
 * another ABI major) and a message naming the file and the problem. */
#ifndef MMGEN_PLUGIN_HOST_H
#define MMGEN_PLUGIN_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "plugin.h"
#include "status.h"

MMG_EXTERN_C_BEGIN

/* An open plugin: a reference to a loaded module. Opaque. */
typedef struct mmg_plugin mmg_plugin;

/* Opens the plugin `name_or_path` (see the search order above) and stores a
 * new handle in *out_plugin. Returns MMG_OK; MMG_ERR_INVALID_ARG for NULL or
 * empty arguments; MMG_ERR_NOT_FOUND when no file matches (the message lists
 * the directories searched); MMG_ERR_ABI for a plugin of another plugin ABI
 * major; MMG_ERR_PLUGIN when the file is not a loadable mmgen plugin, breaks
 * the descriptor contract, or its init() fails; MMG_ERR_NOMEM.
 * *out_plugin is untouched on error. Release with mmg_plugin_close().
 * [thread-safe] (a log callback must not open or close plugins) */
MMG_API mmg_status mmg_plugin_open(const char *name_or_path, mmg_plugin **out_plugin);

/* Releases a handle; the module is unloaded when nothing uses it any more.
 * Tokenizers made from the plugin stay valid. NULL is a no-op.
 * [thread-safe; not concurrently with other uses of the same handle] */
MMG_API void mmg_plugin_close(mmg_plugin *plugin);

/* What the plugin says about itself. The strings stay valid while the handle
 * is open; never free them. NULL handles give "" (or 0).
 * [thread-safe: the handle is immutable] */
MMG_API const char *mmg_plugin_name(const mmg_plugin *plugin);        /* e.g. "text" */
MMG_API const char *mmg_plugin_version(const mmg_plugin *plugin);     /* its own version */
MMG_API const char *mmg_plugin_description(const mmg_plugin *plugin); /* one line */
/* The absolute path of the loaded file (symbolic links resolved). */
MMG_API const char *mmg_plugin_path(const mmg_plugin *plugin);
/* An mmg_modality value (mmgen/plugin.h); unknown values are passed through. */
MMG_API int32_t mmg_plugin_modality(const mmg_plugin *plugin);
/* The plugin ABI version the plugin was built against, packed like
 * MMGEN_MAKE_ABI_VERSION(major, minor). */
MMG_API uint32_t mmg_plugin_abi_version(const mmg_plugin *plugin);

/* The plugin ABI version this library hosts (MMG_PLUGIN_ABI_VERSION as the
 * library was built). [thread-safe] */
MMG_API uint32_t mmg_plugin_host_abi_version(void);

/* "other", "text", "code", "image", "audio", or "unknown" for other values.
 * Static storage. [thread-safe] */
MMG_API const char *mmg_modality_name(int32_t modality);

/* The directories searched for plugin names, in order, colon-separated
 * (MMGEN_PLUGIN_PATH's entries, then the install directory). *out_path is
 * NUL-terminated; release it with mmg_free(). Untouched on error
 * (MMG_ERR_INVALID_ARG, MMG_ERR_NOMEM). [thread-safe] */
MMG_API mmg_status mmg_plugin_search_path(char **out_path);

/* ---- listing ----------------------------------------------------------- */

/* The plugins found in a search path: one entry per file named mmgen-*.so,
 * directory by directory in search order, file names sorted within a
 * directory. Each entry records whether the file opens as a plugin and, if
 * not, why. Opaque. */
typedef struct mmg_plugin_list mmg_plugin_list;

/* Tries to open every plugin file in `search_path` (colon-separated
 * directories; NULL means the default search path above) and records the
 * outcome; a plugin that fails to load is an entry with its status and
 * message, not a failure of the listing. Directories that do not exist are
 * skipped. Returns MMG_OK, or MMG_ERR_NOMEM; *out_list is untouched on error.
 * Release with mmg_plugin_list_free(). Each plugin's init() and deinit() run
 * while it is tried (unless it was already open). [thread-safe] */
MMG_API mmg_status mmg_plugin_list_create(const char *search_path, mmg_plugin_list **out_list);

/* NULL is a no-op. [one thread per object] */
MMG_API void mmg_plugin_list_free(mmg_plugin_list *list);

/* Number of entries (0 for NULL). [thread-safe: the list is immutable] */
MMG_API size_t mmg_plugin_list_count(const mmg_plugin_list *list);

/* Entry `index` (< count). Strings live as long as the list; never free them.
 * An index out of range or a NULL list gives "" (0, or MMG_ERR_INVALID_ARG for
 * the status). For an entry that failed to load, name/version/description are
 * "" and modality/abi_version 0. [thread-safe: the list is immutable] */
MMG_API const char *mmg_plugin_list_path(const mmg_plugin_list *list, size_t index);
/* MMG_OK when the file opened as a plugin, else why it did not. */
MMG_API mmg_status mmg_plugin_list_status(const mmg_plugin_list *list, size_t index);
/* The error message for a failed entry; "" for one that loaded. */
MMG_API const char *mmg_plugin_list_error(const mmg_plugin_list *list, size_t index);
MMG_API const char *mmg_plugin_list_name(const mmg_plugin_list *list, size_t index);
MMG_API const char *mmg_plugin_list_version(const mmg_plugin_list *list, size_t index);
MMG_API const char *mmg_plugin_list_description(const mmg_plugin_list *list, size_t index);
MMG_API int32_t mmg_plugin_list_modality(const mmg_plugin_list *list, size_t index);
MMG_API uint32_t mmg_plugin_list_abi_version(const mmg_plugin_list *list, size_t index);

MMG_EXTERN_C_END

#endif /* MMGEN_PLUGIN_HOST_H */
