//! Models (mmgen/model.h), contexts (mmgen/context.h) and generation
//! (mmgen/sampling.h, mmgen/generate.h).
use std::any::Any;
use std::marker::PhantomData;
use std::mem;
use std::os::raw::{c_int, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::ptr::{self, NonNull};

use crate::error::{check, Error, Result, Status};
use crate::tokenizer::Tokenizer;
use crate::{borrowed_string, cstring, init, path_cstring, sys, take_string};

/// A model's architecture (`mmg_model_config`; ABI.md, "Transformer
/// models"). Enums are their C values (`norm_placement`: 0 post, 1 pre;
/// `activation`: 0 relu, 1 gelu, 2 gelu_tanh; `position_encoding`: 0
/// sinusoidal, 1 learned, 2 none). Read one with `Model::config`, or make
/// one with `ModelConfig::from_json` (missing keys take the library's
/// defaults), then change fields.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub struct ModelConfig {
    pub vocab_size: i32,
    pub d_model: i32,
    pub n_heads: i32,
    pub n_encoder_layers: i32,
    pub n_decoder_layers: i32,
    pub d_ff: i32,
    pub max_seq_len: i32,
    pub norm_placement: i32,
    pub final_norm: bool,
    pub activation: i32,
    pub position_encoding: i32,
    pub tied_output: bool,
    pub bias: bool,
    pub scale_embeddings: bool,
    pub layernorm_eps: f32,
    pub norm_bias: bool,
}

fn config_init() -> sys::mmg_model_config {
    // SAFETY: zeroed is a valid bit pattern for this plain-data mirror, and
    // the library fills exactly size_of bytes.
    unsafe {
        let mut c: sys::mmg_model_config = mem::zeroed();
        sys::mmg_model_config_init(&mut c, mem::size_of::<sys::mmg_model_config>());
        c
    }
}

impl ModelConfig {
    fn from_raw(c: &sys::mmg_model_config) -> ModelConfig {
        ModelConfig {
            vocab_size: c.vocab_size,
            d_model: c.d_model,
            n_heads: c.n_heads,
            n_encoder_layers: c.n_encoder_layers,
            n_decoder_layers: c.n_decoder_layers,
            d_ff: c.d_ff,
            max_seq_len: c.max_seq_len,
            norm_placement: c.norm_placement,
            final_norm: c.final_norm != 0,
            activation: c.activation,
            position_encoding: c.position_encoding,
            tied_output: c.tied_output != 0,
            bias: c.bias != 0,
            scale_embeddings: c.scale_embeddings != 0,
            layernorm_eps: c.layernorm_eps,
            norm_bias: c.norm_bias != 0,
        }
    }

    fn to_raw(&self) -> sys::mmg_model_config {
        let mut c = config_init();
        c.vocab_size = self.vocab_size;
        c.d_model = self.d_model;
        c.n_heads = self.n_heads;
        c.n_encoder_layers = self.n_encoder_layers;
        c.n_decoder_layers = self.n_decoder_layers;
        c.d_ff = self.d_ff;
        c.max_seq_len = self.max_seq_len;
        c.norm_placement = self.norm_placement;
        c.final_norm = self.final_norm as i32;
        c.activation = self.activation;
        c.position_encoding = self.position_encoding;
        c.tied_output = self.tied_output as i32;
        c.bias = self.bias as i32;
        c.scale_embeddings = self.scale_embeddings as i32;
        c.layernorm_eps = self.layernorm_eps;
        c.norm_bias = self.norm_bias as i32;
        c
    }

    /// Reads the JSON object of a model file's `mmgen.config` (every key
    /// optional: a missing one keeps the library's default), e.g.
    /// `{"vocab_size": 300, "d_model": 32, "n_heads": 2, "n_encoder_layers": 0}`.
    /// `MMG_ERR_CONFIG` names an unknown key or a bad value.
    pub fn from_json(json: &str) -> Result<ModelConfig> {
        init()?;
        let mut c = config_init();
        // SAFETY: json.len() bytes; c is a full mirror with struct_size set.
        let st = unsafe { sys::mmg_model_config_from_json(json.as_ptr() as *const _, json.len(), &mut c) };
        check(st, || "reading a model config".to_string())?;
        Ok(ModelConfig::from_raw(&c))
    }

    /// The config as the `mmgen.config` JSON object.
    pub fn to_json(&self) -> Result<String> {
        init()?;
        let c = self.to_raw();
        let mut out = ptr::null_mut();
        let st = unsafe { sys::mmg_model_config_to_json(&c, &mut out) };
        check(st, || "writing a model config".to_string())?;
        Ok(unsafe { take_string(out) })
    }

