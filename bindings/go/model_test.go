package mmgen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

var cliSampling = []GenerateOption{Temperature(0.8), TopP(0.95), TopK(0)}

// Generation gives exactly the tokens `mmgen generate --ids` prints.
func TestGenerateMatchesCLI(t *testing.T) {
	m := loadModel(t)
	tok, err := m.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	eos, err := tok.SpecialToken("eos")
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int32{1, 2, 3, 40}
	for _, seed := range []uint64{5, 1234} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			printed, err := cli("generate", "-m", modelPath, "--prompt-ids", "1 2 3 40", "--ids",
				"--seed", fmt.Sprint(seed), "-n", "20", "--no-constraint", "-T", "0.8", "--top-p", "0.95")
			if err != nil {
				t.Fatal(err)
			}
			var want []int32
			for _, f := range strings.Fields(printed) {
				v, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("the CLI printed %q", printed)
				}
				want = append(want, int32(v))
			}
			opts := append([]GenerateOption{MaxTokens(20), Seed(seed), EndToken(eos)}, cliSampling...)
			ids, err := m.Generate(prompt, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) < 1 {
				t.Fatal("no tokens")
			}
			// the CLI prints the prompt and the new tokens, without a final end token
			got := append([]int32{}, prompt...)
			for _, id := range ids {
				if id != eos {
					got = append(got, id)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Generate gave %v, the CLI %v", got, want)
			}
			t.Logf("seed %d: %v", seed, ids)
			// streamed tokens are the same
			var streamed []int32
			again, err := m.Generate(prompt, append(opts, OnToken(func(i int, id int32) bool {
				if i != len(streamed) {
					t.Errorf("index %d after %d tokens", i, len(streamed))
				}
				streamed = append(streamed, id)
				return false
			}))...)
			if err != nil || !reflect.DeepEqual(again, ids) || !reflect.DeepEqual(streamed, ids) {
				t.Fatalf("with OnToken: %v %v %v, want %v", again, streamed, err, ids)
			}
		})
	}
}

func TestGenerateStopsAndOptions(t *testing.T) {
	m := loadModel(t)
	full, err := m.Generate([]int32{1, 2}, append(cliSampling, MaxTokens(12), Seed(3))...)
	if err != nil || len(full) != 12 {
		t.Fatal(full, err)
	}
	part, err := m.Generate([]int32{1, 2}, append(cliSampling, MaxTokens(12), Seed(3),
		OnToken(func(i int, _ int32) bool { return i == 3 }))...)
	if err != nil || !reflect.DeepEqual(part, full[:4]) {
		t.Fatalf("stopped after 4: %v %v, want %v", part, err, full[:4])
	}
	func() {
		defer func() {
			if r := recover(); r != "from the callback" {
				t.Fatalf("recovered %v", r)
			}
		}()
		m.Generate([]int32{1}, MaxTokens(5), OnToken(func(int, int32) bool { panic("from the callback") }))
		t.Fatal("no panic")
	}()
	// the model still works after the panic, greedy is deterministic
	a, err1 := m.Generate([]int32{1, 2}, MaxTokens(6), Temperature(0))
	b, err2 := m.Generate([]int32{1, 2}, MaxTokens(6), Temperature(0), Seed(99))
	if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
		t.Fatal(a, b, err1, err2)
	}
	// the context holds 32 tokens: after a prompt of 2, the 31st new token is
	// the last (it is never fed back); a huge MaxTokens is fine
	long, err := m.Generate([]int32{1, 2}, MaxTokens(1<<30), Temperature(0))
	if err != nil || len(long) != 31 || !reflect.DeepEqual(long[:6], a) {
		t.Fatal(len(long), err)
	}
	_, err = m.Generate([]int32{1}, TopP(0))
	wantError(t, err, StatusInvalidArg, "top_p")
	_, err = m.Generate([]int32{1}, MaxTokens(0))
	wantError(t, err, StatusInvalidArg, "MaxTokens")
	_, err = m.Generate([]int32{1, 300})
	wantError(t, err, StatusRange)
	if err := m.SetThreads(2); err != nil {
		t.Fatal(err)
	}
	if c, err := m.Generate([]int32{1, 2}, append(cliSampling, MaxTokens(12), Seed(3))...); err != nil || !reflect.DeepEqual(c, full) {
		t.Fatalf("with 2 threads: %v %v", c, err)
	}
}

