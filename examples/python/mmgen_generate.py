#!/usr/bin/env python3
"""Generate text with libmmgen from Python, through ctypes alone.

What it shows, in the order a binding does it:
  1. load libmmgen and check, before anything else, that the library serves
     the ABI this file was written for (mmg_abi_compatible);
  2. load a model file (safetensors) written by `mmgen train`;
  3. restore the tokenizer the model carries in its "mmgen.tokenizer"
     metadata: open its plugin, create it from its config, load its state;
  4. encode the prompt, generate with sampling options and a seed, stream the
     text through the tokenizer's incremental decoder as tokens arrive.

It frames the prompt as `mmgen generate` does ([bos] + encode(prompt)), uses
the same sampling defaults (temperature 0.8, top-p 0.95) and the same seed
rule, so `mmgen generate -m M --prompt P -n N --seed S` prints the same text.

Every struct goes by pointer and is filled by its *_init function with its
own size (ABI.md): ctypes never depends on a struct-passing convention, and
fields this file does not know keep the library's defaults.

    python3 mmgen_generate.py --lib build/lib/libmmgen.so --model m.safetensors \\
        --prompt "ROMEO:" --max-tokens 100 --seed 7
(plugins are found through MMGEN_PLUGIN_PATH, e.g. build/plugins.)
"""
import argparse
import base64
import ctypes
import ctypes.util
import json
import os
import sys

ABI_MAJOR, ABI_MINOR = 1, 0  # the header version this binding was written against
MMG_OK = 0
MMG_EXT_STREAM_DECODE_V1 = b"mmgen.stream_decode/1"
MMG_EXT_CONSTRAINT_V1 = b"mmgen.constraint/1"

c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_uint8_p = ctypes.POINTER(ctypes.c_uint8)

# Callback types (mmgen/constraint.h, mmgen/generate.h).
TokenMaskCb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, c_int32_p, ctypes.c_size_t,
                               c_uint8_p, ctypes.c_size_t)
TokenCb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32,
                           ctypes.c_int32)


class SamplingOptions(ctypes.Structure):  # mmgen/sampling.h
    _fields_ = [("struct_size", ctypes.c_size_t), ("temperature", ctypes.c_float),
                ("top_k", ctypes.c_int32), ("top_p", ctypes.c_float), ("min_p", ctypes.c_float),
                ("repetition_penalty", ctypes.c_float), ("repetition_window", ctypes.c_int32),
                ("seed", ctypes.c_uint64)]


class GenerateOptions(ctypes.Structure):  # mmgen/generate.h
    _fields_ = [("struct_size", ctypes.c_size_t), ("sampling", ctypes.POINTER(SamplingOptions)),
                ("max_new_tokens", ctypes.c_int32), ("end_token", ctypes.c_int32),
                ("start_token", ctypes.c_int32), ("constraint", TokenMaskCb),
                ("constraint_user_data", ctypes.c_void_p),
                ("constraint_user_data_each", ctypes.POINTER(ctypes.c_void_p)),
                ("on_token", TokenCb), ("on_token_user_data", ctypes.c_void_p)]


class ContextOptions(ctypes.Structure):  # mmgen/context.h
    _fields_ = [("struct_size", ctypes.c_size_t), ("n_threads", ctypes.c_int32),
                ("n_slots", ctypes.c_int32), ("max_seq_len", ctypes.c_int32),
                ("memory_limit", ctypes.c_uint64)]


class MmgenError(RuntimeError):
    pass


