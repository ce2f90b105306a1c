"""The classes of the mmgen package: Plugin, Tokenizer, Model, Trainer.

Each wraps one C object and frees it exactly once: on close(), at the end of
a `with` block, or when garbage-collected, whichever comes first. Objects made
from another keep what they need alive (a Trainer its Model); a Model closes
its tokenizers, context and trainers before itself.

Weights cross the boundary by copy (ABI.md, "Bindings"): read_param and
Trainer.read_grad return a new array.array('f') (or, with numpy=True, a numpy
array of the parameter's shape); write_param takes either, or any sequence of
numbers. numpy is never imported unless asked for.
"""
import array
import ctypes
import json
import queue
import sys
import threading
import weakref

from . import _lib
from . import _structs as S
from ._lib import MmgenError, check

_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


def _ids_array(ids, what="token id"):
    ids = list(ids)
    for i, t in enumerate(ids):
        if not isinstance(t, int) or not _INT32_MIN <= t <= _INT32_MAX:
            raise MmgenError(_lib.MMG_ERR_RANGE, "%s %r (position %d) is not an int32" % (what, t, i))
    return (ctypes.c_int32 * len(ids))(*ids), len(ids)


def _take_bytes(lib, ptr, size):
    try:
        return ctypes.string_at(ptr, size) if size else b""
    finally:
        lib.mmg_free(ptr)


def _take_string(lib, ptr):
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        lib.mmg_free(ptr)


def _as_bytes(data):
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _byte_buffer(data):
    """(object to pass as void *, size) for bytes-like `data`, without a copy
    where ctypes allows one (bytes, writable buffers)."""
    if isinstance(data, bytes):
        return data, len(data)
    view = memoryview(data).cast("B")
    if view.readonly:
        return view.tobytes(), view.nbytes
    return (ctypes.c_char * view.nbytes).from_buffer(view), view.nbytes


def _numpy():
    try:
        import numpy
    except ImportError:
        raise ImportError("numpy=True needs numpy, which is not installed; leave it False "
                          "for an array.array('f')") from None
    return numpy


_NO_FLOATS = (ctypes.c_float * 1)()  # a valid address for an empty buffer


def _float_source(values):
    """(owner, address, count) of `values` as contiguous float32 for the C
    side: an array.array('f') or a C-contiguous float32 numpy array is passed
    as it is, another numpy array converted, any other sequence of numbers
    copied into an array.array('f')."""
    np = sys.modules.get("numpy")  # a numpy array means numpy is imported already
    if np is not None and isinstance(values, np.ndarray):
        values = np.ascontiguousarray(values, dtype=np.float32)
        addr, n = values.ctypes.data, values.size
    else:
        if not (isinstance(values, array.array) and values.typecode == "f"):
            values = array.array("f", values)
        addr, n = values.buffer_info()
    return values, (addr if n else ctypes.addressof(_NO_FLOATS)), n


def _float_sink(shape, n, numpy):
    """(array, address) of a new float32 array of `n` elements for the C side
    to fill: a numpy array of `shape` with numpy=True, else an array.array('f')."""
    if numpy:
        out = _numpy().empty(shape, dtype="float32")
        return out, out.ctypes.data
    out = array.array("f", bytes(4 * n))
    return out, out.buffer_info()[0]


