#!/bin/sh
# tests/check_parity.sh - runs tests/parity/torch_parity.py (mmgen's logits vs
# PyTorch's on fresh random models) against the built libmmgen.so.
# Skips (exit 77) when /usr/bin/python3 cannot import torch and numpy, and in
# sanitizer builds: ctypes cannot load an ASan-instrumented library into an
# uninstrumented python without LD_PRELOAD-ing libasan, which makes python
# itself report its own allocations. MMGEN_PARITY_SEED picks the seed.
set -eu
src=$1 bin=$2
py=/usr/bin/python3
[ -x "$py" ] || { echo "skip: $py not found"; exit 77; }
"$py" -c 'import torch, numpy' 2>/dev/null || { echo "skip: torch/numpy not importable by $py"; exit 77; }
if grep -q '^MMGEN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2>/dev/null; then
    echo "skip: sanitizer build (ctypes cannot load an ASan libmmgen.so)"
    exit 77
fi
lib="$bin/lib/libmmgen.so"
[ -f "$lib" ] || { echo "$lib not found"; exit 1; }
exec "$py" "$src/tests/parity/torch_parity.py" --lib "$lib" --seed "${MMGEN_PARITY_SEED:-0}"
