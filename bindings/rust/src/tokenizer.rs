//! Plugins and their tokenizers (mmgen/plugin_host.h, mmgen/tokenizer.h).
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::error::{check, Error, Result, Status};
use crate::{borrowed_string, cstring, init, sys, take_string, take_vec};

/// An open modality plugin (`mmg_plugin_open`). Closed on drop; tokenizers
/// made from it keep its module loaded on their own.
pub struct Plugin {
    ptr: NonNull<sys::mmg_plugin>,
}

// SAFETY: a plugin handle is not tied to a thread; its getters return
// strings fixed at open time.
unsafe impl Send for Plugin {}

impl Plugin {
    /// Opens a plugin by name (`"text"`: each directory of
    /// `$MMGEN_PLUGIN_PATH`, then the install directory) or by path (a name
    /// containing `/`). `MMG_ERR_NOT_FOUND` when no such plugin exists.
    pub fn open(name_or_path: &str) -> Result<Plugin> {
        init()?;
        let name = cstring(name_or_path, "plugin name")?;
        let mut out = ptr::null_mut();
        // SAFETY: valid string and out-pointer.
        let st = unsafe { sys::mmg_plugin_open(name.as_ptr(), &mut out) };
        check(st, || format!("opening plugin {:?}", name_or_path))?;
        Ok(Plugin { ptr: NonNull::new(out).expect("mmg_plugin_open returned MMG_OK and NULL") })
    }

    /// `"text"`, ...
    pub fn name(&self) -> String {
        unsafe { borrowed_string(sys::mmg_plugin_name(self.ptr.as_ptr())) }.unwrap_or_default()
    }

    /// The plugin's own version.
    pub fn version(&self) -> String {
        unsafe { borrowed_string(sys::mmg_plugin_version(self.ptr.as_ptr())) }.unwrap_or_default()
    }

    /// One line saying what it does.
    pub fn description(&self) -> String {
        unsafe { borrowed_string(sys::mmg_plugin_description(self.ptr.as_ptr())) }.unwrap_or_default()
    }

    /// The file it was loaded from.
    pub fn path(&self) -> String {
        unsafe { borrowed_string(sys::mmg_plugin_path(self.ptr.as_ptr())) }.unwrap_or_default()
    }

    /// `"text"`, `"code"`, `"image"`, `"audio"` or `"other"`.
    pub fn modality(&self) -> String {
        unsafe { borrowed_string(sys::mmg_modality_name(sys::mmg_plugin_modality(self.ptr.as_ptr()))) }
            .unwrap_or_default()
    }

    /// A tokenizer of this plugin; see `Tokenizer::create`.
    pub fn tokenizer(&self, config_json: Option<&str>) -> Result<Tokenizer> {
        let config = match config_json {
            Some(c) => Some(cstring(c, "tokenizer config")?),
            None => None,
        };
        let mut out = ptr::null_mut();
        // SAFETY: a live plugin, a string or NULL, an out-pointer.
        let st = unsafe {
            sys::mmg_tokenizer_create(self.ptr.as_ptr(), config.as_ref().map_or(ptr::null(), |c| c.as_ptr()), &mut out)
        };
        check(st, || format!("creating a {} tokenizer", self.name()))?;
        Ok(Tokenizer::from_raw(out))
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        // SAFETY: the handle is live and dropped once.
        unsafe { sys::mmg_plugin_close(self.ptr.as_ptr()) }
    }
}

/// A tokenizer: an instance of a plugin turning documents (bytes) into
/// token ids and back. Freed on drop.
///
/// `Send` but not `Sync`: the C tokenizer is used by one thread at a time,
/// which `&self` methods on a `!Sync` type guarantee.
pub struct Tokenizer {
    ptr: NonNull<sys::mmg_tokenizer>,
}

// SAFETY: [one thread per object]: it may move between threads.
unsafe impl Send for Tokenizer {}

impl Tokenizer {
    pub(crate) fn from_raw(p: *mut sys::mmg_tokenizer) -> Tokenizer {
        Tokenizer { ptr: NonNull::new(p).expect("the library returned MMG_OK and a NULL tokenizer") }
    }

    pub(crate) fn raw(&self) -> *mut sys::mmg_tokenizer {
        self.ptr.as_ptr()
    }

