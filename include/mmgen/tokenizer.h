/* mmgen/tokenizer.h - tokenizers made by modality plugins.
 *
 * A tokenizer turns documents (bytes: UTF-8 text, a PNG file, a WAV file...)
 * into token ids and back. It is an instance of a plugin (mmgen/plugin_host.h):
 * create it from an open plugin and a JSON configuration, teach it (fit) or
 * restore its learned state (load_state), then encode and decode.
 *
 * The library checks what the plugin returns before handing it to you: token
 * ids outside [0, vocab_size), a missing buffer, or a status that is not an
 * mmg_status give MMG_ERR_PLUGIN with a message naming the plugin, the
 * function and the bad value; a plugin failure without a message gets one
 * naming the plugin and the function.
 *
 * Buffers returned here are released with mmg_free(). A returned buffer may be
 * NULL when its length is 0. Out-parameters are untouched on error.
 *
 * Threads: [one thread per object] for a tokenizer and for a decode stream;
 * distinct tokenizers, even of the same plugin, may be used concurrently. */
#ifndef MMGEN_TOKENIZER_H
#define MMGEN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "plugin_host.h"
#include "status.h"

MMG_EXTERN_C_BEGIN

/* A tokenizer instance. Opaque. */
typedef struct mmg_tokenizer mmg_tokenizer;

/* Creates a tokenizer of `plugin` configured by `config_json` (UTF-8,
 * NUL-terminated; NULL or "" means the plugin's defaults). The tokenizer keeps
 * the plugin's module loaded: `plugin` may be closed right after. Returns
 * MMG_OK; MMG_ERR_INVALID_ARG; the plugin's status for a bad configuration
 * (usually MMG_ERR_CONFIG); MMG_ERR_PLUGIN; MMG_ERR_NOMEM. *out_tokenizer is
 * untouched on error. Release with mmg_tokenizer_free(). [thread-safe] */
MMG_API mmg_status mmg_tokenizer_create(const mmg_plugin *plugin, const char *config_json,
                                        mmg_tokenizer **out_tokenizer);

/* The JSON config the tokenizer was created with (NUL-terminated, owned by
 * the tokenizer, valid until it is freed), or NULL when it was created with
 * the plugin's defaults. A tokenizer restored by mmg_tokenizer_from_json
 * reports the document's config even when it had to be created without it.
 * NULL for NULL. Since ABI 1.2. [thread-safe] */
MMG_API const char *mmg_tokenizer_config(const mmg_tokenizer *tokenizer);

/* Destroys the instance and releases its module reference. NULL is a no-op.
 * Free every decode stream of the tokenizer first. [one thread per object] */
MMG_API void mmg_tokenizer_free(mmg_tokenizer *tokenizer);

/* The plugin the tokenizer belongs to, valid as long as the tokenizer (do not
 * close it). NULL for NULL. [thread-safe] */
MMG_API const mmg_plugin *mmg_tokenizer_plugin(const mmg_tokenizer *tokenizer);

/* Learns the tokenizer's state (BPE merges, a codebook...) from `n_docs`
 * sample documents: docs[i] points at sizes[i] bytes. Replaces any previous
 * state. MMG_ERR_UNSUPPORTED when the plugin has nothing to learn.
 * [one thread per object] */
MMG_API mmg_status mmg_tokenizer_fit(mmg_tokenizer *tokenizer, const uint8_t *const *docs,
                                     const size_t *sizes, size_t n_docs);

/* Serializes the learned state into *out_bytes (*out_size bytes; mmg_free it),
 * for embedding in a model file. [one thread per object] */
MMG_API mmg_status mmg_tokenizer_save_state(mmg_tokenizer *tokenizer, uint8_t **out_bytes,
                                            size_t *out_size);

/* Restores a state written by save_state; a malformed one gives
 * MMG_ERR_FORMAT. [one thread per object] */
MMG_API mmg_status mmg_tokenizer_load_state(mmg_tokenizer *tokenizer, const uint8_t *bytes,
                                            size_t size);

/* Encodes `doc_size` bytes of `doc` (NULL allowed when doc_size is 0) into
 * *out_ids (*out_count ids, each in [0, vocab_size); mmg_free it). A document
 * never produces a special token because of its content.
 * [one thread per object] */
MMG_API mmg_status mmg_tokenizer_encode(mmg_tokenizer *tokenizer, const uint8_t *doc,
                                        size_t doc_size, int32_t **out_ids, size_t *out_count);

/* Decodes `count` ids into *out_doc (*out_size bytes, not NUL-terminated;
 * mmg_free it). An id outside [0, vocab_size) gives MMG_ERR_RANGE naming it
 * and its position. [one thread per object] */
MMG_API mmg_status mmg_tokenizer_decode(mmg_tokenizer *tokenizer, const int32_t *ids,
                                        size_t count, uint8_t **out_doc, size_t *out_size);

/* The number of token ids, special tokens included; 0 before fit/load_state
 * when the vocabulary is learned, for NULL, or when the plugin reports a
 * negative size. [one thread per object] */
