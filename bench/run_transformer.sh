#!/bin/sh
# bench/run_transformer.sh - mmgen's transformer inference beside PyTorch, in
# one run on this machine with the same thread count.
#
#   sh bench/run_transformer.sh [BUILD_DIR] [THREADS]
#
# Measures the BLAS ceilings (cblas_sgemm GFLOP/s, cblas_sgemv GB/s), then for
# the "small" (d=256, 4 layers, 4 heads, vocab 8192, ctx 512) and "gpt2"
# (d=768, 12 layers, 12 heads, vocab 50257, ctx 1024) GPT-2-style models:
# prefill tokens/s, decode tokens/s with the KV cache and peak RSS for mmgen
# (bench_transformer) and PyTorch (bench/transformer_torch.py). Prints a table
# and appends JSON lines to bench/results/transformer.jsonl. Each measurement
# runs in its own process, in ROUNDS (default 2) alternating rounds; the best
# round of each counts (peak RSS: the largest). PyTorch runs in each thread
# split of bench/torch_configs.sh and each metric keeps its best. Set
# PRESETS="small" to skip the big model.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/torch_configs.sh"
root=$(dirname "$here")
bin=${1:-$root/build}
threads=${2:-${MMGEN_NUM_THREADS:-$(nproc)}}
presets=${PRESETS:-"small gpt2"}
exe="$bin/bin/bench_transformer"
[ -x "$exe" ] || { echo "$exe not found: build first (cmake --build $bin)"; exit 1; }
mkdir -p "$root/bench/results"
out="$root/bench/results/transformer.jsonl"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

rounds=${ROUNDS:-2}
has_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && has_torch=1
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), threads $threads, $rounds rounds" >&2
# Rounds alternate mmgen and PyTorch (and the BLAS ceilings) so a burst of
# load from elsewhere on a shared machine hits both; each keeps its best round.
r=0
while [ "$r" -lt "$rounds" ]; do
    "$exe" blas --threads "$threads" >> "$tmp"
    for p in $presets; do
        "$exe" model --preset "$p" --threads "$threads" >> "$tmp"
        if [ "$has_torch" = 1 ]; then
            for tc in $(torch_configs "$threads"); do
                /usr/bin/python3 "$here/transformer_torch.py" --preset "$p" --threads "${tc%:*}" \
                    --blas-threads "${tc#*:}" >> "$tmp"
            done
        fi
    done
    r=$((r + 1))
done

/usr/bin/python3 - "$tmp" "$out" "$threads" <<'EOF'
import json, os, sys, time
raw = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# Best round per measurement: highest ceilings, highest tokens/s.
def best(key, group):
    return max(group, key=lambda r: r[key])
rows = []
blas_rows = [r for r in raw if r["mode"] == "blas"]
b = dict(best("sgemm_gflops", blas_rows))
b["sgemv_gbs"] = max(r["sgemv_gbs"] for r in blas_rows)
b["rounds"] = len(blas_rows)
rows.append(b)
for impl in ("mmgen", "torch"):
    for preset in ("small", "gpt2"):
        g = [r for r in raw if r.get("impl") == impl and r["preset"] == preset]
        if g:
            r = dict(best("decode_tok_s", g))
            for k in ("prefill_tok_s", "prefill_gflops", "batch_decode_tok_s"):
                if k in r:
                    r[k] = max(x[k] for x in g)
            r["peak_rss_bytes"] = max(x["peak_rss_bytes"] for x in g)
            r["rounds"] = len(g)
            rows.append(r)
stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
load = open("/proc/loadavg").read().split()[:3]
blas = next(r for r in rows if r["mode"] == "blas")
print(f"\ncblas_sgemm {blas['sgemm_gflops']:.1f} GFLOP/s {blas['sgemm_shape']}, "
      f"cblas_sgemv {blas['sgemv_gbs']:.1f} GB/s {blas['sgemv_shape']}, {blas['threads']} threads\n")
hdr = (f"{'model':6} {'impl':6} {'prefill tok/s':>13} {'decode tok/s':>12} {'batch-8 tok/s':>13} "
       f"{'peak RSS MB':>11} {'w+KV MB':>8} {'RSS/(w+KV)':>10}")
print(hdr)
print("-" * len(hdr))
summary = []
for preset in ("small", "gpt2"):
    mm = next((r for r in rows if r.get("impl") == "mmgen" and r["preset"] == preset), None)
    th = next((r for r in rows if r.get("impl") == "torch" and r["preset"] == preset), None)
    if not mm:
        continue
    need = (mm["weights_bytes"] + mm["kv_cache_bytes"]) / 1e6
    for r in (mm, th):
        if r:
            print(f"{preset:6} {r['impl']:6} {r['prefill_tok_s']:13.1f} {r['decode_tok_s']:12.2f} "
                  f"{r['batch_decode_tok_s']:13.2f} "
                  f"{r['peak_rss_bytes'] / 1e6:11.1f} {need:8.1f} {r['peak_rss_bytes'] / 1e6 / need:10.2f}")
    s = dict(preset=preset,
             prefill_frac_sgemm=mm["prefill_gflops"] / blas["sgemm_gflops"],
             decode_frac_sgemv=mm["decode_gbs"] / blas["sgemv_gbs"],
             rss_over_need=mm["peak_rss_bytes"] / 1e6 / need,
             rss_above_baseline_over_need=(mm["peak_rss_bytes"] - mm["baseline_rss_bytes"]) / 1e6 / need)
    if th:
        s["prefill_vs_torch"] = mm["prefill_tok_s"] / th["prefill_tok_s"]
        s["decode_vs_torch"] = mm["decode_tok_s"] / th["decode_tok_s"]
        s["batch_decode_vs_torch"] = mm["batch_decode_tok_s"] / th["batch_decode_tok_s"]
    summary.append(s)
print()
for s in summary:
    line = (f"{s['preset']:6} prefill {100 * s['prefill_frac_sgemm']:.0f}% of sgemm peak, "
            f"decode {100 * s['decode_frac_sgemv']:.0f}% of sgemv bandwidth, RSS {s['rss_over_need']:.2f}x (weights+KV), "
            f"{s['rss_above_baseline_over_need']:.2f}x above the process baseline")
    if "decode_vs_torch" in s:
        line += (f", vs torch: prefill {s['prefill_vs_torch']:.2f}x, decode {s['decode_vs_torch']:.2f}x, "
                 f"batch-8 decode {s['batch_decode_vs_torch']:.2f}x")
    print(line)
with open(sys.argv[2], "a") as f:
    for r in rows + [dict(mode="summary", **s) for s in summary]:
        r.update(time=stamp, loadavg=load, cores=os.cpu_count())
        f.write(json.dumps(r) + "\n")
print(f"\nappended {len(rows) + len(summary)} JSON lines to {sys.argv[2]}")
EOF
