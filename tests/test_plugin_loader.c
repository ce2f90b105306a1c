/* tests/test_plugin_loader.c - loading plugin files: the good test plugin,
 * every deliberately broken one (tests/plugins.cmake), shared modules with
 * reference-counted init/deinit, and the host staying up throughout. */
#define _GNU_SOURCE /* RTLD_NOLOAD */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmgen/mmgen.h"
#include "plugin_module.h"

#define TP(stem) MMGEN_TEST_HOST_PLUGIN_DIR "/mmgen-" stem ".so"

/* init/deinit counts the test plugin publishes (see tests/plugins/testbytes.c). */
static long count_of(const char *var) {
    const char *v = getenv(var);
    return v ? strtol(v, NULL, 10) : 0;
}
#define INITS() count_of("TESTPLUGIN_TESTBYTES_INITS")
#define DEINITS() count_of("TESTPLUGIN_TESTBYTES_DEINITS")

/* Whether the dynamic linker still has the file mapped. */
static int still_mapped(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (h) dlclose(h);
    return h != NULL;
}

/* Opens a plugin that must be refused; checks the status, that the out
 * parameter is untouched and that the message has every expected part. */
static void expect_refused(const char *path, mmg_status want, const char *part1,
                           const char *part2) {
    mmg_plugin *sentinel = (mmg_plugin *)(uintptr_t)0x1234;
    mmg_plugin *p = sentinel;
    mmg_status s = mmg_plugin_open(path, &p);
    cr_assert_eq(s, want, "%s: got %s (%s)", path, mmg_status_name(s), mmg_last_error());
    cr_assert_eq(p, sentinel, "out parameter must be untouched on error");
    cr_assert_eq(mmg_last_status(), want);
    const char *msg = mmg_last_error();
    cr_assert(strstr(msg, part1) != NULL, "message '%s' lacks '%s'", msg, part1);
    if (part2) cr_assert(strstr(msg, part2) != NULL, "message '%s' lacks '%s'", msg, part2);
    cr_assert_eq(mmg__module_loaded_count(), 0, "a refused plugin must not stay loaded");
}

/* The host is still fine: the good plugin opens and encodes. */
static void host_still_works(void) {
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open(TP("testbytes"), &p), MMG_OK, "%s", mmg_last_error());
    mmg_tokenizer *t = NULL;
    cr_assert_eq(mmg_tokenizer_create(p, NULL, &t), MMG_OK, "%s", mmg_last_error());
    int32_t *ids = NULL;
    size_t n = 0;
    cr_assert_eq(mmg_tokenizer_encode(t, (const uint8_t *)"ok", 2, &ids, &n), MMG_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(ids[0], 'o');
    mmg_free(ids);
    mmg_tokenizer_free(t);
    mmg_plugin_close(p);
    cr_assert_eq(mmg__module_loaded_count(), 0);
}

Test(plugin_loader, opens_the_good_plugin_and_reports_what_it_declares) {
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open(TP("testbytes"), &p), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(mmg_plugin_name(p), "testbytes");
    cr_assert_str_eq(mmg_plugin_version(p), "1.2.3");
    cr_assert_str_eq(mmg_plugin_description(p), "bytes as tokens, for testing the plugin host");
    cr_assert_eq(mmg_plugin_modality(p), MMG_MODALITY_OTHER);
    cr_assert_str_eq(mmg_modality_name(mmg_plugin_modality(p)), "other");
    cr_assert_eq(mmg_plugin_abi_version(p), MMG_PLUGIN_ABI_VERSION);
    cr_assert_eq(mmg_plugin_host_abi_version(), MMG_PLUGIN_ABI_VERSION);
    const char *path = mmg_plugin_path(p);
    cr_assert_eq(path[0], '/', "path '%s' must be absolute", path);
    cr_assert(strstr(path, "/mmgen-testbytes.so") != NULL, "%s", path);
    cr_assert_eq(INITS(), 1);
    mmg_plugin_close(p);
    cr_assert_eq(DEINITS(), 1);
    cr_assert_eq(mmg__module_loaded_count(), 0);
}

Test(plugin_loader, getters_on_null_are_harmless) {
    mmg_plugin_close(NULL);
    cr_assert_str_eq(mmg_plugin_name(NULL), "");
    cr_assert_str_eq(mmg_plugin_path(NULL), "");
    cr_assert_eq(mmg_plugin_abi_version(NULL), 0);
    cr_assert_str_eq(mmg_modality_name(MMG_MODALITY_IMAGE), "image");
    cr_assert_str_eq(mmg_modality_name(99), "unknown");
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open(NULL, &p), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_plugin_open("", &p), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_plugin_open(TP("testbytes"), NULL), MMG_ERR_INVALID_ARG);
    cr_assert_null(p);
}

