/* core/layout.c - sizes and field offsets of the public structs, as this
 * library was compiled (mmgen/layout.h), for bindings that mirror them.
 *
 * tests/check_abi.sh compares this table with the struct layouts libabigail
 * reads from the library's debug info, so a field added to a header but not
 * here fails the suite. */
#include <stddef.h>
#include <string.h>

#include "mmgen/mmgen.h"
#include "mmgen/layout.h"
#include "mmgen/plugin.h"

typedef struct layout_field {
    const char *name;
    size_t offset;
} layout_field;

typedef struct layout_struct {
    const char *name;
    size_t size;
    const layout_field *fields;
    size_t n_fields;
} layout_struct;

#define FIELD(type, f) {#f, offsetof(type, f)}

static const layout_field model_config[] = {
    FIELD(mmg_model_config, struct_size),      FIELD(mmg_model_config, vocab_size),
    FIELD(mmg_model_config, d_model),          FIELD(mmg_model_config, n_heads),
    FIELD(mmg_model_config, n_encoder_layers), FIELD(mmg_model_config, n_decoder_layers),
    FIELD(mmg_model_config, d_ff),             FIELD(mmg_model_config, max_seq_len),
    FIELD(mmg_model_config, norm_placement),   FIELD(mmg_model_config, final_norm),
    FIELD(mmg_model_config, activation),       FIELD(mmg_model_config, position_encoding),
    FIELD(mmg_model_config, tied_output),      FIELD(mmg_model_config, bias),
    FIELD(mmg_model_config, scale_embeddings), FIELD(mmg_model_config, layernorm_eps),
    FIELD(mmg_model_config, norm_bias),
};
static const layout_field model_options[] = {
    FIELD(mmg_model_options, struct_size), FIELD(mmg_model_options, seed),
    FIELD(mmg_model_options, init_std),    FIELD(mmg_model_options, memory_limit),
    FIELD(mmg_model_options, init_scheme), FIELD(mmg_model_options, weights),
    FIELD(mmg_model_options, quantize_embedding),
};
static const layout_field param_info[] = {
    FIELD(mmg_param_info, struct_size), FIELD(mmg_param_info, name),
    FIELD(mmg_param_info, n_dims),      FIELD(mmg_param_info, shape),
    FIELD(mmg_param_info, n_elements),  FIELD(mmg_param_info, weights),
    FIELD(mmg_param_info, n_bytes),
};
static const layout_field context_options[] = {
    FIELD(mmg_context_options, struct_size),  FIELD(mmg_context_options, n_threads),
    FIELD(mmg_context_options, n_slots),      FIELD(mmg_context_options, max_seq_len),
    FIELD(mmg_context_options, memory_limit), FIELD(mmg_context_options, check_finite),
};
static const layout_field sampling_options[] = {
    FIELD(mmg_sampling_options, struct_size),       FIELD(mmg_sampling_options, temperature),
    FIELD(mmg_sampling_options, top_k),             FIELD(mmg_sampling_options, top_p),
    FIELD(mmg_sampling_options, min_p),             FIELD(mmg_sampling_options, repetition_penalty),
    FIELD(mmg_sampling_options, repetition_window), FIELD(mmg_sampling_options, seed),
};
static const layout_field generate_options[] = {
    FIELD(mmg_generate_options, struct_size),
    FIELD(mmg_generate_options, sampling),
    FIELD(mmg_generate_options, max_new_tokens),
    FIELD(mmg_generate_options, end_token),
    FIELD(mmg_generate_options, start_token),
    FIELD(mmg_generate_options, constraint),
    FIELD(mmg_generate_options, constraint_user_data),
    FIELD(mmg_generate_options, constraint_user_data_each),
    FIELD(mmg_generate_options, on_token),
    FIELD(mmg_generate_options, on_token_user_data),
};
static const layout_field batch[] = {
    FIELD(mmg_batch, struct_size), FIELD(mmg_batch, batch_size), FIELD(mmg_batch, src_len_max),
    FIELD(mmg_batch, tgt_len_max), FIELD(mmg_batch, src),        FIELD(mmg_batch, src_len),
    FIELD(mmg_batch, tgt),         FIELD(mmg_batch, tgt_len),    FIELD(mmg_batch, labels),
};
static const layout_field loader_options[] = {
    FIELD(mmg_loader_options, struct_size), FIELD(mmg_loader_options, batch_size),
    FIELD(mmg_loader_options, seq_len),     FIELD(mmg_loader_options, max_src_len),
    FIELD(mmg_loader_options, shuffle),     FIELD(mmg_loader_options, seed),
    FIELD(mmg_loader_options, separator),   FIELD(mmg_loader_options, bos_id),
    FIELD(mmg_loader_options, eos_id),      FIELD(mmg_loader_options, pad_id),
    FIELD(mmg_loader_options, ignore_index), FIELD(mmg_loader_options, vocab_size),
};
static const layout_field train_options[] = {
    FIELD(mmg_train_options, struct_size),      FIELD(mmg_train_options, learning_rate),
    FIELD(mmg_train_options, min_learning_rate), FIELD(mmg_train_options, warmup_steps),
    FIELD(mmg_train_options, decay_steps),      FIELD(mmg_train_options, beta1),
    FIELD(mmg_train_options, beta2),            FIELD(mmg_train_options, eps),
    FIELD(mmg_train_options, weight_decay),     FIELD(mmg_train_options, grad_clip),
    FIELD(mmg_train_options, grad_accum_steps), FIELD(mmg_train_options, dropout),
    FIELD(mmg_train_options, label_smoothing),  FIELD(mmg_train_options, ignore_index),
    FIELD(mmg_train_options, seed),             FIELD(mmg_train_options, memory_limit),
    FIELD(mmg_train_options, n_threads),
};
static const layout_field host_services[] = {
    FIELD(mmg_host_services, struct_size), FIELD(mmg_host_services, abi_version),
    FIELD(mmg_host_services, alloc),       FIELD(mmg_host_services, realloc),
    FIELD(mmg_host_services, free),        FIELD(mmg_host_services, log),
    FIELD(mmg_host_services, error),
};
static const layout_field plugin_document[] = {
    FIELD(mmg_plugin_document, data),
    FIELD(mmg_plugin_document, size),
};
static const layout_field plugin_descriptor[] = {
    FIELD(mmg_plugin_descriptor, struct_size), FIELD(mmg_plugin_descriptor, abi_version),
    FIELD(mmg_plugin_descriptor, name),        FIELD(mmg_plugin_descriptor, version),
    FIELD(mmg_plugin_descriptor, modality),    FIELD(mmg_plugin_descriptor, description),
    FIELD(mmg_plugin_descriptor, init),        FIELD(mmg_plugin_descriptor, deinit),
    FIELD(mmg_plugin_descriptor, create),      FIELD(mmg_plugin_descriptor, destroy),
    FIELD(mmg_plugin_descriptor, fit),         FIELD(mmg_plugin_descriptor, save_state),
    FIELD(mmg_plugin_descriptor, load_state),  FIELD(mmg_plugin_descriptor, encode),
    FIELD(mmg_plugin_descriptor, decode),      FIELD(mmg_plugin_descriptor, vocab_size),
    FIELD(mmg_plugin_descriptor, special_token), FIELD(mmg_plugin_descriptor, describe_token),
    FIELD(mmg_plugin_descriptor, get_extension),
};
static const layout_field grad_reducer[] = {
    FIELD(mmg_grad_reducer, struct_size),   FIELD(mmg_grad_reducer, rank),
    FIELD(mmg_grad_reducer, n_ranks),       FIELD(mmg_grad_reducer, user),
    FIELD(mmg_grad_reducer, sum_doubles),   FIELD(mmg_grad_reducer, start_sum),
    FIELD(mmg_grad_reducer, finish_sums),   FIELD(mmg_grad_reducer, broadcast),
    FIELD(mmg_grad_reducer, error_message), FIELD(mmg_grad_reducer, bucket_bytes),
};
static const layout_field ext_constraint_v1[] = {
    FIELD(mmg_ext_constraint_v1, struct_size),
    FIELD(mmg_ext_constraint_v1, allowed_next),
};
static const layout_field ext_stream_decode_v1[] = {
    FIELD(mmg_ext_stream_decode_v1, struct_size),   FIELD(mmg_ext_stream_decode_v1, stream_create),
    FIELD(mmg_ext_stream_decode_v1, stream_destroy), FIELD(mmg_ext_stream_decode_v1, stream_feed),
    FIELD(mmg_ext_stream_decode_v1, stream_flush),
};

