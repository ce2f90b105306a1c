#!/bin/sh
# tests/check_cross_modal.sh - text -> image with one encoder-decoder, end to
# end through the `mmgen` command, on a tiny made-up digits set:
# scripts/data_digits.py turns a 20-row digits CSV into PNGs and pairs
# manifests; a text tokenizer (names) and an image tokenizer are fitted;
# `train --source-tokenizer --pairs` writes a model carrying both tokenizers
# and the source id offset (`mmgen info` shows them); training reports its
# eta on plain lines, JSON lines (--log-file) and a loss curve (--plot, drawn
# by gnuplot when installed, a warning when not); `generate --source seven
# -o seven.png --num-samples 12` writes seven-01.png .. seven-12.png, each a
# valid 8x8 PNG, and a captioned contact sheet (or warns, exit 0, when
# ImageMagick's montage is missing); @file sources and one-tokenizer
# manifests work; examples/python/mmgen_cross_modal.py (ctypes, ABI 1.2)
# writes the same image as the CLI; the `--encoder-layers` + FILE pairs path still works, now
# also with a source tokenizer. Bad input names the manifest line or file and
# writes nothing: a missing file, a line without a TAB, a target the image
# plugin cannot encode, a source longer than the encoder's context, a target
# longer than --seq-len, --source for a decoder-only model, and the usage
# errors. Skips (77) without the text and image plugins or python3.
set -eu
src=$1 bin=$2
mmgen=$bin/bin/mmgen
[ -x "$mmgen" ] || { echo "FAIL: $mmgen not built"; exit 1; }
for p in text image; do
  [ -f "$bin/plugins/mmgen-$p.so" ] || { echo "skip: the $p plugin is not built"; exit 77; }
done
py=$(command -v python3 || command -v /usr/bin/python3 || true)
[ -n "$py" ] || { echo "skip: no python3 for scripts/data_digits.py"; exit 77; }
tmp=$(mktemp -d)
reported=0
trap 'rc=$?; [ $rc = 0 ] || [ $reported = 1 ] || echo "FAIL: the last command exited $rc (its stderr is above)"; rm -rf "$tmp"' EXIT
export MMGEN_NUM_THREADS=1
unset MMGEN_PLUGIN_PATH MMGEN_MONTAGE

fail() { echo "FAIL: $*"; reported=1; exit 1; }
pass() { echo "ok: $*"; }
# expect CODE PATTERN CMD...: CMD exits CODE and its stderr contains PATTERN.
expect() {
  code=$1 pat=$2
  shift 2
  set +e
  "$@" > "$tmp/out" 2> "$tmp/err"
  rc=$?
  set -e
  [ "$rc" = "$code" ] || fail "'$*' exited $rc, expected $code; stderr: $(cat "$tmp/err")"
  grep -q -- "$pat" "$tmp/err" || fail "'$*': stderr lacks '$pat': $(cat "$tmp/err")"
}
# is_png FILE W H: FILE starts with the PNG signature and says W x H.
is_png() {
  [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = 89504e470d0a1a0a ] || return 1
  [ "$(od -An -tu1 -j16 -N8 "$1" | tr -s ' ' | sed 's/^ //; s/ $//')" = "0 0 0 $2 0 0 0 $3" ]
}

# --- data: 20 made-up 8x8 digits (two per class) -> PNGs + manifests ------
awk 'BEGIN { srand(7); for (i = 0; i < 20; i++) { d = i % 10; row = "";
  for (p = 0; p < 64; p++) { x = p % 8; y = int(p / 8);
    v = (x == d % 8 || y == (d + 3) % 8) ? 16 : int(rand() * 3); row = row v "," }
  print row d } }' | gzip > "$tmp/digits.csv.gz"
"$py" "$src/scripts/data_digits.py" "$tmp/d" --csv "$tmp/digits.csv.gz" --test-fraction 0.5 > "$tmp/data.log"
grep -q "20 images -> $tmp/d: 10 training pairs (pairs.tsv), 10 held out (test.tsv)" "$tmp/data.log" ||
  fail "data_digits: $(cat "$tmp/data.log")"
