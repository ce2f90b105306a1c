#!/bin/sh
# tests/check_train_parity.sh SOURCE_DIR BINARY_DIR
#
# Reruns the PyTorch comparison of training (issue 4) on fresh random models:
# tests/parity_train/train_parity.py writes new fixtures with a random --seed
# (torch.autograd gradients, torch.optim.AdamW loss curves) into a temporary
# directory, and test_train_parity compares mmgen's trainer against them with
# the same tolerances as for the committed fixtures.
# Exits 77 (skip) when torch is not importable, and under the sanitizer build
# (torch's own libraries do not run under ASan's preload; the committed
# fixtures are still checked there by test_train_parity itself).
set -u
src=$1
bin=$2
py=/usr/bin/python3
[ -x "$py" ] || { echo "skip: $py not found"; exit 77; }
"$py" -c "import torch, numpy" 2>/dev/null || { echo "skip: torch/numpy not importable by $py"; exit 77; }
if grep -q '^MMGEN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2>/dev/null; then
    echo "skip: sanitizer build"
    exit 77
fi
test_bin="$bin/bin/test_train_parity"
[ -x "$test_bin" ] || { echo "FAIL: $test_bin not built"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
seed=${MMGEN_TRAIN_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "torch reference with --seed $seed"
"$py" "$src/tests/parity_train/train_parity.py" --seed "$seed" --out "$tmp" || { echo "FAIL: train_parity.py"; exit 1; }
MMGEN_TRAIN_FIXTURES="$tmp" "$test_bin" --jobs=1 --verbose=1 || { echo "FAIL: mmgen differs from torch with --seed $seed (rerun: MMGEN_TRAIN_SEED=$seed)"; exit 1; }
echo "training matches torch with --seed $seed"
