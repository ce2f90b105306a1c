//! mmgen-timeseries: an mmgen modality plugin for numeric time series in
//! CSV, written in Rust against the plugin ABI 1.0 (include/mmgen/plugin.h).
//!
//! This file is the C side: the exported entry point, the descriptor, and
//! one `extern "C"` function per descriptor slot. Each of them checks its
//! pointers, runs the safe Rust code of tokenizer.rs inside `catch_unwind`
//! and turns an error or a panic into an mmg_status with a message through
//! `host->error`: a panic must never unwind into the C host, and a plugin
//! must never abort the host's process. Out-parameters are written only on
//! success, as plugin.h requires.

mod abi;
mod bins;
mod config;
mod csv;
mod host;
mod tokenizer;

use std::any::Any;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::slice;

use abi::*;
use host::{Error, Result};
use tokenizer::Tokenizer;

/// The text of a panic's payload (a `&str` or `String` for `panic!`).
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a panic without a message"
    }
}

/// Runs `body` for the C function `function`: MMG_OK, or the error's status
/// after reporting it; a panic becomes MMG_ERR_INTERNAL.
fn guard<F: FnOnce() -> Result<()>>(function: &str, body: F) -> c_int {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => MMG_OK,
        Ok(Err(e)) => host::report(&e),
        Err(payload) => host::report(&Error::new(
            MMG_ERR_INTERNAL,
            format!(
                "{}: a bug in the timeseries plugin (Rust panic: {})",
                function,
                panic_message(&*payload)
            ),
        )),
    }
}

