#!/bin/sh
# tests/check_cli.sh - the `mmgen` command end to end, on tiny inputs:
# version; plugin listing (a broken plugin reported with its reason); text
# tokenizer fit -> encode -> decode gives the input back byte for byte;
# 20 training steps lower the loss; a checkpointed run resumed halfway ends
# with a model file identical to the straight run's; an encoder-decoder trains
# on (source, target) pairs and generates from --source; --config applies the
# library's config JSON keys and names bad ones; --max-time stops without
# rescaling the learning-rate schedule and says so; a tokenizer made from a
# vocabulary file still loads (from its file or a model) once that file is
# gone; generation with a fixed seed is identical twice, and streams the
# same text that --ids decodes to;
# bad flags, values and files exit 2/1 with a message naming them. With the
# Kodak images (MMGEN_TEST_DATA), the image plugin too: PSNR of a round trip
# (checked against PIL when /usr/bin/python3 has it), and a generated image
# that is a valid PNG of the configured size.
# Skips (77) when the text plugin was not built.
set -eu
src=$1 bin=$2
mmgen=$bin/bin/mmgen
[ -x "$mmgen" ] || { echo "FAIL: $mmgen not built"; exit 1; }
[ -f "$bin/plugins/mmgen-text.so" ] || { echo "skip: the text plugin is not built ($bin/plugins/mmgen-text.so)"; exit 77; }
tmp=$(mktemp -d)
# set -e stops at the first failing command; say so, with its output
reported=0
trap 'rc=$?; [ $rc = 0 ] || [ $reported = 1 ] || echo "FAIL: the last command exited $rc (its stderr is above)"; rm -rf "$tmp"' EXIT
export MMGEN_NUM_THREADS=1 # ctest runs checks side by side
unset MMGEN_PLUGIN_PATH

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

# --- version and help --------------------------------------------------------
"$mmgen" --version | grep -Eq '^mmgen [0-9]+\.[0-9]+\.[0-9]+ \(ABI [0-9]+\.[0-9]+\)$' || fail "mmgen --version"
for c in plugins tokenizer train generate info; do
  "$mmgen" $c --help | grep -q "usage: mmgen $c" || fail "mmgen $c --help"
done
pass "version and help"

# --- plugins -----------------------------------------------------------------
mkdir "$tmp/plugins"
echo "not a shared object" > "$tmp/plugins/mmgen-broken.so"
"$mmgen" plugins --path "$tmp/plugins:$bin/plugins" > "$tmp/list" || fail "mmgen plugins"
grep -Eq "^text +[^ ]+ +text +/.*/mmgen-text.so$" "$tmp/list" || fail "text plugin not listed: $(cat "$tmp/list")"
grep -q "$tmp/plugins/mmgen-broken.so" "$tmp/list" || fail "broken plugin not listed: $(cat "$tmp/list")"
grep -q "MMG_ERR_PLUGIN" "$tmp/list" || fail "broken plugin listed without its reason: $(cat "$tmp/list")"
# the default search path of a build-tree mmgen finds the plugins built with it
"$mmgen" plugins --names | grep -qx text || fail "build-tree plugins not found by default"
pass "plugins"

# --- tokenizer round trip ----------------------------------------------------
cat "$src/README.md" "$src/ABI.md" > "$tmp/corpus.txt"
printf 'Caf\303\251 \360\237\230\200 \377\376 invalid UTF-8 and  spaces\n' > "$tmp/odd.txt"
"$mmgen" tokenizer fit --plugin text --config '{"vocab_size": 320}' -o "$tmp/tok.json" "$tmp/corpus.txt" > /dev/null
"$mmgen" tokenizer info -t "$tmp/tok.json" | grep -q "vocab_size  320" || fail "tokenizer info"
for doc in "$tmp/corpus.txt" "$tmp/odd.txt"; do
  "$mmgen" tokenizer encode -t "$tmp/tok.json" "$doc" > "$tmp/ids.txt"
  n=$(wc -w < "$tmp/ids.txt")
  [ "$n" -gt 0 ] || fail "no ids for $doc"
  "$mmgen" tokenizer decode -t "$tmp/tok.json" -o "$tmp/back" "$tmp/ids.txt"
  cmp -s "$doc" "$tmp/back" || fail "decode(encode($doc)) differs"
  # binary ids read back the same
  "$mmgen" tokenizer encode -t "$tmp/tok.json" --format u16 -o "$tmp/ids.bin" "$doc"
  [ "$(wc -c < "$tmp/ids.bin")" = $((2 * n)) ] || fail "u16 ids of $doc: wrong size"
  "$mmgen" tokenizer decode -t "$tmp/tok.json" --format u16 "$tmp/ids.bin" > "$tmp/back"
  cmp -s "$doc" "$tmp/back" || fail "u16 round trip of $doc"
