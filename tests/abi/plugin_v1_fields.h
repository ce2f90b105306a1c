/* tests/abi/plugin_v1_fields.h - every field of the plugin ABI 1.0 structs,
 * as an X-macro list. FROZEN with plugin_v1.h: later minors append fields to
 * the structs but never here.
 *
 * plugin_v1_layout.c expands it against the frozen header and
 * test_plugin_abi.c against the live one; the offsets and sizes must match. */
#ifndef MMGEN_TESTS_PLUGIN_V1_FIELDS_H
#define MMGEN_TESTS_PLUGIN_V1_FIELDS_H

#include <stddef.h>

#define MMG_V1_FIELDS(X)                                                                   \
    X(mmg_host_services, struct_size) X(mmg_host_services, abi_version)                    \
    X(mmg_host_services, alloc) X(mmg_host_services, realloc) X(mmg_host_services, free)   \
    X(mmg_host_services, log) X(mmg_host_services, error)                                  \
    X(mmg_plugin_document, data) X(mmg_plugin_document, size)                              \
    X(mmg_plugin_descriptor, struct_size) X(mmg_plugin_descriptor, abi_version)            \
    X(mmg_plugin_descriptor, name) X(mmg_plugin_descriptor, version)                       \
    X(mmg_plugin_descriptor, modality) X(mmg_plugin_descriptor, description)               \
    X(mmg_plugin_descriptor, init) X(mmg_plugin_descriptor, deinit)                        \
    X(mmg_plugin_descriptor, create) X(mmg_plugin_descriptor, destroy)                     \
    X(mmg_plugin_descriptor, fit) X(mmg_plugin_descriptor, save_state)                     \
    X(mmg_plugin_descriptor, load_state) X(mmg_plugin_descriptor, encode)                  \
    X(mmg_plugin_descriptor, decode) X(mmg_plugin_descriptor, vocab_size)                  \
    X(mmg_plugin_descriptor, special_token) X(mmg_plugin_descriptor, describe_token)       \
    X(mmg_plugin_descriptor, get_extension)                                                \
    X(mmg_ext_constraint_v1, struct_size) X(mmg_ext_constraint_v1, allowed_next)           \
    X(mmg_ext_stream_decode_v1, struct_size) X(mmg_ext_stream_decode_v1, stream_create)    \
    X(mmg_ext_stream_decode_v1, stream_destroy) X(mmg_ext_stream_decode_v1, stream_feed)   \
    X(mmg_ext_stream_decode_v1, stream_flush)

/* The structs themselves, to compare their sizes (live >= frozen). */
#define MMG_V1_STRUCTS(X) \
    X(mmg_host_services) X(mmg_plugin_document) X(mmg_plugin_descriptor) \
    X(mmg_ext_constraint_v1) X(mmg_ext_stream_decode_v1)

/* One row of a layout table. */
typedef struct mmg_v1_field {
    const char *type, *field;
    size_t offset, size;
} mmg_v1_field;

#define MMG_V1_FIELD_ROW(type, field) \
    {#type, #field, offsetof(type, field), sizeof(((type *)0)->field)},
#define MMG_V1_STRUCT_ROW(type) {#type, "", 0, sizeof(type)},

#endif /* MMGEN_TESTS_PLUGIN_V1_FIELDS_H */
