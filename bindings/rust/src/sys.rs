//! Raw declarations of libmmgen's C ABI (`include/mmgen/*.h`, ABI 1.3): the
//! functions this crate calls and `#[repr(C)]` mirrors of the structs it
//! passes. Everything here is `unsafe` to use and follows the C headers'
//! rules (ownership, `struct_size`, thread rules); the safe API is the rest
//! of the crate.
//!
//! The mirrors copy their header field for field, in order. Structs only
//! grow at their end, so a mirror of ABI 1.3 stays valid for every later
//! 1.x library; `crate::layout` checks each against the library's own
//! layout table (`mmgen/layout.h`) before the first call that uses it.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

/// `mmg_status` (mmgen/status.h). A C enum whose values fit an `int`.
pub type mmg_status = c_int;

/// The header version these declarations mirror (mmgen/version.h).
pub const MMGEN_ABI_MAJOR: u32 = 1;
pub const MMGEN_ABI_MINOR: u32 = 3;

pub const MMG_PARAM_MAX_DIMS: usize = 4;

// Opaque handles.
#[repr(C)]
pub struct mmg_model {
    _private: [u8; 0],
}
#[repr(C)]
pub struct mmg_context {
    _private: [u8; 0],
}
#[repr(C)]
pub struct mmg_plugin {
    _private: [u8; 0],
}
#[repr(C)]
pub struct mmg_tokenizer {
    _private: [u8; 0],
}
#[repr(C)]
pub struct mmg_decode_stream {
    _private: [u8; 0],
}
#[repr(C)]
pub struct mmg_dataset {
    _private: [u8; 0],
}
#[repr(C)]
pub struct mmg_loader {
    _private: [u8; 0],
}
#[repr(C)]
pub struct mmg_trainer {
    _private: [u8; 0],
}
/// `mmg_batch` is only handed from the loader to the trainer here, never read.
#[repr(C)]
pub struct mmg_batch {
    _private: [u8; 0],
}

/// `mmg_token_mask_cb` (mmgen/constraint.h).
pub type mmg_token_mask_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        tokens: *const i32,
        n_tokens: usize,
        allowed: *mut u8,
        vocab_size: usize,
    ) -> c_int,
>;

/// `mmg_token_cb` (mmgen/generate.h).
pub type mmg_token_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, sequence: i32, index: i32, token: i32) -> c_int>;

/// mmgen/model.h
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmg_model_config {
    pub struct_size: usize,
    pub vocab_size: i32,
    pub d_model: i32,
    pub n_heads: i32,
    pub n_encoder_layers: i32,
    pub n_decoder_layers: i32,
    pub d_ff: i32,
    pub max_seq_len: i32,
    pub norm_placement: i32,
    pub final_norm: i32,
    pub activation: i32,
    pub position_encoding: i32,
    pub tied_output: i32,
    pub bias: i32,
    pub scale_embeddings: i32,
    pub layernorm_eps: f32,
    pub norm_bias: i32, // since 1.1
}

/// mmgen/model.h
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmg_model_options {
    pub struct_size: usize,
    pub seed: u64,
    pub init_std: f32,
    pub memory_limit: u64,
    pub init_scheme: i32,
    pub weights: i32, // since 1.3: mmg_weight_format
}

/// `mmg_model_options` with the field ABI 1.6 appended: passed only to a
/// 1.6 library, its offset checked first (`layout::check_fields`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmg_model_options_16 {
    pub base: mmg_model_options,
    pub quantize_embedding: i32,
}

/// mmgen/model.h (since 1.3)
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmg_param_info {
    pub struct_size: usize,
    pub name: *const c_char,
    pub n_dims: i32,
    pub shape: [i64; MMG_PARAM_MAX_DIMS],
    pub n_elements: u64,
}

/// `mmg_param_info` with the fields ABI 1.6 appended (as above).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmg_param_info_16 {
    pub base: mmg_param_info,
    pub weights: i32, // mmg_weight_format of the stored bytes
    pub n_bytes: u64,
}

/// mmgen/context.h
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmg_context_options {
    pub struct_size: usize,
    pub n_threads: i32,
    pub n_slots: i32,
    pub max_seq_len: i32,
    pub memory_limit: u64,
    pub check_finite: i32, // since 1.3
}

/// mmgen/sampling.h
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmg_sampling_options {
    pub struct_size: usize,
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub min_p: f32,
    pub repetition_penalty: f32,
    pub repetition_window: i32,
    pub seed: u64,
}

