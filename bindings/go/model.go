package mmgen

// Models (mmgen/model.h): loading, configs, metadata, parameters by name.
// Generation is in generate.go, training in train.go.

// #include <stdlib.h>
// #include <mmgen/mmgen.h>
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// NormPlacement is where LayerNorm sits around each sub-layer.
type NormPlacement int32

const (
	NormPost NormPlacement = C.MMG_NORM_POST // the paper's, PyTorch's default
	NormPre  NormPlacement = C.MMG_NORM_PRE  // GPT-2's
)

// Activation is the feed-forward activation.
type Activation int32

const (
	ActReLU     Activation = C.MMG_ACT_RELU
	ActGELU     Activation = C.MMG_ACT_GELU      // exact, with erf
	ActGELUTanh Activation = C.MMG_ACT_GELU_TANH // GPT-2's approximation
)

// PositionEncoding is how positions enter the embeddings.
type PositionEncoding int32

const (
	PosSinusoidal PositionEncoding = C.MMG_POS_SINUSOIDAL
	PosLearned    PositionEncoding = C.MMG_POS_LEARNED
	PosNone       PositionEncoding = C.MMG_POS_NONE
)

// Config is a model's architecture (mmg_model_config). Start from
// DefaultConfig(): the zero value is not a valid config.
type Config struct {
	VocabSize        int
	DModel           int
	NHeads           int
	NEncoderLayers   int // 0: decoder-only
	NDecoderLayers   int
	DFF              int
	MaxSeqLen        int
	NormPlacement    NormPlacement
	FinalNorm        bool
	Activation       Activation
	PositionEncoding PositionEncoding
	TiedOutput       bool
	Bias             bool
	ScaleEmbeddings  bool
	LayerNormEps     float32
	NormBias         bool
}

// DefaultConfig is the library's default architecture (the paper's base
// model); VocabSize is 0 and must be set.
func DefaultConfig() Config {
	var c C.mmg_model_config
	C.mmg_model_config_init(&c, C.size_t(unsafe.Sizeof(c)))
	return configFromC(&c)
}

func configFromC(c *C.mmg_model_config) Config {
	return Config{
		VocabSize: int(c.vocab_size), DModel: int(c.d_model), NHeads: int(c.n_heads),
		NEncoderLayers: int(c.n_encoder_layers), NDecoderLayers: int(c.n_decoder_layers),
		DFF: int(c.d_ff), MaxSeqLen: int(c.max_seq_len),
		NormPlacement: NormPlacement(c.norm_placement), FinalNorm: c.final_norm != 0,
		Activation: Activation(c.activation), PositionEncoding: PositionEncoding(c.position_encoding),
		TiedOutput: c.tied_output != 0, Bias: c.bias != 0, ScaleEmbeddings: c.scale_embeddings != 0,
		LayerNormEps: float32(c.layernorm_eps), NormBias: c.norm_bias != 0,
	}
}

// fitInt32 reports whether every value survives conversion to int32_t.
func fitInt32(vals ...int) bool {
	for _, v := range vals {
		if int(int32(v)) != v {
			return false
		}
	}
	return true
}

func cBool(b bool) C.int32_t {
	if b {
		return 1
	}
	return 0
}

func (cfg *Config) toC(c *C.mmg_model_config) {
	C.mmg_model_config_init(c, C.size_t(unsafe.Sizeof(*c)))
	c.vocab_size, c.d_model, c.n_heads = C.int32_t(cfg.VocabSize), C.int32_t(cfg.DModel), C.int32_t(cfg.NHeads)
	c.n_encoder_layers, c.n_decoder_layers = C.int32_t(cfg.NEncoderLayers), C.int32_t(cfg.NDecoderLayers)
	c.d_ff, c.max_seq_len = C.int32_t(cfg.DFF), C.int32_t(cfg.MaxSeqLen)
	c.norm_placement, c.final_norm = C.int32_t(cfg.NormPlacement), cBool(cfg.FinalNorm)
	c.activation, c.position_encoding = C.int32_t(cfg.Activation), C.int32_t(cfg.PositionEncoding)
	c.tied_output, c.bias, c.scale_embeddings = cBool(cfg.TiedOutput), cBool(cfg.Bias), cBool(cfg.ScaleEmbeddings)
	c.layernorm_eps, c.norm_bias = C.float(cfg.LayerNormEps), cBool(cfg.NormBias)
}

