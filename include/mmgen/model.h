/* mmgen/model.h - the transformer: its configuration, creation, loading and
 * saving.
 *
 * One implementation covers the encoder-decoder of "Attention Is All You
 * Need" (n_encoder_layers > 0: encoder self-attention, decoder masked
 * self-attention + cross-attention) and decoder-only GPT-style stacks
 * (n_encoder_layers = 0). The model works on token ids only; one vocabulary
 * and one token embedding table are shared by the encoder, the decoder and
 * (when tied) the output projection.
 *
 * A model's weights are immutable after create/load (outside training) and
 * it may be shared by any number of threads; computing with it happens in
 * contexts (mmgen/context.h), each with its own KV cache. Weights are stored
 * in safetensors files with the config and the model's string metadata in
 * the header's __metadata__ (see ABI.md for tensor names and shapes). */
#ifndef MMGEN_MODEL_H
#define MMGEN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"

/* Where LayerNorm sits around each sub-layer. Values are ABI. */
typedef enum mmg_norm_placement {
    MMG_NORM_POST = 0, /* x = LN(x + sublayer(x)): the paper, PyTorch's default */
    MMG_NORM_PRE = 1   /* x = x + sublayer(LN(x)): GPT-2 */
} mmg_norm_placement;

/* The feed-forward activation. Values are ABI. */
typedef enum mmg_activation {
    MMG_ACT_RELU = 0,
    MMG_ACT_GELU = 1,      /* exact: x * Phi(x) with erf */
    MMG_ACT_GELU_TANH = 2  /* GPT-2's tanh approximation */
} mmg_activation;

/* How positions enter the embeddings. Values are ABI. */
typedef enum mmg_position_encoding {
    MMG_POS_SINUSOIDAL = 0, /* the paper's fixed sin/cos table, not a parameter */
    MMG_POS_LEARNED = 1,    /* a (max_seq_len, d_model) parameter, GPT-2 style */
    MMG_POS_NONE = 2
} mmg_position_encoding;

/* A model's architecture. Fill with mmg_model_config_init(&c, sizeof c), set
 * at least vocab_size, then change fields. Grows only at the end. Integer
 * flags are 0/1. Defaults are the paper's base model (post-LN, ReLU,
 * sinusoidal) with PyTorch's final LayerNorm after each stack. */
typedef struct mmg_model_config {
    size_t struct_size;
    int32_t vocab_size;         /* number of token ids; default 0 (must be set) */
    int32_t d_model;            /* width C; default 512 */
    int32_t n_heads;            /* attention heads; must divide d_model; default 8 */
    int32_t n_encoder_layers;   /* 0 = decoder-only; default 6 */
    int32_t n_decoder_layers;   /* >= 1; default 6 */
    int32_t d_ff;               /* feed-forward width; default 2048 */
    int32_t max_seq_len;        /* longest source or target sequence; default 512 */
    int32_t norm_placement;     /* mmg_norm_placement; default MMG_NORM_POST */
    int32_t final_norm;         /* LayerNorm after the last layer of each stack
                                   (nn.Transformer's encoder.norm/decoder.norm,
                                   GPT-2's ln_f); default 1 */
    int32_t activation;         /* mmg_activation; default MMG_ACT_RELU */
    int32_t position_encoding;  /* mmg_position_encoding; default MMG_POS_SINUSOIDAL */
    int32_t tied_output;        /* output projection = token embedding; default 1 */
    int32_t bias;               /* biases on attention and feed-forward linears
                                   (LayerNorm biases: norm_bias); default 1 */
    int32_t scale_embeddings;   /* multiply token embeddings by sqrt(d_model) as
                                   the paper does; default 0 */
    float layernorm_eps;        /* default 1e-5 */
    int32_t norm_bias;          /* LayerNorms add a learned bias (beta) after
                                   the scale; 0 drops it, as nanoGPT's
                                   bias=False. Default 1 (PyTorch's LayerNorm).
                                   Since ABI 1.1; model files without the key
                                   have one. */
} mmg_model_config;

/* How mmg_model_create draws the initial weights. Values are ABI. */
typedef enum mmg_init_scheme {
    MMG_INIT_NORMAL = 0, /* every weight matrix and embedding ~ N(0, init_std^2) */
    MMG_INIT_GPT2 = 1    /* as MMG_INIT_NORMAL, then GPT-2's scaled init (its paper,
                            section 2.3; nanoGPT's model.py): the matrices that project
                            into the residual stream (self_attn.out, cross_attn.out,
                            ff.fc2) are multiplied by 1/sqrt(N), N = the residual
                            branches of their stack: 2 per layer, 3 per decoder layer
                            with cross-attention. Decoder-only: std init_std /
                            sqrt(2 * n_decoder_layers), as nanoGPT's c_proj. */
} mmg_init_scheme;

