#!/usr/bin/python3
"""tests/parity/torch_parity.py - mmgen's transformer against PyTorch.

Builds models in PyTorch with random weights:
  * nn.Transformer in the paper's layout (post-LN, ReLU, final LayerNorms),
    with a shared token embedding, sinusoidal positions added here, and a
    tied or untied output projection;
  * a decoder-only stack made of nn.TransformerEncoderLayer with a causal
    mask (post-LN, sinusoidal);
  * a GPT-2-style decoder-only model written like nanoGPT (pre-LN, GELU with
    the tanh approximation, learned positions, final LayerNorm, tied output).
Exports each to a safetensors file in mmgen's tensor naming (F32, F16 or
BF16), runs mmgen on the same tokens through ctypes against libmmgen.so (after
checking mmg_abi_compatible with the numbers in include/mmgen/version.h), and
checks max|mmgen - torch| <= 1e-4 * max|torch logit| over the valid (not
padding) positions.

  /usr/bin/python3 tests/parity/torch_parity.py [--seed N] [--lib PATH]
  /usr/bin/python3 tests/parity/torch_parity.py --fixtures tests/fixtures/parity

--fixtures writes the small committed fixtures tests/test_model_parity.c
checks without torch: <name>.safetensors (the model) and
<name>.expected.safetensors (src, src_len, tgt, tgt_len as I32 and torch's
logits as F32).
Exit status: 0 all cases pass, 1 a case fails, 77 torch is missing.
"""
import argparse
import ctypes
import json
import math
import os
import re
import struct
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print(f"skip: {e}")
    sys.exit(77)

import warnings
warnings.filterwarnings("ignore", message=".*nested tensors.*")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOL = 1e-4

# ---------------------------------------------------------------- safetensors


def save_safetensors(path, tensors, metadata):
    """tensors: list of (name, dtype string, shape, bytes)."""
    header = {"__metadata__": metadata}
    offset = 0
    for name, dt, shape, data in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, _, _, data in tensors:
            f.write(data)


def tensor_bytes(t, dtype):
    t = t.detach().contiguous()
    if dtype == "F32":
        return t.float().numpy().tobytes()
    if dtype == "F16":
        return t.half().numpy().tobytes()
    if dtype == "BF16":
        return t.bfloat16().view(torch.int16).numpy().tobytes()
    raise ValueError(dtype)


def round_to(t, dtype):
    """The float32 values a file of this dtype holds."""
    if dtype == "F16":
        return t.half().float()
    if dtype == "BF16":
        return t.bfloat16().float()
    return t


# ---------------------------------------------------------------- models


def sinusoid_table(T, C):
    """The paper's table, computed like mmgen (double precision)."""
    pe = np.zeros((T, C), dtype=np.float64)
    for i in range(0, C, 2):
        freq = math.exp(-math.log(10000.0) * i / C)
        pe[:, i] = np.sin(np.arange(T) * freq)
        if i + 1 < C:
            pe[:, i + 1] = np.cos(np.arange(T) * freq)
    return torch.tensor(pe, dtype=torch.float32)


