#!/usr/bin/python3
"""bench/train_torch.py - PyTorch's side of mmgen's training benchmarks.

Two jobs, each the same work mmgen's C programs do, for side-by-side numbers:

  shakespeare  nanoGPT's CPU "baby GPT" on Tiny Shakespeare (model.py and
               train.py's loop condensed: 4 layers, 4 heads, n_embd 128,
               block 64, batch 12, 2000 iterations, lr 1e-3 -> 1e-4 cosine,
               100 warm-up, beta2 0.99, wd 0.1, clip 1.0, no dropout, no
               biases); prints wall time and validation loss like
               bench_train_shakespeare. It draws its random numbers in
               nanoGPT's order (torch.manual_seed(seed), the modules' own
               init, _init_weights, c_proj re-init; the first batch; then
               estimate_loss() - eval_iters train and eval_iters val batches
               - before the steps 0, 250, ..., 2000, each step's next batch
               fetched after its forward), so --seed 1337 is the very run of
               nanoGPT's README command: it prints nanoGPT's published
               "iter 1999: loss 1.9002" and "step 2000: train loss 1.7648,
               val loss 1.8857" to the digit (torch 1.13, x86, 1 thread). The val loss it reports is estimate_loss()'s
               at iteration 2000 (--eval-iters, default 20 as the README's
               command), beside the mean over the whole validation split.
               --ln-bias gives the LayerNorms a bias (as bench_train_shakespeare
               --norm-bias; nanoGPT's bias=True would also add the linears').
  tokens       training throughput of a GPT-2 style model of a given size on
               random tokens: --d --layers --heads --vocab --ctx --batch
               --steps (after --warmup untimed steps); prints tokens/s of the
               fastest step and the mean, as bench_train does.
Both print one JSON line at the end. Threads: --threads sizes torch's pool,
--blas-threads OpenBLAS's (default: --threads); see bench/torch_threads.py.
"""
import argparse
import json
import math
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

import torch_threads


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (nanoGPT's)."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, C, H, T, bias):
        super().__init__()
        self.c_attn = nn.Linear(C, 3 * C, bias=bias)
        self.c_proj = nn.Linear(C, C, bias=bias)
        self.H = H
        self.register_buffer("mask", torch.tril(torch.ones(T, T)).view(1, 1, T, T))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        k = k.view(B, T, self.H, C // self.H).transpose(1, 2)
        q = q.view(B, T, self.H, C // self.H).transpose(1, 2)
        v = v.view(B, T, self.H, C // self.H).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, C, bias, approximate):
        super().__init__()
        self.c_fc = nn.Linear(C, 4 * C, bias=bias)
        self.c_proj = nn.Linear(4 * C, C, bias=bias)
        self.approximate = approximate

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate=self.approximate))


class Block(nn.Module):
    def __init__(self, C, H, T, bias, approximate, ln_bias):
        super().__init__()
        self.ln_1 = LayerNorm(C, ln_bias)
        self.attn = CausalSelfAttention(C, H, T, bias)
        self.ln_2 = LayerNorm(C, ln_bias)
        self.mlp = MLP(C, bias, approximate)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, V, C, H, L, T, bias=False, approximate="none", ln_bias=None):
        super().__init__()
        ln_bias = bias if ln_bias is None else ln_bias
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList([Block(C, H, T, bias, approximate, ln_bias) for _ in range(L)])
        self.ln_f = LayerNorm(C, ln_bias)
        self.lm_head = nn.Linear(C, V, bias=False)
        self.wte.weight = self.lm_head.weight  # tied
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * L))

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets):
        T = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(T, dtype=torch.long))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)

    def optimizer(self, lr, wd, betas):
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        nodecay = [p for p in params if p.dim() < 2]
        return torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                                  {"params": nodecay, "weight_decay": 0.0}], lr=lr, betas=betas)


