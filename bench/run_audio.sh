#!/bin/sh
# bench/run_audio.sh - the audio tokenizer on spoken digits: quality, bit rate,
# intelligibility and speed of each mode, beside libcodec2's own programs.
#
#   sh bench/run_audio.sh [--holdout SPEAKER] [--modes LIST] [--learned-config JSON]
#                         [--build DIR] [--data DIR] [--no-c2]
#
# --holdout   the speaker left out of fitting and classifier training
#             (default theo; george, jackson, lucas, nicolas, theo, yweweler)
# --modes     comma-separated, default mulaw,codec2:700C,codec2:1200,codec2:3200,learned
# --learned-config  the learned tokenizer's config (default {"mode": "learned"})
# --build     the build directory (default build; configured Release and the
#             mmgen command and audio plugin built in it when missing)
# --data      the Free Spoken Digit Dataset (default ../shared/data/fsdd)
# --no-c2     leave out the c2enc/c2dec reference rows
#
# bench/audio_eval.py does the work (see its opening comment): it fits the
# learned tokenizer on five speakers (timed), decodes every file of the held-out
# speaker in each mode with `mmgen tokenizer eval --save-dir`, scores digit
# accuracy of an SVM trained on the five speakers' originals, runs c2enc and
# c2dec for the codec2 rows, prints a markdown table and appends JSON lines to
# bench/results/audio.jsonl. Skips (exit 0, with a message) without the data.
set -eu
cd "$(dirname "$0")/.."
holdout=theo
modes=mulaw,codec2:700C,codec2:1200,codec2:3200,learned
learned='{"mode": "learned"}'
build=build
data=../shared/data/fsdd
[ -n "${MMGEN_TEST_DATA:-}" ] && data=$MMGEN_TEST_DATA/fsdd
no_c2=""
usage() {
  echo "usage: $0 [--holdout SPEAKER] [--modes LIST] [--learned-config JSON] [--build DIR] [--data DIR] [--no-c2]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --holdout) [ $# -ge 2 ] || usage; holdout=$2; shift 2 ;;
    --modes) [ $# -ge 2 ] || usage; modes=$2; shift 2 ;;
    --learned-config) [ $# -ge 2 ] || usage; learned=$2; shift 2 ;;
    --build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --data) [ $# -ge 2 ] || usage; data=$2; shift 2 ;;
    --no-c2) no_c2=--no-c2; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run_audio: unknown argument '$1'" >&2; usage ;;
  esac
done
if [ ! -d "$data" ] || [ -z "$(find "$data" -maxdepth 1 -name '*.wav' | head -1)" ]; then
  echo "run_audio: $data is missing; nothing to measure"
  exit 0
fi
py=/usr/bin/python3
"$py" -c 'import numpy, scipy, sklearn' 2>/dev/null || {
  echo "run_audio: $py needs numpy, scipy and sklearn (Debian python3-numpy python3-scipy python3-sklearn)" >&2
  exit 1
}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
# always brought up to date: the numbers must be the current code's
cmake --build "$build" -j "$(nproc)" --target mmgen_cli audio >/dev/null
[ -f "$build/plugins/mmgen-audio.so" ] || { echo "run_audio: $build/plugins/mmgen-audio.so was not built" >&2; exit 1; }
mkdir -p bench/results
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" bench/audio_eval.py --mmgen "$build/bin/mmgen" --data "$data" --holdout "$holdout" \
  --modes "$modes" --learned-config "$learned" --work "$work" --results bench/results/audio.jsonl $no_c2
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
