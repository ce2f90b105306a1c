/* core/plugin_module.h - a loaded plugin module, shared and reference-counted
 * (private).
 *
 * The host keeps one mmg__module per plugin file, keyed by device and inode so
 * two paths to the same file share it. Every user (an mmg_plugin handle, a
 * tokenizer) holds one reference; the first reference dlopens the file,
 * validates its descriptor and calls init(), the last one calls deinit() and
 * dlcloses it. Calls into the plugin go through mmg__plugin_call_begin/end,
 * which tell the host services which plugin is speaking (log prefixes) and
 * turn whatever the plugin returned into a trustworthy mmg_status. */
#ifndef MMGEN_CORE_PLUGIN_MODULE_H
#define MMGEN_CORE_PLUGIN_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/plugin.h"
#include "mmgen/status.h"

/* The size of an ABI 1.0 descriptor: the least any v1 plugin may declare.
 * Fixed forever, whatever later minors append. */
#define MMG__PLUGIN_DESCRIPTOR_V1_0_SIZE \
    (offsetof(mmg_plugin_descriptor, get_extension) + sizeof(void (*)(void)))

/* Bounds on the strings copied from a descriptor. */
#define MMG__PLUGIN_NAME_MAX 64
#define MMG__PLUGIN_TEXT_MAX 1024

typedef struct mmg__module {
    struct mmg__module *next;    /* the host's list of loaded modules */
    long refs;                   /* handles + tokenizers using it; under the host lock */
    unsigned long long dev, ino; /* file identity: the sharing key */
    void *dl;                    /* dlopen handle */
    char *path;                  /* realpath of the file */
    char *name;                  /* copies of the descriptor's strings, bounded */
    char *version;
    char *description;
    int32_t modality;
    uint32_t abi_version;        /* as the plugin declared it */
    uint32_t minor;              /* min(host minor, plugin minor): what the host may call */
    /* Host-sized copy of the descriptor: bytes past the plugin's struct_size
     * are zero, so fields of a newer host minor read as absent. */
    mmg_plugin_descriptor desc;
} mmg__module;

/* Loads the plugin file `path`, or shares it when already loaded, and stores
 * one new reference in *out. Fails with NOT_FOUND/IO (the file), PLUGIN (not
 * a valid plugin, or init() failed), ABI (another major) or NOMEM; the
 * message names the file. [thread-safe] */
mmg_status mmg__module_acquire(const char *path, mmg__module **out);

/* Adds a reference to a module the caller already holds. [thread-safe] */
void mmg__module_retain(mmg__module *module);

/* Drops one reference; the last calls deinit() and dlcloses the file. NULL is
 * a no-op. [thread-safe] */
void mmg__module_release(mmg__module *module);

/* How many modules are loaded now (for tests: everything released -> 0). */
size_t mmg__module_loaded_count(void);

/* One call into a plugin. begin() must be paired with end() on the same
 * thread; end() maps the plugin's return value:
 *   0                        -> MMG_OK
 *   a known mmg_status       -> that status; if the plugin set no message
 *                               during the call, a generic one naming the
 *                               plugin and `function`
 *   anything else            -> MMG_ERR_PLUGIN naming the plugin, function
 *                               and value. */
typedef struct mmg__plugin_call {
    const mmg__module *previous; /* the caller's speaking plugin (restored by end) */
    unsigned long errors_before; /* host->error() calls seen on this thread so far */
} mmg__plugin_call;

void mmg__plugin_call_begin(const mmg__module *module, mmg__plugin_call *call);
mmg_status mmg__plugin_call_end(const mmg__module *module, mmg__plugin_call *call,
                                const char *function, int rc);

/* Like mmg__error, with "plugin 'NAME': " in front of the message. */
mmg_status mmg__plugin_error(const mmg__module *module, mmg_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif /* MMGEN_CORE_PLUGIN_MODULE_H */