// Model is a transformer with its generation context. Its methods may be
// called from any goroutine: they take turns (the library's context and
// trainer are one thread per object). Close it when done; a finalizer frees
// a forgotten one.
type Model struct {
	mu        sync.Mutex
	h         *C.mmg_model
	ctx       *C.mmg_context // made by the first Generate
	ctxFinite bool           // the context's check_finite
	threads   int
	trainers  map[*trainerState]struct{} // freed before the model
}

func newModel(h *C.mmg_model) *Model {
	m := &Model{h: h, trainers: map[*trainerState]struct{}{}}
	runtime.SetFinalizer(m, func(m *Model) { m.Close() })
	return m
}

// LoadModel loads a safetensors model written by `mmgen train` or Save.
func LoadModel(path string) (*Model, error) {
	if err := ready(); err != nil {
		return nil, err
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var h *C.mmg_model
	if err := call("loading "+path, func() C.mmg_status { return C.mmg_model_load(cpath, nil, &h) }); err != nil {
		return nil, err
	}
	return newModel(h), nil
}

// Weights is what a model keeps its linear layers' weights in
// (mmg_weight_format, ABI.md "Quantized weights").
type Weights int32

const (
	// WeightsAsStored loads a file as it is stored (a quantized file stays quantized).
	WeightsAsStored Weights = C.MMG_WEIGHTS_DEFAULT
	// WeightsF32 dequantizes a quantized file (to train from it).
	WeightsF32 Weights = C.MMG_WEIGHTS_F32
	// WeightsQ8_0 keeps GGUF's Q8_0 blocks, for inference (ABI 1.3).
	WeightsQ8_0 Weights = C.MMG_WEIGHTS_Q8_0
	// WeightsQ4_0 keeps GGUF's Q4_0 blocks, for inference (ABI 1.5).
	WeightsQ4_0 Weights = C.MMG_WEIGHTS_Q4_0
	// WeightsF16 keeps IEEE halves, computed as such, for inference (ABI 1.5).
	WeightsF16 Weights = C.MMG_WEIGHTS_F16
)

// LoadModelWeights loads a model file keeping its linear layers' weights in
// w: WeightsQ8_0, WeightsQ4_0 or WeightsF16 quantize an F32 file while
// reading it (as `mmgen quantize` does), WeightsF32 dequantizes a quantized
// one. A quantized model is for inference: WriteParam refuses its quantized
// tensors. StatusUnsupported when the library predates the format.
func LoadModelWeights(path string, w Weights) (*Model, error) {
	return LoadModelQuantized(path, w, false)
}

// LoadModelQuantized is LoadModelWeights, and with quantizeEmbedding a
// quantized model keeps its token embedding in that type too, as GGUF files
// do (mmg_model_options.quantize_embedding, ABI 1.6; ignored for F32
// models). StatusUnsupported from a library older than 1.6.
func LoadModelQuantized(path string, w Weights, quantizeEmbedding bool) (*Model, error) {
	if err := ready(); err != nil {
		return nil, err
	}
	if quantizeEmbedding {
		if err := needABI16("loading " + path); err != nil {
			return nil, err
		}
	}
	minor := C.uint32_t(3)
	switch w {
	case WeightsAsStored, WeightsF32, WeightsQ8_0:
	case WeightsQ4_0, WeightsF16:
		minor = 5
	default:
		return nil, newError(StatusInvalidArg, "loading "+path, fmt.Sprintf("unknown weight format %d", int32(w)))
	}
	if C.mmg_abi_compatible(1, minor) == 0 {
		return nil, newError(StatusUnsupported, "loading "+path,
			fmt.Sprintf("weight format %d needs libmmgen ABI 1.%d", int32(w), minor))
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var o C.mmg_model_options
	C.mmg_model_options_init(&o, C.size_t(unsafe.Sizeof(o)))
	o.weights = C.int32_t(w)
	if quantizeEmbedding {
		o.quantize_embedding = 1
	}
	var h *C.mmg_model
	if err := call("loading "+path, func() C.mmg_status { return C.mmg_model_load(cpath, &o, &h) }); err != nil {
		return nil, err
	}
	return newModel(h), nil
}

// LoadModelMemory loads a model from the bytes of a safetensors file, as
// LoadModel does from its path. The model keeps no reference to data.
func LoadModelMemory(data []byte) (*Model, error) {
	if err := ready(); err != nil {
		return nil, err
	}
	var p unsafe.Pointer
	var one [1]byte
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	} else {
		p = unsafe.Pointer(&one[0]) // an empty file: FORMAT, not a NULL argument
	}
	var h *C.mmg_model
	err := call("loading a model from memory", func() C.mmg_status {
		return C.mmg_model_load_memory(p, C.size_t(len(data)), nil, &h)
	})
	if err != nil {
		return nil, err
	}
	return newModel(h), nil
}

// NewModel creates a model with random weights drawn from seed (the same
// seed gives the same weights on every machine).
func NewModel(cfg Config, seed uint64) (*Model, error) {
	if err := ready(); err != nil {
		return nil, err
	}
	if !fitInt32(cfg.VocabSize, cfg.DModel, cfg.NHeads, cfg.NEncoderLayers, cfg.NDecoderLayers, cfg.DFF, cfg.MaxSeqLen) {
		return nil, newError(StatusConfig, "creating a model", fmt.Sprintf("a size of %+v is not an int32", cfg))
	}
	var c C.mmg_model_config
	cfg.toC(&c)
	var o C.mmg_model_options
	C.mmg_model_options_init(&o, C.size_t(unsafe.Sizeof(o)))
	o.seed = C.uint64_t(seed)
	var h *C.mmg_model
	if err := call("creating a model", func() C.mmg_status { return C.mmg_model_create(&c, &o, &h) }); err != nil {
		return nil, err
	}
	return newModel(h), nil
}

// Close frees the model, its context and any trainer still open on it.
// Later calls do nothing; methods of a closed model return StatusState.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for st := range m.trainers {
		st.free()
	}
	m.trainers = nil
	if m.ctx != nil {
		C.mmg_context_free(m.ctx)
		m.ctx = nil
	}
	if m.h != nil {
		C.mmg_model_free(m.h)
		m.h = nil
	}
	runtime.SetFinalizer(m, nil)
	return nil
}