Test(plugin_loader, a_file_without_the_entry_symbol_is_not_a_plugin) {
    expect_refused(TP("broken-noentry"), MMG_ERR_PLUGIN, "mmgen-broken-noentry.so",
                   "does not export mmg_plugin_entry_v1");
    host_still_works();
}

Test(plugin_loader, an_entry_of_another_major_is_an_abi_error) {
    expect_refused(TP("broken-entry-v2"), MMG_ERR_ABI, "mmgen-broken-entry-v2.so",
                   "mmg_plugin_entry_v2");
    host_still_works();
}

Test(plugin_loader, a_descriptor_of_another_major_names_the_file_and_both_versions) {
    expect_refused(TP("broken-major"), MMG_ERR_ABI, "mmgen-broken-major.so", "plugin ABI 2.0");
    cr_assert(strstr(mmg_last_error(), "1.0") != NULL, "%s", mmg_last_error());
    host_still_works();
}

Test(plugin_loader, a_descriptor_smaller_than_v1_0_is_refused_without_reading_past_it) {
    /* The plugin puts its descriptor against an inaccessible page: reading
     * past struct_size would crash this test. */
    expect_refused(TP("broken-small"), MMG_ERR_PLUGIN, "mmgen-broken-small.so", "struct_size");
    host_still_works();
}

Test(plugin_loader, a_null_required_function_is_named) {
    expect_refused(TP("broken-nullfn"), MMG_ERR_PLUGIN, "mmgen-broken-nullfn.so",
                   "required function encode is NULL");
    host_still_works();
}

Test(plugin_loader, a_failing_init_is_reported_with_the_plugins_message) {
    expect_refused(TP("broken-initfails"), MMG_ERR_PLUGIN, "init() failed",
                   "init refuses to start");
    cr_assert(strstr(mmg_last_error(), "mmgen-broken-initfails.so") != NULL);
    /* init failed, so deinit must not run; and init ran once. */
    cr_assert_eq(count_of("TESTPLUGIN_INITFAILS_DEINITS"), 0);
    cr_assert_eq(still_mapped(TP("broken-initfails")), 0, "a failed plugin must be dlclosed");
    host_still_works();
}

Test(plugin_loader, a_file_that_is_not_a_shared_object_is_refused) {
    char dir[] = "/tmp/mmgen-loader-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/mmgen-garbage.so", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("this is not an ELF file\n", f);
    fclose(f);
    expect_refused(path, MMG_ERR_PLUGIN, "cannot load plugin", "mmgen-garbage.so");
    expect_refused(dir, MMG_ERR_PLUGIN, "not a regular file", NULL);
    remove(path);
    rmdir(dir);
    expect_refused("/nonexistent/mmgen-nothing.so", MMG_ERR_NOT_FOUND, "does not exist",
                   "/nonexistent/mmgen-nothing.so");
    host_still_works();
}

Test(plugin_loader, the_same_file_opened_twice_shares_one_module_closed_in_either_order) {
    for (int order = 0; order < 2; order++) {
        long inits = INITS(), deinits = DEINITS();
        mmg_plugin *a = NULL, *b = NULL;
        cr_assert_eq(mmg_plugin_open(TP("testbytes"), &a), MMG_OK);
        /* Another spelling of the same file. */
        cr_assert_eq(mmg_plugin_open(MMGEN_TEST_HOST_PLUGIN_DIR "/./mmgen-testbytes.so", &b),
                     MMG_OK);
        cr_assert_neq(a, b, "each open gives its own handle");
        cr_assert_str_eq(mmg_plugin_path(a), mmg_plugin_path(b));
        cr_assert_eq(mmg__module_loaded_count(), 1);
        cr_assert_eq(INITS(), inits + 1, "init must run once for two opens");
        mmg_plugin_close(order == 0 ? a : b);
        cr_assert_eq(DEINITS(), deinits, "deinit must wait for the last user");
        cr_assert(still_mapped(TP("testbytes")));
        cr_assert_str_eq(mmg_plugin_name(order == 0 ? b : a), "testbytes");
        mmg_plugin_close(order == 0 ? b : a);
        cr_assert_eq(DEINITS(), deinits + 1);
        cr_assert_eq(mmg__module_loaded_count(), 0);
        cr_assert_eq(still_mapped(TP("testbytes")), 0, "the last close must dlclose");
    }
    /* Reloading after an unload runs init again. */
    cr_assert_eq(INITS(), 2);
}

