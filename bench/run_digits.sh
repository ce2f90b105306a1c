#!/bin/sh
# bench/run_digits.sh [BUILD_DIR] - text -> image on real data, judged by a
# classifier that is not the generator.
#
# scripts/data_digits.py turns scikit-learn's 1,797 handwritten 8x8 digits
# (Debian python3-sklearn) into PNGs with their English names as sources,
# 80% for training (pairs.tsv), 20% held out (test.tsv). A text tokenizer is
# fitted on the ten names (each becomes one token), an image tokenizer on the
# training images (gray, 2x2 patches, 128-vector codebook: 16 patch tokens
# per image; its round trip of the held-out images is judged too, the
# ceiling of what generation can score). `mmgen train --source-tokenizer
# --pairs` trains a small encoder-decoder, `mmgen generate --source NAME
# --num-samples 10` draws ten images per digit (plus a contact sheet each),
# and bench/judge_digits.py - an SVM trained on the real training images -
# says which digit each drawing is. Prints the table (accuracy per digit
# beside the judge's accuracy on real held-out images, diversity, distance to
# the nearest training image) and appends one JSON line to
# bench/results/digits.jsonl.
#
# Environment: STEPS (default 1500), SEED (1), WORK (a temporary directory,
# kept when set), MMGEN_NUM_THREADS (default: all cores).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build}
py=/usr/bin/python3
steps=${STEPS:-1500}
seed=${SEED:-1}
"$py" -c "import sklearn, numpy" 2> /dev/null || { echo "run_digits: needs $py with python3-sklearn and python3-numpy"; exit 1; }
if [ ! -x "$build/bin/mmgen" ] || [ ! -f "$build/plugins/mmgen-image.so" ] || [ ! -f "$build/plugins/mmgen-text.so" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$build" -j "$(nproc)" --target mmgen_cli text image > /dev/null
fi
mmgen=$root/$build/bin/mmgen
case $build in /*) mmgen=$build/bin/mmgen ;; esac
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$root/bench/results"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" scripts/data_digits.py "$work/data"
cd "$work"
"$mmgen" tokenizer fit -p text -c '{"vocab_size": 300}' -o names.json data/names.txt 2> /dev/null
cut -f2 data/pairs.tsv | sed 's|^|data/|' > train_images.txt
# shellcheck disable=SC2046
"$mmgen" tokenizer fit -p image -c '{"channels": "gray", "patch_size": 2, "codebook_size": 128, "width": 8, "height": 8}' \
  -o digits.json $(cat train_images.txt)
# shellcheck disable=SC2046
(cd data && "$mmgen" tokenizer eval -t ../digits.json --save-dir ../roundtrip $(cut -f2 test.tsv) | tail -1)

t0=$(date +%s.%N)
"$mmgen" train --source-tokenizer names.json -t digits.json --pairs data/pairs.tsv -o digits.safetensors \
  --layers 2 --d-model 128 --heads 4 --seq-len 24 --max-src-len 8 --batch 32 --steps "$steps" \
  --lr 1e-3 --dropout 0.1 --log-every 250 --seed "$seed"
t1=$(date +%s.%N)
train_s=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")

mkdir -p gen
for name in zero one two three four five six seven eight nine; do
  "$mmgen" generate -m digits.safetensors --source "$name" -o "gen/$name.png" --num-samples 10 --seed "$seed" 2> gen.log ||
    { cat gen.log; exit 1; }
done
t2=$(date +%s.%N)
gen_s=$(awk "BEGIN { printf \"%.1f\", $t2 - $t1 }")
echo "trained $steps steps in ${train_s} s; generated 100 images in ${gen_s} s; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" "$root/bench/judge_digits.py" data gen --roundtrip roundtrip --json "$root/bench/results/digits.jsonl" \
  --label "steps=$steps seed=$seed train_s=$train_s gen_s=$gen_s threads=${MMGEN_NUM_THREADS:-$(nproc)}"
[ -n "${WORK:-}" ] && echo "outputs in $work/gen (contact sheets: $work/gen/*-sheet.png)"
exit 0
