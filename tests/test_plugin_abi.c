/* tests/test_plugin_abi.c - plugin ABI compatibility across minors: the live
 * mmgen/plugin.h keeps every field of the FROZEN 1.0 header
 * (tests/abi/plugin_v1.h) where it was, a plugin compiled against the frozen
 * header loads and works, and a plugin from a newer minor with a larger
 * descriptor loads with its tail ignored. */
#include <criterion/criterion.h>
#include <string.h>

#include "abi/plugin_v1_fields.h"
#include "mmgen/mmgen.h"
#include "plugin_module.h"

#define TP(stem) MMGEN_TEST_HOST_PLUGIN_DIR "/mmgen-" stem ".so"

/* From tests/abi/plugin_v1_layout.c, compiled against the frozen header. */
extern const mmg_v1_field mmg_test_v1_frozen_fields[];
extern const size_t mmg_test_v1_frozen_field_count;
extern const mmg_v1_field mmg_test_v1_frozen_structs[];
extern const size_t mmg_test_v1_frozen_struct_count;

static const mmg_v1_field live_fields[] = {MMG_V1_FIELDS(MMG_V1_FIELD_ROW)};
static const mmg_v1_field live_structs[] = {MMG_V1_STRUCTS(MMG_V1_STRUCT_ROW)};

Test(plugin_abi, the_live_header_keeps_every_v1_0_field_in_place) {
    size_t n = sizeof live_fields / sizeof live_fields[0];
    cr_assert_eq(n, mmg_test_v1_frozen_field_count);
    for (size_t i = 0; i < n; i++) {
        const mmg_v1_field *f = &mmg_test_v1_frozen_fields[i], *l = &live_fields[i];
        cr_assert_str_eq(f->field, l->field);
        cr_assert_eq(l->offset, f->offset, "%s.%s moved from %zu to %zu", f->type, f->field,
                     f->offset, l->offset);
        cr_assert_eq(l->size, f->size, "%s.%s changed size", f->type, f->field);
    }
    for (size_t i = 0; i < mmg_test_v1_frozen_struct_count; i++)
        cr_assert_geq(live_structs[i].size, mmg_test_v1_frozen_structs[i].size,
                      "%s shrank", live_structs[i].type);
    /* The least a v1 descriptor may declare is exactly the 1.0 struct. */
    cr_assert_eq(MMG__PLUGIN_DESCRIPTOR_V1_0_SIZE, mmg_test_v1_frozen_structs[2].size);
    cr_assert_eq(MMGEN_ABI_VERSION_MAJOR(MMG_PLUGIN_ABI_VERSION), 1);
    cr_assert_str_eq(MMG_PLUGIN_ENTRY_SYMBOL, "mmg_plugin_entry_v1");
}

Test(plugin_abi, a_plugin_built_against_the_frozen_v1_0_header_loads_and_works) {
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open(TP("v1fixture"), &p), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(mmg_plugin_name(p), "v1fixture");
    cr_assert_eq(mmg_plugin_abi_version(p), MMGEN_MAKE_ABI_VERSION(1, 0));
    mmg_tokenizer *t = NULL;
    cr_assert_eq(mmg_tokenizer_create(p, NULL, &t), MMG_OK);
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 257);
    int32_t *ids = NULL;
    size_t n = 0;
    cr_assert_eq(mmg_tokenizer_encode(t, (const uint8_t *)"v1\xff", 3, &ids, &n), MMG_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(ids[2], 255);
    uint8_t *doc = NULL;
    size_t m = 0;
    cr_assert_eq(mmg_tokenizer_decode(t, ids, n, &doc, &m), MMG_OK);
    cr_assert_eq(m, 3);
    cr_assert_eq(memcmp(doc, "v1\xff", 3), 0);
    mmg_free(doc);
    mmg_free(ids);
    int32_t eos = 0;
    cr_assert_eq(mmg_tokenizer_special_token(t, "eos", &eos), MMG_OK);
    cr_assert_eq(eos, 256);
    char *text = NULL;
    cr_assert_eq(mmg_tokenizer_describe_token(t, 65, &text), MMG_OK);
    cr_assert_str_eq(text, "v1 byte 65");
    mmg_free(text);
    /* State round trip, and the constraint through the generation callback. */
    const uint8_t *docs[] = {(const uint8_t *)"x"};
    const size_t sizes[] = {1};
    cr_assert_eq(mmg_tokenizer_fit(t, docs, sizes, 1), MMG_OK);
    uint8_t *state = NULL;
    cr_assert_eq(mmg_tokenizer_save_state(t, &state, &m), MMG_OK);
    cr_assert_eq(m, 5);
    cr_assert_eq(state[4], 1);
    cr_assert_eq(mmg_tokenizer_load_state(t, state, m), MMG_OK);
    mmg_free(state);
    uint8_t allowed[257];
    memset(allowed, 1, sizeof allowed);
    cr_assert_eq(mmg_tokenizer_mask_cb(t, NULL, 0, allowed, sizeof allowed), 0);
    cr_assert_eq(allowed[256], 0, "no eos before the first token");
    mmg_tokenizer_free(t);
    mmg_plugin_close(p);
}

Test(plugin_abi, a_plugin_from_a_newer_minor_with_a_larger_descriptor_loads) {
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open(TP("newer-minor"), &p), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(mmg_plugin_name(p), "newerminor");
    cr_assert_eq(mmg_plugin_abi_version(p), MMGEN_MAKE_ABI_VERSION(1, 7));
    mmg_tokenizer *t = NULL;
    cr_assert_eq(mmg_tokenizer_create(p, NULL, &t), MMG_OK);
    int32_t *ids = NULL;
    size_t n = 0;
    cr_assert_eq(mmg_tokenizer_encode(t, (const uint8_t *)"new", 3, &ids, &n), MMG_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(ids[0], 'n');
    mmg_free(ids);
    mmg_tokenizer_free(t);
    mmg_plugin_close(p);
}