Test(plugin_loader, a_symlink_to_a_loaded_plugin_shares_its_module) {
    char dir[] = "/tmp/mmgen-loader-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char link[256];
    snprintf(link, sizeof link, "%s/mmgen-alias.so", dir);
    cr_assert_eq(symlink(TP("testbytes"), link), 0);
    mmg_plugin *a = NULL, *b = NULL;
    cr_assert_eq(mmg_plugin_open(TP("testbytes"), &a), MMG_OK);
    cr_assert_eq(mmg_plugin_open(link, &b), MMG_OK);
    cr_assert_eq(mmg__module_loaded_count(), 1);
    cr_assert_eq(INITS(), 1);
    cr_assert(strstr(mmg_plugin_path(b), "mmgen-testbytes.so") != NULL, "realpath is reported");
    mmg_plugin_close(a);
    mmg_plugin_close(b);
    cr_assert_eq(DEINITS(), 1);
    remove(link);
    rmdir(dir);
}

Test(plugin_loader, a_tokenizer_keeps_its_module_loaded_after_the_plugin_is_closed) {
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open(TP("testbytes"), &p), MMG_OK);
    mmg_tokenizer *t1 = NULL, *t2 = NULL;
    cr_assert_eq(mmg_tokenizer_create(p, NULL, &t1), MMG_OK);
    cr_assert_eq(mmg_tokenizer_create(p, "{}", &t2), MMG_OK);
    mmg_plugin_close(p);
    cr_assert_eq(DEINITS(), 0);
    cr_assert_str_eq(mmg_plugin_name(mmg_tokenizer_plugin(t1)), "testbytes");
    uint8_t *doc = NULL;
    size_t n = 0;
    const int32_t ids[] = {'h', 'i'};
    cr_assert_eq(mmg_tokenizer_decode(t1, ids, 2, &doc, &n), MMG_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(memcmp(doc, "hi", 2), 0);
    mmg_free(doc);
    mmg_tokenizer_free(t1);
    cr_assert_eq(DEINITS(), 0);
    mmg_tokenizer_free(t2);
    cr_assert_eq(DEINITS(), 1);
    cr_assert_eq(INITS(), 1);
    cr_assert_eq(mmg__module_loaded_count(), 0);
}

Test(plugin_loader, distinct_plugins_load_side_by_side) {
    mmg_plugin *a = NULL, *b = NULL;
    cr_assert_eq(mmg_plugin_open(TP("testbytes"), &a), MMG_OK);
    cr_assert_eq(mmg_plugin_open(TP("testbytes2"), &b), MMG_OK);
    cr_assert_str_eq(mmg_plugin_name(b), "testbytes2");
    cr_assert_eq(mmg__module_loaded_count(), 2);
    mmg_plugin_close(a);
    cr_assert_eq(mmg__module_loaded_count(), 1);
    mmg_plugin_close(b);
    cr_assert_eq(count_of("TESTPLUGIN_TESTBYTES2_DEINITS"), 1);
}

/* Plugin log messages reach the user's callback with the plugin's name. */
static char logged[4096];
static void capture(mmg_log_level level, const char *message, void *user_data) {
    (void)level;
    (void)user_data;
    if (strlen(logged) + strlen(message) + 2 < sizeof logged) {
        strcat(logged, message);
        strcat(logged, "\n");
    }
}

Test(plugin_loader, plugin_log_messages_carry_the_plugins_name) {
    mmg_set_log_callback(capture, MMG_LOG_INFO, NULL);
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open(TP("testbytes"), &p), MMG_OK);
    mmg_plugin_close(p);
    mmg_set_log_callback(NULL, MMG_LOG_ERROR, NULL);
    cr_assert(strstr(logged, "plugin 'testbytes': init (testbytes)") != NULL, "%s", logged);
    cr_assert(strstr(logged, "plugin 'testbytes': deinit") != NULL, "%s", logged);
}

/* Many threads opening, using and closing the same plugin. */
static void *churn(void *arg) {
    (void)arg;
    for (int i = 0; i < 200; i++) {
        mmg_plugin *p = NULL;
        if (mmg_plugin_open(TP("testbytes"), &p) != MMG_OK) return (void *)1;
        mmg_tokenizer *t = NULL;
        if (mmg_tokenizer_create(p, NULL, &t) != MMG_OK) return (void *)2;
        mmg_plugin_close(p);
        int32_t *ids = NULL;
        size_t n = 0;
        if (mmg_tokenizer_encode(t, (const uint8_t *)"abc", 3, &ids, &n) != MMG_OK || n != 3)
            return (void *)3;
        mmg_free(ids);
        mmg_tokenizer_free(t);
    }
    return NULL;
}

Test(plugin_loader, opening_and_closing_from_many_threads_is_safe) {
    pthread_t th[4];
    for (int i = 0; i < 4; i++) cr_assert_eq(pthread_create(&th[i], NULL, churn, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *rc = (void *)1;
        pthread_join(th[i], &rc);
        cr_assert_null(rc, "thread %d failed at step %p: %s", i, rc, mmg_last_error());
    }
    cr_assert_eq(mmg__module_loaded_count(), 0);
    cr_assert_geq(INITS(), 1);
    cr_assert_eq(INITS(), DEINITS(), "every init must be matched by one deinit");
}
