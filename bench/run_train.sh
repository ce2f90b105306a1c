#!/bin/sh
# bench/run_train.sh - training throughput, mmgen vs PyTorch, same run.
#
# For the small model (d=256, 4 layers, 4 heads, ctx 256, batch 4) and a
# GPT-2-small-sized one (d=768, 12 layers, 12 heads, vocab 50257, ctx 1024,
# batch 1): bench_train (mmgen) and bench/train_torch.py tokens (PyTorch, the
# same GPT-2 style model and batch shape, same thread count), alternating for
# --rounds rounds so that load from other processes hits both alike; each side
# keeps its best round (the fastest step); PyTorch runs in each thread split of
# bench/torch_configs.sh and keeps its best too. Prints each JSON line, then a table
# with tokens/s, the ratio, the fraction of the sgemm peak measured in the same
# run, and peak RSS against the theoretical need. Results also go to
# bench/results/train.jsonl.
#
#   sh bench/run_train.sh [--threads N] [--steps N] [--rounds N] [--only small|gpt2]
set -eu
cd "$(dirname "$0")/.."
. bench/torch_configs.sh
threads=$(nproc)
steps=3
rounds=2
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: $0 [--threads N] [--steps N] [--rounds N] [--only small|gpt2]" >&2; exit 2 ;;
  esac
done
build=${BUILD_DIR:-build}
if [ ! -x "$build/bin/bench_train" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target bench_train >/dev/null
fi
mkdir -p bench/results
res=bench/results/train.jsonl
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT INT TERM
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), threads $threads"
for preset in small gpt2; do
  [ -n "$only" ] && [ "$only" != "$preset" ] && continue
  if [ "$preset" = small ]; then
    dims="--d 256 --layers 4 --heads 4 --ctx 256 --batch 4"
  else
    dims="--d 768 --layers 12 --heads 12 --ctx 1024 --batch 1"
  fi
  r=0
  while [ "$r" -lt "$rounds" ]; do
    # shellcheck disable=SC2086
    "$build/bin/bench_train" --preset "$preset" $dims --steps "$steps" --warmup 1 --threads "$threads" | tee -a "$tmp"
    if [ "$have_torch" = 1 ]; then
      for tc in $(torch_configs "$threads"); do
        # shellcheck disable=SC2086
        /usr/bin/python3 bench/train_torch.py tokens $dims --steps "$steps" --warmup 1 \
          --threads "${tc%:*}" --blas-threads "${tc#*:}" | tee -a "$tmp"
      done
    fi
    r=$((r + 1))
  done
done
grep '^{' "$tmp" >> "$res"
grep '^{' "$tmp" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
def best(impl):
    out = {}
    for r in rows:
        if r["impl"] != impl:
            continue
        k = (r["d"], r["layers"])
        if k not in out or r["tokens_per_s_best"] > out[k]["tokens_per_s_best"]:
            out[k] = r
    return out
mm, pt = best("mmgen"), best("torch")
print()
print("best round of each (fastest step)    mmgen tok/s  torch tok/s (torch:BLAS threads)  ratio  mmgen GFLOP/s  of sgemm peak  peak RSS MB: mmgen / theory / torch")
for k, m in mm.items():
    t = pt.get(k)
    name = "d=%d L=%d ctx=%d batch=%d" % (m["d"], m["layers"], m["ctx"], m["batch"])
    ratio = "%.2fx" % (m["tokens_per_s_best"] / t["tokens_per_s_best"]) if t else "-"
    tt = "%.1f (%d:%d)" % (t["tokens_per_s_best"], t["threads"], t.get("blas_threads", 0)) if t else "-"
    trss = "%.0f" % t["peak_rss_mb"] if t else "-"
    print("%-36s %11.1f  %32s  %5s  %13.1f  %12.0f%%  %.0f / %.0f / %s" % (name, m["tokens_per_s_best"], tt, ratio,
          m["gflops"], 100 * m["fraction_of_peak"], m["peak_rss_mb"], m["theory_mb"], trss))
'