func TestModelConfigAndMetadata(t *testing.T) {
	m := loadModel(t)
	c, err := m.Config()
	if err != nil {
		t.Fatal(err)
	}
	if c.VocabSize != 300 || c.DModel != 32 || c.NHeads != 2 || c.NDecoderLayers != 1 ||
		c.NEncoderLayers != 0 || c.MaxSeqLen != 32 {
		t.Fatalf("%+v", c)
	}
	js, err := m.ConfigJSON()
	if err != nil || !strings.Contains(js, `"d_model": 32`) && !strings.Contains(js, `"d_model":32`) {
		t.Fatal(js, err)
	}
	if m.NumParams() == 0 {
		t.Fatal("no parameters")
	}
	doc, err := m.Metadata("mmgen.tokenizer")
	if err != nil || !strings.Contains(doc, "mmgen-tokenizer") {
		t.Fatal(doc, err)
	}
	_, err = m.Metadata("no.such.key")
	wantError(t, err, StatusNotFound)
	tok, err := m.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if tok.Plugin() != "text" || tok.VocabSize() != 300 || tok.Modality() != "text" {
		t.Fatal(tok.Plugin(), tok.VocabSize(), tok.Modality())
	}
	_, err = m.SourceTokenizer()
	wantError(t, err, StatusNotFound)
}

func TestParams(t *testing.T) {
	m := loadModel(t)
	params, err := m.Params()
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	byName := map[string]ParamInfo{}
	for _, p := range params {
		n := uint64(1)
		for _, d := range p.Shape {
			n *= uint64(d)
		}
		if n != p.Elements || len(p.Shape) < 1 {
			t.Fatalf("%+v", p)
		}
		total += p.Elements
		byName[p.Name] = p
	}
	if total != m.NumParams() {
		t.Fatalf("the parameters hold %d floats, NumParams says %d", total, m.NumParams())
	}
	emb, ok := byName["tok_emb.weight"]
	if !ok || !reflect.DeepEqual(emb.Shape, []int64{300, 32}) {
		t.Fatalf("tok_emb.weight: %+v", emb)
	}
	w, err := m.ReadParam("tok_emb.weight")
	if err != nil || len(w) != 300*32 {
		t.Fatal(len(w), err)
	}
	edited := append([]float32{}, w...)
	for i := range edited {
		edited[i] *= -2
	}
	if err := m.WriteParam("tok_emb.weight", edited); err != nil {
		t.Fatal(err)
	}
	back, err := m.ReadParam("tok_emb.weight")
	if err != nil || !reflect.DeepEqual(back, edited) {
		t.Fatal("read back differs", err)
	}
	// wrong sizes: RANGE naming the shape, the model unchanged
	for _, n := range []int{0, 1, 300*32 - 1, 300*32 + 1} {
		err = m.WriteParam("tok_emb.weight", make([]float32, n))
		wantError(t, err, StatusRange, "tok_emb.weight", "(300, 32)")
	}
	if back, _ := m.ReadParam("tok_emb.weight"); !reflect.DeepEqual(back, edited) {
		t.Fatal("a refused write changed the model")
	}
	_, err = m.ReadParam("no.such.param")
	wantError(t, err, StatusNotFound, "no.such.param")
	err = m.WriteParam("no.such.param", []float32{1})
	wantError(t, err, StatusNotFound, "no.such.param")
}

// A NaN weight gives StatusNumeric with CheckFinite, naming the position.
func TestCheckFinite(t *testing.T) {
	m := loadModel(t)
	w, err := m.ReadParam("tok_emb.weight")
	if err != nil {
		t.Fatal(err)
	}
	for i := range w {
		w[i] = float32(math.NaN())
	}
	if err := m.WriteParam("tok_emb.weight", w); err != nil {
		t.Fatal(err)
	}
	_, err = m.Generate([]int32{1, 2}, MaxTokens(4), CheckFinite(true))
	t.Log(wantError(t, err, StatusNumeric, "position"))
}