// handle returns the C model; the caller holds m.mu.
func (m *Model) handle(op string) (*C.mmg_model, error) {
	if m.h == nil {
		return nil, newError(StatusState, op, "the model is closed")
	}
	return m.h, nil
}

// Save writes the model with its config and metadata to path (safetensors).
func (m *Model) Save(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := "saving " + path
	h, err := m.handle(op)
	if err != nil {
		return err
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return call(op, func() C.mmg_status { return C.mmg_model_save(h, cpath) })
}

// Config is the model's architecture.
func (m *Model) Config() (Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle("reading the config")
	if err != nil {
		return Config{}, err
	}
	var c C.mmg_model_config
	C.mmg_model_config_init(&c, C.size_t(unsafe.Sizeof(c)))
	if err := call("reading the config", func() C.mmg_status { return C.mmg_model_get_config(h, &c) }); err != nil {
		return Config{}, err
	}
	return configFromC(&c), nil
}

// ConfigJSON is the model's architecture as the JSON object model files
// carry under "mmgen.config".
func (m *Model) ConfigJSON() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle("reading the config")
	if err != nil {
		return "", err
	}
	var c C.mmg_model_config
	C.mmg_model_config_init(&c, C.size_t(unsafe.Sizeof(c)))
	var out *C.char
	err = call("writing the config as JSON", func() C.mmg_status {
		if st := C.mmg_model_get_config(h, &c); st != C.MMG_OK {
			return st
		}
		return C.mmg_model_config_to_json(&c, &out)
	})
	if err != nil {
		return "", err
	}
	defer C.mmg_free(unsafe.Pointer(out))
	return C.GoString(out), nil
}

// NumParams is the number of parameters (floats).
func (m *Model) NumParams() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(C.mmg_model_n_params(m.h)) // 0 for a closed model
}

// Metadata is the model's string metadata entry key; an *Error with
// StatusNotFound when there is none.
func (m *Model) Metadata(key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := fmt.Sprintf("reading metadata %q", key)
	h, err := m.handle(op)
	if err != nil {
		return "", err
	}
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	var v *C.char
	if err := call(op, func() C.mmg_status { return C.mmg_model_get_metadata(h, ckey, &v) }); err != nil {
		return "", err
	}
	return C.GoString(v), nil
}

