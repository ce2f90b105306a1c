/* tests/test_log.c - the log callback: quiet by default, levels respected. */
#include <criterion/criterion.h>
#include <string.h>

#include "log.h"
#include "mmgen/mmgen.h"

struct captured {
    int calls;
    mmg_log_level level;
    char text[256];
};

static void capture(mmg_log_level level, const char *message, void *user_data) {
    struct captured *c = user_data;
    c->calls++;
    c->level = level;
    strncpy(c->text, message, sizeof c->text - 1);
}

Test(log, default_is_silent_and_disabled) {
    cr_assert_not(mmg__log_enabled(MMG_LOG_ERROR));
    mmg__log(MMG_LOG_ERROR, "nobody hears this"); /* must not crash or print */
}

Test(log, callback_receives_messages_up_to_its_level) {
    struct captured c = {0};
    mmg_set_log_callback(capture, MMG_LOG_WARN, &c);
    mmg__log(MMG_LOG_INFO, "too verbose");
    cr_assert_eq(c.calls, 0);
    mmg__log(MMG_LOG_WARN, "disk %d%% full", 93);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.level, MMG_LOG_WARN);
    cr_assert_str_eq(c.text, "disk 93% full");
    mmg_set_log_callback(NULL, MMG_LOG_DEBUG, NULL);
    mmg__log(MMG_LOG_ERROR, "after removal");
    cr_assert_eq(c.calls, 1);
}

Test(log, errors_are_logged_at_debug_level) {
    struct captured c = {0};
    mmg_set_log_callback(capture, MMG_LOG_DEBUG, &c);
    mmg__error(MMG_ERR_IO, "cannot open %s", "x.bin");
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.level, MMG_LOG_DEBUG);
    cr_assert_str_eq(c.text, "MMG_ERR_IO: cannot open x.bin");
    mmg_set_log_callback(NULL, MMG_LOG_ERROR, NULL);
}