done
# fewer tokens than bytes: the merges were learned
[ "$(wc -w < "$tmp/ids.txt")" -lt "$(wc -c < "$tmp/odd.txt")" ] || true
"$mmgen" tokenizer eval -t "$tmp/tok.json" "$tmp/corpus.txt" | grep -q "round trip exact" || fail "tokenizer eval"
pass "tokenizer fit/encode/decode round trip"

# --- training: the loss goes down --------------------------------------------
small="--d-model 32 --heads 2 --layers 2 --seq-len 32 --batch 4 --lr 3e-3 --warmup 2 --log-every 1"
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/m.safetensors" --steps 20 $small "$tmp/corpus.txt" > "$tmp/train.log" ||
  { cat "$tmp/train.log"; fail "mmgen train"; }
first=$(awk '/^step 1\//{print $4}' "$tmp/train.log")
last=$(awk '/^step 20\//{print $4}' "$tmp/train.log")
[ -n "$first" ] && [ -n "$last" ] || fail "no loss lines: $(cat "$tmp/train.log")"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.3) }' || fail "loss did not go down: $first -> $last"
grep -q '^eval  step 20  loss ' "$tmp/train.log" || fail "no evaluation line: $(cat "$tmp/train.log")"
"$mmgen" info "$tmp/m.safetensors" > "$tmp/info"
grep -q "tokenizer   text (text), 320 tokens" "$tmp/info" || fail "the model does not carry its tokenizer: $(cat "$tmp/info")"
grep -q "^metadata    mmgen.tokenizer (" "$tmp/info" || fail "info does not list the model's metadata: $(cat "$tmp/info")"
grep -q "^  activation         gelu_tanh$" "$tmp/info" || fail "info does not print the config: $(cat "$tmp/info")"
pass "train: loss $first -> $last in 20 steps"

# --- --config: the library's config JSON, over the CLI's defaults; flags win --
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/c.safetensors" --steps 1 --seq-len 16 --val-fraction 0 \
  --config '{"d_model": 16, "n_heads": 2, "n_decoder_layers": 1, "activation": "relu"}' --heads 4 \
  "$tmp/corpus.txt" > "$tmp/c.log"
grep -q "^model: decoder-only, 0+1 layers, d_model 16, 4 heads, d_ff 64," "$tmp/c.log" || fail "--config: $(cat "$tmp/c.log")"
"$mmgen" info "$tmp/c.safetensors" | grep -q "^  activation         relu$" || fail "--config activation not applied"
pass "--config"

# --- --max-time stops without rescaling the schedule -----------------------------
"$mmgen" train --help | grep -q "schedule is fixed by these step counts" || fail "train --help does not explain the schedule"
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/t.safetensors" --steps 1000 --max-time 0.000001 $small --val-fraction 0 \
  "$tmp/corpus.txt" > "$tmp/t.log"
grep -q "^note: --max-time only stops the run; the learning rate decays over 1000 steps" "$tmp/t.log" ||
  fail "--max-time: no note on the schedule: $(cat "$tmp/t.log")"
grep -q "^stopped at step 1 of 1000: --max-time 1e-06 s reached; the learning rate had reached .* (the schedule ends at step 1000)" \
  "$tmp/t.log" || fail "--max-time: $(cat "$tmp/t.log")"
pass "--max-time"

# --- a tokenizer's saved state is enough: its vocabulary file may be gone -------
i=0
while [ $i -lt 256 ]; do # a tiny tiktoken rank file: the 256 bytes, then 4 merges
  printf "$(printf '\\%03o' $i)" | base64 | tr -d '\n' >> "$tmp/tiny.tiktoken"
  echo " $i" >> "$tmp/tiny.tiktoken"
  i=$((i + 1))