MMG_API int32_t mmg_tokenizer_vocab_size(mmg_tokenizer *tokenizer);

/* The id of the special token `name` ("bos", "eos", "pad", or a modality
 * marker the plugin documents) in *out_id. MMG_ERR_NOT_FOUND when the
 * tokenizer has none by that name. [one thread per object] */
MMG_API mmg_status mmg_tokenizer_special_token(mmg_tokenizer *tokenizer, const char *name,
                                               int32_t *out_id);

/* A human-readable description of token `id` for inspection (UTF-8,
 * NUL-terminated; mmg_free it). MMG_ERR_RANGE for an id outside the
 * vocabulary. [one thread per object] */
MMG_API mmg_status mmg_tokenizer_describe_token(mmg_tokenizer *tokenizer, int32_t id,
                                                char **out_text);

/* Nonzero when the plugin offers the optional extension `id` for this
 * tokenizer, e.g. MMG_EXT_CONSTRAINT_V1 or MMG_EXT_STREAM_DECODE_V1
 * (mmgen/plugin.h). [one thread per object] */
MMG_API int mmg_tokenizer_has_extension(mmg_tokenizer *tokenizer, const char *id);

/* ---- constraint: which tokens may come next ------------------------------ */

/* Given the tokens generated so far for one document (`tokens`, n_tokens ids
 * of this tokenizer), clears the entries of `allowed` (vocab_size bytes, 1 on
 * entry; one byte per id) for the ids that may not come next. Ids at or above
 * the tokenizer's own vocabulary size are cleared (they are not this
 * tokenizer's tokens). MMG_ERR_UNSUPPORTED when the plugin has no constraint
 * extension; MMG_ERR_RANGE for a token outside the vocabulary.
 * [one thread per object] */
MMG_API mmg_status mmg_tokenizer_allowed_next(mmg_tokenizer *tokenizer, const int32_t *tokens,
                                              size_t n_tokens, uint8_t *allowed,
                                              size_t vocab_size);

/* The same as an mmg_token_mask_cb (mmgen/constraint.h) with the tokenizer as
 * user_data, so a tokenizer's constraint goes straight to generation:
 *     callback = mmg_tokenizer_mask_cb, user_data = tokenizer.
 * Returns 0 or the mmg_status of mmg_tokenizer_allowed_next.
 * [called on the generating thread; one thread per tokenizer] */
MMG_API int mmg_tokenizer_mask_cb(void *user_data, const int32_t *tokens, size_t n_tokens,
                                  uint8_t *allowed, size_t vocab_size);

/* ---- streaming decode ---------------------------------------------------- */

/* Decodes tokens as they are generated without splitting a unit of the
 * modality (a UTF-8 character split across tokens is held back until it is
 * complete). Opaque. */
typedef struct mmg_decode_stream mmg_decode_stream;

/* Starts a decode stream on `tokenizer`, which must outlive it. Returns
 * MMG_OK; MMG_ERR_UNSUPPORTED when the plugin has no stream_decode extension;
 * MMG_ERR_PLUGIN; MMG_ERR_NOMEM. *out_stream untouched on error.
 * [one thread per tokenizer] */
MMG_API mmg_status mmg_decode_stream_create(mmg_tokenizer *tokenizer,
                                            mmg_decode_stream **out_stream);

/* Feeds `count` more ids; *out (*out_size bytes; mmg_free it) receives the
 * output they complete, possibly nothing. Ids outside the vocabulary give
 * MMG_ERR_RANGE. [one thread per stream and its tokenizer] */
MMG_API mmg_status mmg_decode_stream_feed(mmg_decode_stream *stream, const int32_t *ids,
                                          size_t count, uint8_t **out, size_t *out_size);

/* Emits whatever is still held back (possibly an incomplete character).
 * [one thread per stream and its tokenizer] */
MMG_API mmg_status mmg_decode_stream_flush(mmg_decode_stream *stream, uint8_t **out,
                                           size_t *out_size);

/* NULL is a no-op. [one thread per stream and its tokenizer] */
MMG_API void mmg_decode_stream_free(mmg_decode_stream *stream);

/* ---- tokenizers as JSON documents, and in model files (since ABI 1.2) -----
 * A tokenizer travels as one self-contained JSON document (ABI.md,
 * "Tokenizer documents"):
 *
 *   {"format": "mmgen-tokenizer", "version": 1, "plugin": "text",
 *    "plugin_version": "1.0.0", "modality": "text", "config": {...} or null,
 *    "vocab_size": 4096, "state": "<base64 of mmg_tokenizer_save_state>"}
 *
 * `mmgen tokenizer fit` writes it to a file, and a model file carries its
 * tokenizers as such documents in its string metadata under the keys below.
 * An encoder-decoder whose sources are another modality than its targets
 * (text -> image) carries two: the target tokenizer under
 * MMG_METADATA_TOKENIZER, as every model does, and the source tokenizer under
 * MMG_METADATA_SOURCE_TOKENIZER. Both share the model's one vocabulary: the
 * target ids are the target tokenizer's own, [0, target vocab), and the
 * source tokenizer's ids are moved up by MMG_METADATA_SOURCE_ID_OFFSET (the
 * target vocabulary's size), so the encoder reads id + offset. A model with
 * one tokenizer uses it on both sides with offset 0. */

