package mmgen

// Training (mmgen/train.h): a trainer that updates a model in place with
// AdamW on packed windows of a token sequence held in memory.

// #include <stdlib.h>
// #include <mmgen/mmgen.h>
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// TrainOptions configures NewTrainer. Start from DefaultTrainOptions(): the
// zero value is not valid (a learning rate of 0).
type TrainOptions struct {
	BatchSize       int     // sequences per batch (default 8)
	SeqLen          int     // tokens per row (default 256; at most the model's MaxSeqLen)
	Seed            uint64  // shuffling and dropout seed (default 0)
	LearningRate    float32 // peak (default 1e-3)
	MinLearningRate float32 // reached at DecaySteps; negative: LearningRate/10
	WarmupSteps     int64
	DecaySteps      int64 // cosine decay ends here; 0: constant after warm-up
	Beta1, Beta2    float32
	Eps             float32
	WeightDecay     float32
	GradClip        float32 // global norm; 0 = off
	GradAccumSteps  int     // Step calls per optimizer update (default 1)
	Dropout         float32
	LabelSmoothing  float32
	Threads         int    // 0: $MMGEN_NUM_THREADS, else the cores
	MemoryLimit     uint64 // bytes; 0: physical memory
}

// DefaultTrainOptions are the library's defaults (mmg_train_options_init,
// mmg_loader_options_init).
func DefaultTrainOptions() TrainOptions {
	var to C.mmg_train_options
	C.mmg_train_options_init(&to, C.size_t(unsafe.Sizeof(to)))
	var lo C.mmg_loader_options
	C.mmg_loader_options_init(&lo, C.size_t(unsafe.Sizeof(lo)))
	return TrainOptions{
		BatchSize: int(lo.batch_size), SeqLen: int(lo.seq_len), Seed: uint64(to.seed),
		LearningRate: float32(to.learning_rate), MinLearningRate: float32(to.min_learning_rate),
		WarmupSteps: int64(to.warmup_steps), DecaySteps: int64(to.decay_steps),
		Beta1: float32(to.beta1), Beta2: float32(to.beta2), Eps: float32(to.eps),
		WeightDecay: float32(to.weight_decay), GradClip: float32(to.grad_clip),
		GradAccumSteps: int(to.grad_accum_steps), Dropout: float32(to.dropout),
		LabelSmoothing: float32(to.label_smoothing), Threads: int(to.n_threads),
		MemoryLimit: uint64(to.memory_limit),
	}
}

// trainerState holds the C objects of a trainer. The model keeps a set of
// them (not of Trainers) so that Model.Close can free them first without a
// Model <-> Trainer reference cycle, which would keep finalizers from
// running. Guarded by the model's mutex.
type trainerState struct {
	tr     *C.mmg_trainer
	loader *C.mmg_loader
	ds     *C.mmg_dataset
}

func (s *trainerState) free() {
	C.mmg_trainer_free(s.tr) // the trainer before the loader, the loader before its dataset
	C.mmg_loader_free(s.loader)
	C.mmg_dataset_free(s.ds)
	s.tr, s.loader, s.ds = nil, nil, nil
}

// Trainer trains a model in place. While it is open the model's other
// methods still work (they take turns with Step), but the weights change.
type Trainer struct {
	model *Model
	st    *trainerState
}

// NewTrainer makes a trainer for m over tokens (packed windows of SeqLen+1
// tokens, drawn at random). opts nil means DefaultTrainOptions().
func NewTrainer(m *Model, tokens []int32, opts *TrainOptions) (*Trainer, error) {
	if err := ready(); err != nil {
		return nil, err
	}
	o := DefaultTrainOptions()
	if opts != nil {
		o = *opts
	}
	if !fitInt32(o.BatchSize, o.SeqLen, o.GradAccumSteps, o.Threads) {
		return nil, newError(StatusInvalidArg, "creating a trainer", fmt.Sprintf("a count of %+v is not an int32", o))
	}
	var lo C.mmg_loader_options
	C.mmg_loader_options_init(&lo, C.size_t(unsafe.Sizeof(lo)))
	lo.batch_size, lo.seq_len, lo.seed = C.int32_t(o.BatchSize), C.int32_t(o.SeqLen), C.uint64_t(o.Seed)
	var to C.mmg_train_options
	C.mmg_train_options_init(&to, C.size_t(unsafe.Sizeof(to)))
	to.learning_rate, to.min_learning_rate = C.float(o.LearningRate), C.float(o.MinLearningRate)
	to.warmup_steps, to.decay_steps = C.int64_t(o.WarmupSteps), C.int64_t(o.DecaySteps)
	to.beta1, to.beta2, to.eps = C.float(o.Beta1), C.float(o.Beta2), C.float(o.Eps)
	to.weight_decay, to.grad_clip = C.float(o.WeightDecay), C.float(o.GradClip)
	to.grad_accum_steps, to.dropout = C.int32_t(o.GradAccumSteps), C.float(o.Dropout)
	to.label_smoothing, to.seed = C.float(o.LabelSmoothing), C.uint64_t(o.Seed)
	to.n_threads, to.memory_limit = C.int32_t(o.Threads), C.uint64_t(o.MemoryLimit)

	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle("creating a trainer")
	if err != nil {
		return nil, err
	}
	st := &trainerState{}
	var one [1]int32
	p := &one[0] // no tokens: the library's own message
	if len(tokens) > 0 {
		p = &tokens[0]
	}
	err = call("making a dataset of the tokens", func() C.mmg_status {
		return C.mmg_dataset_from_tokens((*C.int32_t)(p), C.size_t(len(tokens)), &st.ds)
	})
	if err == nil {
		err = call("making a batch loader", func() C.mmg_status {
			return C.mmg_loader_create_packed(st.ds, &lo, &st.loader)
		})
	}
	if err == nil {
		err = call("creating a trainer", func() C.mmg_status { return C.mmg_trainer_create(h, &to, &st.tr) })
	}
	if err != nil {
		st.free()
		return nil, err
	}
	m.trainers[st] = struct{}{}
	t := &Trainer{model: m, st: st}
	runtime.SetFinalizer(t, func(t *Trainer) { t.Close() })
	return t, nil
}

