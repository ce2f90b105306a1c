#!/usr/bin/python3
"""tests/parity_train/train_parity.py - PyTorch reference for mmgen's training.

Builds small transformers in PyTorch with mmgen's tensor names and layout (an
encoder-decoder in the paper's layout, a GPT-2 style decoder-only model, and a
variant covering the remaining options, nanoGPT's bias-free model), draws random weights and batches
from --seed, and lets torch.autograd and torch.optim.AdamW produce:
  - the loss of one batch and the gradient of every parameter,
  - the loss curve of 20 AdamW steps (warm-up + cosine lr, global-norm
    clipping, decoupled weight decay on matrices and embeddings only).
Each case goes to <out>/<case>.safetensors with the weights, the batches and
the expected numbers; tests/test_train_parity.c loads it, runs mmgen's trainer
on the same weights and batches, and compares. Nothing here calls mmgen: the
reference is independent.

  /usr/bin/python3 tests/parity_train/train_parity.py --seed 1 --out tests/fixtures/train
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

IGNORE = -100

CASES = {
    # The paper's encoder-decoder: post-LN, ReLU, sinusoidal positions, scaled
    # embeddings, final LayerNorms (nn.Transformer), tied output, label smoothing.
    "encdec": dict(
        config=dict(vocab_size=37, d_model=24, n_heads=3, n_encoder_layers=2, n_decoder_layers=2,
                    d_ff=40, max_seq_len=12, norm_placement="post", final_norm=True,
                    activation="relu", position_encoding="sinusoidal", tied_output=True,
                    bias=True, scale_embeddings=True, layernorm_eps=1e-5),
        B=3, Ts=9, Tt=7, label_smoothing=0.1),
    # GPT-2: pre-LN, tanh GELU, learned positions, tied output, packed rows.
    "gpt": dict(
        config=dict(vocab_size=41, d_model=32, n_heads=4, n_encoder_layers=0, n_decoder_layers=2,
                    d_ff=128, max_seq_len=16, norm_placement="pre", final_norm=True,
                    activation="gelu_tanh", position_encoding="learned", tied_output=True,
                    bias=True, scale_embeddings=False, layernorm_eps=1e-5),
        B=3, Ts=0, Tt=16, label_smoothing=0.0),
    # The other options: pre-LN encoder-decoder, exact GELU, untied output, no
    # biases, learned positions, no final LayerNorm, one head, odd width.
    "variant": dict(
        config=dict(vocab_size=29, d_model=15, n_heads=1, n_encoder_layers=1, n_decoder_layers=2,
                    d_ff=22, max_seq_len=10, norm_placement="pre", final_norm=False,
                    activation="gelu", position_encoding="learned", tied_output=False,
                    bias=False, scale_embeddings=False, layernorm_eps=1e-5),
        B=2, Ts=10, Tt=6, label_smoothing=0.0),
    # nanoGPT (bias=False): no biases at all, LayerNorms included; exact GELU.
    "nanogpt": dict(
        config=dict(vocab_size=23, d_model=16, n_heads=2, n_encoder_layers=0, n_decoder_layers=2,
                    d_ff=64, max_seq_len=12, norm_placement="pre", final_norm=True,
                    activation="gelu", position_encoding="learned", tied_output=True,
                    bias=False, scale_embeddings=False, layernorm_eps=1e-5, norm_bias=False),
        B=3, Ts=0, Tt=12, label_smoothing=0.0),
}

TRAIN = dict(learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=3, decay_steps=16,
             beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1, grad_clip=1.0, steps=20)


def sinusoid_table(T, C):
    """The paper's table, as mmg__sinusoid_table: computed in double."""
    pe = np.zeros((T, C), dtype=np.float64)
    for p in range(T):
        for i in range(0, C, 2):
            freq = math.exp(-math.log(10000.0) * i / C)
            pe[p, i] = math.sin(p * freq)
            if i + 1 < C:
                pe[p, i + 1] = math.cos(p * freq)
    return torch.tensor(pe.astype(np.float32))


