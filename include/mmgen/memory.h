/* mmgen/memory.h - releasing memory the library hands to the caller.
 *
 * Buffers returned by mmgen functions (token arrays, encoded documents, saved
 * state) are allocated by the library and must be released with mmg_free, not
 * with the caller's free(): the caller may use another C runtime (FFI). */
#ifndef MMGEN_MEMORY_H
#define MMGEN_MEMORY_H

#include "export.h"

MMG_EXTERN_C_BEGIN

/* Releases a buffer returned by mmgen. mmg_free(NULL) does nothing.
 * [thread-safe] */
MMG_API void mmg_free(void *ptr);

MMG_EXTERN_C_END

#endif /* MMGEN_MEMORY_H */
