/* tests/test_plugin_fault.c - every allocation of the plugin host failing in
 * turn (mmg__fault_fail_after), the plugin's own allocations included since
 * they come from host->alloc: each failure must be MMG_ERR_NOMEM with a
 * message, leave nothing loaded or leaked (ASan checks leaks), and never a
 * half-made object. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "mmgen/mmgen.h"
#include "plugin_module.h"

#define TP(stem) MMGEN_TEST_HOST_PLUGIN_DIR "/mmgen-" stem ".so"

/* Runs `op` with allocation 1, 2, 3... failing until it succeeds; returns how
 * many allocations the successful run made. `op` must clean up after itself
 * on success. */
static long fault_loop(const char *what, mmg_status (*op)(void *), void *ctx) {
    size_t loaded = mmg__module_loaded_count();
    for (long n = 1; n < 100000; n++) {
        mmg_clear_error();
        mmg__fault_fail_after(n);
        mmg_status s = op(ctx);
        mmg__fault_fail_after(0);
        if (s == MMG_OK) return n;
        cr_assert_eq(s, MMG_ERR_NOMEM, "%s, allocation %ld failing: %s (%s)", what, n,
                     mmg_status_name(s), mmg_last_error());
        cr_assert_neq(mmg_last_error()[0], '\0', "%s: NOMEM without a message", what);
        cr_assert_eq(mmg__module_loaded_count(), loaded, "%s: module left loaded at %ld", what,
                     n);
    }
    cr_assert_fail("%s never succeeded", what);
    return 0;
}

static mmg_status op_open(void *ctx) {
    mmg_plugin *p = NULL;
    mmg_status s = mmg_plugin_open((const char *)ctx, &p);
    mmg_plugin_close(p);
    return s;
}

Test(plugin_fault, open_by_path_and_by_name) {
    long n = fault_loop("open by path", op_open, TP("testbytes"));
    cr_assert_geq(n, 3, "the loop must actually have failed some allocations");
    setenv("MMGEN_PLUGIN_PATH", MMGEN_TEST_HOST_PLUGIN_DIR, 1);
    fault_loop("open by name", op_open, "testbytes");
    const char *inits = getenv("TESTPLUGIN_TESTBYTES_INITS");
    const char *deinits = getenv("TESTPLUGIN_TESTBYTES_DEINITS");
    cr_assert_not_null(inits);
    cr_assert_str_eq(inits, deinits, "every successful init has its deinit");
}

static mmg_status op_create(void *ctx) {
    mmg_plugin *p = NULL;
    mmg_status s = mmg_plugin_open(TP("testbytes"), &p);
    if (s != MMG_OK) return s;
    mmg_tokenizer *t = NULL;
    s = mmg_tokenizer_create(p, (const char *)ctx, &t);
    mmg_plugin_close(p);
    mmg_tokenizer_free(t);
    return s;
}

Test(plugin_fault, open_and_create) { fault_loop("open+create", op_create, "{\"ascii_only\": true}"); }

/* Operations on a tokenizer made outside the loop. */
static mmg_plugin *plugin;
static mmg_tokenizer *tok;

static void setup(void) {
    cr_assert_eq(mmg_plugin_open(TP("testbytes"), &plugin), MMG_OK);
    cr_assert_eq(mmg_tokenizer_create(plugin, NULL, &tok), MMG_OK);
}
static void teardown(void) {
    mmg_tokenizer_free(tok);
    mmg_plugin_close(plugin);
    cr_assert_eq(mmg__module_loaded_count(), 0);
}

static mmg_status op_encode_decode(void *ctx) {
    (void)ctx;
    int32_t *ids = NULL;
    size_t n = 0;
    mmg_status s = mmg_tokenizer_encode(tok, (const uint8_t *)"fault", 5, &ids, &n);
    if (s != MMG_OK) return s;
    uint8_t *doc = NULL;
    size_t m = 0;
    s = mmg_tokenizer_decode(tok, ids, n, &doc, &m);
    mmg_free(ids);
    if (s == MMG_OK) cr_assert_eq(memcmp(doc, "fault", 5), 0);
    mmg_free(doc);
    return s;
}

static mmg_status op_state(void *ctx) {
    (void)ctx;
    const uint8_t *docs[] = {(const uint8_t *)"ab", (const uint8_t *)"c"};
    const size_t sizes[] = {2, 1};
    mmg_status s = mmg_tokenizer_fit(tok, docs, sizes, 2);
    if (s != MMG_OK) return s;
    uint8_t *state = NULL;
    size_t n = 0;
    if ((s = mmg_tokenizer_save_state(tok, &state, &n)) != MMG_OK) return s;
    s = mmg_tokenizer_load_state(tok, state, n);
    mmg_free(state);
    return s;
}

static mmg_status op_describe(void *ctx) {
    (void)ctx;
    char *text = NULL;
    mmg_status s = mmg_tokenizer_describe_token(tok, 'L', &text); /* the two-call path */
    mmg_free(text);
    return s;
}

static mmg_status op_stream(void *ctx) {
    (void)ctx;
    mmg_decode_stream *ds = NULL;
    mmg_status s = mmg_decode_stream_create(tok, &ds);
    if (s != MMG_OK) return s;
    const int32_t ids[] = {'a', 0xc3};
    uint8_t *out = NULL;
    size_t n = 0;
    if ((s = mmg_decode_stream_feed(ds, ids, 2, &out, &n)) == MMG_OK) {
        mmg_free(out);
        out = NULL;
        s = mmg_decode_stream_flush(ds, &out, &n);
        mmg_free(out);
    }
    mmg_decode_stream_free(ds);
    return s;
}

static mmg_status op_mask_small(void *ctx) {
    (void)ctx;
    /* A caller mask smaller than the vocabulary needs the host's scratch;
     * use a fresh tokenizer so the scratch is allocated in the loop. */
    mmg_tokenizer *t = NULL;
    mmg_status s = mmg_tokenizer_create(plugin, NULL, &t);
    if (s != MMG_OK) return s;
    uint8_t allowed[100];
    memset(allowed, 1, sizeof allowed);
    s = mmg_tokenizer_allowed_next(t, NULL, 0, allowed, sizeof allowed);
    mmg_tokenizer_free(t);
    return s;
}

Test(plugin_fault, tokenizer_operations, .init = setup, .fini = teardown) {
    fault_loop("encode+decode", op_encode_decode, NULL);
    fault_loop("describe", op_describe, NULL);
    fault_loop("stream", op_stream, NULL);
    fault_loop("mask", op_mask_small, NULL);
    fault_loop("fit+save+load", op_state, NULL); /* last: fit shrinks the vocabulary */
}

static mmg_status op_list(void *ctx) {
    mmg_plugin_list *list = NULL;
    mmg_status s = mmg_plugin_list_create((const char *)ctx, &list);
    if (s == MMG_OK) cr_assert_geq(mmg_plugin_list_count(list), 10);
    mmg_plugin_list_free(list);
    return s;
}

Test(plugin_fault, listing) { fault_loop("list", op_list, MMGEN_TEST_HOST_PLUGIN_DIR); }