[ "$(wc -l < "$tmp/d/pairs.tsv")" = 10 ] || fail "pairs.tsv has $(wc -l < "$tmp/d/pairs.tsv") lines"
grep -qx "seven	img/0007.png\|seven	img/0017.png" "$tmp/d/pairs.tsv" "$tmp/d/test.tsv" || fail "no seven pair"
is_png "$tmp/d/img/0007.png" 8 8 || fail "img/0007.png is not an 8x8 PNG"
pass "scripts/data_digits.py"

# --- tokenizers and a two-tokenizer model ------------------------------------
cd "$tmp"
"$mmgen" tokenizer fit -p text -c '{"vocab_size": 290}' -o names.json d/names.txt > /dev/null 2>&1
"$mmgen" tokenizer fit -p image -c '{"channels": "gray", "patch_size": 2, "codebook_size": 16, "width": 8, "height": 8}' \
  -o img.json d/img/*.png > /dev/null
train() {
  "$mmgen" train --source-tokenizer names.json -t img.json --layers 1 --d-model 32 --heads 2 --seq-len 24 \
    --max-src-len 8 --batch 4 --steps 3 --val-fraction 0.2 "$@"
}
train --pairs d/pairs.tsv -o xm.safetensors > train.log
grep -q "^data: 10 pairs from d/pairs.tsv" train.log || fail "train --pairs: $(cat train.log)"
grep -q "^tokenizers: sources text (.* ids, at 536..[0-9]*), targets image (536 ids, at 0..535)" train.log ||
  fail "the source ids do not follow the 536 image ids: $(cat train.log)"
grep -q "^model: encoder-decoder, 1+1 layers" train.log || fail "--pairs did not make an encoder-decoder"
grep -q "both tokenizers embedded" train.log || fail "train did not embed both tokenizers"
"$mmgen" info xm.safetensors > info.log
grep -q "mmgen.tokenizer (.*), mmgen.source_tokenizer (.*), mmgen.source_id_offset (3 bytes)" info.log ||
  fail "info: metadata keys: $(cat info.log)"
grep -q "^tokenizer   image (image), 536 tokens" info.log || fail "info: target tokenizer: $(cat info.log)"
grep -q "^source      text (text), .* tokens, ids from 536" info.log || fail "info: source tokenizer: $(cat info.log)"
pass "train --source-tokenizer --pairs: a model with two tokenizers"

# --- what a training run reports: plain lines with eta, JSON lines, a plot -----
train --pairs d/pairs.tsv -o lg.safetensors --steps 4 --log-every 2 --eval-every 2 --log-file lg.jsonl \
  --plot lg.png > lg.log 2> lg.err || fail "--log-file/--plot: $(cat lg.log lg.err)"
grep -q "^step 2/4  loss .* tok/s  eta [0-9]*s$" lg.log || fail "plain step lines lack the eta: $(cat lg.log)"
grep -q "$(printf '\r')" lg.log && fail "a progress line was drawn into a file"
[ "$(sed -n 1p lg.jsonl)" = '{"event": "start", "model": "lg.safetensors", "data": "d/pairs.tsv", "first_step": 0, "steps": 4}' ] ||
  fail "--log-file start line: $(sed -n 1p lg.jsonl)"
[ "$(grep -c '^{"event": "step", "step": [0-9]*, "loss": [0-9.e+-]*, "lr": ' lg.jsonl)" = 3 ] || fail "--log-file step lines: $(cat lg.jsonl)"
[ "$(grep -c '^{"event": "eval", "step": [24], "loss": ' lg.jsonl)" = 2 ] || fail "--log-file eval lines: $(cat lg.jsonl)"
tail -n 1 lg.jsonl | grep -q '^{"event": "end", "step": 4, "elapsed_s": [0-9.]*, "status": "saved"}$' ||
  fail "--log-file end line: $(tail -n 1 lg.jsonl)"
"$py" -c "import json, sys; [json.loads(l) for l in open('lg.jsonl')]" || fail "--log-file is not JSON lines"
if command -v gnuplot > /dev/null 2>&1; then
  grep -q "^loss curve: lg.png$" lg.log || fail "--plot: $(cat lg.log lg.err)"
  [ "$(od -An -tx1 -N8 lg.png | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "--plot did not write a PNG"
  ls lg.png.tmp* > /dev/null 2>&1 && fail "--plot left temporary files"
else
  grep -q "no loss curve: gnuplot is not installed" lg.err || fail "--plot without gnuplot: $(cat lg.err)"
fi
pass "training reports: eta on plain lines, --log-file JSON lines, --plot"

# --- generate: numbered images, every one valid, and the contact sheet -------
mkdir gen
"$mmgen" generate -m xm.safetensors --source seven -o gen/seven.png --num-samples 12 --seed 3 2> gen.log
for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
  is_png "gen/seven-$i.png" 8 8 || fail "gen/seven-$i.png is not a valid 8x8 PNG: $(cat gen.log)"
done
[ ! -e gen/seven-1.png ] || fail "12 samples must be numbered with two digits"
if command -v montage > /dev/null 2>&1; then
  grep -q "wrote gen/seven-sheet.png (12 images, captioned \"seven\")" gen.log || fail "no contact sheet: $(cat gen.log)"
  [ "$(od -An -tx1 -N4 gen/seven-sheet.png | tr -d ' \n')" = 89504e47 ] || fail "the sheet is not a PNG"
  # 4 columns of 8x8 images enlarged 12x with 4-pixel gaps: 4 * (96 + 8) = 416 = 1*256 + 160 pixels wide
  [ "$(od -An -tu1 -j16 -N4 gen/seven-sheet.png | tr -s ' ' | sed 's/^ //; s/ $//')" = "0 0 1 160" ] ||
    fail "the sheet is not 416 pixels wide (4 tiles): $(od -An -tu1 -j16 -N8 gen/seven-sheet.png)"
  pass "generate --num-samples 12: seven-01..12.png and a captioned contact sheet"
else
  echo "note: montage is not installed; the contact sheet itself is not checked"
fi
MMGEN_MONTAGE=no-such-montage "$mmgen" generate -m xm.safetensors --source seven -o gen/b.png --num-samples 2 \
  --seed 3 2> gen2.log || fail "a missing montage must not fail generation: $(cat gen2.log)"
grep -q "no contact sheet: 'no-such-montage' is not installed" gen2.log || fail "no warning: $(cat gen2.log)"
[ -f gen/b-1.png ] && [ -f gen/b-2.png ] && [ ! -e gen/b-sheet.png ] || fail "missing montage: files $(ls gen)"
"$mmgen" generate -m xm.safetensors --source seven -o gen/c.png --num-samples 2 --seed 3 --no-sheet 2> /dev/null
[ ! -e gen/c-sheet.png ] || fail "--no-sheet wrote a sheet"
cmp -s gen/b-1.png gen/c-1.png || fail "the same seed gave another image"
# --source-ids: the source tokenizer's ids (the offset is added)
id=$(printf seven | "$mmgen" tokenizer encode -t names.json)
"$mmgen" generate -m xm.safetensors --source-ids "$id" -o gen/ids.png --seed 3 2> /dev/null
cmp -s gen/ids.png gen/b-1.png || fail "--source-ids '$id' differs from --source seven"
"$mmgen" generate -m xm.safetensors --source seven --ids -n 30 --seed 3 > ids.txt
awk '{ for (i = 1; i <= NF; i++) if ($i >= 536) exit 1 }' ids.txt || fail "generated a source-side id: $(cat ids.txt)"
pass "generate: missing montage warns, --no-sheet, --source-ids, no source-side ids"

# --- the same through the C API from Python (ctypes): the same bytes ----------
preload=""
if grep -q '^MMGEN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2> /dev/null; then
  preload=$(${CC:-cc} -print-file-name=libasan.so)
fi
LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 MMGEN_PLUGIN_PATH="$bin/plugins" "$py" \
  "$src/examples/python/mmgen_cross_modal.py" --lib "$bin/lib/libmmgen.so" --model xm.safetensors --source seven \
  -o gen/py.png --seed 3 2> py.err || fail "examples/python/mmgen_cross_modal.py: $(cat py.err)"
cmp -s gen/py.png gen/b-1.png || fail "the ctypes example wrote another image than mmgen generate"
pass "examples/python/mmgen_cross_modal.py: the same image through the C API"

# --- other manifests: @file sources, one tokenizer, the old FILE pairs --------
printf 'seven\n' > d/seven.txt
printf '@seven.txt\timg/0007.png\n@@at\timg/0001.png\n\nthree\timg/0003.png\r\n' > d/at.tsv
train --pairs d/at.tsv -o at.safetensors --val-fraction 0 > at.log || fail "@file manifest: $(cat at.log)"
grep -q "^data: 3 pairs" at.log || fail "@file manifest: $(cat at.log)"
printf 'one\tseven.txt\ntwo\tseven.txt\n' > d/tt.tsv
"$mmgen" train -t names.json --pairs d/tt.tsv -o tt.safetensors --layers 1 --d-model 32 --heads 2 --steps 2 \
  --batch 2 --seq-len 8 --val-fraction 0 > tt.log || fail "one-tokenizer manifest: $(cat tt.log)"
"$mmgen" info tt.safetensors | grep -q "^source" && fail "a one-tokenizer model got a source tokenizer"
"$mmgen" generate -m tt.safetensors --source one -n 3 --seed 1 > /dev/null
train --encoder-layers 1 -o files.safetensors --val-fraction 0 d/seven.txt d/img/0007.png d/seven.txt d/img/0017.png \
  > files.log || fail "FILE pairs with --source-tokenizer: $(cat files.log)"
"$mmgen" generate -m files.safetensors --source seven -o gen/f.png --seed 1 2> /dev/null
is_png gen/f.png 8 8 || fail "FILE pairs model: not a PNG"
pass "@file and @@ sources, CRLF and empty lines, one-tokenizer manifests, FILE pairs"

# --- text -> audio: the same path with the audio plugin's learned codec --------
if [ -f "$bin/plugins/mmgen-audio.so" ]; then
  mkdir a
  # two quarter-second tones per name, a pitch per name: 16-bit mono 8 kHz WAVs
  "$py" - a <<'EOF'
import math, os, struct, sys, wave
out = sys.argv[1]
with open(os.path.join(out, "pairs.tsv"), "w") as manifest:
    for d, name in enumerate(["zero", "one", "two", "three", "four"]):
        for take in range(2):
            path = "%s-%d.wav" % (name, take)
            f = 300 + 150 * d + 20 * take
            with wave.open(os.path.join(out, path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * f * i / 8000)))
                                       for i in range(2000)))
            manifest.write("%s\t%s\n" % (name, path))
EOF
  "$mmgen" tokenizer fit -p audio -o au.json \
    -c '{"mode": "learned", "frame_ms": 40, "stages": 1, "codebook_size": 16, "gain_levels": 8,
         "max_seconds": 0.5}' a/*.wav 2> au-fit.log ||
    fail "audio fit: $(cat au-fit.log)"
  "$mmgen" train --source-tokenizer names.json -t au.json --pairs a/pairs.tsv -o au.safetensors --layers 1 \
    --d-model 32 --heads 2 --steps 4 --batch 2 --seq-len 24 --max-src-len 4 --val-fraction 0 > au.log ||
    fail "train text -> audio: $(cat au.log)"
  grep -q "^tokenizers: sources text (.*), targets audio" au.log || fail "text -> audio tokenizers: $(cat au.log)"
  "$mmgen" generate -m au.safetensors --source three -o gen/three.wav --num-samples 3 --seed 5 2> au-gen.log ||
    fail "generate -o three.wav: $(cat au-gen.log)"
  [ ! -e gen/three-sheet.png ] || fail "a contact sheet for audio"
  # every sample a valid mono 8 kHz 16-bit WAV of at most max_seconds: the
  # constraint bounds the length header even for an untrained model
  "$py" - gen/three-1.wav gen/three-2.wav gen/three-3.wav <<'EOF' || fail "generated WAVs: $(cat au-gen.log)"
import sys, wave
for path in sys.argv[1:]:
    with wave.open(path, "rb") as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 8000, 2), path
        assert 0 < w.getnframes() <= 4000, (path, w.getnframes())
EOF
  "$mmgen" generate -m au.safetensors --source three -o gen/again.wav --seed 5 2> /dev/null
  cmp -s gen/again.wav gen/three-1.wav || fail "the same seed gave another WAV"
  pass "text -> audio: learned codec targets, generate -o three.wav --num-samples 3, valid WAVs"
else
  echo "note: the audio plugin is not built; text -> audio is not checked"
fi

# --- bad input: the message names the line or file; nothing is written -------
bad() { # bad PATTERN MANIFEST-TEXT [train options]
  pat=$1 text=$2
  shift 2
  printf "$text" > d/bad.tsv
  expect 1 "$pat" train --pairs d/bad.tsv -o bad.safetensors --checkpoint bad.ckpt "$@"
  [ ! -e bad.safetensors ] && [ ! -e bad.ckpt ] || fail "a failed run wrote its model or checkpoint"
}
bad "d/bad.tsv:2: the target file 'd/img/9999.png' cannot be read" 'seven\timg/0007.png\nnine\timg/9999.png\n'
bad "d/bad.tsv:1: the source file 'd/nope.txt' cannot be read" '@nope.txt\timg/0007.png\n'
bad "d/bad.tsv:2: expected SOURCE<TAB>TARGET; the line has no TAB" 'seven\timg/0007.png\nseven img/0007.png\n'
bad "d/bad.tsv:1: expected SOURCE<TAB>TARGET; the line has more than one TAB" 'a\tb\tc\n'
bad "d/bad.tsv:1: the source is empty" '\timg/0007.png\n'
bad "d/bad.tsv:1: the target is empty" 'seven\t\n'
bad "d/bad.tsv:2: the image plugin cannot encode the target 'd/seven.txt'" 'seven\timg/0007.png\nseven\tseven.txt\n'
bad "d/bad.tsv:2: the source is .* tokens; the encoder takes at most 4" \
  'seven\timg/0007.png\nseven seven seven seven seven\timg/0007.png\n' --max-src-len 4
bad "d/bad.tsv:1: the target 'd/img/0007.png' is 22 tokens, 23 with bos; the decoder takes at most 16" \
  'seven\timg/0007.png\n' --seq-len 16
: > d/empty.tsv
expect 1 "d/empty.tsv: no pairs" train --pairs d/empty.tsv -o bad.safetensors
expect 2 "give either --pairs or document FILES" train --pairs d/pairs.tsv -o bad.safetensors d/seven.txt
expect 2 "\-\-encoder-layers must be > 0" train --pairs d/pairs.tsv -o bad.safetensors --encoder-layers 0
expect 2 "\-\-source-tokenizer is for encoder-decoders" train -o bad.safetensors d/seven.txt
[ ! -e bad.safetensors ] || fail "a usage error wrote a model"
"$mmgen" train -t img.json -o dec.safetensors --layers 1 --d-model 32 --heads 2 --steps 1 --batch 1 --seq-len 16 \
  --val-fraction 0 d/img/0007.png d/img/0017.png > /dev/null
expect 2 "is decoder-only; --source is for encoder-decoder models" "$mmgen" generate -m dec.safetensors --source seven -o x.png
expect 2 "is an encoder-decoder: give --source" "$mmgen" generate -m xm.safetensors -o x.png
pass "bad input names the line or file and writes nothing"