#define STRUCT(type, fields) {#type, sizeof(type), fields, sizeof fields / sizeof fields[0]}

static const layout_struct structs[] = {
    STRUCT(mmg_model_config, model_config),
    STRUCT(mmg_model_options, model_options),
    STRUCT(mmg_param_info, param_info),
    STRUCT(mmg_context_options, context_options),
    STRUCT(mmg_sampling_options, sampling_options),
    STRUCT(mmg_generate_options, generate_options),
    STRUCT(mmg_batch, batch),
    STRUCT(mmg_loader_options, loader_options),
    STRUCT(mmg_train_options, train_options),
    STRUCT(mmg_grad_reducer, grad_reducer),
    STRUCT(mmg_host_services, host_services),
    STRUCT(mmg_plugin_document, plugin_document),
    STRUCT(mmg_plugin_descriptor, plugin_descriptor),
    STRUCT(mmg_ext_constraint_v1, ext_constraint_v1),
    STRUCT(mmg_ext_stream_decode_v1, ext_stream_decode_v1),
};
#define N_STRUCTS (sizeof structs / sizeof structs[0])

static const layout_struct *find_struct(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < N_STRUCTS; i++)
        if (strcmp(structs[i].name, name) == 0) return &structs[i];
    return NULL;
}

size_t mmg_struct_size(const char *name) {
    const layout_struct *s = find_struct(name);
    return s ? s->size : 0;
}

int64_t mmg_struct_field_offset(const char *name, const char *field) {
    const layout_struct *s = find_struct(name);
    if (!s || !field) return -1;
    for (size_t i = 0; i < s->n_fields; i++)
        if (strcmp(s->fields[i].name, field) == 0) return (int64_t)s->fields[i].offset;
    return -1;
}

const char *mmg_struct_name_at(size_t index) {
    return index < N_STRUCTS ? structs[index].name : NULL;
}
