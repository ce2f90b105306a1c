#!/bin/sh
# tests/check_install.sh - `cmake --install` produces a usable package: a tiny
# program builds against the installed copy through pkg-config alone, and a
# CMake project finds it with find_package(mmgen).
set -eu
src=$1 bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$bin" --prefix "$prefix" > "$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; exit 1; }
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -n 1 | xargs dirname)
test -f "$libdir/pkgconfig/mmgen.pc" || { echo "mmgen.pc not installed"; exit 1; }
test -f "$prefix/include/mmgen/mmgen.h" || { echo "headers not installed"; exit 1; }
test -x "$prefix/bin/mmgen" || { echo "CLI not installed"; exit 1; }
test -f "$libdir/cmake/mmgen/mmgenConfig.cmake" || { echo "CMake package config not installed"; exit 1; }

cat > "$tmp/hello.c" <<'C'
#include <mmgen/mmgen.h>
#include <stdio.h>
int main(void) {
    if (!mmg_abi_compatible(MMGEN_ABI_MAJOR, MMGEN_ABI_MINOR)) return 1;
    printf("%s\n", mmg_version_string());
    return 0;
}
C
# A sanitizer build installs an instrumented library; its users must be too.
san=""
[ "${MMGEN_SANITIZE:-0}" = 1 ] && san="-fsanitize=address,undefined"

# The .pc file records the configured prefix; point pkg-config at the copy.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs mmgen)
# shellcheck disable=SC2086
gcc $san "$tmp/hello.c" -o "$tmp/hello" $flags
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/hello")
ver=$(sed -n 's/^#define MMGEN_VERSION_STRING "\(.*\)"$/\1/p' "$src/include/mmgen/version.h")
[ "$out" = "$ver" ] || { echo "installed program printed '$out', expected '$ver'"; exit 1; }

mkdir "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(use_mmgen C)
find_package(mmgen 1 REQUIRED)
add_executable(hello ../hello.c)
target_link_libraries(hello PRIVATE mmgen::mmgen)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$san" > "$tmp/cm.log" 2>&1 &&
  cmake --build "$tmp/cm/build" >> "$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; exit 1; }
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/cm/build/hello")
[ "$out" = "$ver" ] || { echo "find_package program printed '$out'"; exit 1; }
echo "installed package works through pkg-config and find_package (version $ver)"

# libmmgen_mpi (a -DMMGEN_MPI=ON build): its pkg-config module and
# mmgen::mmgen_mpi, each building a program that calls into it
if [ -f "$libdir/libmmgen_mpi.so" ]; then
  test -f "$libdir/pkgconfig/mmgen_mpi.pc" || { echo "mmgen_mpi.pc not installed"; exit 1; }
  cat > "$tmp/mpi.c" <<'C'
#include <mmgen/mpi.h>
#include <stdio.h>
int main(void) {
    /* before MPI_Init: the library asks MPI and refuses (never initializes it) */
    mmg_mpi *g = NULL;
    printf("%d\n", mmg_mpi_create(MPI_COMM_WORLD, NULL, &g) == MMG_ERR_STATE && g == NULL);
    return 0;
}
C
  # --define-variable would move MPI's own prefix too: copies of our .pc
  # files with the prefix rewritten instead
  mkdir "$tmp/pc"
  for pc in mmgen mmgen_mpi; do
    sed "s|^prefix=.*|prefix=$prefix|" "$libdir/pkgconfig/$pc.pc" > "$tmp/pc/$pc.pc"
  done
  flags=$(PKG_CONFIG_PATH="$tmp/pc" pkg-config --cflags --libs mmgen_mpi)
  # shellcheck disable=SC2086
  gcc $san "$tmp/mpi.c" -o "$tmp/mpi" $flags
  [ "$(LD_LIBRARY_PATH="$libdir" "$tmp/mpi")" = 1 ] || { echo "the pkg-config mmgen_mpi program failed"; exit 1; }
  mkdir "$tmp/cmm"
  cat > "$tmp/cmm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(use_mmgen_mpi C)
find_package(mmgen 1 REQUIRED COMPONENTS mpi)
add_executable(mpi ../mpi.c)
target_link_libraries(mpi PRIVATE mmgen::mmgen_mpi)
CM
  cmake -S "$tmp/cmm" -B "$tmp/cmm/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$san" > "$tmp/cmm.log" 2>&1 &&
    cmake --build "$tmp/cmm/build" >> "$tmp/cmm.log" 2>&1 || { cat "$tmp/cmm.log"; exit 1; }
  [ "$(LD_LIBRARY_PATH="$libdir" "$tmp/cmm/build/mpi")" = 1 ] || { echo "the find_package mmgen_mpi program failed"; exit 1; }
  echo "libmmgen_mpi works through pkg-config (mmgen_mpi) and find_package (mmgen::mmgen_mpi)"
fi
