/* core/plugin_search.c - the plugin search path: resolving a plugin name to a
 * file, and listing every plugin a search path holds.
 *
 * Listing opens each candidate exactly as mmg_plugin_open would, so a listed
 * "loads" means the same thing as a successful open; a plugin that fails is
 * recorded with its status and message, never a reason to stop. */
#include "plugin_search.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "memory.h"
#include "mmgen/memory.h"
#include "mmgen/plugin_host.h"
#include "plugin_module.h"

#ifndef MMGEN_PLUGIN_INSTALL_DIR
#  define MMGEN_PLUGIN_INSTALL_DIR "/usr/local/lib/mmgen/plugins"
#endif

#define PLUGIN_FILE_PREFIX "mmgen-"
#define PLUGIN_FILE_SUFFIX ".so"

/* "a" + sep + "b" (sep may be ""), mmg__malloc'ed. */
static char *join(const char *a, size_t a_len, const char *sep, const char *b) {
    size_t n = a_len + strlen(sep) + strlen(b) + 1;
    char *s = mmg__malloc(n);
    if (!s) return NULL;
    memcpy(s, a, a_len);
    snprintf(s + a_len, n - a_len, "%s%s", sep, b);
    return s;
}

mmg_status mmg__plugin_default_search_path(char **out) {
    const char *env = getenv("MMGEN_PLUGIN_PATH");
    char *path = env && *env ? join(env, strlen(env), ":", MMGEN_PLUGIN_INSTALL_DIR)
                             : mmg__strdup(MMGEN_PLUGIN_INSTALL_DIR);
    if (!path) return mmg__error(MMG_ERR_NOMEM, "out of memory building the plugin search path");
    *out = path;
    return MMG_OK;
}

mmg_status mmg_plugin_search_path(char **out_path) {
    if (!out_path) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_plugin_search_path: out_path is NULL");
    return mmg__plugin_default_search_path(out_path);
}

/* Iterates over the non-empty entries of a colon-separated path. */
typedef struct dir_iter {
    const char *next;
    const char *dir;
    size_t len;
} dir_iter;

static int next_dir(dir_iter *it) {
    while (it->next && *it->next) {
        const char *colon = strchr(it->next, ':');
        size_t len = colon ? (size_t)(colon - it->next) : strlen(it->next);
        it->dir = it->next;
        it->len = len;
        it->next = colon ? colon + 1 : NULL;
        if (len) return 1;
    }
    return 0;
}

static int is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

mmg_status mmg__plugin_resolve(const char *name_or_path, char **out_path) {
    if (strchr(name_or_path, '/')) {
        char *p = mmg__strdup(name_or_path);
        if (!p) return mmg__error(MMG_ERR_NOMEM, "out of memory opening plugin '%s'", name_or_path);
        *out_path = p;
        return MMG_OK;
    }
    char *file = ends_with(name_or_path, PLUGIN_FILE_SUFFIX)
                     ? mmg__strdup(name_or_path)
                     : join(PLUGIN_FILE_PREFIX, strlen(PLUGIN_FILE_PREFIX), "",
                            name_or_path);
    char *search = NULL;
    mmg_status s = MMG_ERR_NOMEM;
    if (file && !ends_with(file, PLUGIN_FILE_SUFFIX)) {
        char *with_suffix = join(file, strlen(file), "", PLUGIN_FILE_SUFFIX);
        mmg__free(file);
        file = with_suffix;
    }
    if (!file || mmg__plugin_default_search_path(&search) != MMG_OK) goto fail;
    dir_iter it = {search, NULL, 0};
    while (next_dir(&it)) {
        char *candidate = join(it.dir, it.len, "/", file);
        if (!candidate) goto fail;
        if (is_regular_file(candidate)) {
            mmg__free(file);
            mmg__free(search);
            *out_path = candidate;
            return MMG_OK;
        }
        mmg__free(candidate);
    }
    s = mmg__error(MMG_ERR_NOT_FOUND,
                   "no plugin named '%s': no file %s in any directory of the plugin search path "
                   "'%s' (MMGEN_PLUGIN_PATH, then the install directory); pass a path containing "
                   "'/' to open a file directly",
                   name_or_path, file, search);
    mmg__free(file);
    mmg__free(search);
    return s;
fail:
    mmg__free(file);
    mmg__free(search);
    return mmg__error(MMG_ERR_NOMEM, "out of memory looking for plugin '%s'", name_or_path);
}

