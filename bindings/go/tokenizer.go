package mmgen

// Tokenizers (mmgen/tokenizer.h): instances of a modality plugin that turn
// documents (bytes) into token ids and back.

/*
#include <stdlib.h>
#include <mmgen/mmgen.h>

// mmg_tokenizer_fit over n documents laid end to end in `all` (sizes[i]
// bytes each). The pointer array is built here, in C memory that lives for
// the call only, so Go never writes a Go pointer into C memory.
static mmg_status mmgo_fit(mmg_tokenizer *tok, const uint8_t *all, const size_t *sizes, size_t n) {
    const uint8_t **docs = malloc((n ? n : 1) * sizeof *docs);
    if (!docs) return MMG_ERR_NOMEM;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        docs[i] = all ? all + at : NULL;
        at += sizes[i];
    }
    mmg_status st = mmg_tokenizer_fit(tok, docs, sizes, n);
    free(docs);
    return st;
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Tokenizer is a tokenizer instance. Its methods may be called from any
// goroutine (they take turns). Close it when done; a finalizer frees a
// forgotten one.
type Tokenizer struct {
	mu sync.Mutex
	h  *C.mmg_tokenizer
}

func newTokenizer(h *C.mmg_tokenizer) *Tokenizer {
	t := &Tokenizer{h: h}
	runtime.SetFinalizer(t, func(t *Tokenizer) { t.Close() })
	return t
}

// NewTokenizer makes a tokenizer of plugin (a name such as "text", found in
// $MMGEN_PLUGIN_PATH then the install directory, or a path containing '/')
// configured by configJSON ("" for the plugin's defaults).
func NewTokenizer(plugin, configJSON string) (*Tokenizer, error) {
	if err := ready(); err != nil {
		return nil, err
	}
	cname := C.CString(plugin)
	defer C.free(unsafe.Pointer(cname))
	var cconfig *C.char
	if configJSON != "" {
		cconfig = C.CString(configJSON)
		defer C.free(unsafe.Pointer(cconfig))
	}
	var p *C.mmg_plugin
	if err := call(fmt.Sprintf("opening plugin %q", plugin), func() C.mmg_status {
		return C.mmg_plugin_open(cname, &p)
	}); err != nil {
		return nil, err
	}
	defer C.mmg_plugin_close(p) // the tokenizer keeps the module loaded
	var t *C.mmg_tokenizer
	if err := call(fmt.Sprintf("creating a %s tokenizer", plugin), func() C.mmg_status {
		return C.mmg_tokenizer_create(p, cconfig, &t)
	}); err != nil {
		return nil, err
	}
	return newTokenizer(t), nil
}

// TokenizerFromJSON restores a tokenizer from its JSON document (ToJSON,
// `mmgen tokenizer fit -o tok.json`).
func TokenizerFromJSON(doc string) (*Tokenizer, error) {
	if err := ready(); err != nil {
		return nil, err
	}
	cdoc := C.CString(doc)
	defer C.free(unsafe.Pointer(cdoc))
	var t *C.mmg_tokenizer
	if err := call("reading a tokenizer document", func() C.mmg_status {
		return C.mmg_tokenizer_from_json(cdoc, C.size_t(len(doc)), &t)
	}); err != nil {
		return nil, err
	}
	return newTokenizer(t), nil
}

// Close frees the tokenizer; later calls do nothing.
func (t *Tokenizer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.h != nil {
		C.mmg_tokenizer_free(t.h)
		t.h = nil
	}
	runtime.SetFinalizer(t, nil)
	return nil
}

func (t *Tokenizer) handle(op string) (*C.mmg_tokenizer, error) {
	if t.h == nil {
		return nil, newError(StatusState, op, "the tokenizer is closed")
	}
	return t.h, nil
}

// takeBytes copies n bytes the library allocated and frees them.
func takeBytes(p *C.uint8_t, n C.size_t) []byte {
	defer C.mmg_free(unsafe.Pointer(p))
	if n == 0 {
		return []byte{}
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

func takeString(p *C.char) string {
	defer C.mmg_free(unsafe.Pointer(p))
	return C.GoString(p)
}

func bytePtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(&b[0])
}

// Fit learns the tokenizer's state (BPE merges, a codebook...) from sample
// documents, replacing any previous state.
func (t *Tokenizer) Fit(docs [][]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	const op = "fitting the tokenizer"
	h, err := t.handle(op)
	if err != nil {
		return err
	}
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	all := make([]byte, 0, total)
	sizes := make([]C.size_t, len(docs)+1) // +1: never empty, so &sizes[0] exists
	for i, d := range docs {
		all = append(all, d...)
		sizes[i] = C.size_t(len(d))
	}
	return call(op, func() C.mmg_status {
		return C.mmgo_fit(h, bytePtr(all), &sizes[0], C.size_t(len(docs)))
	})
}

// Encode turns a document into token ids, each in [0, VocabSize).
func (t *Tokenizer) Encode(doc []byte) ([]int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	const op = "encoding"
	h, err := t.handle(op)
	if err != nil {
		return nil, err
	}
	var ids *C.int32_t
	var n C.size_t
	if err := call(op, func() C.mmg_status {
		return C.mmg_tokenizer_encode(h, bytePtr(doc), C.size_t(len(doc)), &ids, &n)
	}); err != nil {
		return nil, err
	}
	defer C.mmg_free(unsafe.Pointer(ids))
	out := make([]int32, int(n))
	if n > 0 {
		copy(out, unsafe.Slice((*int32)(unsafe.Pointer(ids)), int(n)))
	}
	return out, nil
}

// Decode turns token ids back into the document; StatusRange (naming the id
// and its position) for an id outside the vocabulary.
func (t *Tokenizer) Decode(ids []int32) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	const op = "decoding"
	h, err := t.handle(op)
	if err != nil {
		return nil, err
	}
	var one [1]int32
	p := &one[0]
	if len(ids) > 0 {
		p = &ids[0]
	}
	var doc *C.uint8_t
	var n C.size_t
	if err := call(op, func() C.mmg_status {
		return C.mmg_tokenizer_decode(h, (*C.int32_t)(p), C.size_t(len(ids)), &doc, &n)
	}); err != nil {
		return nil, err
	}
	return takeBytes(doc, n), nil
}

// VocabSize is the number of token ids, special tokens included (0 before
// Fit or LoadState for a learned vocabulary, or when closed).
func (t *Tokenizer) VocabSize() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(C.mmg_tokenizer_vocab_size(t.h))
}

// SpecialToken is the id of special token name ("bos", "eos", "pad", or a
// marker the plugin documents); StatusNotFound when there is none.
func (t *Tokenizer) SpecialToken(name string) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	op := fmt.Sprintf("looking up special token %q", name)
	h, err := t.handle(op)
	if err != nil {
		return 0, err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var id C.int32_t
	if err := call(op, func() C.mmg_status { return C.mmg_tokenizer_special_token(h, cname, &id) }); err != nil {
		return 0, err
	}
	return int32(id), nil
}

// DescribeToken is a human-readable description of token id.
func (t *Tokenizer) DescribeToken(id int32) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	op := fmt.Sprintf("describing token %d", id)
	h, err := t.handle(op)
	if err != nil {
		return "", err
	}
	var s *C.char
	if err := call(op, func() C.mmg_status { return C.mmg_tokenizer_describe_token(h, C.int32_t(id), &s) }); err != nil {
		return "", err
	}
	return takeString(s), nil
}

// SaveState is the learned state, as LoadState reads it.
func (t *Tokenizer) SaveState() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	const op = "saving the tokenizer state"
	h, err := t.handle(op)
	if err != nil {
		return nil, err
	}
	var b *C.uint8_t
	var n C.size_t
	if err := call(op, func() C.mmg_status { return C.mmg_tokenizer_save_state(h, &b, &n) }); err != nil {
		return nil, err
	}
	return takeBytes(b, n), nil
}

// LoadState restores a state SaveState wrote (StatusFormat for a malformed one).
func (t *Tokenizer) LoadState(state []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	const op = "loading the tokenizer state"
	h, err := t.handle(op)
	if err != nil {
		return err
	}
	return call(op, func() C.mmg_status {
		return C.mmg_tokenizer_load_state(h, bytePtr(state), C.size_t(len(state)))
	})
}

// ToJSON is the tokenizer as one JSON document: plugin, config, state.
func (t *Tokenizer) ToJSON() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	const op = "writing the tokenizer as JSON"
	h, err := t.handle(op)
	if err != nil {
		return "", err
	}
	var s *C.char
	if err := call(op, func() C.mmg_status { return C.mmg_tokenizer_to_json(h, &s) }); err != nil {
		return "", err
	}
	return takeString(s), nil
}

// Config is the JSON config the tokenizer was made with ("" for the
// plugin's defaults).
func (t *Tokenizer) Config() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := C.mmg_tokenizer_config(t.h); c != nil {
		return C.GoString(c)
	}
	return ""
}

// Plugin is the name of the tokenizer's plugin, e.g. "text".
func (t *Tokenizer) Plugin() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.h == nil {
		return ""
	}
	return C.GoString(C.mmg_plugin_name(C.mmg_tokenizer_plugin(t.h)))
}

// Modality is the plugin's modality: "text", "code", "image", "audio", "other".
func (t *Tokenizer) Modality() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.h == nil {
		return ""
	}
	return C.GoString(C.mmg_modality_name(C.mmg_plugin_modality(C.mmg_tokenizer_plugin(t.h))))
}

// HasExtension reports whether the plugin offers extension id for this
// tokenizer (e.g. "mmgen.constraint/1").
func (t *Tokenizer) HasExtension(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.h == nil {
		return false
	}
	cid := C.CString(id)
	defer C.free(unsafe.Pointer(cid))
	return C.mmg_tokenizer_has_extension(t.h, cid) != 0
}
