/* tests/test_version.c - compile-time and run-time versions agree. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "mmgen/mmgen.h"

Test(version, runtime_matches_header) {
    cr_assert_eq(mmg_abi_version(), MMGEN_ABI_VERSION);
    cr_assert_eq(MMGEN_ABI_VERSION_MAJOR(mmg_abi_version()), MMGEN_ABI_MAJOR);
    cr_assert_eq(MMGEN_ABI_VERSION_MINOR(mmg_abi_version()), MMGEN_ABI_MINOR);
    cr_assert_str_eq(mmg_version_string(), MMGEN_VERSION_STRING);
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", MMGEN_ABI_MAJOR, MMGEN_ABI_MINOR, MMGEN_VERSION_PATCH);
    cr_assert_str_eq(mmg_version_string(), expect);
}

Test(version, compatibility_rule) {
    cr_assert(mmg_abi_compatible(MMGEN_ABI_MAJOR, MMGEN_ABI_MINOR));
    cr_assert(mmg_abi_compatible(MMGEN_ABI_MAJOR, 0));
    cr_assert_not(mmg_abi_compatible(MMGEN_ABI_MAJOR, MMGEN_ABI_MINOR + 1));
    cr_assert_not(mmg_abi_compatible(MMGEN_ABI_MAJOR + 1, 0));
    cr_assert_not(mmg_abi_compatible(MMGEN_ABI_MAJOR - 1, 0));
}
