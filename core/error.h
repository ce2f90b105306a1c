/* core/error.h - setting this thread's last error (private).
 *
 * Every failing path sets a message naming what was wrong and returns the
 * status, so callers write `return mmg__error(MMG_ERR_RANGE, "token %d ...", t);`. */
#ifndef MMGEN_CORE_ERROR_H
#define MMGEN_CORE_ERROR_H

#include "mmgen/status.h"

#if defined(__GNUC__)
#  define MMG__PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#  define MMG__PRINTF(fmt_idx, arg_idx)
#endif

/* Records `status` and a printf-style message for mmg_last_error(); returns
 * `status`. The message is also sent to the log at MMG_LOG_DEBUG level. */
mmg_status mmg__error(mmg_status status, const char *fmt, ...) MMG__PRINTF(2, 3);

/* Prefixes the current message with "context: " (e.g. a file name) and
 * returns the current status. Use when passing an error up a level. */
mmg_status mmg__error_prefix(const char *fmt, ...) MMG__PRINTF(1, 2);

/* The largest message kept, including the NUL; longer ones are truncated. */
#define MMG__ERROR_MAX 1024

#endif /* MMGEN_CORE_ERROR_H */
