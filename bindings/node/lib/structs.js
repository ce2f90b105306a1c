'use strict';
// koffi mirrors of the public mmgen structs this module uses. Each mirrors its
// header field for field, in order (structs only grow at their end, so a
// mirror of an older minor stays valid). Each is filled by the library's
// *_init function with koffi.sizeof(mirror) as its struct_size, so the
// library reads and writes only the fields this module knows (ABI.md,
// "struct_size"). Pointer and callback fields are plain addresses ('void *').
// Loading the library checks every mirror of MIRRORS against the library's
// own layout table (mmgen/layout.h; library.js checkLayouts).
const koffi = require('koffi');

const SamplingOptions = koffi.struct('mmg_sampling_options', { // mmgen/sampling.h
  struct_size: 'size_t',
  temperature: 'float',
  top_k: 'int32_t',
  top_p: 'float',
  min_p: 'float',
  repetition_penalty: 'float',
  repetition_window: 'int32_t',
  seed: 'uint64_t',
});

const GenerateOptions = koffi.struct('mmg_generate_options', { // mmgen/generate.h
  struct_size: 'size_t',
  sampling: 'void *', // const mmg_sampling_options *
  max_new_tokens: 'int32_t',
  end_token: 'int32_t',
  start_token: 'int32_t',
  constraint: 'void *', // mmg_token_mask_cb
  constraint_user_data: 'void *',
  constraint_user_data_each: 'void *',
  on_token: 'void *', // mmg_token_cb
  on_token_user_data: 'void *',
});

const ContextOptions = koffi.struct('mmg_context_options', { // mmgen/context.h
  struct_size: 'size_t',
  n_threads: 'int32_t',
  n_slots: 'int32_t',
  max_seq_len: 'int32_t',
  memory_limit: 'uint64_t',
  check_finite: 'int32_t', // since 1.3
});

const ModelConfig = koffi.struct('mmg_model_config', { // mmgen/model.h
  struct_size: 'size_t',
  vocab_size: 'int32_t',
  d_model: 'int32_t',
  n_heads: 'int32_t',
  n_encoder_layers: 'int32_t',
  n_decoder_layers: 'int32_t',
  d_ff: 'int32_t',
  max_seq_len: 'int32_t',
  norm_placement: 'int32_t',
  final_norm: 'int32_t',
  activation: 'int32_t',
  position_encoding: 'int32_t',
  tied_output: 'int32_t',
  bias: 'int32_t',
  scale_embeddings: 'int32_t',
  layernorm_eps: 'float',
  norm_bias: 'int32_t',
});

const PARAM_MAX_DIMS = 4; // MMG_PARAM_MAX_DIMS

const ParamInfo = koffi.struct('mmg_param_info', { // mmgen/model.h, since 1.3
  struct_size: 'size_t',
  name: 'const char *', // owned by the model
  n_dims: 'int32_t',
  shape: koffi.array('int64_t', PARAM_MAX_DIMS),
  n_elements: 'uint64_t',
});

const ModelOptions = koffi.struct('mmg_model_options', { // mmgen/model.h
  struct_size: 'size_t',
  seed: 'uint64_t',
  init_std: 'float',
  memory_limit: 'uint64_t',
  init_scheme: 'int32_t',
  weights: 'int32_t', // since 1.3: mmg_weight_format
});

// The same structs with the fields ABI 1.6 appended: used only with a 1.6
// library, their fields checked when first used (library.checkFields).
const ModelOptions16 = koffi.struct('mmg_model_options_16', {
  struct_size: 'size_t',
  seed: 'uint64_t',
  init_std: 'float',
  memory_limit: 'uint64_t',
  init_scheme: 'int32_t',
  weights: 'int32_t',
  quantize_embedding: 'int32_t', // since 1.6
});

const ParamInfo16 = koffi.struct('mmg_param_info_16', {
  struct_size: 'size_t',
  name: 'const char *',
  n_dims: 'int32_t',
  shape: koffi.array('int64_t', PARAM_MAX_DIMS),
  n_elements: 'uint64_t',
  weights: 'int32_t', // since 1.6: mmg_weight_format of the stored bytes
  n_bytes: 'uint64_t', // since 1.6
});

// C name -> [mirror, header]: what loading checks against mmg_struct_*, and
// what the layout test compiles against.
const MIRRORS = {
  mmg_sampling_options: [SamplingOptions, 'mmgen/sampling.h'],
  mmg_generate_options: [GenerateOptions, 'mmgen/generate.h'],
  mmg_context_options: [ContextOptions, 'mmgen/context.h'],
  mmg_model_config: [ModelConfig, 'mmgen/model.h'],
  mmg_param_info: [ParamInfo, 'mmgen/model.h'],
  mmg_model_options: [ModelOptions, 'mmgen/model.h'],
};

module.exports = {
  SamplingOptions, GenerateOptions, ContextOptions, ModelConfig, ParamInfo, ModelOptions, ModelOptions16,
  ParamInfo16, MIRRORS,
};
