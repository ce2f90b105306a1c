/* core/model-impl.h - the transformer's parameters and activations (private).
 *
 * This is the contract between inference (forward.c, context.c) and training
 * (the backward pass): both work over the same structs. Conventions, as in
 * llm.c: row-major float tensors, every field annotated with its shape, with
 *   V = vocab_size, C = d_model, H = n_heads, hs = C / H, F = d_ff,
 *   T = max_seq_len, B = batch, Ts = source length, Tt = target length.
 * A linear layer y = x W^T + b stores W as (out, in), like torch.nn.Linear.
 *
 * Parameters live in ONE allocation (model->params, n_params floats); every
 * tensor pointer points into it, in the canonical order of model->tensors[]
 * (the order save writes and training lays its gradients and moments out in:
 * grads + tensors[i].offset is the gradient of tensors[i]). */
#ifndef MMGEN_CORE_MODEL_IMPL_H
#define MMGEN_CORE_MODEL_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/model.h"
#include "quant.h"

/* One layer's parameters. Encoder layers have no cross-attention (ca_* NULL).
 * Bias pointers are NULL when config.bias is 0. LayerNorm naming by sub-layer:
 * sa_ln (self-attention), ca_ln (cross-attention), ff_ln (feed-forward); in
 * PyTorch's nn.TransformerDecoderLayer these are norm1, norm2, norm3 (encoder:
 * norm1, norm2). */
typedef struct mmg__layer {
    /* self-attention: causal in decoder layers, bidirectional in encoder layers */
    float *sa_ln_w;  /* (C) */
    float *sa_ln_b;  /* (C); NULL without norm_bias, as every LN bias */
    float *sa_qkv_w; /* (3C, C) rows [0,C) query, [C,2C) key, [2C,3C) value
                        (PyTorch's in_proj_weight) */
    float *sa_qkv_b; /* (3C) or NULL */
    float *sa_out_w; /* (C, C) */
    float *sa_out_b; /* (C) or NULL */
    /* cross-attention over the encoder output (decoder layers of an
     * encoder-decoder only) */
    float *ca_ln_w;  /* (C) */
    float *ca_ln_b;  /* (C) or NULL */
    float *ca_q_w;   /* (C, C) query from the decoder stream */
    float *ca_q_b;   /* (C) or NULL */
    float *ca_kv_w;  /* (2C, C) rows [0,C) key, [C,2C) value, from the encoder output */
    float *ca_kv_b;  /* (2C) or NULL */
    float *ca_out_w; /* (C, C) */
    float *ca_out_b; /* (C) or NULL */
    /* position-wise feed-forward */
    float *ff_ln_w;  /* (C) */
    float *ff_ln_b;  /* (C) or NULL */
    float *ff_w1;    /* (F, C) */
    float *ff_b1;    /* (F) or NULL */
    float *ff_w2;    /* (C, F) */
    float *ff_b2;    /* (C) or NULL */
    /* A quantized model's linear weights (Q8_0 or Q4_0, quant.h); the float pointers
     * above are then NULL. NULL in F32 models. */
    const mmg__qmatrix *sa_qkv_q, *sa_out_q, *ca_q_q, *ca_kv_q, *ca_out_q, *ff_w1_q, *ff_w2_q;
} mmg__layer;

/* One named parameter tensor, for generic iteration (save/load, gradients,
 * optimizer moments, checkpoints). */
#define MMG__PARAM_NAME_MAX 64
typedef struct mmg__param {
    char name[MMG__PARAM_NAME_MAX]; /* safetensors name, e.g. "decoder.layers.0.ff.w1.weight" */
    float *data;       /* points into model->params */
    size_t offset;     /* data - model->params, in floats */
    size_t numel;      /* number of floats */
    int ndim;          /* 1 or 2 */
    int64_t shape[2];  /* shape[1] is 1 for ndim == 1 */
    int decay;         /* 1: weight decay applies (matrices and embeddings);
                          0: biases and LayerNorm parameters */
    int linear;        /* 1: a linear layer's weight (what quantizing converts) */
    mmg__qmatrix *qm; /* the tensor quantized (then data is NULL and it takes
                           no floats of params; offset is meaningless), or NULL */
} mmg__param;

