#!/bin/sh
# scripts/abi_baseline.sh [BUILD_DIR] - writes abi/libmmgen.abi, the baseline
# tests/check_abi.sh compares every build with: libabigail's description
# (abidw, Debian package abigail-tools) of BUILD_DIR's libmmgen.so (default
# build/, which must carry debug info: RelWithDebInfo or Debug).
#
# A release runs it after its last ABI change and commits the file with the
# release, so the next changes are checked against what was shipped (ABI.md,
# "The ABI baseline").
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
lib=$(readlink -f "$build/lib/libmmgen.so" 2> /dev/null || true)
[ -f "$lib" ] || { echo "abi_baseline: no libmmgen.so.X.Y.Z under $build/lib; build it first" >&2; exit 1; }
command -v abidw > /dev/null || { echo "abi_baseline: abidw is missing (Debian: abigail-tools)" >&2; exit 1; }
readelf -S "$lib" | grep -q debug_info ||
  { echo "abi_baseline: $lib has no debug info; configure $build with -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2; exit 1; }
abidw --no-corpus-path --no-comp-dir-path --no-show-locs --type-id-style hash \
  --headers-dir include/mmgen --drop-private-types "$lib" > abi/libmmgen.abi
echo "abi/libmmgen.abi: $(basename "$lib"), $(grep -c "<elf-symbol .*func-type" abi/libmmgen.abi) functions"
