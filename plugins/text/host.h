/* plugins/text/host.h - the host's services, as the BPE plugins (text, code) use
 * them.
 *
 * The plugin never links libmmgen: allocation, logging and error reporting go
 * through the table the host passes to init(), kept here in txt_host. Every
 * allocation of the plugin goes through it, so the host's fault injection
 * reaches the plugin too. */
#ifndef MMGEN_TEXT_HOST_H
#define MMGEN_TEXT_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/plugin.h"

extern const mmg_host_services *txt_host;
/* The module's name ("text", "code"), set by its init(): the engine's
 * messages start with it, so a user reads which plugin failed. */
extern const char *txt_module;

#define txt_error(...) (txt_host->error(__VA_ARGS__))

static inline void *txt_malloc(size_t n) { return txt_host->alloc(n ? n : 1); }
static inline void *txt_realloc(void *p, size_t n) { return txt_host->realloc(p, n ? n : 1); }
static inline void txt_free(void *p) {
    if (p) txt_host->free(p);
}
/* Zeroed array of count*size bytes, NULL on overflow or failure. */
void *txt_calloc(size_t count, size_t size);
/* Grows *array (of *cap elements of `size` bytes) to hold at least `need`;
 * returns 0 or MMG_ERR_NOMEM (reported). */
int txt_grow(void **array, size_t *cap, size_t need, size_t size);

#endif /* MMGEN_TEXT_HOST_H */
