#!/bin/sh
# tests/check_tiktoken.sh SRC BUILD - the text plugin gives exactly the ids
# of OpenAI's tiktoken (npm package, installed here by `npm ci` from the
# committed package-lock.json) for gpt2, r50k_base, p50k_base and cl100k_base
# on: all of Shakespeare, every /usr/include/*.h, multilingual text and emoji,
# seeded fuzz over every Unicode plane, adversarial whitespace/digits/
# contractions, 20 KB single pieces. tiktoken's JS API takes strings only, so
# for invalid UTF-8 we compare what can be compared: the text a WHATWG decoder
# makes of the bytes (ill-formed parts -> U+FFFD) gets tiktoken's ids, and the
# raw bytes split into pieces exactly there (text_tool lossy-check) and
# round-trip. Skips (77) without node, npm, network or the shared data.
set -u
SRC=$1
BUILD=$2
DATA=${MMGEN_TEST_DATA:-$SRC/../shared/data}
TOOL=$BUILD/bin/text_tool
skip() { echo "check_tiktoken: SKIP: $1"; exit 77; }
command -v node >/dev/null || skip "node not found (apt-get install nodejs npm)"
command -v npm >/dev/null || skip "npm not found"
[ -f "$DATA/gpt2/vocab.bpe" ] || skip "shared data not found at $DATA"
[ -x "$TOOL" ] || skip "$TOOL not built"
(cd "$SRC/tests/tiktoken" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
  skip "npm ci failed in tests/tiktoken (no network to the npm registry?)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/in" "$WORK/ref"
cp "$DATA/tinyshakespeare/input.txt" "$WORK/in/shakespeare.txt" 2>/dev/null || echo "note: no tinyshakespeare"
cat /usr/include/*.h > "$WORK/in/usr_include.h" 2>/dev/null || true
node "$SRC/tests/tiktoken/gen_inputs.js" "$WORK/in" || { echo "input generation failed"; exit 1; }
export MMGEN_TEST_PLUGIN_DIR="$BUILD/plugins"
config() {
  case $1 in
    gpt2) echo "{\"vocab\": \"gpt2\", \"encoder_json\": \"$DATA/gpt2/encoder.json\", \"vocab_bpe\": \"$DATA/gpt2/vocab.bpe\"}" ;;
    *) echo "{\"tiktoken\": \"$DATA/gpt2/$1.tiktoken\"}" ;;
  esac
}
pass=0
fail=0
for enc in gpt2 r50k_base p50k_base cl100k_base; do
  (cd "$SRC/tests/tiktoken" && node reference.js "$enc" "$WORK/ref" "$WORK"/in/*) || { echo "tiktoken failed"; exit 1; }
  for f in "$WORK"/in/*; do
    b=$(basename "$f")
    # What tiktoken encoded: the file as a WHATWG decoder reads it.
    if "$TOOL" encode "$(config $enc)" "$WORK/ref/$b.lossy" > "$WORK/ref/$b.$enc.mine" &&
       cmp -s "$WORK/ref/$b.$enc.mine" "$WORK/ref/$b.$enc.ids"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
      echo "FAIL $enc $b: ids differ from tiktoken's ($(wc -w < "$WORK/ref/$b.$enc.mine") vs $(wc -w < "$WORK/ref/$b.$enc.ids") tokens)"
    fi
    if ! cmp -s "$f" "$WORK/ref/$b.lossy"; then
      # Ill-formed UTF-8: units, pieces and the round trip of the raw bytes.
      if msg=$("$TOOL" lossy-check "$(config $enc)" "$f" "$WORK/ref/$b.lossy" 2>&1); then
        pass=$((pass + 1))
        echo "ok $enc $b (invalid UTF-8): $msg"
      else
        fail=$((fail + 1))
        echo "FAIL $enc $b (invalid UTF-8): $msg"
      fi
    fi
  done
  echo "$enc: done"
done
echo "check_tiktoken: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
