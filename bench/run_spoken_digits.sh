#!/bin/sh
# bench/run_spoken_digits.sh [BUILD_DIR] - text -> audio on real speech, judged
# by a classifier that is not the generator.
#
# scripts/data_spoken_digits.py pairs each digit's English name with the Free
# Spoken Digit Dataset's recordings of it (../shared/data/fsdd; espeak-ng
# voices where FSDD is absent), one speaker held out. A text tokenizer is
# fitted on the ten names, the audio plugin's learned codec on the training
# speakers' recordings (compact: 40 ms frames, a gain id and 2 RVQ stages of
# 256: 75 tokens/s). `mmgen train --source-tokenizer --pairs` trains a small
# encoder-decoder, `mmgen generate --source NAME -o NAME.wav --num-samples 10`
# speaks each digit ten times, and bench/judge_spoken_digits.py - an SVM on
# MFCC statistics trained on the training speakers' real recordings - says
# which digit each generated file is, beside its accuracy on the held-out
# speaker's real recordings and on their tokenizer round trip. Appends one
# JSON line to bench/results/spoken_digits.jsonl.
#
# Environment: STEPS (default 3000), SEED (1), WORK (a temporary directory,
# kept when set), AUDIO_CONFIG (the audio tokenizer's config),
# MMGEN_NUM_THREADS (default: all cores).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build}
py=/usr/bin/python3
steps=${STEPS:-3000}
seed=${SEED:-1}
audio_config=${AUDIO_CONFIG:-'{"mode": "learned", "frame_ms": 40, "stages": 2, "codebook_size": 256, "max_seconds": 1}'}
"$py" -c "import sklearn, numpy, scipy" 2> /dev/null ||
  { echo "run_spoken_digits: needs $py with python3-sklearn, python3-numpy and python3-scipy"; exit 1; }
if [ ! -x "$build/bin/mmgen" ] || [ ! -f "$build/plugins/mmgen-audio.so" ] || [ ! -f "$build/plugins/mmgen-text.so" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$build" -j "$(nproc)" --target mmgen_cli text audio > /dev/null
fi
mmgen=$root/$build/bin/mmgen
case $build in /*) mmgen=$build/bin/mmgen ;; esac
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$root/bench/results"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" scripts/data_spoken_digits.py "$work/data"
cd "$work"
"$mmgen" tokenizer fit -p text -c '{"vocab_size": 300}' -o names.json data/names.txt 2> /dev/null
# shellcheck disable=SC2046
"$mmgen" tokenizer fit -p audio -c "$audio_config" -o speech.json $(cut -f2 data/pairs.tsv)
# shellcheck disable=SC2046
"$mmgen" tokenizer eval -t speech.json --save-dir roundtrip $(cut -f2 data/test.tsv) | tail -3

t0=$(date +%s.%N)
"$mmgen" train --source-tokenizer names.json -t speech.json --pairs data/pairs.tsv -o speech.safetensors \
  --encoder-layers 2 --layers 4 --d-model 128 --heads 4 --seq-len 96 --max-src-len 8 --batch 32 \
  --steps "$steps" --lr 1e-3 --dropout 0.1 --log-every 500 --seed "$seed"
t1=$(date +%s.%N)
train_s=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")

mkdir -p gen
for name in zero one two three four five six seven eight nine; do
  "$mmgen" generate -m speech.safetensors --source "$name" -o "gen/$name.wav" --num-samples 10 \
    --seed "$seed" --no-sheet 2> gen.log || { cat gen.log; exit 1; }
done
t2=$(date +%s.%N)
gen_s=$(awk "BEGIN { printf \"%.1f\", $t2 - $t1 }")
echo "trained $steps steps in ${train_s} s; generated 100 recordings in ${gen_s} s; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" "$root/bench/judge_spoken_digits.py" data gen --roundtrip roundtrip --json "$root/bench/results/spoken_digits.jsonl" \
  --label "steps=$steps seed=$seed train_s=$train_s gen_s=$gen_s threads=${MMGEN_NUM_THREADS:-$(nproc)} config=$audio_config"
[ -n "${WORK:-}" ] && echo "outputs in $work/gen"
exit 0
