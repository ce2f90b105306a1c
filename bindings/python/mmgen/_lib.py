"""Loading libmmgen, checking its ABI, and turning statuses into exceptions.

The library comes from, in order: an explicit path given to load(), the
MMGEN_LIB environment variable, or the system's library search (libmmgen.so.1,
as installed). Before any other call the library must serve the ABI this
package was written against (mmg_abi_compatible, mmgen/version.h), and every
struct this package mirrors must have the library's field offsets
(mmgen/layout.h); a library that fails either check is refused with
MmgenError(MMG_ERR_ABI), never called.
"""
import ctypes
import ctypes.util
import os
import threading

from . import _structs as S

ABI_MAJOR, ABI_MINOR = 1, 3  # the header version this package mirrors

# mmg_status values (mmgen/status.h): part of the ABI, never renumbered.
STATUS_NAMES = ("MMG_OK", "MMG_ERR_INVALID_ARG", "MMG_ERR_NOMEM", "MMG_ERR_IO", "MMG_ERR_FORMAT",
                "MMG_ERR_UNSUPPORTED", "MMG_ERR_PLUGIN", "MMG_ERR_ABI", "MMG_ERR_RANGE",
                "MMG_ERR_CONFIG", "MMG_ERR_STATE", "MMG_ERR_LIMIT", "MMG_ERR_NUMERIC",
                "MMG_ERR_CANCELLED", "MMG_ERR_NOT_FOUND", "MMG_ERR_INTERNAL")
MMG_OK = 0
MMG_ERR_INVALID_ARG = 1
MMG_ERR_NOMEM = 2
MMG_ERR_IO = 3
MMG_ERR_FORMAT = 4
MMG_ERR_UNSUPPORTED = 5
MMG_ERR_PLUGIN = 6
MMG_ERR_ABI = 7
MMG_ERR_RANGE = 8
MMG_ERR_CONFIG = 9
MMG_ERR_STATE = 10
MMG_ERR_LIMIT = 11
MMG_ERR_NUMERIC = 12
MMG_ERR_CANCELLED = 13
MMG_ERR_NOT_FOUND = 14
MMG_ERR_INTERNAL = 15


class MmgenError(Exception):
    """A failed mmgen call: `status` (the mmg_status number), `status_name`
    ("MMG_ERR_IO"), `message` (mmg_last_error: what went wrong, in words) and
    `doing` (what this package was doing)."""

    def __init__(self, status, message, doing=None):
        self.status = int(status)
        self.status_name = STATUS_NAMES[self.status] if 0 <= self.status < len(STATUS_NAMES) \
            else "MMG_UNKNOWN"
        self.message = message
        self.doing = doing
        text = "%s: %s" % (self.status_name, message) if message else self.status_name
        super().__init__("%s: %s" % (doing, text) if doing else text)


P = ctypes.c_void_p
PP = ctypes.POINTER(ctypes.c_void_p)
c_size_p = ctypes.POINTER(ctypes.c_size_t)
c_char_pp = ctypes.POINTER(ctypes.c_char_p)
c_int32_pp = ctypes.POINTER(S.c_int32_p)
c_uint8_pp = ctypes.POINTER(S.c_uint8_p)
_i32, _u32, _u64, _int, _size = ctypes.c_int32, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int, \
    ctypes.c_size_t

