/* tests/test_status.c - status codes, their strings, and the per-thread
 * last-error message. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "error.h"
#include "mmgen/mmgen.h"

Test(status, numbers_are_frozen) {
    /* These numbers are ABI: a binding may have hard-coded them. */
    cr_assert_eq(MMG_OK, 0);
    cr_assert_eq(MMG_ERR_INVALID_ARG, 1);
    cr_assert_eq(MMG_ERR_NOMEM, 2);
    cr_assert_eq(MMG_ERR_IO, 3);
    cr_assert_eq(MMG_ERR_FORMAT, 4);
    cr_assert_eq(MMG_ERR_UNSUPPORTED, 5);
    cr_assert_eq(MMG_ERR_PLUGIN, 6);
    cr_assert_eq(MMG_ERR_ABI, 7);
    cr_assert_eq(MMG_ERR_RANGE, 8);
    cr_assert_eq(MMG_ERR_CONFIG, 9);
    cr_assert_eq(MMG_ERR_STATE, 10);
    cr_assert_eq(MMG_ERR_LIMIT, 11);
    cr_assert_eq(MMG_ERR_NUMERIC, 12);
    cr_assert_eq(MMG_ERR_CANCELLED, 13);
    cr_assert_eq(MMG_ERR_NOT_FOUND, 14);
    cr_assert_eq(MMG_ERR_INTERNAL, 15);
}

Test(status, every_code_has_a_distinct_name_and_description) {
    for (int i = 0; i < MMG_STATUS_COUNT_; i++) {
        const char *name = mmg_status_name((mmg_status)i);
        const char *desc = mmg_status_string((mmg_status)i);
        cr_assert_neq(strcmp(name, "MMG_UNKNOWN"), 0, "status %d has no name", i);
        cr_assert_neq(strcmp(desc, "unknown status"), 0, "status %d has no description", i);
        for (int j = 0; j < i; j++)
            cr_assert_neq(strcmp(name, mmg_status_name((mmg_status)j)), 0);
    }
    cr_assert_str_eq(mmg_status_name(MMG_ERR_NOMEM), "MMG_ERR_NOMEM");
    cr_assert_str_eq(mmg_status_string(MMG_ERR_NOMEM), "out of memory");
    cr_assert_str_eq(mmg_status_string((mmg_status)9999), "unknown status");
    cr_assert_str_eq(mmg_status_name((mmg_status)-1), "MMG_UNKNOWN");
}

Test(status, last_error_starts_empty_and_records_the_message) {
    cr_assert_str_eq(mmg_last_error(), "");
    cr_assert_eq(mmg_last_status(), MMG_OK);
    mmg_status st = mmg__error(MMG_ERR_RANGE, "token %d is not below the vocabulary size %d", 70000, 50257);
    cr_assert_eq(st, MMG_ERR_RANGE);
    cr_assert_eq(mmg_last_status(), MMG_ERR_RANGE);
    cr_assert_str_eq(mmg_last_error(), "token 70000 is not below the vocabulary size 50257");
    mmg__error_prefix("model.safetensors");
    cr_assert_str_eq(mmg_last_error(), "model.safetensors: token 70000 is not below the vocabulary size 50257");
    mmg_clear_error();
    cr_assert_str_eq(mmg_last_error(), "");
    cr_assert_eq(mmg_last_status(), MMG_OK);
}

Test(status, long_messages_are_truncated_not_overflowed) {
    char big[4 * MMG__ERROR_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mmg__error(MMG_ERR_FORMAT, "%s", big);
    cr_assert_eq(strlen(mmg_last_error()), MMG__ERROR_MAX - 1);
    mmg__error_prefix("%s", big);
    cr_assert_eq(strlen(mmg_last_error()), MMG__ERROR_MAX - 1);
}

static void *set_error_in_thread(void *arg) {
    (void)arg;
    mmg__error(MMG_ERR_IO, "thread-local message");
    return (void *)(mmg_last_status() == MMG_ERR_IO ? (void *)1 : NULL);
}

Test(status, each_thread_has_its_own_error) {
    mmg__error(MMG_ERR_CONFIG, "main thread message");
    pthread_t t;
    void *ok = NULL;
    pthread_create(&t, NULL, set_error_in_thread, NULL);
    pthread_join(t, &ok);
    cr_assert_not_null(ok);
    cr_assert_str_eq(mmg_last_error(), "main thread message");
    cr_assert_eq(mmg_last_status(), MMG_ERR_CONFIG);
}
