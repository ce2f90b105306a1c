/* core/log.h - internal logging through the user's callback (private). */
#ifndef MMGEN_CORE_LOG_H
#define MMGEN_CORE_LOG_H

#include "mmgen/log.h"
#include "error.h"

/* Formats and delivers a message if a callback wants this level. Cheap when
 * nobody listens: the level is checked before formatting. */
void mmg__log(mmg_log_level level, const char *fmt, ...) MMG__PRINTF(2, 3);

/* Nonzero when a message at `level` would be delivered. */
int mmg__log_enabled(mmg_log_level level);

#endif /* MMGEN_CORE_LOG_H */
