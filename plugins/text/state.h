/* plugins/text/state.h - the text tokenizer's learned state as bytes, so a
 * model file can embed it.
 *
 * Format, version 1, all integers little-endian:
 *   "mmgen-text-bpe\n"                      15-byte magic, names the format
 *   u32 version (1), u32 pattern (0 gpt2, 1 cl100k), u32 n_ids
 *   u32 n_tokens, then per token in id order:  u32 id, u32 length, bytes
 *   u32 n_special, then per special token:     u32 id, u32 length, name
 *   u32 n_alias, then per alias:               u32 length, alias, u32 id
 *   u64 FNV-1a of every byte before it
 * A reader refuses versions it does not know (MMG_ERR_ABI) and anything
 * malformed (MMG_ERR_FORMAT, naming the field and byte offset). */
#ifndef MMGEN_TEXT_STATE_H
#define MMGEN_TEXT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "pretokenize.h"
#include "vocab.h"

#define TXT_STATE_VERSION 1

/* *out from host->alloc. */
int txt_state_save(const txt_vocab *v, txt_pattern pattern, uint8_t **out, size_t *size);
/* Fills an empty `v`; on error `v` may hold part of the state (clear it). */
int txt_state_load(txt_vocab *v, txt_pattern *pattern, const uint8_t *bytes, size_t size);

#endif /* MMGEN_TEXT_STATE_H */
