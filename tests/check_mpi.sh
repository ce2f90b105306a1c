#!/bin/sh
# tests/check_mpi.sh SRC BIN - `mpirun mmgen train` (a -DMMGEN_MPI=ON build,
# Open MPI's mpirun on this one machine): 2 and 3 ranks follow one process on
# the same batches; a run resumed with another number of ranks continues the
# same curve, and 2 ranks resumed by 2 ranks end bit-identical to an
# uninterrupted run; ranks given different flags or data stop with an error
# on every rank naming the difference; a killed rank stops the job without a
# hang and leaves the last checkpoint loadable; a hung rank turns into a
# timeout error. Skips (77) without libmmgen_mpi or mpirun.
set -eu
src=$1 bin=$2
M=$bin/bin/mmgen
[ -e "$bin/lib/libmmgen_mpi.so" ] || { echo "SKIP: this build has no libmmgen_mpi (configure with -DMMGEN_MPI=ON)"; exit 77; }
command -v mpirun > /dev/null || { echo "SKIP: no mpirun (scripts/deps.sh installs openmpi-bin)"; exit 77; }
tmp=$(mktemp -d)
trap 'pkill -CONT -f "$tmp" 2>/dev/null || true; pkill -KILL -f "$tmp" 2>/dev/null || true; rm -rf "$tmp"' EXIT
export MMGEN_PLUGIN_PATH="$bin/plugins" OMPI_MCA_btl_vader_single_copy_mechanism=none
# Open MPI's own allocations are never freed; this checks mmgen, not MPI
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0
run="mpirun --oversubscribe"
[ "$(id -u)" = 0 ] && run="$run --allow-run-as-root"
fail() { echo "FAIL: $*"; exit 1; }

python3 - "$tmp/a.txt" "$tmp/b.txt" <<'EOF'
import random, sys
random.seed(7)
words = "the of and to a in that is was he for it with as his on be at by had not are but from".split()
for path in sys.argv[1:]:
    with open(path, "w") as f:
        for _ in range(4000):
            f.write(" ".join(random.choice(words) for _ in range(12)) + ".\n")
    random.seed(8)
EOF
"$M" tokenizer fit --plugin text --config '{"vocab_size": 300}' -o "$tmp/tok.json" "$tmp/a.txt" > /dev/null
A="-t $tmp/tok.json --batch 8 --seq-len 32 --d-model 32 --layers 2 --heads 2 --threads 1 --log-every 1
   --warmup 2 --decay-steps 16 --eval-batches 4 --seed 11"

