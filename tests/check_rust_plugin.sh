#!/bin/sh
# tests/check_rust_plugin.sh - the Rust plugin examples/plugin_rust (numeric
# time series in CSV) builds with Debian's cargo, passes its unit tests, and
# works in the stock mmgen: `mmgen plugin check` passes every rule; a
# tokenizer fitted on synthetic noisy sine waves round-trips a series within
# each value's bin (checked number by number against the bins that
# describe_token reports); bad documents and states fail with messages naming
# the line or the problem; a tiny model trains (the loss goes down) and
# generates CSV files of numbers, with and without a prompt.
#
# The crate is built into BIN_DIR (CARGO_TARGET_DIR and CARGO_HOME there):
# nothing is written into the source tree, and the test checks that. Skips
# (77) without /usr/bin/cargo or a built mmgen. In a sanitizer build the
# uninstrumented Rust .so is loaded into the ASan-instrumented mmgen; it
# needs no LeakSanitizer suppression: the plugin keeps no Rust allocation
# past deinit (its panic hook is taken back there), and buffers it hands over
# come from the host's allocator.
set -eu
src=$1 bin=$2
mmgen=$bin/bin/mmgen
cargo=/usr/bin/cargo
crate=$src/examples/plugin_rust
[ -x "$cargo" ] || { echo "skip: $cargo is absent (Debian's cargo builds $crate)"; exit 77; }
[ -x "$mmgen" ] || { echo "skip: the mmgen CLI is not built ($mmgen)"; exit 77; }
tmp=$(mktemp -d)
reported=0
trap 'rc=$?; [ $rc = 0 ] || [ $reported = 1 ] || echo "FAIL: the last command exited $rc (its output is above)"; rm -rf "$tmp"' EXIT
export MMGEN_NUM_THREADS=1 # ctest runs checks side by side

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

# --- build ---------------------------------------------------------------------
export CARGO_HOME="$bin/examples/plugin_rust/cargo-home"
export CARGO_TARGET_DIR="$bin/examples/plugin_rust/target"
# The distribution's compiler, not one a toolchain manager put first on PATH:
# the crate promises to build with Debian's Rust 1.63.
[ -x /usr/bin/rustc ] && export RUSTC=/usr/bin/rustc
touch "$tmp/stamp"
# --locked: the committed Cargo.lock is used as it is, never rewritten.
"$cargo" build --release --offline --locked --manifest-path "$crate/Cargo.toml" > "$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "cargo build of $crate"; }
# The crate's unit tests: CSV reading, the config, the bins and their state.
"$cargo" test --offline --locked --manifest-path "$crate/Cargo.toml" > "$tmp/test.log" 2>&1 ||
  { cat "$tmp/test.log"; fail "cargo test of $crate"; }
written=$(find "$crate" -newer "$tmp/stamp" -print)
[ -z "$written" ] || fail "the build wrote into the source tree: $written"
mkdir "$tmp/plugins"
cp "$CARGO_TARGET_DIR/release/libmmgen_timeseries.so" "$tmp/plugins/mmgen-timeseries.so"
export MMGEN_PLUGIN_PATH="$tmp/plugins"
plugin=$tmp/plugins/mmgen-timeseries.so
if objdump -p "$plugin" 2>/dev/null | grep -q 'NEEDED.*libmmgen'; then
  fail "the plugin links libmmgen; plugins must use the host services only"
fi
pass "built with $("$cargo" --version) ($(${RUSTC:-rustc} --version)); unit tests: $(grep '^test result' "$tmp/test.log")"

# --- data: noisy sine waves, "t,value" with a header --------------------------
for i in 1 2 3 4 5 6 7 8; do
  awk -v seed="$i" 'BEGIN {
    srand(seed); print "t,value"; period = 20 + 3 * seed
    for (t = 0; t < 300; t++)
      printf "%d,%.6f\n", t, sin(6.2831853 * t / period + seed) + 0.05 * (rand() - 0.5)
  }' > "$tmp/s$i.csv"
done

# --- plugin check ----------------------------------------------------------------
"$mmgen" plugin check "$plugin" --config '{"bins": 64}' --fit \
  --sample "$tmp/s1.csv" --sample "$tmp/s2.csv" > "$tmp/check.out" 2>&1 ||
  { cat "$tmp/check.out"; fail "mmgen plugin check"; }
grep -q "^ok   constraint: " "$tmp/check.out" || { cat "$tmp/check.out"; fail "the constraint rule did not run"; }
grep -q ": 11 rules: 11 ok, 0 failed, 0 skipped$" "$tmp/check.out" ||
  { cat "$tmp/check.out"; fail "plugin check: not every rule passed"; }
pass "plugin check: $(tail -n 1 "$tmp/check.out")"

