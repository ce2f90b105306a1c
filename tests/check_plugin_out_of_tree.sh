#!/bin/sh
# tests/check_plugin_out_of_tree.sh - a third-party plugin builds out of tree
# against an installed mmgen and loads: examples/plugin_out_of_tree is
# configured against a temporary `cmake --install` of this build, its plugin
# must not link libmmgen, and its demo opens the plugin by name through
# MMGEN_PLUGIN_PATH and round-trips a text.
set -eu
src=$1 bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$bin" --prefix "$prefix" > "$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; exit 1; }
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -n 1 | xargs dirname)
test -f "$prefix/include/mmgen/plugin.h" || { echo "mmgen/plugin.h not installed"; exit 1; }

# A sanitizer build of libmmgen needs the example built with the same runtime.
cflags=""
if grep -q '^MMGEN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2>/dev/null; then
  cflags="-fsanitize=address,undefined -fno-omit-frame-pointer"
fi
ex=$src/examples/plugin_out_of_tree
cmake -S "$ex" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$cflags" \
  -DCMAKE_MODULE_LINKER_FLAGS="$cflags" > "$tmp/ex.log" 2>&1 &&
  cmake --build "$tmp/build" >> "$tmp/ex.log" 2>&1 &&
  cmake --install "$tmp/build" >> "$tmp/ex.log" 2>&1 || { cat "$tmp/ex.log"; exit 1; }

plugin=$libdir/mmgen/plugins/mmgen-caesar.so
test -f "$plugin" || { echo "mmgen-caesar.so not installed in $libdir/mmgen/plugins"; exit 1; }
# It was compiled with only the installed include directory on its path.
if grep -q -- "$src/include" "$tmp/build/CMakeFiles/mmgen-caesar.dir/flags.make" 2>/dev/null; then
  echo "the example plugin saw the source tree's headers"; exit 1
fi
if objdump -p "$plugin" | grep -q 'NEEDED.*libmmgen'; then
  echo "the plugin links libmmgen; plugins must use the host services only"; exit 1
fi

out=$(MMGEN_PLUGIN_PATH="$libdir/mmgen/plugins" LD_LIBRARY_PATH="$libdir" \
      "$tmp/build/caesar_demo" "Hello, plugin") || { echo "$out"; exit 1; }
echo "$out" | grep -q '^plugin caesar 1.0.0 (text,' || { echo "$out"; exit 1; }
# H e l l o shifted by 3: 75 104 111 111 114 ...
echo "$out" | grep -q '^ids 75 104 111 111 114 47 35 115 111 120 106 108 113$' ||
  { echo "unexpected ids:"; echo "$out"; exit 1; }
echo "$out" | grep -q '^round trip ok$' || { echo "$out"; exit 1; }
echo "out-of-tree plugin built against the installed header loads: $(echo "$out" | head -n 1)"