    /// Checks the config as `Model::create` does (`MMG_ERR_CONFIG` naming the
    /// field).
    pub fn validate(&self) -> Result<()> {
        init()?;
        let c = self.to_raw();
        check(unsafe { sys::mmg_model_config_validate(&c) }, || "checking a model config".to_string())
    }
}

/// One parameter tensor's name and shape (`mmg_param_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// e.g. `"decoder.layers.0.ff.fc1.weight"`
    pub name: String,
    /// row-major, e.g. `[d_ff, d_model]`
    pub shape: Vec<i64>,
    /// the product of the shape: the floats `read_param` returns
    pub n_elements: usize,
}

/// A transformer: weights, config and string metadata. Freed on drop.
///
/// A model is immutable once loaded and shared by any number of threads
/// (`Send + Sync`); what changes it (`write_param`, `set_metadata`, a
/// `Trainer`) takes `&mut self`, so no `Context` can compute with it then.
pub struct Model {
    ptr: NonNull<sys::mmg_model>,
}

// SAFETY: the library documents a model as immutable after load and safe to
// share between threads; every mutating call here takes &mut self.
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

fn model_options() -> sys::mmg_model_options {
    unsafe {
        let mut o: sys::mmg_model_options = mem::zeroed();
        sys::mmg_model_options_init(&mut o, mem::size_of::<sys::mmg_model_options>());
        o
    }
}

/// What a model keeps its linear layers' weights in (`mmg_weight_format`,
/// ABI.md "Quantized weights"), for [`Model::load_with_weights`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights {
    /// As the file stores them (a quantized file stays quantized).
    AsStored,
    /// Float32: a quantized file is dequantized (to train from it).
    F32,
    /// GGUF's Q8_0 blocks, for inference (ABI 1.3).
    Q8_0,
    /// GGUF's Q4_0 blocks, for inference (ABI 1.5).
    Q4_0,
    /// IEEE halves, computed as such, for inference (ABI 1.5).
    F16,
}

impl Weights {
    /// The `mmg_weight_format` value and the ABI minor that added it.
    fn raw(self) -> (i32, u32) {
        match self {
            Weights::AsStored => (0, 3),
            Weights::F32 => (1, 3),
            Weights::Q8_0 => (2, 3),
            Weights::Q4_0 => (3, 5),
            Weights::F16 => (4, 5),
        }
    }

    fn from_raw(value: i32) -> Option<Weights> {
        [Weights::F32, Weights::Q8_0, Weights::Q4_0, Weights::F16].into_iter().find(|w| w.raw().0 == value)
    }

    /// The value of a format bytes are in (not `AsStored`).
    fn stored(self, doing: &str) -> Result<i32> {
        if self == Weights::AsStored {
            return Err(Error::new(
                Status::INVALID_ARG,
                "bytes are F32, Q8_0, Q4_0 or F16, not AsStored".to_string(),
                doing.to_string(),
            ));
        }
        Ok(self.raw().0)
    }
}

/// `Status::UNSUPPORTED` unless the library serves ABI 1.6 (weights as
/// bytes, the quantized token embedding).
fn need_abi_1_6(doing: &str) -> Result<()> {
    init()?;
    // SAFETY: no arguments; any 1.x library has it.
    if unsafe { sys::mmg_abi_compatible(1, 6) } == 0 {
        return Err(Error::new(Status::UNSUPPORTED, "this needs libmmgen ABI 1.6".to_string(), doing.to_string()));
    }
    Ok(())
}

/// Bytes that `n_elements` weights take in `format` (Q8_0 / Q4_0 in blocks
/// of 32); 0 when n_elements is not whole blocks (`mmg_weights_size`, ABI 1.6).
pub fn weights_size(format: Weights, n_elements: u64) -> Result<u64> {
    need_abi_1_6("weights_size")?;
    let value = format.stored("weights_size")?;
    // SAFETY: plain values.
    Ok(unsafe { sys::mmg_weights_size(value, n_elements) })
}