def param_names(cfg):
    """(name, shape, decay) in mmgen's canonical order (core/model.c)."""
    C, V, T, Fd = cfg["d_model"], cfg["vocab_size"], cfg["max_seq_len"], cfg["d_ff"]
    out = [("tok_emb.weight", (V, C), 1)]

    def norm(name):  # a LayerNorm's weight, and its bias unless norm_bias is off
        return [(name + ".weight", (C,), 0)] + ([(name + ".bias", (C,), 0)] if cfg.get("norm_bias", True) else [])
    if cfg["position_encoding"] == "learned":
        out.append(("pos_emb.weight", (T, C), 1))

    def layer(prefix, i, cross):
        p = f"{prefix}.layers.{i}."
        L = norm(p + "sa_norm") + [(p + "self_attn.qkv.weight", (3 * C, C), 1)]
        if cfg["bias"]:
            L.append((p + "self_attn.qkv.bias", (3 * C,), 0))
        L.append((p + "self_attn.out.weight", (C, C), 1))
        if cfg["bias"]:
            L.append((p + "self_attn.out.bias", (C,), 0))
        if cross:
            L += norm(p + "ca_norm") + [(p + "cross_attn.q.weight", (C, C), 1)]
            if cfg["bias"]:
                L.append((p + "cross_attn.q.bias", (C,), 0))
            L.append((p + "cross_attn.kv.weight", (2 * C, C), 1))
            if cfg["bias"]:
                L.append((p + "cross_attn.kv.bias", (2 * C,), 0))
            L.append((p + "cross_attn.out.weight", (C, C), 1))
            if cfg["bias"]:
                L.append((p + "cross_attn.out.bias", (C,), 0))
        L += norm(p + "ff_norm") + [(p + "ff.fc1.weight", (Fd, C), 1)]
        if cfg["bias"]:
            L.append((p + "ff.fc1.bias", (Fd,), 0))
        L.append((p + "ff.fc2.weight", (C, Fd), 1))
        if cfg["bias"]:
            L.append((p + "ff.fc2.bias", (C,), 0))
        return L

    has_enc = cfg["n_encoder_layers"] > 0
    for i in range(cfg["n_encoder_layers"]):
        out += layer("encoder", i, False)
    if has_enc and cfg["final_norm"]:
        out += norm("encoder.norm")
    for i in range(cfg["n_decoder_layers"]):
        out += layer("decoder", i, has_enc)
    if cfg["final_norm"]:
        out += norm("decoder.norm")
    if not cfg["tied_output"]:
        out.append(("lm_head.weight", (V, C), 1))
    return out


