package mmgen

// Generation (mmgen/generate.h, mmgen/sampling.h): one sequence per call,
// with the sampling options as functional options.

/*
#include <stdint.h>
#include <mmgen/mmgen.h>

extern int mmgoOnToken(uintptr_t handle, int32_t sequence, int32_t index, int32_t token);

static int mmgo_on_token(void *user_data, int32_t sequence, int32_t index, int32_t token) {
    return mmgoOnToken((uintptr_t)user_data, sequence, index, token);
}

// One sequence through mmg_generate. The pointer arrays it takes are built
// here on the C stack, so Go never stores a Go pointer (prompt, source) in
// C memory; the library reads them during the call only. handle is a
// runtime/cgo.Handle (an integer, not a pointer) or 0 for no callback.
static mmg_status mmgo_generate(mmg_context *ctx, const mmg_sampling_options *sampling,
                                int32_t max_new, int32_t end_token, int32_t start_token,
                                uintptr_t handle, const int32_t *source, int32_t n_source,
                                const int32_t *prompt, int32_t n_prompt, uint64_t seed,
                                int32_t *out, int32_t *out_len) {
    mmg_generate_options go;
    mmg_generate_options_init(&go, sizeof go);
    go.sampling = sampling;
    go.max_new_tokens = max_new;
    go.end_token = end_token;
    go.start_token = start_token;
    if (handle) {
        go.on_token = mmgo_on_token;
        go.on_token_user_data = (void *)handle;
    }
    const int32_t *prompts[1] = {prompt};
    const int32_t *sources[1] = {source};
    return mmg_generate(ctx, &go, 1, source ? sources : NULL, source ? &n_source : NULL,
                        prompts, &n_prompt, &seed, out, out_len);
}
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// NoToken means "no end token" / "no start token".
const NoToken int32 = -1

// GenerateOption sets one option of Model.Generate. Options left out keep the
// library's defaults (mmgen/sampling.h): temperature 1, top-k and top-p off,
// seed 0, 256 tokens, no end token. The `mmgen generate` command's defaults
// differ (temperature 0.8, top-p 0.95).
type GenerateOption func(*generateConfig)

type generateConfig struct {
	sampling    C.mmg_sampling_options
	maxTokens   int
	endToken    int32
	startToken  int32
	checkFinite bool
	source      []int32
	onToken     func(index int, token int32) bool
}

// MaxTokens sets how many tokens to generate at most (>= 1; default 256).
func MaxTokens(n int) GenerateOption { return func(g *generateConfig) { g.maxTokens = n } }

// Seed sets the random seed: the same seed and options give the same tokens
// on every run and machine, and the same tokens as `mmgen generate --seed`.
func Seed(seed uint64) GenerateOption {
	return func(g *generateConfig) { g.sampling.seed = C.uint64_t(seed) }
}

// Temperature divides the logits; 0 is greedy (argmax).
func Temperature(t float32) GenerateOption {
	return func(g *generateConfig) { g.sampling.temperature = C.float(t) }
}

// TopK keeps the k most likely tokens; 0 turns it off.
func TopK(k int) GenerateOption { return func(g *generateConfig) { g.sampling.top_k = C.int32_t(k) } }

// TopP keeps the smallest most-likely-first set reaching probability p; 1 is off.
func TopP(p float32) GenerateOption { return func(g *generateConfig) { g.sampling.top_p = C.float(p) } }

// MinP drops tokens with probability below p times the largest; 0 is off.
func MinP(p float32) GenerateOption { return func(g *generateConfig) { g.sampling.min_p = C.float(p) } }

// RepetitionPenalty applies CTRL's penalty to the tokens of the last window
// generated ones (window 0: all of them); penalty 1 is off.
func RepetitionPenalty(penalty float32, window int) GenerateOption {
	return func(g *generateConfig) {
		g.sampling.repetition_penalty = C.float(penalty)
		g.sampling.repetition_window = C.int32_t(window)
	}
}

// EndToken stops generation after sampling id, which is kept as the last
// token returned (NoToken: none, the default).
func EndToken(id int32) GenerateOption { return func(g *generateConfig) { g.endToken = id } }

// StartToken is the prompt when the prompt is empty.
func StartToken(id int32) GenerateOption { return func(g *generateConfig) { g.startToken = id } }

// CheckFinite makes generation fail with StatusNumeric, naming the position
// and token, when a logit is NaN or infinite (mmg_context_options.check_finite).
func CheckFinite(on bool) GenerateOption { return func(g *generateConfig) { g.checkFinite = on } }

// SourceIDs is the source sequence of an encoder-decoder model.
func SourceIDs(ids []int32) GenerateOption { return func(g *generateConfig) { g.source = ids } }

// OnToken calls fn with each token as it is sampled (index 0, 1, ...), on the
// calling goroutine. Returning true stops generation: Generate then returns
// the tokens so far and no error. fn may use other mmgen objects, but not
// this model.
func OnToken(fn func(index int, token int32) (stop bool)) GenerateOption {
	return func(g *generateConfig) { g.onToken = fn }
}

// generation is what the on_token callback reaches through its cgo.Handle.
type generation struct {
	fn       func(int, int32) bool
	tokens   []int32
	stopped  bool
	panic    interface{}
	panicked bool
}

// context returns the model's context with check_finite as asked, making
// it (again) when needed; m.mu held.
func (m *Model) context(checkFinite bool) (*C.mmg_context, error) {
	if m.ctx != nil && m.ctxFinite == checkFinite {
		return m.ctx, nil
	}
	if m.ctx != nil {
		C.mmg_context_free(m.ctx)
		m.ctx = nil
	}
	var o C.mmg_context_options
	C.mmg_context_options_init(&o, C.size_t(unsafe.Sizeof(o)))
	o.n_threads = C.int32_t(m.threads)
	o.check_finite = cBool(checkFinite)
	var ctx *C.mmg_context
	if err := call("creating a context", func() C.mmg_status { return C.mmg_context_create(m.h, &o, &ctx) }); err != nil {
		return nil, err
	}
	m.ctx, m.ctxFinite = ctx, checkFinite
	return ctx, nil
}

// SetThreads sets the threads generation computes with (0: $MMGEN_NUM_THREADS,
// else the cores). Results do not depend on it.
func (m *Model) SetThreads(n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.handle("setting threads"); err != nil {
		return err
	}
	if n < 0 {
		return newError(StatusInvalidArg, "setting threads", fmt.Sprintf("threads must be >= 0, not %d", n))
	}
	m.threads = n
	if m.ctx == nil {
		return nil
	}
	return call("setting threads", func() C.mmg_status { return C.mmg_context_set_threads(m.ctx, C.int32_t(n)) })
}

func int32Ptr(s []int32) *C.int32_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.int32_t)(&s[0])
}

// Generate samples up to MaxTokens tokens after prompt and returns them; when
// the end token is sampled it is the last one. With the same prompt, Seed and
// sampling options it returns the tokens `mmgen generate --prompt-ids ...
// --ids --seed S --no-constraint` prints after the prompt.
func (m *Model) Generate(prompt []int32, opts ...GenerateOption) ([]int32, error) {
	if err := ready(); err != nil {
		return nil, err
	}
	g := generateConfig{maxTokens: 256, endToken: NoToken, startToken: NoToken}
	C.mmg_sampling_options_init(&g.sampling, C.size_t(unsafe.Sizeof(g.sampling)))
	for _, o := range opts {
		o(&g)
	}
	const op = "generating"
	if g.maxTokens < 1 || g.maxTokens > 1<<30 {
		return nil, newError(StatusInvalidArg, op, fmt.Sprintf("MaxTokens must be in [1, 2^30], not %d", g.maxTokens))
	}
	if err := call("checking the sampling options", func() C.mmg_status {
		return C.mmg_sampling_options_validate(&g.sampling)
	}); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.handle(op); err != nil {
		return nil, err
	}
	ctx, err := m.context(g.checkFinite)
	if err != nil {
		return nil, err
	}
	var handle cgo.Handle
	var gen *generation
	if g.onToken != nil {
		gen = &generation{fn: g.onToken}
		handle = cgo.NewHandle(gen)
		defer handle.Delete()
	}
	// No sequence outgrows the context, so a larger MaxTokens needs no
	// larger buffer (and gives the same tokens).
	maxNew := g.maxTokens
	if ctxLen := int(C.mmg_context_max_seq_len(ctx)); maxNew > ctxLen {
		maxNew = ctxLen
	}
	out := make([]int32, maxNew)
	var n C.int32_t
	err = call(op, func() C.mmg_status {
		return C.mmgo_generate(ctx, &g.sampling, C.int32_t(maxNew), C.int32_t(g.endToken),
			C.int32_t(g.startToken), C.uintptr_t(handle), int32Ptr(g.source), C.int32_t(len(g.source)),
			int32Ptr(prompt), C.int32_t(len(prompt)), C.uint64_t(g.sampling.seed),
			(*C.int32_t)(&out[0]), &n)
	})
	if gen != nil && gen.panicked {
		panic(gen.panic) // raised again, now that the C call is over
	}
	if gen != nil && gen.stopped {
		if e, ok := err.(*Error); ok && e.Status == StatusCancelled {
			return gen.tokens, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}