def lr_at(it, lr, min_lr, warmup, decay):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it >= decay:
        return min_lr
    r = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * r)) * (lr - min_lr)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def shakespeare(args):
    text = open(args.data, "rb").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    n = int(0.9 * len(data))
    train, val = torch.from_numpy(data[:n]), torch.from_numpy(data[n:])
    B, T = 12, 64
    eval_interval = 250
    torch.manual_seed(args.seed)
    model = GPT(len(chars), 128, 4, 4, T, ln_bias=args.ln_bias)
    opt = model.optimizer(1e-3, 0.1, (0.9, 0.99))

    def get_batch(d):
        ix = torch.randint(len(d) - T, (B,))
        x = torch.stack([d[i:i + T] for i in ix])
        y = torch.stack([d[i + 1:i + 1 + T] for i in ix])
        return x, y

    @torch.no_grad()
    def estimate_loss():  # nanoGPT's: eval_iters random batches of each split
        model.eval()
        out = {}
        for name, d in (("train", train), ("val", val)):
            out[name] = float(np.mean([model(*get_batch(d)).item() for _ in range(args.eval_iters)]))
        model.train()
        return out

    x, y = get_batch(train)  # nanoGPT fetches the very first batch before the loop
    est = {"train": float("nan"), "val": float("nan")}
    t0 = time.time()
    eval_s = 0.0
    for it in range(args.iters + 1):  # nanoGPT: iterations 0..max_iters, inclusive
        lr = lr_at(it, 1e-3, 1e-4, 100, 2000)
        for g in opt.param_groups:
            g["lr"] = lr
        if args.eval_iters > 0 and (it % eval_interval == 0 or it == args.iters):
            te = time.time()
            est = estimate_loss()
            eval_s += time.time() - te
            if args.log:
                print(f"step {it}: train loss {est['train']:.4f}, val loss {est['val']:.4f}", flush=True)
        if it == args.iters:
            break  # nanoGPT takes one more step after this, which no reported number sees
        loss = model(x, y)
        x, y = get_batch(train)  # prefetch, as nanoGPT does between forward and backward
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if args.log and (it % args.log == 0 or it == args.iters - 1):
            print(f"iter {it:5d}  loss {loss.item():.4f}  norm {float(norm):.3f}  {time.time() - t0:.1f} s",
                  flush=True)
    train_s = time.time() - t0 - eval_s
    model.eval()
    with torch.no_grad():
        # the whole split in consecutive windows, as bench_train_shakespeare does
        tot, cnt = 0.0, 0
        full_rows = (len(val) - 1) // T
        for r0 in range(0, full_rows, 64):
            rows = range(r0, min(r0 + 64, full_rows))
            xb = torch.stack([val[r * T:r * T + T] for r in rows])
            yb = torch.stack([val[r * T + 1:r * T + 1 + T] for r in rows])
            tot += model(xb, yb).item() * xb.numel()
            cnt += xb.numel()
        r = full_rows * T
        if r < len(val) - 1:  # the last, shorter window
            L = len(val) - 1 - r
            tot += model(val[r:r + L].view(1, L), val[r + 1:r + 1 + L].view(1, L)).item() * L
            cnt += L
        full = tot / cnt
    print(f"val loss {full:.4f} (whole split), nanoGPT's estimate_loss over {args.eval_iters} random "
          f"batches {est['val']:.4f} (train {est['train']:.4f})")
    print(f"train {train_s:.1f} s for {args.iters} iterations ({1e3 * train_s / args.iters:.1f} ms/iter; "
          f"periodic estimate_loss {eval_s:.1f} s not counted)")
    print(json.dumps({"bench": "train_shakespeare", "impl": "torch", "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "blas_threads": args.blas_threads_set,
                      "seed": args.seed, "iters": args.iters,
                      "ln_bias": bool(args.ln_bias),
                      "final_train_loss": round(loss.item(), 4), "val_loss": round(full, 4),
                      "val_loss_estimate": round(est["val"], 4), "eval_iters": args.eval_iters,
                      "train_seconds": round(train_s, 2)}))


def tokens(args):
    torch.manual_seed(args.seed)
    model = GPT(args.vocab, args.d, args.heads, args.layers, args.ctx, bias=True,
                approximate="tanh")
    n_params = sum(p.numel() for p in model.parameters())
    opt = model.optimizer(1e-4, 0.1, (0.9, 0.95))
    g = torch.Generator().manual_seed(args.seed)
    x = torch.randint(0, args.vocab, (args.batch, args.ctx), generator=g)
    y = torch.randint(0, args.vocab, (args.batch, args.ctx), generator=g)

    def step():
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    dt, best = 0.0, 1e30
    for _ in range(args.steps):
        t0 = time.time()
        step()
        d1 = time.time() - t0
        dt += d1
        best = min(best, d1)
    tps = args.batch * args.ctx * args.steps / dt
    tps_best = args.batch * args.ctx / best
    print(json.dumps({"bench": "train_tokens", "impl": "torch", "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "blas_threads": args.blas_threads_set,
                      "d": args.d, "layers": args.layers,
                      "heads": args.heads, "vocab": args.vocab, "ctx": args.ctx,
                      "batch": args.batch, "steps": args.steps, "params": n_params,
                      "seconds": round(dt, 3), "tokens_per_s": round(tps, 1),
                      "tokens_per_s_best": round(tps_best, 1),
                      "peak_rss_mb": round(peak_rss_mb(), 1)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("job", choices=["shakespeare", "tokens"])
    ap.add_argument("--threads", type=int, default=0, help="torch's threads (0 = its default)")
    ap.add_argument("--blas-threads", type=int, default=-1,
                    help="OpenBLAS's threads (default: --threads; 0 = leave as is)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--data", default="../shared/data/tinyshakespeare/input.txt")
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--eval-iters", type=int, default=20)
    ap.add_argument("--ln-bias", action="store_true", help="shakespeare: LayerNorms with a bias")
    ap.add_argument("--log", type=int, default=100)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    blas = args.threads if args.blas_threads < 0 else args.blas_threads
    args.blas_threads_set = torch_threads.set_threads(torch, args.threads, blas)["blas_threads"]
    (shakespeare if args.job == "shakespeare" else tokens)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