/// `values` in `format` as bytes: the layout of GGUF tensors and of mmgen's
/// files, made by the library's own quantizer (`mmg_quantize`, ABI 1.6).
/// `Status::INVALID_ARG` for a count that is not whole blocks,
/// `Status::NUMERIC` for a value the format cannot hold.
pub fn quantize(values: &[f32], format: Weights) -> Result<Vec<u8>> {
    need_abi_1_6("quantizing")?;
    let value = format.stored("quantizing")?;
    let n = values.len() as u64;
    // SAFETY: plain values.
    let size = unsafe { sys::mmg_weights_size(value, n) } as usize;
    let mut out = vec![0u8; size.max(1)]; // 0: the library names the problem
    let one = [0f32];
    let src = if values.is_empty() { one.as_ptr() } else { values.as_ptr() };
    // SAFETY: n readable floats (or a valid address for none), size writable bytes.
    let st = unsafe { sys::mmg_quantize(value, src, n, out.as_mut_ptr() as *mut c_void, size) };
    check(st, || format!("quantizing {} values to {:?}", n, format))?;
    out.truncate(size);
    Ok(out)
}

/// The `n_elements` floats that `data` (bytes of `format`, as [`quantize`]
/// and [`Model::read_param_data`] give them) holds (`mmg_dequantize`, ABI 1.6).
pub fn dequantize(data: &[u8], format: Weights, n_elements: usize) -> Result<Vec<f32>> {
    need_abi_1_6("dequantizing")?;
    let value = format.stored("dequantizing")?;
    let mut out = vec![0f32; n_elements.max(1)];
    let one = [0u8];
    let src = if data.is_empty() { one.as_ptr() } else { data.as_ptr() };
    // SAFETY: data.len() readable bytes (or a valid address for none), n_elements writable floats.
    let st =
        unsafe { sys::mmg_dequantize(value, src as *const c_void, data.len(), out.as_mut_ptr(), n_elements as u64) };
    check(st, || format!("dequantizing {} bytes of {:?}", data.len(), format))?;
    out.truncate(n_elements);
    Ok(out)
}

impl Model {
    fn from_raw(p: *mut sys::mmg_model) -> Model {
        Model { ptr: NonNull::new(p).expect("the library returned MMG_OK and a NULL model") }
    }

    pub(crate) fn raw(&self) -> *mut sys::mmg_model {
        self.ptr.as_ptr()
    }

