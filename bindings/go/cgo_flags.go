//go:build !mmgen_pkgconfig

package mmgen

// Building against a source checkout: the headers next to this package, and
// -lmmgen from wherever CGO_LDFLAGS says (tests/check_go_bindings.sh passes
// "-L$BUILD/lib -Wl,-rpath,$BUILD/lib"), else the linker's default
// directories, where `cmake --install` puts it.
//
// Against an installed libmmgen with its mmgen.pc, build with
// `-tags mmgen_pkgconfig` instead (cgo_pkgconfig.go).

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #cgo LDFLAGS: -lmmgen
import "C"
