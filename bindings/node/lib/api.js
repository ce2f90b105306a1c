'use strict';
// The classes of the mmgen module: Plugin, Tokenizer, Model.
//
// Each wraps one C object and frees it exactly once: on close() (later calls
// do nothing), at the end of a `using` block (Symbol.dispose, where the
// runtime has it), or never if forgotten - there is no finalizer, so close
// what you open. A Model closes its tokenizer and context before itself.
//
// Weights cross the boundary by copy (ABI.md, "Bindings"): readParam returns
// a new Float32Array; writeParam copies the values it is given.
const koffi = require('koffi');
const L = require('./library.js');
const S = require('./structs.js');

const { Status, MmgenError, check } = L;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function asBuffer(data) {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  throw new TypeError('expected a Buffer, a typed array or a string');
}

/** An Int32Array of token ids, or MmgenError(MMG_ERR_RANGE) naming the first
 * id that is not an int32. */
function idsArray(ids, what = 'token id') {
  const list = Array.from(ids);
  list.forEach((t, i) => {
    if (!Number.isInteger(t) || t < INT32_MIN || t > INT32_MAX) {
      throw new MmgenError(Status.MMG_ERR_RANGE, `${what} ${t} (position ${i}) is not an int32`);
    }
  });
  return Int32Array.from(list);
}

/** Copies `size` bytes at `ptr` (from the library's allocator) and frees them. */
function takeBytes(lib, ptr, size) {
  try {
    return size ? Buffer.from(new Uint8Array(koffi.view(ptr, size))) : Buffer.alloc(0);
  } finally {
    if (ptr) lib.mmg_free(ptr);
  }
}

function takeString(lib, ptr) {
  try {
    return koffi.decode.string(ptr);
  } finally {
    lib.mmg_free(ptr);
  }
}

/** A struct mirror in C memory, filled by the library's *_init function with
 * koffi.sizeof(mirror) as struct_size. Returns [pointer, JS object]. */
function initStruct(type, init) {
  const p = koffi.alloc(type, 1);
  init(p, koffi.sizeof(type));
  return [p, koffi.decode(p, type)];
}

/** One C object; `freeName` names the C function that releases it. */
class Handle {
  constructor(lib, handle, freeName) {
    this._lib = lib;
    this._h = handle;
    this._free = freeName;
  }

  get closed() {
    return !this._h;
  }

  _handle() {
    if (!this._h) throw new MmgenError(Status.MMG_ERR_STATE, `${this.constructor.name} is closed`);
    return this._h;
  }

  /** Frees the C object; later calls do nothing. */
  close() {
    const h = this._h;
    this._h = null;
    if (h) this._lib[this._free](h);
  }
}
if (typeof Symbol.dispose === 'symbol') {
  Handle.prototype[Symbol.dispose] = function dispose() { this.close(); };
}

/** An open modality plugin (mmgen/plugin_host.h). */
class Plugin extends Handle {
  /** Opens a plugin by name ("text": $MMGEN_PLUGIN_PATH, then the install
   * directory) or by path. */
  static open(nameOrPath, lib = L.get()) {
    const out = [null];
    check(lib, lib.mmg_plugin_open(String(nameOrPath), out), `opening plugin '${nameOrPath}'`);
    return new Plugin(lib, out[0], 'mmg_plugin_close');
  }

  get name() { return this._lib.mmg_plugin_name(this._handle()); }
  get version() { return this._lib.mmg_plugin_version(this._handle()); }
  get path() { return this._lib.mmg_plugin_path(this._handle()); }
  /** "text", "code", "image", "audio" or "other". */
  get modality() { return this._lib.mmg_modality_name(this._lib.mmg_plugin_modality(this._handle())); }

  tokenizer(config) { return Tokenizer.create(this, config); }
}

/** A tokenizer instance of a plugin (mmgen/tokenizer.h). */
class Tokenizer extends Handle {
  constructor(lib, handle) {
    super(lib, handle, 'mmg_tokenizer_free');
  }