    /// Loads a safetensors model (`mmgen train`'s output, or `save`).
    /// `MMG_ERR_IO` when the file cannot be read (the message names it),
    /// `MMG_ERR_FORMAT` for a malformed one.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        init()?;
        let path = path.as_ref();
        let c = path_cstring(path)?;
        let mut out = ptr::null_mut();
        // SAFETY: a path string, NULL options (defaults), an out-pointer.
        let st = unsafe { sys::mmg_model_load(c.as_ptr(), ptr::null(), &mut out) };
        check(st, || format!("loading {}", path.display()))?;
        Ok(Model::from_raw(out))
    }

    /// Loads a model file keeping its linear layers' weights in `weights`:
    /// `Weights::Q8_0`, `Q4_0` or `F16` quantize an F32 file while reading it
    /// (as `mmgen quantize` does), `Weights::F32` dequantizes a quantized
    /// one. A quantized model is for inference: `write_param` refuses its
    /// quantized tensors. `Status::UNSUPPORTED` when the library predates
    /// the format.
    pub fn load_with_weights(path: impl AsRef<Path>, weights: Weights) -> Result<Model> {
        Model::load_quantized(path, weights, false)
    }

    /// [`Model::load_with_weights`], and with `quantize_embedding` a
    /// quantized model keeps its token embedding in that type too, as GGUF
    /// files do (`mmg_model_options.quantize_embedding`, ABI 1.6; ignored
    /// for F32 models).
    pub fn load_quantized(path: impl AsRef<Path>, weights: Weights, quantize_embedding: bool) -> Result<Model> {
        init()?;
        let path = path.as_ref();
        let (value, minor) = weights.raw();
        // SAFETY: no arguments; any 1.x library has it.
        if unsafe { sys::mmg_abi_compatible(1, minor) } == 0 {
            return Err(Error::new(
                Status::UNSUPPORTED,
                format!("{:?} weights need libmmgen ABI 1.{}", weights, minor),
                format!("loading {}", path.display()),
            ));
        }
        let c = path_cstring(path)?;
        let mut out = ptr::null_mut();
        let st = if quantize_embedding {
            // The 1.6 struct only then: an older library never gets a
            // struct larger than its own.
            need_abi_1_6(&format!("loading {}", path.display()))?;
            crate::layout::check_fields(
                "mmg_model_options",
                &[("quantize_embedding", crate::offset_of!(sys::mmg_model_options_16, quantize_embedding))],
            )?;
            // SAFETY: zeroed, then filled by the library's init with its size.
            let mut o: sys::mmg_model_options_16 = unsafe { mem::zeroed() };
            unsafe {
                sys::mmg_model_options_init(
                    &mut o as *mut sys::mmg_model_options_16 as *mut sys::mmg_model_options,
                    mem::size_of::<sys::mmg_model_options_16>(),
                )
            };
            o.base.weights = value;
            o.quantize_embedding = 1;
            // SAFETY: a path string, initialised 1.6 options (struct_size says so), an out-pointer.
            unsafe { sys::mmg_model_load(c.as_ptr(), &o.base, &mut out) }
        } else {
            let mut o = model_options();
            o.weights = value;
            // SAFETY: a path string, initialised options, an out-pointer.
            unsafe { sys::mmg_model_load(c.as_ptr(), &o, &mut out) }
        };
        check(st, || format!("loading {}", path.display()))?;
        Ok(Model::from_raw(out))
    }

    /// Loads a model from the bytes of a safetensors file in memory; the
    /// model keeps no reference to them.
    pub fn load_from_memory(data: &[u8]) -> Result<Model> {
        init()?;
        let mut out = ptr::null_mut();
        // SAFETY: data.len() readable bytes; the library copies what it keeps.
        let st =
            unsafe { sys::mmg_model_load_memory(data.as_ptr() as *const c_void, data.len(), ptr::null(), &mut out) };
        check(st, || "loading a model from memory".to_string())?;
        Ok(Model::from_raw(out))
    }

    /// A model with random weights (seeded: the same seed gives the same
    /// weights on every machine).
    pub fn create(config: &ModelConfig, seed: u64) -> Result<Model> {
        init()?;
        let c = config.to_raw();
        let mut o = model_options();
        o.seed = seed;
        let mut out = ptr::null_mut();
        let st = unsafe { sys::mmg_model_create(&c, &o, &mut out) };
        check(st, || "creating a model".to_string())?;
        Ok(Model::from_raw(out))
    }

    /// Writes the model (F32) with its config and metadata to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let c = path_cstring(path)?;
        check(unsafe { sys::mmg_model_save(self.raw(), c.as_ptr()) }, || format!("saving {}", path.display()))
    }

    /// The architecture.
    pub fn config(&self) -> Result<ModelConfig> {
        let mut c = config_init();
        check(unsafe { sys::mmg_model_get_config(self.raw(), &mut c) }, || "reading the config".to_string())?;
        Ok(ModelConfig::from_raw(&c))
    }

    /// The number of parameters (floats).
    pub fn n_params(&self) -> u64 {
        unsafe { sys::mmg_model_n_params(self.raw()) }
    }

    // ---- metadata ----------------------------------------------------------

    /// The metadata value of `key`, `None` when absent.
    pub fn metadata(&self, key: &str) -> Result<Option<String>> {
        let k = cstring(key, "metadata key")?;
        let mut v = ptr::null();
        let st = unsafe { sys::mmg_model_get_metadata(self.raw(), k.as_ptr(), &mut v) };
        if st == Status::NOT_FOUND.0 {
            return Ok(None);
        }
        check(st, || format!("reading metadata {:?}", key))?;
        Ok(unsafe { borrowed_string(v) })
    }

    /// Sets (`Some`) or removes (`None`) metadata `key`; saved by `save`.
    pub fn set_metadata(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        let k = cstring(key, "metadata key")?;
        let v = match value {
            Some(v) => Some(cstring(v, "metadata value")?),
            None => None,
        };
        let st = unsafe {
            sys::mmg_model_set_metadata(self.raw(), k.as_ptr(), v.as_ref().map_or(ptr::null(), |v| v.as_ptr()))
        };
        check(st, || format!("setting metadata {:?}", key))
    }

    /// The metadata keys, in the order they were first set or found.
    pub fn metadata_keys(&self) -> Vec<String> {
        let n = unsafe { sys::mmg_model_metadata_count(self.raw()) };
        (0..n).filter_map(|i| unsafe { borrowed_string(sys::mmg_model_metadata_key_at(self.raw(), i)) }).collect()
    }

    fn tokenizer_at(&self, key: &str) -> Result<Option<Tokenizer>> {
        let k = cstring(key, "metadata key")?;
        let mut out = ptr::null_mut();
        let st = unsafe { sys::mmg_model_tokenizer(self.raw(), k.as_ptr(), &mut out) };
        if st == Status::NOT_FOUND.0 {
            return Ok(None);
        }
        check(st, || format!("restoring the model's tokenizer {:?}", key))?;
        Ok(Some(Tokenizer::from_raw(out)))
    }

    /// A new tokenizer restored from the model's `mmgen.tokenizer` metadata,
    /// `None` when the model carries none.
    pub fn tokenizer(&self) -> Result<Option<Tokenizer>> {
        self.tokenizer_at("mmgen.tokenizer")
    }

    /// An encoder-decoder's source tokenizer (`mmgen.source_tokenizer`), if any.
    pub fn source_tokenizer(&self) -> Result<Option<Tokenizer>> {
        self.tokenizer_at("mmgen.source_tokenizer")
    }

    /// Stores `tokenizer` as the model's `mmgen.tokenizer` metadata.
    pub fn set_tokenizer(&mut self, tokenizer: &Tokenizer) -> Result<()> {
        let st = unsafe { sys::mmg_model_set_tokenizer(self.raw(), ptr::null(), tokenizer.raw()) };
        check(st, || "storing the tokenizer in the model".to_string())
    }

    // ---- parameters ----------------------------------------------------------

    /// The number of parameter tensors.
    pub fn param_count(&self) -> usize {
        unsafe { sys::mmg_model_param_count(self.raw()) }
    }

    /// Parameter `index` (0 .. param_count); `MMG_ERR_RANGE` past the last.
    pub fn param_info(&self, index: usize) -> Result<ParamInfo> {
        // SAFETY: a zeroed mirror with struct_size set; the name the library
        // writes points into the model, copied before `self` can go.
        unsafe {
            let mut info: sys::mmg_param_info = mem::zeroed();
            info.struct_size = mem::size_of::<sys::mmg_param_info>();
            check(sys::mmg_model_param_info(self.raw(), index, &mut info), || format!("parameter {}", index))?;
            let n = (info.n_dims.max(0) as usize).min(sys::MMG_PARAM_MAX_DIMS);
            Ok(ParamInfo {
                name: borrowed_string(info.name).unwrap_or_default(),
                shape: info.shape[..n].to_vec(),
                n_elements: info.n_elements as usize,
            })
        }
    }

    /// Every parameter tensor, in the order files store them.
    pub fn params(&self) -> Result<Vec<ParamInfo>> {
        (0..self.param_count()).map(|i| self.param_info(i)).collect()
    }

    /// The index of parameter `name`; `MMG_ERR_NOT_FOUND` names it.
    pub fn find_param(&self, name: &str) -> Result<usize> {
        let c = cstring(name, "parameter name")?;
        let mut index = 0usize;
        let st = unsafe { sys::mmg_model_param_find(self.raw(), c.as_ptr(), &mut index) };
        check(st, || format!("finding parameter {:?}", name))?;
        Ok(index)
    }

    /// A copy of parameter `name` (row-major floats).
    pub fn read_param(&self, name: &str) -> Result<Vec<f32>> {
        let info = self.param_info(self.find_param(name)?)?;
        let mut v = vec![0f32; info.n_elements];
        self.read_param_into(name, &mut v)?;
        Ok(v)
    }

    /// Parameter `name` as the model stores it: its format (`F32`, or for a
    /// quantized model's linear weights and token embedding `Q8_0`, `Q4_0`
    /// or `F16`) and its bytes in the layout of GGUF tensors ([`dequantize`]
    /// turns them into floats). `mmg_model_read_param_data`, ABI 1.6.
    pub fn read_param_data(&self, name: &str) -> Result<(Weights, Vec<u8>)> {
        need_abi_1_6("read_param_data")?;
        crate::layout::check_fields(
            "mmg_param_info",
            &[
                ("weights", crate::offset_of!(sys::mmg_param_info_16, weights)),
                ("n_bytes", crate::offset_of!(sys::mmg_param_info_16, n_bytes)),
            ],
        )?;
        let index = self.find_param(name)?;
        // SAFETY: zeroed plain data; struct_size tells the library it may fill the 1.6 fields.
        let mut info: sys::mmg_param_info_16 = unsafe { mem::zeroed() };
        info.base.struct_size = mem::size_of::<sys::mmg_param_info_16>();
        let st = unsafe {
            sys::mmg_model_param_info(
                self.raw(),
                index,
                &mut info as *mut sys::mmg_param_info_16 as *mut sys::mmg_param_info,
            )
        };
        check(st, || format!("parameter {:?}", name))?;
        let size = info.n_bytes as usize;
        let mut out = vec![0u8; size.max(1)];
        let c = cstring(name, "parameter name")?;
        // SAFETY: a model, a name, size writable bytes.
        let st =
            unsafe { sys::mmg_model_read_param_data(self.raw(), c.as_ptr(), out.as_mut_ptr() as *mut c_void, size) };
        check(st, || format!("reading parameter {:?}", name))?;
        out.truncate(size);
        let format = Weights::from_raw(info.weights).ok_or_else(|| {
            Error::new(
                Status::UNSUPPORTED,
                format!("stored format {} is not known here", info.weights),
                name.to_string(),
            )
        })?;
        Ok((format, out))
    }

    /// Copies parameter `name` into `dst`, which must hold exactly its
    /// element count (else `MMG_ERR_RANGE`, the message giving the shape).
    pub fn read_param_into(&self, name: &str, dst: &mut [f32]) -> Result<()> {
        let c = cstring(name, "parameter name")?;
        let st = unsafe { sys::mmg_model_read_param(self.raw(), c.as_ptr(), dst.as_mut_ptr(), dst.len()) };
        check(st, || format!("reading parameter {:?}", name))
    }

    /// Overwrites parameter `name` with `src` (exactly its element count,
    /// else `MMG_ERR_RANGE` naming the shape; the model unchanged). Values
    /// are stored as given, NaN included (see `ContextOptions::check_finite`).
    pub fn write_param(&mut self, name: &str, src: &[f32]) -> Result<()> {
        let c = cstring(name, "parameter name")?;
        let st = unsafe { sys::mmg_model_write_param(self.raw(), c.as_ptr(), src.as_ptr(), src.len()) };
        check(st, || format!("writing parameter {:?}", name))
    }

    // ---- computing -----------------------------------------------------------

    /// A context (KV caches, scratch, threads) computing with this model.
    pub fn context(&self, options: &ContextOptions) -> Result<Context<'_>> {
        let o = options.to_raw();
        let mut out = ptr::null_mut();
        let st = unsafe { sys::mmg_context_create(self.raw(), &o, &mut out) };
        check(st, || "creating a context".to_string())?;
        Ok(Context {
            ptr: NonNull::new(out).expect("mmg_context_create returned MMG_OK and NULL"),
            _model: PhantomData,
        })
    }

    /// Generates after `prompt` in a context made for this call (default
    /// `ContextOptions`); see `Context::generate`.
    pub fn generate(&self, prompt: &[i32], options: &GenerateOptions<'_>) -> Result<Vec<i32>> {
        self.context(&ContextOptions::default())?.generate(prompt, options)
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: live and dropped once; contexts and trainers borrow the
        // model, so none is left.
        unsafe { sys::mmg_model_free(self.ptr.as_ptr()) }
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Model({} params)", self.n_params())
    }
}

