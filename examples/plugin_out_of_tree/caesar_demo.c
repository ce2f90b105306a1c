/* caesar_demo.c - the application side of the out-of-tree plugin example:
 * opens the "caesar" plugin through libmmgen (by name, so MMGEN_PLUGIN_PATH
 * or the install directory must hold mmgen-caesar.so; or by a path given as
 * the second argument), shifts a text by 3 and back, and prints what it did.
 * Exits 0 only when everything round-trips. */
#include <mmgen/mmgen.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "caesar_demo: %s: %s (%s)\n", what, mmg_last_error(),
            mmg_status_name(mmg_last_status()));
    return 1;
}

int main(int argc, char **argv) {
    const char *text = argc > 1 ? argv[1] : "Hello";
    const char *which = argc > 2 ? argv[2] : "caesar";
    if (!mmg_abi_compatible(MMGEN_ABI_MAJOR, MMGEN_ABI_MINOR)) return fail("libmmgen ABI");

    mmg_plugin *plugin = NULL;
    if (mmg_plugin_open(which, &plugin) != MMG_OK) return fail("open");
    printf("plugin %s %s (%s, %s)\n", mmg_plugin_name(plugin), mmg_plugin_version(plugin),
           mmg_modality_name(mmg_plugin_modality(plugin)), mmg_plugin_description(plugin));

    mmg_tokenizer *tok = NULL;
    if (mmg_tokenizer_create(plugin, "{\"shift\": 3}", &tok) != MMG_OK) return fail("create");
    mmg_plugin_close(plugin); /* the tokenizer keeps the plugin loaded */

    int32_t *ids = NULL;
    size_t n = 0;
    if (mmg_tokenizer_encode(tok, (const uint8_t *)text, strlen(text), &ids, &n) != MMG_OK)
        return fail("encode");
    printf("ids");
    for (size_t i = 0; i < n; i++) printf(" %d", (int)ids[i]);
    printf("\n");

    uint8_t *doc = NULL;
    size_t size = 0;
    if (mmg_tokenizer_decode(tok, ids, n, &doc, &size) != MMG_OK) return fail("decode");
    int same = size == strlen(text) && memcmp(doc, text, size) == 0;
    printf("decoded %.*s\n", (int)size, (const char *)doc);
    mmg_free(doc);
    mmg_free(ids);

    /* Optional parts: fit is absent, the constraint is there. */
    int ok = same && mmg_tokenizer_fit(tok, NULL, NULL, 0) == MMG_ERR_UNSUPPORTED &&
             mmg_tokenizer_has_extension(tok, MMG_EXT_CONSTRAINT_V1);
    mmg_tokenizer_free(tok);
    printf("%s\n", ok ? "round trip ok" : "round trip FAILED");
    return ok ? 0 : 1;
}