class Model(torch.nn.Module):
    """The transformer written with plain torch ops, one parameter per mmgen tensor."""

    def __init__(self, cfg, gen):
        super().__init__()
        self.cfg = cfg
        self.names = param_names(cfg)
        self.p = {}
        for name, shape, decay in self.names:
            if name.endswith("norm.weight"):
                t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
            elif name.endswith(".bias"):
                t = 0.05 * torch.randn(shape, generator=gen)
            else:
                t = 0.1 * torch.randn(shape, generator=gen)
            self.p[name] = torch.nn.Parameter(t.float())
            self.register_parameter(name.replace(".", "__"), self.p[name])
        C, T = cfg["d_model"], cfg["max_seq_len"]
        self.sinusoid = sinusoid_table(T, C) if cfg["position_encoding"] == "sinusoidal" else None

    def lin(self, x, prefix):
        return F.linear(x, self.p[prefix + ".weight"], self.p.get(prefix + ".bias"))

    def ln(self, x, prefix):
        C = self.cfg["d_model"]
        return F.layer_norm(x, (C,), self.p[prefix + ".weight"], self.p.get(prefix + ".bias"),
                            self.cfg["layernorm_eps"])

    def act(self, x):
        a = self.cfg["activation"]
        if a == "relu":
            return F.relu(x)
        return F.gelu(x, approximate="tanh" if a == "gelu_tanh" else "none")

    def attend(self, q, k, v, key_len, causal):
        B, Tq, C = q.shape
        Tk = k.shape[1]
        H = self.cfg["n_heads"]
        hs = C // H
        q = q.view(B, Tq, H, hs).transpose(1, 2)
        k = k.view(B, Tk, H, hs).transpose(1, 2)
        v = v.view(B, Tk, H, hs).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hs))
        mask = torch.zeros(B, 1, Tq, Tk, dtype=torch.bool)
        for b in range(B):
            mask[b, :, :, key_len[b]:] = True
        if causal:
            mask |= torch.triu(torch.ones(Tq, Tk, dtype=torch.bool), diagonal=1)
        s = s.masked_fill(mask, float("-inf"))
        a = torch.softmax(s, dim=-1)
        return (a @ v).transpose(1, 2).reshape(B, Tq, C)

    def sublayer(self, x, norm, branch):
        if self.cfg["norm_placement"] == "pre":
            return x + branch(self.ln(x, norm))
        return self.ln(x + branch(x), norm)

    def layer(self, x, prefix, key_len, causal, enc=None, src_len=None):
        C = self.cfg["d_model"]

        def sa(h):
            qkv = self.lin(h, prefix + "self_attn.qkv")
            y = self.attend(qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:], key_len, causal)
            return self.lin(y, prefix + "self_attn.out")

        def ca(h):
            q = self.lin(h, prefix + "cross_attn.q")
            kv = self.lin(enc, prefix + "cross_attn.kv")
            y = self.attend(q, kv[..., :C], kv[..., C:], src_len, False)
            return self.lin(y, prefix + "cross_attn.out")

        def ff(h):
            return self.lin(self.act(self.lin(h, prefix + "ff.fc1")), prefix + "ff.fc2")

        x = self.sublayer(x, prefix + "sa_norm", sa)
        if enc is not None:
            x = self.sublayer(x, prefix + "ca_norm", ca)
        return self.sublayer(x, prefix + "ff_norm", ff)

    def embed(self, tok):
        cfg = self.cfg
        scale = math.sqrt(cfg["d_model"]) if cfg["scale_embeddings"] else 1.0
        x = self.p["tok_emb.weight"][tok] * scale
        T = tok.shape[1]
        if cfg["position_encoding"] == "learned":
            x = x + self.p["pos_emb.weight"][:T]
        elif cfg["position_encoding"] == "sinusoidal":
            x = x + self.sinusoid[:T]
        return x

    def forward(self, src, src_len, tgt, tgt_len):
        cfg = self.cfg
        enc = None
        if cfg["n_encoder_layers"] > 0:
            x = self.embed(src)
            for i in range(cfg["n_encoder_layers"]):
                x = self.layer(x, f"encoder.layers.{i}.", src_len, False)
            if cfg["final_norm"]:
                x = self.ln(x, "encoder.norm")
            enc = x
        x = self.embed(tgt)
        for i in range(cfg["n_decoder_layers"]):
            x = self.layer(x, f"decoder.layers.{i}.", tgt_len, True, enc, src_len)
        if cfg["final_norm"]:
            x = self.ln(x, "decoder.norm")
        head = self.p["tok_emb.weight"] if cfg["tied_output"] else self.p["lm_head.weight"]
        return x @ head.t()


def make_batch(case, gen):
    """A batch with padding: random lengths, pad token 0 and IGNORE labels after
    each row's length (decoder-only rows are full, as packed training makes them)."""
    cfg = case["config"]
    V, B, Ts, Tt = cfg["vocab_size"], case["B"], case["Ts"], case["Tt"]
    has_enc = cfg["n_encoder_layers"] > 0
    tgt = torch.randint(0, V, (B, Tt), generator=gen)
    labels = torch.randint(0, V, (B, Tt), generator=gen)
    if has_enc:
        src = torch.randint(0, V, (B, Ts), generator=gen)
        src_len = torch.randint(1, Ts + 1, (B,), generator=gen)
        src_len[0] = Ts
        tgt_len = torch.randint(1, Tt + 1, (B,), generator=gen)
        tgt_len[0] = Tt
        for b in range(B):
            src[b, src_len[b]:] = 0
            tgt[b, tgt_len[b]:] = 0
            labels[b, tgt_len[b]:] = IGNORE
        labels[B - 1, 0] = IGNORE  # an ignored label inside a row too
    else:
        src = torch.zeros(B, 0, dtype=torch.long)
        src_len = torch.zeros(B, dtype=torch.long)
        tgt_len = torch.full((B,), Tt, dtype=torch.long)
        seq = torch.randint(0, V, (B, Tt + 1), generator=gen)
        tgt, labels = seq[:, :-1].clone(), seq[:, 1:].clone()
    return dict(src=src, src_len=src_len, tgt=tgt, tgt_len=tgt_len, labels=labels)