/// How a context is made (`mmg_context_options`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContextOptions {
    /// 0: `$MMGEN_NUM_THREADS`, else the cores. Results do not depend on it.
    pub n_threads: i32,
    /// Sequences with their own KV cache; 0: the default, 1.
    pub n_slots: i32,
    /// Cache length per slot; 0: the model's max_seq_len.
    pub max_seq_len: i32,
    /// Bytes for caches and scratch; 0: the machine's memory.
    pub memory_limit: u64,
    /// Check every logit: NaN or infinity fails with `MMG_ERR_NUMERIC`
    /// naming the slot, position and token id (ABI 1.3).
    pub check_finite: bool,
}

impl ContextOptions {
    fn to_raw(&self) -> sys::mmg_context_options {
        unsafe {
            let mut o: sys::mmg_context_options = mem::zeroed();
            sys::mmg_context_options_init(&mut o, mem::size_of::<sys::mmg_context_options>());
            o.n_threads = self.n_threads;
            if self.n_slots != 0 {
                o.n_slots = self.n_slots;
            }
            o.max_seq_len = self.max_seq_len;
            o.memory_limit = self.memory_limit;
            o.check_finite = self.check_finite as i32;
            o
        }
    }
}

/// How the next token is picked (`mmg_sampling_options`; the order of the
/// steps is in mmgen/sampling.h). `Default` is the library's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampling {
    /// 0 = greedy; default 1.
    pub temperature: f32,
    /// Keep the k most likely; 0 = off (default).
    pub top_k: i32,
    /// Nucleus; 1 = off (default).
    pub top_p: f32,
    /// Drop p < min_p * p_max; 0 = off (default).
    pub min_p: f32,
    /// CTRL penalty; 1 = off (default).
    pub repetition_penalty: f32,
    /// Recent tokens the penalty sees; 0 = all; default 64.
    pub repetition_window: i32,
    /// The random seed (default 0).
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Sampling {
        Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            repetition_window: 64,
            seed: 0,
        }
    }
}

