/* core/tokenizer-impl.h - what the tokenizer's JSON document code needs from
 * the tokenizer object (private). */
#ifndef MMGEN_CORE_TOKENIZER_IMPL_H
#define MMGEN_CORE_TOKENIZER_IMPL_H

#include "mmgen/tokenizer.h"

/* Replaces the config text the tokenizer reports (mmg_tokenizer_config) and
 * writes back (mmg_tokenizer_to_json) with a copy of `config` (NULL or "":
 * none). A tokenizer restored from its state alone keeps the document's
 * config this way, so saving it again loses nothing. MMG_OK or
 * MMG_ERR_NOMEM (the old config kept). */
mmg_status mmg__tokenizer_keep_config(mmg_tokenizer *t, const char *config);

#endif /* MMGEN_CORE_TOKENIZER_IMPL_H */