# --- fit, and a round trip within the bins ------------------------------------------
"$mmgen" tokenizer fit --plugin timeseries --config '{"bins": 64}' -o "$tmp/tok.json" "$tmp"/s*.csv > /dev/null
"$mmgen" tokenizer info -t "$tmp/tok.json" > "$tmp/info"
grep -q "^modality    other$" "$tmp/info" || fail "tokenizer info: $(cat "$tmp/info")"
vocab=$(awk '$1 == "vocab_size" { print $2 }' "$tmp/info")
[ "$vocab" = 66 ] || fail "vocab_size is '$vocab', expected 64 bins + bos + eos"
"$mmgen" tokenizer info -t "$tmp/tok.json" $(seq 0 63) > "$tmp/bins"
"$mmgen" tokenizer encode -t "$tmp/tok.json" -f lines "$tmp/s1.csv" > "$tmp/ids"
"$mmgen" tokenizer decode -t "$tmp/tok.json" -o "$tmp/back.csv" "$tmp/ids"
[ "$(head -n 1 "$tmp/back.csv")" = value ] || fail "decoded CSV has no 'value' header: $(head -n 2 "$tmp/back.csv")"
tail -n +2 "$tmp/s1.csv" | cut -d, -f2 > "$tmp/orig"
tail -n +2 "$tmp/back.csv" > "$tmp/decoded"
paste -d ' ' "$tmp/orig" "$tmp/ids" "$tmp/decoded" > "$tmp/joined"
# Bins as describe_token gives them: "ID  bin K: [LO, HI) -> VALUE[, and ...]".
# Each value must lie in its id's bin and decode to that bin's value, so its
# error is at most the bin's width.
summary=$(awk '
  FNR == NR {
    if ($2 == "bin") { s = $0; sub(/^[^[]*\[/, "", s); split(s, f, /, |\) -> |\] -> /)
                       lo[$1] = f[1] + 0; hi[$1] = f[2] + 0; rep[$1] = f[3] + 0 }
    next
  }
  NF != 3 { print "line " FNR ": not value, id, decoded: " $0; bad = 1; exit }
  {
    x = $1 + 0; id = $2; r = $3 + 0
    if (!(id in rep)) { print "id " id " has no bin"; bad = 1; exit }
    if (r != rep[id]) { print "line " FNR ": id " id " decodes to " r ", not its bin value " rep[id]; bad = 1; exit }
    if (x < lo[id] || x > hi[id]) { print "line " FNR ": " x " is not in bin " id " [" lo[id] ", " hi[id] "]"; bad = 1; exit }
    e = x > r ? x - r : r - x; w = hi[id] - lo[id]
    if (e > w) { print "line " FNR ": error " e " exceeds the bin width " w; bad = 1; exit }
    if (e > max_e) max_e = e
    if (w > max_w) max_w = w
    sum_sq += e * e; n++
  }
  END { if (!bad) printf "%d values, max |error| %.4g, rms %.4g (widest bin %.4g)\n", n, max_e, sqrt(sum_sq / n), max_w
        exit bad }' "$tmp/bins" "$tmp/joined") || fail "round trip: $summary"
[ "$(wc -l < "$tmp/joined")" = 300 ] || fail "round trip: $(wc -l < "$tmp/joined") values, expected 300"
# The value column named, or numbered, is the default (last) one.
for column in '"value"' 2; do
  "$mmgen" tokenizer fit --plugin timeseries --config "{\"bins\": 64, \"column\": $column}" \
    -o "$tmp/tok_c.json" "$tmp"/s*.csv > /dev/null
  "$mmgen" tokenizer encode -t "$tmp/tok_c.json" -f lines "$tmp/s1.csv" | cmp -s - "$tmp/ids" ||
    fail "{\"column\": $column} encodes differently from the default column"
done
pass "round trip within the bins: $summary"

# --- errors -----------------------------------------------------------------------
printf 't,value\n0,1.5\n1,2.5\n2,abc\n3,4\n' > "$tmp/bad.csv"
expect 1 'line 4: "abc" is not a number (column 2)' "$mmgen" tokenizer encode -t "$tmp/tok.json" "$tmp/bad.csv"
printf 'value\n1\nnan\n' > "$tmp/nan.csv"
expect 1 'line 3: "nan" is not a finite number' "$mmgen" tokenizer encode -t "$tmp/tok.json" "$tmp/nan.csv"
: > "$tmp/empty.csv"
expect 1 'holds no values' "$mmgen" tokenizer encode -t "$tmp/tok.json" "$tmp/empty.csv"
printf 'a,b\n1,2\n3\n' > "$tmp/ragged.csv"
expect 1 'line 3: has 1 field, but line 1 has 2' "$mmgen" tokenizer encode -t "$tmp/tok.json" "$tmp/ragged.csv"
expect 1 'unknown key "bin"' "$mmgen" tokenizer fit --plugin timeseries --config '{"bin": 8}' -o "$tmp/x.json" "$tmp/s1.csv"
expect 1 'no column "price"' "$mmgen" tokenizer fit --plugin timeseries --config '{"column": "price"}' -o "$tmp/x.json" "$tmp/s1.csv"
echo 66 > "$tmp/big_id"
expect 1 'outside the vocabulary' "$mmgen" tokenizer decode -t "$tmp/tok.json" "$tmp/big_id"
# The raw state: it loads alone, another plugin's state or a cut one does not.
tr -d ' \t\n' < "$tmp/tok.json" | sed -n 's/.*"state":"\([^"]*\)".*/\1/p' | base64 -d > "$tmp/state.bin"
"$mmgen" tokenizer encode -p timeseries -t "$tmp/state.bin" -f lines "$tmp/s1.csv" > "$tmp/ids2"
cmp -s "$tmp/ids" "$tmp/ids2" || fail "the raw state encodes differently from the tokenizer file"
expect 1 'not a timeseries state' "$mmgen" tokenizer encode -p timeseries -t "$src/README.md" "$tmp/s1.csv"
head -c 100 "$tmp/state.bin" > "$tmp/cut.bin"
expect 1 'truncated' "$mmgen" tokenizer encode -p timeseries -t "$tmp/cut.bin" "$tmp/s1.csv"
pass "errors name the line, the key or the state's problem"

# --- train and generate ---------------------------------------------------------------
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/m.safetensors" --steps 40 --d-model 32 --heads 2 --layers 1 \
  --seq-len 64 --batch 8 --lr 3e-3 --warmup 2 --log-every 1 "$tmp"/s*.csv > "$tmp/train.log" 2>&1 ||
  { cat "$tmp/train.log"; fail "mmgen train"; }
first=$(awk '/^step 1\//{print $4}' "$tmp/train.log")
last=$(awk '/^step 40\//{print $4}' "$tmp/train.log")
[ -n "$first" ] && [ -n "$last" ] || fail "no loss lines: $(cat "$tmp/train.log")"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.4) }' || fail "loss did not go down: $first -> $last"
pass "train: loss $first -> $last in 40 steps"