def load_library(path):
    if not path:
        path = os.environ.get("MMGEN_LIB") or ctypes.util.find_library("mmgen")
    if not path:
        raise MmgenError("libmmgen not found: pass --lib PATH or set MMGEN_LIB")
    lib = ctypes.CDLL(path)
    P = ctypes.c_void_p
    sigs = {
        "mmg_abi_version": (ctypes.c_uint32, []),
        "mmg_version_string": (ctypes.c_char_p, []),
        "mmg_abi_compatible": (ctypes.c_int, [ctypes.c_uint32, ctypes.c_uint32]),
        "mmg_last_error": (ctypes.c_char_p, []),
        "mmg_free": (None, [P]),
        "mmg_model_load": (ctypes.c_int, [ctypes.c_char_p, P, ctypes.POINTER(P)]),
        "mmg_model_free": (None, [P]),
        "mmg_model_get_metadata": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]),
        "mmg_context_options_init": (None, [P, ctypes.c_size_t]),
        "mmg_context_create": (ctypes.c_int, [P, P, ctypes.POINTER(P)]),
        "mmg_context_free": (None, [P]),
        "mmg_context_max_seq_len": (ctypes.c_int32, [P]),
        "mmg_sampling_options_init": (None, [P, ctypes.c_size_t]),
        "mmg_generate_options_init": (None, [P, ctypes.c_size_t]),
        "mmg_generate": (ctypes.c_int, [P, P, ctypes.c_int32, P, P, ctypes.POINTER(c_int32_p),
                                        c_int32_p, ctypes.POINTER(ctypes.c_uint64), c_int32_p,
                                        c_int32_p]),
        "mmg_plugin_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(P)]),
        "mmg_plugin_close": (None, [P]),
        "mmg_tokenizer_create": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.POINTER(P)]),
        "mmg_tokenizer_free": (None, [P]),
        "mmg_tokenizer_load_state": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t]),
        "mmg_tokenizer_encode": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t,
                                                ctypes.POINTER(c_int32_p),
                                                ctypes.POINTER(ctypes.c_size_t)]),
        "mmg_tokenizer_special_token": (ctypes.c_int, [P, ctypes.c_char_p, c_int32_p]),
        "mmg_tokenizer_has_extension": (ctypes.c_int, [P, ctypes.c_char_p]),
        "mmg_decode_stream_create": (ctypes.c_int, [P, ctypes.POINTER(P)]),
        "mmg_decode_stream_feed": (ctypes.c_int, [P, c_int32_p, ctypes.c_size_t,
                                                  ctypes.POINTER(c_uint8_p),
                                                  ctypes.POINTER(ctypes.c_size_t)]),
        "mmg_decode_stream_flush": (ctypes.c_int, [P, ctypes.POINTER(c_uint8_p),
                                                   ctypes.POINTER(ctypes.c_size_t)]),
        "mmg_decode_stream_free": (None, [P]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    # mmg_tokenizer_mask_cb is handed to mmg_generate as the constraint
    # callback (user_data = the tokenizer), never called from Python
    lib.mask_cb = ctypes.cast(lib.mmg_tokenizer_mask_cb, TokenMaskCb)
    return lib


def check(lib, status, doing):
    if status != MMG_OK:
        raise MmgenError("%s: %s" % (doing, lib.mmg_last_error().decode("utf-8", "replace")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="path to libmmgen.so (default: $MMGEN_LIB, then the system)")
    ap.add_argument("--model", required=True, help="a model written by `mmgen train`")
    ap.add_argument("--prompt", default="")
    ap.add_argument("--max-tokens", type=int, default=100)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    lib = load_library(args.lib)
    # 1. The ABI check comes first: a header newer than the library is the
    #    classic crash of FFI bindings.
    if not lib.mmg_abi_compatible(ABI_MAJOR, ABI_MINOR):
        v = lib.mmg_abi_version()
        raise MmgenError("libmmgen %s (ABI %d.%d) cannot serve this binding (ABI %d.%d)" % (
            lib.mmg_version_string().decode(), v >> 16, v & 0xFFFF, ABI_MAJOR, ABI_MINOR))
    print("libmmgen %s" % lib.mmg_version_string().decode(), file=sys.stderr)

    # 2. The model.
    model = ctypes.c_void_p()
    check(lib, lib.mmg_model_load(args.model.encode(), None, ctypes.byref(model)),
          "loading %s" % args.model)
    co = ContextOptions()
    lib.mmg_context_options_init(ctypes.byref(co), ctypes.sizeof(co))
    co.n_threads = args.threads
    ctx = ctypes.c_void_p()
    check(lib, lib.mmg_context_create(model, ctypes.byref(co), ctypes.byref(ctx)), "context")

    # 3. Its tokenizer, from the model's metadata ("mmgen.tokenizer", written
    #    by `mmgen train`): plugin name, config and learned state.
    value = ctypes.c_char_p()
    check(lib, lib.mmg_model_get_metadata(model, b"mmgen.tokenizer", ctypes.byref(value)),
          "%s: tokenizer" % args.model)
    tdoc = json.loads(value.value.decode("utf-8"))
    plugin = ctypes.c_void_p()
    check(lib, lib.mmg_plugin_open(tdoc["plugin"].encode(), ctypes.byref(plugin)),
          "opening plugin %s" % tdoc["plugin"])
    tok = ctypes.c_void_p()
    config = json.dumps(tdoc["config"]).encode() if tdoc.get("config") is not None else None
    # The saved state is self-contained: when the config names files that are
    # gone, the tokenizer is made empty and restored from the state alone.
    if lib.mmg_tokenizer_create(plugin, config, ctypes.byref(tok)) != MMG_OK:
        check(lib, lib.mmg_tokenizer_create(plugin, None, ctypes.byref(tok)), "tokenizer")
    lib.mmg_plugin_close(plugin)  # the tokenizer keeps the module loaded
    state = base64.b64decode(tdoc["state"])
    check(lib, lib.mmg_tokenizer_load_state(tok, state, len(state)), "tokenizer state")

    def special(name):
        i = ctypes.c_int32(-1)
        return i.value if lib.mmg_tokenizer_special_token(tok, name, ctypes.byref(i)) == MMG_OK else -1

    bos, eos = special(b"bos"), special(b"eos")

    # 4. The prompt: [bos] + encode(prompt), as `mmgen train` framed documents.
    ids, n = c_int32_p(), ctypes.c_size_t()
    p = args.prompt.encode()
    check(lib, lib.mmg_tokenizer_encode(tok, p, len(p), ctypes.byref(ids), ctypes.byref(n)), "encode")
    prompt_ids = ([bos] if bos >= 0 else []) + [ids[i] for i in range(n.value)]
    lib.mmg_free(ids)
    window = lib.mmg_context_max_seq_len(ctx)
    room = window - len(prompt_ids)
    if room <= 0:
        raise MmgenError("the prompt fills the model's context of %d tokens" % window)
    max_new = min(args.max_tokens, room)  # (mmgen generate also slides past the context)

    stream = ctypes.c_void_p()
    check(lib, lib.mmg_decode_stream_create(tok, ctypes.byref(stream)), "decode stream")
    out = sys.stdout.buffer

    def feed(tokens):
        arr = (ctypes.c_int32 * len(tokens))(*tokens)
        buf, size = c_uint8_p(), ctypes.c_size_t()
        check(lib, lib.mmg_decode_stream_feed(stream, arr, len(tokens), ctypes.byref(buf),
                                              ctypes.byref(size)), "decode")
        out.write(ctypes.string_at(buf, size.value))
        out.flush()
        lib.mmg_free(buf)

    if len(prompt_ids) > (1 if bos >= 0 else 0):
        feed(prompt_ids[1 if bos >= 0 else 0:])

    @TokenCb
    def on_token(user_data, sequence, index, token):
        if token != eos:
            feed([token])
        return 0

    so = SamplingOptions()
    lib.mmg_sampling_options_init(ctypes.byref(so), ctypes.sizeof(so))
    so.temperature, so.top_p, so.seed = args.temperature, args.top_p, args.seed
    go = GenerateOptions()
    lib.mmg_generate_options_init(ctypes.byref(go), ctypes.sizeof(go))
    go.sampling = ctypes.pointer(so)
    go.max_new_tokens = max_new
    go.end_token = eos
    go.on_token = on_token
    if lib.mmg_tokenizer_has_extension(tok, MMG_EXT_CONSTRAINT_V1):
        go.constraint, go.constraint_user_data = lib.mask_cb, tok

    prompt_arr = (ctypes.c_int32 * len(prompt_ids))(*prompt_ids)
    prompts = (c_int32_p * 1)(ctypes.cast(prompt_arr, c_int32_p))
    lengths = (ctypes.c_int32 * 1)(len(prompt_ids))
    seeds = (ctypes.c_uint64 * 1)(args.seed)
    out_tokens = (ctypes.c_int32 * max_new)()
    out_len = (ctypes.c_int32 * 1)()
    check(lib, lib.mmg_generate(ctx, ctypes.byref(go), 1, None, None, prompts, lengths, seeds,
                                out_tokens, out_len), "generate")
    buf, size = c_uint8_p(), ctypes.c_size_t()
    check(lib, lib.mmg_decode_stream_flush(stream, ctypes.byref(buf), ctypes.byref(size)), "flush")
    out.write(ctypes.string_at(buf, size.value) + b"\n")
    lib.mmg_free(buf)

    lib.mmg_decode_stream_free(stream)
    lib.mmg_tokenizer_free(tok)
    lib.mmg_context_free(ctx)
    lib.mmg_model_free(model)
    print("%d tokens generated" % out_len[0], file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except MmgenError as e:
        print("mmgen_generate.py: %s" % e, file=sys.stderr)
        sys.exit(1)
