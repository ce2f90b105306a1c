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
# (mpi.h declares libmmgen_mpi's functions: checked below)
api_of() { perl -0777 -ne 'while (/^MMG_API\s[^;{]*?\b(mmg_[a-z0-9_]+)\s*\(/mg) { print "$1\n" }' "$@" | sort -u; }
declared=$(api_of $(ls "$src"/include/mmgen/*.h | grep -v '/mpi\.h$'))
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

# libmmgen_mpi (-DMMGEN_MPI=ON) exports exactly mpi.h's functions, documented too.
mpi_lib=$(ls "$bin"/lib/libmmgen_mpi.so.[0-9]* 2>/dev/null | head -n 1)
if [ -n "$mpi_lib" ]; then
  mpi_syms=$(nm -D --defined-only "$mpi_lib" | awk '{print $3}' | sed 's/@.*//' | grep -v '^_' | sort -u)
  mpi_declared=$(api_of "$src/include/mmgen/mpi.h")
  [ "$mpi_syms" = "$mpi_declared" ] || { echo "libmmgen_mpi exports:"; echo "$mpi_syms"; echo "mpi.h declares:"; echo "$mpi_declared"; exit 1; }
  undocumented=$(printf '%s\n' "$mpi_declared" | while read -r f; do grep -q "\b$f\b" "$src/ABI.md" || echo "$f"; done)
  [ -z "$undocumented" ] || { echo "libmmgen_mpi functions missing from ABI.md:"; echo "$undocumented"; exit 1; }
  echo "libmmgen_mpi exports the $(printf '%s\n' "$mpi_syms" | wc -l) functions of mpi.h"
fi
