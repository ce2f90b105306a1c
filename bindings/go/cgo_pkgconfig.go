//go:build mmgen_pkgconfig

package mmgen

// With the build tag mmgen_pkgconfig, the headers and the library come from
// pkg-config's mmgen.pc (installed by `cmake --install`, e.g. under
// /usr/local/lib/pkgconfig; point PKG_CONFIG_PATH at it if pkg-config does
// not look there). See README.md.

// #cgo pkg-config: mmgen
import "C"
