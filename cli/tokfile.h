/* cli/tokfile.h - a tokenizer as one portable JSON document.
 *
 * `mmgen tokenizer fit` writes, and `train`/`generate` read, a tokenizer as
 *
 *   {"format": "mmgen-tokenizer", "version": 1,
 *    "plugin": "text", "plugin_version": "1.0.0", "modality": "text",
 *    "config": {...the JSON config it was created with...},
 *    "vocab_size": 4096,
 *    "state": "<base64 of mmg_tokenizer_save_state's bytes>"}
 *
 * The same text is stored in a model's metadata under "mmgen.tokenizer"
 * (and, for a cross-modal encoder-decoder, the encoder's tokenizer under
 * "mmgen.source_tokenizer"), so a trained model carries its tokenizers. The
 * library reads and writes the document (mmg_tokenizer_to_json/_from_json,
 * mmgen/tokenizer.h): restoring opens the plugin, creates the tokenizer with
 * its config and loads its state, or, when the config no longer works (it
 * names vocabulary files this machine lacks), creates it without one: a
 * saved state is self-contained. */
#ifndef MMGEN_CLI_TOKFILE_H
#define MMGEN_CLI_TOKFILE_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/mmgen.h"

typedef struct cli_tok {
    mmg_tokenizer *tok;
    char *plugin;   /* the plugin's own name (mmg_plugin_name) */
    char *config;   /* the JSON config text it was created with, or NULL */
    int32_t modality;
} cli_tok;

/* Opens plugin `name_or_path` and creates a tokenizer with `config` (NULL or
 * "" = the plugin's defaults). Returns 0 or CLI_ERR after printing. */
int tokfile_create(const char *name_or_path, const char *config, cli_tok *out);

/* The tokenizer as the JSON document above (malloc'ed), or NULL after
 * printing. */
char *tokfile_serialize(cli_tok *t);

/* Restores a tokenizer from the JSON document `json`; `where` names its
 * origin in messages ("tok.json", "model m.safetensors"). Returns 0 or
 * CLI_ERR after printing. */
int tokfile_parse(const char *json, const char *where, cli_tok *out);

/* Loads the tokenizer file `path`, or the tokenizer embedded in the model
 * file `path`. With `plugin` given, the file is a plugin's raw saved state
 * instead (the tokenizer is created with `config`, which may be NULL).
 * Returns 0 or CLI_ERR after printing. */
int tokfile_load(const char *path, const char *plugin, const char *config, cli_tok *out);

/* The metadata keys holding a model's tokenizers: the decoder's (target)
 * one, and the encoder's (source) one when it differs. */
#define TOKFILE_METADATA_KEY MMG_METADATA_TOKENIZER
#define TOKFILE_SOURCE_METADATA_KEY MMG_METADATA_SOURCE_TOKENIZER

/* The tokenizer embedded in model file `path`, read without loading the
 * weights: 0 and *found = 1 when there is one, 0 and *found = 0 when there
 * is none, CLI_ERR after printing. */
int tokfile_from_model(const char *path, cli_tok *out, int *found);

/* The same for a loaded model (`path` names it in messages). */
int tokfile_from_loaded_model(const mmg_model *model, const char *path, cli_tok *out, int *found);

/* The same two for the tokenizer under metadata `key`. */
int tokfile_from_model_key(const char *path, const char *key, cli_tok *out, int *found);
int tokfile_from_loaded_model_key(const mmg_model *model, const char *key, const char *path,
                                  cli_tok *out, int *found);

/* Stores the tokenizer in the model's metadata (under "mmgen.tokenizer", or
 * `key`), so mmg_model_save writes it into the file. Returns 0 or CLI_ERR
 * after printing. */
int tokfile_embed(mmg_model *model, cli_tok *t);
int tokfile_embed_key(mmg_model *model, const char *key, cli_tok *t);

/* The id of special token `name`, or -1 when the tokenizer has none. */
int32_t tokfile_special(cli_tok *t, const char *name);

void tokfile_free(cli_tok *t);

#endif /* MMGEN_CLI_TOKFILE_H */
