/* mmgen/status.h - status codes and the last-error message.
 *
 * Every fallible mmgen function returns an mmg_status (or NULL for
 * constructors, with the status available from mmg_last_status()). 0 is
 * success. The numbers are part of the ABI: they never change and are never
 * reused; new codes are added at the end of the map. */
#ifndef MMGEN_STATUS_H
#define MMGEN_STATUS_H

#include "export.h"

/* X(name, number, description). Append only. */
#define MMG_STATUS_MAP(X)                                                         \
    X(MMG_OK, 0, "success")                                                       \
    X(MMG_ERR_INVALID_ARG, 1, "invalid argument")                                 \
    X(MMG_ERR_NOMEM, 2, "out of memory")                                          \
    X(MMG_ERR_IO, 3, "input/output error")                                        \
    X(MMG_ERR_FORMAT, 4, "malformed file or data")                                \
    X(MMG_ERR_UNSUPPORTED, 5, "unsupported feature or format")                    \
    X(MMG_ERR_PLUGIN, 6, "plugin failed to load or misbehaved")                   \
    X(MMG_ERR_ABI, 7, "incompatible ABI version")                                 \
    X(MMG_ERR_RANGE, 8, "value out of range (token id, length, index)")          \
    X(MMG_ERR_CONFIG, 9, "invalid configuration")                                 \
    X(MMG_ERR_STATE, 10, "operation not valid in the current state")              \
    X(MMG_ERR_LIMIT, 11, "resource limit exceeded")                               \
    X(MMG_ERR_NUMERIC, 12, "numerical failure (NaN or infinity)")                 \
    X(MMG_ERR_CANCELLED, 13, "cancelled by a callback")                           \
    X(MMG_ERR_NOT_FOUND, 14, "not found")                                         \
    X(MMG_ERR_INTERNAL, 15, "internal error")

typedef enum mmg_status {
#define MMG_STATUS_ENUM_(name, num, desc) name = num,
    MMG_STATUS_MAP(MMG_STATUS_ENUM_)
#undef MMG_STATUS_ENUM_
    MMG_STATUS_COUNT_ /* not a status; one past the largest */
} mmg_status;

MMG_EXTERN_C_BEGIN

/* A short English description of a status, e.g. "out of memory". Unknown
 * values give "unknown status". Static storage: never free it.
 * [thread-safe] */
MMG_API const char *mmg_status_string(mmg_status status);

/* The symbolic name of a status, e.g. "MMG_ERR_NOMEM"; "MMG_UNKNOWN" for
 * values outside the map. Static storage. [thread-safe] */
MMG_API const char *mmg_status_name(mmg_status status);

/* The message of the last failed mmgen call on this thread: what went wrong
 * in words a user can act on (which file, which field, what was expected).
 * Empty string when no call has failed on this thread. The pointer stays
 * valid until the next mmgen call on the same thread; do not free it.
 * [thread-safe: each thread has its own message] */
MMG_API const char *mmg_last_error(void);

/* The status of the last failed mmgen call on this thread (MMG_OK if none).
 * Useful after a constructor returned NULL. [thread-safe, per thread] */
MMG_API mmg_status mmg_last_status(void);

/* Forgets this thread's last error. [thread-safe, per thread] */
MMG_API void mmg_clear_error(void);

MMG_EXTERN_C_END

#endif /* MMGEN_STATUS_H */