/* One metadata entry; key and value are mmg__malloc'ed copies. */
typedef struct mmg__model_meta {
    char *key;
    char *value;
} mmg__model_meta;

struct mmg_model {
    mmg_model_config cfg; /* full-size copy, validated */
    int hs;               /* head size C / H */

    size_t n_params;      /* floats in params (a quantized model's Q8_0 tensors
                             are not among them) */
    float *params;        /* (n_params) the one allocation (64-byte aligned) */
    mmg__param *tensors;  /* (n_tensors) canonical order, offsets increasing */
    int n_tensors;

    float *wte;        /* (V, C) token embedding, shared by encoder and decoder;
                          NULL when it is quantized: */
    const mmg__qmatrix *wte_qm; /* the token embedding in the model's quantized
                          type (mmg_model_options.quantize_embedding), or NULL */
    float *wpe;        /* (T, C) learned positions, or NULL */
    float *pos;        /* (T, C) what forward adds: wpe, the sinusoidal table, or NULL */
    float *sinusoid;   /* (T, C) sinusoidal table (own allocation, not a parameter) or NULL */
    mmg__layer *enc;   /* (n_encoder_layers) */
    mmg__layer *dec;   /* (n_decoder_layers) */
    float *enc_ln_w;   /* (C) final encoder LayerNorm, or NULL without final_norm
                          or without encoder */
    float *enc_ln_b;   /* (C) or NULL (no norm_bias) */
    float *dec_ln_w;   /* (C) final decoder LayerNorm, or NULL */
    float *dec_ln_b;   /* (C) or NULL (no norm_bias) */
    float *lm_head;    /* (V, C) output projection; == wte when tied (then not a
                          separate parameter) */
    float emb_scale;   /* sqrt(C) with scale_embeddings, else 1 */

    /* Quantized weights (ABI.md, "Quantized weights"): with quant MMG__QUANT_Q8_0,
     * _Q4_0 or _F16 every linear weight (tensors[i].linear), and with
     * quantize_embedding the token embedding (wte_qm), lives in quant_mem
     * instead of params, and the logits use lm_head_qm: the untied
     * lm_head.weight, the quantized token embedding, or a quantized copy of
     * the F32 tied embedding made when the model is built (tied_qm).
     * Inference only. */
    int quant;                /* MMG__QUANT_NONE, _Q8_0, _Q4_0 or _F16 */
    mmg__qmatrix *qm;       /* (n_tensors) tensors[i].qm points at qm[i] */
    mmg__qmatrix tied_qm;   /* the tied output projection's copy */
    const mmg__qmatrix *lm_head_qm; /* (V, C) or NULL: use lm_head */
    uint8_t *quant_mem;          /* one 64-byte aligned allocation of quantized data */
    size_t quant_bytes;

    int refcount;      /* the user's handle + one per live context (atomic ops) */

    /* String metadata saved into the file's __metadata__ beside the config
     * (mmg_model_set_metadata; core/model_metadata.c). Not used by compute. */
    mmg__model_meta *meta; /* (n_meta) in the order keys were first set */
    size_t n_meta;
    size_t cap_meta;
};

/* Builds the tensor table and points every field into a new zeroed params
 * block (no init). Validates the config and the memory limit first.
 * Returns MMG_OK or an error (nothing allocated on error). */
mmg_status mmg__model_alloc(const mmg_model_config *cfg, uint64_t memory_limit, mmg_model **out);

/* mmg__model_alloc for a model whose linear weights are in `quant`
 * (MMG__QUANT_*), and with `quant_emb` its token embedding too: their
 * tensors get a zeroed matrix of that type and no floats. A quantized model needs d_model and d_ff multiples of 32: else
 * `refusal` (the caller's status: MMG_ERR_UNSUPPORTED when asked to quantize,
 * MMG_ERR_FORMAT for a file that claims to be quantized) naming the field. */
mmg_status mmg__model_alloc_quant(const mmg_model_config *cfg, uint64_t memory_limit, int quant, int quant_emb,
                                  mmg_status refusal, mmg_model **out);