class PaperTransformer(nn.Module):
    """nn.Transformer with a shared embedding, sinusoidal positions and an
    output projection (tied to the embedding or not)."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg["d_model"]
        self.cfg = cfg
        self.emb = nn.Embedding(cfg["vocab_size"], C)
        self.tf = nn.Transformer(d_model=C, nhead=cfg["n_heads"],
                                 num_encoder_layers=cfg["n_encoder_layers"],
                                 num_decoder_layers=cfg["n_decoder_layers"],
                                 dim_feedforward=cfg["d_ff"], dropout=0.0, activation=cfg["activation"],
                                 layer_norm_eps=cfg["layernorm_eps"], batch_first=True,
                                 norm_first=cfg["norm_placement"] == "pre")
        if not cfg["tied_output"]:
            self.lm_head = nn.Linear(C, cfg["vocab_size"], bias=False)
        self.register_buffer("pe", sinusoid_table(cfg["max_seq_len"], C))

    def embed(self, x):
        scale = math.sqrt(self.cfg["d_model"]) if self.cfg["scale_embeddings"] else 1.0
        return self.emb(x) * scale + self.pe[: x.shape[1]]

    def forward(self, src, src_len, tgt, tgt_len):
        Ts, Tt = src.shape[1], tgt.shape[1]
        src_pad = torch.arange(Ts)[None, :] >= src_len[:, None]
        tgt_pad = torch.arange(Tt)[None, :] >= tgt_len[:, None]
        causal = nn.Transformer.generate_square_subsequent_mask(Tt)
        h = self.tf(self.embed(src), self.embed(tgt), tgt_mask=causal,
                    src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
                    memory_key_padding_mask=src_pad)
        w = self.emb.weight if self.cfg["tied_output"] else self.lm_head.weight
        return h @ w.t()

    def mmgen_tensors(self):
        cfg, C = self.cfg, self.cfg["d_model"]
        out = [("tok_emb.weight", self.emb.weight)]
        for i, l in enumerate(self.tf.encoder.layers):
            p = f"encoder.layers.{i}."
            out += [(p + "sa_norm.weight", l.norm1.weight), (p + "sa_norm.bias", l.norm1.bias),
                    (p + "self_attn.qkv.weight", l.self_attn.in_proj_weight),
                    (p + "self_attn.qkv.bias", l.self_attn.in_proj_bias),
                    (p + "self_attn.out.weight", l.self_attn.out_proj.weight),
                    (p + "self_attn.out.bias", l.self_attn.out_proj.bias),
                    (p + "ff_norm.weight", l.norm2.weight), (p + "ff_norm.bias", l.norm2.bias),
                    (p + "ff.fc1.weight", l.linear1.weight), (p + "ff.fc1.bias", l.linear1.bias),
                    (p + "ff.fc2.weight", l.linear2.weight), (p + "ff.fc2.bias", l.linear2.bias)]
        out += [("encoder.norm.weight", self.tf.encoder.norm.weight),
                ("encoder.norm.bias", self.tf.encoder.norm.bias)]
        for i, l in enumerate(self.tf.decoder.layers):
            p = f"decoder.layers.{i}."
            ca = l.multihead_attn
            out += [(p + "sa_norm.weight", l.norm1.weight), (p + "sa_norm.bias", l.norm1.bias),
                    (p + "self_attn.qkv.weight", l.self_attn.in_proj_weight),
                    (p + "self_attn.qkv.bias", l.self_attn.in_proj_bias),
                    (p + "self_attn.out.weight", l.self_attn.out_proj.weight),
                    (p + "self_attn.out.bias", l.self_attn.out_proj.bias),
                    (p + "ca_norm.weight", l.norm2.weight), (p + "ca_norm.bias", l.norm2.bias),
                    (p + "cross_attn.q.weight", ca.in_proj_weight[:C]),
                    (p + "cross_attn.q.bias", ca.in_proj_bias[:C]),
                    (p + "cross_attn.kv.weight", ca.in_proj_weight[C:]),
                    (p + "cross_attn.kv.bias", ca.in_proj_bias[C:]),
                    (p + "cross_attn.out.weight", ca.out_proj.weight),
                    (p + "cross_attn.out.bias", ca.out_proj.bias),
                    (p + "ff_norm.weight", l.norm3.weight), (p + "ff_norm.bias", l.norm3.bias),
                    (p + "ff.fc1.weight", l.linear1.weight), (p + "ff.fc1.bias", l.linear1.bias),
                    (p + "ff.fc2.weight", l.linear2.weight), (p + "ff.fc2.bias", l.linear2.bias)]
        out += [("decoder.norm.weight", self.tf.decoder.norm.weight),
                ("decoder.norm.bias", self.tf.decoder.norm.bias)]
        if not cfg["tied_output"]:
            out.append(("lm_head.weight", self.lm_head.weight))
        return out


class CausalEncoderStack(nn.Module):
    """Decoder-only, post-LN, sinusoidal: nn.TransformerEncoderLayer under a
    causal mask (no cross-attention), PyTorch's final LayerNorm, tied output."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg["d_model"]
        self.cfg = cfg
        self.emb = nn.Embedding(cfg["vocab_size"], C)
        layer = nn.TransformerEncoderLayer(C, cfg["n_heads"], cfg["d_ff"], dropout=0.0,
                                           activation="relu", layer_norm_eps=cfg["layernorm_eps"],
                                           batch_first=True)
        self.stack = nn.TransformerEncoder(layer, cfg["n_decoder_layers"], norm=nn.LayerNorm(C, eps=cfg["layernorm_eps"]),
                                           enable_nested_tensor=False)
        self.register_buffer("pe", sinusoid_table(cfg["max_seq_len"], C))

    def forward(self, src, src_len, tgt, tgt_len):
        T = tgt.shape[1]
        pad = torch.arange(T)[None, :] >= tgt_len[:, None]
        causal = nn.Transformer.generate_square_subsequent_mask(T)
        h = self.stack(self.emb(tgt) + self.pe[:T], mask=causal, src_key_padding_mask=pad)
        return h @ self.emb.weight.t()

    def mmgen_tensors(self):
        out = [("tok_emb.weight", self.emb.weight)]
        for i, l in enumerate(self.stack.layers):
            p = f"decoder.layers.{i}."
            out += [(p + "sa_norm.weight", l.norm1.weight), (p + "sa_norm.bias", l.norm1.bias),
                    (p + "self_attn.qkv.weight", l.self_attn.in_proj_weight),
                    (p + "self_attn.qkv.bias", l.self_attn.in_proj_bias),
                    (p + "self_attn.out.weight", l.self_attn.out_proj.weight),
                    (p + "self_attn.out.bias", l.self_attn.out_proj.bias),
                    (p + "ff_norm.weight", l.norm2.weight), (p + "ff_norm.bias", l.norm2.bias),
                    (p + "ff.fc1.weight", l.linear1.weight), (p + "ff.fc1.bias", l.linear1.bias),
                    (p + "ff.fc2.weight", l.linear2.weight), (p + "ff.fc2.bias", l.linear2.bias)]
        out += [("decoder.norm.weight", self.stack.norm.weight), ("decoder.norm.bias", self.stack.norm.bias)]
        return out