/// mmgen/generate.h
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmg_generate_options {
    pub struct_size: usize,
    pub sampling: *const mmg_sampling_options,
    pub max_new_tokens: i32,
    pub end_token: i32,
    pub start_token: i32,
    pub constraint: mmg_token_mask_cb,
    pub constraint_user_data: *mut c_void,
    pub constraint_user_data_each: *const *mut c_void,
    pub on_token: mmg_token_cb,
    pub on_token_user_data: *mut c_void,
}

/// mmgen/train.h
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmg_loader_options {
    pub struct_size: usize,
    pub batch_size: i32,
    pub seq_len: i32,
    pub max_src_len: i32,
    pub shuffle: i32,
    pub seed: u64,
    pub separator: i32,
    pub bos_id: i32,
    pub eos_id: i32,
    pub pad_id: i32,
    pub ignore_index: i32,
    pub vocab_size: i32,
}

/// mmgen/train.h
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmg_train_options {
    pub struct_size: usize,
    pub learning_rate: f32,
    pub min_learning_rate: f32,
    pub warmup_steps: i64,
    pub decay_steps: i64,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub grad_clip: f32,
    pub grad_accum_steps: i32,
    pub dropout: f32,
    pub label_smoothing: f32,
    pub ignore_index: i32,
    pub seed: u64,
    pub memory_limit: u64,
    pub n_threads: i32,
}

