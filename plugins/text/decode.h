/* plugins/text/decode.h - token ids back to bytes, shared by the BPE plugins
 * (text, code): a token's bytes, whole-document decoding, descriptions for
 * people, and decoding streams that never split a UTF-8 character.
 *
 * A special token decodes to its name's bytes, as tiktoken's decode does.
 * Every function reports its errors (MMG_ERR_RANGE for an id that is not a
 * token) through the host, naming txt_module. */
#ifndef MMGEN_TEXT_DECODE_H
#define MMGEN_TEXT_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "vocab.h"

/* The bytes of token `id` (pointing into v). */
int txt_token_bytes(const txt_vocab *v, int32_t id, const uint8_t **p, size_t *n);

/* keep[0..n_keep) followed by the bytes of ids, NUL-terminated past *out_size;
 * *out from host->alloc. */
int txt_decode_into(const txt_vocab *v, const int32_t *ids, size_t count, const uint8_t *keep,
                    size_t n_keep, uint8_t **out, size_t *out_size);

/* Writes a token for people: byte tokens quoted with C escapes for control
 * characters, backslash, quote and bytes that are not UTF-8; special tokens
 * as their name. Truncated to buf_size; *out_length gets the full length. */
int txt_describe_token(const txt_vocab *v, int32_t id, char *buf, size_t buf_size,
                       size_t *out_length);

/* A decoding stream: holds the bytes of a UTF-8 character split across
 * tokens until the tokens that complete it arrive. It reads `v` at each
 * feed, so it follows a vocabulary replaced in place. */
typedef struct txt_stream {
    const txt_vocab *vocab;
    uint8_t held[4];
    size_t n_held;
} txt_stream;

int txt_stream_create(const txt_vocab *v, txt_stream **out);
void txt_stream_destroy(txt_stream *s);
int txt_stream_feed(txt_stream *s, const int32_t *ids, size_t count, uint8_t **out,
                    size_t *out_size);
int txt_stream_flush(txt_stream *s, uint8_t **out, size_t *out_size);

#endif /* MMGEN_TEXT_DECODE_H */