/* What a model keeps its weights in (mmg_model_options.weights, since ABI
 * 1.3). Values are ABI. */
typedef enum mmg_weight_format {
    MMG_WEIGHTS_DEFAULT = 0, /* load: as the file stores them (F32, F16 and BF16
                                files as F32, a Q8_0 or Q4_0 file as it is);
                                create: F32 */
    MMG_WEIGHTS_F32 = 1,     /* float32; a quantized file is dequantized while loading
                                (to train or fine-tune from it) */
    MMG_WEIGHTS_Q8_0 = 2,    /* the weight matrices of the linear layers
                                (attention, feed-forward, the output projection)
                                in GGUF's Q8_0 blocks: 32 int8 values and one
                                half-precision scale, 1.0625 bytes a weight
                                instead of 4 (ABI.md, "Quantized weights").
                                Embeddings, LayerNorms and biases stay F32; a
                                tied output projection gets a Q8_0 copy of the
                                token embedding (or, with
                                mmg_model_options.quantize_embedding, the
                                token embedding is Q8_0 itself). Inference only: training is
                                MMG_ERR_UNSUPPORTED, mmg_model_read_param
                                dequantizes, mmg_model_write_param refuses
                                those tensors. Needs d_model and d_ff multiples
                                of 32 (else MMG_ERR_UNSUPPORTED). */
    MMG_WEIGHTS_Q4_0 = 3,    /* as Q8_0, in GGUF's Q4_0 blocks: 32 4-bit values
                                and one half-precision scale, 0.5625 bytes a
                                weight (ABI.md, "Quantized weights"). Since
                                ABI 1.5: check mmg_abi_compatible(1, 5). */
    MMG_WEIGHTS_F16 = 4      /* as Q8_0, in IEEE half precision, 2 bytes a
                                weight, computed as such (widened as they are
                                read, never stored as F32); d_model and d_ff
                                multiples of 32 too. Since ABI 1.5. */
} mmg_weight_format;

/* How to create or load a model. Fill with mmg_model_options_init. */
typedef struct mmg_model_options {
    size_t struct_size;
    uint64_t seed;          /* random initialisation seed (create only); default 0 */
    float init_std;         /* std of the normal init of weight matrices and
                               embeddings (create only); default 0.02 */
    uint64_t memory_limit;  /* bytes the parameters may take; 0 (default) = the
                               machine's physical memory */
    int32_t init_scheme;    /* mmg_init_scheme (create only); default
                               MMG_INIT_NORMAL. Draws the same random numbers
                               either way: GPT2 only rescales some matrices. */
    int32_t weights;        /* mmg_weight_format; default MMG_WEIGHTS_DEFAULT.
                               Loading an F32 file with MMG_WEIGHTS_Q8_0
                               quantizes while reading (the F32 copy of one
                               tensor at a time); create draws F32 weights,
                               then quantizes them. Since ABI 1.3. */
    int32_t quantize_embedding; /* 1: a quantized model (weights Q8_0, Q4_0
                               or F16, or a quantized file loaded as it is)
                               keeps its token embedding in that type too,
                               as GGUF files do: the lookup dequantizes the
                               rows it reads and a tied output projection
                               uses it directly (no second copy), so the
                               model is about 4 bytes a vocabulary entry
                               per d_model smaller. 0 (default): as the file
                               stores it (F32 for files without). Ignored
                               for F32 models. Since ABI 1.6. */
} mmg_model_options;

typedef struct mmg_model mmg_model;

MMG_EXTERN_C_BEGIN

/* Fills `config` with the defaults above, writing only `struct_size` bytes.
 * Does nothing for NULL or a struct_size smaller than a size_t. [thread-safe] */
MMG_API void mmg_model_config_init(mmg_model_config *config, size_t struct_size);

/* Checks a config without allocating: sizes > 0 (n_encoder_layers >= 0),
 * n_heads divides d_model, enums in range, layernorm_eps > 0 and finite, and
 * that the parameter count fits in memory (no overflow). Returns MMG_OK or
 * MMG_ERR_CONFIG with a message naming the field and value (MMG_ERR_INVALID_ARG
 * for NULL or a bad struct_size). [thread-safe] */
