/* core/plugin.c - the public plugin handle: open by name or path, close, and
 * what the plugin says about itself.
 *
 * A handle is one reference to a shared module (core/plugin_module.c does the
 * loading, validation and reference counting). */
#include <string.h>

#include "error.h"
#include "memory.h"
#include "plugin_handle.h"
#include "plugin_search.h"

mmg_status mmg_plugin_open(const char *name_or_path, mmg_plugin **out_plugin) {
    if (!name_or_path || !*name_or_path || !out_plugin)
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "mmg_plugin_open: name_or_path must be a non-empty string and "
                          "out_plugin non-NULL");
    mmg_plugin *plugin = mmg__calloc(1, sizeof *plugin);
    if (!plugin) return mmg__error(MMG_ERR_NOMEM, "out of memory opening plugin '%s'", name_or_path);
    char *path = NULL;
    mmg_status s = mmg__plugin_resolve(name_or_path, &path);
    if (s == MMG_OK) s = mmg__module_acquire(path, &plugin->module);
    mmg__free(path);
    if (s != MMG_OK) {
        mmg__free(plugin);
        return s;
    }
    *out_plugin = plugin;
    return MMG_OK;
}

void mmg_plugin_close(mmg_plugin *plugin) {
    if (!plugin) return;
    mmg__module_release(plugin->module);
    mmg__free(plugin);
}

const char *mmg_plugin_name(const mmg_plugin *plugin) {
    return plugin ? plugin->module->name : "";
}

const char *mmg_plugin_version(const mmg_plugin *plugin) {
    return plugin ? plugin->module->version : "";
}

const char *mmg_plugin_description(const mmg_plugin *plugin) {
    return plugin ? plugin->module->description : "";
}

const char *mmg_plugin_path(const mmg_plugin *plugin) {
    return plugin ? plugin->module->path : "";
}

int32_t mmg_plugin_modality(const mmg_plugin *plugin) {
    return plugin ? plugin->module->modality : 0;
}

uint32_t mmg_plugin_abi_version(const mmg_plugin *plugin) {
    return plugin ? plugin->module->abi_version : 0;
}

uint32_t mmg_plugin_host_abi_version(void) { return MMG_PLUGIN_ABI_VERSION; }

const char *mmg_modality_name(int32_t modality) {
    switch (modality) {
    case MMG_MODALITY_OTHER: return "other";
    case MMG_MODALITY_TEXT: return "text";
    case MMG_MODALITY_CODE: return "code";
    case MMG_MODALITY_IMAGE: return "image";
    case MMG_MODALITY_AUDIO: return "audio";
    default: return "unknown";
    }
}
