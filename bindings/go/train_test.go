package mmgen

import (
	"math"
	"testing"
)

func TestTrainer(t *testing.T) {
	tok := fittedTokenizer(t)
	tokens, err := tok.Encode(corpus[:4000])
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.VocabSize, cfg.DModel, cfg.NHeads, cfg.NEncoderLayers, cfg.NDecoderLayers = tok.VocabSize(), 16, 2, 0, 1
	cfg.DFF, cfg.MaxSeqLen = 32, 16
	m, err := NewModel(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	opts := DefaultTrainOptions()
	if opts.LearningRate <= 0 || opts.BatchSize < 1 {
		t.Fatalf("%+v", opts)
	}
	opts.BatchSize, opts.SeqLen, opts.LearningRate = 2, 16, 1e-2
	tr, err := NewTrainer(m, tokens, &opts)
	if err != nil {
		t.Fatal(err)
	}
	zero, err := tr.ReadGrad("tok_emb.weight")
	if err != nil || len(zero) != tok.VocabSize()*16 {
		t.Fatal(len(zero), err)
	}
	before, _ := m.ReadParam("tok_emb.weight")
	for i := 0; i < 3; i++ {
		loss, err := tr.Step()
		if err != nil || math.IsNaN(float64(loss)) || loss <= 0 {
			t.Fatal(loss, err)
		}
	}
	if tr.StepsDone() != 3 || tr.LearningRate() <= 0 || tr.LastGradNorm() <= 0 {
		t.Fatal(tr.StepsDone(), tr.LearningRate(), tr.LastGradNorm())
	}
	grad, err := tr.ReadGrad("tok_emb.weight")
	if err != nil {
		t.Fatal(err)
	}
	nonzero := 0
	for _, g := range grad {
		if g != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("the gradient is all zeros after a step")
	}
	after, _ := m.ReadParam("tok_emb.weight")
	same := true
	for i := range after {
		same = same && after[i] == before[i]
	}
	if same {
		t.Fatal("training did not change the weights")
	}
	_, err = tr.ReadGrad("no.such.param")
	wantError(t, err, StatusNotFound, "no.such.param")

	ckpt := t.TempDir() + "/ckpt.safetensors"
	if err := tr.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	if err := tr.Load(ckpt); err != nil || tr.StepsDone() != 3 {
		t.Fatal(err, tr.StepsDone())
	}

	bad := opts
	bad.LearningRate = 0
	_, err = NewTrainer(m, tokens, &bad)
	wantError(t, err, StatusInvalidArg, "learning_rate")
	_, err = NewTrainer(m, tokens[:5], &opts)
	wantError(t, err, StatusRange)

	// closing the model closes its trainer
	m.Close()
	_, err = tr.Step()
	wantError(t, err, StatusState)
	tr.Close()
}
