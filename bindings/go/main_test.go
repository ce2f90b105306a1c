package mmgen

// The test fixture: a tiny model trained by the CLI (the commands of
// bindings/python/tests/test_mmgen.py), and helpers.
//
// Environment: MMGEN_BIN (the build directory: bin/mmgen trains the model),
// MMGEN_PLUGIN_PATH (its plugins); tests/check_go_bindings.sh sets both, and
// without them the tests use ../../build. The library itself is the one the
// test binary was linked with (CGO_LDFLAGS).

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var (
	root      string // the source tree
	binDir    string // the build tree
	fixture   string // the directory of the files below
	modelPath string // the tiny model, carrying its tokenizer
	corpus    []byte // README.md + ABI.md
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	root = filepath.Clean(filepath.Join(wd, "..", ".."))
	binDir = os.Getenv("MMGEN_BIN")
	if binDir == "" {
		binDir = filepath.Join(root, "build")
	}
	if os.Getenv("MMGEN_PLUGIN_PATH") == "" {
		os.Setenv("MMGEN_PLUGIN_PATH", filepath.Join(binDir, "plugins"))
	}
	if os.Getenv("MMGEN_NUM_THREADS") == "" {
		os.Setenv("MMGEN_NUM_THREADS", "1")
	}
	fixture, err = os.MkdirTemp("", "mmgen-go-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(fixture)
	if err := makeFixture(); err != nil {
		fmt.Fprintln(os.Stderr, "mmgen tests: making the fixture:", err)
		return 1
	}
	return m.Run()
}

func makeFixture() error {
	for _, name := range []string{"README.md", "ABI.md"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return err
		}
		corpus = append(corpus, b...)
	}
	text := filepath.Join(fixture, "corpus.txt")
	if err := os.WriteFile(text, corpus, 0o644); err != nil {
		return err
	}
	tok := filepath.Join(fixture, "tok.json")
	modelPath = filepath.Join(fixture, "m.safetensors")
	if _, err := cli("tokenizer", "fit", "--plugin", "text", "--config", `{"vocab_size": 300}`, "-o", tok, text); err != nil {
		return err
	}
	_, err := cli("train", "-t", tok, "-o", modelPath, "--steps", "3", "--d-model", "32", "--heads", "2",
		"--layers", "1", "--seq-len", "32", "--batch", "4", "--val-fraction", "0", text)
	return err
}

// cli runs the mmgen command of the build tree and returns its stdout.
func cli(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "bin", "mmgen"), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("mmgen %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func loadModel(t *testing.T) *Model {
	t.Helper()
	m, err := LoadModel(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// fittedTokenizer is a text tokenizer of 280 ids fitted on the corpus.
func fittedTokenizer(t *testing.T) *Tokenizer {
	t.Helper()
	tok, err := NewTokenizer("text", `{"vocab_size": 280}`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tok.Close() })
	if err := tok.Fit([][]byte{corpus[:20000], []byte("héllo wörld, ünïcode ✓")}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantError checks that err is an *Error of status s whose message holds
// every string of parts, and returns it.
func wantError(t *testing.T, err error, s Status, parts ...string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *Error with %v, got %v", s, err)
	}
	if e.Status != s || e.Name != s.String() || !errors.Is(err, s) {
		t.Fatalf("want status %v, got %v (%v)", s, e.Status, err)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Fatalf("the message %q does not mention %q", e.Message, p)
		}
	}
	return e
}
