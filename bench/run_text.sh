#!/bin/sh
# bench/run_text.sh - the text plugin's speed side by side with its peers, in
# one run on the same inputs: OpenAI tiktoken (npm, WASM, through node) and
# Hugging Face tokenizers (npm, native, through node).
#
#   sh bench/run_text.sh [BUILD_DIR]      (default: build-bench, Release)
#
# Encode MB/s, single-threaded, on Shakespeare and on C sources (every
# /usr/include/*.h concatenated), for gpt2 and cl100k; each peer's ids are
# compared with mmgen's and the ratio printed only for identical output.
# Also: 1 MB pathological pieces, and BPE training time. Results are printed
# and saved under bench/results/.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-bench}
DATA=${MMGEN_TEST_DATA:-$ROOT/../shared/data}
OUT=$ROOT/bench/results/text
REPS=${REPS:-5}
mkdir -p "$OUT"
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false NODE_PATH="$ROOT/bench/node/node_modules"

if [ ! -f "$DATA/gpt2/vocab.bpe" ] || [ ! -f "$DATA/tinyshakespeare/input.txt" ]; then
  echo "run_text.sh: shared data not found at $DATA (set MMGEN_TEST_DATA)"; exit 77
fi
if [ ! -x "$BUILD/bin/bench_text" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target text bench_text -j2 >/dev/null
BENCH="$BUILD/bin/bench_text"
PLUGIN="$BUILD/plugins/mmgen-text.so"

PEERS=yes
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node/npm not found: peers skipped"; PEERS=no
elif ! (cd "$ROOT/bench/node" && npm ci --no-audit --no-fund >/dev/null 2>&1); then
  echo "npm ci failed in bench/node (no network?): peers skipped"; PEERS=no
fi
HF=$PEERS
if [ "$PEERS" = yes ] && ! (cd "$ROOT/bench/node" && node -e 'require("tokenizers")' 2>/dev/null); then
  echo "Hugging Face tokenizers (npm) does not load here: skipped"; HF=no
fi

cp "$DATA/tinyshakespeare/input.txt" "$OUT/shakespeare.txt"
cat /usr/include/*.h > "$OUT/c_sources.h"
{
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "node $(node --version 2>/dev/null || echo none); tiktoken 1.0.22 (WASM); tokenizers 0.23.2 (N-API); median of $REPS runs"
echo
config() {
  case $1 in
    gpt2) echo "{\"vocab\": \"gpt2\", \"encoder_json\": \"$DATA/gpt2/encoder.json\", \"vocab_bpe\": \"$DATA/gpt2/vocab.bpe\"}" ;;
    *) echo "{\"tiktoken\": \"$DATA/gpt2/$1.tiktoken\"}" ;;
  esac
}
speed() { echo "$1" | sed 's/ MB\/s.*//'; }
for enc in gpt2 cl100k_base; do
  for input in shakespeare.txt c_sources.h; do
    in="$OUT/$input"
    echo "== encode $input ($(wc -c < "$in") bytes), $enc"
    text="$in"
    if [ "$PEERS" = yes ]; then
      tk=$(cd "$ROOT/bench/node" && node "$ROOT/bench/text_tiktoken.js" "$enc" "$in" "$REPS" "$OUT/$input.$enc.tiktoken.ids")
      text="$OUT/$input.$enc.tiktoken.ids.text"   # the exact text tiktoken encoded
    fi
    mm=$("$BENCH" encode "$PLUGIN" "$(config $enc)" "$text" "$REPS" "$OUT/$input.$enc.mmgen.ids")
    echo "  mmgen     $mm"
    if [ "$PEERS" = yes ]; then
      if cmp -s "$OUT/$input.$enc.mmgen.ids" "$OUT/$input.$enc.tiktoken.ids"; then same="identical ids"; else same="IDS DIFFER"; fi
      echo "  tiktoken  $tk   [$same]"
      echo "  mmgen / tiktoken = $(echo "$(speed "$mm") $(speed "$tk")" | awk '{printf "%.2f", $1 / $2}')x"
    fi
    if [ "$HF" = yes ] && [ "$enc" = gpt2 ]; then
      hf=$(cd "$ROOT/bench/node" && node "$ROOT/bench/text_hf.js" encode "$DATA/gpt2/encoder.json" "$DATA/gpt2/vocab.bpe" "$text" "$REPS" "$OUT/$input.hf.ids")
      if cmp -s "$OUT/$input.$enc.mmgen.ids" "$OUT/$input.hf.ids"; then same="identical ids"; else same="IDS DIFFER"; fi
      echo "  HF tok.   $hf   [$same]"
      echo "  mmgen / HF tokenizers = $(echo "$(speed "$mm") $(speed "$hf")" | awk '{printf "%.2f", $1 / $2}')x"
    elif [ "$enc" != gpt2 ]; then
      echo "  HF tok.   not run: no cl100k tokenizer.json for HF tokenizers offline"
    fi
  done
done

echo
echo "== pathological pieces (tiktoken#195), mmgen, 1 MB each"
python3 -c "
import sys
open(sys.argv[1] + '/one_char.txt', 'w').write('a' * (1 << 20))
open(sys.argv[1] + '/one_word.txt', 'w').write(''.join(chr(97 + (i * 7 + i // 3 + (i >> 5) * 11) % 26) for i in range(1 << 20)))
open(sys.argv[1] + '/spaces.txt', 'w').write(' ' * (1 << 20))
open(sys.argv[1] + '/one_char_100k.txt', 'w').write('a' * 100000)
" "$OUT"
for enc in gpt2 cl100k_base; do
  for f in one_char one_word spaces; do
    echo "  $enc $f: $("$BENCH" encode "$PLUGIN" "$(config $enc)" "$OUT/$f.txt" 3 "$OUT/$f.$enc.ids")"
  done
done
if [ "$PEERS" = yes ]; then
  echo "  tiktoken cl100k_base, 100 KB of 'a' (a tenth of the size): $(cd "$ROOT/bench/node" && node "$ROOT/bench/text_tiktoken.js" cl100k_base "$OUT/one_char_100k.txt" 1 "$OUT/one_char_100k.tk.ids")"
fi

echo
echo "== BPE training on Shakespeare"
echo "  mmgen 4096 (gpt2 pattern): $("$BENCH" train "$PLUGIN" "$OUT/shakespeare.txt" 4096 gpt2 3)"
if [ "$HF" = yes ]; then
  hft=$(cd "$ROOT/bench/node" && node "$ROOT/bench/text_hf.js" train "$OUT/shakespeare.txt" 3 2>/dev/null | tail -1)
  hfsize=$(echo "$hft" | sed 's/.*vocabulary \([0-9]*\).*/\1/')
  echo "  HF BpeTrainer default (vocab_size 30000; the node binding cannot set 4096): $hft"
  echo "  mmgen at HF's reached size $hfsize: $("$BENCH" train "$PLUGIN" "$OUT/shakespeare.txt" "$hfsize" gpt2 3)"
fi
} 2>&1 | tee "$OUT/report.txt"