/* The check mmg__model_alloc_quant makes for `quant`: MMG_OK, or `refusal`
 * naming d_model or d_ff when it is not a multiple of 32. */
mmg_status mmg__model_check_quant_shapes(const mmg_model_config *c, int quant, mmg_status refusal);

/* The MMG__QUANT_* of an mmg_weight_format: NONE for DEFAULT and F32. */
int mmg__quant_of_weights(int32_t weights);

/* out (B, T, C) = token embeddings * emb_scale + positions, from wte or
 * from the quantized embedding (each row dequantized, then the same
 * arithmetic): what every forward path starts with. */
void mmg__model_embed(const mmg_model *m, float *out, const int32_t *tokens, int B, int T, int pos0);

/* Fills a quantized model's tied-output copy from wte (after wte is loaded;
 * nothing when the embedding itself is quantized: the logits read it);
 * nothing for F32 or untied models. MMG_ERR_NUMERIC naming the block when
 * tok_emb.weight holds a value the type cannot (NaN, inf, above 8.3e6 for
 * Q8_0, 5.2e5 for Q4_0). */
mmg_status mmg__model_quantize_tied(mmg_model *m);

/* Quantizes `n_rows` rows of tensor p (a quantized one) starting at row
 * `row0` from floats src (n_rows, cols). MMG_ERR_NUMERIC naming the tensor
 * and block for a value its type cannot hold; `where` prefixes the message (a path). */
mmg_status mmg__param_quantize_rows(const mmg__param *p, size_t row0, size_t n_rows,
                                    const float *src, const char *where);

/* The status and message for using a quantized model where floats are
 * needed (`what`: "mmg_trainer_create"); MMG_ERR_UNSUPPORTED. */
mmg_status mmg__model_refuse_quantized(const mmg_model *m, const char *what);

/* Frees a model's memory now, ignoring the reference count (for failed
 * constructors). NULL is a no-op. */
void mmg__model_free_memory(mmg_model *m);

/* Reads caller model options (NULL = defaults) into a full-size struct. */
mmg_status mmg__model_options_read(const mmg_model_options *user, mmg_model_options *out);
/* MMG_ERR_INVALID_ARG (named) unless o->weights is a mmg_weight_format. */
mmg_status mmg__model_options_check_weights(const mmg_model_options *o);

/* Metadata keys the library writes itself ("format", "mmgen.config"):
 * mmg_model_set_metadata refuses them and loading does not copy them. */
int mmg__model_meta_reserved(const char *key);

/* Frees every metadata entry (for mmg__model_free_memory). */
void mmg__model_meta_clear(mmg_model *m);

/* Finds a tensor by name; NULL when absent. */
const mmg__param *mmg__model_find_param(const mmg_model *m, const char *name);

/* Finds parameter `name` and checks that a caller's buffer of n_elements
 * floats fits it exactly: MMG_ERR_NOT_FOUND or MMG_ERR_RANGE (naming the
 * shape) with `fn` in the message. For the by-name readers and writers. */
mmg_status mmg__param_lookup(const mmg_model *model, const char *name, size_t n_elements,
                             const char *fn, const mmg__param **out);

/* Reference counting used by contexts. */
void mmg__model_retain(mmg_model *m);
void mmg__model_release(mmg_model *m);

/* ---- activations: everything the backward pass needs ----------------------
 *
 * Each sub-layer (self-attention "sa", cross-attention "ca", feed-forward
 * "ff") keeps its LayerNorm output with its mean/rstd and its residual sum:
 *   pre-LN : ln = LN(x);            res = x + sublayer(ln);  output = res
 *   post-LN: res = x + sublayer(x); ln = LN(res);            output = ln
 * so the LayerNorm's input is x (pre-LN) or res (post-LN), and the
 * sub-layer's input is ln (pre-LN) or x (post-LN). x is the previous
 * sub-layer's output, or the layer input (the embeddings or the previous
 * layer's output). For one layer, `out` points at ff_res (pre-LN) or ff_ln
 * (post-LN). The attention kernel reads q/k/v from sa_qkv (stride 3C) and
 * ca_q (stride C) / ca_kv (stride 2C). Tensors are packed with the dims of
 * the forward call (B, Ts, Tt), which may be smaller than the dims the
 * activations were created for. */