  /** A tokenizer of `plugin` (a Plugin, or a name/path to open) with `config`
   * (an object, JSON text, or undefined/null for the plugin's defaults). */
  static create(plugin, config, lib) {
    if (!(plugin instanceof Plugin)) {
      const p = Plugin.open(plugin, lib || L.get());
      try {
        return Tokenizer.create(p, config); // the tokenizer keeps the module loaded
      } finally {
        p.close();
      }
    }
    const text = config == null ? null : typeof config === 'string' ? config : JSON.stringify(config);
    const out = [null];
    check(plugin._lib, plugin._lib.mmg_tokenizer_create(plugin._handle(), text, out),
      `creating a ${plugin.name} tokenizer`);
    return new Tokenizer(plugin._lib, out[0]);
  }

  /** Restores a tokenizer from the document toJson() writes. */
  static fromJson(text, lib = L.get()) {
    const data = asBuffer(text);
    const out = [null];
    check(lib, lib.mmg_tokenizer_from_json(data, data.length, out), 'reading a tokenizer document');
    return new Tokenizer(lib, out[0]);
  }

  /** The tokenizer as a JSON document (plugin, config, state): a string. */
  toJson() {
    const out = [null];
    check(this._lib, this._lib.mmg_tokenizer_to_json(this._handle(), out), 'writing the tokenizer as JSON');
    return takeString(this._lib, out[0]);
  }

  /** Learns the tokenizer's state from sample documents (Buffers or strings). */
  fit(docs) {
    const bufs = Array.from(docs, asBuffer);
    // void *docs[n] and size_t sizes[n], built in C memory for the call.
    const ptrs = koffi.alloc('void *', Math.max(bufs.length, 1));
    const sizes = koffi.alloc('size_t', Math.max(bufs.length, 1));
    const copies = bufs.map((b) => {
      const p = koffi.alloc('uint8_t', Math.max(b.length, 1));
      if (b.length) new Uint8Array(koffi.view(p, b.length)).set(b);
      return p;
    });
    try {
      koffi.encode(ptrs, koffi.array('void *', bufs.length), copies);
      koffi.encode(sizes, koffi.array('size_t', bufs.length), bufs.map((b) => b.length));
      check(this._lib, this._lib.mmg_tokenizer_fit(this._handle(), ptrs, sizes, bufs.length),
        'fitting the tokenizer');
    } finally {
      copies.forEach((p) => koffi.free(p));
      koffi.free(ptrs);
      koffi.free(sizes);
    }
    return this;
  }

  /** Token ids (an Array of numbers) of a document (a Buffer; a string is
   * encoded as UTF-8). */
  encode(data) {
    const buf = asBuffer(data);
    const ids = [null];
    const n = [null];
    check(this._lib, this._lib.mmg_tokenizer_encode(this._handle(), buf, buf.length, ids, n), 'encoding');
    try {
      return n[0] ? Array.from(koffi.decode(ids[0], 'int32_t', n[0])) : [];
    } finally {
      if (ids[0]) this._lib.mmg_free(ids[0]);
    }
  }

  /** The document (a Buffer) of token ids; MMG_ERR_RANGE for an id outside
   * the vocabulary. */
  decode(ids) {
    const arr = idsArray(ids);
    const out = [null];
    const size = [null];
    check(this._lib, this._lib.mmg_tokenizer_decode(this._handle(), arr, arr.length, out, size), 'decoding');
    return takeBytes(this._lib, out[0], size[0]);
  }

  get vocabSize() {
    return this._lib.mmg_tokenizer_vocab_size(this._handle());
  }

  /** The id of a special token ("bos", "eos", "pad", ...), or null when the
   * tokenizer has none by that name. */
  specialToken(name) {
    const id = [-1];
    const st = this._lib.mmg_tokenizer_special_token(this._handle(), String(name), id);
    if (st === Status.MMG_ERR_NOT_FOUND) return null;
    check(this._lib, st, `special token '${name}'`);
    return id[0];
  }

  /** The config the tokenizer was made with (an object), or null. */
  get config() {
    const c = this._lib.mmg_tokenizer_config(this._handle());
    return c ? JSON.parse(c) : null;
  }

  get pluginName() {
    return this._lib.mmg_plugin_name(this._lib.mmg_tokenizer_plugin(this._handle()));
  }
}

