#!/bin/sh
# tests/check_rust_bindings.sh - the `cargo test` suite of the Rust crate
# (bindings/rust) against this build: the library (linked through
# MMGEN_LIB_DIR), its plugins and the CLI that trains the suite's tiny model.
# Uses Debian's toolchain (/usr/bin/cargo with RUSTC=/usr/bin/rustc, even when
# a rustup toolchain comes first in PATH), offline: the crate has no
# dependencies. Everything cargo writes goes under BIN/rust-bindings (target
# directory, CARGO_HOME); nothing into the source tree (bindings/rust/Cargo.lock
# is committed). In a sanitizer build the ASan runtime is preloaded into the
# test programs through cargo's runner (leak checks off: Rust's test harness
# is not ours), as check_python_bindings.sh does for python; cargo and rustc
# themselves run without it. Skips (77) without /usr/bin/cargo, the text
# plugin or the CLI.
set -eu
src=$1 bin=$2
cargo=/usr/bin/cargo
[ -x "$cargo" ] || { echo "skip: no $cargo (scripts/deps.sh installs Debian's cargo)"; exit 77; }
[ -f "$bin/plugins/mmgen-text.so" ] || { echo "skip: the text plugin is not built"; exit 77; }
[ -x "$bin/bin/mmgen" ] || { echo "skip: the mmgen CLI is not built"; exit 77; }
if [ -x /usr/bin/rustc ]; then
  RUSTC=/usr/bin/rustc
  export RUSTC
fi
if [ -x /usr/bin/rustdoc ]; then
  RUSTDOC=/usr/bin/rustdoc
  export RUSTDOC
fi
work="$bin/rust-bindings"
mkdir -p "$work"
export CARGO_TARGET_DIR="$work/target" CARGO_HOME="$work/cargo-home"
export MMGEN_LIB_DIR="$bin/lib" LD_LIBRARY_PATH="$bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export MMGEN_PLUGIN_PATH="$bin/plugins" MMGEN_BIN="$bin" MMGEN_NUM_THREADS=1
if grep -q '^MMGEN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2> /dev/null; then
  preload=$(${CC:-cc} -print-file-name=libasan.so)
  [ -f "$preload" ] || { echo "skip: sanitizer build and no libasan.so to preload into the tests"; exit 77; }
  host=$("${RUSTC:-rustc}" -vV | sed -n 's/^host: //p')
  [ -n "$host" ] || { echo "cannot read the host triple from ${RUSTC:-rustc} -vV"; exit 1; }
  runner_var="CARGO_TARGET_$(echo "$host" | tr 'a-z.-' 'A-Z__')_RUNNER"
  # cargo splits the runner on spaces: env VAR=... then the test program
  export "$runner_var=env LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0"
  echo "sanitizer build: $runner_var=env LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0"
fi
cd "$src/bindings/rust"
"$cargo" --version
"${RUSTC:-rustc}" --version
# Debug: the tests spend their time in libmmgen, so an optimized crate saves
# nothing and costs a slower build.
"$cargo" test --offline 2>&1
