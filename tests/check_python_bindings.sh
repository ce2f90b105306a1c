#!/bin/sh
# tests/check_python_bindings.sh - the pytest suite of the Python package
# (bindings/python) against this build: the library, its plugins and the CLI
# that trains the suite's tiny model. Runs /usr/bin/python3 (Debian's
# python3-pytest). In a sanitizer build the ASan runtime is preloaded into
# python (leak checks off: python's own allocations are not ours), as
# check_cli_python.sh does. Skips (77) without pytest or the text plugin.
set -eu
src=$1 bin=$2
py=/usr/bin/python3
[ -x "$py" ] || { echo "skip: no $py"; exit 77; }
"$py" -c "import pytest" 2> /dev/null || { echo "skip: pytest is not installed (apt-get install python3-pytest)"; exit 77; }
[ -f "$bin/plugins/mmgen-text.so" ] || { echo "skip: the text plugin is not built"; exit 77; }
preload=""
if grep -q '^MMGEN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2> /dev/null; then
  preload=$(${CC:-cc} -print-file-name=libasan.so)
  [ -f "$preload" ] || { echo "skip: sanitizer build and no libasan.so to preload into python"; exit 77; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MMGEN_LIB="$bin/lib/libmmgen.so" MMGEN_PLUGIN_PATH="$bin/plugins" MMGEN_BIN="$bin" MMGEN_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1
cd "$src"
# -p no:cacheprovider: write nothing into the source tree
if [ -n "$preload" ]; then
  LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 "$py" -m pytest -q -p no:cacheprovider \
    --basetemp="$tmp/pytest" bindings/python/tests
else
  "$py" -m pytest -q -p no:cacheprovider --basetemp="$tmp/pytest" bindings/python/tests
fi