const SAMPLING_FIELDS = { temperature: 'temperature', topK: 'top_k', topP: 'top_p', minP: 'min_p',
  repetitionPenalty: 'repetition_penalty', repetitionWindow: 'repetition_window' };

// mmg_weight_format by name: [value, the ABI minor that added it]
const WEIGHTS = { f32: [1, 3], q8_0: [2, 3], q4_0: [3, 5], f16: [4, 5] };

const WEIGHT_NAMES = Object.fromEntries(Object.entries(WEIGHTS).map(([name, [value]]) => [value, name]));

/** The mmg_weight_format value of a format name for bytes. */
function storedFormat(lib, fmt) {
  if (fmt === undefined || fmt === null) {
    throw new TypeError("format must be 'f32', 'q8_0', 'q4_0' or 'f16', not " + String(fmt));
  }
  return weightFormat(lib, fmt);
}

/** A Float32Array of `values` (a Float32Array is used as it is). */
function floatArray(values, what) {
  if (values instanceof Float32Array) return values;
  if (Array.isArray(values) || (ArrayBuffer.isView(values) && !(values instanceof DataView))) {
    return Float32Array.from(values);
  }
  throw new TypeError(`${what} takes a Float32Array, another typed array or an Array of numbers`);
}

/** Bytes that `n` weights take in format `fmt` ('f32', 'q8_0', 'q4_0',
 * 'f16'; Q8_0 / Q4_0 in blocks of 32); 0 when n is not whole blocks
 * (mmg_weights_size, ABI 1.6). */
function weightsSize(fmt, n, { lib = L.get() } = {}) {
  return Number(L.optional(lib, 'mmg_weights_size')(storedFormat(lib, fmt), n));
}

/** `values` (as writeParam takes them) in format `fmt` as a Buffer: the
 * layout of GGUF tensors and of mmgen's files, made by the library's own
 * quantizer. MMG_ERR_INVALID_ARG for a count that is not whole blocks,
 * MMG_ERR_NUMERIC for a value the format cannot hold (mmg_quantize, ABI 1.6). */
function quantize(values, fmt, { lib = L.get() } = {}) {
  const fn = L.optional(lib, 'mmg_quantize');
  const value = storedFormat(lib, fmt);
  const src = floatArray(values, 'quantize');
  const size = Number(L.optional(lib, 'mmg_weights_size')(value, src.length));
  const out = Buffer.alloc(Math.max(size, 1)); // 0: the library names the problem
  check(lib, fn(value, src.length ? src : new Float32Array(1), src.length, out, size),
    `quantizing ${src.length} values to ${fmt}`);
  return out.subarray(0, size);
}

/** The `n` floats that `data` (bytes of format `fmt`, as quantize() and
 * Model.readParamData() give them) holds, as a Float32Array (mmg_dequantize,
 * ABI 1.6). */
function dequantize(data, fmt, n, { lib = L.get() } = {}) {
  const fn = L.optional(lib, 'mmg_dequantize');
  const value = storedFormat(lib, fmt);
  const buf = asBuffer(data);
  const out = new Float32Array(Math.max(n, 1));
  check(lib, fn(value, buf.length ? buf : Buffer.alloc(1), buf.length, out, n),
    `dequantizing ${buf.length} bytes of ${fmt}`);
  return n ? out : new Float32Array(0);
}

function weightFormat(lib, weights) {
  if (weights === undefined || weights === null) return 0;
  if (!Object.prototype.hasOwnProperty.call(WEIGHTS, weights)) {
    throw new TypeError(`weights must be 'f32', 'q8_0', 'q4_0' or 'f16', not ${JSON.stringify(weights)}`);
  }
  const [value, minor] = WEIGHTS[weights];
  if (!lib.mmg_abi_compatible(1, minor)) {
    throw new L.MmgenError(L.Status.MMG_ERR_UNSUPPORTED,
      `weights '${weights}' needs libmmgen ABI 1.${minor}; this library is ${lib.mmg_version_string()}`);
  }
  return value;
}

/** A transformer loaded from a file or from its bytes (mmgen/model.h), with
 * the context it generates in (mmgen/context.h, created on first use).
 *
 * checkFinite (an option of load/loadMemory, a settable property, and a
 * generate() option for one call): the context checks every logit, and
 * generation throws MMG_ERR_NUMERIC naming the token id, position and slot
 * when one is NaN or infinite (mmg_context_options.check_finite). */