// SetMetadata sets the metadata entry key (saved by Save).
func (m *Model) SetMetadata(key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := fmt.Sprintf("setting metadata %q", key)
	h, err := m.handle(op)
	if err != nil {
		return err
	}
	ckey, cval := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(ckey))
	defer C.free(unsafe.Pointer(cval))
	return call(op, func() C.mmg_status { return C.mmg_model_set_metadata(h, ckey, cval) })
}

// Tokenizer restores the tokenizer the model carries ("mmgen.tokenizer"),
// StatusNotFound when it has none. The caller owns it: Close it.
func (m *Model) Tokenizer() (*Tokenizer, error) { return m.tokenizer(C.MMG_METADATA_TOKENIZER) }

// SourceTokenizer restores an encoder-decoder's source tokenizer
// ("mmgen.source_tokenizer"), StatusNotFound when the model has one tokenizer.
func (m *Model) SourceTokenizer() (*Tokenizer, error) {
	return m.tokenizer(C.MMG_METADATA_SOURCE_TOKENIZER)
}

func (m *Model) tokenizer(key string) (*Tokenizer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := "restoring the model's tokenizer " + key
	h, err := m.handle(op)
	if err != nil {
		return nil, err
	}
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	var t *C.mmg_tokenizer
	if err := call(op, func() C.mmg_status { return C.mmg_model_tokenizer(h, ckey, &t) }); err != nil {
		return nil, err
	}
	return newTokenizer(t), nil
}

// ---- parameters by name ---------------------------------------------------

// ParamInfo names one parameter tensor and gives its shape (row-major).
type ParamInfo struct {
	Name     string
	Shape    []int64
	Elements uint64 // the product of Shape: the floats ReadParam returns
}

func paramFromC(p *C.mmg_param_info) ParamInfo {
	info := ParamInfo{Name: C.GoString(p.name), Elements: uint64(p.n_elements)}
	for d := 0; d < int(p.n_dims); d++ {
		info.Shape = append(info.Shape, int64(p.shape[d]))
	}
	return info
}

// Params lists the model's parameters in their fixed order (the order Save
// writes them).
func (m *Model) Params() ([]ParamInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle("listing parameters")
	if err != nil {
		return nil, err
	}
	n := int(C.mmg_model_param_count(h))
	params := make([]ParamInfo, 0, n)
	for i := 0; i < n; i++ {
		var p C.mmg_param_info
		p.struct_size = C.size_t(unsafe.Sizeof(p))
		if err := call("listing parameters", func() C.mmg_status { return C.mmg_model_param_info(h, C.size_t(i), &p) }); err != nil {
			return nil, err
		}
		params = append(params, paramFromC(&p))
	}
	return params, nil
}

// paramElements is the element count of parameter cname; m.mu held.
func paramElements(h *C.mmg_model, cname *C.char, op string) (int, error) {
	var idx C.size_t
	var p C.mmg_param_info
	p.struct_size = C.size_t(unsafe.Sizeof(p))
	err := call(op, func() C.mmg_status {
		if st := C.mmg_model_param_find(h, cname, &idx); st != C.MMG_OK {
			return st
		}
		return C.mmg_model_param_info(h, idx, &p)
	})
	return int(p.n_elements), err
}

