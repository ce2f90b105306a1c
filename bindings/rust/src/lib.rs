#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![allow(clippy::missing_safety_doc)]

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_void};
use std::path::Path;
use std::sync::Mutex;

mod error;
pub mod layout;
mod model;
#[allow(missing_docs)]
pub mod sys;
mod tokenizer;
mod train;

pub use error::{Error, Result, Status};
pub use model::{
    dequantize, quantize, weights_size, Context, ContextOptions, GenerateOptions, Model, ModelConfig, ParamInfo,
    Sampling, Weights,
};
pub use tokenizer::{DecodeStream, Plugin, Tokenizer};
pub use train::{TrainOptions, Trainer};

/// The ABI this crate was written against: it needs a library that
/// `mmg_abi_compatible(ABI_MAJOR, ABI_MINOR)` accepts.
pub const ABI_MAJOR: u32 = sys::MMGEN_ABI_MAJOR;
/// See `ABI_MAJOR`.
pub const ABI_MINOR: u32 = sys::MMGEN_ABI_MINOR;

static INIT: Mutex<Option<Result<()>>> = Mutex::new(None);

/// Checks, once per process, that the loaded libmmgen serves this crate:
/// `mmg_abi_compatible(1, 3)`, then every `#[repr(C)]` mirror against the
/// library's layout table (`layout::check_all`). Every constructor calls it,
/// so calling it yourself is only needed to fail early; the first result is
/// remembered and returned again.
pub fn init() -> Result<()> {
    let mut state = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = state.as_ref() {
        return r.clone();
    }
    let r = check_abi(ABI_MAJOR, ABI_MINOR).and_then(|_| layout::check_all());
    *state = Some(r.clone());
    r
}

/// `Ok(())` when the loaded library can serve callers built against header
/// version (`major`, `minor`), else an `MMG_ERR_ABI` error naming both.
pub fn check_abi(major: u32, minor: u32) -> Result<()> {
    // SAFETY: the version functions exist in every 1.x library.
    if unsafe { sys::mmg_abi_compatible(major, minor) } != 0 {
        return Ok(());
    }
    let (lib_major, lib_minor) = abi_version();
    Err(Error::new(
        Status::ABI,
        format!(
            "libmmgen {} (ABI {}.{}) cannot serve this binding (ABI {}.{})",
            version(),
            lib_major,
            lib_minor,
            major,
            minor
        ),
        "checking libmmgen's ABI",
    ))
}

/// The loaded library's version, `"MAJOR.MINOR.PATCH"`.
pub fn version() -> String {
    // SAFETY: static storage.
    unsafe { CStr::from_ptr(sys::mmg_version_string()) }.to_string_lossy().into_owned()
}

/// The loaded library's ABI version as (major, minor).
pub fn abi_version() -> (u32, u32) {
    // SAFETY: no arguments.
    let v = unsafe { sys::mmg_abi_version() };
    (v >> 16, v & 0xffff)
}

// ---- helpers shared by the modules ---------------------------------------

/// A NUL-terminated copy of `s`; MMG_ERR_INVALID_ARG for an inner NUL.
pub(crate) fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(Status::INVALID_ARG, format!("{} {:?} contains a NUL byte", what, s), ""))
}

pub(crate) fn path_cstring(path: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    CString::new(bytes)
        .map_err(|_| Error::new(Status::INVALID_ARG, format!("the path {:?} contains a NUL byte", path), ""))
}

/// A string the library owns (static or inside an object), copied.
pub(crate) unsafe fn borrowed_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

/// Memory the library handed over, released with `mmg_free` when dropped
/// (also when a copy panics).
pub(crate) struct LibBuf(pub *mut c_void);

impl Drop for LibBuf {
    fn drop(&mut self) {
        // SAFETY: a pointer the library allocated (or NULL, a no-op).
        unsafe { sys::mmg_free(self.0) }
    }
}

/// Copies `len` items from a library buffer and frees it with `mmg_free`.
pub(crate) unsafe fn take_vec<T: Copy>(ptr: *mut T, len: usize) -> Vec<T> {
    let _guard = LibBuf(ptr as *mut c_void);
    if ptr.is_null() || len == 0 {
        Vec::new()
    } else {
        std::slice::from_raw_parts(ptr, len).to_vec()
    }
}

/// Copies a NUL-terminated library string and frees it with `mmg_free`.
pub(crate) unsafe fn take_string(ptr: *mut c_char) -> String {
    let _guard = LibBuf(ptr as *mut c_void);
    if ptr.is_null() {
        String::new()
    } else {
        CStr::from_ptr(ptr).to_string_lossy().into_owned()
    }
}
