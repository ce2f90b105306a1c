#!/usr/bin/env python3
"""Text -> image (or any source -> any target) with libmmgen from Python,
through ctypes alone, using the ABI 1.2 functions for a model's tokenizers.

What `mmgen generate -m digits.safetensors --source seven -o seven.png` does:
  1. check that the library serves ABI 1.2 (mmg_abi_compatible(1, 2));
  2. load the model; restore its target tokenizer ("mmgen.tokenizer") and its
     source tokenizer ("mmgen.source_tokenizer") with mmg_model_tokenizer,
     and read the source id offset with mmg_model_source_id_offset;
  3. encode the source with the source tokenizer and add the offset (the
     source ids sit after the target ids in the model's one vocabulary);
  4. generate from [bos] with the target tokenizer's constraint, which also
     keeps out the source range, so the output is always a valid document;
  5. decode with the target tokenizer and write the file.

The seed, the sampling defaults (temperature 0.8, top-p 0.95) and the framing
are those of `mmgen generate`, so the same seed gives the same file, byte for
byte. The ctypes declarations it shares with mmgen_generate.py come from there.

    python3 mmgen_cross_modal.py --lib build/lib/libmmgen.so --model digits.safetensors \\
        --source seven -o seven.png --seed 1
(plugins are found through MMGEN_PLUGIN_PATH, e.g. build/plugins.)
"""
import argparse
import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmgen_generate import (MMG_OK, ContextOptions, GenerateOptions, MmgenError,  # noqa: E402
                            SamplingOptions, c_int32_p, c_uint8_p, check, load_library)

ABI_MAJOR, ABI_MINOR = 1, 2  # mmg_model_tokenizer and friends came with 1.2
MMG_ERR_NOT_FOUND = 14


def declare_1_2(lib):
    P = ctypes.c_void_p
    sigs = {
        "mmg_model_tokenizer": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.POINTER(P)]),
        "mmg_model_source_id_offset": (ctypes.c_int, [P, ctypes.POINTER(ctypes.c_int32)]),
        "mmg_tokenizer_decode": (ctypes.c_int, [P, c_int32_p, ctypes.c_size_t, ctypes.POINTER(c_uint8_p),
                                                ctypes.POINTER(ctypes.c_size_t)]),
        "mmg_tokenizer_vocab_size": (ctypes.c_int32, [P]),
    }
    for name, (res, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, argtypes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="path to libmmgen.so (default: $MMGEN_LIB, then the system)")
    ap.add_argument("--model", required=True, help="an encoder-decoder written by `mmgen train`")
    ap.add_argument("--source", required=True, help="the source document as text, e.g. seven")
    ap.add_argument("-o", "--output", required=True, help="the file to write (e.g. seven.png)")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    lib = load_library(args.lib)
    if not lib.mmg_abi_compatible(ABI_MAJOR, ABI_MINOR):
        v = lib.mmg_abi_version()
        raise MmgenError("libmmgen %s (ABI %d.%d) cannot serve this binding (ABI %d.%d)" % (
            lib.mmg_version_string().decode(), v >> 16, v & 0xFFFF, ABI_MAJOR, ABI_MINOR))
    declare_1_2(lib)

    model = ctypes.c_void_p()
    check(lib, lib.mmg_model_load(args.model.encode(), None, ctypes.byref(model)), "loading " + args.model)
    target, source = ctypes.c_void_p(), ctypes.c_void_p()
    check(lib, lib.mmg_model_tokenizer(model, b"mmgen.tokenizer", ctypes.byref(target)), "target tokenizer")
    s = lib.mmg_model_tokenizer(model, b"mmgen.source_tokenizer", ctypes.byref(source))
    if s == MMG_ERR_NOT_FOUND:  # a model with one tokenizer reads its sources with it
        check(lib, lib.mmg_model_tokenizer(model, b"mmgen.tokenizer", ctypes.byref(source)), "tokenizer")
    else:
        check(lib, s, "source tokenizer")
    offset = ctypes.c_int32()
    check(lib, lib.mmg_model_source_id_offset(model, ctypes.byref(offset)), "source id offset")

    def special(tok, name):
        i = ctypes.c_int32(-1)
        return i.value if lib.mmg_tokenizer_special_token(tok, name, ctypes.byref(i)) == MMG_OK else -1

    bos, eos = special(target, b"bos"), special(target, b"eos")

    ids, n = c_int32_p(), ctypes.c_size_t()
    text = args.source.encode()
    check(lib, lib.mmg_tokenizer_encode(source, text, len(text), ctypes.byref(ids), ctypes.byref(n)), "encode")
    src_ids = [ids[i] + offset.value for i in range(n.value)]
    lib.mmg_free(ids)

    co = ContextOptions()
    lib.mmg_context_options_init(ctypes.byref(co), ctypes.sizeof(co))
    ctx = ctypes.c_void_p()
    check(lib, lib.mmg_context_create(model, ctypes.byref(co), ctypes.byref(ctx)), "context")
    prompt_ids = [bos] if bos >= 0 else []
    max_new = min(args.max_tokens, lib.mmg_context_max_seq_len(ctx) - len(prompt_ids))

    so = SamplingOptions()
    lib.mmg_sampling_options_init(ctypes.byref(so), ctypes.sizeof(so))
    so.temperature, so.top_p, so.seed = args.temperature, args.top_p, args.seed
    go = GenerateOptions()
    lib.mmg_generate_options_init(ctypes.byref(go), ctypes.sizeof(go))
    go.sampling = ctypes.pointer(so)
    go.max_new_tokens = max_new
    go.end_token = eos
    # the target tokenizer's constraint: a valid document, and never an id at
    # or past its vocabulary (the source range)
    go.constraint, go.constraint_user_data = lib.mask_cb, target

    def arr(v):
        return (ctypes.c_int32 * len(v))(*v)

    src_arr, prompt_arr = arr(src_ids), arr(prompt_ids)
    sources = (c_int32_p * 1)(ctypes.cast(src_arr, c_int32_p))
    src_len = (ctypes.c_int32 * 1)(len(src_ids))
    prompts = (c_int32_p * 1)(ctypes.cast(prompt_arr, c_int32_p))
    lengths = (ctypes.c_int32 * 1)(len(prompt_ids))
    seeds = (ctypes.c_uint64 * 1)(args.seed)
    out_tokens = (ctypes.c_int32 * max_new)()
    out_len = (ctypes.c_int32 * 1)()
    check(lib, lib.mmg_generate(ctx, ctypes.byref(go), 1, sources, src_len, prompts, lengths, seeds,
                                out_tokens, out_len), "generate")
    doc = [t for t in out_tokens[:out_len[0]] if t != eos]
    buf, size = c_uint8_p(), ctypes.c_size_t()
    check(lib, lib.mmg_tokenizer_decode(target, arr(doc), len(doc), ctypes.byref(buf), ctypes.byref(size)),
          "decode")
    with open(args.output, "wb") as f:
        f.write(ctypes.string_at(buf, size.value))
    lib.mmg_free(buf)
    print("wrote %s (%d bytes, %d tokens; source %r -> ids %s)" % (args.output, size.value, len(doc),
                                                                   args.source, src_ids), file=sys.stderr)
    lib.mmg_tokenizer_free(source)
    lib.mmg_tokenizer_free(target)
    lib.mmg_context_free(ctx)
    lib.mmg_model_free(model)


if __name__ == "__main__":
    try:
        main()
    except MmgenError as e:
        print("mmgen_cross_modal.py: %s" % e, file=sys.stderr)
        sys.exit(1)