func TestLoadMemoryEqualsLoad(t *testing.T) {
	data, err := os.ReadFile(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	a := loadModel(t)
	b, err := LoadModelMemory(data)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pa, _ := a.Params()
	pb, err := b.Params()
	if err != nil || !reflect.DeepEqual(pa, pb) {
		t.Fatal("the parameter lists differ", err)
	}
	for _, p := range pa {
		x, err1 := a.ReadParam(p.Name)
		y, err2 := b.ReadParam(p.Name)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(x, y) {
			t.Fatalf("%s differs (%v %v)", p.Name, err1, err2)
		}
	}
	ca, _ := a.Config()
	cb, _ := b.Config()
	if ca != cb {
		t.Fatal(ca, cb)
	}
	ga, _ := a.Generate([]int32{5}, MaxTokens(10), Seed(7))
	gb, err := b.Generate([]int32{5}, MaxTokens(10), Seed(7))
	if err != nil || !reflect.DeepEqual(ga, gb) {
		t.Fatal(ga, gb, err)
	}
	_, err = LoadModelMemory(data[:100])
	wantError(t, err, StatusFormat, "<memory>")
	_, err = LoadModelMemory(nil)
	wantError(t, err, StatusFormat)
}

func TestNewModelSaveLoad(t *testing.T) {
	cfg := DefaultConfig()
	cfg.VocabSize, cfg.DModel, cfg.NHeads, cfg.NEncoderLayers, cfg.NDecoderLayers = 50, 16, 2, 0, 1
	cfg.DFF, cfg.MaxSeqLen, cfg.NormPlacement, cfg.PositionEncoding = 32, 16, NormPre, PosLearned
	m, err := NewModel(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got, _ := m.Config(); got != cfg {
		t.Fatalf("%+v != %+v", got, cfg)
	}
	if err := m.SetMetadata("note", "from Go"); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/new.safetensors"
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	again, err := LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if v, err := again.Metadata("note"); v != "from Go" || err != nil {
		t.Fatal(v, err)
	}
	_, err = m.Tokenizer()
	wantError(t, err, StatusNotFound)
	bad := cfg
	bad.NHeads = 3
	_, err = NewModel(bad, 1)
	wantError(t, err, StatusConfig, "n_heads")
	if strconv.IntSize == 64 {
		big := int64(1)<<32 + 50 // would wrap to 50
		bad.NHeads, bad.VocabSize = 2, int(big)
		_, err = NewModel(bad, 1)
		wantError(t, err, StatusConfig, "not an int32")
	}
}

func TestCloseExactlyOnce(t *testing.T) {
	m, err := LoadModel(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Generate([]int32{1}, MaxTokens(2)); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.Close()
	_, err = m.Generate([]int32{1}, MaxTokens(2))
	wantError(t, err, StatusState)
	_, err = m.ReadParam("tok_emb.weight")
	wantError(t, err, StatusState)
	if m.NumParams() != 0 {
		t.Fatal("a closed model has parameters")
	}
}

// Goroutines sharing a model take turns and get the same tokens.
func TestGenerateFromManyGoroutines(t *testing.T) {
	m := loadModel(t)
	want, err := m.Generate([]int32{1, 2}, MaxTokens(10), Seed(11))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			got, err := m.Generate([]int32{1, 2}, MaxTokens(10), Seed(11))
			if err == nil && !reflect.DeepEqual(got, want) {
				err = fmt.Errorf("got %v, want %v", got, want)
			}
			errs <- err
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// Objects that are never closed are freed by their finalizers (a trainer
// before its model), without double frees (ASan checks in sanitizer builds).
func TestFinalizers(t *testing.T) {
	func() {
		m, err := LoadModel(modelPath)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := m.Tokenizer()
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := tok.Encode(corpus[:2000])
		opts := DefaultTrainOptions()
		opts.BatchSize, opts.SeqLen = 1, 8
		tr, err := NewTrainer(m, ids, &opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
		m.Generate([]int32{1}, MaxTokens(2))
	}()
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// LoadModelWeights quantizes as `mmgen quantize` does: the same tokens and
// dequantized weights as the CLI's file; quantized tensors refuse writes.
func TestLoadModelWeights(t *testing.T) {
	const linear = "decoder.layers.0.ff.fc1.weight"
	reference, err := loadModel(t).ReadParam(linear)
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int32{1, 2, 3, 40}
	for _, c := range []struct {
		name string
		w    Weights
	}{{"q8_0", WeightsQ8_0}, {"q4_0", WeightsQ4_0}, {"f16", WeightsF16}} {
		file := filepath.Join(t.TempDir(), "m-"+c.name+".safetensors")
		if _, err := cli("quantize", modelPath, file, "--type", c.name); err != nil {
			t.Fatal(err)
		}
		a, err := LoadModelWeights(modelPath, c.w)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := LoadModel(file)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ta, err1 := a.Generate(prompt, MaxTokens(12), Seed(3))
		tb, err2 := b.Generate(prompt, MaxTokens(12), Seed(3))
		if err1 != nil || err2 != nil || !reflect.DeepEqual(ta, tb) {
			t.Fatalf("%s: %v / %v, errors %v %v", c.name, ta, tb, err1, err2)
		}
		wa, _ := a.ReadParam(linear)
		wb, _ := b.ReadParam(linear)
		if !reflect.DeepEqual(wa, wb) || reflect.DeepEqual(wa, reference) {
			t.Fatalf("%s: the weights are not the CLI's quantized ones", c.name)
		}
		wantError(t, a.WriteParam(linear, reference), StatusUnsupported, linear)
		f, err := LoadModelWeights(file, WeightsF32) // dequantized: writable again
		if err != nil {
			t.Fatal(err)
		}
		if err := f.WriteParam(linear, reference); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	_, err = LoadModelWeights(modelPath, Weights(9))
	wantError(t, err, StatusInvalidArg, "unknown weight format 9")
}

// Weights as bytes (ABI 1.6): ReadParamData gives a quantized model's blocks,
// which Quantize makes from the F32 weights and Dequantize turns back into
// the floats ReadParam gives.
func TestWeightsAsBytes(t *testing.T) {
	const linear = "decoder.layers.0.ff.fc1.weight"
	f32 := loadModel(t)
	w, err := f32.ReadParam(linear)
	if err != nil {
		t.Fatal(err)
	}
	q4, err := LoadModelWeights(modelPath, WeightsQ4_0)
	if err != nil {
		t.Fatal(err)
	}
	defer q4.Close()
	format, data, err := q4.ReadParamData(linear)
	if err != nil || format != WeightsQ4_0 || len(data) != len(w)/32*18 {
		t.Fatalf("ReadParamData: format %d, %d bytes, %v", format, len(data), err)
	}
	if n, err := WeightsSize(WeightsQ4_0, len(w)); err != nil || n != len(data) {
		t.Fatalf("WeightsSize: %d, %v", n, err)
	}
	if q, err := Quantize(w, WeightsQ4_0); err != nil || !bytes.Equal(q, data) {
		t.Fatalf("Quantize differs from the model's blocks (%v)", err)
	}
	back, err := Dequantize(data, WeightsQ4_0, len(w))
	want, _ := q4.ReadParam(linear)
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Fatalf("Dequantize differs from ReadParam (%v)", err)
	}
	format, data, err = f32.ReadParamData("tok_emb.weight")
	table, _ := f32.ReadParam("tok_emb.weight")
	if err != nil || format != WeightsF32 || len(data) != 4*len(table) ||
		math.Float32frombits(binary.LittleEndian.Uint32(data[4:])) != table[1] {
		t.Fatalf("tok_emb.weight as bytes: format %d, %d bytes, %v", format, len(data), err)
	}
	halves, err := Quantize([]float32{1.0, -2.5, 65504.0}, WeightsF16)
	if err != nil || !bytes.Equal(halves, []byte{0x00, 0x3c, 0x00, 0xc1, 0xff, 0x7b}) {
		t.Fatalf("F16 halves: % x, %v", halves, err)
	}
	if f, err := Dequantize(halves, WeightsF16, 3); err != nil || !reflect.DeepEqual(f, []float32{1.0, -2.5, 65504.0}) {
		t.Fatalf("F16 back: %v, %v", f, err)
	}
	_, err = Quantize(make([]float32, 33), WeightsQ8_0)
	wantError(t, err, StatusInvalidArg, "33 elements")
	nans := make([]float32, 32)
	for i := range nans {
		nans[i] = float32(math.NaN())
	}
	_, err = Quantize(nans, WeightsQ8_0)
	wantError(t, err, StatusNumeric, "elements 0..31")
	_, err = Dequantize([]byte("abc"), WeightsQ8_0, 32)
	wantError(t, err, StatusRange)
	_, err = Quantize(make([]float32, 32), WeightsAsStored)
	wantError(t, err, StatusInvalidArg, "not weight format 0")
	_, _, err = q4.ReadParamData("no.such.weight")
	wantError(t, err, StatusNotFound)
}

// LoadModelQuantized(..., true) keeps the token embedding in the weights'
// type (ABI 1.6); an F32 model ignores it.
func TestLoadModelQuantizedEmbedding(t *testing.T) {
	table, err := loadModel(t).ReadParam("tok_emb.weight")
	if err != nil {
		t.Fatal(err)
	}
	same, err := LoadModelQuantized(modelPath, WeightsAsStored, true)
	if err != nil {
		t.Fatal(err)
	}
	defer same.Close()
	if format, _, err := same.ReadParamData("tok_emb.weight"); err != nil || format != WeightsF32 {
		t.Fatalf("an F32 model: format %d, %v", format, err)
	}
	for _, w := range []Weights{WeightsQ8_0, WeightsQ4_0, WeightsF16} {
		q, err := LoadModelQuantized(modelPath, w, true)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		blocks, err := Quantize(table, w)
		if err != nil {
			t.Fatal(err)
		}
		format, data, err := q.ReadParamData("tok_emb.weight")
		if err != nil || format != w || !bytes.Equal(data, blocks) {
			t.Fatalf("weights %d: the embedding is format %d (%v), not the quantizer's blocks", w, format, err)
		}
		back, _ := Dequantize(blocks, w, len(table))
		if got, err := q.ReadParam("tok_emb.weight"); err != nil || !reflect.DeepEqual(got, back) {
			t.Fatalf("weights %d: ReadParam is not the dequantized blocks (%v)", w, err)
		}
		if ids, err := q.Generate([]int32{1, 2, 3, 40}, MaxTokens(8), Seed(3)); err != nil || len(ids) == 0 {
			t.Fatalf("weights %d: generate %v, %v", w, ids, err)
		}
	}
}
