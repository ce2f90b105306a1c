package mmgen

import (
	"reflect"
	"sort"
	"testing"
	"unsafe"
)

func TestLayoutsMatchTheLibrary(t *testing.T) {
	if err := checkLayouts(); err != nil {
		t.Fatal(err)
	}
	// the package checks every struct of the library's table that it uses;
	// the ones it leaves out are named here, so a new one is a decision
	notMirrored := map[string]bool{
		"mmg_grad_reducer": true, // data-parallel training (ABI 1.4) is not wrapped
	}
	var ours []string
	for _, m := range mirrors {
		ours = append(ours, m.name)
		if m.typ.Size() == 0 || m.typ.NumField() < 2 {
			t.Fatalf("%s: %v", m.name, m.typ)
		}
	}
	var theirs []string
	for _, name := range libraryStructNames() {
		if !notMirrored[name] {
			theirs = append(theirs, name)
		}
	}
	sort.Strings(ours)
	sort.Strings(theirs)
	if !reflect.DeepEqual(ours, theirs) {
		t.Fatalf("this package checks %v, the library lists %v (besides %v)", ours, theirs, notMirrored)
	}
}

// A mirror that differs from the library is refused, naming struct and field.
func TestLayoutMismatchIsRefused(t *testing.T) {
	type movedField struct {
		struct_size uintptr
		vocab_size  int32
		d_model     int64 // at 16, the library has it at 12
	}
	wantError(t, checkStruct("mmg_model_config", reflect.TypeOf(movedField{})), StatusABI,
		"struct mmg_model_config field d_model is at offset 16 in the headers but 12 in libmmgen")
	type newField struct {
		struct_size uintptr
		temperature float32
		not_yet     int32
	}
	wantError(t, checkStruct("mmg_sampling_options", reflect.TypeOf(newField{})), StatusABI,
		"struct mmg_sampling_options field not_yet is in the headers but not in libmmgen")
	type tooBig struct {
		struct_size uintptr
		_           [4096]byte
	}
	wantError(t, checkStruct("mmg_batch", reflect.TypeOf(tooBig{})), StatusABI,
		"struct mmg_batch is 4104 bytes in the headers but")
	wantError(t, checkStruct("mmg_no_such_struct", reflect.TypeOf(tooBig{})), StatusABI,
		"struct mmg_no_such_struct is unknown to libmmgen")
	if cFieldName("_type") != "type" || cFieldName("_x") != "_x" || cFieldName("seed") != "seed" {
		t.Fatal("cFieldName")
	}
	var o struct {
		a int32
		b int64
	}
	_ = unsafe.Offsetof(o.b) // reflect's offsets are unsafe.Offsetof's
	if f, _ := reflect.TypeOf(o).FieldByName("b"); f.Offset != unsafe.Offsetof(o.b) {
		t.Fatal("reflect and unsafe disagree")
	}
}