// ReadParam copies parameter name out of the model (row-major floats).
// StatusNotFound for an unknown name.
func (m *Model) ReadParam(name string) ([]float32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := fmt.Sprintf("reading parameter %q", name)
	h, err := m.handle(op)
	if err != nil {
		return nil, err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	n, err := paramElements(h, cname, op)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, n)
	err = call(op, func() C.mmg_status {
		return C.mmg_model_read_param(h, cname, (*C.float)(&dst[0]), C.size_t(n))
	})
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// needABI16 is StatusUnsupported unless the library serves ABI 1.6 (weights
// as bytes, the quantized token embedding).
func needABI16(op string) error {
	if C.mmg_abi_compatible(1, 6) == 0 {
		return newError(StatusUnsupported, op, "this needs libmmgen ABI 1.6")
	}
	return nil
}

// storedFormat checks that w names a format bytes are in (not WeightsAsStored).
func storedFormat(w Weights, op string) error {
	switch w {
	case WeightsF32, WeightsQ8_0, WeightsQ4_0, WeightsF16:
		return needABI16(op)
	}
	return newError(StatusInvalidArg, op, fmt.Sprintf("bytes are F32, Q8_0, Q4_0 or F16, not weight format %d", int32(w)))
}

// WeightsSize is the number of bytes n weights take in format w (Q8_0 and
// Q4_0 in blocks of 32); 0 when n is not whole blocks (mmg_weights_size,
// ABI 1.6).
func WeightsSize(w Weights, n int) (int, error) {
	if err := ready(); err != nil {
		return 0, err
	}
	if err := storedFormat(w, "WeightsSize"); err != nil {
		return 0, err
	}
	return int(C.mmg_weights_size(C.int32_t(w), C.uint64_t(n))), nil
}

// Quantize returns values in format w: the layout of GGUF tensors and of
// mmgen's files, made by the library's own quantizer (mmg_quantize, ABI 1.6).
// StatusInvalidArg for a count that is not whole blocks, StatusNumeric for a
// value the format cannot hold.
func Quantize(values []float32, w Weights) ([]byte, error) {
	op := fmt.Sprintf("quantizing %d values", len(values))
	if err := ready(); err != nil {
		return nil, err
	}
	if err := storedFormat(w, op); err != nil {
		return nil, err
	}
	size := int(C.mmg_weights_size(C.int32_t(w), C.uint64_t(len(values))))
	out := make([]byte, size+1) // +1: an address even for 0 bytes; the library names the problem
	src := values
	if len(src) == 0 {
		src = []float32{0}
	}
	err := call(op, func() C.mmg_status {
		return C.mmg_quantize(C.int32_t(w), (*C.float)(&src[0]), C.uint64_t(len(values)), unsafe.Pointer(&out[0]),
			C.size_t(size))
	})
	if err != nil {
		return nil, err
	}
	return out[:size], nil
}

// Dequantize returns the n floats that data (bytes of format w, as Quantize
// and ReadParamData give them) holds (mmg_dequantize, ABI 1.6).
func Dequantize(data []byte, w Weights, n int) ([]float32, error) {
	op := fmt.Sprintf("dequantizing %d bytes", len(data))
	if err := ready(); err != nil {
		return nil, err
	}
	if err := storedFormat(w, op); err != nil {
		return nil, err
	}
	out := make([]float32, n+1)
	src := data
	if len(src) == 0 {
		src = []byte{0}
	}
	err := call(op, func() C.mmg_status {
		return C.mmg_dequantize(C.int32_t(w), unsafe.Pointer(&src[0]), C.size_t(len(data)), (*C.float)(&out[0]),
			C.uint64_t(n))
	})
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}

// ReadParamData returns parameter name as the model stores it: its format
// (WeightsF32, or for a quantized model's linear weights and token embedding
// WeightsQ8_0, WeightsQ4_0 or WeightsF16) and its bytes in the layout of GGUF
// tensors (Dequantize turns them into floats). mmg_model_read_param_data,
// ABI 1.6.
func (m *Model) ReadParamData(name string) (Weights, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := fmt.Sprintf("reading parameter %q", name)
	h, err := m.handle(op)
	if err != nil {
		return 0, nil, err
	}
	if err := needABI16(op); err != nil {
		return 0, nil, err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var idx C.size_t
	var p C.mmg_param_info
	p.struct_size = C.size_t(unsafe.Sizeof(p))
	err = call(op, func() C.mmg_status {
		if st := C.mmg_model_param_find(h, cname, &idx); st != C.MMG_OK {
			return st
		}
		return C.mmg_model_param_info(h, idx, &p)
	})
	if err != nil {
		return 0, nil, err
	}
	out := make([]byte, int(p.n_bytes)+1)
	err = call(op, func() C.mmg_status {
		return C.mmg_model_read_param_data(h, cname, unsafe.Pointer(&out[0]), C.size_t(p.n_bytes))
	})
	if err != nil {
		return 0, nil, err
	}
	return Weights(p.weights), out[:p.n_bytes], nil
}

// WriteParam overwrites parameter name with values, which must hold exactly
// its element count (else StatusRange, the message giving the shape; the
// model is unchanged). Values are stored as given, NaN included (see
// CheckFinite). A tied output projection is "tok_emb.weight".
func (m *Model) WriteParam(name string, values []float32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := fmt.Sprintf("writing parameter %q", name)
	h, err := m.handle(op)
	if err != nil {
		return err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var one [1]float32
	src := &one[0] // an empty slice still gets the library's RANGE message
	if len(values) > 0 {
		src = &values[0]
	}
	return call(op, func() C.mmg_status {
		return C.mmg_model_write_param(h, cname, (*C.float)(src), C.size_t(len(values)))
	})
}
