"""mmgen: Python bindings for libmmgen, through ctypes and the standard library.

    import mmgen
    with mmgen.Model.load("m.safetensors") as m:
        tok = m.tokenizer
        ids = m.generate([tok.special_token("bos")] + tok.encode("ROMEO:"),
                         max_tokens=50, seed=7, temperature=0.8, end_token="eos")
        print(tok.decode(ids).decode())
        shapes = m.parameters()                  # {"tok_emb.weight": (300, 32), ...}
        w = m.read_param("tok_emb.weight")       # array.array('f'); numpy=True: an ndarray
        m.write_param("tok_emb.weight", w)

The library is found from mmgen.load_library(path), else $MMGEN_LIB, else the
system's libmmgen.so.1; plugins through $MMGEN_PLUGIN_PATH. Loading refuses a
library that cannot serve ABI 1.3 or whose struct layouts differ from this
package's mirrors (MmgenError, MMG_ERR_ABI). Every failed call raises
MmgenError with the library's status and message.
"""
from ._lib import (ABI_MAJOR, ABI_MINOR, STATUS_NAMES, MmgenError, check_abi, check_layouts,
                   MMG_OK, MMG_ERR_INVALID_ARG, MMG_ERR_NOMEM, MMG_ERR_IO, MMG_ERR_FORMAT,
                   MMG_ERR_UNSUPPORTED, MMG_ERR_PLUGIN, MMG_ERR_ABI, MMG_ERR_RANGE, MMG_ERR_CONFIG,
                   MMG_ERR_STATE, MMG_ERR_LIMIT, MMG_ERR_NUMERIC, MMG_ERR_CANCELLED,
                   MMG_ERR_NOT_FOUND, MMG_ERR_INTERNAL)
from ._lib import load as load_library, get as library
from ._api import Plugin, Tokenizer, Model, Trainer, weights_size, quantize, dequantize

__version__ = "1.3.0"


def version():
    """The loaded library's version string, e.g. "1.3.0"."""
    return library().mmg_version_string().decode()


__all__ = ["MmgenError", "Plugin", "Tokenizer", "Model", "Trainer", "weights_size", "quantize", "dequantize",
           "load_library", "library",
           "version", "check_abi", "check_layouts", "ABI_MAJOR", "ABI_MINOR",
           "STATUS_NAMES"] + list(STATUS_NAMES)
