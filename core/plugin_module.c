/* core/plugin_module.c - loading plugin files: dlopen, descriptor validation,
 * the shared reference-counted module table, and the services table plugins
 * receive at init.
 *
 * A plugin is code we did not write running in our process. We cannot stop it
 * from crashing, but we never trust what it declares: its descriptor is read
 * only up to its own struct_size into a zeroed host-sized copy, every required
 * function is checked before anything is called, and every status it returns
 * is mapped onto a known mmg_status with a message naming the plugin. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "plugin_module.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "log.h"
#include "memory.h"

/* ---- host services --------------------------------------------------------
 * The services table has no context pointer, so the host remembers per
 * thread which plugin it is currently calling: messages get that plugin's
 * name, and end() can tell whether the plugin explained a failure. */

static _Thread_local const mmg__module *tls_speaking;
static _Thread_local unsigned long tls_plugin_errors;

static const char *speaking_name(void) {
    return tls_speaking && tls_speaking->name ? tls_speaking->name : "?";
}

static int is_status(int rc) { return rc >= 0 && rc < (int)MMG_STATUS_COUNT_; }

static void *host_alloc(size_t size) { return mmg__malloc(size); }
static void *host_realloc(void *ptr, size_t size) { return mmg__realloc(ptr, size); }
static void host_free(void *ptr) { mmg__free(ptr); }

static void host_log(int level, const char *fmt, ...) {
    if (level < MMG_LOG_ERROR) level = MMG_LOG_ERROR;
    if (level > MMG_LOG_DEBUG) level = MMG_LOG_DEBUG;
    if (!fmt || !mmg__log_enabled((mmg_log_level)level)) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mmg__log((mmg_log_level)level, "plugin '%s': %s", speaking_name(), buf);
}

static int host_error(int status, const char *fmt, ...) {
    char buf[MMG__ERROR_MAX];
    buf[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
    }
    tls_plugin_errors++;
    /* The message is kept even when the status is nonsense; end() then
     * replaces the status with MMG_ERR_PLUGIN. */
    mmg_status recorded = is_status(status) && status != 0 ? (mmg_status)status : MMG_ERR_PLUGIN;
    mmg__error(recorded, "plugin '%s': %s", speaking_name(), buf);
    return status;
}

static const mmg_host_services host_services = {
    .struct_size = sizeof(mmg_host_services),
    .abi_version = MMG_PLUGIN_ABI_VERSION,
    .alloc = host_alloc,
    .realloc = host_realloc,
    .free = host_free,
    .log = host_log,
    .error = host_error,
};

void mmg__plugin_call_begin(const mmg__module *module, mmg__plugin_call *call) {
    call->previous = tls_speaking;
    call->errors_before = tls_plugin_errors;
    tls_speaking = module;
}

mmg_status mmg__plugin_call_end(const mmg__module *module, mmg__plugin_call *call,
                                const char *function, int rc) {
    tls_speaking = call->previous;
    if (rc == 0) return MMG_OK;
    if (!is_status(rc))
        return mmg__plugin_error(module, MMG_ERR_PLUGIN,
                                 "%s() returned %d, which is not an mmg_status (0..%d)", function,
                                 rc, (int)MMG_STATUS_COUNT_ - 1);
    if (tls_plugin_errors == call->errors_before)
        return mmg__plugin_error(module, (mmg_status)rc, "%s() failed with %s (%s) without a message",
                                 function, mmg_status_name((mmg_status)rc),
                                 mmg_status_string((mmg_status)rc));
    /* The plugin explained itself; make the recorded status match what it
     * returned (it may have reported one code and returned another). */
    if (mmg_last_status() != (mmg_status)rc) mmg__error((mmg_status)rc, "%s", mmg_last_error());
    return (mmg_status)rc;
}

