#!/usr/bin/python3
"""bench/transformer_torch.py - PyTorch doing what bench_transformer.c does.

A GPT-2-style decoder-only model (pre-LN, GELU tanh, learned positions, tied
output) with a preallocated KV cache: prefill P tokens, then decode D tokens
one at a time, logits of the last position only, under torch.inference_mode
with torch's pool at --threads and OpenBLAS's at --blas-threads (default: the
same; bench/torch_threads.py); then 8 sequences (64-token prompts) decoded as
one batch. Prints one JSON object like the C program.

  /usr/bin/python3 bench/transformer_torch.py --preset gpt2 --threads 2
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import torch_threads

PRESETS = {
    "gpt2": dict(vocab=50257, d=768, layers=12, heads=12, ff=3072, ctx=1024, prefill=512),
    "small": dict(vocab=8192, d=256, layers=4, heads=4, ff=1024, ctx=512, prefill=256),
}


class Block(nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, ff)
        self.c_proj2 = nn.Linear(ff, d)

    def forward(self, x, kc, vc, pos):
        B, T, C = x.shape
        hs = C // self.h
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, self.h, hs).transpose(1, 2)
        kc[:, :, pos:pos + T] = k.view(B, T, self.h, hs).transpose(1, 2)
        vc[:, :, pos:pos + T] = v.view(B, T, self.h, hs).transpose(1, 2)
        K, V = kc[:, :, :pos + T], vc[:, :, :pos + T]
        att = (q @ K.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        if T > 1:
            mask = torch.ones(T, pos + T, dtype=torch.bool).tril(diagonal=pos)
            att = att.masked_fill(~mask, float("-inf"))
        y = (att.softmax(dim=-1) @ V).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.c_proj2(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p
        self.wte = nn.Embedding(p["vocab"], p["d"])
        self.wpe = nn.Embedding(p["ctx"], p["d"])
        self.blocks = nn.ModuleList(Block(p["d"], p["heads"], p["ff"]) for _ in range(p["layers"]))
        self.ln_f = nn.LayerNorm(p["d"])
        hs = p["d"] // p["heads"]
        self.new_cache(1, p["ctx"])

    def new_cache(self, B, T):
        p = self.p
        hs = p["d"] // p["heads"]
        self.kc = [torch.zeros(B, p["heads"], T, hs) for _ in range(p["layers"])]
        self.vc = [torch.zeros(B, p["heads"], T, hs) for _ in range(p["layers"])]

    def step(self, idx, pos):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(pos, pos + T))[None]
        for b, kc, vc in zip(self.blocks, self.kc, self.vc):
            x = b(x, kc, vc, pos)
        return self.ln_f(x[:, -1]) @ self.wte.weight.t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small", choices=PRESETS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blas-threads", type=int, default=-1, help="OpenBLAS's threads (default: --threads)")
    ap.add_argument("--prefill", type=int)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    blas = a.threads if a.blas_threads < 0 else a.blas_threads
    blas_set = torch_threads.set_threads(torch, a.threads, blas)["blas_threads"]
    p = PRESETS[a.preset]
    P = a.prefill if a.prefill is not None else p["prefill"]
    model = GPT(p).eval()
    toks = torch.tensor([(i * 7919) % p["vocab"] for i in range(P + a.decode)])[None]
    best_p, best_d = 1e30, 1e30
    with torch.inference_mode():
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            model.step(toks[:, :P], 0)
            t1 = time.perf_counter()
            for i in range(a.decode):
                model.step(toks[:, P + i:P + i + 1], P + i)
            t2 = time.perf_counter()
            best_p, best_d = min(best_p, t1 - t0), min(best_d, t2 - t1)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        # 8 sequences with 64-token prompts, decoded together (batch 8).
        B, BP, BS = 8, 64, 32
        model.new_cache(B, BP + BS + 32)
        btoks = torch.stack([toks[0, b:b + BP + BS] for b in range(B)])
        best_b = 1e30
        for _ in range(a.repeat):
            model.step(btoks[:, :BP], 0)
            t0 = time.perf_counter()
            for i in range(BS):
                model.step(btoks[:, BP + i:BP + i + 1], BP + i)
            best_b = min(best_b, time.perf_counter() - t0)
    n_params = sum(t.numel() for t in model.parameters())
    print(json.dumps({"mode": "model", "impl": "torch", "torch": torch.__version__, "preset": a.preset,
                      "threads": torch.get_num_threads(), "blas_threads": blas_set, "params": n_params,
                      "prefill_tokens": P,
                      "decode_tokens": a.decode, "prefill_tok_s": round(P / best_p, 2),
                      "decode_tok_s": round(a.decode / best_d, 2), "batch": B,
                      "batch_decode_tok_s": round(B * BS / best_b, 2), "peak_rss_bytes": peak}))


if __name__ == "__main__":
    main()