/* ---- listing ----------------------------------------------------------- */

typedef struct list_entry {
    char *path;
    char *error; /* "" when it loaded */
    char *name, *version, *description;
    mmg_status status;
    int32_t modality;
    uint32_t abi_version;
} list_entry;

struct mmg_plugin_list {
    list_entry *entries;
    size_t count, capacity;
};

void mmg_plugin_list_free(mmg_plugin_list *list) {
    if (!list) return;
    for (size_t i = 0; i < list->count; i++) {
        list_entry *e = &list->entries[i];
        mmg__free(e->path);
        mmg__free(e->error);
        mmg__free(e->name);
        mmg__free(e->version);
        mmg__free(e->description);
    }
    mmg__free(list->entries);
    mmg__free(list);
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of the plugin files in one directory; a directory that
 * cannot be read has none. */
static mmg_status plugin_files(const char *dir, char ***out_names, size_t *out_count) {
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            const char *fn = de->d_name;
            if (strncmp(fn, PLUGIN_FILE_PREFIX, strlen(PLUGIN_FILE_PREFIX)) != 0 ||
                !ends_with(fn, PLUGIN_FILE_SUFFIX) ||
                strlen(fn) <= strlen(PLUGIN_FILE_PREFIX) + strlen(PLUGIN_FILE_SUFFIX))
                continue;
            if (n == cap) {
                size_t ncap = cap ? 2 * cap : 8;
                char **grown = mmg__realloc(names, ncap * sizeof *names);
                if (!grown) goto nomem;
                names = grown;
                cap = ncap;
            }
            if (!(names[n] = mmg__strdup(fn))) goto nomem;
            n++;
        }
        closedir(d);
        d = NULL;
    }
    if (n) qsort(names, n, sizeof *names, compare_names);
    *out_names = names;
    *out_count = n;
    return MMG_OK;
nomem:
    if (d) closedir(d);
    for (size_t i = 0; i < n; i++) mmg__free(names[i]);
    mmg__free(names);
    return mmg__error(MMG_ERR_NOMEM, "out of memory listing plugins in '%s'", dir);
}

/* Opens `path` as a plugin and records the outcome as a new entry. */
static mmg_status add_entry(mmg_plugin_list *list, char *path) {
    if (list->count == list->capacity) {
        size_t ncap = list->capacity ? 2 * list->capacity : 8;
        list_entry *grown = mmg__realloc(list->entries, ncap * sizeof *grown);
        if (!grown) {
            mmg__free(path);
            return mmg__error(MMG_ERR_NOMEM, "out of memory listing plugins");
        }
        list->entries = grown;
        list->capacity = ncap;
    }
    list_entry *e = &list->entries[list->count++];
    memset(e, 0, sizeof *e);
    e->path = path;
    mmg__module *m = NULL;
    e->status = mmg__module_acquire(path, &m);
    if (e->status == MMG_ERR_NOMEM) return MMG_ERR_NOMEM;
    if (e->status == MMG_OK) {
        e->error = mmg__strdup("");
        e->name = mmg__strdup(m->name);
        e->version = mmg__strdup(m->version);
        e->description = mmg__strdup(m->description);
        e->modality = m->modality;
        e->abi_version = m->abi_version;
        mmg__module_release(m);
    } else {
        e->error = mmg__strdup(mmg_last_error());
        e->name = mmg__strdup("");
        e->version = mmg__strdup("");
        e->description = mmg__strdup("");
    }
    if (!e->error || !e->name || !e->version || !e->description)
        return mmg__error(MMG_ERR_NOMEM, "out of memory listing plugins");
    return MMG_OK;
}

