#!/bin/sh
# tests/check_node_bindings.sh - the `node --test` suite of the Node module
# (bindings/node) against this build: the library, its plugins and the CLI
# that trains the suite's tiny model. The module's one dependency, koffi, is
# pinned by bindings/node/package-lock.json: a checkout that has run
# `npm ci` in bindings/node uses its node_modules; otherwise (a fresh clone)
# `npm ci` installs it into BIN/node-bindings (offline from npm's cache
# first, then from the registry; quiet, bounded), never into the source tree.
# In a sanitizer build the ASan runtime is preloaded into node (leak checks
# off: node's own allocations are not ours), as check_python_bindings.sh
# does. Skips (77) without node/npm, when koffi cannot be installed or
# loaded, or without the text plugin.
set -eu
src=$1 bin=$2
mod="$src/bindings/node"
command -v node > /dev/null 2>&1 || { echo "skip: node is not installed (scripts/deps.sh installs nodejs)"; exit 77; }
[ -f "$bin/plugins/mmgen-text.so" ] || { echo "skip: the text plugin is not built"; exit 77; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
  { echo "skip: node $(node --version) is older than 18"; exit 77; }
if [ -f "$mod/node_modules/koffi/package.json" ]; then
  node_path=""
else
  command -v npm > /dev/null 2>&1 || { echo "skip: npm is not installed (scripts/deps.sh installs npm)"; exit 77; }
  deps="$bin/node-bindings"
  if ! (cd "$deps" 2> /dev/null && cmp -s package-lock.json "$mod/package-lock.json" &&
        [ -f node_modules/koffi/package.json ]); then
    rm -rf "$deps"
    mkdir -p "$deps"
    cp "$mod/package.json" "$mod/package-lock.json" "$deps/"
    flags="--no-audit --no-fund --loglevel=error --ignore-scripts"
    # shellcheck disable=SC2086
    (cd "$deps" && timeout 120 npm ci --offline $flags > npm.log 2>&1) ||
      (cd "$deps" && timeout 300 npm ci $flags > npm.log 2>&1) || {
        echo "skip: cannot install koffi with npm ci (no network and not in npm's cache?):"
        tail -n 5 "$deps/npm.log"
        rm -rf "$deps"
        exit 77
      }
  fi
  node_path="$deps/node_modules"
fi
cd "$mod"
NODE_PATH=$node_path node -e 'require("koffi")' 2> /dev/null ||
  { echo "skip: koffi is installed but does not load on this platform"; exit 77; }
preload=""
if grep -q '^MMGEN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2> /dev/null; then
  preload=$(${CC:-cc} -print-file-name=libasan.so)
  [ -f "$preload" ] || { echo "skip: sanitizer build and no libasan.so to preload into node"; exit 77; }
  LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 NODE_PATH=$node_path node -e 'require("koffi")' \
    > /dev/null 2>&1 || { echo "skip: koffi does not load in node with libasan preloaded"; exit 77; }
fi
export MMGEN_LIB="$bin/lib/libmmgen.so" MMGEN_PLUGIN_PATH="$bin/plugins" MMGEN_BIN="$bin" \
  MMGEN_NUM_THREADS=1 NODE_PATH="$node_path"
if [ -n "$preload" ]; then
  LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 node --test
else
  node --test
fi