impl Sampling {
    fn to_raw(&self) -> sys::mmg_sampling_options {
        unsafe {
            let mut o: sys::mmg_sampling_options = mem::zeroed();
            sys::mmg_sampling_options_init(&mut o, mem::size_of::<sys::mmg_sampling_options>());
            o.temperature = self.temperature;
            o.top_k = self.top_k;
            o.top_p = self.top_p;
            o.min_p = self.min_p;
            o.repetition_penalty = self.repetition_penalty;
            o.repetition_window = self.repetition_window;
            o.seed = self.seed;
            o
        }
    }
}

/// What `generate` does: sampling, length, end and start tokens, an
/// encoder-decoder's source, a tokenizer's constraint. Built with
/// `GenerateOptions::new(max_new_tokens)` and the setters below.
#[derive(Clone, Debug)]
pub struct GenerateOptions<'a> {
    /// Sampling options, seed included.
    pub sampling: Sampling,
    /// At most this many new tokens (>= 1).
    pub max_new_tokens: i32,
    /// Stop after sampling it (it is kept as the last token).
    pub end_token: Option<i32>,
    /// The prompt when the prompt is empty.
    pub start_token: Option<i32>,
    /// An encoder-decoder model's source ids.
    pub source: Option<&'a [i32]>,
    /// Let this tokenizer's constraint (`"mmgen.constraint/1"`) decide which
    /// tokens may come next.
    pub constraint: Option<&'a Tokenizer>,
}

