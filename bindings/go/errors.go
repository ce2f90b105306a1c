package mmgen

// Status codes, the *Error type, and the one place that turns a failed C call
// into an error with mmg_last_error()'s message.

// #include <mmgen/mmgen.h>
import "C"

import (
	"runtime"
)

// Status is an mmg_status (mmgen/status.h): a frozen number, 0 for success.
// It is an error itself, so errors.Is(err, mmgen.StatusIO) tells what kind of
// failure an *Error is.
type Status int32

// The status codes, as numbered in mmgen/status.h. They never change.
const (
	StatusOK          Status = C.MMG_OK
	StatusInvalidArg  Status = C.MMG_ERR_INVALID_ARG
	StatusNoMem       Status = C.MMG_ERR_NOMEM
	StatusIO          Status = C.MMG_ERR_IO
	StatusFormat      Status = C.MMG_ERR_FORMAT
	StatusUnsupported Status = C.MMG_ERR_UNSUPPORTED
	StatusPlugin      Status = C.MMG_ERR_PLUGIN
	StatusABI         Status = C.MMG_ERR_ABI
	StatusRange       Status = C.MMG_ERR_RANGE
	StatusConfig      Status = C.MMG_ERR_CONFIG
	StatusState       Status = C.MMG_ERR_STATE
	StatusLimit       Status = C.MMG_ERR_LIMIT
	StatusNumeric     Status = C.MMG_ERR_NUMERIC
	StatusCancelled   Status = C.MMG_ERR_CANCELLED
	StatusNotFound    Status = C.MMG_ERR_NOT_FOUND
	StatusInternal    Status = C.MMG_ERR_INTERNAL
)

// String gives the symbolic name, e.g. "MMG_ERR_IO" ("MMG_UNKNOWN" for a
// number outside the map).
func (s Status) String() string {
	return C.GoString(C.mmg_status_name(C.mmg_status(s)))
}

// Description gives the library's short description, e.g. "input/output error".
func (s Status) Description() string {
	return C.GoString(C.mmg_status_string(C.mmg_status(s)))
}

// Error makes a Status usable as an error target: errors.Is(err, StatusRange).
func (s Status) Error() string { return s.String() }

// Error is a failed mmgen call.
type Error struct {
	Status  Status // the mmg_status number
	Name    string // its symbolic name, e.g. "MMG_ERR_RANGE"
	Message string // mmg_last_error(): what went wrong, in words (or this package's own)
	Op      string // what this package was doing, e.g. "loading m.safetensors"
}

func (e *Error) Error() string {
	s := "mmgen: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += e.Name
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is this error's Status, so that
// errors.Is(err, mmgen.StatusNotFound) works on wrapped errors too.
func (e *Error) Is(target error) bool {
	s, ok := target.(Status)
	return ok && s == e.Status
}

// newError is an error made by this package itself (a closed object, an
// argument it refuses before calling the library).
func newError(s Status, op, message string) *Error {
	return &Error{Status: s, Name: s.String(), Op: op, Message: message}
}

// call runs f, one cgo call that returns an mmg_status, and on failure returns
// an *Error carrying mmg_last_error()'s message.
//
// mmg_last_error() is thread-local in C, while a goroutine may move to another
// OS thread between two cgo calls. So the goroutine is locked to its thread
// from the failing call to the read of the message: both run on the same
// thread, and the message is the one this call left. (The other way, a C
// helper per function that returns the message with the status, would double
// every declaration; LockOSThread nests, costs a few tens of nanoseconds, and
// keeps every wrapper a plain call.) A callback into Go during f (on_token)
// runs on the same thread and may itself use this package.
func call(op string, f func() C.mmg_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if st := f(); st != C.MMG_OK {
		s := Status(st)
		return &Error{Status: s, Name: s.String(), Op: op, Message: C.GoString(C.mmg_last_error())}
	}
	return nil
}