typedef struct mmg__layer_acts {
    float *sa_ln;   /* (B, T, C) */
    float *sa_mean; /* (B, T) */
    float *sa_rstd; /* (B, T) */
    float *sa_qkv;  /* (B, T, 3C) */
    float *sa_att;  /* (B, H, T, T) softmax probabilities, 0 where masked */
    float *sa_y;    /* (B, T, C) heads concatenated, before the output projection */
    float *sa_res;  /* (B, T, C) */
    /* decoder layers of an encoder-decoder only (NULL otherwise) */
    float *ca_ln;   /* (B, Tt, C) */
    float *ca_mean; /* (B, Tt) */
    float *ca_rstd; /* (B, Tt) */
    float *ca_q;    /* (B, Tt, C) */
    float *ca_kv;   /* (B, Ts, 2C) from the encoder output */
    float *ca_att;  /* (B, H, Tt, Ts) */
    float *ca_y;    /* (B, Tt, C) */
    float *ca_res;  /* (B, Tt, C) */
    float *ff_ln;   /* (B, T, C) */
    float *ff_mean; /* (B, T) */
    float *ff_rstd; /* (B, T) */
    float *ff_h;    /* (B, T, F) before the activation */
    float *ff_a;    /* (B, T, F) after the activation */
    float *ff_res;  /* (B, T, C) */
    float *out;     /* (B, T, C) the layer output: ff_res (pre-LN) or ff_ln (post-LN) */
} mmg__layer_acts;

typedef struct mmg__activations {
    int B, Ts, Tt;      /* the dims it was created for (capacity) */
    int b, ts, tt;      /* the dims of the last forward (tensors are packed with these) */
    size_t n_floats;    /* floats in mem */
    float *mem;         /* one allocation */
    int32_t *src_len;   /* (B) lengths used by the last forward (Ts when NULL was given) */
    int32_t *tgt_len;   /* (B) */
    float *enc_emb;     /* (B, Ts, C) token embedding * emb_scale + position; NULL w/o encoder */
    mmg__layer_acts *enc; /* (n_encoder_layers) */
    float *enc_out;     /* (B, Ts, C) encoder output (the final LN output, or the last layer's out) */
    float *enc_mean;    /* (B, Ts) final encoder LN stats, NULL without final_norm */
    float *enc_rstd;    /* (B, Ts) */
    float *dec_emb;     /* (B, Tt, C) */
    mmg__layer_acts *dec; /* (n_decoder_layers) */
    float *dec_out;     /* (B, Tt, C) input of the output projection */
    float *dec_mean;    /* (B, Tt) final decoder LN stats, NULL without final_norm */
    float *dec_rstd;    /* (B, Tt) */
    mmg__q8_scratch *q8; /* quantized input rows of a Q8_0 model's linears, else NULL */
} mmg__activations;

/* Allocates activations for up to (B, Ts, Tt) (Ts ignored, may be 0, for
 * decoder-only models). Checks the size for overflow and returns
 * MMG_ERR_LIMIT when it exceeds `memory_limit` bytes (0 = no limit). */
mmg_status mmg__activations_create(const mmg_model *m, int B, int Ts, int Tt, uint64_t memory_limit,
                                   mmg__activations **out);
void mmg__activations_free(mmg__activations *a);
/* Bytes mmg__activations_create would allocate; 0 on overflow. */
size_t mmg__activations_bytes(const mmg_model *m, int B, int Ts, int Tt);

/* ---- dropout: the forward's training hooks ----------------------------------
 *
 * Training with dropout > 0 passes a descriptor to mmg__forward_ex; inference
 * passes none and runs no dropout code. The sites are where GPT-2 and
 * nn.Transformer put dropout: the embeddings, the attention probabilities, and
 * every sub-layer's branch output before it joins the residual stream.
 * Masks are counter-based (mmg__dropout_mask, ops_backward.h): `seed` and a
 * stream number per (stack, layer, site) fix every bit, whatever the thread
 * count, so the backward reads the masks the forward used and a resumed run
 * draws the same ones. */

