#!/bin/sh
# bench/run_model_load.sh - peak memory and time of loading a GPT-2-small-sized
# model (124M parameters) from F32 and BF16 files: mmg_model_load beside the
# old way (copy out of the file's mapping), in the same run.
#
#   sh bench/run_model_load.sh [BUILD_DIR] [ROUNDS]
#
# Writes the two files (0.5 GB and 0.25 GB) to a temporary directory
# ($TMPDIR), prints one JSON line per load and appends them to
# bench/results/model_load.jsonl.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${1:-$root/build}
rounds=${2:-2}
exe="$bin/bin/bench_model_load"
[ -x "$exe" ] || { echo "$exe not found: build first (cmake --build $bin)"; exit 1; }
mkdir -p "$root/bench/results"
out="$root/bench/results/model_load.jsonl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for dt in f32 bf16; do
  "$exe" make "$tmp/gpt2-$dt.safetensors" $dt > /dev/null
  "$exe" load "$tmp/gpt2-$dt.safetensors" "$rounds" | sed "s|$tmp/||" | tee -a "$out"
done
