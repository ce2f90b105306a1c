/* core/options.h - reading caller option structs by their struct_size (private).
 *
 * Option structs start with `size_t struct_size`. A caller built against an
 * older header passes a smaller struct; the library reads only the bytes the
 * caller's size covers and uses defaults for the fields it did not know about. */
#ifndef MMGEN_CORE_OPTIONS_H
#define MMGEN_CORE_OPTIONS_H

#include <stddef.h>
#include <string.h>

#include "error.h"

/* Copies the caller's `src` over `dst` (already filled with defaults, of the
 * library's full size `dst_size`), reading at most src->struct_size bytes.
 * Fails when the struct is too small to hold even struct_size, or when
 * `name` is NULL. */
static inline mmg_status mmg__read_options(void *dst, size_t dst_size, const void *src,
                                           const char *name) {
    if (!src) return MMG_OK; /* NULL options mean "all defaults" */
    size_t caller_size;
    memcpy(&caller_size, src, sizeof caller_size);
    if (caller_size < sizeof(size_t))
        return mmg__error(MMG_ERR_INVALID_ARG,
                          "%s.struct_size is %zu; set it with the matching *_init() function",
                          name, caller_size);
    size_t n = caller_size < dst_size ? caller_size : dst_size;
    memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t), n - sizeof(size_t));
    memcpy(dst, &dst_size, sizeof dst_size);
    return MMG_OK;
}

/* For *_init(opts, size): fills the caller's struct from `defaults`, writing
 * only `size` bytes, and stores `size` in struct_size. */
static inline void mmg__init_options(void *opts, size_t size, const void *defaults,
                                     size_t full_size) {
    if (!opts || size < sizeof(size_t)) return;
    size_t n = size < full_size ? size : full_size;
    memcpy(opts, defaults, n);
    if (size > full_size) memset((char *)opts + full_size, 0, size - full_size);
    memcpy(opts, &size, sizeof size);
}

#endif /* MMGEN_CORE_OPTIONS_H */
