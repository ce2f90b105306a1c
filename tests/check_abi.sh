#!/bin/sh
# tests/check_abi.sh SRC BIN - the ABI guard: libmmgen.so as built is a
# compatible extension of the committed baseline abi/libmmgen.abi (the last
# release, written by scripts/abi_baseline.sh). libabigail's abidw describes
# the library's exported functions and public types from its debug info;
# tests/abi_compare.py applies mmgen's rules (no function removed, moved to
# another version node or re-typed; struct members only appended; enumerator
# values kept) and abidiff prints its own report of any difference for a
# human. The comparator is itself checked: a function removed, a status code
# renumbered and a struct member moved in copies of the current description
# must each be refused. Skips (77) without abigail-tools or debug info.
set -eu
src=$1 bin=$2
command -v abidw > /dev/null && command -v abidiff > /dev/null ||
  { echo "skip: abidw/abidiff are missing (Debian: abigail-tools)"; exit 77; }
py=/usr/bin/python3
[ -x "$py" ] || { echo "skip: no $py"; exit 77; }
# the file the link points to: an older build may have left other versions
lib=$(readlink -f "$bin/lib/libmmgen.so" 2> /dev/null || true)
[ -f "$lib" ] || { echo "FAIL: no libmmgen.so.X.Y.Z under $bin/lib"; exit 1; }
readelf -S "$lib" | grep -q debug_info || { echo "skip: $lib has no debug info (a Release build)"; exit 77; }
base=$src/abi/libmmgen.abi
[ -f "$base" ] || { echo "FAIL: the baseline $base is missing (scripts/abi_baseline.sh writes it)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
abidw --no-corpus-path --no-comp-dir-path --no-show-locs --type-id-style hash \
  --headers-dir "$src/include/mmgen" --drop-private-types "$lib" > "$tmp/cur.abi"

if ! "$py" "$src/tests/abi_compare.py" "$base" "$tmp/cur.abi"; then
  echo "--- abidiff's report:"
  abidiff "$base" "$tmp/cur.abi" || true
  echo "FAIL: $(basename "$lib") breaks the ABI of abi/libmmgen.abi (see ABI.md, \"The ABI baseline\")"
  exit 1
fi

# the layout table bindings check their struct mirrors with (mmgen/layout.h)
# agrees with the debug info, field by field
# (ctypes loads the library into python: a sanitizer build needs its runtime first)
preload=""
if grep -q '^MMGEN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2> /dev/null; then
  preload=$(${CC:-cc} -print-file-name=libasan.so)
fi
LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 "$py" "$src/tests/abi_layout.py" "$lib" "$tmp/cur.abi" || {
  echo "FAIL: core/layout.c disagrees with the structs of the public headers"; exit 1; }

# the comparator refuses what it must: each mutation of the current description
refuse() { # refuse WHAT SED-SCRIPT
  sed "$2" "$tmp/cur.abi" > "$tmp/mut.abi"
  cmp -s "$tmp/cur.abi" "$tmp/mut.abi" && { echo "FAIL: the mutation '$1' changed nothing"; exit 1; }
  if "$py" "$src/tests/abi_compare.py" "$tmp/cur.abi" "$tmp/mut.abi" > "$tmp/mut.log"; then
    echo "FAIL: abi_compare.py accepted $1"; cat "$tmp/mut.log"; exit 1
  fi
  grep -q "^INCOMPATIBLE: " "$tmp/mut.log" || { echo "FAIL: no INCOMPATIBLE line for $1"; exit 1; }
}
refuse "a removed function" "/<elf-symbol name='mmg_generate'/d"
refuse "a renumbered status code" "s/<enumerator name='MMG_ERR_RANGE' value='\(-*[0-9]*\)'/<enumerator name='MMG_ERR_RANGE' value='99'/"
refuse "a moved struct member" "/<class-decl name='mmg_sampling_options'/,/<\/class-decl>/s/layout-offset-in-bits='96'/layout-offset-in-bits='100'/"
echo "ok: $(basename "$lib") is a compatible extension of abi/libmmgen.abi; the comparator refuses removals, renumbering, moved members"
