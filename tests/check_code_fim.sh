#!/bin/sh
# tests/check_code_fim.sh - fill-in-the-middle from the `mmgen` command, on a
# code tokenizer fitted on the repository's Python files and tiny models:
# `train --fim-rate` hands each file to the code plugin behind a header
# naming it (one language tag more per document, the same bytes) and makes
# FIM examples of all (rate 1) or none (rate 0) of them, while the model
# carries the tokenizer as fitted; `generate --prefix-file A --suffix-file B`
# writes A + middle + B byte for byte, --middle-only the middle alone, the
# same for the same seed; the constraint sees the prompt, so a middle after
# an open "..." string never holds a raw newline before closing it; errors
# (a text tokenizer, a missing file, a prompt longer than the context, a
# lone --prefix-file) exit 2/1 with messages naming the problem.
# Skips (77) when the code or text plugin was not built.
set -eu
src=$1 bin=$2
mmgen=$bin/bin/mmgen
[ -x "$mmgen" ] || { echo "FAIL: $mmgen not built"; exit 1; }
for p in code text; do
  [ -f "$bin/plugins/mmgen-$p.so" ] || { echo "skip: the $p plugin is not built ($bin/plugins/mmgen-$p.so)"; exit 77; }
done
tmp=$(mktemp -d)
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