mmg_status mmg__plugin_error(const mmg__module *module, mmg_status status, const char *fmt, ...) {
    char buf[MMG__ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (module && module->name) return mmg__error(status, "plugin '%s': %s", module->name, buf);
    return mmg__error(status, "plugin '%s': %s", module ? module->path : "?", buf);
}

/* ---- the module table ----------------------------------------------------- */

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static mmg__module *modules; /* loaded modules, under modules_lock */

static void free_module(mmg__module *m) {
    if (!m) return;
    if (m->dl) dlclose(m->dl);
    mmg__free(m->path);
    mmg__free(m->name);
    mmg__free(m->version);
    mmg__free(m->description);
    mmg__free(m);
}

/* Copies at most `max` bytes of a plugin string; *truncated says whether
 * there was more. NULL gives "". */
static char *copy_bounded(const char *s, size_t max, int *truncated) {
    size_t n = s ? strnlen(s, max + 1) : 0;
    *truncated = n > max;
    if (n > max) n = max;
    char *d = mmg__malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int valid_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* The functions every v1.0 plugin must provide, by name for messages. */
static const struct {
    const char *name;
    size_t offset;
} required_functions[] = {
#define REQ_(f) {#f, offsetof(mmg_plugin_descriptor, f)}
    REQ_(init),       REQ_(deinit), REQ_(create), REQ_(destroy),       REQ_(save_state),
    REQ_(load_state), REQ_(encode), REQ_(decode), REQ_(vocab_size),    REQ_(special_token),
    REQ_(describe_token),
#undef REQ_
};

/* Validates the plugin's descriptor `d` and copies it into m->desc. Reads
 * nothing past d->struct_size. */
static mmg_status read_descriptor(mmg__module *m, const mmg_plugin_descriptor *d) {
    const char *path = m->path;
    size_t size;
    memcpy(&size, d, sizeof size);
    const size_t version_end = offsetof(mmg_plugin_descriptor, abi_version) + sizeof(uint32_t);
    if (size < version_end)
        return mmg__error(MMG_ERR_PLUGIN,
                          "plugin '%s': descriptor struct_size is %zu bytes, too small to hold "
                          "its abi_version (%zu bytes); set it to sizeof(mmg_plugin_descriptor)",
                          path, size, version_end);
    uint32_t abi;
    memcpy(&abi, (const char *)d + offsetof(mmg_plugin_descriptor, abi_version), sizeof abi);
    uint32_t major = MMGEN_ABI_VERSION_MAJOR(abi), minor = MMGEN_ABI_VERSION_MINOR(abi);
    if (major != MMG_PLUGIN_ABI_MAJOR)
        return mmg__error(MMG_ERR_ABI,
                          "plugin '%s' was built for plugin ABI %u.%u; this host loads plugin "
                          "ABI %d.x (it is %d.%d): rebuild the plugin against this mmgen",
                          path, (unsigned)major, (unsigned)minor, MMG_PLUGIN_ABI_MAJOR,
                          MMG_PLUGIN_ABI_MAJOR, MMG_PLUGIN_ABI_MINOR);
    if (size < MMG__PLUGIN_DESCRIPTOR_V1_0_SIZE)
        return mmg__error(MMG_ERR_PLUGIN,
                          "plugin '%s': descriptor struct_size is %zu bytes, smaller than the "
                          "%zu bytes of a plugin ABI 1.0 descriptor",
                          path, size, (size_t)MMG__PLUGIN_DESCRIPTOR_V1_0_SIZE);
    memset(&m->desc, 0, sizeof m->desc);
    memcpy(&m->desc, d, size < sizeof m->desc ? size : sizeof m->desc);
    m->abi_version = abi;
    m->minor = min_u32(minor, MMG_PLUGIN_ABI_MINOR);

    for (size_t i = 0; i < sizeof required_functions / sizeof required_functions[0]; i++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)&m->desc + required_functions[i].offset, sizeof fn);
        if (!fn)
            return mmg__error(MMG_ERR_PLUGIN,
                              "plugin '%s': required function %s is NULL in its descriptor",
                              path, required_functions[i].name);
    }
    if (!m->desc.name)
        return mmg__error(MMG_ERR_PLUGIN, "plugin '%s': its descriptor has no name", path);
    int truncated;
    m->name = copy_bounded(m->desc.name, MMG__PLUGIN_NAME_MAX, &truncated);
    if (!m->name) return mmg__error(MMG_ERR_NOMEM, "out of memory loading plugin '%s'", path);
    if (truncated || !valid_name(m->name)) {
        mmg__free(m->name);
        m->name = NULL;
        return mmg__error(MMG_ERR_PLUGIN,
                          "plugin '%s': its name must be 1 to %d characters from [A-Za-z0-9_.-]",
                          path, MMG__PLUGIN_NAME_MAX);
    }
    m->version = copy_bounded(m->desc.version, MMG__PLUGIN_NAME_MAX, &truncated);
    m->description = copy_bounded(m->desc.description, MMG__PLUGIN_TEXT_MAX, &truncated);
    if (!m->version || !m->description)
        return mmg__error(MMG_ERR_NOMEM, "out of memory loading plugin '%s'", path);
    m->modality = m->desc.modality;
    return MMG_OK;
}

/* A file that exports mmg_plugin_entry_vN for another N gets a clear ABI
 * message instead of "not a plugin". */
static mmg_status missing_entry(mmg__module *m) {
    for (unsigned v = 0; v < 10; v++) {
        if (v == MMG_PLUGIN_ABI_MAJOR) continue;
        char sym[32];
        snprintf(sym, sizeof sym, "mmg_plugin_entry_v%u", v);
        if (dlsym(m->dl, sym))
            return mmg__error(MMG_ERR_ABI,
                              "plugin '%s' was built for plugin ABI %u (it exports %s); this host "
                              "loads plugin ABI %d (%s): rebuild the plugin against this mmgen",
                              m->path, v, sym, MMG_PLUGIN_ABI_MAJOR, MMG_PLUGIN_ENTRY_SYMBOL);
    }
    return mmg__error(MMG_ERR_PLUGIN,
                      "'%s' is not an mmgen plugin: it does not export %s (declare it with "
                      "MMG_PLUGIN_EXPORT, see mmgen/plugin.h)",
                      m->path, MMG_PLUGIN_ENTRY_SYMBOL);
}