MMG_API mmg_status mmg_model_config_validate(const mmg_model_config *config);

/* Writes `config` as the JSON object model files carry in their
 * "mmgen.config" metadata (ABI.md): every field, enums as strings ("pre",
 * "gelu_tanh", "learned"), flags as true/false, layernorm_eps as the
 * shortest decimal that reads back as the same float. Fields beyond
 * config->struct_size take their defaults. Nothing else is validated (a
 * config whose vocab_size is not set yet can be written). *out_json is a
 * NUL-terminated string; release it with mmg_free. Returns MMG_OK;
 * MMG_ERR_INVALID_ARG (NULL, bad struct_size); MMG_ERR_CONFIG for a field
 * JSON cannot spell (an enum out of range, a flag other than 0/1, a
 * non-finite layernorm_eps), naming it; MMG_ERR_NOMEM. *out_json is
 * untouched on error. [thread-safe] */
MMG_API mmg_status mmg_model_config_to_json(const mmg_model_config *config, char **out_json);

/* Reads a config from JSON text (`len` bytes, no NUL needed; trailing
 * whitespace or NULs allowed): the keys of mmg_model_config_to_json, each
 * optional. A missing key keeps its default from mmg_model_config_init;
 * the caller's other values are not kept. Writes at most out->struct_size
 * bytes (set it first, e.g. with mmg_model_config_init); `out` is untouched
 * on error. The result is not validated as a whole (vocab_size may still be
 * 0): call mmg_model_config_validate, as mmg_model_create does. The same
 * reader serves model files and checkpoints. Returns MMG_OK;
 * MMG_ERR_INVALID_ARG (NULL, bad struct_size); MMG_ERR_FORMAT when the text
 * is not one JSON object; MMG_ERR_CONFIG for an unknown or repeated key, a
 * value of the wrong type ("d_model": "big", "bias": 1), a number that is
 * not an int32 or not finite, an enum spelling that does not exist: the
 * message names the key and the value. [thread-safe] */
MMG_API mmg_status mmg_model_config_from_json(const char *json, size_t len, mmg_model_config *out);

/* Fills `opts` with defaults, writing only `struct_size` bytes. [thread-safe] */
MMG_API void mmg_model_options_init(mmg_model_options *opts, size_t struct_size);

/* Creates a model with random weights: weight matrices and embeddings
 * ~ N(0, init_std^2) from the seeded RNG (same seed, same weights on every
 * machine; residual projections scaled down under MMG_INIT_GPT2), biases 0,
 * LayerNorm weights 1. `opts` may be NULL (defaults); with opts->weights
 * MMG_WEIGHTS_Q8_0 the same weights are then quantized (both copies are in
 * memory meanwhile). Returns MMG_OK;
 * MMG_ERR_INVALID_ARG for a bad init_std, init_scheme or weights (named);
 * MMG_ERR_UNSUPPORTED (Q8_0 with d_model or d_ff not multiples of 32);
 * MMG_ERR_CONFIG for a bad config; MMG_ERR_LIMIT when the
 * parameters would exceed opts->memory_limit (checked before allocating);
 * MMG_ERR_NOMEM. *out is untouched on error; release with mmg_model_free.
 * [thread-safe] */
MMG_API mmg_status mmg_model_create(const mmg_model_config *config, const mmg_model_options *opts,
                                    mmg_model **out);

/* Loads a model from a safetensors file written by mmg_model_save (or an
 * exporter using the same names): the config comes from the file's
 * __metadata__ ("mmgen.config", read as mmg_model_config_from_json does,
 * then validated), F32, F16 and BF16 tensors are converted to float, and
 * the other string metadata entries become the model's metadata. Tensors
 * are read from the file straight into the model's one copy of the
 * weights (pread, not a mapping), so loading needs the weights' memory plus
 * about 1 MiB, not twice the file. A file with __metadata__ "mmgen.quant":
 * "q8_0" holds its linear weights as Q8_0 blocks (U8 tensors
 * "<name>.q8_0", ABI.md) and loads quantized unless opts->weights is
 * MMG_WEIGHTS_F32; opts->weights MMG_WEIGHTS_Q8_0 quantizes an F32 file
 * while reading it. A file holding its token embedding quantized too
 * ("tok_emb.weight.q8_0") loads with it quantized (see quantize_embedding).
 * Returns MMG_OK; MMG_ERR_IO (cannot open/read);
 * MMG_ERR_FORMAT (malformed file, bad config JSON, a missing or extra
 * tensor, a dtype or shape that does not match the config, a Q8_0 value of
 * -128: the message names the tensor or field); MMG_ERR_UNSUPPORTED (an
 * "mmgen.quant" other than "q8_0"; quantizing a model whose d_model or d_ff
 * is not a multiple of 32); MMG_ERR_NUMERIC (quantizing a NaN or infinite
 * weight, named); MMG_ERR_INVALID_ARG (a bad opts->weights or
 * opts->quantize_embedding); MMG_ERR_LIMIT;
 * MMG_ERR_NOMEM. *out untouched on error. [thread-safe] */