def loss_of(model, batch, smoothing):
    V = model.cfg["vocab_size"]
    logits = model(batch["src"], batch["src_len"].tolist(), batch["tgt"], batch["tgt_len"].tolist())
    return F.cross_entropy(logits.reshape(-1, V), batch["labels"].reshape(-1), ignore_index=IGNORE,
                           label_smoothing=smoothing)


def lr_at(step):
    """nanoGPT's schedule as mmg__lr_at: warm-up lr*(s+1)/(w+1), cosine to min_lr."""
    t = TRAIN
    if step < t["warmup_steps"]:
        return t["learning_rate"] * (step + 1) / (t["warmup_steps"] + 1)
    if step >= t["decay_steps"]:
        return t["min_learning_rate"]
    r = (step - t["warmup_steps"]) / (t["decay_steps"] - t["warmup_steps"])
    return t["min_learning_rate"] + 0.5 * (1 + math.cos(math.pi * r)) * (
        t["learning_rate"] - t["min_learning_rate"])


def run_case(name, case, seed):
    gen = torch.Generator().manual_seed(seed * 1000 + sum(map(ord, name)))
    model = Model(case["config"], gen)
    init = {n: model.p[n].detach().clone() for n, _, _ in model.names}
    batch = make_batch(case, gen)
    loss = loss_of(model, batch, case["label_smoothing"])
    loss.backward()
    grads = {n: model.p[n].grad.detach().clone() for n, _, _ in model.names}
    # 20 AdamW steps on fresh batches, from the same initial weights
    for n, _, _ in model.names:
        model.p[n].grad = None
    decay = [model.p[n] for n, _, d in model.names if d]
    nodecay = [model.p[n] for n, _, d in model.names if not d]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": TRAIN["weight_decay"]},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=TRAIN["learning_rate"], betas=(TRAIN["beta1"], TRAIN["beta2"]),
                            eps=TRAIN["eps"])
    steps = [make_batch(case, gen) for _ in range(TRAIN["steps"])]
    losses, norms = [], []
    for i, b in enumerate(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(i)
        opt.zero_grad(set_to_none=True)
        l = loss_of(model, b, case["label_smoothing"])
        l.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN["grad_clip"])))
        opt.step()
        losses.append(float(l))
    final = {n: model.p[n].detach().clone() for n, _, _ in model.names}
    return init, batch, float(loss), grads, steps, losses, norms, final


# ---- a minimal safetensors writer (the format is small; no extra package) ----

DT = {np.float32: "F32", np.float64: "F64", np.int32: "I32"}


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        raw = arr.tobytes()
        header[name] = {"dtype": DT[arr.dtype.type], "shape": list(arr.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def i32(t):
    return t.numpy().astype(np.int32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="directory for <case>.safetensors")
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for name in args.cases.split(","):
        case = CASES[name]
        init, batch, loss, grads, steps, losses, norms, final = run_case(name, case, args.seed)
        T = []
        for n, _, _ in param_names(case["config"]):
            T.append((n, init[n].numpy()))
        has_enc = case["config"]["n_encoder_layers"] > 0
        keys = ("src", "src_len", "tgt", "tgt_len", "labels") if has_enc else ("tgt", "tgt_len", "labels")
        for k in keys:
            if batch[k].numel():
                T.append(("batch." + k, i32(batch[k])))
        for n, _, _ in param_names(case["config"]):
            T.append(("grad." + n, grads[n].numpy()))
        for k in keys:
            if steps[0][k].numel():
                T.append(("steps." + k, np.stack([i32(b[k]) for b in steps])))
        T.append(("expect.loss", np.array([loss], dtype=np.float64)))
        T.append(("expect.losses", np.array(losses, dtype=np.float64)))
        T.append(("expect.grad_norms", np.array(norms, dtype=np.float64)))
        for n, _, _ in param_names(case["config"]):
            T.append(("final." + n, final[n].numpy()))
        opts = dict(TRAIN, label_smoothing=case["label_smoothing"], ignore_index=IGNORE)
        meta = {"mmgen.config": json.dumps(case["config"]), "train.options": json.dumps(opts),
                "seed": str(args.seed), "torch": torch.__version__}
        path = os.path.join(args.out, name + ".safetensors")
        write_safetensors(path, T, meta)
        print(f"{name}: loss {loss:.7f}, 20-step losses {losses[0]:.5f} .. {losses[-1]:.5f} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
