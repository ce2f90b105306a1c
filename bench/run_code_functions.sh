#!/bin/sh
# bench/run_code_functions.sh [BUILD_DIR] - the code plugin in real use: a
# small decoder-only model trained with the CLI on Python functions from the
# standard library, judged by Python's own parser.
#
# scripts/data_python_functions.py writes one function per file (module-level
# defs and methods, dedented, at most 1,500 bytes), split by source module:
# about a tenth of the modules (crc32 of the path) are held out. A code
# tokenizer ({"vocab_size": 4096, "lang": "python"}: every document starts
# with <|lang:python|>, so the constraint lexes Python) and a text BPE of the
# same size (cl100k pattern) are fitted on the training functions. The same
# model (4 layers, d_model 128, context 256) is trained on each for the same
# steps and time limit, on the training functions followed by the held-out
# ones, with --val-fraction set to the held-out share of that tokenizer's
# tokens, so the validation tokens are the held-out functions (to within a
# token: --val-fraction is a float). The code model then writes 100
# functions from the prompt "def" with its constraint and 100 with
# --no-constraint (the same seeds), the text model 100 more; the table gives
# the share that `ast.parse` accepts.
#
# Bits per byte: `mmgen train` ends with "eval step N loss L" where L is the
# mean cross-entropy in nats per predicted token over the validation windows
# (--eval-batches 0: all of them). Over the held-out functions that is
#   bits/byte = L * T / (B * ln 2)
# with T the held-out tokens (`tokenizer encode` ids of the held-out files,
# plus one <|endoftext|> each, as train frames them) and B their bytes. The
# windows leave out the last partial one and the first token of each, so L
# is the mean over nearly all of T. The text plugin's figure is computed the
# same way on the same bytes.
#
# Appends one JSON line to bench/results/code_functions.jsonl and prints a
# table. Environment: STEPS (default 1500), MAX_TIME (seconds per training
# run, default 420), SEED (1), MAX_BYTES (longest function kept, default 800:
# a function fits the 256-token context), TEMPERATURE (0.5), TOP_P (0.9),
# REPETITION_PENALTY (1.2; without it a small model's samples fall into loops
# that only -n ends), WORK (a temporary directory, kept when set),
# MMGEN_NUM_THREADS (default: all cores). About 16 minutes on 2 cores.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build}
py=/usr/bin/python3
steps=${STEPS:-1500}
max_time=${MAX_TIME:-420}
seed=${SEED:-1}
max_bytes=${MAX_BYTES:-800}
temperature=${TEMPERATURE:-0.5}
top_p=${TOP_P:-0.9}
repetition_penalty=${REPETITION_PENALTY:-1.2}
export MMGEN_NUM_THREADS=${MMGEN_NUM_THREADS:-$(nproc)}
if [ ! -x "$build/bin/mmgen" ] || [ ! -f "$build/plugins/mmgen-code.so" ] || [ ! -f "$build/plugins/mmgen-text.so" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$build" -j "$(nproc)" --target mmgen_cli text code > /dev/null
fi
mmgen=$root/$build/bin/mmgen
case $build in /*) mmgen=$build/bin/mmgen ;; esac
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$root/bench/results"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before: $(cut -d' ' -f1-3 /proc/loadavg); threads $MMGEN_NUM_THREADS"
"$py" scripts/data_python_functions.py "$work/data" --max-bytes "$max_bytes"
cd "$work"
ls data/train/*.py > train.txt
ls data/heldout/*.py > heldout.txt
n_held=$(wc -l < heldout.txt)
held_bytes=$(cat $(cat heldout.txt) | wc -c)
"$mmgen" tokenizer fit -p code -c '{"vocab_size": 4096, "lang": "python"}' -o code.json $(cat train.txt)
"$mmgen" tokenizer fit -p text -c '{"vocab_size": 4096, "pattern": "cl100k"}' -o text.json $(cat train.txt)

model="--layers 4 --d-model 128 --heads 4 --seq-len 256 --batch 16 --lr 2e-3 --dropout 0"
# train NAME: trains NAME.safetensors on NAME.json, the held-out functions last
train() {
  name=$1
  all=$("$mmgen" tokenizer encode -t "$name.json" $(cat train.txt heldout.txt) | wc -w)
  held=$("$mmgen" tokenizer encode -t "$name.json" $(cat heldout.txt) | wc -w)
  n_all=$(cat train.txt heldout.txt | wc -l)
  # one <|endoftext|> after each document, one before the first
  eval "${name}_held_tokens=$((held + n_held))"
  frac=$(awk -v h=$((held + n_held)) -v a=$((all + n_all + 1)) 'BEGIN { printf "%.7f", h / a }')
  t0=$(date +%s.%N)
  "$mmgen" train -t "$name.json" -o "$name.safetensors" $model --steps "$steps" --max-time "$max_time" \
    --val-fraction "$frac" --eval-batches 0 --log-every 100 --seed "$seed" $(cat train.txt heldout.txt) > "$name.log" ||
    { cat "$name.log"; exit 1; }
  t1=$(date +%s.%N)
  eval "${name}_train_s=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")"
  grep -E '^(data|model|stopped|eval|saved)' "$name.log" | sed "s/^/  $name: /"
}
train code
train text

gen() { # gen DIR MODEL [FLAGS]: 100 functions from "def"
  dir=$1 m=$2
  shift 2
  mkdir -p "gen/$dir"
  "$mmgen" generate -m "$m" --prompt def --num-samples 100 -n 400 -T "$temperature" --top-p "$top_p" --repetition-penalty "$repetition_penalty" --seed "$seed" -o "gen/$dir/f.py" "$@" 2> "gen/$dir.log" ||
    { cat "gen/$dir.log"; exit 1; }
}
t0=$(date +%s.%N)
gen constraint code.safetensors
gen no_constraint code.safetensors --no-constraint
gen text text.safetensors
gen_s=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t0 }")
echo "generated 300 functions in ${gen_s} s; load after: $(cut -d' ' -f1-3 /proc/loadavg)"

"$py" - "$root/bench/results/code_functions.jsonl" <<EOF
import ast, glob, json, math, re, sys, time, warnings
warnings.simplefilter("ignore")  # invalid escape sequences in generated strings

def eval_loss(log):
    m = re.findall(r"^eval  step (\d+)  loss ([0-9.]+)", open(log).read(), re.M)
    return int(m[-1][0]), float(m[-1][1])

def parses(d):
    ok = n = 0
    for f in sorted(glob.glob("gen/%s/*.py" % d)):
        n += 1
        try:
            ast.parse(open(f, "rb").read())
            ok += 1
        except (SyntaxError, ValueError):
            pass
    return ok, n

held_bytes = $held_bytes
runs = {}
for name, tokens, secs in (("code", $code_held_tokens, $code_train_s), ("text", $text_held_tokens, $text_train_s)):
    step, loss = eval_loss(name + ".log")
    runs[name] = {"steps": step, "train_s": secs, "val_loss_nats_per_token": loss, "heldout_tokens": tokens,
                  "bytes_per_token": held_bytes / tokens, "bits_per_byte": loss * tokens / (held_bytes * math.log(2))}
share = {d: parses(d) for d in ("constraint", "no_constraint", "text")}
row = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "bench": "code_functions", "seed": $seed,
       "threads": int("$MMGEN_NUM_THREADS"), "train_functions": $(wc -l < train.txt), "heldout_functions": $n_held,
       "heldout_bytes": held_bytes, "max_bytes": $max_bytes, "temperature": $temperature,
       "top_p": $top_p, "repetition_penalty": $repetition_penalty,
       "model": "$model", "max_time_s": $max_time, "gen_s": $gen_s, "runs": runs,
       "ast_parse": {d: ok / n for d, (ok, n) in share.items()}}
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(row) + "\n")
print()
print("%-34s %12s %12s" % ("held-out functions (%d, %d bytes)" % ($n_held, held_bytes), "code-4k", "text-4k"))
print("%-34s %12d %12d" % ("steps trained", runs["code"]["steps"], runs["text"]["steps"]))
print("%-34s %12.1f %12.1f" % ("training time, s", runs["code"]["train_s"], runs["text"]["train_s"]))
print("%-34s %12.2f %12.2f" % ("bytes per token", runs["code"]["bytes_per_token"], runs["text"]["bytes_per_token"]))
print("%-34s %12.4f %12.4f" % ("val loss, nats/token", runs["code"]["val_loss_nats_per_token"], runs["text"]["val_loss_nats_per_token"]))
print("%-34s %12.4f %12.4f" % ("val loss, bits/byte", runs["code"]["bits_per_byte"], runs["text"]["bits_per_byte"]))
c, u, t = share["constraint"], share["no_constraint"], share["text"]
print("%-34s %12s %12s" % ("ast.parse accepts, constraint on", "%d/%d" % c, "-"))
print("%-34s %12s %12s" % ("ast.parse accepts, no constraint", "%d/%d" % u, "%d/%d" % t))
print("appended to %s" % sys.argv[1])
EOF
[ -n "${WORK:-}" ] && echo "functions in $work/gen/{constraint,no_constraint,text}"
exit 0
