#!/bin/sh
# tests/check_headers.sh - every public header compiles on its own, as C11 and
# as C++17, with -Wall -Wextra -pedantic -Werror (a header that needs another
# to be included first, or uses C-only syntax, fails here).
set -eu
src=$1 bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$src"/include/mmgen/*.h; do
  name=$(basename "$h")
  extra=""
  if [ "$name" = mpi.h ]; then # libmmgen_mpi's header needs the MPI library's
    # (as -isystem: warnings inside the MPI headers are not ours)
    if ! command -v mpicc > /dev/null; then
      echo "note: mpi.h not checked (no mpicc; scripts/deps.sh installs libopenmpi-dev)"
      continue
    fi
    extra=$(mpicc --showme:compile | sed "s/-I/-isystem /g")
  fi
  printf '#include <mmgen/%s>\n#include <mmgen/%s>\nint main(void) { return 0; }\n' "$name" "$name" > "$tmp/c.c"
  cp "$tmp/c.c" "$tmp/cxx.cpp"
  gcc -std=c11 -Wall -Wextra -pedantic -Werror -I"$src/include" $extra -c "$tmp/c.c" -o "$tmp/c.o" ||
    { echo "FAIL: $name as C11"; exit 1; }
  g++ -std=c++17 -Wall -Wextra -pedantic -Werror -I"$src/include" $extra -c "$tmp/cxx.cpp" -o "$tmp/cxx.o" ||
    { echo "FAIL: $name as C++17"; exit 1; }
  n=$((n + 1))
done
echo "$n public headers compile alone as C11 and C++17"