class Model extends Handle {
  constructor(lib, handle, nThreads = 0, checkFinite = false) {
    super(lib, handle, 'mmg_model_free');
    this._nThreads = nThreads;
    this.checkFinite = Boolean(checkFinite);
    this._ctx = null;
    this._ctxFinite = null; // the checkFinite the context was created with
    this._tok = undefined; // undefined: not asked yet; null: none
  }

  /** Loads a safetensors model written by `mmgen train`.
   *
   * weights (mmg_model_options.weights): undefined loads the file as it is
   * stored (a quantized file stays quantized); 'f32' dequantizes (to train
   * from it); 'q8_0', 'q4_0' or 'f16' keep the linear layers' weights in
   * that type for inference (ABI.md, "Quantized weights").
   * quantizeEmbedding (mmg_model_options.quantize_embedding, ABI 1.6): a
   * quantized model keeps its token embedding in that type too, as GGUF
   * files do; ignored for F32 models. */
  static load(path, {
    nThreads = 0, checkFinite = false, weights = undefined, quantizeEmbedding = false, lib = L.get(),
  } = {}) {
    const value = weightFormat(lib, weights);
    // The 1.6 struct only when its field is asked for: an older library
    // never gets a struct larger than its own.
    let type = S.ModelOptions;
    if (quantizeEmbedding) {
      if (!lib.mmg_abi_compatible(1, 6)) {
        throw new MmgenError(Status.MMG_ERR_UNSUPPORTED,
          `quantizeEmbedding needs libmmgen ABI 1.6; this library is ${lib.mmg_version_string()}`);
      }
      L.checkFields(lib, 'mmg_model_options', S.ModelOptions16);
      type = S.ModelOptions16;
    }
    const [p, mo] = initStruct(type, lib.mmg_model_options_init);
    try {
      mo.weights = value;
      if (quantizeEmbedding) mo.quantize_embedding = 1;
      koffi.encode(p, type, mo);
      const out = [null];
      check(lib, lib.mmg_model_load(String(path), p, out), `loading ${path}`);
      return new Model(lib, out[0], nThreads, checkFinite);
    } finally {
      koffi.free(p);
    }
  }

  /** Loads a model from the bytes of a safetensors file (a Buffer, typed
   * array or ArrayBuffer), as load() does from its path; the model keeps no
   * reference to them. */
  static loadMemory(data, { nThreads = 0, checkFinite = false, lib = L.get() } = {}) {
    if (typeof data === 'string') {
      throw new TypeError('loadMemory takes the bytes of a model file (a Buffer); ' +
        'Model.load takes a path');
    }
    const buf = asBuffer(data);
    const out = [null];
    // An empty buffer still gets an address: the library then reports a short file.
    check(lib, lib.mmg_model_load_memory(buf.length ? buf : Buffer.alloc(1), buf.length, null, out),
      `loading a model from ${buf.length} bytes`);
    return new Model(lib, out[0], nThreads, checkFinite);
  }

  close() {
    if (this._tok) this._tok.close();
    this._tok = undefined;
    const ctx = this._ctx;
    this._ctx = null;
    if (ctx) this._lib.mmg_context_free(ctx);
    super.close();
  }

  /** The architecture as an object (the "mmgen.config" JSON object). */
  get config() {
    const lib = this._lib;
    const [p] = initStruct(S.ModelConfig, lib.mmg_model_config_init);
    try {
      check(lib, lib.mmg_model_get_config(this._handle(), p), 'config');
      const out = [null];
      check(lib, lib.mmg_model_config_to_json(p, out), 'config');
      return JSON.parse(takeString(lib, out[0]));
    } finally {
      koffi.free(p);
    }
  }

  get nParams() {
    return Number(this._lib.mmg_model_n_params(this._handle()));
  }

  _paramInfo(index) {
    const lib = this._lib;
    const p = koffi.alloc(S.ParamInfo, 1);
    try {
      koffi.encode(p, S.ParamInfo, { struct_size: koffi.sizeof(S.ParamInfo) });
      check(lib, lib.mmg_model_param_info(this._handle(), index, p), `parameter ${index}`);
      const info = koffi.decode(p, S.ParamInfo);
      return { name: info.name, shape: Array.from(info.shape).slice(0, info.n_dims).map(Number),
        nElements: Number(info.n_elements) };
    } finally {
      koffi.free(p);
    }
  }