done
for w in th he the in; do printf '%s %d\n' "$(printf '%s' $w | base64)" $i >> "$tmp/tiny.tiktoken"; i=$((i + 1)); done
"$mmgen" tokenizer new --plugin text --config "{\"tiktoken\": \"$tmp/tiny.tiktoken\"}" -o "$tmp/tiny.json" > /dev/null
printf 'the thin hen\n' > "$tmp/the.txt"
"$mmgen" tokenizer encode -t "$tmp/tiny.json" "$tmp/the.txt" > "$tmp/the1.ids"
grep -q "^258 32 256 259 32 257 110 10$" "$tmp/the1.ids" || fail "tiny rank file: $(cat "$tmp/the1.ids")"
"$mmgen" train -t "$tmp/tiny.json" -o "$tmp/tiny.safetensors" --steps 1 --d-model 16 --heads 2 --layers 1 --seq-len 4 \
  --batch 1 --val-fraction 0 "$tmp/the.txt" > /dev/null
rm "$tmp/tiny.tiktoken"
"$mmgen" tokenizer encode -t "$tmp/tiny.json" "$tmp/the.txt" > "$tmp/the2.ids"
cmp -s "$tmp/the1.ids" "$tmp/the2.ids" || fail "the tokenizer file needs its rank file: $(cat "$tmp/the2.ids")"
"$mmgen" tokenizer encode -t "$tmp/tiny.safetensors" "$tmp/the.txt" > "$tmp/the3.ids"
cmp -s "$tmp/the1.ids" "$tmp/the3.ids" || fail "the model's tokenizer needs its rank file"
"$mmgen" generate -m "$tmp/tiny.safetensors" --prompt "the" -n 2 --seed 1 --ids > /dev/null
pass "tokenizers restore from their state without their vocabulary files"

# --- resume: 10 + 10 steps == 20 steps ----------------------------------------
fixed="$small --decay-steps 20 --val-fraction 0"
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/straight.safetensors" --steps 20 $fixed "$tmp/corpus.txt" > "$tmp/s.log"
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/half.safetensors" --checkpoint "$tmp/ck" --steps 10 $fixed "$tmp/corpus.txt" > /dev/null
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/half.safetensors" --checkpoint "$tmp/ck" --resume --steps 20 $fixed "$tmp/corpus.txt" > "$tmp/r.log"
grep -q "resumed from $tmp/ck at step 10" "$tmp/r.log" || fail "resume: $(cat "$tmp/r.log")"
[ "$(grep '^step 20/' "$tmp/s.log" | cut -d' ' -f1-4)" = "$(grep '^step 20/' "$tmp/r.log" | cut -d' ' -f1-4)" ] ||
  fail "resumed loss differs: $(grep '^step 20/' "$tmp/s.log") vs $(grep '^step 20/' "$tmp/r.log")"
cmp -s "$tmp/straight.safetensors" "$tmp/half.safetensors" || fail "resumed model differs from the straight run's"
pass "resume"

# --- generation: same seed, same output ---------------------------------------
m=$tmp/m.safetensors
"$mmgen" generate -m "$m" --prompt "mmgen" -n 40 --seed 11 > "$tmp/g1.txt"
"$mmgen" generate -m "$m" --prompt "mmgen" -n 40 --seed 11 > "$tmp/g2.txt"
cmp -s "$tmp/g1.txt" "$tmp/g2.txt" || fail "same seed, different text"
head -c 5 "$tmp/g1.txt" | grep -q '^mmgen' || fail "the output does not start with the prompt"
# the streamed text is the decoding of the generated ids (plus a newline)
"$mmgen" generate -m "$m" --prompt "mmgen" -n 40 --seed 11 --ids > "$tmp/gids.txt"
"$mmgen" tokenizer decode -t "$m" "$tmp/gids.txt" > "$tmp/g3.txt"
printf '\n' >> "$tmp/g3.txt"
cmp -s "$tmp/g1.txt" "$tmp/g3.txt" || fail "streamed text differs from decode(--ids)"
# past the context (32 tokens): the sliding window keeps going
"$mmgen" generate -m "$m" -n 100 --seed 5 --ids --ignore-eos > "$tmp/long.txt"
[ "$(wc -w < "$tmp/long.txt")" = 100 ] || fail "--ignore-eos -n 100 gave $(wc -w < "$tmp/long.txt") tokens"
grep -qw 319 "$tmp/long.txt" && fail "--ignore-eos generated eos (319)"
"$mmgen" generate -m "$m" --prompt "a" -n 8 --seed 3 --num-samples 2 -o "$tmp/s.txt" 2> /dev/null
[ -f "$tmp/s-1.txt" ] && [ -f "$tmp/s-2.txt" ] || fail "--num-samples 2 -o s.txt did not write s-1.txt and s-2.txt"
pass "generate"

