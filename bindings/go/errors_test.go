package mmgen

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestMissingModelFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.safetensors")
	m, err := LoadModel(missing)
	if m != nil {
		t.Fatal("a model came back")
	}
	e := wantError(t, err, StatusIO, missing)
	if e.Name != "MMG_ERR_IO" || !strings.Contains(err.Error(), "MMG_ERR_IO") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("%q", err.Error())
	}
	// errors.As and errors.Is see through wrapping
	wrapped := fmt.Errorf("starting: %w", err)
	var e2 *Error
	if !errors.As(wrapped, &e2) || e2.Status != StatusIO || !errors.Is(wrapped, StatusIO) || errors.Is(wrapped, StatusFormat) {
		t.Fatal("errors.As/Is do not see the *Error")
	}
	if StatusIO.Description() != "input/output error" || StatusRange.String() != "MMG_ERR_RANGE" ||
		Status(999).String() != "MMG_UNKNOWN" {
		t.Fatal(StatusIO.Description(), StatusRange.String(), Status(999).String())
	}
}

// mmg_last_error is per thread: errors raised on many goroutines at once each
// carry their own message.
func TestErrorsFromManyGoroutines(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	failures := make(chan string, 100)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				path := filepath.Join(dir, fmt.Sprintf("missing-%d-%d.safetensors", g, i))
				_, err := LoadModel(path)
				var e *Error
				if !errors.As(err, &e) || e.Status != StatusIO || !strings.Contains(e.Message, path) {
					failures <- fmt.Sprintf("goroutine %d: %v", g, err)
					return
				}
				if _, err := NewTokenizer(fmt.Sprintf("missing-plugin-%d-%d", g, i), ""); err == nil ||
					!strings.Contains(err.Error(), fmt.Sprintf("missing-plugin-%d-%d", g, i)) {
					failures <- fmt.Sprintf("goroutine %d: %v", g, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
}

func TestABICheck(t *testing.T) {
	if err := checkABI(1, 0); err != nil {
		t.Fatal(err)
	}
	if err := checkABI(ABIMajor, ABIMinor); err != nil || CheckLibrary() != nil {
		t.Fatal(err, CheckLibrary())
	}
	if maj, min := LibraryABI(); maj != 1 || min < 3 || !strings.HasPrefix(Version(), "1.") {
		t.Fatal(maj, min, Version())
	}
	for _, v := range [][2]uint32{{2, 0}, {0, 9}, {1, 999}} {
		err := checkABI(v[0], v[1])
		wantError(t, err, StatusABI, fmt.Sprintf("cannot serve this package (ABI %d.%d)", v[0], v[1]))
	}
}