impl<'a> GenerateOptions<'a> {
    /// Up to `max_new_tokens` tokens, library default sampling, seed 0.
    pub fn new(max_new_tokens: i32) -> GenerateOptions<'a> {
        GenerateOptions {
            sampling: Sampling::default(),
            max_new_tokens,
            end_token: None,
            start_token: None,
            source: None,
            constraint: None,
        }
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.sampling.seed = seed;
        self
    }
    /// Sets the temperature (0 = greedy).
    pub fn temperature(mut self, t: f32) -> Self {
        self.sampling.temperature = t;
        self
    }
    /// Sets top-k (0 = off).
    pub fn top_k(mut self, k: i32) -> Self {
        self.sampling.top_k = k;
        self
    }
    /// Sets top-p (1 = off).
    pub fn top_p(mut self, p: f32) -> Self {
        self.sampling.top_p = p;
        self
    }
    /// Sets min-p (0 = off).
    pub fn min_p(mut self, p: f32) -> Self {
        self.sampling.min_p = p;
        self
    }
    /// Sets the repetition penalty and its window (0 = all tokens).
    pub fn repetition_penalty(mut self, penalty: f32, window: i32) -> Self {
        self.sampling.repetition_penalty = penalty;
        self.sampling.repetition_window = window;
        self
    }
    /// Stops after this token (e.g. the tokenizer's `"eos"`).
    pub fn end_token(mut self, id: i32) -> Self {
        self.end_token = Some(id);
        self
    }
    /// Starts from this token when the prompt is empty (e.g. `"bos"`).
    pub fn start_token(mut self, id: i32) -> Self {
        self.start_token = Some(id);
        self
    }
    /// An encoder-decoder's source ids.
    pub fn source(mut self, ids: &'a [i32]) -> Self {
        self.source = Some(ids);
        self
    }
    /// Constrains generation with the tokenizer's constraint extension.
    pub fn constraint(mut self, tokenizer: &'a Tokenizer) -> Self {
        self.constraint = Some(tokenizer);
        self
    }
}

/// A context computing with a borrowed `Model`: its KV caches and threads.
/// One thread at a time (`Send`, not `Sync`); freed on drop.
pub struct Context<'m> {
    ptr: NonNull<sys::mmg_context>,
    _model: PhantomData<&'m Model>,
}

// SAFETY: [one thread per object]; the model it borrows is Sync.
unsafe impl Send for Context<'_> {}

struct TokenSink<'f> {
    on_token: &'f mut dyn FnMut(i32) -> bool,
    made: Vec<i32>,
    stopped: bool,
    panic: Option<Box<dyn Any + Send + 'static>>,
}