typedef struct mmg_model mmg_model; /* mmgen/model.h */

/* The model's (target, decoder-side) tokenizer; for a model with one
 * tokenizer, the encoder's too. */
#define MMG_METADATA_TOKENIZER "mmgen.tokenizer"
/* The encoder's tokenizer, when it differs from the decoder's. */
#define MMG_METADATA_SOURCE_TOKENIZER "mmgen.source_tokenizer"
/* A decimal integer in [0, vocab_size): added to every id of the source
 * tokenizer to give the id the encoder reads. Absent: 0. */
#define MMG_METADATA_SOURCE_ID_OFFSET "mmgen.source_id_offset"

/* Writes the tokenizer as the JSON document above into *out_json
 * (NUL-terminated; mmg_free it): its plugin's name and version, its modality,
 * its config (mmg_tokenizer_config, as JSON; null for none), its vocabulary
 * size and its saved state in base64. Returns MMG_OK; MMG_ERR_INVALID_ARG
 * (NULL); MMG_ERR_CONFIG when the config text is not JSON; what
 * mmg_tokenizer_save_state returns; MMG_ERR_NOMEM. *out_json untouched on
 * error. [one thread per object] */
MMG_API mmg_status mmg_tokenizer_to_json(mmg_tokenizer *tokenizer, char **out_json);

/* Restores a tokenizer from such a document (`len` bytes of `json`; no NUL
 * needed): opens its plugin (mmg_plugin_open: MMGEN_PLUGIN_PATH, then the
 * install directory), creates the tokenizer with its config and loads its
 * state. When that config fails here (it names a vocabulary file this machine
 * lacks), the tokenizer is created with the plugin's defaults instead and
 * the state loaded into it, since a saved state is self-contained; the
 * config is still reported by mmg_tokenizer_config. Returns MMG_OK;
 * MMG_ERR_INVALID_ARG (NULL); MMG_ERR_FORMAT (not one JSON object, "format"
 * not "mmgen-tokenizer", "plugin" missing or not a bare name - letters,
 * digits, '_', '-', '.', no '/' - so a document never names a file to load,
 * "state" not base64: named);
 * MMG_ERR_UNSUPPORTED (another "version"); the status of mmg_plugin_open
 * (MMG_ERR_NOT_FOUND for a plugin this machine lacks), of
 * mmg_tokenizer_create or of mmg_tokenizer_load_state, with their message;
 * MMG_ERR_NOMEM. *out_tokenizer untouched on error; release it with
 * mmg_tokenizer_free. [thread-safe] */
MMG_API mmg_status mmg_tokenizer_from_json(const char *json, size_t len,
                                           mmg_tokenizer **out_tokenizer);

/* The tokenizer the model carries under metadata `key`
 * (MMG_METADATA_TOKENIZER or MMG_METADATA_SOURCE_TOKENIZER; NULL means
 * MMG_METADATA_TOKENIZER), restored as mmg_tokenizer_from_json does. Returns
 * MMG_OK; MMG_ERR_NOT_FOUND when the model has no such entry; otherwise what
 * mmg_tokenizer_from_json returns, the message naming the key.
 * *out_tokenizer untouched on error; release it with mmg_tokenizer_free.
 * [thread-safe; not concurrently with mmg_model_set_metadata on the model] */
MMG_API mmg_status mmg_model_tokenizer(const mmg_model *model, const char *key,
                                       mmg_tokenizer **out_tokenizer);

/* Stores the tokenizer's document (mmg_tokenizer_to_json) in the model's
 * metadata under `key` (NULL means MMG_METADATA_TOKENIZER), so mmg_model_save
 * writes it into the file. Returns MMG_OK, or what mmg_tokenizer_to_json and
 * mmg_model_set_metadata return (the model unchanged on error).
 * [one thread per object, for the model and the tokenizer] */
MMG_API mmg_status mmg_model_set_tokenizer(mmg_model *model, const char *key,
                                           mmg_tokenizer *tokenizer);

/* The offset added to source tokenizer ids (MMG_METADATA_SOURCE_ID_OFFSET)
 * in *out_offset: 0 when the model has no such entry. Returns MMG_OK;
 * MMG_ERR_INVALID_ARG (NULL); MMG_ERR_FORMAT when the entry is not a decimal
 * integer in [0, vocab_size), naming it. *out_offset untouched on error.
 * [thread-safe; not concurrently with mmg_model_set_metadata on the model] */
MMG_API mmg_status mmg_model_source_id_offset(const mmg_model *model, int32_t *out_offset);

MMG_EXTERN_C_END

#endif /* MMGEN_TOKENIZER_H */