    /// A tokenizer of the plugin `plugin` (a name such as `"text"`, or a
    /// path) configured by `config_json` (`None`: the plugin's defaults;
    /// e.g. `{"vocab_size": 1024}`). Learned state comes from `fit` or
    /// `load_state`.
    pub fn create(plugin: &str, config_json: Option<&str>) -> Result<Tokenizer> {
        // The tokenizer keeps the plugin's module loaded after it is closed.
        Plugin::open(plugin)?.tokenizer(config_json)
    }

    /// Restores a tokenizer from its JSON document (`to_json`, the file
    /// `mmgen tokenizer fit` writes, a model's `mmgen.tokenizer` metadata).
    pub fn from_json(json: &str) -> Result<Tokenizer> {
        init()?;
        let mut out = ptr::null_mut();
        // SAFETY: json.len() bytes, no NUL needed.
        let st = unsafe { sys::mmg_tokenizer_from_json(json.as_ptr() as *const _, json.len(), &mut out) };
        check(st, || "reading a tokenizer document".to_string())?;
        Ok(Tokenizer::from_raw(out))
    }

    /// The tokenizer as one self-contained JSON document (plugin, config,
    /// learned state).
    pub fn to_json(&self) -> Result<String> {
        let mut out = ptr::null_mut();
        let st = unsafe { sys::mmg_tokenizer_to_json(self.raw(), &mut out) };
        check(st, || "writing the tokenizer as JSON".to_string())?;
        Ok(unsafe { take_string(out) })
    }

    /// Learns the state (BPE merges, a codebook...) from sample documents.
    /// `MMG_ERR_UNSUPPORTED` when the plugin has nothing to learn.
    pub fn fit<D: AsRef<[u8]>>(&mut self, docs: &[D]) -> Result<()> {
        let ptrs: Vec<*const u8> = docs.iter().map(|d| d.as_ref().as_ptr()).collect();
        let sizes: Vec<usize> = docs.iter().map(|d| d.as_ref().len()).collect();
        // SAFETY: docs.len() pointers and sizes into borrowed slices.
        let st = unsafe { sys::mmg_tokenizer_fit(self.raw(), ptrs.as_ptr(), sizes.as_ptr(), docs.len()) };
        check(st, || "fitting the tokenizer".to_string())
    }

    /// The token ids of a document, each in `[0, vocab_size)`.
    pub fn encode(&self, doc: &[u8]) -> Result<Vec<i32>> {
        let (mut ids, mut n) = (ptr::null_mut(), 0usize);
        // SAFETY: doc.len() bytes; out-pointers.
        let st = unsafe { sys::mmg_tokenizer_encode(self.raw(), doc.as_ptr(), doc.len(), &mut ids, &mut n) };
        check(st, || "encoding".to_string())?;
        Ok(unsafe { take_vec(ids, n) })
    }

    /// The document (bytes) of token ids; `MMG_ERR_RANGE` naming an id
    /// outside the vocabulary and its position.
    pub fn decode(&self, ids: &[i32]) -> Result<Vec<u8>> {
        let (mut doc, mut n) = (ptr::null_mut(), 0usize);
        // SAFETY: ids.len() ids; out-pointers.
        let st = unsafe { sys::mmg_tokenizer_decode(self.raw(), ids.as_ptr(), ids.len(), &mut doc, &mut n) };
        check(st, || "decoding".to_string())?;
        Ok(unsafe { take_vec(doc, n) })
    }

    /// The number of ids, special tokens included (0 before `fit` or
    /// `load_state` when the vocabulary is learned).
    pub fn vocab_size(&self) -> i32 {
        unsafe { sys::mmg_tokenizer_vocab_size(self.raw()) }
    }

    /// The id of the special token `name` (`"bos"`, `"eos"`, `"pad"`, or a
    /// marker the plugin documents), `None` when it has none by that name.
    pub fn special_token(&self, name: &str) -> Result<Option<i32>> {
        let cname = cstring(name, "special token name")?;
        let mut id = -1i32;
        let st = unsafe { sys::mmg_tokenizer_special_token(self.raw(), cname.as_ptr(), &mut id) };
        if st == Status::NOT_FOUND.0 {
            return Ok(None);
        }
        check(st, || format!("special token {:?}", name))?;
        Ok(Some(id))
    }

    /// A readable description of token `id`, for inspection.
    pub fn describe_token(&self, id: i32) -> Result<String> {
        let mut out = ptr::null_mut();
        let st = unsafe { sys::mmg_tokenizer_describe_token(self.raw(), id, &mut out) };
        check(st, || format!("describing token {}", id))?;
        Ok(unsafe { take_string(out) })
    }

