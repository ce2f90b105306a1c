/* tests/abi/plugin_v1_layout.c - the layout of the FROZEN plugin ABI 1.0
 * structs, compiled against tests/abi/plugin_v1.h only and linked into
 * test_plugin_abi, which compares it with the live mmgen/plugin.h. Frozen. */
#include "plugin_v1.h"
#include "plugin_v1_fields.h"

const mmg_v1_field mmg_test_v1_frozen_fields[] = {MMG_V1_FIELDS(MMG_V1_FIELD_ROW)};
const size_t mmg_test_v1_frozen_field_count =
    sizeof mmg_test_v1_frozen_fields / sizeof mmg_test_v1_frozen_fields[0];
const mmg_v1_field mmg_test_v1_frozen_structs[] = {MMG_V1_STRUCTS(MMG_V1_STRUCT_ROW)};
const size_t mmg_test_v1_frozen_struct_count =
    sizeof mmg_test_v1_frozen_structs / sizeof mmg_test_v1_frozen_structs[0];
