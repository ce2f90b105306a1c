package mmgen

// The C-to-Go callback of Model.Generate's OnToken. It lives in its own file
// because a file with //export may only declare, not define, C functions.

// #include <stdint.h>
import "C"

import "runtime/cgo"

// mmgoOnToken is mmg_generate's on_token, reached through the C shim
// mmgo_on_token in generate.go with a cgo.Handle as user data. A panic in the
// user's function is recovered here (it must not unwind through the
// library's frames), generation is cancelled, and Generate panics again
// once the C call has returned.
//
//export mmgoOnToken
func mmgoOnToken(handle C.uintptr_t, sequence, index, token C.int32_t) (status C.int) {
	gen := cgo.Handle(handle).Value().(*generation)
	gen.tokens = append(gen.tokens, int32(token))
	defer func() {
		if r := recover(); r != nil {
			gen.panic, gen.panicked = r, true
			status = C.int(StatusCancelled)
		}
	}()
	if gen.fn(int(index), int32(token)) {
		gen.stopped = true
		return C.int(StatusCancelled)
	}
	return 0
}