/// Like `guard` for functions without a status: `fallback` on a panic.
fn guard_value<T, F: FnOnce() -> T>(fallback: T, body: F) -> T {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn null_argument(function: &str, what: &str) -> Error {
    Error::new(
        MMG_ERR_INVALID_ARG,
        format!("{}: {} is NULL", function, what),
    )
}

/// The instance behind the host's `void *`.
///
/// Safety: `instance` is NULL or a pointer `ts_create` returned and
/// `ts_destroy` has not freed; the host uses an instance from one thread at
/// a time (plugin.h), so a `&mut` is not aliased.
unsafe fn instance<'a>(instance: *mut c_void, function: &str) -> Result<&'a mut Tokenizer> {
    (instance as *mut Tokenizer)
        .as_mut()
        .ok_or_else(|| null_argument(function, "the instance"))
}

/// A byte slice from a C pointer and length (a NULL pointer is allowed for
/// an empty one).
unsafe fn bytes<'a>(data: *const u8, size: usize, function: &str) -> Result<&'a [u8]> {
    if size == 0 {
        Ok(&[])
    } else if data.is_null() {
        Err(null_argument(function, "the data"))
    } else {
        Ok(slice::from_raw_parts(data, size))
    }
}

// ---- lifecycle -------------------------------------------------------------

unsafe extern "C" fn ts_init(services: *const HostServices) -> c_int {
    let services = match services.as_ref() {
        Some(s) => s,
        None => return MMG_ERR_INVALID_ARG,
    };
    if services.struct_size < std::mem::size_of::<HostServices>()
        || services.abi_version >> 16 != MMG_PLUGIN_ABI_MAJOR
        || services.alloc.is_none()
        || services.free.is_none()
        || services.log.is_none()
        || services.error.is_none()
    {
        // Without a usable table there is no way to say more.
        return MMG_ERR_ABI;
    }
    host::install(services);
    // A panic is a bug; its location goes to the host's log instead of the
    // default hook's stderr. The hook belongs to this plugin's own copy of
    // std (a cdylib links std statically), so the host and other plugins
    // are not affected.
    guard_value((), || {
        panic::set_hook(Box::new(|info| {
            host::log(MMG_PLUGIN_LOG_ERROR, &format!("Rust {}", info))
        }))
    });
    MMG_OK
}

unsafe extern "C" fn ts_deinit() {
    // Drops our hook (the default one holds no memory), so nothing is left
    // allocated when the host dlcloses the plugin.
    guard_value((), || drop(panic::take_hook()));
    host::uninstall();
}

unsafe extern "C" fn ts_create(
    config: *const c_char,
    config_size: usize,
    out: *mut *mut c_void,
) -> c_int {
    guard("create", || {
        if out.is_null() {
            return Err(null_argument("create", "out_instance"));
        }
        let text = bytes(config as *const u8, config_size, "create")?;
        let config = config::parse(text)?;
        *out = Box::into_raw(Box::new(Tokenizer::new(config))) as *mut c_void;
        Ok(())
    })
}

unsafe extern "C" fn ts_destroy(instance: *mut c_void) {
    if !instance.is_null() {
        // Dropping plain Rust data cannot panic, but the guard costs nothing.
        guard_value((), || drop(Box::from_raw(instance as *mut Tokenizer)));
    }
}

// ---- fit and state ---------------------------------------------------------

unsafe extern "C" fn ts_fit(
    inst: *mut c_void,
    docs: *const PluginDocument,
    n_docs: usize,
) -> c_int {
    guard("fit", || {
        let tok = instance(inst, "fit")?;
        if n_docs > 0 && docs.is_null() {
            return Err(null_argument("fit", "docs"));
        }
        let docs = if n_docs == 0 {
            &[][..]
        } else {
            slice::from_raw_parts(docs, n_docs)
        };
        let mut texts: Vec<&[u8]> = Vec::with_capacity(docs.len());
        for d in docs {
            texts.push(bytes(d.data, d.size, "fit")?);
        }
        let summary = tok.fit(&texts)?;
        host::log(MMG_PLUGIN_LOG_INFO, &summary);
        Ok(())
    })
}

unsafe extern "C" fn ts_save_state(
    inst: *mut c_void,
    out_bytes: *mut *mut u8,
    out_size: *mut usize,
) -> c_int {
    guard("save_state", || {
        let tok = instance(inst, "save_state")?;
        if out_bytes.is_null() || out_size.is_null() {
            return Err(null_argument("save_state", "an out-parameter"));
        }
        let state = tok.save_state()?;
        *out_bytes = host::alloc_copy(&state, "the saved state")?;
        *out_size = state.len();
        Ok(())
    })
}

unsafe extern "C" fn ts_load_state(inst: *mut c_void, data: *const u8, size: usize) -> c_int {
    guard("load_state", || {
        let tok = instance(inst, "load_state")?;
        tok.load_state(bytes(data, size, "load_state")?)
    })
}

// ---- encode and decode -----------------------------------------------------

unsafe extern "C" fn ts_encode(
    inst: *mut c_void,
    doc: *const u8,
    doc_size: usize,
    out_ids: *mut *mut i32,
    out_count: *mut usize,
) -> c_int {
    guard("encode", || {
        let tok = instance(inst, "encode")?;
        if out_ids.is_null() || out_count.is_null() {
            return Err(null_argument("encode", "an out-parameter"));
        }
        let encoded = tok.encode(bytes(doc, doc_size, "encode")?)?;
        if encoded.outside > 0 {
            host::log(
                MMG_PLUGIN_LOG_WARN,
                &format!(
                    "{} of {} values lie outside the fitted range; they take the first or last bin",
                    encoded.outside,
                    encoded.ids.len()
                ),
            );
        }
        *out_ids = host::alloc_copy(&encoded.ids, "the token ids")?;
        *out_count = encoded.ids.len();
        Ok(())
    })
}

unsafe extern "C" fn ts_decode(
    inst: *mut c_void,
    ids: *const i32,
    count: usize,
    out_doc: *mut *mut u8,
    out_size: *mut usize,
) -> c_int {
    guard("decode", || {
        let tok = instance(inst, "decode")?;
        if out_doc.is_null() || out_size.is_null() {
            return Err(null_argument("decode", "an out-parameter"));
        }
        if count > 0 && ids.is_null() {
            return Err(null_argument("decode", "ids"));
        }
        let ids = if count == 0 {
            &[][..]
        } else {
            slice::from_raw_parts(ids, count)
        };
        let doc = tok.decode(ids)?;
        *out_doc = host::alloc_copy(&doc, "the decoded document")?;
        *out_size = doc.len();
        Ok(())
    })
}

// ---- vocabulary --------------------------------------------------------------

unsafe extern "C" fn ts_vocab_size(inst: *mut c_void) -> i32 {
    guard_value(0, || {
        (inst as *const Tokenizer)
            .as_ref()
            .map_or(0, |t| t.vocab_size())
    })
}

unsafe extern "C" fn ts_special_token(
    inst: *mut c_void,
    name: *const c_char,
    out_id: *mut i32,
) -> c_int {
    guard("special_token", || {
        let tok = instance(inst, "special_token")?;
        if name.is_null() || out_id.is_null() {
            return Err(null_argument("special_token", "name or out_id"));
        }
        let name = CStr::from_ptr(name).to_string_lossy();
        *out_id = tok.special_token(&name)?;
        Ok(())
    })
}

unsafe extern "C" fn ts_describe_token(
    inst: *mut c_void,
    id: i32,
    buf: *mut c_char,
    buf_size: usize,
    out_length: *mut usize,
) -> c_int {
    guard("describe_token", || {
        let tok = instance(inst, "describe_token")?;
        if out_length.is_null() || (buf.is_null() && buf_size > 0) {
            return Err(null_argument("describe_token", "buf or out_length"));
        }
        let text = tok.describe(id)?;
        // Truncated to buf_size with its NUL; the descriptions are ASCII, so
        // a cut never splits a character.
        if buf_size > 0 {
            let n = text.len().min(buf_size - 1);
            ptr::copy_nonoverlapping(text.as_ptr(), buf as *mut u8, n);
            *buf.add(n) = 0;
        }
        *out_length = text.len();
        Ok(())
    })
}

// ---- extensions --------------------------------------------------------------

unsafe extern "C" fn ts_allowed_next(
    inst: *mut c_void,
    tokens: *const i32,
    n_tokens: usize,
    allowed: *mut u8,
    vocab_size: usize,
) -> c_int {
    guard("allowed_next", || {
        let tok = instance(inst, "allowed_next")?;
        if (n_tokens > 0 && tokens.is_null()) || (vocab_size > 0 && allowed.is_null()) {
            return Err(null_argument("allowed_next", "tokens or allowed"));
        }
        let tokens = if n_tokens == 0 {
            &[][..]
        } else {
            slice::from_raw_parts(tokens, n_tokens)
        };
        let allowed = if vocab_size == 0 {
            &mut [][..]
        } else {
            slice::from_raw_parts_mut(allowed, vocab_size)
        };
        tok.allowed_next(tokens, allowed)
    })
}

static CONSTRAINT: ExtConstraintV1 = ExtConstraintV1 {
    struct_size: std::mem::size_of::<ExtConstraintV1>(),
    allowed_next: Some(ts_allowed_next),
};

unsafe extern "C" fn ts_get_extension(_inst: *mut c_void, id: *const c_char) -> *const c_void {
    guard_value(ptr::null(), || {
        if !id.is_null() && CStr::from_ptr(id).to_bytes_with_nul() == MMG_EXT_CONSTRAINT_V1 {
            &CONSTRAINT as *const ExtConstraintV1 as *const c_void
        } else {
            ptr::null()
        }
    })
}

// ---- the descriptor and the entry point ----------------------------------

static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    struct_size: std::mem::size_of::<PluginDescriptor>(),
    abi_version: MMG_PLUGIN_ABI_VERSION,
    name: b"timeseries\0".as_ptr() as *const c_char,
    version: b"1.0.0\0".as_ptr() as *const c_char,
    modality: MMG_MODALITY_OTHER,
    description: b"numeric time series in CSV, one token per value (quantile bins learned by fit)\0"
        .as_ptr() as *const c_char,
    init: Some(ts_init),
    deinit: Some(ts_deinit),
    create: Some(ts_create),
    destroy: Some(ts_destroy),
    fit: Some(ts_fit),
    save_state: Some(ts_save_state),
    load_state: Some(ts_load_state),
    encode: Some(ts_encode),
    decode: Some(ts_decode),
    vocab_size: Some(ts_vocab_size),
    special_token: Some(ts_special_token),
    describe_token: Some(ts_describe_token),
    get_extension: Some(ts_get_extension),
};

/// The one symbol the host looks up (MMG_PLUGIN_ENTRY_SYMBOL). A cdylib
/// exports exactly its `#[no_mangle] pub extern "C"` functions.
#[no_mangle]
pub extern "C" fn mmg_plugin_entry_v1() -> *const PluginDescriptor {
    &DESCRIPTOR
}
