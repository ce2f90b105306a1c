/* plugins/text/host.c - the host services table and allocation helpers (see
 * host.h). */
#include "host.h"

#include <string.h>

const mmg_host_services *txt_host;
const char *txt_module = "text";

void *txt_calloc(size_t count, size_t size) {
    if (size && count > (size_t)-1 / size) return NULL;
    void *p = txt_malloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

int txt_grow(void **array, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > (size_t)-1 / 2 / size) return txt_error(MMG_ERR_NOMEM, "%s: array too large", txt_module);
        n = n + n / 2 + 16;
    }
    if (n > (size_t)-1 / size) return txt_error(MMG_ERR_NOMEM, "%s: array too large", txt_module);
    void *p = txt_realloc(*array, n * size);
    if (!p) return txt_error(MMG_ERR_NOMEM, "%s: out of memory (%zu bytes)", txt_module, n * size);
    *array = p;
    *cap = n;
    return 0;
}
