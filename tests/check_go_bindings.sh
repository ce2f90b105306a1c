#!/bin/sh
# tests/check_go_bindings.sh - the `go test` suite of the Go package
# (bindings/go, cgo) against this build: the headers of the source tree, the
# library, its plugins and the CLI that trains the suite's tiny model. Uses
# Debian's /usr/bin/go (golang-go, 1.19) offline: the package has no
# dependencies, and Go's build cache and module directory live in
# BIN/go-bindings, so nothing is written into the source tree. The tests run
# with GODEBUG=cgocheck=2, which makes the Go runtime catch any Go pointer
# stored into C memory. In a sanitizer build (libmmgen instrumented with ASan
# and UBSan) the tests are built with `go test -asan`: the Go code, the cgo
# helpers and the runtime are instrumented too and the ASan runtime is linked
# into the test binary, so it comes first as ASan requires (the first build
# compiles the standard library with ASan: about a minute on two cores).
# Leak checks are off in the test binary and the CLI it runs, as
# check_python_bindings.sh does. Skips (77) without go or the text plugin.
set -eu
src=$1 bin=$2
go=/usr/bin/go
[ -x "$go" ] || { echo "skip: no $go (apt-get install golang-go)"; exit 77; }
[ -f "$bin/plugins/mmgen-text.so" ] || { echo "skip: the text plugin is not built"; exit 77; }
[ -f "$bin/lib/libmmgen.so" ] || { echo "skip: no shared library $bin/lib/libmmgen.so"; exit 77; }
sanitize=""
grep -q '^MMGEN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2> /dev/null && sanitize=1
work="$bin/go-bindings"
mkdir -p "$work"
# GOENV/GOWORK off: no user go.env or go.work changes the build; GOTOOLCHAIN
# keeps a newer go from fetching a toolchain (go 1.19 ignores it).
export GOCACHE="$work/cache" GOPATH="$work/gopath" GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
  GOENV=off GOWORK=off GO111MODULE=on CGO_ENABLED=1 \
  CGO_CFLAGS="-I$src/include" CGO_LDFLAGS="-L$bin/lib -Wl,-rpath,$bin/lib" \
  MMGEN_PLUGIN_PATH="$bin/plugins" MMGEN_BIN="$bin" MMGEN_NUM_THREADS=1 GODEBUG=cgocheck=2
cd "$src/bindings/go"
"$go" version
if [ -n "$sanitize" ]; then
  # (the linker warns that libasan.so uses tmpnam: harmless)
  "$go" test -asan -count=1 -timeout 300s -v -exec "env ASAN_OPTIONS=detect_leaks=0" .
else
  "$go" test -count=1 -timeout 300s -v .
fi
