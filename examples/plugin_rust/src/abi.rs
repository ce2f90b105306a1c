//! `#[repr(C)]` mirrors of `include/mmgen/plugin.h` (plugin ABI 1.0) and the
//! status codes of `include/mmgen/status.h`.
//!
//! The header is the authority; these declarations copy it field for field,
//! in order, so a plugin built from them is laid out exactly as a C plugin.
//! Function pointers are `Option<unsafe extern "C" fn ...>`: Rust guarantees
//! that `None` is the NULL pointer, so the layout is a C function pointer's.

use std::os::raw::{c_char, c_int, c_void};

// mmg_status values (status.h). Numbers are frozen by the ABI.
pub const MMG_OK: c_int = 0;
pub const MMG_ERR_INVALID_ARG: c_int = 1;
pub const MMG_ERR_NOMEM: c_int = 2;
pub const MMG_ERR_FORMAT: c_int = 4;
pub const MMG_ERR_ABI: c_int = 7;
pub const MMG_ERR_RANGE: c_int = 8;
pub const MMG_ERR_CONFIG: c_int = 9;
pub const MMG_ERR_STATE: c_int = 10;
pub const MMG_ERR_NOT_FOUND: c_int = 14;
pub const MMG_ERR_INTERNAL: c_int = 15;

pub const MMG_PLUGIN_ABI_MAJOR: u32 = 1;
pub const MMG_PLUGIN_ABI_MINOR: u32 = 0;
/// MMGEN_MAKE_ABI_VERSION(major, minor): (major << 16) | minor.
pub const MMG_PLUGIN_ABI_VERSION: u32 = (MMG_PLUGIN_ABI_MAJOR << 16) | MMG_PLUGIN_ABI_MINOR;

/// mmg_modality: this plugin's documents are none of text, code, image, audio.
pub const MMG_MODALITY_OTHER: i32 = 0;

pub const MMG_PLUGIN_LOG_ERROR: c_int = 0;
pub const MMG_PLUGIN_LOG_WARN: c_int = 1;
pub const MMG_PLUGIN_LOG_INFO: c_int = 2;

/// The extension id of `mmg_ext_constraint_v1`, NUL included for comparison
/// with the C string the host passes.
pub const MMG_EXT_CONSTRAINT_V1: &[u8] = b"mmgen.constraint/1\0";

/// mmg_host_services: what the host lends the plugin from init() to deinit().
#[repr(C)]
pub struct HostServices {
    pub struct_size: usize,
    pub abi_version: u32,
    pub alloc: Option<unsafe extern "C" fn(size: usize) -> *mut c_void>,
    pub realloc: Option<unsafe extern "C" fn(ptr: *mut c_void, size: usize) -> *mut c_void>,
    pub free: Option<unsafe extern "C" fn(ptr: *mut c_void)>,
    pub log: Option<unsafe extern "C" fn(level: c_int, fmt: *const c_char, ...)>,
    pub error: Option<unsafe extern "C" fn(status: c_int, fmt: *const c_char, ...) -> c_int>,
}

/// mmg_plugin_document: one document's bytes.
#[repr(C)]
pub struct PluginDocument {
    pub data: *const u8,
    pub size: usize,
}

/// mmg_plugin_descriptor: what mmg_plugin_entry_v1 returns.
#[repr(C)]
pub struct PluginDescriptor {
    pub struct_size: usize,
    pub abi_version: u32,
    pub name: *const c_char,
    pub version: *const c_char,
    pub modality: i32,
    pub description: *const c_char,
    pub init: Option<unsafe extern "C" fn(host: *const HostServices) -> c_int>,
    pub deinit: Option<unsafe extern "C" fn()>,
    pub create: Option<
        unsafe extern "C" fn(config: *const c_char, size: usize, out: *mut *mut c_void) -> c_int,
    >,
    pub destroy: Option<unsafe extern "C" fn(instance: *mut c_void)>,
    pub fit: Option<
        unsafe extern "C" fn(instance: *mut c_void, docs: *const PluginDocument, n: usize) -> c_int,
    >,
    pub save_state: Option<
        unsafe extern "C" fn(
            instance: *mut c_void,
            out: *mut *mut u8,
            out_size: *mut usize,
        ) -> c_int,
    >,
    pub load_state:
        Option<unsafe extern "C" fn(instance: *mut c_void, bytes: *const u8, size: usize) -> c_int>,
    pub encode: Option<
        unsafe extern "C" fn(
            instance: *mut c_void,
            doc: *const u8,
            doc_size: usize,
            out_ids: *mut *mut i32,
            out_count: *mut usize,
        ) -> c_int,
    >,
    pub decode: Option<
        unsafe extern "C" fn(
            instance: *mut c_void,
            ids: *const i32,
            count: usize,
            out_doc: *mut *mut u8,
            out_size: *mut usize,
        ) -> c_int,
    >,
    pub vocab_size: Option<unsafe extern "C" fn(instance: *mut c_void) -> i32>,
    pub special_token: Option<
        unsafe extern "C" fn(instance: *mut c_void, name: *const c_char, out_id: *mut i32) -> c_int,
    >,
    pub describe_token: Option<
        unsafe extern "C" fn(
            instance: *mut c_void,
            id: i32,
            buf: *mut c_char,
            buf_size: usize,
            out_length: *mut usize,
        ) -> c_int,
    >,
    pub get_extension:
        Option<unsafe extern "C" fn(instance: *mut c_void, id: *const c_char) -> *const c_void>,
}

// The descriptor holds C string pointers to static, immutable bytes; the host
// only reads it, from any thread.
unsafe impl Sync for PluginDescriptor {}

/// mmg_ext_constraint_v1: which tokens may come next.
#[repr(C)]
pub struct ExtConstraintV1 {
    pub struct_size: usize,
    pub allowed_next: Option<
        unsafe extern "C" fn(
            instance: *mut c_void,
            tokens: *const i32,
            n_tokens: usize,
            allowed: *mut u8,
            vocab_size: usize,
        ) -> c_int,
    >,
}

// The sizes a C compiler gives these structs on the LP64 targets mmgen builds
// for: 6 header fields (with padding) + 13 function pointers, and 7 words.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(std::mem::size_of::<PluginDescriptor>() == 48 + 13 * 8);
    assert!(std::mem::size_of::<HostServices>() == 7 * 8);
    assert!(std::mem::size_of::<ExtConstraintV1>() == 2 * 8);
    assert!(std::mem::size_of::<PluginDocument>() == 2 * 8);
};
