//! Checking this crate's `#[repr(C)]` mirrors (`crate::sys`) against the
//! library's own layout table (`mmgen/layout.h`, since ABI 1.3), so that a
//! mirror that does not match the loaded library is refused with an error
//! naming the struct and field instead of corrupting memory.
//!
//! For every mirrored struct: its size must not exceed
//! `mmg_struct_size(name)` (a newer library may have appended fields), and
//! each field's offset must equal `mmg_struct_field_offset(name, field)`.
//! `crate::init` runs this once, before the first call that passes a struct.
use std::ffi::{CStr, CString};

use crate::error::{Error, Result, Status};
use crate::sys;

/// `offsetof(type, field)` for a `#[repr(C)]` struct, valid on Rust 1.63
/// (`core::mem::offset_of!` came later): the distance between a field's
/// address and its struct's, taken on uninitialized memory through raw
/// pointers (no reference to uninitialized data is made).
#[macro_export]
macro_rules! offset_of {
    ($ty:ty, $field:ident) => {{
        let uninit = ::core::mem::MaybeUninit::<$ty>::uninit();
        let base = uninit.as_ptr();
        // SAFETY: addr_of! computes the field's address without reading it
        // or making a reference; `base` points at a live (uninitialized) value.
        let field = unsafe { ::core::ptr::addr_of!((*base).$field) };
        (field as *const u8 as usize) - (base as *const u8 as usize)
    }};
}

/// One mirrored struct: its C name, its Rust size and its fields' offsets.
#[derive(Clone, Debug)]
pub struct Mirror {
    /// The C name, e.g. `"mmg_sampling_options"`.
    pub name: &'static str,
    /// `size_of` the Rust mirror.
    pub size: usize,
    /// Each field's name and offset in the Rust mirror.
    pub fields: Vec<(&'static str, usize)>,
}

macro_rules! mirror {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        Mirror {
            name: stringify!($ty),
            size: ::core::mem::size_of::<sys::$ty>(),
            fields: vec![$((stringify!($field), offset_of!(sys::$ty, $field))),*],
        }
    };
}

/// Every struct `crate::sys` mirrors, each with all its fields.
#[rustfmt::skip]
pub fn mirrors() -> Vec<Mirror> {
    vec![
        mirror!(mmg_model_config {
            struct_size, vocab_size, d_model, n_heads, n_encoder_layers, n_decoder_layers, d_ff,
            max_seq_len, norm_placement, final_norm, activation, position_encoding, tied_output,
            bias, scale_embeddings, layernorm_eps, norm_bias,
        }),
        mirror!(mmg_model_options { struct_size, seed, init_std, memory_limit, init_scheme, weights }),
        mirror!(mmg_param_info { struct_size, name, n_dims, shape, n_elements }),
        mirror!(mmg_context_options {
            struct_size, n_threads, n_slots, max_seq_len, memory_limit, check_finite,
        }),
        mirror!(mmg_sampling_options {
            struct_size, temperature, top_k, top_p, min_p, repetition_penalty, repetition_window, seed,
        }),
        mirror!(mmg_generate_options {
            struct_size, sampling, max_new_tokens, end_token, start_token, constraint,
            constraint_user_data, constraint_user_data_each, on_token, on_token_user_data,
        }),
        mirror!(mmg_loader_options {
            struct_size, batch_size, seq_len, max_src_len, shuffle, seed, separator, bos_id, eos_id,
            pad_id, ignore_index, vocab_size,
        }),
        mirror!(mmg_train_options {
            struct_size, learning_rate, min_learning_rate, warmup_steps, decay_steps, beta1, beta2,
            eps, weight_decay, grad_clip, grad_accum_steps, dropout, label_smoothing, ignore_index,
            seed, memory_limit, n_threads,
        }),
    ]
}

