/* mmgen/version.h - compile-time and run-time version of the mmgen ABI.
 *
 * The ABI major changes only when a compiled caller could break (a function
 * removed or changed, a struct field moved). The minor grows when functions are
 * added or option structs grow at their end. A binding built against header
 * version (MAJOR, MINOR) works with any library of the same MAJOR whose minor
 * is >= MINOR; check with mmg_abi_compatible() at load time. */
#ifndef MMGEN_VERSION_H
#define MMGEN_VERSION_H

#include <stdint.h>

#include "export.h"

#define MMGEN_ABI_MAJOR 1
#define MMGEN_ABI_MINOR 6
#define MMGEN_VERSION_PATCH 0
#define MMGEN_VERSION_STRING "1.6.0"

/* Packs a major/minor pair the way mmg_abi_version() returns it. */
#define MMGEN_MAKE_ABI_VERSION(major, minor) \
    ((uint32_t)(((uint32_t)(major) << 16) | ((uint32_t)(minor) & 0xffffu)))
#define MMGEN_ABI_VERSION MMGEN_MAKE_ABI_VERSION(MMGEN_ABI_MAJOR, MMGEN_ABI_MINOR)
#define MMGEN_ABI_VERSION_MAJOR(v) ((uint32_t)(v) >> 16)
#define MMGEN_ABI_VERSION_MINOR(v) ((uint32_t)(v) & 0xffffu)

MMG_EXTERN_C_BEGIN

/* The ABI version of the loaded library: (major << 16) | minor.
 * [thread-safe] */
MMG_API uint32_t mmg_abi_version(void);

/* The library's version as "MAJOR.MINOR.PATCH". Static storage: never free it.
 * [thread-safe] */
MMG_API const char *mmg_version_string(void);

/* Nonzero when the loaded library can serve a caller compiled against
 * headers of version (major, minor): same major, library minor >= minor.
 * Call it as mmg_abi_compatible(MMGEN_ABI_MAJOR, MMGEN_ABI_MINOR).
 * [thread-safe] */
MMG_API int mmg_abi_compatible(uint32_t major, uint32_t minor);

MMG_EXTERN_C_END

#endif /* MMGEN_VERSION_H */