mmg_status mmg_plugin_list_create(const char *search_path, mmg_plugin_list **out_list) {
    if (!out_list) return mmg__error(MMG_ERR_INVALID_ARG, "mmg_plugin_list_create: out_list is NULL");
    /* Failed entries set this thread's error; a successful listing must not
     * change what mmg_last_error() says, so keep it and put it back. */
    char saved_message[MMG__ERROR_MAX];
    mmg_status saved_status = mmg_last_status();
    snprintf(saved_message, sizeof saved_message, "%s", mmg_last_error());

    char *owned_path = NULL;
    mmg_status s;
    if (!search_path) {
        if ((s = mmg__plugin_default_search_path(&owned_path)) != MMG_OK) return s;
        search_path = owned_path;
    }
    mmg_plugin_list *list = mmg__calloc(1, sizeof *list);
    if (!list) {
        mmg__free(owned_path);
        return mmg__error(MMG_ERR_NOMEM, "out of memory listing plugins");
    }
    dir_iter it = {search_path, NULL, 0};
    while (next_dir(&it)) {
        /* A directory named twice is listed once. */
        int seen = 0;
        dir_iter prev = {search_path, NULL, 0};
        while (next_dir(&prev) && prev.dir < it.dir)
            if (prev.len == it.len && memcmp(prev.dir, it.dir, it.len) == 0) seen = 1;
        if (seen) continue;

        char *dir = join(it.dir, it.len, "", "");
        char **names = NULL;
        size_t n = 0;
        s = dir ? plugin_files(dir, &names, &n)
                : mmg__error(MMG_ERR_NOMEM, "out of memory listing plugins");
        for (size_t i = 0; i < n; i++) {
            if (s == MMG_OK) {
                char *path = join(it.dir, it.len, "/", names[i]);
                s = path ? add_entry(list, path)
                         : mmg__error(MMG_ERR_NOMEM, "out of memory listing plugins");
            }
            mmg__free(names[i]);
        }
        mmg__free(names);
        mmg__free(dir);
        if (s != MMG_OK) {
            mmg_plugin_list_free(list);
            mmg__free(owned_path);
            return s;
        }
    }
    mmg__free(owned_path);
    mmg_clear_error();
    if (saved_status != MMG_OK) mmg__error(saved_status, "%s", saved_message);
    *out_list = list;
    return MMG_OK;
}

static const list_entry *entry_at(const mmg_plugin_list *list, size_t index) {
    return list && index < list->count ? &list->entries[index] : NULL;
}

size_t mmg_plugin_list_count(const mmg_plugin_list *list) { return list ? list->count : 0; }

const char *mmg_plugin_list_path(const mmg_plugin_list *list, size_t index) {
    const list_entry *e = entry_at(list, index);
    return e ? e->path : "";
}

mmg_status mmg_plugin_list_status(const mmg_plugin_list *list, size_t index) {
    const list_entry *e = entry_at(list, index);
    return e ? e->status : MMG_ERR_INVALID_ARG;
}

const char *mmg_plugin_list_error(const mmg_plugin_list *list, size_t index) {
    const list_entry *e = entry_at(list, index);
    return e ? e->error : "";
}

const char *mmg_plugin_list_name(const mmg_plugin_list *list, size_t index) {
    const list_entry *e = entry_at(list, index);
    return e ? e->name : "";
}

const char *mmg_plugin_list_version(const mmg_plugin_list *list, size_t index) {
    const list_entry *e = entry_at(list, index);
    return e ? e->version : "";
}

const char *mmg_plugin_list_description(const mmg_plugin_list *list, size_t index) {
    const list_entry *e = entry_at(list, index);
    return e ? e->description : "";
}

int32_t mmg_plugin_list_modality(const mmg_plugin_list *list, size_t index) {
    const list_entry *e = entry_at(list, index);
    return e ? e->modality : 0;
}

uint32_t mmg_plugin_list_abi_version(const mmg_plugin_list *list, size_t index) {
    const list_entry *e = entry_at(list, index);
    return e ? e->abi_version : 0;
}
