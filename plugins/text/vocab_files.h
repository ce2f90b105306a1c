/* plugins/text/vocab_files.h - reading vocabularies from the files OpenAI
 * published: GPT-2's encoder.json + vocab.bpe, and tiktoken rank files
 * (r50k_base, p50k_base, cl100k_base .tiktoken). Errors name the file and,
 * where there is one, the line. */
#ifndef MMGEN_TEXT_VOCAB_FILES_H
#define MMGEN_TEXT_VOCAB_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "vocab.h"

/* Reads a whole file (host->alloc'd, NUL-terminated past *size).
 * MMG_ERR_IO names the path and the system's reason. */
int txt_read_file(const char *path, uint8_t **out, size_t *size);

/* GPT-2: ranks from vocab.bpe (256 bytes in GPT-2's order, then one per
 * merge line), checked against encoder.json, which also gives <|endoftext|>.
 * Fills an empty `v`. */
int txt_load_gpt2(txt_vocab *v, const char *encoder_json_path, const char *vocab_bpe_path);

/* A tiktoken rank file: lines "<base64 bytes> <rank>". Fills an empty `v`. */
int txt_load_tiktoken(txt_vocab *v, const char *path);

/* Decodes standard base64 (with padding) into out (room for 3*n/4 bytes);
 * returns the length, or -1 if malformed. */
long txt_base64_decode(const char *s, size_t n, uint8_t *out);

#endif /* MMGEN_TEXT_VOCAB_FILES_H */
