//! `Status` (mmgen/status.h's codes) and `Error`: a failed call's status,
//! `mmg_last_error()`'s message and what this crate was doing.
use std::ffi::CStr;
use std::fmt;

use crate::sys;

/// An `mmg_status` code. The numbers are part of the ABI: never renumbered,
/// new ones appended (ABI.md, "Status codes and errors").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Status(pub i32);

impl Status {
    /// `MMG_OK`: success.
    pub const OK: Status = Status(0);
    /// `MMG_ERR_INVALID_ARG`: NULL where an object is required, a bad enum or option.
    pub const INVALID_ARG: Status = Status(1);
    /// `MMG_ERR_NOMEM`: an allocation failed.
    pub const NOMEM: Status = Status(2);
    /// `MMG_ERR_IO`: a file could not be opened, read, written or renamed.
    pub const IO: Status = Status(3);
    /// `MMG_ERR_FORMAT`: malformed file or data.
    pub const FORMAT: Status = Status(4);
    /// `MMG_ERR_UNSUPPORTED`: a valid request this build does not support.
    pub const UNSUPPORTED: Status = Status(5);
    /// `MMG_ERR_PLUGIN`: a plugin failed to load or broke its contract.
    pub const PLUGIN: Status = Status(6);
    /// `MMG_ERR_ABI`: incompatible ABI version, or a struct mirror that does not match.
    pub const ABI: Status = Status(7);
    /// `MMG_ERR_RANGE`: a token id, length, index or buffer size out of range.
    pub const RANGE: Status = Status(8);
    /// `MMG_ERR_CONFIG`: an invalid model or tokenizer configuration.
    pub const CONFIG: Status = Status(9);
    /// `MMG_ERR_STATE`: an operation not valid in the object's current state.
    pub const STATE: Status = Status(10);
    /// `MMG_ERR_LIMIT`: a configured resource limit would be exceeded.
    pub const LIMIT: Status = Status(11);
    /// `MMG_ERR_NUMERIC`: NaN or infinity appeared.
    pub const NUMERIC: Status = Status(12);
    /// `MMG_ERR_CANCELLED`: a callback asked to stop.
    pub const CANCELLED: Status = Status(13);
    /// `MMG_ERR_NOT_FOUND`: a named item (plugin, tensor, special token) does not exist.
    pub const NOT_FOUND: Status = Status(14);
    /// `MMG_ERR_INTERNAL`: a bug in mmgen.
    pub const INTERNAL: Status = Status(15);

    const NAMES: [&'static str; 16] = [
        "MMG_OK",
        "MMG_ERR_INVALID_ARG",
        "MMG_ERR_NOMEM",
        "MMG_ERR_IO",
        "MMG_ERR_FORMAT",
        "MMG_ERR_UNSUPPORTED",
        "MMG_ERR_PLUGIN",
        "MMG_ERR_ABI",
        "MMG_ERR_RANGE",
        "MMG_ERR_CONFIG",
        "MMG_ERR_STATE",
        "MMG_ERR_LIMIT",
        "MMG_ERR_NUMERIC",
        "MMG_ERR_CANCELLED",
        "MMG_ERR_NOT_FOUND",
        "MMG_ERR_INTERNAL",
    ];

    /// The symbolic name, e.g. `"MMG_ERR_IO"`; `"MMG_UNKNOWN"` for a code
    /// this crate does not know (one a newer library appended).
    pub fn name(self) -> &'static str {
        if self.0 >= 0 && (self.0 as usize) < Self::NAMES.len() {
            Self::NAMES[self.0 as usize]
        } else {
            "MMG_UNKNOWN"
        }
    }

    /// The numeric code.
    pub fn code(self) -> i32 {
        self.0
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed mmgen call.
///
/// `Display` gives `"<context>: <STATUS_NAME>: <message>"`, e.g.
/// `loading /tmp/m.safetensors: MMG_ERR_IO: cannot open '/tmp/m.safetensors': ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: Status,
    message: String,
    context: String,
}

impl Error {
    /// An error made by this crate itself (a check done before calling C).
    pub fn new(status: Status, message: impl Into<String>, context: impl Into<String>) -> Error {
        Error { status, message: message.into(), context: context.into() }
    }

    /// The error of a call that just returned `status` on this thread, with
    /// `mmg_last_error()`'s message (thread-local in the library, so it must
    /// be read right after the failing call, as every caller here does).
    pub(crate) fn last(status: sys::mmg_status, context: impl Into<String>) -> Error {
        // SAFETY: mmg_last_error returns a NUL-terminated string valid until
        // the next mmgen call on this thread; it is copied at once.
        let message = unsafe {
            let p = sys::mmg_last_error();
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        Error { status: Status(status as i32), message, context: context.into() }
    }

    /// The status code (`Status::IO`, ...).
    pub fn status(&self) -> Status {
        self.status
    }

    /// The numeric `mmg_status`.
    pub fn code(&self) -> i32 {
        self.status.0
    }

    /// `"MMG_ERR_IO"`, ...
    pub fn status_name(&self) -> &'static str {
        self.status.name()
    }

    /// `mmg_last_error()`'s text: which file, field or tensor, what was
    /// expected (or this crate's own message for checks it makes itself).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What this crate was doing, e.g. `"loading /tmp/m.safetensors"`.
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.context.is_empty() {
            write!(f, "{}: ", self.context)?;
        }
        f.write_str(self.status.name())?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// `Result<T, mmgen::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// `Ok(())` for `MMG_OK`, else the error with the library's message.
pub(crate) fn check(status: sys::mmg_status, context: impl FnOnce() -> String) -> Result<()> {
    if status == 0 {
        Ok(())
    } else {
        Err(Error::last(status, context()))
    }
}
