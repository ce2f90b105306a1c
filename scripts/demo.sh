#!/bin/sh
# scripts/demo.sh - installs what is missing, builds mmgen and runs its main
# job in a few minutes on 2 cores, with the `mmgen` command alone:
#   1. fit a byte-level BPE tokenizer (1024 tokens) on Tiny Shakespeare;
#   2. train a small decoder-only transformer on it (2000 steps, about 70 s
#      on 2 cores; never more than 240 s);
#   3. generate a text sample from the model file, which carries its tokenizer;
#   4. if the Kodak images are there: fit an image codebook on two photographs,
#      encode and decode a third into a PNG and report its PSNR.
# Data comes from ../shared/data (or $MMGEN_DATA); without Tiny Shakespeare the
# demo trains on the GPL-3 text the machine has, and says so. Outputs land in
# build/demo/. DEMO_TRAIN_STEPS changes the number of training steps.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
./build/bin/mmgen --version

mmgen=./build/bin/mmgen
data=${MMGEN_DATA:-../shared/data}
out=build/demo
mkdir -p "$out"
start=$(date +%s)
step() { printf '\n== %s\n' "$*"; }

text=$data/tinyshakespeare/input.txt
prompt="ROMEO:"
steps=2000
if [ ! -f "$text" ]; then
  for alt in /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/GPL-2; do
    if [ -f "$alt" ]; then
      echo "note: $text is absent; training on $alt instead"
      text=$alt
      prompt="The"
      steps=300  # a 35 KB text: more steps only overfit it
      break
    fi
  done
fi
[ -f "$text" ] || { echo "demo: no training text found (looked for $text)"; exit 1; }

step "1. fit a byte-level BPE tokenizer on $text"
$mmgen tokenizer fit --plugin text --config '{"vocab_size": 1024}' -o "$out/tokenizer.json" "$text"
echo "To be, or not to be, that is the question." > "$out/line.txt"
printf 'ids of "%s": ' "$(cat "$out/line.txt")"
$mmgen tokenizer encode -t "$out/tokenizer.json" "$out/line.txt"

step "2. train a decoder-only transformer (4 layers, d_model 128, context 64)"
$mmgen train -t "$out/tokenizer.json" -o "$out/shakespeare.safetensors" \
  --layers 4 --d-model 128 --heads 4 --seq-len 64 --batch 12 --lr 2e-3 \
  --steps "${DEMO_TRAIN_STEPS:-$steps}" --max-time 240 --log-every 50 --eval-batches 40 \
  "$text"

step "3. generate (seed 1337, temperature 0.8, top-p 0.95)"
$mmgen info "$out/shakespeare.safetensors" | sed -n '1,3p;/^tokenizer/p'
echo
$mmgen generate -m "$out/shakespeare.safetensors" --prompt "$prompt" -n 200 --seed 1337 -v

kodak=$data/kodak
if [ ! -f build/plugins/mmgen-image.so ]; then
  step "4. images: skipped (the image plugin is not built)"
elif [ ! -f "$kodak/kodim01.png" ]; then
  step "4. images: skipped (no Kodak images in $kodak)"
else
  step "4. an image tokenizer: a 4x4-patch codebook of 256 vectors from two Kodak photographs"
  $mmgen tokenizer fit --plugin image --config '{"patch_size": 4, "codebook_size": 256}' \
    -o "$out/image-tokenizer.json" "$kodak/kodim01.png" "$kodak/kodim02.png"
  echo "encode + decode a photograph it has not seen:"
  $mmgen tokenizer eval -t "$out/image-tokenizer.json" --save "$out/kodim03-decoded.png" "$kodak/kodim03.png"
  echo "decoded image: $out/kodim03-decoded.png"
fi
printf '\ndemo finished in %s s\n' $(($(date +%s) - start))