def layer_norm(C, eps, bias):
    """nn.LayerNorm, without its bias for bias=False (nanoGPT's; torch 1.13's
    nn.LayerNorm has no bias argument, and F.layer_norm takes bias=None)."""
    ln = nn.LayerNorm(C, eps=eps)
    if not bias:
        del ln.bias
        ln.register_parameter("bias", None)
    return ln


class GPT2Block(nn.Module):
    def __init__(self, C, H, F_, bias, eps, activation, norm_bias=True):
        super().__init__()
        self.H = H
        self.approximate = {"gelu_tanh": "tanh", "gelu": "none"}[activation]
        self.ln_1 = layer_norm(C, eps, norm_bias)
        self.c_attn = nn.Linear(C, 3 * C, bias=bias)
        self.c_proj = nn.Linear(C, C, bias=bias)
        self.ln_2 = layer_norm(C, eps, norm_bias)
        self.c_fc = nn.Linear(C, F_, bias=bias)
        self.c_proj2 = nn.Linear(F_, C, bias=bias)

    def attn(self, x, pad):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        mask = torch.ones(T, T, dtype=torch.bool).tril()[None, None] & ~pad[:, None, None, :]
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return self.c_proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))

    def forward(self, x, pad):
        x = x + self.attn(self.ln_1(x), pad)
        return x + self.c_proj2(F.gelu(self.c_fc(self.ln_2(x)), approximate=self.approximate))


