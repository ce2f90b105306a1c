// Package mmgen is the Go binding of libmmgen, a C library for multimodal
// generation: a transformer over token ids, and modality plugins (text,
// code, images, audio) that turn documents into tokens and back.
//
// It calls the library's C ABI (include/mmgen/*.h, ABI.md) through cgo:
//
//	m, err := mmgen.LoadModel("m.safetensors")   // Model: Generate, Params, ReadParam, WriteParam
//	tok, err := m.Tokenizer()                     // Tokenizer: Encode, Decode, SpecialToken
//	ids, err := m.Generate(prompt, mmgen.MaxTokens(50), mmgen.Seed(7))
//
// Errors are *Error values carrying the library's status (errors.Is(err,
// mmgen.StatusIO)) and mmg_last_error()'s message.
//
// Before the first object is made, the package checks once that the library
// can serve the headers it was compiled against: mmg_abi_compatible, then
// every public struct's size and field offsets as cgo laid them out against
// the library's own table (mmgen/layout.h). CheckLibrary reports the result.
//
// Objects own C memory: Close them (a finalizer frees forgotten ones). Their
// methods may be called from any goroutine; a Model, a Tokenizer and a
// Trainer each serialize their own calls. Memory the library returns is
// copied into Go slices and freed with mmg_free; Go memory handed to the
// library is only read or written during the call, and Go never stores a Go
// pointer in C memory (the tests run with GODEBUG=cgocheck=2).
package mmgen
