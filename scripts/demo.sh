#!/bin/sh
# scripts/demo.sh - installs what is missing, builds mmgen and shows its four
# modalities in about six minutes on 2 cores, with the `mmgen` command alone:
#   1. text:   a byte-level BPE tokenizer and a small decoder-only model on
#              Tiny Shakespeare, then a generated passage;
#   2. code:   the code plugin's tokenizer and a model on Python functions of
#              the standard library, then generated functions (.py files,
#              each checked with Python's ast.parse);
#   3. images: handwritten digits drawn from their names (text -> image
#              encoder-decoder, scikit-learn's digits), one contact sheet;
#   4. audio:  spoken digits from their names (text -> audio, the Free Spoken
#              Digit Dataset), WAV files and a spectrogram PNG (sox).
# Each model trains for a fixed time (--max-time), so the demo takes about as
# long on any machine; DEMO_SECONDS scales every budget (default 1) and
# DEMO_PARTS picks parts (default text,code,images,audio). Data comes
# from ../shared/data (or $MMGEN_DATA); without it the demo trains on the
# GPL-3 text, and on digits spoken by espeak-ng, and says so. Outputs land in
# build/demo/ and are listed at the end.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh --demo
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" --target mmgen_cli text code image audio
./build/bin/mmgen --version

mmgen=$(pwd)/build/bin/mmgen
py=/usr/bin/python3
data=${MMGEN_DATA:-../shared/data}
out=build/demo
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
scale=${DEMO_SECONDS:-1}
budget() { awk "BEGIN { printf \"%d\", $1 * $scale }"; }
step() { printf '\n== %s   [%s s]\n' "$*" $(($(date +%s) - start)); }
part() { case ",${DEMO_PARTS:-text,code,images,audio}," in *",$1,"*) return 0 ;; esac; return 1; }

# ---- 1. text ------------------------------------------------------------------
if part text; then
  text=$data/tinyshakespeare/input.txt
  prompt="ROMEO:"
  text_steps=1200
  if [ ! -f "$text" ]; then
    for alt in /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/GPL-2; do
      if [ -f "$alt" ]; then
        echo "note: $text is absent; training on $alt instead"
        text=$alt
        prompt="The"
        text_steps=300 # a 35 KB text: more steps only overfit it
        break
      fi
    done
  fi
  [ -f "$text" ] || { echo "demo: no training text found (looked for $text)"; exit 1; }

  step "1. text: a BPE tokenizer (1024 tokens) and a 4-layer decoder on $text"
  $mmgen tokenizer fit --plugin text --config '{"vocab_size": 1024}' -o "$out/text-tokenizer.json" "$text"
  $mmgen train -t "$out/text-tokenizer.json" -o "$out/text.safetensors" \
    --layers 4 --d-model 128 --heads 4 --seq-len 64 --batch 12 --lr 2e-3 \
    --steps "$text_steps" --max-time "$(budget 45)" --log-every 250 "$text"
  $mmgen generate -m "$out/text.safetensors" --prompt "$prompt" -n 120 --seed 1337 -o "$out/text-sample.txt"
  cat "$out/text-sample.txt"; echo
fi