/* One layer's masks, 1 = keep; NULL where the layer has no such site. */
typedef struct mmg__layer_drop {
    uint8_t *sa_att; /* (B, H, T, T) */
    uint8_t *sa_out; /* (B, T, C) */
    uint8_t *ca_att; /* (B, H, Tt, Ts) */
    uint8_t *ca_out; /* (B, Tt, C) */
    uint8_t *ff_out; /* (B, T, C) */
} mmg__layer_drop;

typedef struct mmg__dropout {
    float p;                /* drop probability in [0, 1); 0 keeps everything */
    uint64_t seed;          /* this forward's masks (the trainer draws one per step) */
    int B, Ts, Tt;          /* capacity */
    int n_threads;          /* scratch holds this many OpenMP threads' blocks */
    uint8_t *mem;           /* one allocation for every mask */
    size_t mask_bytes;
    uint8_t *enc_emb;       /* (B, Ts, C) */
    uint8_t *dec_emb;       /* (B, Tt, C) */
    mmg__layer_drop *enc;   /* (n_encoder_layers) */
    mmg__layer_drop *dec;   /* (n_decoder_layers) */
    float *tmp;             /* (B, T, C) a branch output before its dropout; T = max(Ts, Tt) */
    float *scratch;         /* (n_threads, MMG__ATT_BLOCK_Q, T) dropped attention probabilities */
} mmg__dropout;

/* Bytes mmg__dropout_create allocates for (B, Ts, Tt) and n_threads; 0 on overflow. */
size_t mmg__dropout_bytes(const mmg_model *m, int B, int Ts, int Tt, int n_threads);
/* Allocates masks and buffers for batches up to (B, Ts, Tt), run with at most
 * n_threads OpenMP threads. MMG_ERR_NOMEM / MMG_ERR_LIMIT (overflow). */
mmg_status mmg__dropout_create(const mmg_model *m, float p, int B, int Ts, int Tt, int n_threads,
                               mmg__dropout **out);
void mmg__dropout_free(mmg__dropout *d);

/* The full batched forward, for teacher forcing and training.
 *   src      (B, Ts) source tokens (encoder-decoder only; NULL when decoder-only)
 *   src_len  (B) valid source lengths in [1, Ts], or NULL (all Ts)
 *   tgt      (B, Tt) target (decoder input) tokens
 *   tgt_len  (B) valid target lengths in [1, Tt], or NULL (all Tt)
 *   logits   (B, Tt, V) output, or NULL to stop at acts->dec_out
 * Positions >= len are padding: keys there are masked in self- and
 * cross-attention; their query rows are still computed (finite, ignored).
 * Decoder self-attention is causal. Token ids must be in [0, V), B/Ts/Tt
 * within the activations' capacity and Ts, Tt <= max_seq_len; the public
 * API checks this, this function only returns MMG_ERR_RANGE/INVALID_ARG.
 * Uses the OpenMP thread count of the calling thread (omp_set_num_threads). */
mmg_status mmg__forward(const mmg_model *m, mmg__activations *acts, const int32_t *src,
                        const int32_t *src_len, const int32_t *tgt, const int32_t *tgt_len, int B,
                        int Ts, int Tt, float *logits);

/* mmg__forward with dropout drawn from drop->seed (the one layer loop; with
 * drop NULL it is mmg__forward). The masks are left in `drop` for the
 * backward. The batch must also fit drop's capacity, and
 * omp_get_max_threads() must not exceed drop->n_threads (MMG_ERR_RANGE). */
mmg_status mmg__forward_ex(const mmg_model *m, mmg__activations *acts, mmg__dropout *drop,
                           const int32_t *src, const int32_t *src_len, const int32_t *tgt,
                           const int32_t *tgt_len, int B, int Ts, int Tt, float *logits);

/* Checks that every token is in [0, V) and lengths are sane; MMG_ERR_RANGE
 * naming the first bad index otherwise. `what` names the array ("source"). */
mmg_status mmg__check_tokens(const mmg_model *m, const char *what, const int32_t *tokens, size_t n);

#endif /* MMGEN_CORE_MODEL_IMPL_H */