MMG_API mmg_status mmg_model_load(const char *path, const mmg_model_options *opts,
                                  mmg_model **out);

/* Writes the model (all F32; a quantized model's Q8_0 tensors as they are,
 * with __metadata__ "mmgen.quant", see ABI.md) with its config and its
 * metadata in __metadata__ to `path`, through a temporary file renamed into
 * place.
 * Returns MMG_OK, MMG_ERR_IO, MMG_ERR_NOMEM or MMG_ERR_INVALID_ARG.
 * [thread-safe: the model is only read; not while its metadata is set] */
MMG_API mmg_status mmg_model_save(const mmg_model *model, const char *path);

/* Releases the caller's reference. Contexts made from the model hold their own
 * reference, so its memory goes when the last of them is freed; still, using a
 * model pointer after mmg_model_free is undefined. NULL is a no-op.
 * [thread-safe; not concurrently with other calls on the same handle] */
MMG_API void mmg_model_free(mmg_model *model);

/* Copies the model's config into *config, writing at most
 * config->struct_size bytes (set it first, e.g. with mmg_model_config_init).
 * Returns MMG_OK or MMG_ERR_INVALID_ARG. [thread-safe] */
MMG_API mmg_status mmg_model_get_config(const mmg_model *model, mmg_model_config *config);

/* The number of parameters (weights, quantized ones included); 0 for NULL.
 * [thread-safe] */
MMG_API uint64_t mmg_model_n_params(const mmg_model *model);

/* ---- metadata ---------------------------------------------------------------
 * A model carries string key/value metadata that mmg_model_save writes into
 * the file's __metadata__ beside the config and mmg_model_load restores
 * (every string entry but the reserved ones), so one file can hold a model
 * and what it needs, e.g. its tokenizer's state. Keys and values are UTF-8.
 * Reserved keys, written by mmgen itself: "format", "mmgen.config" and
 * "mmgen.quant".
 *
 * Metadata is the one part of a model that changes after create/load:
 * set it before sharing the model with other threads (or contexts used on
 * them). Reading it is thread-safe while nobody sets it. */

/* Sets metadata `key` to a copy of `value`, replacing an earlier value;
 * `value` NULL removes the key (no error when absent). A new key goes after
 * the existing ones (the order saved and listed). Returns MMG_OK;
 * MMG_ERR_INVALID_ARG for a NULL model or key, a reserved key, a key or
 * value that is not valid UTF-8; MMG_ERR_NOMEM (the model unchanged).
 * [one thread per object; not while other threads use the model] */
MMG_API mmg_status mmg_model_set_metadata(mmg_model *model, const char *key, const char *value);

/* Points *out_value at the value of `key`, owned by the model: valid until
 * that key is set again or removed, or the model is freed. Returns MMG_OK;
 * MMG_ERR_NOT_FOUND when the model has no such key (always for the reserved
 * keys: the config is mmg_model_get_config); MMG_ERR_INVALID_ARG for NULL.
 * *out_value is untouched on error. [thread-safe; not concurrently with
 * mmg_model_set_metadata on the same model] */
MMG_API mmg_status mmg_model_get_metadata(const mmg_model *model, const char *key,
                                          const char **out_value);

/* The number of metadata entries; 0 for NULL. [thread-safe; not concurrently
 * with mmg_model_set_metadata on the same model] */
MMG_API size_t mmg_model_metadata_count(const mmg_model *model);

/* The key of entry `index` (0 .. count-1, in the order keys were first set
 * or found in the file), owned by the model and valid until that key is
 * removed or the model freed; NULL for a bad index or NULL model. Removing a
 * key shifts the indexes after it. [thread-safe; not concurrently with
 * mmg_model_set_metadata on the same model] */
MMG_API const char *mmg_model_metadata_key_at(const mmg_model *model, size_t index);