    /// The learned state, as `load_state` reads it.
    pub fn save_state(&self) -> Result<Vec<u8>> {
        let (mut out, mut n) = (ptr::null_mut(), 0usize);
        let st = unsafe { sys::mmg_tokenizer_save_state(self.raw(), &mut out, &mut n) };
        check(st, || "saving the tokenizer state".to_string())?;
        Ok(unsafe { take_vec(out, n) })
    }

    /// Restores a state written by `save_state`; `MMG_ERR_FORMAT` for a
    /// malformed one.
    pub fn load_state(&mut self, state: &[u8]) -> Result<()> {
        let st = unsafe { sys::mmg_tokenizer_load_state(self.raw(), state.as_ptr(), state.len()) };
        check(st, || "loading the tokenizer state".to_string())
    }

    /// The JSON config the tokenizer was created with, `None` for the
    /// plugin's defaults.
    pub fn config(&self) -> Option<String> {
        unsafe { borrowed_string(sys::mmg_tokenizer_config(self.raw())) }
    }

    /// The name of the tokenizer's plugin (`"text"`, ...).
    pub fn plugin_name(&self) -> String {
        unsafe { borrowed_string(sys::mmg_plugin_name(sys::mmg_tokenizer_plugin(self.raw()))) }.unwrap_or_default()
    }

    /// Whether the plugin offers the extension `id` for this tokenizer
    /// (`"mmgen.constraint/1"`, `"mmgen.stream_decode/1"`).
    pub fn has_extension(&self, id: &str) -> bool {
        match cstring(id, "extension id") {
            Ok(c) => unsafe { sys::mmg_tokenizer_has_extension(self.raw(), c.as_ptr()) != 0 },
            Err(_) => false,
        }
    }

    /// A stream decoding ids as they come without splitting a character
    /// (`MMG_ERR_UNSUPPORTED` when the plugin has no stream decoder). It
    /// borrows the tokenizer, which outlives it.
    pub fn decode_stream(&self) -> Result<DecodeStream<'_>> {
        let mut out = ptr::null_mut();
        let st = unsafe { sys::mmg_decode_stream_create(self.raw(), &mut out) };
        check(st, || "starting a decode stream".to_string())?;
        Ok(DecodeStream {
            ptr: NonNull::new(out)
                .ok_or_else(|| Error::new(Status::INTERNAL, "mmg_decode_stream_create returned NULL", ""))?,
            _tokenizer: PhantomData,
        })
    }
}

impl Drop for Tokenizer {
    fn drop(&mut self) {
        // SAFETY: live, dropped once; decode streams borrow it, so they are gone.
        unsafe { sys::mmg_tokenizer_free(self.ptr.as_ptr()) }
    }
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokenizer({}, {} ids)", self.plugin_name(), self.vocab_size())
    }
}

/// Incremental decoding (`mmg_decode_stream_*`): bytes out as ids come in,
/// a UTF-8 character split across tokens held back until complete.
pub struct DecodeStream<'t> {
    ptr: NonNull<sys::mmg_decode_stream>,
    _tokenizer: PhantomData<&'t Tokenizer>,
}

impl<'t> DecodeStream<'t> {
    /// Feeds more ids; returns the bytes they complete (possibly none).
    pub fn feed(&mut self, ids: &[i32]) -> Result<Vec<u8>> {
        let (mut out, mut n) = (ptr::null_mut(), 0usize);
        let st = unsafe { sys::mmg_decode_stream_feed(self.ptr.as_ptr(), ids.as_ptr(), ids.len(), &mut out, &mut n) };
        check(st, || "decoding a stream".to_string())?;
        Ok(unsafe { take_vec(out, n) })
    }

    /// Whatever is still held back (possibly an incomplete character).
    pub fn flush(&mut self) -> Result<Vec<u8>> {
        let (mut out, mut n) = (ptr::null_mut(), 0usize);
        let st = unsafe { sys::mmg_decode_stream_flush(self.ptr.as_ptr(), &mut out, &mut n) };
        check(st, || "flushing a decode stream".to_string())?;
        Ok(unsafe { take_vec(out, n) })
    }
}

impl Drop for DecodeStream<'_> {
    fn drop(&mut self) {
        unsafe { sys::mmg_decode_stream_free(self.ptr.as_ptr()) }
    }
}
