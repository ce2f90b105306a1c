/* tests/test_memory.c - allocation wrappers, fault injection, option structs. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "memory.h"
#include "options.h"
#include "mmgen/mmgen.h"

Test(memory, free_null_is_a_no_op) {
    mmg_free(NULL);
    mmg__free(NULL);
}

Test(memory, fault_injection_fails_the_nth_allocation) {
    mmg__fault_fail_after(3);
    void *a = mmg__malloc(8), *b = mmg__calloc(2, 8), *c = mmg__malloc(8), *d = mmg__strdup("x");
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_null(c);
    cr_assert_null(d);
    cr_assert_eq(mmg__fault_count(), 4);
    mmg__fault_fail_after(0);
    c = mmg__malloc(8);
    cr_assert_not_null(c);
    mmg__free(a);
    mmg__free(b);
    mmg__free(c);
}

Test(memory, overflow_checked_multiply) {
    size_t out = 0;
    cr_assert_eq(mmg__mul_size(1000, 1000, &out), 0);
    cr_assert_eq(out, 1000000);
    cr_assert_eq(mmg__mul_size(SIZE_MAX / 2, 3, &out), -1);
    cr_assert_eq(out, 1000000, "out must be untouched on overflow");
}

/* A v1 option struct and a later, longer v2 of the same struct. */
struct opts_v1 { size_t struct_size; int a; };
struct opts_v2 { size_t struct_size; int a; double b; };

Test(options, an_older_caller_struct_keeps_new_defaults) {
    struct opts_v2 defaults = {sizeof defaults, 1, 2.5};
    struct opts_v1 caller = {sizeof caller, 7};
    struct opts_v2 effective = defaults;
    cr_assert_eq(mmg__read_options(&effective, sizeof effective, &caller, "opts"), MMG_OK);
    cr_assert_eq(effective.a, 7);
    cr_assert_eq(effective.b, 2.5);
    cr_assert_eq(effective.struct_size, sizeof effective);
}

Test(options, a_newer_caller_struct_is_read_only_up_to_our_size) {
    struct big { size_t struct_size; int a; double b; char future[64]; } caller;
    memset(&caller, 0x5a, sizeof caller);
    caller.struct_size = sizeof caller;
    caller.a = 3;
    caller.b = 4.0;
    struct opts_v2 effective = {sizeof effective, 1, 2.5};
    cr_assert_eq(mmg__read_options(&effective, sizeof effective, &caller, "opts"), MMG_OK);
    cr_assert_eq(effective.a, 3);
    cr_assert_eq(effective.b, 4.0);
}

Test(options, a_zero_struct_size_is_refused_with_a_hint) {
    struct opts_v1 caller = {0, 7};
    struct opts_v2 effective = {sizeof effective, 1, 2.5};
    cr_assert_eq(mmg__read_options(&effective, sizeof effective, &caller, "mmg_example_options"),
                 MMG_ERR_INVALID_ARG);
    cr_assert(strstr(mmg_last_error(), "mmg_example_options.struct_size") != NULL);
    cr_assert_eq(effective.a, 1);
}

Test(options, init_writes_only_the_callers_size) {
    struct opts_v2 defaults = {sizeof defaults, 1, 2.5};
    struct { struct opts_v1 v1; int guard; } caller = {{0, 0}, 0x1234};
    mmg__init_options(&caller.v1, sizeof caller.v1, &defaults, sizeof defaults);
    cr_assert_eq(caller.v1.struct_size, sizeof caller.v1);
    cr_assert_eq(caller.v1.a, 1);
    cr_assert_eq(caller.guard, 0x1234);
}
