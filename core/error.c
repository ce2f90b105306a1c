/* core/error.c - status strings and the per-thread last-error message. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static _Thread_local char tls_message[MMG__ERROR_MAX];
static _Thread_local mmg_status tls_status = MMG_OK;

const char *mmg_status_string(mmg_status status) {
    switch (status) {
#define MMG_STATUS_DESC_(name, num, desc) case name: return desc;
        MMG_STATUS_MAP(MMG_STATUS_DESC_)
#undef MMG_STATUS_DESC_
    default: return "unknown status";
    }
}

const char *mmg_status_name(mmg_status status) {
    switch (status) {
#define MMG_STATUS_NAME_(name, num, desc) case name: return #name;
        MMG_STATUS_MAP(MMG_STATUS_NAME_)
#undef MMG_STATUS_NAME_
    default: return "MMG_UNKNOWN";
    }
}

const char *mmg_last_error(void) { return tls_message; }

mmg_status mmg_last_status(void) { return tls_status; }

void mmg_clear_error(void) {
    tls_message[0] = '\0';
    tls_status = MMG_OK;
}

mmg_status mmg__error(mmg_status status, const char *fmt, ...) {
    char buf[MMG__ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(tls_message, buf, sizeof buf);
    tls_status = status;
    mmg__log(MMG_LOG_DEBUG, "%s: %s", mmg_status_name(status), tls_message);
    return status;
}

mmg_status mmg__error_prefix(const char *fmt, ...) {
    char prefix[MMG__ERROR_MAX];
    char buf[2 * MMG__ERROR_MAX + 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(buf, sizeof buf, "%s: %s", prefix, tls_message);
    buf[MMG__ERROR_MAX - 1] = '\0';
    memcpy(tls_message, buf, MMG__ERROR_MAX);
    return tls_status;
}
