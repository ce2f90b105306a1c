"""ctypes mirrors of the public mmgen structs this package uses.

Each mirrors its header field for field, in order (structs only grow at their
end, so a mirror of an older minor stays valid). Every one is filled by the
library's *_init function with ctypes.sizeof(mirror) as its struct_size, so
the library reads and writes only the fields this package knows and gives the
others their defaults (ABI.md, "struct_size"). Loading the library checks
every mirror in MIRRORS against the library's own layout table (mmgen/layout.h,
_lib.check_layouts); the tests also compare each size and offset with the C
compiler's when one is installed.
"""
import ctypes

c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_uint8_p = ctypes.POINTER(ctypes.c_uint8)

# mmg_token_mask_cb (mmgen/constraint.h) and mmg_token_cb (mmgen/generate.h).
TokenMaskCb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, c_int32_p, ctypes.c_size_t,
                               c_uint8_p, ctypes.c_size_t)
TokenCb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32,
                           ctypes.c_int32)


class SamplingOptions(ctypes.Structure):  # mmg_sampling_options, mmgen/sampling.h
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("temperature", ctypes.c_float),
                ("top_k", ctypes.c_int32),
                ("top_p", ctypes.c_float),
                ("min_p", ctypes.c_float),
                ("repetition_penalty", ctypes.c_float),
                ("repetition_window", ctypes.c_int32),
                ("seed", ctypes.c_uint64)]


class GenerateOptions(ctypes.Structure):  # mmg_generate_options, mmgen/generate.h
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("sampling", ctypes.POINTER(SamplingOptions)),
                ("max_new_tokens", ctypes.c_int32),
                ("end_token", ctypes.c_int32),
                ("start_token", ctypes.c_int32),
                ("constraint", TokenMaskCb),
                ("constraint_user_data", ctypes.c_void_p),
                ("constraint_user_data_each", ctypes.POINTER(ctypes.c_void_p)),
                ("on_token", TokenCb),
                ("on_token_user_data", ctypes.c_void_p)]


class ContextOptions(ctypes.Structure):  # mmg_context_options, mmgen/context.h
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("n_threads", ctypes.c_int32),
                ("n_slots", ctypes.c_int32),
                ("max_seq_len", ctypes.c_int32),
                ("memory_limit", ctypes.c_uint64),
                ("check_finite", ctypes.c_int32)]  # since 1.3


class ModelConfig(ctypes.Structure):  # mmg_model_config, mmgen/model.h
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("vocab_size", ctypes.c_int32),
                ("d_model", ctypes.c_int32),
                ("n_heads", ctypes.c_int32),
                ("n_encoder_layers", ctypes.c_int32),
                ("n_decoder_layers", ctypes.c_int32),
                ("d_ff", ctypes.c_int32),
                ("max_seq_len", ctypes.c_int32),
                ("norm_placement", ctypes.c_int32),
                ("final_norm", ctypes.c_int32),
                ("activation", ctypes.c_int32),
                ("position_encoding", ctypes.c_int32),
                ("tied_output", ctypes.c_int32),
                ("bias", ctypes.c_int32),
                ("scale_embeddings", ctypes.c_int32),
                ("layernorm_eps", ctypes.c_float),
                ("norm_bias", ctypes.c_int32)]


class ModelOptions(ctypes.Structure):  # mmg_model_options, mmgen/model.h
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("seed", ctypes.c_uint64),
                ("init_std", ctypes.c_float),
                ("memory_limit", ctypes.c_uint64),
                ("init_scheme", ctypes.c_int32),
                ("weights", ctypes.c_int32)]  # since 1.3: mmg_weight_format


class ModelOptions16(ModelOptions):  # mmg_model_options with the field ABI 1.6 appended
    _fields_ = [("quantize_embedding", ctypes.c_int32)]


class ParamInfo(ctypes.Structure):  # mmg_param_info, mmgen/model.h (since 1.3)
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("name", ctypes.c_char_p),
                ("n_dims", ctypes.c_int32),
                ("shape", ctypes.c_int64 * 4),  # MMG_PARAM_MAX_DIMS
                ("n_elements", ctypes.c_uint64)]


class ParamInfo16(ParamInfo):  # mmg_param_info with the fields ABI 1.6 appended
    _fields_ = [("weights", ctypes.c_int32),  # mmg_weight_format of the stored bytes
                ("n_bytes", ctypes.c_uint64)]


class LoaderOptions(ctypes.Structure):  # mmg_loader_options, mmgen/train.h
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("batch_size", ctypes.c_int32),
                ("seq_len", ctypes.c_int32),
                ("max_src_len", ctypes.c_int32),
                ("shuffle", ctypes.c_int32),
                ("seed", ctypes.c_uint64),
                ("separator", ctypes.c_int32),
                ("bos_id", ctypes.c_int32),
                ("eos_id", ctypes.c_int32),
                ("pad_id", ctypes.c_int32),
                ("ignore_index", ctypes.c_int32),
                ("vocab_size", ctypes.c_int32)]


class TrainOptions(ctypes.Structure):  # mmg_train_options, mmgen/train.h
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("learning_rate", ctypes.c_float),
                ("min_learning_rate", ctypes.c_float),
                ("warmup_steps", ctypes.c_int64),
                ("decay_steps", ctypes.c_int64),
                ("beta1", ctypes.c_float),
                ("beta2", ctypes.c_float),
                ("eps", ctypes.c_float),
                ("weight_decay", ctypes.c_float),
                ("grad_clip", ctypes.c_float),
                ("grad_accum_steps", ctypes.c_int32),
                ("dropout", ctypes.c_float),
                ("label_smoothing", ctypes.c_float),
                ("ignore_index", ctypes.c_int32),
                ("seed", ctypes.c_uint64),
                ("memory_limit", ctypes.c_uint64),
                ("n_threads", ctypes.c_int32)]


# C name -> (mirror, header): what the layout test compiles against.
MIRRORS = {
    "mmg_sampling_options": (SamplingOptions, "mmgen/sampling.h"),
    "mmg_generate_options": (GenerateOptions, "mmgen/generate.h"),
    "mmg_context_options": (ContextOptions, "mmgen/context.h"),
    "mmg_model_config": (ModelConfig, "mmgen/model.h"),
    "mmg_model_options": (ModelOptions, "mmgen/model.h"),
    "mmg_param_info": (ParamInfo, "mmgen/model.h"),
    "mmg_loader_options": (LoaderOptions, "mmgen/train.h"),
    "mmg_train_options": (TrainOptions, "mmgen/train.h"),
}