# --- encoder-decoder: FILES are (source, target) pairs --------------------------
for i in 1 2 3 4; do echo "number $i" > "$tmp/s$i.txt"; echo "$i $i $i" > "$tmp/t$i.txt"; done
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/ed.safetensors" --encoder-layers 1 --layers 1 --d-model 32 --heads 2 \
  --steps 3 --batch 2 --seq-len 16 --max-src-len 16 --val-fraction 0.25 \
  "$tmp/s1.txt" "$tmp/t1.txt" "$tmp/s2.txt" "$tmp/t2.txt" "$tmp/s3.txt" "$tmp/t3.txt" "$tmp/s4.txt" "$tmp/t4.txt" > "$tmp/ed.log"
grep -q "^model: encoder-decoder, 1+1 layers" "$tmp/ed.log" || fail "encoder-decoder: $(cat "$tmp/ed.log")"
grep -q "^eval  step 3 " "$tmp/ed.log" || fail "encoder-decoder: no evaluation on the held-out pair"
"$mmgen" generate -m "$tmp/ed.safetensors" --source "number 2" -n 5 --seed 1 --ids > /dev/null
expect 2 "is an encoder-decoder: give --source" "$mmgen" generate -m "$tmp/ed.safetensors"
expect 2 "give SRC TGT files in pairs" "$mmgen" train -t "$tmp/tok.json" -o "$tmp/x.safetensors" --encoder-layers 1 "$tmp/s1.txt"
pass "encoder-decoder"

# --- bad input: usage errors exit 2, runtime errors 1, both say what ---------
expect 2 "unknown command 'trian'" "$mmgen" trian
expect 2 "unknown option '--stpes'; did you mean '--steps'" "$mmgen" train --stpes 3
expect 2 "'abc' is not an integer" "$mmgen" train --steps abc
expect 2 "\-\-temperature: -1 is out of range" "$mmgen" generate -m "$m" --temperature -1
expect 2 "\-\-top-p: 1.5 is out of range" "$mmgen" generate -m "$m" --top-p 1.5
expect 2 "\-\-norm: 'middle' is not one of: post, pre" "$mmgen" train --norm middle
expect 2 "\-\-model is required" "$mmgen" generate
expect 2 "\-\-steps needs a value" "$mmgen" train --steps
expect 2 "\-\-plugin is required" "$mmgen" tokenizer fit -o "$tmp/x.json" "$tmp/corpus.txt"
expect 2 "unknown subcommand 'fitt'" "$mmgen" tokenizer fitt
expect 1 "cannot read '$tmp/missing.txt'" "$mmgen" tokenizer fit --plugin text --config '{"vocab_size": 300}' -o "$tmp/x.json" "$tmp/missing.txt"
expect 1 "opening plugin 'nosuch'" "$mmgen" tokenizer fit --plugin nosuch -o "$tmp/x.json" "$tmp/corpus.txt"
expect 1 "text config" "$mmgen" tokenizer fit --plugin text --config '{"vocab_sise": 300}' -o "$tmp/x.json" "$tmp/corpus.txt"
expect 1 "loading model '$tmp/corpus.txt'" "$mmgen" generate -m "$tmp/corpus.txt"
expect 1 "loading model '$tmp/nope.safetensors'" "$mmgen" generate -m "$tmp/nope.safetensors"
expect 1 "not a tokenizer file" "$mmgen" tokenizer encode -t "$tmp/corpus.txt" "$tmp/odd.txt"
printf '12 x7 3\n' > "$tmp/badids.txt"
expect 1 "line 1: 'x7' is not a token id" "$mmgen" tokenizer decode -t "$tmp/tok.json" "$tmp/badids.txt"
printf '5 99999\n' > "$tmp/badids.txt"
expect 1 "decoding 2 token ids" "$mmgen" tokenizer decode -t "$tmp/tok.json" "$tmp/badids.txt"
expect 1 "checking the model config" "$mmgen" train -t "$tmp/tok.json" -o "$tmp/x.safetensors" --d-model 30 --heads 4 --steps 1 "$tmp/corpus.txt"
expect 1 '\-\-config: model config: unknown key "d_modle"' "$mmgen" train -t "$tmp/tok.json" -o "$tmp/x.safetensors" --config '{"d_modle": 64}' "$tmp/corpus.txt"
expect 1 '"activation" is "swish"; expected "relu", "gelu" or "gelu_tanh"' "$mmgen" train -t "$tmp/tok.json" -o "$tmp/x.safetensors" --config '{"activation": "swish"}' "$tmp/corpus.txt"
expect 1 "the model config is not a JSON object" "$mmgen" train -t "$tmp/tok.json" -o "$tmp/x.safetensors" --config '[1]' "$tmp/corpus.txt"
expect 1 "checkpoint '$tmp/nock' does not exist" "$mmgen" train -t "$tmp/tok.json" -o "$tmp/x.safetensors" --checkpoint "$tmp/nock" --resume "$tmp/corpus.txt"
expect 1 "resuming from checkpoint" "$mmgen" train -t "$tmp/tok.json" -o "$tmp/x.safetensors" --checkpoint "$tmp/ck" --resume --d-model 64 --seq-len 32 --steps 21 "$tmp/corpus.txt"
[ ! -e "$tmp/x.safetensors" ] || fail "a failed run wrote its output"
pass "bad input"

