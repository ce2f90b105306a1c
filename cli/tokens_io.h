/* cli/tokens_io.h - token ids in files: as text (whitespace-separated
 * decimal ids, any number per line) or as flat little-endian u16/u32
 * arrays (the token files `mmgen train --tokens` and nanoGPT read). */
#ifndef MMGEN_CLI_TOKENS_IO_H
#define MMGEN_CLI_TOKENS_IO_H

#include <stddef.h>
#include <stdint.h>

typedef enum tokens_format { TOKENS_TEXT = 0, TOKENS_LINES = 1, TOKENS_U16 = 2, TOKENS_U32 = 3 } tokens_format;
extern const char *const tokens_format_names[]; /* "text", "lines", "u16", "u32", NULL */

/* Parses ids from `data` (size bytes) in `format` (TOKENS_LINES reads like
 * TOKENS_TEXT). `where` names the source in messages, which give the line
 * and the offending text. Returns 0 and a malloc'ed array, or -1 after
 * printing. */
int tokens_parse(const uint8_t *data, size_t size, tokens_format format, const char *where,
                 int32_t **ids, size_t *count);

/* Appends the ids in `format` to a growing buffer (*buf, *len, *cap;
 * malloc'ed). TOKENS_TEXT writes one line, TOKENS_LINES one id per line.
 * Returns 0, or -1 when an id does not fit u16 (printed) or memory runs
 * out. */
int tokens_format_append(const int32_t *ids, size_t count, tokens_format format, uint8_t **buf,
                         size_t *len, size_t *cap);

/* Appends raw bytes to the same kind of buffer. Returns 0 or -1. */
int tokens_buf_append(uint8_t **buf, size_t *len, size_t *cap, const void *data, size_t size);

#endif /* MMGEN_CLI_TOKENS_IO_H */
