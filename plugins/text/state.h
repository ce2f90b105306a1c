/* plugins/text/state.h - a BPE tokenizer's learned state as bytes, so a
 * model file can embed it. The text and code plugins share the layout; each
 * has its own magic, so one never loads the other's state.
 *
 * Format, version 1, all integers little-endian:
 *   "mmgen-text-bpe\n"                      15-byte magic, names the format
 *                                           (the code plugin: "mmgen-code-bpe\n")
 *   u32 version (1), u32 pattern (text: 0 gpt2, 1 cl100k; code: 0), u32 n_ids
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

#define TXT_STATE_MAGIC_LEN 15

/* Whose states: the magic that names the format (TXT_STATE_MAGIC_LEN bytes)
 * and the largest pre-tokenizer number the plugin knows. */
typedef struct txt_state_format {
    const char *magic;
    uint32_t max_pattern;
} txt_state_format;

/* *out from host->alloc. */
int txt_state_save(const txt_vocab *v, const txt_state_format *format, uint32_t pattern,
                   uint8_t **out, size_t *size);
/* Fills an empty `v`; on error `v` may hold part of the state (clear it). */
int txt_state_load(txt_vocab *v, const txt_state_format *format, uint32_t *pattern,
                   const uint8_t *bytes, size_t size);

#endif /* MMGEN_TEXT_STATE_H */