# --- the corpus: the repository's Python files --------------------------------
mkdir "$tmp/py"
n=0
for f in "$src"/bench/*.py "$src"/scripts/*.py "$src"/examples/python/*.py "$src"/tests/*.py; do
  [ -f "$f" ] || continue
  n=$((n + 1))
  cp "$f" "$tmp/py/$n.py"
done
[ "$n" -ge 3 ] || fail "only $n Python files in $src"
"$mmgen" tokenizer fit --plugin code --config '{"vocab_size": 512}' -o "$tmp/code.json" "$tmp"/py/*.py > /dev/null
"$mmgen" tokenizer fit --plugin text --config '{"vocab_size": 300}' -o "$tmp/text.json" "$tmp"/py/*.py > /dev/null

# --- train --fim-rate ----------------------------------------------------------
tiny="--d-model 32 --heads 2 --layers 1 --seq-len 64 --batch 4 --steps 30 --lr 3e-3 --warmup 2 --log-every 10"
"$mmgen" train -t "$tmp/code.json" -o "$tmp/plain.safetensors" $tiny "$tmp"/py/*.py > "$tmp/plain.log"
"$mmgen" train -t "$tmp/code.json" --fim-rate 0 -o "$tmp/r0.safetensors" $tiny "$tmp"/py/*.py > "$tmp/r0.log"
"$mmgen" train -t "$tmp/code.json" --fim-rate 1 -o "$tmp/fim.safetensors" $tiny "$tmp"/py/*.py > "$tmp/fim.log"
grep -q "^fim: 0 of $n documents are fill-in-the-middle examples (--fim-rate 0)$" "$tmp/r0.log" ||
  fail "--fim-rate 0: $(cat "$tmp/r0.log")"
grep -q "^fim: $n of $n documents are fill-in-the-middle examples (--fim-rate 1)$" "$tmp/fim.log" ||
  fail "--fim-rate 1: $(cat "$tmp/fim.log")"
grep -q "^fim:" "$tmp/plain.log" && fail "a run without --fim-rate reports FIM examples"
# data: N documents, B bytes -> T tokens: the same bytes (the header is not
# counted), and at rate 0 exactly one <|lang:python|> tag more per document
data() { sed -n 's/^data: [0-9]* documents\{0,1\}, \([0-9]*\) bytes -> \([0-9]*\) tokens .*/\1 \2/p' "$1"; }
set -- $(data "$tmp/plain.log") $(data "$tmp/r0.log") $(data "$tmp/fim.log")
[ $# = 6 ] || fail "no data lines: $(cat "$tmp/plain.log" "$tmp/r0.log" "$tmp/fim.log")"
[ "$1" = "$3" ] && [ "$1" = "$5" ] || fail "the document bytes differ with --fim-rate: $1, $3, $5"
[ "$4" = $(($2 + n)) ] || fail "--fim-rate 0: $4 tokens, expected $2 + $n language tags"
[ "$6" -ge $(($2 + 4 * n)) ] || fail "--fim-rate 1: $6 tokens, expected at least $2 + 4 x $n (tag and 3 FIM markers)"
# the model carries the tokenizer as fitted (no header): it encodes plain files as code.json does
"$mmgen" tokenizer encode -t "$tmp/code.json" "$tmp/py/1.py" > "$tmp/a.ids"
"$mmgen" tokenizer encode -t "$tmp/fim.safetensors" "$tmp/py/1.py" > "$tmp/b.ids"
cmp -s "$tmp/a.ids" "$tmp/b.ids" || fail "the --fim-rate model does not carry the fitted tokenizer"
expect 2 "needs a tokenizer of the code plugin; '$tmp/text.json' is a text tokenizer" \
  "$mmgen" train -t "$tmp/text.json" --fim-rate 0.5 -o "$tmp/x.safetensors" $tiny "$tmp"/py/*.py
expect 2 "fim-rate: 2 is out of range" "$mmgen" train -t "$tmp/code.json" --fim-rate 2 -o "$tmp/x.safetensors" "$tmp/py/1.py"
pass "train --fim-rate: $n of $n FIM examples at rate 1, one tag per document at rate 0, fitted tokenizer embedded"

# --- generate --prefix-file --suffix-file -------------------------------------
printf 'x = "abc' > "$tmp/A.py"
printf 'def"\nprint(x)\n' > "$tmp/B.py"
la=$(wc -c < "$tmp/A.py") lb=$(wc -c < "$tmp/B.py")
gen() { "$mmgen" generate -m "$tmp/fim.safetensors" --prefix-file "$tmp/A.py" --suffix-file "$tmp/B.py" \
  --seed 5 -n 40 --num-samples 4 "$@" 2> "$tmp/gen.err" || { cat "$tmp/gen.err"; fail "generate $*"; }; }
gen -o "$tmp/full.py"
gen -o "$tmp/again.py"
gen -o "$tmp/mid.py" --middle-only
gen -o "$tmp/free.py" --no-constraint
for i in 1 2 3 4; do
  for f in full free; do
    out="$tmp/$f-$i.py"
    [ "$(head -c "$la" "$out" | od -An -c)" = "$(od -An -c < "$tmp/A.py")" ] || fail "$out does not start with the prefix"
    [ "$(tail -c "$lb" "$out" | od -An -c)" = "$(od -An -c < "$tmp/B.py")" ] || fail "$out does not end with the suffix"
  done
  cmp -s "$tmp/full-$i.py" "$tmp/again-$i.py" || fail "sample $i differs for the same seed"
  cat "$tmp/A.py" "$tmp/mid-$i.py" "$tmp/B.py" | cmp -s - "$tmp/full-$i.py" ||
    fail "sample $i: prefix + --middle-only != the full output"
  # the constraint saw the prompt: still inside "abc, a newline (not escaped
  # by a backslash) cannot come before the closing quote
  od -An -v -tu1 "$tmp/mid-$i.py" | tr -s ' ' '\n' | awk '
    NF == 0 { next }
    esc { esc = 0; next }
    $1 == 92 { esc = 1; next }
    $1 == 34 { exit 0 }
    $1 == 10 { bad = 1; exit 1 }
    END { exit bad }' || fail "sample $i: a raw newline inside the prefix's open string: $(cat "$tmp/mid-$i.py")"
done
[ "$(cat "$tmp"/mid-*.py | wc -c)" -gt 0 ] || fail "the four middles are all empty"
"$mmgen" generate --help | grep -q -- "--prefix-file A --suffix-file B" || fail "generate --help lacks FIM"
pass "generate --prefix-file/--suffix-file: prefix + middle + suffix, --middle-only, seeded, constraint sees the prompt"

# --- generate: errors ------------------------------------------------------------
"$mmgen" train -t "$tmp/text.json" -o "$tmp/text.safetensors" $tiny "$tmp"/py/*.py > /dev/null
expect 2 "need a tokenizer of the code plugin; '$tmp/text.safetensors' carries a text tokenizer" \
  "$mmgen" generate -m "$tmp/text.safetensors" --prefix-file "$tmp/A.py" --suffix-file "$tmp/B.py"
expect 1 "cannot read '$tmp/none.py'" \
  "$mmgen" generate -m "$tmp/fim.safetensors" --prefix-file "$tmp/none.py" --suffix-file "$tmp/B.py"
cat "$tmp"/py/*.py > "$tmp/long.py"
expect 1 "encoding the fill-in-the-middle prompt.*the model's is 64" \
  "$mmgen" generate -m "$tmp/fim.safetensors" --prefix-file "$tmp/long.py" --suffix-file "$tmp/B.py"
expect 2 "give --prefix-file and --suffix-file together" \
  "$mmgen" generate -m "$tmp/fim.safetensors" --prefix-file "$tmp/A.py"
expect 2 "not with --prompt" \
  "$mmgen" generate -m "$tmp/fim.safetensors" --prefix-file "$tmp/A.py" --suffix-file "$tmp/B.py" --prompt x
pass "generate FIM errors"