unsafe extern "C" fn on_token_trampoline(user_data: *mut c_void, _sequence: i32, _index: i32, token: i32) -> c_int {
    // SAFETY: user_data is the TokenSink that generate_with keeps alive
    // across mmg_generate, used by this thread only.
    let sink = &mut *(user_data as *mut TokenSink<'_>);
    sink.made.push(token);
    let f = &mut sink.on_token;
    // A panic must not unwind through C: keep it and rethrow after the call.
    match panic::catch_unwind(AssertUnwindSafe(|| f(token))) {
        Ok(true) => 0,
        Ok(false) => {
            sink.stopped = true;
            Status::CANCELLED.0
        }
        Err(p) => {
            sink.panic = Some(p);
            Status::CANCELLED.0
        }
    }
}

fn len_i32(n: usize, what: &str) -> Result<i32> {
    if n > i32::MAX as usize {
        Err(Error::new(Status::RANGE, format!("the {} is {} tokens, more than an int32", what, n), "generating"))
    } else {
        Ok(n as i32)
    }
}

impl<'m> Context<'m> {
    /// The thread count it computes with.
    pub fn n_threads(&self) -> i32 {
        unsafe { sys::mmg_context_threads(self.ptr.as_ptr()) }
    }

    /// The cache length per slot: the longest source or prompt + output.
    pub fn max_seq_len(&self) -> i32 {
        unsafe { sys::mmg_context_max_seq_len(self.ptr.as_ptr()) }
    }

    /// Generates up to `options.max_new_tokens` ids after `prompt` (no bos
    /// added) and returns them; a sampled end token is the last one. The
    /// seed is the sequence's own, so the same prompt, seed and options give
    /// the same ids as `mmgen generate --prompt-ids ... --ids --seed S
    /// --no-constraint` with those sampling settings.
    pub fn generate(&mut self, prompt: &[i32], options: &GenerateOptions<'_>) -> Result<Vec<i32>> {
        self.generate_with(prompt, options, |_| true)
    }

    /// As `generate`, calling `on_token(id)` for each id as it is sampled;
    /// returning `false` stops generation there (the ids so far, that one
    /// included, are returned). A panic in `on_token` stops generation and
    /// is resumed once the library has returned.
    pub fn generate_with<F: FnMut(i32) -> bool>(
        &mut self,
        prompt: &[i32],
        options: &GenerateOptions<'_>,
        mut on_token: F,
    ) -> Result<Vec<i32>> {
        if options.max_new_tokens < 1 {
            return Err(Error::new(
                Status::INVALID_ARG,
                format!("max_new_tokens must be >= 1, not {}", options.max_new_tokens),
                "generating",
            ));
        }
        let sampling = options.sampling.to_raw();
        let mut sink = TokenSink { on_token: &mut on_token, made: Vec::new(), stopped: false, panic: None };
        // SAFETY: a zeroed mirror filled by its init; every pointer stored
        // in it (sampling, the tokenizer, the sink) outlives mmg_generate.
        let mut go: sys::mmg_generate_options = unsafe { mem::zeroed() };
        unsafe { sys::mmg_generate_options_init(&mut go, mem::size_of::<sys::mmg_generate_options>()) };
        go.sampling = &sampling;
        go.max_new_tokens = options.max_new_tokens;
        go.end_token = options.end_token.unwrap_or(-1);
        go.start_token = options.start_token.unwrap_or(-1);
        if let Some(tok) = options.constraint {
            go.constraint = Some(sys::mmg_tokenizer_mask_cb);
            go.constraint_user_data = tok.raw() as *mut c_void;
        }
        go.on_token = Some(on_token_trampoline);
        go.on_token_user_data = &mut sink as *mut TokenSink<'_> as *mut c_void;

        let prompts = [prompt.as_ptr()];
        let prompt_len = [len_i32(prompt.len(), "prompt")?];
        let (sources, source_len) = match options.source {
            Some(s) => ([s.as_ptr()], [len_i32(s.len(), "source")?]),
            None => ([ptr::null()], [0]),
        };
        let seeds = [options.sampling.seed];
        let mut out = vec![0i32; options.max_new_tokens as usize];
        let mut out_len = [0i32];
        let st = unsafe {
            sys::mmg_generate(
                self.ptr.as_ptr(),
                &go,
                1,
                if options.source.is_some() { sources.as_ptr() } else { ptr::null() },
                if options.source.is_some() { source_len.as_ptr() } else { ptr::null() },
                prompts.as_ptr(),
                prompt_len.as_ptr(),
                seeds.as_ptr(),
                out.as_mut_ptr(),
                out_len.as_mut_ptr(),
            )
        };
        if let Some(p) = sink.panic.take() {
            panic::resume_unwind(p);
        }
        if st == Status::CANCELLED.0 && sink.stopped {
            return Ok(sink.made);
        }
        check(st, || "generating".to_string())?;
        out.truncate(out_len[0].max(0) as usize);
        Ok(out)
    }
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        unsafe { sys::mmg_context_free(self.ptr.as_ptr()) }
    }
}
