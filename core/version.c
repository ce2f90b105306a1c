/* core/version.c - run-time version queries, so bindings can check at load
 * time that the library matches the headers they were built against. */
#include "mmgen/version.h"

uint32_t mmg_abi_version(void) { return MMGEN_ABI_VERSION; }

const char *mmg_version_string(void) { return MMGEN_VERSION_STRING; }

int mmg_abi_compatible(uint32_t major, uint32_t minor) {
    return major == MMGEN_ABI_MAJOR && minor <= MMGEN_ABI_MINOR;
}
