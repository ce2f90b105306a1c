/* mmgen/log.h - where the library's diagnostics go.
 *
 * The library never writes to stdout or stderr by itself. Install a callback to
 * receive messages; by default they are dropped. */
#ifndef MMGEN_LOG_H
#define MMGEN_LOG_H

#include "export.h"

typedef enum mmg_log_level {
    MMG_LOG_ERROR = 0,
    MMG_LOG_WARN = 1,
    MMG_LOG_INFO = 2,
    MMG_LOG_DEBUG = 3
} mmg_log_level;

/* Receives one message (UTF-8, NUL-terminated, no trailing newline). It may
 * be called from any thread that calls into mmgen, so it must be thread-safe.
 * The message is only valid during the call. */
typedef void (*mmg_log_cb)(mmg_log_level level, const char *message, void *user_data);

MMG_EXTERN_C_BEGIN

/* Installs `callback` (NULL restores the default: drop everything) and the
 * most verbose level it wants; messages above `max_level` are not formatted.
 * [thread-safe; messages already being delivered may still reach the old
 * callback while this returns] */
MMG_API void mmg_set_log_callback(mmg_log_cb callback, mmg_log_level max_level, void *user_data);

MMG_EXTERN_C_END

#endif /* MMGEN_LOG_H */
