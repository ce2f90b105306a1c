#!/bin/sh
# bench/run_code.sh - the code plugin's compression and speed beside the
# text plugin's tokenizers, on the same held-out code in one run:
#
#   sh bench/run_code.sh [BUILD_DIR]      (default: build-bench, Release)
#
# Fits code-32k (`mmgen tokenizer fit --plugin code --config
# '{"vocab_size": 32768}'`) and text-32k (the text plugin, cl100k pattern, same
# size) on the same training files (bench/code_corpus.py: C headers of
# /usr/include and the Python standard library, a hash split held out), then
# reports bytes per token and encode MB/s (single-threaded, best of REPS, cold
# piece cache) on the held-out C and Python and on code of other trees,
# for GPT-2 (r50k_base), p50k_base, cl100k_base (rank files from the shared
# data; skipped with a message when absent), text-32k and code-32k; and the
# constraint's cost per generated token. Prints a table; JSON lines go to
# bench/results/code.jsonl.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-bench}
DATA=${MMGEN_TEST_DATA:-$ROOT/../shared/data}
OUT=$ROOT/bench/results/code
JSONL=$ROOT/bench/results/code.jsonl
REPS=${REPS:-3}
mkdir -p "$OUT"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target mmgen_cli code text bench_code -j2 >/dev/null
MMGEN=$BUILD/bin/mmgen
BENCH=$BUILD/bin/bench_code
PLUGINS=$BUILD/plugins

python3 "$ROOT/bench/code_corpus.py" "$OUT" "$ROOT" > "$OUT/lists.txt"
size_of() { awk -v n="$1" '$1 == n {printf "%d files, %.1f MB", $2, $3 / 1e6}' "$OUT/lists.txt"; }

{
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "training: C $(size_of c_train) + Python $(size_of py_train)"
echo "held out: C $(size_of c_test), Python $(size_of py_test) (hash split of the same trees);"
echo "          C of another tree (this repository) $(size_of c_other), Python of another tree (dist-packages) $(size_of py_other)"
echo

# Fits, through the CLI; xargs would split a long list into several runs, so
# the list goes on one command line (a few hundred kB, under ARG_MAX).
fit() { # name plugin config
  t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  "$MMGEN" tokenizer fit --plugin "$2" --config "$3" -o "$OUT/$1.json" $(cat "$OUT/train.txt") > "$OUT/$1.fit.txt"
  t1=$(date +%s.%N)
  secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
  echo "fit $1: $(cat "$OUT/$1.fit.txt") [wall $secs s]"
  printf '{"bench": "code", "what": "fit", "tokenizer": "%s", "seconds": %s, "train_bytes": %s}\n' "$1" "$secs" \
    "$(awk '$1 == "train" {print $3}' "$OUT/lists.txt")" >> "$JSONL"
}
fit code-32k code '{"vocab_size": 32768}'
fit text-32k text '{"vocab_size": 32768, "pattern": "cl100k"}'
echo

TOKS="code-32k text-32k"
for enc in r50k_base p50k_base cl100k_base; do
  if [ -f "$DATA/gpt2/$enc.tiktoken" ]; then TOKS="$enc $TOKS"; else echo "note: $DATA/gpt2/$enc.tiktoken absent: $enc skipped"; fi
done
source_of() {
  case $1 in
    code-32k|text-32k) echo "$OUT/$1.json" ;;
    *) echo "{\"tiktoken\": \"$DATA/gpt2/$1.tiktoken\"}" ;;
  esac
}
plugin_of() { case $1 in code-*) echo "$PLUGINS/mmgen-code.so" ;; *) echo "$PLUGINS/mmgen-text.so" ;; esac; }

printf '%-12s' "bytes/token"
for set in c_test py_test c_other py_other; do printf '%18s' "$set"; done
echo "   encode MB/s (c_test, py_test)"
for tok in $TOKS; do
  printf '%-12s' "$tok"
  speeds=""
  for set in c_test py_test c_other py_other; do
    line=$("$BENCH" eval "$(plugin_of "$tok")" "$(source_of "$tok")" "$OUT/$set.txt" "$REPS")
    bpt=$(echo "$line" | sed 's/.*bytes_per_token=\([^ ]*\).*/\1/')
    mbs=$(echo "$line" | sed 's/.*mb_per_s=\([^ ]*\).*/\1/')
    rt=$(echo "$line" | sed 's/.*roundtrip=\([^ ]*\).*/\1/')
    [ "$rt" = ok ] || echo "ROUND TRIP FAILED: $tok $set" >&2
    printf '%18s' "$bpt"
    case $set in c_test|py_test) speeds="$speeds $mbs" ;; esac
    printf '{"bench": "code", "what": "compression", "tokenizer": "%s", "set": "%s", %s}\n' "$tok" "$set" \
      "$(echo "$line" | sed 's/\([a-z_]*\)=\([^ ]*\)/"\1": "\2",/g; s/,$//')" >> "$JSONL"
  done
  echo "  $speeds"
done
echo

# The constraint's cost per generated token: the mask after every prefix of
# a held-out file, asked in order as generation does.
for set in py_test c_test; do
  f=$(awk 'NR % 7 == 3' "$OUT/$set.txt" | head -1)
  line=$("$BENCH" constraint "$PLUGINS/mmgen-code.so" "$OUT/code-32k.json" "$f")
  echo "constraint, code-32k, $(basename "$f"): $line"
  printf '{"bench": "code", "what": "constraint", "file": "%s", %s}\n' "$f" \
    "$(echo "$line" | sed 's/\([a-z_]*\)=\([^ ]*\)/"\1": "\2",/g; s/,$//')" >> "$JSONL"
done
} 2>&1 | tee "$OUT/report.txt"