/* dlopens and validates the file, then calls init(). Called under
 * modules_lock, so init() runs once per module. */
static mmg_status load_module(const char *path, const struct stat *st, mmg__module **out) {
    mmg__module *m = mmg__calloc(1, sizeof *m);
    if (!m) return mmg__error(MMG_ERR_NOMEM, "out of memory loading plugin '%s'", path);
    m->dev = (unsigned long long)st->st_dev;
    m->ino = (unsigned long long)st->st_ino;
    mmg_status s;
    char *real = realpath(path, NULL);
    if (!real) {
        s = mmg__error(MMG_ERR_IO, "cannot resolve plugin path '%s': %s", path, strerror(errno));
        goto fail;
    }
    m->path = mmg__strdup(real);
    free(real); /* realpath allocates with the C library's malloc */
    if (!m->path) {
        s = mmg__error(MMG_ERR_NOMEM, "out of memory loading plugin '%s'", path);
        goto fail;
    }

    dlerror();
    m->dl = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
    if (!m->dl) {
        const char *why = dlerror();
        s = mmg__error(MMG_ERR_PLUGIN, "cannot load plugin '%s': %s", m->path,
                       why ? why : "dlopen failed");
        goto fail;
    }
    void *sym = dlsym(m->dl, MMG_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        s = missing_entry(m);
        goto fail;
    }
    mmg_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, as POSIX allows */
    const mmg_plugin_descriptor *d = entry();
    if (!d) {
        s = mmg__error(MMG_ERR_PLUGIN, "plugin '%s': %s() returned NULL", m->path,
                       MMG_PLUGIN_ENTRY_SYMBOL);
        goto fail;
    }
    s = read_descriptor(m, d);
    if (s != MMG_OK) goto fail;

    mmg__plugin_call call;
    mmg__plugin_call_begin(m, &call);
    int rc = m->desc.init(&host_services);
    s = mmg__plugin_call_end(m, &call, "init", rc);
    if (s == MMG_ERR_NOMEM) {
        mmg__error_prefix("cannot load plugin '%s'", m->path);
        goto fail;
    }
    if (s != MMG_OK) {
        /* The plugin's own message follows ours. */
        s = mmg__error(MMG_ERR_PLUGIN, "cannot load plugin '%s': its init() failed: %s", m->path,
                       mmg_last_error());
        goto fail;
    }
    m->refs = 1;
    *out = m;
    return MMG_OK;
fail:
    free_module(m);
    return s;
}

mmg_status mmg__module_acquire(const char *path, mmg__module **out) {
    if (!path || !*path || !out)
        return mmg__error(MMG_ERR_INVALID_ARG, "plugin path and out pointer must not be NULL");
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return mmg__error(MMG_ERR_NOT_FOUND, "plugin file '%s' does not exist", path);
        return mmg__error(MMG_ERR_IO, "cannot access plugin file '%s': %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return mmg__error(MMG_ERR_PLUGIN, "plugin '%s' is not a regular file", path);

    pthread_mutex_lock(&modules_lock);
    for (mmg__module *m = modules; m; m = m->next) {
        if (m->dev == (unsigned long long)st.st_dev && m->ino == (unsigned long long)st.st_ino) {
            m->refs++;
            pthread_mutex_unlock(&modules_lock);
            *out = m;
            return MMG_OK;
        }
    }
    mmg__module *m = NULL;
    mmg_status s = load_module(path, &st, &m);
    if (s == MMG_OK) {
        m->next = modules;
        modules = m;
        mmg__log(MMG_LOG_DEBUG, "loaded plugin '%s' %s (ABI %u.%u) from %s", m->name, m->version,
                 (unsigned)MMGEN_ABI_VERSION_MAJOR(m->abi_version),
                 (unsigned)MMGEN_ABI_VERSION_MINOR(m->abi_version), m->path);
        *out = m;
    }
    pthread_mutex_unlock(&modules_lock);
    return s;
}

void mmg__module_retain(mmg__module *module) {
    pthread_mutex_lock(&modules_lock);
    module->refs++;
    pthread_mutex_unlock(&modules_lock);
}

void mmg__module_release(mmg__module *module) {
    if (!module) return;
    pthread_mutex_lock(&modules_lock);
    if (--module->refs > 0) {
        pthread_mutex_unlock(&modules_lock);
        return;
    }
    for (mmg__module **p = &modules; *p; p = &(*p)->next) {
        if (*p == module) {
            *p = module->next;
            break;
        }
    }
    mmg__plugin_call call;
    mmg__plugin_call_begin(module, &call);
    module->desc.deinit();
    tls_speaking = call.previous;
    mmg__log(MMG_LOG_DEBUG, "unloaded plugin '%s' (%s)", module->name, module->path);
    free_module(module);
    pthread_mutex_unlock(&modules_lock);
}

size_t mmg__module_loaded_count(void) {
    size_t n = 0;
    pthread_mutex_lock(&modules_lock);
    for (const mmg__module *m = modules; m; m = m->next) n++;
    pthread_mutex_unlock(&modules_lock);
    return n;
}