# --- images (needs the image plugin and the Kodak photographs) ---------------
data=${MMGEN_TEST_DATA:-$src/../shared/data}
if [ ! -f "$bin/plugins/mmgen-image.so" ]; then
  echo "skip images: the image plugin is not built"
elif [ ! -f "$data/kodak/kodim01.png" ]; then
  echo "skip images: no Kodak images in $data/kodak"
else
  k=$data/kodak
  "$mmgen" tokenizer fit --plugin image --config '{"patch_size": 4, "codebook_size": 64, "max_train_patches": 8192}' \
    -o "$tmp/img.json" "$k/kodim01.png" > /dev/null
  "$mmgen" tokenizer eval -t "$tmp/img.json" --save "$tmp/k2.png" "$k/kodim02.png" > "$tmp/eval.txt"
  psnr=$(sed -n 's/.*PSNR \([0-9.]*\) dB.*/\1/p' "$tmp/eval.txt")
  [ -n "$psnr" ] || fail "no PSNR: $(cat "$tmp/eval.txt")"
  awk -v p="$psnr" 'BEGIN { exit !(p > 15 && p < 60) }' || fail "implausible PSNR $psnr"
  if /usr/bin/python3 -c 'import PIL, numpy' 2> /dev/null; then
    ref=$(/usr/bin/python3 -c "
import sys, numpy as np
from PIL import Image
a, b = (np.asarray(Image.open(f).convert('RGB'), dtype=np.float64) for f in sys.argv[1:3])
print('%.2f' % (10 * np.log10(255.0 ** 2 / ((a - b) ** 2).mean())))" "$k/kodim02.png" "$tmp/k2.png")
    [ "$ref" = "$psnr" ] || fail "PSNR $psnr dB, PIL says $ref dB"
    echo "ok: PSNR $psnr dB matches PIL"
  fi
  # a tiny image model: 16x16 images, 16 patch tokens; generation is a valid PNG
  "$mmgen" tokenizer fit --plugin image --config '{"patch_size": 4, "codebook_size": 32, "width": 16, "height": 16}' \
    -o "$tmp/img16.json" "$k"/kodim0[1-6].png > /dev/null
  "$mmgen" train -t "$tmp/img16.json" -o "$tmp/img.safetensors" --steps 5 --d-model 32 --heads 2 --layers 1 \
    --seq-len 16 --batch 2 --max-seq-len 32 --val-fraction 0 "$k"/kodim0[1-6].png > /dev/null
  for seed in 1 2; do
    "$mmgen" generate -m "$tmp/img.safetensors" -o "$tmp/gen$seed.png" --seed $seed 2> /dev/null
    [ "$(head -c 8 "$tmp/gen$seed.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "generated image $seed is not a PNG"
    "$mmgen" tokenizer encode -t "$tmp/img16.json" "$tmp/gen$seed.png" > "$tmp/gen.ids"
    [ "$(wc -w < "$tmp/gen.ids")" = 22 ] || fail "generated image $seed is not 16x16 (6 layout + 16 patch tokens)"
  done
  expect 2 "give -o FILE" "$mmgen" generate -m "$tmp/img.safetensors"
  pass "images: round trip PSNR $psnr dB; generated images are valid 16x16 PNGs"
fi
echo "check_cli: all passed"