# A generated document is a CSV of numbers inside the fitted range.
range=$(awk '$1 == 0 && $2 == "bin" { s = $0; sub(/^[^[]*\[/, "", s); split(s, f, /, /); lo = f[1] }
             $1 == 63 { s = $0; sub(/^[^[]*\[/, "", s); split(s, f, /, |\]/); hi = f[2] }
             END { print lo, hi }' "$tmp/bins")
check_csv() {
  awk -v range="$range" 'BEGIN { split(range, r, " ") }
    NR == 1 { if ($0 != "value") { print "header is \"" $0 "\""; exit 1 } next }
    !/^-?[0-9]+(\.[0-9]+)?(e-?[0-9]+)?$/ { print "line " NR " is not a number: " $0; exit 1 }
    $1 + 0 < r[1] + 0 || $1 + 0 > r[2] + 0 { print "line " NR ": " $1 " is outside [" range "]"; exit 1 }
    END { if (NR < 2) { print "no values"; exit 1 } }' "$1"
}
"$mmgen" generate -m "$tmp/m.safetensors" -o "$tmp/gen.csv" -n 80 --seed 7 2> "$tmp/gen.err" ||
  { cat "$tmp/gen.err"; fail "mmgen generate"; }
why=$(check_csv "$tmp/gen.csv") || fail "generated CSV: $why"
n_gen=$(($(wc -l < "$tmp/gen.csv") - 1))
# what the plugin wrote, it reads back
"$mmgen" tokenizer encode -t "$tmp/m.safetensors" "$tmp/gen.csv" > /dev/null
# With a prompt: the document starts with the prompt's quantized values.
head -n 11 "$tmp/s3.csv" > "$tmp/prompt.csv"
"$mmgen" generate -m "$tmp/m.safetensors" --prompt-file "$tmp/prompt.csv" -o "$tmp/cont.csv" -n 20 --seed 3 \
  2> "$tmp/gen.err" || { cat "$tmp/gen.err"; fail "mmgen generate --prompt-file"; }
why=$(check_csv "$tmp/cont.csv") || fail "generated continuation: $why"
"$mmgen" tokenizer encode -t "$tmp/tok.json" "$tmp/prompt.csv" |
  "$mmgen" tokenizer decode -t "$tmp/tok.json" -o "$tmp/prompt_q.csv"
head -n 11 "$tmp/cont.csv" | cmp -s - "$tmp/prompt_q.csv" || fail "the continuation does not start with the prompt"
[ "$(wc -l < "$tmp/cont.csv")" -gt 11 ] || fail "nothing generated after the prompt"
pass "generate: $n_gen values, and a continuation of a 10-value prompt, all numbers in the fitted range"
