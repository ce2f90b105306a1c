#!/bin/sh
# bench/run_mpi.sh - data-parallel training over MPI on this machine, and a
# model of the step time on N machines.
#
# For two models (small: d=128, 4 layers, ~0.9 M parameters; medium: d=384,
# 6 layers, ~11 M) on Tiny Shakespeare (text tokenizer, 512 ids), global
# batch 16 x 128 tokens, `mmgen train` runs as
#   A  1 process x 2 threads          (what one machine does alone)
#   B  mpirun -np 2, 1 thread per rank (the same 2 cores as two ranks)
#   C  1 process x 1 thread            (compute per core, for the model)
# alternating for --rounds rounds, each keeping its best tokens/s (the
# second half of the run: --log-every steps/2). bench/mpi_allreduce measures
# MPI_Allreduce of the gradient (n_params floats) between 2 local ranks.
#
# The model: a step of N machines, each one rank computing B/N rows on its
# cores, takes  compute/N + allreduce,  with a ring allreduce moving
# 2 (N-1)/N x gradient bytes per rank at the link's bandwidth plus 2 (N-1)
# latencies (10 Gbit/s: 1.25 GB/s, 50 us; 100 Gbit/s: 12.5 GB/s, 5 us).
# "hidden" assumes the overlap hides the sum behind the backward pass (2/3
# of compute) except the last bucket. The check: the same formula with the
# measured local allreduce predicts B's step time from C's; both are printed.
# Results go to bench/results/mpi.jsonl.
#
#   sh bench/run_mpi.sh [--rounds N]
set -eu
cd "$(dirname "$0")/.."
rounds=2
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds N]" >&2; exit 2 ;;
  esac
done
build=${BUILD_DIR:-build}
data=${MMGEN_TEST_DATA:-../shared/data}/tinyshakespeare/input.txt
[ -f "$data" ] || { echo "run_mpi: $data is missing (../shared/data, see its README)" >&2; exit 1; }
cmake -S . -B "$build" -DMMGEN_MPI=ON > /dev/null
cmake --build "$build" -j "$(nproc)" --target mmgen_cli mpi_allreduce text > /dev/null
M=$build/bin/mmgen
export MMGEN_PLUGIN_PATH="$PWD/$build/plugins" OMPI_MCA_btl_vader_single_copy_mechanism=none
run="mpirun --oversubscribe"
[ "$(id -u)" = 0 ] && run="$run --allow-run-as-root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p bench/results
res=bench/results/mpi.jsonl
"$M" tokenizer fit --plugin text --config '{"vocab_size": 512}' -o "$tmp/tok.json" "$data" > /dev/null

# tokens/s of the last log window of a run's JSON log
tps() { sed -n 's/.*"tokens_per_s": \([0-9.e+]*\).*/\1/p' "$1" | tail -n 1; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }

for model in small medium; do
  case $model in
    small) shape="--d-model 128 --layers 4 --heads 4"; steps=40 ;;
    medium) shape="--d-model 384 --layers 6 --heads 6"; steps=12 ;;
  esac
  A="-t $tmp/tok.json $shape --batch 16 --seq-len 128 --steps $steps --log-every $((steps / 2))
     --val-fraction 0 -o $tmp/m.st"
  a=0 b=0 c=0
  for r in $(seq "$rounds"); do
    "$M" train $A --threads 2 --log-file "$tmp/a.jsonl" "$data" > "$tmp/a.log" 2>&1
    a=$(best "$a" "$(tps "$tmp/a.jsonl")")
    $run -np 2 --bind-to core "$M" train $A --threads 1 --log-file "$tmp/b.jsonl" "$data" > "$tmp/b.log" 2>&1 ||
      { cat "$tmp/b.log"; exit 1; }
    b=$(best "$b" "$(tps "$tmp/b.jsonl")")
    "$M" train $A --threads 1 --log-file "$tmp/c.jsonl" "$data" > "$tmp/c.log" 2>&1
    c=$(best "$c" "$(tps "$tmp/c.jsonl")")
  done
  params=$(sed -n 's/.*: \([0-9.]*\) M parameters/\1/p' "$tmp/a.log")
  n=$(awk -v p="$params" 'BEGIN { printf "%d", p * 1e6 }')
  comm=$(sed -n 's/^ranks: \(.*\)/\1/p' "$tmp/b.log" | tail -n 1)
  ar=$($run -np 2 --bind-to core "$build/bin/mpi_allreduce" "$n" 20)
  ar_s=$(echo "$ar" | sed -n 's/.*"seconds": \([0-9.e+-]*\).*/\1/p')
  python3 - "$model" "$params" "$a" "$b" "$c" "$ar_s" "$comm" "$res" <<'EOF'
