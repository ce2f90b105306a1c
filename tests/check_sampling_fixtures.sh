#!/bin/sh
# tests/check_sampling_fixtures.sh - the committed sampling fixtures are what
# their reference scripts print: reruns rng_reference.py (stdlib only) and,
# when PyTorch is importable, sampling_reference.py, and diffs the output.
# Skips (77) when /usr/bin/python3 is missing.
set -eu
src=$1
dir="$src/tests/fixtures/sampling"
py=/usr/bin/python3
[ -x "$py" ] || { echo "skip: $py not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$dir/rng_reference.py" > "$tmp/rng.txt"
diff -u "$dir/rng_reference.txt" "$tmp/rng.txt" || { echo "rng_reference.txt is stale"; exit 1; }
if "$py" -c 'import torch' 2>/dev/null; then
  "$py" "$dir/sampling_reference.py" > "$tmp/sampling.txt"
  # The header line names the torch version; compare the data only.
  grep -v '^#' "$dir/sampling_reference.txt" > "$tmp/want.txt"
  grep -v '^#' "$tmp/sampling.txt" > "$tmp/got.txt"
  diff -u "$tmp/want.txt" "$tmp/got.txt" > "$tmp/diff.txt" || {
    head -n 40 "$tmp/diff.txt"; echo "sampling_reference.txt differs from a fresh PyTorch run"; exit 1; }
  echo "sampling fixtures reproduce (rng + torch $("$py" -c 'import torch; print(torch.__version__)'))"
else
  echo "rng fixture reproduces; torch not importable, sampling_reference.txt not rechecked"
fi
