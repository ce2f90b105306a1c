package mmgen

// The library this package is linked with: its version, and the checks made
// once, before the first object is created, that it can serve the headers
// this package was compiled with.

// #include <mmgen/mmgen.h>
import "C"

import (
	"fmt"
	"sync"
)

// ABIMajor and ABIMinor are the ABI of the headers this package was compiled
// against (MMGEN_ABI_MAJOR/MINOR): the library must serve at least this.
const (
	ABIMajor = C.MMGEN_ABI_MAJOR
	ABIMinor = C.MMGEN_ABI_MINOR
)

// This package calls functions and sets fields of ABI 1.3 (parameters by name,
// mmg_model_load_memory, check_finite, the layout table).
const _ = uint(ABIMajor-1) + uint(ABIMinor-3) // compile error on headers older than 1.3

var (
	readyOnce sync.Once
	readyErr  error
)

// ready checks the library once: mmg_abi_compatible for the headers' version,
// then every struct layout cgo compiled against the library's own table
// (layout.go). Every constructor calls it, so a mismatched library is refused
// before any object is made.
func ready() error {
	readyOnce.Do(func() {
		if err := checkABI(ABIMajor, ABIMinor); err != nil {
			readyErr = err
			return
		}
		readyErr = checkLayouts()
	})
	return readyErr
}

// CheckLibrary runs the load-time checks (ABI version, struct layouts) and
// returns their error, or nil when the library can serve this package. Every
// constructor calls it; call it first to fail early with a clear message.
func CheckLibrary() error { return ready() }

// checkABI refuses a library that cannot serve headers of (major, minor).
func checkABI(major, minor uint32) error {
	if C.mmg_abi_compatible(C.uint32_t(major), C.uint32_t(minor)) != 0 {
		return nil
	}
	lmaj, lmin := LibraryABI()
	return newError(StatusABI, "checking the library",
		fmt.Sprintf("libmmgen %s (ABI %d.%d) cannot serve this package (ABI %d.%d): "+
			"build it against the headers of the library it runs with", Version(), lmaj, lmin, major, minor))
}

// Version is the library's "MAJOR.MINOR.PATCH" (mmg_version_string).
func Version() string { return C.GoString(C.mmg_version_string()) }

// LibraryABI is the ABI version of the library linked at run time.
func LibraryABI() (major, minor uint32) {
	v := uint32(C.mmg_abi_version())
	return v >> 16, v & 0xffff
}