class GPT2(nn.Module):
    """nanoGPT's model: pre-LN, GELU (tanh), learned positions, ln_f, tied."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg["d_model"]
        self.cfg = cfg
        self.wte = nn.Embedding(cfg["vocab_size"], C)
        self.wpe = nn.Embedding(cfg["max_seq_len"], C)
        nb = cfg.get("norm_bias", True)
        self.h = nn.ModuleList(GPT2Block(C, cfg["n_heads"], cfg["d_ff"], cfg["bias"], cfg["layernorm_eps"],
                                         cfg["activation"], nb)
                               for _ in range(cfg["n_decoder_layers"]))
        self.ln_f = layer_norm(C, cfg["layernorm_eps"], nb)

    def forward(self, src, src_len, tgt, tgt_len):
        T = tgt.shape[1]
        pad = torch.arange(T)[None, :] >= tgt_len[:, None]
        x = self.wte(tgt) + self.wpe(torch.arange(T))[None]
        for b in self.h:
            x = b(x, pad)
        return self.ln_f(x) @ self.wte.weight.t()

    def mmgen_tensors(self):
        out = [("tok_emb.weight", self.wte.weight), ("pos_emb.weight", self.wpe.weight)]
        for i, b in enumerate(self.h):
            p = f"decoder.layers.{i}."
            out += [(p + "sa_norm.weight", b.ln_1.weight), (p + "sa_norm.bias", b.ln_1.bias),
                    (p + "self_attn.qkv.weight", b.c_attn.weight), (p + "self_attn.qkv.bias", b.c_attn.bias),
                    (p + "self_attn.out.weight", b.c_proj.weight), (p + "self_attn.out.bias", b.c_proj.bias),
                    (p + "ff_norm.weight", b.ln_2.weight), (p + "ff_norm.bias", b.ln_2.bias),
                    (p + "ff.fc1.weight", b.c_fc.weight), (p + "ff.fc1.bias", b.c_fc.bias),
                    (p + "ff.fc2.weight", b.c_proj2.weight), (p + "ff.fc2.bias", b.c_proj2.bias)]
        out += [("decoder.norm.weight", self.ln_f.weight), ("decoder.norm.bias", self.ln_f.bias)]
        return [(n, t) for n, t in out if t is not None]


def paper_cfg(**kw):
    cfg = dict(vocab_size=50, d_model=32, n_heads=4, n_encoder_layers=2, n_decoder_layers=2,
               d_ff=64, max_seq_len=16, norm_placement="post", final_norm=True,
               activation="relu", position_encoding="sinusoidal", tied_output=True, bias=True,
               scale_embeddings=False, layernorm_eps=1e-5)
    cfg.update(kw)
    return cfg


def gpt2_cfg(**kw):
    cfg = paper_cfg(n_encoder_layers=0, norm_placement="pre", activation="gelu_tanh",
                    position_encoding="learned")
    cfg.update(kw)
    return cfg


def build(kind, cfg, seed):
    torch.manual_seed(seed)
    model = {"paper": PaperTransformer, "causal": CausalEncoderStack, "gpt2": GPT2}[kind](cfg)
    # Larger-than-default random weights so every layer moves the logits.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.normal_(0.0 if name.endswith("bias") else 1.0, 0.1)
            else:
                p.normal_(0.0, 0.15)
    return model.eval()


# ---------------------------------------------------------------- mmgen via ctypes


class Mmgen:
    def __init__(self, path):
        self.lib = lib = ctypes.CDLL(path)
        vh = open(os.path.join(ROOT, "include", "mmgen", "version.h")).read()
        major = int(re.search(r"#define MMGEN_ABI_MAJOR (\d+)", vh).group(1))
        minor = int(re.search(r"#define MMGEN_ABI_MINOR (\d+)", vh).group(1))
        lib.mmg_abi_compatible.argtypes = [ctypes.c_uint32, ctypes.c_uint32]
        lib.mmg_abi_compatible.restype = ctypes.c_int
        if not lib.mmg_abi_compatible(major, minor):
            raise RuntimeError(f"{path} is not ABI-compatible with headers {major}.{minor}")
        lib.mmg_last_error.restype = ctypes.c_char_p
        vp = ctypes.c_void_p
        i32p = ctypes.POINTER(ctypes.c_int32)
        lib.mmg_model_load.argtypes = [ctypes.c_char_p, vp, ctypes.POINTER(vp)]
        lib.mmg_model_free.argtypes = [vp]
        lib.mmg_context_create.argtypes = [vp, vp, ctypes.POINTER(vp)]
        lib.mmg_context_free.argtypes = [vp]
        lib.mmg_context_forward.argtypes = [vp, ctypes.c_int32, i32p, i32p, ctypes.c_int32, i32p, i32p,
                                            ctypes.c_int32, ctypes.POINTER(ctypes.c_float)]
        for f in ("mmg_model_load", "mmg_context_create", "mmg_context_forward"):
            getattr(lib, f).restype = ctypes.c_int

    def check(self, status, what):
        if status != 0:
            raise RuntimeError(f"{what}: status {status}: {self.lib.mmg_last_error().decode()}")

    def forward(self, path, src, src_len, tgt, tgt_len, V):
        lib, vp = self.lib, ctypes.c_void_p
        model, ctx = vp(), vp()
        self.check(lib.mmg_model_load(path.encode(), None, ctypes.byref(model)), "mmg_model_load")
        try:
            self.check(lib.mmg_context_create(model, None, ctypes.byref(ctx)), "mmg_context_create")
            B, Tt = tgt.shape
            logits = np.zeros((B, Tt, V), dtype=np.float32)

            def ptr(a):
                return None if a is None else a.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
            self.check(lib.mmg_context_forward(ctx, B, ptr(src), ptr(src_len), 0 if src is None else src.shape[1],
                                               ptr(tgt), ptr(tgt_len), Tt,
                                               logits.ctypes.data_as(ctypes.POINTER(ctypes.c_float))),
                       "mmg_context_forward")
            return logits
        finally:
            lib.mmg_context_free(ctx)
            lib.mmg_model_free(model)


# ---------------------------------------------------------------- cases


def make_case(name, kind, cfg, B, Ts, Tt, dtype, seed, full_lengths=False):
    model = build(kind, cfg, seed)
    tensors = model.mmgen_tensors()
    # The reference runs on the values the file holds (F16/BF16 rounding).
    with torch.no_grad():
        for _, t in tensors:
            t.copy_(round_to(t, dtype))
    g = torch.Generator().manual_seed(seed + 1)
    V = cfg["vocab_size"]
    enc = cfg["n_encoder_layers"] > 0
    src = torch.randint(0, V, (B, Ts), generator=g) if enc else None
    tgt = torch.randint(0, V, (B, Tt), generator=g)
    if full_lengths:
        src_len = torch.full((B,), Ts) if enc else None
        tgt_len = torch.full((B,), Tt)
    else:
        src_len = torch.randint(1, Ts + 1, (B,), generator=g) if enc else None
        tgt_len = torch.randint(1, Tt + 1, (B,), generator=g)
        if enc:
            src_len[0] = Ts
        tgt_len[0] = Tt
    with torch.no_grad():
        ref = model(src, src_len if enc else torch.full((B,), 0), tgt, tgt_len).float().numpy()
    return dict(name=name, cfg=cfg, dtype=dtype, tensors=tensors, src=src, src_len=src_len, tgt=tgt,
                tgt_len=tgt_len, ref=ref)


def write_model(case, path):
    meta = {"format": "mmgen", "mmgen.config": json.dumps(case["cfg"])}
    save_safetensors(path, [(n, case["dtype"], tuple(t.shape), tensor_bytes(t, case["dtype"]))
                            for n, t in case["tensors"]], meta)


def i32(t):
    return None if t is None else np.ascontiguousarray(t.numpy().astype(np.int32))


def compare(case, got):
    ref, tgt_len = case["ref"], case["tgt_len"]
    worst, scale = 0.0, 0.0
    for b in range(ref.shape[0]):
        n = int(tgt_len[b])
        worst = max(worst, float(np.abs(got[b, :n] - ref[b, :n]).max()))
        scale = max(scale, float(np.abs(ref[b, :n]).max()))
    return worst, scale


def cases(seed):
    s = seed
    return [
        make_case("paper_base", "paper", paper_cfg(), 3, 12, 10, "F32", s),
        make_case("paper_odd_width_1head", "paper",
                  paper_cfg(d_model=36, n_heads=1, d_ff=52, vocab_size=37, max_seq_len=9), 2, 9, 7, "F32", s + 1),
        make_case("paper_len1", "paper", paper_cfg(d_model=20, n_heads=5), 2, 1, 1, "F32", s + 2),
        make_case("paper_full_len_untied_scaled", "paper",
                  paper_cfg(tied_output=False, scale_embeddings=True, n_encoder_layers=3,
                            n_decoder_layers=1, d_model=24, n_heads=3), 2, 16, 16, "F32", s + 3, True),
        make_case("paper_pre_ln_gelu", "paper", paper_cfg(norm_placement="pre", d_model=44, n_heads=11,
                                                          activation="gelu"), 2, 8, 11, "F32", s + 4),
        make_case("paper_f16", "paper", paper_cfg(), 2, 10, 9, "F16", s + 5),
        make_case("causal_post_ln", "causal", paper_cfg(n_encoder_layers=0, d_model=28, n_heads=7), 3, 0, 16,
                  "F32", s + 6),
        make_case("gpt2_base", "gpt2", gpt2_cfg(), 3, 0, 16, "F32", s + 7),
        make_case("gpt2_odd_1head_nobias", "gpt2", gpt2_cfg(d_model=19, n_heads=1, d_ff=45, bias=False), 2, 0, 1,
                  "F32", s + 8),
        make_case("gpt2_no_biases", "gpt2", gpt2_cfg(activation="gelu", bias=False, norm_bias=False,
                                                     d_model=48, n_heads=4), 3, 0, 13, "F32", s + 12),
        make_case("gpt2_exact_gelu_long", "gpt2", gpt2_cfg(activation="gelu", max_seq_len=150, d_model=64, n_heads=4),
                  2, 0, 150, "F32", s + 11),
        make_case("gpt2_bf16", "gpt2", gpt2_cfg(d_model=40, n_heads=5, max_seq_len=24), 2, 0, 24, "BF16", s + 9,
                  True),
        make_case("gpt2_f16_wide", "gpt2", gpt2_cfg(d_model=96, n_heads=6, d_ff=200, vocab_size=300,
                                                    n_decoder_layers=3, max_seq_len=40), 2, 0, 33, "F16", s + 10),
    ]


def run_checks(lib_path, seed):
    mm = Mmgen(lib_path)
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for case in cases(seed):
            path = os.path.join(d, case["name"] + ".safetensors")
            write_model(case, path)
            got = mm.forward(path, i32(case["src"]), i32(case["src_len"]), i32(case["tgt"]),
                             i32(case["tgt_len"]), case["cfg"]["vocab_size"])
            worst, scale = compare(case, got)
            ok = worst <= TOL * scale
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {case['name']:30s} {case['dtype']:4s} "
                  f"max|diff| {worst:.3e}  max|logit| {scale:.3e}  ratio {worst / scale:.2e} (limit {TOL:.0e})")
    return failed


FIXTURES = ["paper_base", "paper_odd_width_1head", "paper_f16", "paper_pre_ln_gelu", "gpt2_base",
            "gpt2_odd_1head_nobias", "gpt2_bf16", "causal_post_ln", "gpt2_no_biases"]


def write_fixtures(outdir, seed):
    os.makedirs(outdir, exist_ok=True)
    for case in cases(seed):
        if case["name"] not in FIXTURES:
            continue
        write_model(case, os.path.join(outdir, case["name"] + ".safetensors"))
        B, Tt = case["tgt"].shape
        ts = []
        if case["src"] is not None:
            ts += [("src", "I32", tuple(case["src"].shape), i32(case["src"]).tobytes()),
                   ("src_len", "I32", (B,), i32(case["src_len"]).tobytes())]
        ts += [("tgt", "I32", (B, Tt), i32(case["tgt"]).tobytes()),
               ("tgt_len", "I32", (B,), i32(case["tgt_len"]).tobytes()),
               ("logits", "F32", case["ref"].shape, case["ref"].astype(np.float32).tobytes())]
        save_safetensors(os.path.join(outdir, case["name"] + ".expected.safetensors"), ts,
                         {"generator": "tests/parity/torch_parity.py", "seed": str(seed),
                          "torch": torch.__version__, "tolerance": str(TOL)})
        print(f"wrote {case['name']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lib", default=os.path.join(ROOT, "build", "lib", "libmmgen.so"))
    ap.add_argument("--fixtures", help="write the committed fixtures to this directory and exit")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.fixtures:
        write_fixtures(a.fixtures, a.seed)
        return 0
    failed = run_checks(a.lib, a.seed)
    print(f"{'all cases pass' if not failed else f'{failed} case(s) FAIL'} (seed {a.seed})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