  _param(name) {
    const index = [null];
    check(this._lib, this._lib.mmg_model_param_find(this._handle(), String(name), index),
      `parameter '${name}'`);
    return this._paramInfo(index[0]);
  }

  /** The model's parameters in the library's order (the order of the file):
   * a Map name -> shape (an Array), e.g. 'tok_emb.weight' -> [300, 32]. The
   * shapes' products sum to nParams. */
  parameters() {
    const n = Number(this._lib.mmg_model_param_count(this._handle()));
    const params = new Map();
    for (let i = 0; i < n; i++) {
      const { name, shape } = this._paramInfo(i);
      params.set(name, shape);
    }
    return params;
  }

  /** A copy of parameter `name`: a Float32Array of its elements, row-major.
   * MMG_ERR_NOT_FOUND for an unknown name. */
  readParam(name) {
    const { nElements } = this._param(name);
    const out = new Float32Array(nElements);
    check(this._lib, this._lib.mmg_model_read_param(this._handle(), String(name), out, nElements),
      `reading parameter '${name}'`);
    return out;
  }

  /** Parameter `name` as the model stores it: { format, data }, format
   * 'f32', or for a quantized model's linear weights (and token embedding)
   * 'q8_0', 'q4_0' or 'f16'; data a Buffer in the layout of GGUF tensors
   * (dequantize() turns it into floats). mmg_model_read_param_data, ABI 1.6. */
  readParamData(name) {
    const lib = this._lib;
    const fn = L.optional(lib, 'mmg_model_read_param_data');
    L.checkFields(lib, 'mmg_param_info', S.ParamInfo16);
    const index = [null];
    check(lib, lib.mmg_model_param_find(this._handle(), String(name), index), `parameter '${name}'`);
    const p = koffi.alloc(S.ParamInfo16, 1);
    let info;
    try {
      koffi.encode(p, S.ParamInfo16, { struct_size: koffi.sizeof(S.ParamInfo16) });
      check(lib, lib.mmg_model_param_info(this._handle(), index[0], p), `parameter '${name}'`);
      info = koffi.decode(p, S.ParamInfo16);
    } finally {
      koffi.free(p);
    }
    const size = Number(info.n_bytes);
    const out = Buffer.alloc(Math.max(size, 1));
    check(lib, fn(this._handle(), String(name), out, size), `reading parameter '${name}'`);
    return { format: WEIGHT_NAMES[info.weights], data: out.subarray(0, size) };
  }

  /** Overwrites parameter `name` with `values` (a Float32Array, another typed
   * array or an Array of numbers, converted element by element), row-major,
   * exactly as many as the parameter has: else MMG_ERR_RANGE naming the
   * expected shape, the model unchanged. Values are stored as given, NaN
   * included (see checkFinite). Writing 'tok_emb.weight' of a model with a
   * tied output changes the output projection too. */
  writeParam(name, values) {
    const src = floatArray(values, 'writeParam');
    const n = src.length;
    check(this._lib, this._lib.mmg_model_write_param(this._handle(), String(name),
      n ? src : new Float32Array(1), n), `writing parameter '${name}'`);
  }

  /** The tokenizer the model carries ("mmgen.tokenizer"), or null. It is
   * closed with the model. */
  get tokenizer() {
    if (this._tok === undefined) {
      const out = [null];
      const st = this._lib.mmg_model_tokenizer(this._handle(), 'mmgen.tokenizer', out);
      if (st === Status.MMG_ERR_NOT_FOUND) {
        this._tok = null;
      } else {
        check(this._lib, st, "the model's tokenizer");
        this._tok = new Tokenizer(this._lib, out[0]);
      }
    }
    return this._tok;
  }

