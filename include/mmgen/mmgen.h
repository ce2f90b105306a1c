/* mmgen/mmgen.h - the whole public API of libmmgen.
 *
 * Include this, or the one header per concept it gathers. ABI.md describes the
 * conventions every function follows (status codes, ownership, option structs,
 * thread rules). */
#ifndef MMGEN_MMGEN_H
#define MMGEN_MMGEN_H

#include "export.h"
#include "version.h"
#include "status.h"
#include "log.h"
#include "memory.h"
#include "constraint.h"
#include "plugin_host.h"
#include "tokenizer.h"
#include "sampling.h"
#include "model.h"
#include "context.h"
#include "generate.h"
#include "train.h"
#include "layout.h"

#endif /* MMGEN_MMGEN_H */
