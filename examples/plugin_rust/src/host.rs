//! The host's services (allocation, log, errors) behind safe functions, and
//! the plugin's error type.
//!
//! plugin.h: memory handed to the host (token arrays, documents, saved state)
//! must come from `host->alloc`, because the host releases it with its own
//! allocator (the user with `mmg_free`). Everything the plugin keeps for
//! itself (the instance, its tables) uses Rust's allocator.

use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::abi::{HostServices, MMG_ERR_INTERNAL, MMG_ERR_NOMEM};

/// A failure to report through `host->error`: an mmg_status and a message a
/// user can act on.
#[derive(Debug)]
pub struct Error {
    pub status: c_int,
    pub message: String,
}

impl Error {
    pub fn new(status: c_int, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Set by init(), cleared by deinit(); the host keeps the table alive in
/// between. An atomic because instances may be used from several threads.
static HOST: AtomicPtr<HostServices> = AtomicPtr::new(ptr::null_mut());

pub fn install(host: *const HostServices) {
    HOST.store(host as *mut HostServices, Ordering::Release);
}

pub fn uninstall() {
    HOST.store(ptr::null_mut(), Ordering::Release);
}

fn services() -> Option<&'static HostServices> {
    // Safety: the pointer is either NULL or the table init() received, which
    // the host keeps valid until deinit() clears it.
    unsafe { HOST.load(Ordering::Acquire).as_ref() }
}

/// A C string for "%s": an interior NUL would cut the message short, so it
/// is spelled out instead.
fn c_message(message: &str) -> CString {
    CString::new(message.replace('\0', "\\0")).unwrap_or_default()
}

/// Records `err` as the user's last error and returns its status, as
/// `return host->error(status, ...)` does in C.
pub fn report(err: &Error) -> c_int {
    if let Some(error) = services().and_then(|h| h.error) {
        let text = c_message(&err.message);
        // The message goes through "%s" so that a '%' in it (from a document
        // or a config) is never read as a conversion.
        unsafe { error(err.status, b"%s\0".as_ptr() as *const c_char, text.as_ptr()) };
    }
    err.status
}

/// Sends a line to the host's log (shown per MMGEN_LOG in the CLI).
pub fn log(level: c_int, message: &str) {
    if let Some(log) = services().and_then(|h| h.log) {
        let text = c_message(message);
        unsafe { log(level, b"%s\0".as_ptr() as *const c_char, text.as_ptr()) };
    }
}

/// Copies `items` into a buffer from `host->alloc` (alloc(0) for none, which
/// the host promises is a valid pointer). The caller hands it to the host.
pub fn alloc_copy<T: Copy>(items: &[T], what: &str) -> Result<*mut T> {
    let alloc = services().and_then(|h| h.alloc).ok_or_else(|| {
        Error::new(
            MMG_ERR_INTERNAL,
            "the host services are not set (init was not called)",
        )
    })?;
    let bytes = std::mem::size_of_val(items);
    // Safety: alloc returns NULL or a block of `bytes` bytes aligned like
    // malloc's, enough for i32 and u8.
    let out = unsafe { alloc(bytes) } as *mut T;
    if out.is_null() {
        return Err(Error::new(
            MMG_ERR_NOMEM,
            format!("out of memory for {} ({} bytes)", what, bytes),
        ));
    }
    unsafe { ptr::copy_nonoverlapping(items.as_ptr(), out, items.len()) };
    Ok(out)
}