# ---- 2. code ------------------------------------------------------------------
if part code; then
  step "2. code: the code plugin's tokenizer and a decoder on Python standard-library functions"
  "$py" scripts/data_python_functions.py "$out/code-data" --max-train 3000 --max-heldout 1
  $mmgen tokenizer fit --plugin code --config '{"vocab_size": 2048, "lang": "python"}' \
    -o "$out/code-tokenizer.json" "$out"/code-data/train/*.py
  $mmgen train -t "$out/code-tokenizer.json" -o "$out/code.safetensors" \
    --layers 4 --d-model 128 --heads 4 --seq-len 128 --batch 8 --lr 2e-3 \
    --steps 800 --max-time "$(budget 45)" --log-every 250 "$out"/code-data/train/*.py
  mkdir -p "$out/code"
  $mmgen generate -m "$out/code.safetensors" --prompt "def " -n 160 --seed 7 --num-samples 4 \
    -T 0.5 --top-p 0.9 --repetition-penalty 1.2 -o "$out/code/function.py"
  "$py" - "$out/code" <<'EOF'
import ast, os, sys
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    src = open(os.path.join(d, f), encoding="utf-8", errors="replace").read()
    try:
        ast.parse(src)
        verdict = "parses"
    except SyntaxError as e:
        verdict = "does not parse (%s, line %s)" % (e.msg, e.lineno)
    print("--- %s: %s" % (f, verdict))
    print(src.rstrip())
EOF
fi

# ---- 3. images ----------------------------------------------------------------
if part images; then
  step "3. images: handwritten digits from their names (text -> image)"
  "$py" scripts/data_digits.py "$out/digits-data"
  $mmgen tokenizer fit -p text -c '{"vocab_size": 300}' -o "$out/names.json" "$out/digits-data/names.txt" 2> /dev/null
  # shellcheck disable=SC2046
  (cd "$out/digits-data" && $mmgen tokenizer fit -p image \
    -c '{"channels": "gray", "patch_size": 2, "codebook_size": 128, "width": 8, "height": 8}' \
    -o ../digits-tokenizer.json $(cut -f2 pairs.tsv))
  $mmgen train --source-tokenizer "$out/names.json" -t "$out/digits-tokenizer.json" \
    --pairs "$out/digits-data/pairs.tsv" -o "$out/digits.safetensors" \
    --layers 2 --d-model 128 --heads 4 --seq-len 24 --max-src-len 8 --batch 32 --lr 1e-3 \
    --dropout 0.1 --steps 1500 --max-time "$(budget 60)" --log-every 250 --seed 1
  mkdir -p "$out/digits"
  for name in zero one two three four five six seven eight nine; do
    $mmgen generate -m "$out/digits.safetensors" --source "$name" -o "$out/digits/$name.png" \
      --num-samples 8 --seed 1 --no-sheet 2> /dev/null
  done
  drawings=""
  for name in zero one two three four five six seven eight nine; do
    for k in 1 2 3 4 5 6 7 8; do drawings="$drawings $out/digits/$name-$k.png"; done
  done
  # shellcheck disable=SC2086
  montage -font DejaVu-Sans -label '%t' -filter point -resize 48x48 -geometry +4+4 -tile 8x -pointsize 11 \
    $drawings "$out/digits-sheet.png" ||
    echo "note: ImageMagick's montage failed; the images are in $out/digits"
  echo "80 drawings in $out/digits, one sheet: $out/digits-sheet.png"
fi

# ---- 4. audio -----------------------------------------------------------------
if part audio; then
  step "4. audio: spoken digits from their names (text -> audio)"
  if [ -d "$data/fsdd" ]; then
    "$py" scripts/data_spoken_digits.py "$out/speech-data" --fsdd "$data/fsdd"
  else
    echo "note: $data/fsdd is absent; digits spoken by espeak-ng instead"
    "$py" scripts/data_spoken_digits.py "$out/speech-data" --espeak --takes 5
  fi
  # shellcheck disable=SC2046
  $mmgen tokenizer fit -p audio -c '{"mode": "learned", "frame_ms": 40, "stages": 2, "codebook_size": 256, "max_seconds": 1}' \
    -o "$out/speech-tokenizer.json" $(cut -f2 "$out/speech-data/pairs.tsv")
  $mmgen train --source-tokenizer "$out/names.json" -t "$out/speech-tokenizer.json" \
    --pairs "$out/speech-data/pairs.tsv" -o "$out/speech.safetensors" \
    --encoder-layers 2 --layers 4 --d-model 128 --heads 4 --seq-len 96 --max-src-len 8 --batch 32 \
    --lr 1e-3 --dropout 0.1 --steps 500 --max-time "$(budget 80)" --log-every 250 --seed 1
  mkdir -p "$out/speech"
  for name in zero one two three four five six seven eight nine; do
    $mmgen generate -m "$out/speech.safetensors" --source "$name" -o "$out/speech/$name.wav" --seed 1
  done
  # the ten in order, 0.15 s apart, and their spectrogram
  sox_in=""
  for name in zero one two three four five six seven eight nine; do
    sox "$out/speech/$name.wav" "$out/speech/.$name-padded.wav" pad 0 0.15
    sox_in="$sox_in $out/speech/.$name-padded.wav"
  done
  # shellcheck disable=SC2086
  sox $sox_in "$out/speech-zero-to-nine.wav" && rm -f $sox_in &&
    sox "$out/speech-zero-to-nine.wav" -n spectrogram -x 1200 -y 257 -t "mmgen: zero to nine, generated from text" \
      -o "$out/speech-spectrogram.png" ||
    echo "note: sox failed; the WAVs are in $out/speech"
fi

step "outputs"
cat <<EOF
text:   $out/text-sample.txt            (model: $out/text.safetensors)
code:   $out/code/function-*.py         (model: $out/code.safetensors)
images: $out/digits-sheet.png, $out/digits/*.png
audio:  $out/speech/*.wav, $out/speech-zero-to-nine.wav, $out/speech-spectrogram.png
EOF
printf '\ndemo finished in %s s\n' $(($(date +%s) - start))
