/* cli/code_fim.h - the CLI's side of the code plugin's document header:
 * fill-in-the-middle training (`mmgen train --fim-rate R`) and FIM prompts
 * (`mmgen generate --prefix-file A --suffix-file B`).
 *
 * The plugin ABI passes a document as bytes only, so the code plugin takes
 * per-document options from an opt-in header (plugins/code/README.md):
 * fields "key=value", each ended by a NUL byte, then one more NUL, then the
 * content. A model carries its tokenizer as fitted, without a header; these
 * helpers make a second instance of it with the same learned state and the
 * header switched on, and build the documents it reads. */
#ifndef MMGEN_CLI_CODE_FIM_H
#define MMGEN_CLI_CODE_FIM_H

#include <stddef.h>
#include <stdint.h>

#include "tokfile.h"

/* Nonzero when `t` is a tokenizer of the code plugin. */
int code_fim_is_code(const cli_tok *t);

/* Makes *out, a tokenizer of `base`'s plugin with `base`'s config and
 * learned state, whose documents start with a header and which turns the
 * share `fim_rate` (0..1) of them into FIM training examples. `base` stays
 * as it is (the model embeds it). Returns 0 or CLI_ERR after printing. */
int code_fim_tokenizer(cli_tok *base, double fim_rate, cli_tok *out);

/* A training document: "name=NAME\0\0" + the `size` bytes of `content`, so
 * the plugin takes the language from the file name. *out (*out_size bytes)
 * is malloc'ed. Returns 0 or CLI_ERR after printing. */
int code_fim_named_doc(const char *name, const uint8_t *content, size_t size, uint8_t **out,
                       size_t *out_size);

/* A FIM prompt: "name=NAME\0fim=prompt:P\0context=C\0\0" + prefix + suffix
 * (P = prefix bytes, C = `context`, the model's context, which the plugin
 * checks the prompt against). *out (*out_size bytes) is malloc'ed. Returns
 * 0 or CLI_ERR after printing. */
int code_fim_prompt_doc(const char *name, const uint8_t *prefix, size_t n_prefix, const uint8_t *suffix,
                        size_t n_suffix, int32_t context, uint8_t **out, size_t *out_size);

#endif /* MMGEN_CLI_CODE_FIM_H */
