#!/bin/sh
# tests/check_safetensors_interop.sh SOURCE_DIR BINARY_DIR
#
# Safetensors interoperability with an independent Python implementation
# (tests/fixtures/safetensors/{make_fixture,read_safetensors}.py: struct + json
# per the format spec; python3-safetensors is not packaged in Debian 12):
#   1. the committed reference.safetensors is exactly what make_fixture.py writes
#      (test_safetensors.c reads that file: Python -> mmgen);
#   2. the Python reader accepts it (sanity of the reader itself);
#   3. a file written by mmgen (test_safetensors' interop_file test) is accepted
#      by the Python reader with the exact expected names, metadata and bytes,
#      F16/BF16 rounding compared with numpy/torch (mmgen -> Python).
# Exits 77 (skip) when python3 or numpy is missing.
set -u
src=$1
bin=$2
fix="$src/tests/fixtures/safetensors"

py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 2>/dev/null) || { echo "skip: python3 not found"; exit 77; }
"$py" -c "import numpy" 2>/dev/null || { echo "skip: numpy not available to $py"; exit 77; }

test_bin="$bin/bin/test_safetensors"
[ -x "$test_bin" ] || { echo "FAIL: $test_bin not built"; exit 1; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

"$py" "$fix/make_fixture.py" "$tmp/reference.safetensors" >/dev/null || { echo "FAIL: make_fixture.py"; exit 1; }
cmp "$tmp/reference.safetensors" "$fix/reference.safetensors" ||
    { echo "FAIL: committed reference.safetensors differs from make_fixture.py's output"; exit 1; }
"$py" "$fix/read_safetensors.py" "$fix/reference.safetensors" || exit 1

MMGEN_ST_INTEROP_OUT="$tmp/mmgen.safetensors" "$test_bin" --jobs=1 --filter='safetensors/interop_file' ||
    { echo "FAIL: test_safetensors interop_file"; exit 1; }
[ -s "$tmp/mmgen.safetensors" ] || { echo "FAIL: interop_file wrote nothing"; exit 1; }
"$py" "$fix/read_safetensors.py" --mmgen "$tmp/mmgen.safetensors" || exit 1
echo "safetensors interop OK"