class _Handle:
    """One C object: `_free` names the C function that releases it."""
    _free = None

    def __init__(self, lib, handle):
        self._lib = lib
        self._h = handle

    @property
    def closed(self):
        return not self._h

    def _handle(self):
        if not self._h:
            raise MmgenError(_lib.MMG_ERR_STATE, "%s is closed" % type(self).__name__)
        return self._h

    def close(self):
        """Frees the C object; later calls do nothing."""
        h, self._h = self._h, None
        if h:
            getattr(self._lib, self._free)(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone
            pass


class Plugin(_Handle):
    """An open modality plugin (mmgen/plugin_host.h)."""
    _free = "mmg_plugin_close"

    @classmethod
    def open(cls, name_or_path, lib=None):
        """Opens a plugin by name ("text": $MMGEN_PLUGIN_PATH, then the install
        directory) or by path."""
        lib = lib or _lib.get()
        h = ctypes.c_void_p()
        check(lib, lib.mmg_plugin_open(_as_bytes(name_or_path), ctypes.byref(h)),
              "opening plugin %r" % (name_or_path,))
        return cls(lib, h)

    def _str(self, fn):
        v = getattr(self._lib, fn)(self._handle())
        return v.decode("utf-8") if v is not None else None

    name = property(lambda self: self._str("mmg_plugin_name"))
    version = property(lambda self: self._str("mmg_plugin_version"))
    description = property(lambda self: self._str("mmg_plugin_description"))
    path = property(lambda self: self._str("mmg_plugin_path"))

    @property
    def modality(self):
        """"text", "code", "image", "audio" or "other"."""
        return self._lib.mmg_modality_name(self._lib.mmg_plugin_modality(self._handle())).decode()

    def tokenizer(self, config=None):
        return Tokenizer.create(self, config)

    def __repr__(self):
        return "<mmgen.Plugin %s>" % (self.name if self._h else "closed")


class Tokenizer(_Handle):
    """A tokenizer instance of a plugin (mmgen/tokenizer.h)."""
    _free = "mmg_tokenizer_free"

    @classmethod
    def create(cls, plugin, config=None, lib=None):
        """A tokenizer of `plugin` (a Plugin, or a name/path to open) with
        `config` (a dict, JSON text, or None for the plugin's defaults)."""
        if not isinstance(plugin, Plugin):
            with Plugin.open(plugin, lib) as p:  # the tokenizer keeps the module loaded
                return cls.create(p, config)
        lib = plugin._lib
        if config is not None and not isinstance(config, (str, bytes)):
            config = json.dumps(config)
        h = ctypes.c_void_p()
        check(lib, lib.mmg_tokenizer_create(plugin._handle(),
                                            _as_bytes(config) if config is not None else None,
                                            ctypes.byref(h)),
              "creating a %s tokenizer" % plugin.name)
        return cls(lib, h)

    @classmethod
    def from_json(cls, text, lib=None):
        """Restores a tokenizer from the document to_json() writes."""
        lib = lib or _lib.get()
        data = _as_bytes(text)
        h = ctypes.c_void_p()
        check(lib, lib.mmg_tokenizer_from_json(data, len(data), ctypes.byref(h)),
              "reading a tokenizer document")
        return cls(lib, h)

    def to_json(self):
        """The tokenizer as a JSON document (plugin, config, state) - str."""
        p = ctypes.c_void_p()
        check(self._lib, self._lib.mmg_tokenizer_to_json(self._handle(), ctypes.byref(p)),
              "writing the tokenizer as JSON")
        return _take_string(self._lib, p)

    def fit(self, docs):
        """Learns the tokenizer's state from sample documents (bytes or str)."""
        docs = [_as_bytes(d) for d in docs]
        bufs = [ctypes.create_string_buffer(d, len(d)) for d in docs]
        ptrs = (S.c_uint8_p * len(docs))(*[ctypes.cast(b, S.c_uint8_p) for b in bufs])
        sizes = (ctypes.c_size_t * len(docs))(*[len(d) for d in docs])
        check(self._lib, self._lib.mmg_tokenizer_fit(self._handle(), ptrs, sizes, len(docs)),
              "fitting the tokenizer")
        return self

    def encode(self, data):
        """Token ids of a document (bytes; str is encoded as UTF-8)."""
        data = _as_bytes(data)
        ids, n = S.c_int32_p(), ctypes.c_size_t()
        check(self._lib, self._lib.mmg_tokenizer_encode(self._handle(), data, len(data),
                                                        ctypes.byref(ids), ctypes.byref(n)), "encoding")
        try:
            return ids[:n.value]
        finally:
            self._lib.mmg_free(ids)

    def decode(self, ids):
        """The document (bytes) of token ids; MMG_ERR_RANGE for an id outside
        the vocabulary."""
        arr, n = _ids_array(ids)
        out, size = S.c_uint8_p(), ctypes.c_size_t()
        check(self._lib, self._lib.mmg_tokenizer_decode(self._handle(), arr, n, ctypes.byref(out),
                                                        ctypes.byref(size)), "decoding")
        return _take_bytes(self._lib, out, size.value)

    @property
    def vocab_size(self):
        return self._lib.mmg_tokenizer_vocab_size(self._handle())

    def special_token(self, name):
        """The id of a special token ("bos", "eos", "pad", ...), or None when
        the tokenizer has none by that name."""
        i = ctypes.c_int32(-1)
        st = self._lib.mmg_tokenizer_special_token(self._handle(), _as_bytes(name), ctypes.byref(i))
        if st == _lib.MMG_ERR_NOT_FOUND:
            return None
        check(self._lib, st, "special token %r" % (name,))
        return i.value

    def describe_token(self, token):
        p = ctypes.c_void_p()
        check(self._lib, self._lib.mmg_tokenizer_describe_token(self._handle(), token, ctypes.byref(p)),
              "describing token %r" % (token,))
        return _take_string(self._lib, p)

    def save_state(self):
        """The learned state (bytes), as load_state() reads it."""
        out, size = S.c_uint8_p(), ctypes.c_size_t()
        check(self._lib, self._lib.mmg_tokenizer_save_state(self._handle(), ctypes.byref(out),
                                                            ctypes.byref(size)), "saving the state")
        return _take_bytes(self._lib, out, size.value)

    def load_state(self, state):
        state = bytes(state)
        check(self._lib, self._lib.mmg_tokenizer_load_state(self._handle(), state, len(state)),
              "loading the state")
        return self

    @property
    def config(self):
        """The config the tokenizer was made with (a dict), or None."""
        c = self._lib.mmg_tokenizer_config(self._handle())
        return json.loads(c.decode("utf-8")) if c else None

    @property
    def plugin_name(self):
        return self._lib.mmg_plugin_name(self._lib.mmg_tokenizer_plugin(self._handle())).decode()

    def has_extension(self, ext_id):
        return bool(self._lib.mmg_tokenizer_has_extension(self._handle(), _as_bytes(ext_id)))

    def __repr__(self):
        if not self._h:
            return "<mmgen.Tokenizer closed>"
        return "<mmgen.Tokenizer %s, %d ids>" % (self.plugin_name, self.vocab_size)


_NO_TOKENIZER = object()
_SAMPLING_FIELDS = ("temperature", "top_k", "top_p", "min_p", "repetition_penalty",
                    "repetition_window")


# mmg_weight_format by name, with the ABI minor that added each
_WEIGHTS = {None: (0, 3), "f32": (1, 3), "q8_0": (2, 3), "q4_0": (3, 5), "f16": (4, 5)}
_WEIGHT_NAMES = {value: name for name, (value, _) in _WEIGHTS.items() if name}


def _stored_format(lib, fmt):
    """The mmg_weight_format value of a format name for bytes ("f32",
    "q8_0", "q4_0", "f16")."""
    if fmt not in _WEIGHTS or fmt is None:
        raise ValueError("format must be 'f32', 'q8_0', 'q4_0' or 'f16', not %r" % (fmt,))
    return _weight_format(lib, fmt)


def weights_size(fmt, n, lib=None):
    """Bytes that `n` weights take in format `fmt` ("f32", "q8_0", "q4_0",
    "f16"; Q8_0 / Q4_0 in blocks of 32); 0 when n is not a whole number of
    blocks (mmg_weights_size, ABI 1.6)."""
    lib = lib or _lib.get()
    return _lib.require(lib, "mmg_weights_size")(_stored_format(lib, fmt), n)


def quantize(values, fmt, lib=None):
    """`values` (floats: an array.array('f'), a numpy array or any sequence
    of numbers, as write_param takes them) in format `fmt` as bytes: the layout of GGUF tensors and of
    mmgen's files, made by the library's own quantizer (the bytes llama.cpp
    writes). MmgenError MMG_ERR_INVALID_ARG for a count that is not whole
    blocks, MMG_ERR_NUMERIC for a value the format cannot hold (mmg_quantize,
    ABI 1.6)."""
    lib = lib or _lib.get()
    fn = _lib.require(lib, "mmg_quantize")
    value = _stored_format(lib, fmt)
    values, addr, n = _float_source(values)  # `values` keeps the memory alive
    size = lib.mmg_weights_size(value, n)
    out = ctypes.create_string_buffer(max(size, 1))  # 0: the library names the problem
    check(lib, fn(value, addr, n, out, size), "quantizing %d values to %s" % (n, fmt))
    return out.raw[:size]


def dequantize(data, fmt, n, numpy=False, lib=None):
    """The `n` floats that `data` (bytes of format `fmt`, as quantize() and
    Model.read_param_data() give them) holds: an array.array('f'), or with
    numpy=True a float32 numpy array (mmg_dequantize, ABI 1.6)."""
    lib = lib or _lib.get()
    fn = _lib.require(lib, "mmg_dequantize")
    value = _stored_format(lib, fmt)
    buf, size = _byte_buffer(data)
    out, addr = _float_sink((n,), n, numpy)
    check(lib, fn(value, buf, size, addr, n), "dequantizing %d bytes of %s" % (size, fmt))
    return out


def _model_options(lib, quantize_embedding):
    """mmg_model_options, initialized; the 1.6 mirror (checked as the
    others are when the library loads) when quantize_embedding is asked
    for, so an older library is never given a struct larger than its own."""
    if not quantize_embedding:
        o = S.ModelOptions()
        lib.mmg_model_options_init(ctypes.byref(o), ctypes.sizeof(o))
        return o
    if not lib.mmg_abi_compatible(1, 6):
        raise MmgenError(_lib.MMG_ERR_UNSUPPORTED, "quantize_embedding needs libmmgen ABI 1.6; this library is %s"
                         % lib.mmg_version_string().decode())
    if lib.mmg_struct_field_offset(b"mmg_model_options", b"quantize_embedding") != \
            S.ModelOptions16.quantize_embedding.offset:
        raise MmgenError(_lib.MMG_ERR_ABI, "struct mmg_model_options, field quantize_embedding: the library's "
                         "layout differs from this package's")
    o = S.ModelOptions16()
    lib.mmg_model_options_init(ctypes.byref(o), ctypes.sizeof(o))
    o.quantize_embedding = 1
    return o


def _weight_format(lib, weights):
    if weights not in _WEIGHTS:
        raise ValueError("weights must be None, 'f32', 'q8_0', 'q4_0' or 'f16', not %r" % (weights,))
    value, minor = _WEIGHTS[weights]
    if not lib.mmg_abi_compatible(1, minor):
        raise MmgenError(_lib.MMG_ERR_UNSUPPORTED, "weights=%r needs libmmgen ABI 1.%d; this library is %s"
                         % (weights, minor, lib.mmg_version_string().decode()))
    return value


class Model(_Handle):
    """A transformer loaded from a file or created from a config (mmgen/model.h),
    with the context it generates in (mmgen/context.h, created on first use).

    check_finite (a constructor argument and a settable attribute; generate()
    can also override it per call): the context checks every logit and
    generation fails with MMG_ERR_NUMERIC, naming the slot, position and
    token id, when one is NaN or infinite (mmg_context_options.check_finite)."""

    def __init__(self, lib, handle, n_threads=0, check_finite=False):
        super().__init__(lib, handle)
        self._n_threads = n_threads
        self.check_finite = bool(check_finite)
        self._ctx = None
        self._ctx_finite = None  # the check_finite the context was created with
        self._tok = {}
        self._dependents = weakref.WeakSet()  # trainers: closed before the model
        self._busy = threading.Lock()

    @classmethod
    def load(cls, path, n_threads=0, lib=None, check_finite=False, weights=None,
             quantize_embedding=False):
        """Loads a safetensors model written by `mmgen train` or save().

        weights (mmg_model_options.weights): None loads the file as it is
        stored (a quantized file stays quantized); "f32" dequantizes (to
        train from it); "q8_0", "q4_0" or "f16" keep the linear layers'
        weights in that type for inference (ABI.md, "Quantized weights").
        quantize_embedding (mmg_model_options.quantize_embedding, ABI 1.6):
        a quantized model keeps its token embedding in that type too, as
        GGUF files do; ignored for F32 models."""
        lib = lib or _lib.get()
        o = _model_options(lib, quantize_embedding)
        o.weights = _weight_format(lib, weights)
        h = ctypes.c_void_p()
        path = str(path)
        check(lib, lib.mmg_model_load(path.encode(), ctypes.byref(o), ctypes.byref(h)), "loading %s" % path)
        return cls(lib, h, n_threads, check_finite)

    @classmethod
    def load_memory(cls, data, n_threads=0, lib=None, check_finite=False):
        """Loads a model from the bytes of a safetensors file (bytes,
        bytearray, memoryview...), as load() does from its path; the model
        keeps no reference to `data`."""
        lib = lib or _lib.get()
        buf, size = _byte_buffer(data)
        h = ctypes.c_void_p()
        check(lib, lib.mmg_model_load_memory(buf, size, None, ctypes.byref(h)),
              "loading a model from %d bytes" % size)
        return cls(lib, h, n_threads, check_finite)

    @classmethod
    def create(cls, config, seed=0, init_std=None, n_threads=0, lib=None, check_finite=False):
        """A model with random weights from `config` (a dict of the keys
        mmgen.config uses, e.g. {"vocab_size": 300, "d_model": 32, ...})."""
        lib = lib or _lib.get()
        text = _as_bytes(config if isinstance(config, (str, bytes)) else json.dumps(config))
        c = S.ModelConfig()
        lib.mmg_model_config_init(ctypes.byref(c), ctypes.sizeof(c))
        check(lib, lib.mmg_model_config_from_json(text, len(text), ctypes.byref(c)), "model config")
        o = _model_options(lib, False)
        o.seed = seed
        if init_std is not None:
            o.init_std = init_std
        h = ctypes.c_void_p()
        check(lib, lib.mmg_model_create(ctypes.byref(c), ctypes.byref(o), ctypes.byref(h)),
              "creating a model")
        return cls(lib, h, n_threads, check_finite)

    def close(self):
        for d in list(self._dependents):
            d.close()
        for t in self._tok.values():
            if t is not None:
                t.close()
        self._tok = {}
        ctx, self._ctx = self._ctx, None
        if ctx:
            self._lib.mmg_context_free(ctx)
        h, self._h = self._h, None
        if h:
            self._lib.mmg_model_free(h)

    def save(self, path):
        path = str(path)
        check(self._lib, self._lib.mmg_model_save(self._handle(), path.encode()), "saving %s" % path)

    @property
    def config(self):
        """The architecture as a dict (the "mmgen.config" JSON object)."""
        c = S.ModelConfig()
        self._lib.mmg_model_config_init(ctypes.byref(c), ctypes.sizeof(c))
        check(self._lib, self._lib.mmg_model_get_config(self._handle(), ctypes.byref(c)), "config")
        p = ctypes.c_void_p()
        check(self._lib, self._lib.mmg_model_config_to_json(ctypes.byref(c), ctypes.byref(p)), "config")
        return json.loads(_take_string(self._lib, p))

    @property
    def n_params(self):
        return self._lib.mmg_model_n_params(self._handle())

    def _param_info(self, index):
        info = S.ParamInfo()
        info.struct_size = ctypes.sizeof(info)
        check(self._lib, self._lib.mmg_model_param_info(self._handle(), index, ctypes.byref(info)),
              "parameter %d" % index)
        return info.name.decode(), tuple(info.shape[:info.n_dims]), info.n_elements

    def _param(self, name):
        """(name, shape, n_elements) of the parameter called `name`."""
        index = ctypes.c_size_t()
        check(self._lib, self._lib.mmg_model_param_find(self._handle(), _as_bytes(name),
                                                        ctypes.byref(index)),
              "parameter %r" % (name,))
        return self._param_info(index.value)

    def parameters(self):
        """The model's parameters in the library's order (the order save()
        writes): a dict name -> shape, e.g. {"tok_emb.weight": (300, 32), ...}.
        The shapes' products sum to n_params."""
        return dict(self._param_info(i)[:2]
                    for i in range(self._lib.mmg_model_param_count(self._handle())))

    def read_param_data(self, name):
        """Parameter `name` as the model stores it: (format, bytes), format
        "f32", or for a quantized model's linear weights (and token embedding)
        "q8_0", "q4_0" or "f16"; the bytes in the layout of GGUF tensors
        (dequantize() turns them into floats). mmg_model_read_param_data,
        ABI 1.6."""
        lib = self._lib
        fn = _lib.require(lib, "mmg_model_read_param_data")
        index = ctypes.c_size_t()
        check(lib, lib.mmg_model_param_find(self._handle(), _as_bytes(name), ctypes.byref(index)),
              "parameter %r" % (name,))
        for field in ("weights", "n_bytes"):  # the 1.6 fields, checked as the mirrors are
            if lib.mmg_struct_field_offset(b"mmg_param_info", field.encode()) != getattr(S.ParamInfo16, field).offset:
                raise _lib.MmgenError(_lib.MMG_ERR_ABI, "struct mmg_param_info, field %s: the library's offset "
                                      "differs from this package's" % field)
        info = S.ParamInfo16()
        info.struct_size = ctypes.sizeof(info)
        check(lib, lib.mmg_model_param_info(self._handle(), index.value, ctypes.byref(info)),
              "parameter %r" % (name,))
        out = ctypes.create_string_buffer(max(info.n_bytes, 1))
        check(lib, fn(self._handle(), _as_bytes(name), out, info.n_bytes), "reading parameter %r" % (name,))
        return _WEIGHT_NAMES[info.weights], out.raw[:info.n_bytes]

    def read_param(self, name, numpy=False):
        """A copy of parameter `name`: an array.array('f') of its elements,
        row-major, or with numpy=True a float32 numpy array of its shape.
        MMG_ERR_NOT_FOUND for an unknown name."""
        _, shape, n = self._param(name)
        out, addr = _float_sink(shape, n, numpy)
        check(self._lib, self._lib.mmg_model_read_param(self._handle(), _as_bytes(name), addr, n),
              "reading parameter %r" % (name,))
        return out

    def write_param(self, name, values):
        """Overwrites parameter `name` with `values` (an array.array('f'), a
        numpy array of any shape, a list...: its elements row-major, exactly
        as many as the parameter has, else MMG_ERR_RANGE naming the expected
        shape and the model unchanged). Values are stored as given, NaN
        included (see check_finite). Writing "tok_emb.weight" of a model with
        a tied output changes the output projection too."""
        values, addr, n = _float_source(values)  # `values` keeps the memory alive
        with self._busy:  # no generation computes with the model meanwhile
            check(self._lib, self._lib.mmg_model_write_param(self._handle(), _as_bytes(name), addr, n),
                  "writing parameter %r" % (name,))

    def metadata(self, key, default=None):
        v = ctypes.c_char_p()
        st = self._lib.mmg_model_get_metadata(self._handle(), _as_bytes(key), ctypes.byref(v))
        if st == _lib.MMG_ERR_NOT_FOUND:
            return default
        check(self._lib, st, "metadata %r" % (key,))
        return v.value.decode("utf-8")

    def set_metadata(self, key, value):
        check(self._lib, self._lib.mmg_model_set_metadata(self._handle(), _as_bytes(key),
                                                          _as_bytes(value)), "metadata %r" % (key,))

    def _tokenizer(self, key):
        t = self._tok.get(key, _NO_TOKENIZER)
        if t is _NO_TOKENIZER:
            h = ctypes.c_void_p()
            st = self._lib.mmg_model_tokenizer(self._handle(), key, ctypes.byref(h))
            if st == _lib.MMG_ERR_NOT_FOUND:
                t = None
            else:
                check(self._lib, st, "the model's tokenizer")
                t = Tokenizer(self._lib, h)
            self._tok[key] = t
        return t

    @property
    def tokenizer(self):
        """The tokenizer the model carries ("mmgen.tokenizer"), or None. It is
        closed with the model."""
        return self._tokenizer(b"mmgen.tokenizer")

    @property
    def source_tokenizer(self):
        """An encoder-decoder model's source tokenizer, or None."""
        return self._tokenizer(b"mmgen.source_tokenizer")

    @property
    def context_length(self):
        return self._lib.mmg_context_max_seq_len(self._context())

    def _context(self, check_finite=None):
        """The model's context, made again when `check_finite` (None: the
        model's setting) differs from the one it was made with."""
        finite = self.check_finite if check_finite is None else bool(check_finite)
        if self._ctx and self._ctx_finite != finite:
            ctx, self._ctx = self._ctx, None
            self._lib.mmg_context_free(ctx)
        if not self._ctx:
            co = S.ContextOptions()
            self._lib.mmg_context_options_init(ctypes.byref(co), ctypes.sizeof(co))
            co.n_threads = self._n_threads
            co.check_finite = int(finite)
            ctx = ctypes.c_void_p()
            check(self._lib, self._lib.mmg_context_create(self._handle(), ctypes.byref(co),
                                                          ctypes.byref(ctx)), "creating a context")
            self._ctx, self._ctx_finite = ctx, finite
        return self._ctx

    def _special(self, token):
        if token is None:
            return -1
        if isinstance(token, str):
            t = self.tokenizer.special_token(token) if self.tokenizer else None
            return -1 if t is None else t
        return int(token)

    def generate(self, prompt_ids=(), max_tokens=256, seed=0, temperature=None, top_k=None,
                 top_p=None, min_p=None, repetition_penalty=None, repetition_window=None,
                 end_token=None, start_token=None, source_ids=None, constraint=False,
                 on_token=None, check_finite=None):
        """Generates up to `max_tokens` ids after `prompt_ids` and returns them
        (a list; the end token, when sampled, is its last element).

        Sampling options left None keep the library's defaults (temperature
        1, top-k off, top-p 1; mmgen/sampling.h). end_token/start_token: an
        id, a special token name of the model's tokenizer ("eos"), or None.
        source_ids: the source of an encoder-decoder model. constraint: let
        the tokenizer's constraint extension restrict tokens (of this call's
        new tokens). on_token(index, token) is called as each token comes;
        a true return value stops generation (the tokens so far are
        returned). check_finite: True/False overrides the model's
        check_finite for this call (NaN or infinite logits raise
        MMG_ERR_NUMERIC). The same arguments give the same ids as `mmgen
        generate --prompt-ids ... --seed S --no-constraint` with sampling at
        those settings."""
        lib = self._lib
        so = S.SamplingOptions()
        lib.mmg_sampling_options_init(ctypes.byref(so), ctypes.sizeof(so))
        for k, v in zip(_SAMPLING_FIELDS, (temperature, top_k, top_p, min_p, repetition_penalty,
                                           repetition_window)):
            if v is not None:
                setattr(so, k, v)
        so.seed = seed
        check(lib, lib.mmg_sampling_options_validate(ctypes.byref(so)), "sampling options")
        if max_tokens < 1:
            raise MmgenError(_lib.MMG_ERR_INVALID_ARG, "max_tokens must be >= 1, not %r" % max_tokens)
        go = S.GenerateOptions()
        lib.mmg_generate_options_init(ctypes.byref(go), ctypes.sizeof(go))
        go.sampling = ctypes.pointer(so)
        go.max_new_tokens = max_tokens
        go.end_token = self._special(end_token)
        go.start_token = self._special(start_token)
        if constraint:
            tok = self.tokenizer
            if tok is None or not tok.has_extension(b"mmgen.constraint/1"):
                raise MmgenError(_lib.MMG_ERR_UNSUPPORTED, "the model's tokenizer has no constraint")
            go.constraint = ctypes.cast(lib.mmg_tokenizer_mask_cb, S.TokenMaskCb)
            go.constraint_user_data = tok._handle()

        made, failure, stopped = [], [], []

        def cb(user_data, sequence, index, token):
            made.append(token)
            if on_token is None:
                return 0
            try:
                if on_token(index, token):
                    stopped.append(True)
                    return _lib.MMG_ERR_CANCELLED
                return 0
            except BaseException as e:  # raised again once the C call is over
                failure.append(e)
                return _lib.MMG_ERR_CANCELLED

        token_cb = S.TokenCb(cb)  # kept alive for the call
        go.on_token = token_cb

        p_arr, p_n = _ids_array(prompt_ids)
        prompts = (S.c_int32_p * 1)(ctypes.cast(p_arr, S.c_int32_p))
        p_len = (ctypes.c_int32 * 1)(p_n)
        sources = s_len = None
        if source_ids is not None:
            s_arr, s_n = _ids_array(source_ids)
            sources = (S.c_int32_p * 1)(ctypes.cast(s_arr, S.c_int32_p))
            s_len = (ctypes.c_int32 * 1)(s_n)
        seeds = (ctypes.c_uint64 * 1)(seed)
        out = (ctypes.c_int32 * max_tokens)()
        out_len = (ctypes.c_int32 * 1)()
        with self._busy:  # a context computes for one thread at a time
            ctx = self._context(check_finite)
            st = lib.mmg_generate(ctx, ctypes.byref(go), 1, sources, s_len, prompts, p_len, seeds,
                                  out, out_len)
        if failure:
            raise failure[0]
        if st == _lib.MMG_ERR_CANCELLED and stopped:
            return made
        check(lib, st, "generating")
        return out[:out_len[0]]

    def stream(self, prompt_ids=(), max_tokens=256, seed=0, **options):
        """An iterator over the ids generate() would return, yielding each as
        the library samples it. Leaving the loop early stops generation."""
        q = queue.Queue()
        stop = threading.Event()

        def on_token(index, token):
            q.put(("token", token))
            return stop.is_set()

        def work():
            try:
                self.generate(prompt_ids, max_tokens, seed, on_token=on_token, **options)
                q.put(("done", None))
            except BaseException as e:
                q.put(("error", e))

        worker = threading.Thread(target=work, name="mmgen-stream", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = q.get()
                if kind == "token":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop.set()
            worker.join()

    def __repr__(self):
        if not self._h:
            return "<mmgen.Model closed>"
        return "<mmgen.Model %d params>" % self.n_params


class Trainer(_Handle):
    """Trains a model in place on a token sequence (mmgen/train.h): packed
    windows of seq_len + 1 tokens, AdamW. step() returns the batch's loss."""
    _free = "mmg_trainer_free"

    def __init__(self, model, tokens, batch_size=8, seq_len=64, seed=0, **options):
        """options: fields of mmg_train_options (learning_rate, warmup_steps,
        decay_steps, weight_decay, grad_clip, dropout, n_threads, ...)."""
        lib = model._lib
        super().__init__(lib, None)
        self._model = model
        self._ds = self._loader = None
        arr, n = _ids_array(tokens)
        ds = ctypes.c_void_p()
        check(lib, lib.mmg_dataset_from_tokens(arr, n, ctypes.byref(ds)), "dataset")
        self._ds = ds
        lo = S.LoaderOptions()
        lib.mmg_loader_options_init(ctypes.byref(lo), ctypes.sizeof(lo))
        lo.batch_size, lo.seq_len, lo.seed = batch_size, seq_len, seed
        loader = ctypes.c_void_p()
        try:
            check(lib, lib.mmg_loader_create_packed(ds, ctypes.byref(lo), ctypes.byref(loader)), "loader")
            self._loader = loader
            to = S.TrainOptions()
            lib.mmg_train_options_init(ctypes.byref(to), ctypes.sizeof(to))
            to.seed = seed
            for k, v in options.items():
                if k not in dict(S.TrainOptions._fields_) or k == "struct_size":
                    raise TypeError("unknown training option %r" % k)
                setattr(to, k, v)
            h = ctypes.c_void_p()
            check(lib, lib.mmg_trainer_create(model._handle(), ctypes.byref(to), ctypes.byref(h)),
                  "creating a trainer")
        except BaseException:
            self.close()
            raise
        self._h = h
        model._dependents.add(self)

    def step(self):
        """One batch forward and backward (and an update every
        grad_accum_steps): returns its mean cross-entropy loss."""
        h = self._handle()
        b = ctypes.c_void_p()
        check(self._lib, self._lib.mmg_loader_next(self._loader, ctypes.byref(b)), "next batch")
        loss = ctypes.c_float()
        with self._model._busy:
            check(self._lib, self._lib.mmg_trainer_step(h, b, ctypes.byref(loss)), "training step")
        return loss.value

    @property
    def steps_done(self):
        return self._lib.mmg_trainer_steps_done(self._handle())

    @property
    def learning_rate(self):
        return self._lib.mmg_trainer_learning_rate(self._handle())

    def read_grad(self, name, numpy=False):
        """A copy of the gradient of parameter `name`, as Model.read_param
        returns the parameter: the one the last update applied (after
        clipping), or the sum so far within a grad_accum_steps window; zeros
        before the first step."""
        _, shape, n = self._model._param(name)
        out, addr = _float_sink(shape, n, numpy)
        check(self._lib, self._lib.mmg_trainer_read_grad(self._handle(), _as_bytes(name), addr, n),
              "reading the gradient of %r" % (name,))
        return out

    def close(self):
        super().close()
        loader, self._loader = self._loader, None
        if loader:
            self._lib.mmg_loader_free(loader)
        ds, self._ds = self._ds, None
        if ds:
            self._lib.mmg_dataset_free(ds)