/* Reads one __metadata__ entry of a safetensors file (a model file, a
 * training checkpoint) without loading its tensors: reserved entries too
 * (e.g. "mmgen.config", for mmg_model_config_from_json). *out_value is a
 * NUL-terminated copy; release it with mmg_free. Returns MMG_OK; MMG_ERR_IO
 * (cannot open/read); MMG_ERR_FORMAT (not a valid safetensors file);
 * MMG_ERR_NOT_FOUND (no such entry); MMG_ERR_INVALID_ARG; MMG_ERR_NOMEM.
 * *out_value untouched on error. [thread-safe] */
MMG_API mmg_status mmg_model_file_metadata(const char *path, const char *key, char **out_value);

/* ---- loading from memory (since ABI 1.3) ---------------------------------- */

/* Loads a model from `size` bytes of a safetensors file held in memory
 * (what mmg_model_save writes), as mmg_model_load does from a path: same
 * checks, same errors (MMG_ERR_FORMAT messages name "<memory>" for the
 * file). The bytes are only read during the call; the model keeps no
 * pointer into them. Returns MMG_OK; MMG_ERR_INVALID_ARG (NULL data or out);
 * MMG_ERR_FORMAT; MMG_ERR_LIMIT; MMG_ERR_NOMEM. *out untouched on error.
 * [thread-safe] */
MMG_API mmg_status mmg_model_load_memory(const void *data, size_t size,
                                         const mmg_model_options *opts, mmg_model **out);

/* ---- parameters by name (since ABI 1.3) -------------------------------------
 * A model's parameters are named tensors of floats, in a fixed order (the
 * order mmg_model_save writes them; names and shapes in ABI.md, e.g.
 * "decoder.layers.0.ff.fc1.weight" of shape (d_ff, d_model)). Bindings list
 * them, copy them out into their own arrays and write edited values back. */

#define MMG_PARAM_MAX_DIMS 4

/* One parameter's name and shape. Fill struct_size (sizeof) before calling
 * mmg_model_param_info; the library writes at most that many bytes. Grows
 * only at the end. */
typedef struct mmg_param_info {
    size_t struct_size;
    const char *name;                  /* owned by the model, valid while it lives */
    int32_t n_dims;                    /* 1 (biases, LayerNorm) or 2 (matrices, embeddings) */
    int64_t shape[MMG_PARAM_MAX_DIMS]; /* row-major; entries past n_dims are 0 */
    uint64_t n_elements;               /* product of the shape: floats to copy */
    /* Since ABI 1.6 (a struct_size that ends before a field leaves it
       unwritten): */
    int32_t weights;  /* how the model stores it (mmg_weight_format, never
                         DEFAULT): MMG_WEIGHTS_F32, or a quantized model's
                         linear weights (and token embedding, with
                         quantize_embedding) in MMG_WEIGHTS_Q8_0 / _Q4_0 /
                         _F16 */
    uint64_t n_bytes; /* bytes mmg_model_read_param_data copies:
                         mmg_weights_size(weights, n_elements) */
} mmg_param_info;

/* The number of named parameter tensors; 0 for NULL. [thread-safe] */
MMG_API size_t mmg_model_param_count(const mmg_model *model);

/* Describes parameter `index` (0 .. count-1). Returns MMG_OK;
 * MMG_ERR_INVALID_ARG (NULL, a struct_size smaller than size_t);
 * MMG_ERR_RANGE for an index past the last (the message gives the count).
 * *info untouched on error. [thread-safe] */
MMG_API mmg_status mmg_model_param_info(const mmg_model *model, size_t index,
                                        mmg_param_info *info);

/* The index of the parameter called `name`. Returns MMG_OK;
 * MMG_ERR_NOT_FOUND (the message names it); MMG_ERR_INVALID_ARG for NULL.
 * *out_index untouched on error. [thread-safe] */
MMG_API mmg_status mmg_model_param_find(const mmg_model *model, const char *name,
                                        size_t *out_index);

/* Copies parameter `name` (row-major floats) into dst, which holds
 * `n_elements` floats: that must be the parameter's element count, else
 * MMG_ERR_RANGE with the expected shape in the message and dst untouched.
 * MMG_ERR_NOT_FOUND for an unknown name; MMG_ERR_INVALID_ARG for NULL.
 * A quantized tensor is dequantized: d * q per weight (Q8_0), d * (n - 8)
 * (Q4_0).
 * [thread-safe; not concurrently with writes to the same model] */
