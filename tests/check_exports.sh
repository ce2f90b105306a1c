#!/bin/sh
# tests/check_exports.sh - libmmgen exports exactly the public mmg_* functions,
# each under the MMGEN_<major>.<minor> version node, and nothing internal.
set -eu
src=$1 bin=$2
lib=$(ls "$bin"/lib/libmmgen.so.[0-9]* 2>/dev/null | head -n 1)
[ -n "$lib" ] || { echo "libmmgen.so.N not found under $bin/lib"; exit 1; }

# SONAME carries the ABI major.
major=$(sed -n 's/^#define MMGEN_ABI_MAJOR \([0-9]*\)$/\1/p' "$src/include/mmgen/version.h")
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
[ "$soname" = "libmmgen.so.$major" ] || { echo "SONAME is '$soname', expected libmmgen.so.$major"; exit 1; }

syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^MMGEN_' | sed 's/@.*//' | sort -u)
bad=$(printf '%s\n' "$syms" | grep -v '^mmg_[a-z0-9]' || true)
[ -z "$bad" ] || { echo "exported symbols outside the public mmg_ prefix:"; echo "$bad"; exit 1; }
internal=$(printf '%s\n' "$syms" | grep '^mmg__' || true)
[ -z "$internal" ] || { echo "internal mmg__ symbols exported:"; echo "$internal"; exit 1; }

# Every public function declared with MMG_API in the headers is exported, and
# nothing else is.
declared=$(perl -0777 -ne 'while (/^MMG_API\s[^;{]*?\b(mmg_[a-z0-9_]+)\s*\(/mg) { print "$1\n" }' \
           "$src"/include/mmgen/*.h | sort -u)
missing=$(printf '%s\n' "$declared" | grep -vxF "$syms" || true)
extra=$(printf '%s\n' "$syms" | grep -vxF "$declared" || true)
[ -z "$missing" ] || { echo "declared with MMG_API but not exported:"; echo "$missing"; exit 1; }
[ -z "$extra" ] || { echo "exported but not declared in a public header:"; echo "$extra"; exit 1; }

# ABI.md is the contract: every public function is listed there.
undocumented=$(printf '%s\n' "$declared" | while read -r f; do grep -q "\b$f\b" "$src/ABI.md" || echo "$f"; done)
[ -z "$undocumented" ] || { echo "public functions missing from ABI.md:"; echo "$undocumented"; exit 1; }

# Each export carries a version node.
unversioned=$(nm -D --defined-only --with-symbol-versions "$lib" | awk '$3 ~ /^mmg_/ && $3 !~ /@MMGEN_[0-9]+\.[0-9]+$/ {print $3}')
[ -z "$unversioned" ] || { echo "exports without an MMGEN_x.y version node:"; echo "$unversioned"; exit 1; }
echo "libmmgen exports $(printf '%s\n' "$syms" | wc -l) mmg_ functions, all versioned, SONAME $soname"