  /** The model's context, made again when `checkFinite` (null: the model's
   * setting) differs from the one it was made with. */
  _context(checkFinite = null) {
    const finite = checkFinite == null ? this.checkFinite : Boolean(checkFinite);
    if (this._ctx && this._ctxFinite !== finite) {
      this._lib.mmg_context_free(this._ctx);
      this._ctx = null;
    }
    if (!this._ctx) {
      const lib = this._lib;
      const [p, co] = initStruct(S.ContextOptions, lib.mmg_context_options_init);
      try {
        co.n_threads = this._nThreads;
        co.check_finite = finite ? 1 : 0;
        koffi.encode(p, S.ContextOptions, co);
        const out = [null];
        check(lib, lib.mmg_context_create(this._handle(), p, out), 'creating a context');
        this._ctx = out[0];
        this._ctxFinite = finite;
      } finally {
        koffi.free(p);
      }
    }
    return this._ctx;
  }

  _special(token) {
    if (token == null) return -1;
    if (typeof token === 'string') {
      const t = this.tokenizer ? this.tokenizer.specialToken(token) : null;
      return t == null ? -1 : t;
    }
    return token;
  }

  /** Generates up to `maxTokens` ids after `promptIds` and returns them (an
   * Array; the end token, when sampled, is its last element). Sampling
   * options left undefined keep the library's defaults (temperature 1,
   * top-k off, top-p 1; mmgen/sampling.h). endToken/startToken: an id, a
   * special token name of the model's tokenizer ("eos"), or null.
   * checkFinite: true/false overrides the model's checkFinite for this call
   * (NaN or infinite logits throw MMG_ERR_NUMERIC). The same arguments give
   * the same ids as `mmgen generate --prompt-ids ... --seed S
   * --no-constraint` with sampling at those settings. */
  generate({ promptIds = [], maxTokens = 256, seed = 0, endToken = null, startToken = null,
    checkFinite = null, ...sampling } = {}) {
    const lib = this._lib;
    for (const k of Object.keys(sampling)) {
      if (!(k in SAMPLING_FIELDS)) throw new TypeError(`unknown generation option '${k}'`);
    }
    if (!Number.isInteger(maxTokens) || maxTokens < 1) {
      throw new MmgenError(Status.MMG_ERR_INVALID_ARG, `maxTokens must be an integer >= 1, not ${maxTokens}`);
    }
    const prompt = idsArray(promptIds);
    const ctx = this._context(checkFinite);
    const [sp, so] = initStruct(S.SamplingOptions, lib.mmg_sampling_options_init);
    let gp = null;
    const arrays = [];
    const cArray = (type, values) => {
      const p = koffi.alloc(type, Math.max(values.length, 1));
      arrays.push(p);
      if (values.length) koffi.encode(p, koffi.array(type, values.length), Array.from(values));
      return p;
    };
    try {
      for (const [k, field] of Object.entries(SAMPLING_FIELDS)) {
        if (sampling[k] !== undefined && sampling[k] !== null) so[field] = sampling[k];
      }
      so.seed = typeof seed === 'bigint' ? seed : BigInt(seed);
      koffi.encode(sp, S.SamplingOptions, so);
      check(lib, lib.mmg_sampling_options_validate(sp), 'sampling options');
      let go;
      [gp, go] = initStruct(S.GenerateOptions, lib.mmg_generate_options_init);
      go.sampling = sp;
      go.max_new_tokens = maxTokens;
      go.end_token = this._special(endToken);
      go.start_token = this._special(startToken);
      koffi.encode(gp, S.GenerateOptions, go);
      const prompts = cArray('void *', [cArray('int32_t', prompt)]);
      const promptLengths = cArray('int32_t', [prompt.length]);
      const seeds = cArray('uint64_t', [so.seed]);
      const out = cArray('int32_t', new Array(maxTokens).fill(0));
      const outLength = cArray('int32_t', [0]);
      check(lib, lib.mmg_generate(ctx, gp, 1, null, null, prompts, promptLengths, seeds, out, outLength),
        'generating');
      const n = koffi.decode(outLength, 'int32_t');
      return n ? Array.from(koffi.decode(out, 'int32_t', n)) : [];
    } finally {
      arrays.forEach((p) => koffi.free(p));
      if (gp) koffi.free(gp);
      koffi.free(sp);
    }
  }
}

module.exports = { Plugin, Tokenizer, Model, idsArray, weightsSize, quantize, dequantize };
