package mmgen

// The struct layout check (mmgen/layout.h). cgo lays out C.mmg_* from the
// headers it compiled; the library reports the layouts it was compiled with.
// They differ when the package was built against headers of another version
// or platform than the libmmgen it runs with, and then every option struct
// passed by pointer would be misread. ready() compares them before any
// object is created and refuses the library with the struct and field named.

// #include <stdlib.h>
// #include <mmgen/mmgen.h>
import "C"

import (
	"fmt"
	"go/token"
	"reflect"
	"unsafe"
)

type mirror struct {
	name string
	typ  reflect.Type
}

// mirrors lists every public struct of the headers, the plugin ABI's included
// (the ones this package passes to the library and the rest, since any
// difference means mismatched headers). layout_test.go checks that it names
// every struct of the library's table (mmg_struct_name_at).
var mirrors = []mirror{
	{"mmg_model_config", reflect.TypeOf(C.mmg_model_config{})},
	{"mmg_model_options", reflect.TypeOf(C.mmg_model_options{})},
	{"mmg_param_info", reflect.TypeOf(C.mmg_param_info{})},
	{"mmg_context_options", reflect.TypeOf(C.mmg_context_options{})},
	{"mmg_sampling_options", reflect.TypeOf(C.mmg_sampling_options{})},
	{"mmg_generate_options", reflect.TypeOf(C.mmg_generate_options{})},
	{"mmg_batch", reflect.TypeOf(C.mmg_batch{})},
	{"mmg_loader_options", reflect.TypeOf(C.mmg_loader_options{})},
	{"mmg_train_options", reflect.TypeOf(C.mmg_train_options{})},
	{"mmg_host_services", reflect.TypeOf(C.mmg_host_services{})},
	{"mmg_plugin_document", reflect.TypeOf(C.mmg_plugin_document{})},
	{"mmg_plugin_descriptor", reflect.TypeOf(C.mmg_plugin_descriptor{})},
	{"mmg_ext_constraint_v1", reflect.TypeOf(C.mmg_ext_constraint_v1{})},
	{"mmg_ext_stream_decode_v1", reflect.TypeOf(C.mmg_ext_stream_decode_v1{})},
}

func checkLayouts() error {
	for _, m := range mirrors {
		if err := checkStruct(m.name, m.typ); err != nil {
			return err
		}
	}
	return nil
}

// checkStruct compares t, cgo's Go version of the C struct `name`, with the
// library's table: t's size must not exceed the library's (a newer minor may
// have appended fields) and each field's offset must be the library's.
func checkStruct(name string, t reflect.Type) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	fail := func(format string, args ...interface{}) error {
		return newError(StatusABI, "checking the library's struct layouts",
			fmt.Sprintf(format, args...)+fmt.Sprintf(" (libmmgen %s, headers of ABI %d.%d): "+
				"rebuild this package against the headers of the library it runs with",
				Version(), ABIMajor, ABIMinor))
	}
	size := uintptr(C.mmg_struct_size(cname))
	if size == 0 {
		return fail("struct %s is unknown to libmmgen", name)
	}
	if t.Size() > size {
		return fail("struct %s is %d bytes in the headers but %d in libmmgen", name, t.Size(), size)
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name == "_" { // padding cgo added
			continue
		}
		field := cFieldName(f.Name)
		cfield := C.CString(field)
		off := int64(C.mmg_struct_field_offset(cname, cfield))
		C.free(unsafe.Pointer(cfield))
		if off < 0 {
			return fail("struct %s field %s is in the headers but not in libmmgen", name, field)
		}
		if uintptr(off) != f.Offset {
			return fail("struct %s field %s is at offset %d in the headers but %d in libmmgen",
				name, field, f.Offset, off)
		}
	}
	return nil
}

// cFieldName undoes cgo's renaming of a C field named like a Go keyword
// ("type" becomes "_type").
func cFieldName(goName string) string {
	if len(goName) > 1 && goName[0] == '_' && token.IsKeyword(goName[1:]) {
		return goName[1:]
	}
	return goName
}

// libraryStructNames lists the library's table (mmg_struct_name_at).
func libraryStructNames() []string {
	var names []string
	for i := 0; ; i++ {
		p := C.mmg_struct_name_at(C.size_t(i))
		if p == nil {
			return names
		}
		names = append(names, C.GoString(p))
	}
}
