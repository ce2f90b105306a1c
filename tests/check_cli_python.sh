#!/bin/sh
# tests/check_cli_python.sh - examples/python/mmgen_generate.py, a ctypes
# client of libmmgen (ABI check, model load, tokenizer from the model's
# metadata, streamed generation), runs against this build and prints exactly
# what `mmgen generate` prints for the same model, prompt and seed.
# The model is a tiny one trained here by the CLI. Runs with python3 from
# PATH and with /usr/bin/python3 when both exist. In a sanitizer build the
# ASan runtime is preloaded into python (leak checks off: python's own
# allocations are not ours). Skips (77) without python3 or the text plugin.
set -eu
src=$1 bin=$2
mmgen=$bin/bin/mmgen
lib=$bin/lib/libmmgen.so
example=$src/examples/python/mmgen_generate.py
[ -f "$bin/plugins/mmgen-text.so" ] || { echo "skip: the text plugin is not built"; exit 77; }
pythons=""
for py in python3 /usr/bin/python3; do
  p=$(command -v "$py" 2> /dev/null) || continue
  case " $pythons " in *" $p "*) ;; *) pythons="$pythons $p" ;; esac
done
[ -n "$pythons" ] || { echo "skip: no python3"; exit 77; }
preload=""
if grep -q '^MMGEN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2> /dev/null; then
  preload=$(${CC:-cc} -print-file-name=libasan.so)
  [ -f "$preload" ] || { echo "skip: sanitizer build and no libasan.so to preload into python"; exit 77; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MMGEN_NUM_THREADS=1 MMGEN_PLUGIN_PATH="$bin/plugins"

cat "$src/README.md" "$src/ABI.md" > "$tmp/corpus.txt"
"$mmgen" tokenizer fit --plugin text --config '{"vocab_size": 300}' -o "$tmp/tok.json" "$tmp/corpus.txt" > /dev/null
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/m.safetensors" --steps 10 --d-model 32 --heads 2 --layers 1 \
  --seq-len 32 --batch 4 --val-fraction 0 "$tmp/corpus.txt" > /dev/null
"$mmgen" generate -m "$tmp/m.safetensors" --prompt "The ABI" -n 20 --seed 42 > "$tmp/cli.txt"

for py in $pythons; do
  if [ -n "$preload" ]; then
    LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 "$py" "$example" --lib "$lib" \
      --model "$tmp/m.safetensors" --prompt "The ABI" --max-tokens 20 --seed 42 > "$tmp/py.txt" 2> "$tmp/py.err" ||
      { cat "$tmp/py.err"; echo "FAIL: $py $example"; exit 1; }
  else
    "$py" "$example" --lib "$lib" --model "$tmp/m.safetensors" --prompt "The ABI" --max-tokens 20 \
      --seed 42 > "$tmp/py.txt" 2> "$tmp/py.err" || { cat "$tmp/py.err"; echo "FAIL: $py $example"; exit 1; }
  fi
  grep -q "^libmmgen [0-9]" "$tmp/py.err" || { cat "$tmp/py.err"; echo "FAIL: no version line"; exit 1; }
  cmp -s "$tmp/cli.txt" "$tmp/py.txt" || {
    echo "FAIL: $py printed something else than mmgen generate"
    od -c "$tmp/cli.txt" | head -5
    od -c "$tmp/py.txt" | head -5
    exit 1
  }
  echo "ok: $py: same $(wc -c < "$tmp/py.txt") bytes as mmgen generate"
done

# A library that cannot serve the binding's ABI is refused before any call.
sed 's/^ABI_MAJOR, ABI_MINOR = 1, 0/ABI_MAJOR, ABI_MINOR = 99, 0/' "$example" > "$tmp/future.py"
py=${pythons# }
py=${py%% *}
set +e
if [ -n "$preload" ]; then
  LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 "$py" "$tmp/future.py" --lib "$lib" --model "$tmp/m.safetensors" 2> "$tmp/err"
else
  "$py" "$tmp/future.py" --lib "$lib" --model "$tmp/m.safetensors" 2> "$tmp/err"
fi
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "cannot serve this binding (ABI 99.0)" "$tmp/err" ||
  { cat "$tmp/err"; echo "FAIL: an incompatible ABI was not refused"; exit 1; }
echo "ok: ABI 99.0 refused"