# name -> (restype, argtypes), as in the headers. Status returns are c_int.
SIGNATURES = {
    # version.h, status.h, memory.h
    "mmg_abi_version": (_u32, []),
    "mmg_version_string": (ctypes.c_char_p, []),
    "mmg_abi_compatible": (_int, [_u32, _u32]),
    "mmg_status_name": (ctypes.c_char_p, [_int]),
    "mmg_last_error": (ctypes.c_char_p, []),
    "mmg_last_status": (_int, []),
    "mmg_clear_error": (None, []),
    "mmg_free": (None, [P]),
    # plugin_host.h
    "mmg_plugin_open": (_int, [ctypes.c_char_p, PP]),
    "mmg_plugin_close": (None, [P]),
    "mmg_plugin_name": (ctypes.c_char_p, [P]),
    "mmg_plugin_version": (ctypes.c_char_p, [P]),
    "mmg_plugin_description": (ctypes.c_char_p, [P]),
    "mmg_plugin_path": (ctypes.c_char_p, [P]),
    "mmg_plugin_modality": (_i32, [P]),
    "mmg_modality_name": (ctypes.c_char_p, [_i32]),
    # tokenizer.h
    "mmg_tokenizer_create": (_int, [P, ctypes.c_char_p, PP]),
    "mmg_tokenizer_config": (ctypes.c_char_p, [P]),
    "mmg_tokenizer_free": (None, [P]),
    "mmg_tokenizer_plugin": (P, [P]),
    "mmg_tokenizer_fit": (_int, [P, ctypes.POINTER(S.c_uint8_p), c_size_p, _size]),
    "mmg_tokenizer_save_state": (_int, [P, c_uint8_pp, c_size_p]),
    "mmg_tokenizer_load_state": (_int, [P, ctypes.c_char_p, _size]),
    "mmg_tokenizer_encode": (_int, [P, ctypes.c_char_p, _size, c_int32_pp, c_size_p]),
    "mmg_tokenizer_decode": (_int, [P, S.c_int32_p, _size, c_uint8_pp, c_size_p]),
    "mmg_tokenizer_vocab_size": (_i32, [P]),
    "mmg_tokenizer_special_token": (_int, [P, ctypes.c_char_p, S.c_int32_p]),
    "mmg_tokenizer_describe_token": (_int, [P, _i32, ctypes.POINTER(P)]),
    "mmg_tokenizer_has_extension": (_int, [P, ctypes.c_char_p]),
    "mmg_tokenizer_to_json": (_int, [P, ctypes.POINTER(P)]),
    "mmg_tokenizer_from_json": (_int, [ctypes.c_char_p, _size, PP]),
    "mmg_model_tokenizer": (_int, [P, ctypes.c_char_p, PP]),
    "mmg_model_set_tokenizer": (_int, [P, ctypes.c_char_p, P]),
    "mmg_model_source_id_offset": (_int, [P, S.c_int32_p]),
    # model.h
    "mmg_model_config_init": (None, [P, _size]),
    "mmg_model_config_to_json": (_int, [P, ctypes.POINTER(P)]),
    "mmg_model_config_from_json": (_int, [ctypes.c_char_p, _size, P]),
    "mmg_model_options_init": (None, [P, _size]),
    "mmg_model_create": (_int, [P, P, PP]),
    "mmg_model_load": (_int, [ctypes.c_char_p, P, PP]),
    "mmg_model_save": (_int, [P, ctypes.c_char_p]),
    "mmg_model_free": (None, [P]),
    "mmg_model_get_config": (_int, [P, P]),
    "mmg_model_n_params": (_u64, [P]),
    "mmg_model_get_metadata": (_int, [P, ctypes.c_char_p, c_char_pp]),
    "mmg_model_set_metadata": (_int, [P, ctypes.c_char_p, ctypes.c_char_p]),
    "mmg_model_load_memory": (_int, [P, _size, P, PP]),
    "mmg_model_param_count": (_size, [P]),
    "mmg_model_param_info": (_int, [P, _size, ctypes.POINTER(S.ParamInfo)]),
    "mmg_model_param_find": (_int, [P, ctypes.c_char_p, c_size_p]),
    "mmg_model_read_param": (_int, [P, ctypes.c_char_p, P, _size]),
    "mmg_model_write_param": (_int, [P, ctypes.c_char_p, P, _size]),
    # context.h, sampling.h, generate.h
    "mmg_context_options_init": (None, [P, _size]),
    "mmg_context_create": (_int, [P, P, PP]),
    "mmg_context_free": (None, [P]),
    "mmg_context_max_seq_len": (_i32, [P]),
    "mmg_sampling_options_init": (None, [P, _size]),
    "mmg_sampling_options_validate": (_int, [P]),
    "mmg_generate_options_init": (None, [P, _size]),
    "mmg_generate": (_int, [P, P, _i32, P, P, P, P, P, S.c_int32_p, S.c_int32_p]),
    # train.h
    "mmg_dataset_from_tokens": (_int, [S.c_int32_p, _size, PP]),
    "mmg_dataset_free": (None, [P]),
    "mmg_loader_options_init": (None, [P, _size]),
    "mmg_loader_create_packed": (_int, [P, P, PP]),
    "mmg_loader_next": (_int, [P, PP]),
    "mmg_loader_free": (None, [P]),
    "mmg_train_options_init": (None, [P, _size]),
    "mmg_trainer_create": (_int, [P, P, PP]),
    "mmg_trainer_free": (None, [P]),
    "mmg_trainer_step": (_int, [P, P, ctypes.POINTER(ctypes.c_float)]),
    "mmg_trainer_steps_done": (ctypes.c_int64, [P]),
    "mmg_trainer_learning_rate": (ctypes.c_float, [P]),
    "mmg_trainer_read_grad": (_int, [P, ctypes.c_char_p, P, _size]),
}

# layout.h (1.3): declared once the version check has passed, then used to
# check the struct mirrors before anything else is called.
LAYOUT_SIGNATURES = {
    "mmg_struct_size": (_size, [ctypes.c_char_p]),
    "mmg_struct_field_offset": (ctypes.c_int64, [ctypes.c_char_p, ctypes.c_char_p]),
    "mmg_struct_name_at": (ctypes.c_char_p, [_size]),
}

_lock = threading.Lock()
_default = None


def find_library_path(path=None):
    """The file load() opens: `path`, else $MMGEN_LIB, else the system's
    libmmgen (soname libmmgen.so.1)."""
    if path:
        return os.fspath(path)
    env = os.environ.get("MMGEN_LIB")
    if env:
        return env
    return ctypes.util.find_library("mmgen") or "libmmgen.so.1"