import json, sys
model, params, a, b, c, ar_s, comm, res = sys.argv[1:]
params, a, b, c, ar_s = float(params), float(a), float(b), float(c), float(ar_s)
tokens = 16 * 128
grad = params * 1e6 * 4
t_a, t_b, t_c = tokens / a, tokens / b, tokens / c
pred_b = t_c / 2 + ar_s
print(f"\n{model}: {params:.2f} M parameters, {grad / 1e6:.1f} MB of gradients per step; global batch 16 x 128")
print(f"  A 1 process x 2 threads : {a:8.0f} tok/s  ({1e3 * t_a:7.1f} ms/step)")
print(f"  B 2 ranks x 1 thread    : {b:8.0f} tok/s  ({1e3 * t_b:7.1f} ms/step)  B/A = {b / a:.2f}")
print(f"  C 1 process x 1 thread  : {c:8.0f} tok/s  ({1e3 * t_c:7.1f} ms/step)")
print(f"  local MPI_Allreduce of {grad / 1e6:.1f} MB between 2 ranks: {1e3 * ar_s:.2f} ms")
print(f"  model check: C/2 + allreduce predicts B at {1e3 * pred_b:.1f} ms/step; measured {1e3 * t_b:.1f} "
      f"(measured / predicted {t_b / pred_b:.2f})")
print(f"  mmgen's own count: {comm}")
print(f"  modelled step time on N machines (each computing like A), ms  [no overlap / hidden]:")
print("    N   | 10 Gbit/s          | 100 Gbit/s         | speed-up at 10 / 100")
rows = []
for n in (1, 2, 4, 8, 16, 64):
    out = []
    for bw, lat in ((1.25e9, 50e-6), (12.5e9, 5e-6)):
        compute = t_a / n
        ring = 0.0 if n == 1 else 2 * (n - 1) / n * grad / bw + 2 * (n - 1) * lat
        last_bucket = 0.0 if n == 1 else 2 * (n - 1) / n * min(grad, 4e6) / bw
        hidden = compute + max(ring - 2 / 3 * compute, last_bucket) if n > 1 else compute
        out.append((compute + ring, hidden))
    rows.append({"n": n, "ms_10g": [1e3 * x for x in out[0]], "ms_100g": [1e3 * x for x in out[1]]})
    print(f"    {n:3d} | {1e3 * out[0][0]:7.1f} / {1e3 * out[0][1]:7.1f}  | {1e3 * out[1][0]:7.1f} / {1e3 * out[1][1]:7.1f}  "
          f"| {t_a / out[0][1]:5.2f} / {t_a / out[1][1]:5.2f}")
with open(res, "a") as f:
    f.write(json.dumps({"bench": "mpi", "model": model, "params_m": params, "grad_mb": grad / 1e6,
                        "tok_s_1proc_2thr": a, "tok_s_2ranks_1thr": b, "tok_s_1proc_1thr": c,
                        "allreduce_ms": 1e3 * ar_s, "predicted_b_ms": 1e3 * pred_b, "measured_b_ms": 1e3 * t_b,
                        "modelled": rows}) + "\n")
EOF
done