MMG_API mmg_status mmg_model_read_param(const mmg_model *model, const char *name, float *dst,
                                        size_t n_elements);

/* Overwrites parameter `name` with `n_elements` floats from src (the same
 * checks and errors as mmg_model_read_param; the model is unchanged on
 * error). Values are not checked: NaN and infinities are stored as given
 * (mmg_context_options.check_finite reports them at compute time). A tied
 * output projection is the token embedding, so writing
 * "tok_emb.weight" changes both. Breaks the model's immutability:
 * call it while no context computes with the model and no other thread
 * uses it; KV caches filled before the write hold values of the old weights
 * (mmg_context_reset them). Writing between mmg_trainer_step calls is
 * allowed; the optimizer's moments are kept. A quantized model's Q8_0
 * tensors, and its tok_emb.weight when the output projection is tied (its
 * Q8_0 copy would go stale), are MMG_ERR_UNSUPPORTED. [one thread per
 * object] */
MMG_API mmg_status mmg_model_write_param(mmg_model *model, const char *name, const float *src,
                                         size_t n_elements);

/* ---- stored bytes and quantizing (since ABI 1.6) ----------------------------
 * The formats of mmg_weight_format as bytes, the layout of GGUF tensors and
 * of mmgen's files (ABI.md, "Quantized weights"): MMG_WEIGHTS_F32 4 bytes
 * and MMG_WEIGHTS_F16 2 bytes a weight (host order, little-endian on every
 * supported CPU); MMG_WEIGHTS_Q8_0 34 and MMG_WEIGHTS_Q4_0 18 bytes per
 * block of 32 consecutive weights (ggml's block_q8_0 / block_q4_0). What an
 * exporter needs to write a quantized model's tensors as they are (mmgen
 * convert writes GGUF this way), and what a binding needs to quantize its
 * own arrays exactly as the library does. */

/* Bytes that n_elements weights take in format `weights`; 0 for
 * MMG_WEIGHTS_DEFAULT or an unknown value, for a Q8_0 / Q4_0 count that is
 * not a multiple of 32, and when the size would not fit in 64 bits.
 * [thread-safe] */
MMG_API uint64_t mmg_weights_size(int32_t weights, uint64_t n_elements);

/* Copies parameter `name` as the model stores it (mmg_param_info.weights
 * and .n_bytes say how): F32 floats, F16 halves, or Q8_0 / Q4_0 blocks,
 * row by row, so a (rows, cols) weight gives rows * cols / 32 blocks.
 * dst_size must be the parameter's n_bytes, else MMG_ERR_RANGE naming both
 * sizes and dst untouched. MMG_ERR_NOT_FOUND for an unknown name;
 * MMG_ERR_INVALID_ARG for NULL.
 * [thread-safe; not concurrently with writes to the same model] */
MMG_API mmg_status mmg_model_read_param_data(const mmg_model *model, const char *name, void *dst,
                                             size_t dst_size);

/* Converts n_elements floats to format `weights` into dst (dst_size >=
 * mmg_weights_size(weights, n_elements) bytes), exactly as the library
 * quantizes a model (for Q8_0 / Q4_0 the bytes llama.cpp's quantizer
 * writes; F16 rounds to nearest even; F32 copies every value as it is,
 * NaN and infinities included). Returns MMG_OK; MMG_ERR_INVALID_ARG
 * (NULL; MMG_WEIGHTS_DEFAULT or an unknown format; a Q8_0 / Q4_0 count not
 * a multiple of 32); MMG_ERR_RANGE (dst_size too small, the message gives
 * the size needed); MMG_ERR_NUMERIC (a NaN or infinity, or a value the
 * format cannot hold: the message gives the element range). dst untouched
 * on every error. [thread-safe] */
MMG_API mmg_status mmg_quantize(int32_t weights, const float *src, uint64_t n_elements, void *dst,
                                size_t dst_size);

/* The reverse: n_elements floats from src_size bytes of format `weights`
 * (src_size must be mmg_weights_size(weights, n_elements), else
 * MMG_ERR_RANGE): d * q (Q8_0), d * (n - 8) (Q4_0), halves widened exactly.
 * MMG_ERR_INVALID_ARG as mmg_quantize; dst untouched on error.
 * [thread-safe] */
MMG_API mmg_status mmg_dequantize(int32_t weights, const void *src, size_t src_size, float *dst,
                                  uint64_t n_elements);

MMG_EXTERN_C_END

#endif /* MMGEN_MODEL_H */