extern "C" {
    // version.h
    pub fn mmg_abi_version() -> u32;
    pub fn mmg_version_string() -> *const c_char;
    pub fn mmg_abi_compatible(major: u32, minor: u32) -> c_int;

    // status.h, memory.h
    pub fn mmg_status_name(status: mmg_status) -> *const c_char;
    pub fn mmg_status_string(status: mmg_status) -> *const c_char;
    pub fn mmg_last_error() -> *const c_char;
    pub fn mmg_last_status() -> mmg_status;
    pub fn mmg_clear_error();
    pub fn mmg_free(ptr: *mut c_void);

    // layout.h (since 1.3)
    pub fn mmg_struct_size(name: *const c_char) -> usize;
    pub fn mmg_struct_field_offset(name: *const c_char, field: *const c_char) -> i64;
    pub fn mmg_struct_name_at(index: usize) -> *const c_char;

    // plugin_host.h
    pub fn mmg_plugin_open(name_or_path: *const c_char, out_plugin: *mut *mut mmg_plugin) -> mmg_status;
    pub fn mmg_plugin_close(plugin: *mut mmg_plugin);
    pub fn mmg_plugin_name(plugin: *const mmg_plugin) -> *const c_char;
    pub fn mmg_plugin_version(plugin: *const mmg_plugin) -> *const c_char;
    pub fn mmg_plugin_description(plugin: *const mmg_plugin) -> *const c_char;
    pub fn mmg_plugin_path(plugin: *const mmg_plugin) -> *const c_char;
    pub fn mmg_plugin_modality(plugin: *const mmg_plugin) -> i32;
    pub fn mmg_modality_name(modality: i32) -> *const c_char;

    // tokenizer.h
    pub fn mmg_tokenizer_create(
        plugin: *const mmg_plugin,
        config_json: *const c_char,
        out_tokenizer: *mut *mut mmg_tokenizer,
    ) -> mmg_status;
    pub fn mmg_tokenizer_config(tokenizer: *const mmg_tokenizer) -> *const c_char;
    pub fn mmg_tokenizer_free(tokenizer: *mut mmg_tokenizer);
    pub fn mmg_tokenizer_plugin(tokenizer: *const mmg_tokenizer) -> *const mmg_plugin;
    pub fn mmg_tokenizer_fit(
        tokenizer: *mut mmg_tokenizer,
        docs: *const *const u8,
        sizes: *const usize,
        n_docs: usize,
    ) -> mmg_status;
    pub fn mmg_tokenizer_save_state(
        tokenizer: *mut mmg_tokenizer,
        out_bytes: *mut *mut u8,
        out_size: *mut usize,
    ) -> mmg_status;
    pub fn mmg_tokenizer_load_state(tokenizer: *mut mmg_tokenizer, bytes: *const u8, size: usize) -> mmg_status;
    pub fn mmg_tokenizer_encode(
        tokenizer: *mut mmg_tokenizer,
        doc: *const u8,
        doc_size: usize,
        out_ids: *mut *mut i32,
        out_count: *mut usize,
    ) -> mmg_status;
    pub fn mmg_tokenizer_decode(
        tokenizer: *mut mmg_tokenizer,
        ids: *const i32,
        count: usize,
        out_doc: *mut *mut u8,
        out_size: *mut usize,
    ) -> mmg_status;
    pub fn mmg_tokenizer_vocab_size(tokenizer: *mut mmg_tokenizer) -> i32;
    pub fn mmg_tokenizer_special_token(
        tokenizer: *mut mmg_tokenizer,
        name: *const c_char,
        out_id: *mut i32,
    ) -> mmg_status;
    pub fn mmg_tokenizer_describe_token(
        tokenizer: *mut mmg_tokenizer,
        id: i32,
        out_text: *mut *mut c_char,
    ) -> mmg_status;
    pub fn mmg_tokenizer_has_extension(tokenizer: *mut mmg_tokenizer, id: *const c_char) -> c_int;
    pub fn mmg_tokenizer_mask_cb(
        user_data: *mut c_void,
        tokens: *const i32,
        n_tokens: usize,
        allowed: *mut u8,
        vocab_size: usize,
    ) -> c_int;
    pub fn mmg_decode_stream_create(
        tokenizer: *mut mmg_tokenizer,
        out_stream: *mut *mut mmg_decode_stream,
    ) -> mmg_status;
    pub fn mmg_decode_stream_feed(
        stream: *mut mmg_decode_stream,
        ids: *const i32,
        count: usize,
        out: *mut *mut u8,
        out_size: *mut usize,
    ) -> mmg_status;
    pub fn mmg_decode_stream_flush(
        stream: *mut mmg_decode_stream,
        out: *mut *mut u8,
        out_size: *mut usize,
    ) -> mmg_status;
    pub fn mmg_decode_stream_free(stream: *mut mmg_decode_stream);
    pub fn mmg_tokenizer_to_json(tokenizer: *mut mmg_tokenizer, out_json: *mut *mut c_char) -> mmg_status;
    pub fn mmg_tokenizer_from_json(
        json: *const c_char,
        len: usize,
        out_tokenizer: *mut *mut mmg_tokenizer,
    ) -> mmg_status;
    pub fn mmg_model_tokenizer(
        model: *const mmg_model,
        key: *const c_char,
        out_tokenizer: *mut *mut mmg_tokenizer,
    ) -> mmg_status;
    pub fn mmg_model_set_tokenizer(
        model: *mut mmg_model,
        key: *const c_char,
        tokenizer: *mut mmg_tokenizer,
    ) -> mmg_status;

    // model.h
    pub fn mmg_model_config_init(config: *mut mmg_model_config, struct_size: usize);
    pub fn mmg_model_config_validate(config: *const mmg_model_config) -> mmg_status;
    pub fn mmg_model_config_to_json(config: *const mmg_model_config, out_json: *mut *mut c_char) -> mmg_status;
    pub fn mmg_model_config_from_json(json: *const c_char, len: usize, out: *mut mmg_model_config) -> mmg_status;
    pub fn mmg_model_options_init(opts: *mut mmg_model_options, struct_size: usize);
    pub fn mmg_model_create(
        config: *const mmg_model_config,
        opts: *const mmg_model_options,
        out: *mut *mut mmg_model,
    ) -> mmg_status;
    pub fn mmg_model_load(path: *const c_char, opts: *const mmg_model_options, out: *mut *mut mmg_model) -> mmg_status;
    pub fn mmg_model_save(model: *const mmg_model, path: *const c_char) -> mmg_status;
    pub fn mmg_model_free(model: *mut mmg_model);
    pub fn mmg_model_get_config(model: *const mmg_model, config: *mut mmg_model_config) -> mmg_status;
    pub fn mmg_model_n_params(model: *const mmg_model) -> u64;
    pub fn mmg_model_set_metadata(model: *mut mmg_model, key: *const c_char, value: *const c_char) -> mmg_status;
    pub fn mmg_model_get_metadata(
        model: *const mmg_model,
        key: *const c_char,
        out_value: *mut *const c_char,
    ) -> mmg_status;
    pub fn mmg_model_metadata_count(model: *const mmg_model) -> usize;
    pub fn mmg_model_metadata_key_at(model: *const mmg_model, index: usize) -> *const c_char;
    pub fn mmg_model_load_memory(
        data: *const c_void,
        size: usize,
        opts: *const mmg_model_options,
        out: *mut *mut mmg_model,
    ) -> mmg_status;
    pub fn mmg_model_param_count(model: *const mmg_model) -> usize;
    pub fn mmg_model_param_info(model: *const mmg_model, index: usize, info: *mut mmg_param_info) -> mmg_status;
    pub fn mmg_model_param_find(model: *const mmg_model, name: *const c_char, out_index: *mut usize) -> mmg_status;
    // model.h, ABI 1.6 (linker node MMGEN_1.6): weights as bytes in GGUF's
    // layout. Callers check mmg_abi_compatible(1, 6) first.
    pub fn mmg_weights_size(weights: i32, n_elements: u64) -> u64;
    pub fn mmg_model_read_param_data(
        model: *const mmg_model,
        name: *const c_char,
        dst: *mut c_void,
        dst_size: usize,
    ) -> mmg_status;
    pub fn mmg_quantize(
        weights: i32,
        src: *const f32,
        n_elements: u64,
        dst: *mut c_void,
        dst_size: usize,
    ) -> mmg_status;
    pub fn mmg_dequantize(
        weights: i32,
        src: *const c_void,
        src_size: usize,
        dst: *mut f32,
        n_elements: u64,
    ) -> mmg_status;
    pub fn mmg_model_read_param(
        model: *const mmg_model,
        name: *const c_char,
        dst: *mut f32,
        n_elements: usize,
    ) -> mmg_status;
    pub fn mmg_model_write_param(
        model: *mut mmg_model,
        name: *const c_char,
        src: *const f32,
        n_elements: usize,
    ) -> mmg_status;

    // context.h
    pub fn mmg_context_options_init(opts: *mut mmg_context_options, struct_size: usize);
    pub fn mmg_context_create(
        model: *const mmg_model,
        opts: *const mmg_context_options,
        out: *mut *mut mmg_context,
    ) -> mmg_status;
    pub fn mmg_context_free(ctx: *mut mmg_context);
    pub fn mmg_context_threads(ctx: *const mmg_context) -> i32;
    pub fn mmg_context_n_slots(ctx: *const mmg_context) -> i32;
    pub fn mmg_context_max_seq_len(ctx: *const mmg_context) -> i32;

    // sampling.h, generate.h
    pub fn mmg_sampling_options_init(opts: *mut mmg_sampling_options, struct_size: usize);
    pub fn mmg_sampling_options_validate(opts: *const mmg_sampling_options) -> mmg_status;
    pub fn mmg_generate_options_init(opts: *mut mmg_generate_options, struct_size: usize);
    pub fn mmg_generate(
        ctx: *mut mmg_context,
        opts: *const mmg_generate_options,
        n_sequences: i32,
        sources: *const *const i32,
        source_lengths: *const i32,
        prompts: *const *const i32,
        prompt_lengths: *const i32,
        seeds: *const u64,
        out_tokens: *mut i32,
        out_lengths: *mut i32,
    ) -> mmg_status;

    // train.h
    pub fn mmg_dataset_from_tokens(tokens: *const i32, n: usize, out: *mut *mut mmg_dataset) -> mmg_status;
    pub fn mmg_dataset_free(ds: *mut mmg_dataset);
    pub fn mmg_loader_options_init(opts: *mut mmg_loader_options, struct_size: usize);
    pub fn mmg_loader_create_packed(
        ds: *const mmg_dataset,
        opts: *const mmg_loader_options,
        out: *mut *mut mmg_loader,
    ) -> mmg_status;
    pub fn mmg_loader_next(loader: *mut mmg_loader, out: *mut *const mmg_batch) -> mmg_status;
    pub fn mmg_loader_free(loader: *mut mmg_loader);
    pub fn mmg_train_options_init(opts: *mut mmg_train_options, struct_size: usize);
    pub fn mmg_trainer_create(
        model: *mut mmg_model,
        opts: *const mmg_train_options,
        out: *mut *mut mmg_trainer,
    ) -> mmg_status;
    pub fn mmg_trainer_free(trainer: *mut mmg_trainer);
    pub fn mmg_trainer_step(trainer: *mut mmg_trainer, batch: *const mmg_batch, out_loss: *mut f32) -> mmg_status;
    pub fn mmg_trainer_steps_done(trainer: *const mmg_trainer) -> i64;
    pub fn mmg_trainer_learning_rate(trainer: *const mmg_trainer) -> f32;
    pub fn mmg_trainer_last_grad_norm(trainer: *const mmg_trainer) -> f32;
    pub fn mmg_trainer_save(trainer: *mut mmg_trainer, loader: *const mmg_loader, path: *const c_char) -> mmg_status;
    pub fn mmg_trainer_read_grad(
        trainer: *const mmg_trainer,
        name: *const c_char,
        dst: *mut f32,
        n_elements: usize,
    ) -> mmg_status;
}
