/* mmgen/layout.h - the library's own view of its public structs, so that a
 * binding that mirrors them by hand (ctypes, koffi, Rust #[repr(C)], cgo
 * copies) can check its mirror at load time instead of corrupting memory.
 *
 * A binding generated from header version (1, m) compares, for every struct
 * it mirrors: its size <= mmg_struct_size(name) (a newer library may have
 * appended fields), and each field's offset == mmg_struct_field_offset(name,
 * field). Any difference means the mirror is wrong for this platform or
 * library: refuse to load with a message naming the struct and field.
 * Since ABI 1.3. */
#ifndef MMGEN_LAYOUT_H
#define MMGEN_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"

MMG_EXTERN_C_BEGIN

/* sizeof the public struct called `name` ("mmg_model_config",
 * "mmg_context_options", ... every struct of the public headers, the plugin
 * ABI's included) as this library was compiled; 0 for an unknown name or
 * NULL. [thread-safe] */
MMG_API size_t mmg_struct_size(const char *name);

/* offsetof(name, field) as this library was compiled; -1 when the struct or
 * the field does not exist in this library (e.g. a field added by a newer
 * minor than the library's). [thread-safe] */
MMG_API int64_t mmg_struct_field_offset(const char *name, const char *field);

/* The names of the public structs, one per index from 0, then NULL, so a
 * binding's test can check that it mirrors every one. [thread-safe] */
MMG_API const char *mmg_struct_name_at(size_t index);

MMG_EXTERN_C_END

#endif /* MMGEN_LAYOUT_H */