fn library_version() -> String {
    // SAFETY: a static NUL-terminated string (mmgen/version.h).
    unsafe { CStr::from_ptr(sys::mmg_version_string()).to_string_lossy().into_owned() }
}

fn abi_error(message: String) -> Error {
    Error::new(Status::ABI, message, "checking libmmgen's struct layouts")
}

/// Checks one mirror against the loaded library's layout table: `Ok(())`,
/// or an `MMG_ERR_ABI` error naming the struct (and the field) that differs.
/// Public so that a test can feed it a deliberately wrong mirror.
pub fn check_mirror(mirror: &Mirror) -> Result<()> {
    let name = CString::new(mirror.name).map_err(|_| abi_error(format!("bad struct name {:?}", mirror.name)))?;
    // SAFETY: a NUL-terminated name; the functions only read it.
    let size = unsafe { sys::mmg_struct_size(name.as_ptr()) };
    if size == 0 {
        return Err(abi_error(format!(
            "libmmgen {} does not know the struct {} that this crate mirrors",
            library_version(),
            mirror.name
        )));
    }
    if mirror.size > size {
        return Err(abi_error(format!(
            "{}: the Rust mirror is {} bytes but libmmgen {} has {}: the library is older than \
             the mirror, or the mirror is wrong for this platform",
            mirror.name,
            mirror.size,
            library_version(),
            size
        )));
    }
    for &(field, offset) in &mirror.fields {
        let f = CString::new(field).map_err(|_| abi_error(format!("bad field name {:?}", field)))?;
        // SAFETY: as above.
        let lib_offset = unsafe { sys::mmg_struct_field_offset(name.as_ptr(), f.as_ptr()) };
        if lib_offset < 0 {
            return Err(abi_error(format!(
                "{}.{}: libmmgen {} has no such field (a library older than this crate's ABI {}.{})",
                mirror.name,
                field,
                library_version(),
                sys::MMGEN_ABI_MAJOR,
                sys::MMGEN_ABI_MINOR
            )));
        }
        if lib_offset as u64 != offset as u64 {
            return Err(abi_error(format!(
                "{}.{}: the Rust mirror has it at offset {}, libmmgen {} at offset {}",
                mirror.name,
                field,
                offset,
                library_version(),
                lib_offset
            )));
        }
    }
    Ok(())
}

/// Checks that each named field of a mirror of fields a later minor appended
/// (`mmg_model_options_16`, `mmg_param_info_16`) sits where C struct
/// `cname` of the library has it: checked before first use, as `init`
/// checks the 1.3 mirrors.
pub fn check_fields(cname: &str, fields: &[(&'static str, usize)]) -> Result<()> {
    let name = CString::new(cname).map_err(|_| abi_error(format!("bad struct name {:?}", cname)))?;
    for &(field, offset) in fields {
        let f = CString::new(field).map_err(|_| abi_error(format!("bad field name {:?}", field)))?;
        // SAFETY: NUL-terminated names; the library only reads them.
        let lib_offset = unsafe { sys::mmg_struct_field_offset(name.as_ptr(), f.as_ptr()) };
        if lib_offset < 0 || lib_offset as u64 != offset as u64 {
            return Err(abi_error(format!(
                "{}.{}: the Rust mirror has it at offset {}, libmmgen {} at offset {}",
                cname,
                field,
                offset,
                library_version(),
                lib_offset
            )));
        }
    }
    Ok(())
}

/// Checks every mirror of `mirrors()`.
pub fn check_all() -> Result<()> {
    for m in mirrors() {
        check_mirror(&m)?;
    }
    Ok(())
}

/// The names of the structs the library describes (`mmg_struct_name_at`).
pub fn library_struct_names() -> Vec<String> {
    let mut names = Vec::new();
    for i in 0.. {
        // SAFETY: static strings, then NULL past the last.
        let p = unsafe { sys::mmg_struct_name_at(i) };
        if p.is_null() {
            break;
        }
        names.push(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned());
    }
    names
}
