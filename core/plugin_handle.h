/* core/plugin_handle.h - what an mmg_plugin handle is (private).
 *
 * A handle is one reference to a shared module (core/plugin_module.h). A
 * tokenizer embeds its own handle, so a plugin handle may be closed while
 * tokenizers made from it live on. */
#ifndef MMGEN_CORE_PLUGIN_HANDLE_H
#define MMGEN_CORE_PLUGIN_HANDLE_H

#include "mmgen/plugin_host.h"
#include "plugin_module.h"

struct mmg_plugin {
    mmg__module *module; /* one reference, released by close (or the owning tokenizer) */
};

#endif /* MMGEN_CORE_PLUGIN_HANDLE_H */