// Close frees the trainer (the model keeps its trained weights). Later calls
// do nothing. Closing the model closes its trainers.
func (t *Trainer) Close() error {
	t.model.mu.Lock()
	defer t.model.mu.Unlock()
	if t.st.tr != nil {
		t.st.free()
		delete(t.model.trainers, t.st)
	}
	runtime.SetFinalizer(t, nil)
	return nil
}

// locked runs f with the model's mutex held, once the trainer is known open.
func (t *Trainer) locked(op string, f func() error) error {
	t.model.mu.Lock()
	defer t.model.mu.Unlock()
	if t.st.tr == nil {
		return newError(StatusState, op, "the trainer (or its model) is closed")
	}
	return f()
}

// Step trains on the next batch (forward, backward, and an AdamW update every
// GradAccumSteps calls) and returns its mean cross-entropy loss. On
// StatusNumeric (a NaN loss or gradient) no update was applied.
func (t *Trainer) Step() (float32, error) {
	var loss C.float
	err := t.locked("training step", func() error {
		var b *C.mmg_batch
		if err := call("reading the next batch", func() C.mmg_status { return C.mmg_loader_next(t.st.loader, &b) }); err != nil {
			return err
		}
		return call("training step", func() C.mmg_status { return C.mmg_trainer_step(t.st.tr, b, &loss) })
	})
	return float32(loss), err
}

// StepsDone is the number of optimizer updates applied.
func (t *Trainer) StepsDone() int64 {
	var n int64
	_ = t.locked("", func() error { n = int64(C.mmg_trainer_steps_done(t.st.tr)); return nil })
	return n
}

// LearningRate is the rate the next update will use.
func (t *Trainer) LearningRate() float32 {
	var lr float32
	_ = t.locked("", func() error { lr = float32(C.mmg_trainer_learning_rate(t.st.tr)); return nil })
	return lr
}

// LastGradNorm is the global gradient norm (before clipping) of the last update.
func (t *Trainer) LastGradNorm() float32 {
	var g float32
	_ = t.locked("", func() error { g = float32(C.mmg_trainer_last_grad_norm(t.st.tr)); return nil })
	return g
}

// ReadGrad copies the gradient of parameter name (shaped as Model.Params
// says): after an update, the gradient it applied (after clipping); zeros
// before the first. StatusNotFound for an unknown name.
func (t *Trainer) ReadGrad(name string) ([]float32, error) {
	op := fmt.Sprintf("reading the gradient of %q", name)
	var grad []float32
	err := t.locked(op, func() error {
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		n, err := paramElements(t.model.h, cname, op)
		if err != nil {
			return err
		}
		grad = make([]float32, n)
		return call(op, func() C.mmg_status {
			return C.mmg_trainer_read_grad(t.st.tr, cname, (*C.float)(&grad[0]), C.size_t(n))
		})
	})
	if err != nil {
		return nil, err
	}
	return grad, nil
}

// Save writes a checkpoint (weights, optimizer moments, step counters, the
// loader's position) that Load restores, so training continues exactly.
func (t *Trainer) Save(path string) error {
	op := "saving checkpoint " + path
	return t.locked(op, func() error {
		cpath := C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
		return call(op, func() C.mmg_status { return C.mmg_trainer_save(t.st.tr, t.st.loader, cpath) })
	})
}

// Load restores a checkpoint Save wrote (StatusConfig naming the difference
// when it is another model's, with nothing changed).
func (t *Trainer) Load(path string) error {
	op := "loading checkpoint " + path
	return t.locked(op, func() error {
		cpath := C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
		return call(op, func() C.mmg_status { return C.mmg_trainer_load(t.st.tr, t.st.loader, cpath) })
	})
}