def check_abi(lib, major=ABI_MAJOR, minor=ABI_MINOR):
    """Raises MmgenError(MMG_ERR_ABI) unless `lib` serves headers of version
    (major, minor): the same major and a minor at least as new."""
    if not lib.mmg_abi_compatible(major, minor):
        v = lib.mmg_abi_version()
        raise MmgenError(MMG_ERR_ABI, "libmmgen %s (ABI %d.%d) cannot serve this binding (ABI %d.%d)"
                         % (lib.mmg_version_string().decode(), v >> 16, v & 0xFFFF, major, minor))


def library_struct_names(lib):
    """The public structs the library describes (mmg_struct_name_at), in order."""
    names = []
    while True:
        n = lib.mmg_struct_name_at(len(names))
        if n is None:
            return names
        names.append(n.decode())


def check_layouts(lib, mirrors=None):
    """Raises MmgenError(MMG_ERR_ABI) naming the struct and field unless every
    mirror (a dict C name -> (ctypes.Structure, header), S.MIRRORS by
    default) fits the library's layout (mmgen/layout.h): its size at most
    mmg_struct_size(name) (a newer library may have appended fields) and each
    field at mmg_struct_field_offset(name, field)."""
    lib_text = "libmmgen %s" % lib.mmg_version_string().decode()
    for cname, (mirror, _) in (S.MIRRORS if mirrors is None else mirrors).items():
        size = lib.mmg_struct_size(cname.encode())
        if size == 0:
            raise MmgenError(MMG_ERR_ABI, "struct %s: %s does not know it (the binding mirrors it)"
                             % (cname, lib_text))
        if ctypes.sizeof(mirror) > size:
            raise MmgenError(MMG_ERR_ABI, "struct %s: the binding's mirror has %d bytes, %s's "
                             "struct only %d" % (cname, ctypes.sizeof(mirror), lib_text, size))
        for field, _ in mirror._fields_:
            want = lib.mmg_struct_field_offset(cname.encode(), field.encode())
            have = getattr(mirror, field).offset
            if want != have:
                where = "has no such field" if want < 0 else "has it at offset %d" % want
                raise MmgenError(MMG_ERR_ABI, "struct %s, field %s: the binding's mirror has it at "
                                 "offset %d, %s %s" % (cname, field, have, lib_text, where))


def open_library(path=None):
    """Opens libmmgen (see find_library_path), checks its ABI version and the
    struct mirrors first, and declares every function this package calls.
    Raises MmgenError."""
    where = find_library_path(path)
    try:
        lib = ctypes.CDLL(where)
    except OSError as e:
        raise MmgenError(MMG_ERR_NOT_FOUND, "cannot load libmmgen from %r (%s); pass a path or set "
                         "MMGEN_LIB" % (where, e)) from None
    # The version functions exist in every 1.x; declare them before asking.
    for name in ("mmg_abi_version", "mmg_version_string", "mmg_abi_compatible"):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = SIGNATURES[name]
    check_abi(lib)
    for name, (res, args) in LAYOUT_SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    check_layouts(lib)
    for name, (res, args) in SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    for name, (res, args, _) in OPTIONAL_SIGNATURES.items():
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype, fn.argtypes = res, args
    lib.path = where
    return lib


# Functions of later minors: name -> (restype, argtypes, minor). Declared when
# the library has them; the package's calls check the minor first and raise
# MMG_ERR_UNSUPPORTED naming it on an older library.
OPTIONAL_SIGNATURES = {
    "mmg_weights_size": (_u64, [_i32, _u64], 6),
    "mmg_quantize": (_int, [_i32, P, _u64, P, _size], 6),
    "mmg_dequantize": (_int, [_i32, P, _size, P, _u64], 6),
    "mmg_model_read_param_data": (_int, [P, ctypes.c_char_p, P, _size], 6),
}


def require(lib, name):
    """The optional function `name`, or MmgenError(MMG_ERR_UNSUPPORTED)
    naming the ABI it needs when this library predates it."""
    minor = OPTIONAL_SIGNATURES[name][2]
    if not lib.mmg_abi_compatible(ABI_MAJOR, minor):
        raise MmgenError(MMG_ERR_UNSUPPORTED, "%s needs libmmgen ABI %d.%d; this library is %s"
                         % (name, ABI_MAJOR, minor, lib.mmg_version_string().decode()))
    return getattr(lib, name)


def load(path=None):
    """Makes the library at `path` (or the default one) the one every object
    of this package uses from now on, and returns it."""
    global _default
    lib = open_library(path)
    with _lock:
        _default = lib
    return lib


def get():
    """The library in use, opened on first use (see load)."""
    global _default
    with _lock:
        if _default is None:
            _default = open_library()
        return _default


def last_error(lib, status, doing=None):
    """An MmgenError for `status` with this thread's mmg_last_error text."""
    msg = lib.mmg_last_error()
    return MmgenError(status, msg.decode("utf-8", "replace") if msg else "", doing)


def check(lib, status, doing=None):
    if status != MMG_OK:
        raise last_error(lib, status, doing)
