/* core/log.c - the log callback. The default is silence: a library must not
 * write to the host's stdout/stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

/* The callback and its data are swapped as one unit under a tiny spinlock so
 * a reader never pairs one callback with another's user_data. */
static atomic_flag log_lock = ATOMIC_FLAG_INIT;
static mmg_log_cb log_callback;
static void *log_user_data;
static atomic_int log_max_level = -1;

static void lock(void) {
    while (atomic_flag_test_and_set_explicit(&log_lock, memory_order_acquire)) {
    }
}
static void unlock(void) { atomic_flag_clear_explicit(&log_lock, memory_order_release); }

void mmg_set_log_callback(mmg_log_cb callback, mmg_log_level max_level, void *user_data) {
    lock();
    log_callback = callback;
    log_user_data = user_data;
    atomic_store(&log_max_level, callback ? (int)max_level : -1);
    unlock();
}

int mmg__log_enabled(mmg_log_level level) { return (int)level <= atomic_load(&log_max_level); }

void mmg__log(mmg_log_level level, const char *fmt, ...) {
    if (!mmg__log_enabled(level)) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lock();
    mmg_log_cb cb = log_callback;
    void *ud = log_user_data;
    unlock();
    if (cb) cb(level, buf, ud);
}