# Compares two model files: max |a - b| over every tensor, printed.
maxdiff() {
  python3 - "$1" "$2" <<'EOF'
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); base = 8 + n
    return {k: struct.unpack("<%df" % ((v["data_offsets"][1] - v["data_offsets"][0]) // 4),
                              b[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
            for k, v in h.items() if k != "__metadata__" and v["dtype"] == "F32"}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys(), "different tensors"
print(max(max(abs(x - y) for x, y in zip(a[k], b[k])) for k in a))
EOF
}
losses() { grep -o 'step [0-9]*/[0-9]*  loss [0-9.]*' "$1" | awk '{print $2, $4}'; }

# 1. one process, 2 ranks and 3 ranks (8 rows: 2/3/3) on the same batches
"$M" train $A --steps 16 -o "$tmp/one.st" "$tmp/a.txt" > "$tmp/one.log" 2>&1 || { cat "$tmp/one.log"; fail "one process"; }
for n in 2 3; do
  $run -np $n "$M" train $A --steps 16 -o "$tmp/r$n.st" "$tmp/a.txt" > "$tmp/r$n.log" 2>&1 ||
    { cat "$tmp/r$n.log"; fail "$n ranks"; }
  grep -q "ranks: $n processes train together" "$tmp/r$n.log" || fail "$n ranks did not join"
  # the loss curves agree to the 4 printed decimals, the weights closely
  losses "$tmp/one.log" > "$tmp/one.loss"
  losses "$tmp/r$n.log" > "$tmp/r$n.loss"
  [ "$(wc -l < "$tmp/one.loss")" -eq 16 ] || fail "expected 16 loss lines"
  paste "$tmp/one.loss" "$tmp/r$n.loss" | awk -v n=$n '{d = $2 - $4; if (d < 0) d = -d; if (d > 2e-4) {print "FAIL: step", $1, "one process", $2, n " ranks", $4; bad = 1}} END {exit bad}' ||
    fail "$n ranks' loss curve differs from one process's"
  d=$(maxdiff "$tmp/one.st" "$tmp/r$n.st")
  echo "$n ranks vs one process, 16 steps: loss curve equal to 4 decimals, weights max |diff| $d"
  python3 -c "import sys; sys.exit(0 if $d < 1e-3 else 1)" || fail "$n ranks' weights are $d from one process's"
done

# 2. resume: 2 ranks to step 8, then 2 ranks (bit-identical to uninterrupted)
#    or one process (the same curve) to step 16
$run -np 2 "$M" train $A --steps 8 --checkpoint "$tmp/ck" -o "$tmp/half.st" "$tmp/a.txt" > "$tmp/half.log" 2>&1 ||
  { cat "$tmp/half.log"; fail "2 ranks, first half"; }
cp "$tmp/ck" "$tmp/ck1"
$run -np 2 "$M" train $A --steps 16 --checkpoint "$tmp/ck" --resume -o "$tmp/res2.st" "$tmp/a.txt" > "$tmp/res2.log" 2>&1 ||
  { cat "$tmp/res2.log"; fail "2 ranks resumed"; }
grep -q "resumed from .* at step 8" "$tmp/res2.log" || fail "no resume line"
cmp -s "$tmp/r2.st" "$tmp/res2.st" || fail "2 ranks resumed by 2 ranks differ from the uninterrupted 2-rank run"
"$M" train $A --steps 16 --checkpoint "$tmp/ck1" --resume -o "$tmp/res1.st" "$tmp/a.txt" > "$tmp/res1.log" 2>&1 ||
  { cat "$tmp/res1.log"; fail "one process resumed a 2-rank checkpoint"; }
d=$(maxdiff "$tmp/r2.st" "$tmp/res1.st")
echo "resume: 2 ranks -> 2 ranks bit-identical to uninterrupted; 2 ranks -> 1 process: weights max |diff| $d"
python3 -c "import sys; sys.exit(0 if $d < 1e-3 else 1)" || fail "resuming with one process drifted by $d"

# 3. ranks that disagree: another learning rate, other data, other flags
expect_refusal() { # what, pattern rank 1 prints, then the two command lines after --
  what=$1 pat=$2
  shift 2
  if $run "$@" > "$tmp/bad.log" 2>&1; then cat "$tmp/bad.log"; fail "$what: the job succeeded"; fi
  grep -q "$pat" "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "$what: no message matching '$pat'"; }
  grep -q "rank 0: 1 of 2 ranks" "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "$what: rank 0 said nothing"; }
  echo "refused ($what): $(grep -o "$pat.*" "$tmp/bad.log" | head -n 1 | cut -c1-110)"
}
expect_refusal "learning rate" "rank 1: its training option learning_rate is 0.002" \
  -np 1 "$M" train $A --steps 4 --lr 1e-3 -o "$tmp/x.st" "$tmp/a.txt" : \
  -np 1 "$M" train $A --steps 4 --lr 2e-3 -o "$tmp/x.st" "$tmp/a.txt"
expect_refusal "data" "rank 1: its training data (token ids) differs from rank 0's" \
  -np 1 "$M" train $A --steps 4 -o "$tmp/x.st" "$tmp/a.txt" : \
  -np 1 "$M" train $A --steps 4 -o "$tmp/x.st" "$tmp/b.txt"
expect_refusal "flags" "rank 1: its flags" \
  -np 1 "$M" train $A --steps 4 -o "$tmp/x.st" "$tmp/a.txt" : \
  -np 1 "$M" train $A --steps 5 -o "$tmp/x.st" "$tmp/a.txt"
expect_refusal "model" "rank 1: its model d_model is 48" \
  -np 1 "$M" train $A --steps 4 -o "$tmp/x.st" "$tmp/a.txt" : \
  -np 1 "$M" train $A --steps 4 --d-model 48 -o "$tmp/x.st" "$tmp/a.txt"

# 4. a rank killed mid-run: the job ends (no hang), the checkpoint loads
rank_pid() { # the pid of rank $1 of the job whose files live in $tmp
  for p in $(pgrep -f "bin/mmgen train .*$tmp/a.txt"); do
    tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && { echo "$p"; return; }
  done
}
long="$A --steps 100000 --decay-steps 100000 --save-every 5 --checkpoint $tmp/kill.ck"
$run -np 2 "$M" train $long -o "$tmp/k.st" "$tmp/a.txt" > "$tmp/kill.log" 2>&1 &
job=$!
i=0
while [ ! -e "$tmp/kill.ck" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$tmp/kill.ck" ] || { kill $job; cat "$tmp/kill.log"; fail "no checkpoint appeared"; }
p=$(rank_pid 1)
[ -n "$p" ] || fail "cannot find rank 1"
t0=$(date +%s)
kill -9 "$p"
rc=0
wait $job || rc=$?
t1=$(date +%s)
[ $rc -ne 0 ] || fail "the job exited 0 after a rank was killed"
[ $((t1 - t0)) -le 30 ] || fail "the job took $((t1 - t0)) s to end after a rank was killed"
grep -q -E "rank 0 stopped by mpirun|exited on signal 9|killed" "$tmp/kill.log" || { cat "$tmp/kill.log"; fail "no message about the killed rank"; }
"$M" train $A --steps 100000 --decay-steps 100000 --checkpoint "$tmp/kill.ck" --resume --max-time 0.5 \
  -o "$tmp/k2.st" "$tmp/a.txt" > "$tmp/kill2.log" 2>&1 || { cat "$tmp/kill2.log"; fail "the last checkpoint does not resume"; }
echo "killed rank 1 (kill -9): the job ended in $((t1 - t0)) s with exit $rc; the last checkpoint resumed ($(grep -o 'resumed from .*' "$tmp/kill2.log" | sed "s|$tmp/||"))"

# 5. a rank that hangs (SIGSTOP): the other rank times out with an error
$run -np 2 "$M" train $long --mpi-timeout 3 --save-every 0 -o "$tmp/h.st" "$tmp/a.txt" > "$tmp/hang.log" 2>&1 &
job=$!
sleep 2
p=$(rank_pid 1)
[ -n "$p" ] || { kill $job; fail "cannot find rank 1"; }
kill -STOP "$p"
t0=$(date +%s)
rc=0
wait $job || rc=$?
t1=$(date +%s)
kill -CONT "$p" 2>/dev/null || true
[ $rc -ne 0 ] || fail "the job exited 0 with a hung rank"
grep -q "rank 0: no answer from the other ranks for [0-9]* s while" "$tmp/hang.log" || { cat "$tmp/hang.log"; fail "no timeout message"; }
echo "hung rank 1 (SIGSTOP): $(grep -o 'rank 0: no answer.*while [a-z ]*' "$tmp/hang.log" | head -n 1); job ended after $((t1 - t0)) s"
echo "check_mpi: ok"
