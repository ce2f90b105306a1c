/* tests/test_plugin_search.c - finding plugins: names through
 * MMGEN_PLUGIN_PATH, the search order, and listing a directory that holds
 * good and broken plugins side by side. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmgen/mmgen.h"
#include "error.h"
#include "plugin_module.h"

#define TP(stem) MMGEN_TEST_HOST_PLUGIN_DIR "/mmgen-" stem ".so"

static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out, "cannot copy %s to %s", from, to);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* A fresh temporary directory; removed (one level deep) by rm_dir. */
static void make_dir(char *tmpl) { cr_assert_not_null(mkdtemp(tmpl)); }
static void rm_dir(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(plugin_search, a_name_is_found_through_MMGEN_PLUGIN_PATH) {
    /* Empty entries and missing directories are skipped. */
    setenv("MMGEN_PLUGIN_PATH", "::/nonexistent/dir:" MMGEN_TEST_HOST_PLUGIN_DIR ":", 1);
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open("testbytes", &p), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(mmg_plugin_name(p), "testbytes");
    mmg_plugin *q = NULL;
    cr_assert_eq(mmg_plugin_open("mmgen-testbytes.so", &q), MMG_OK, "a file name works too");
    cr_assert_str_eq(mmg_plugin_path(p), mmg_plugin_path(q));
    mmg_plugin_close(p);
    mmg_plugin_close(q);
}

Test(plugin_search, an_unknown_name_lists_where_it_looked) {
    setenv("MMGEN_PLUGIN_PATH", "/nonexistent/a:/nonexistent/b", 1);
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open("nosuch", &p), MMG_ERR_NOT_FOUND);
    cr_assert_null(p);
    const char *msg = mmg_last_error();
    cr_assert(strstr(msg, "mmgen-nosuch.so") != NULL, "%s", msg);
    cr_assert(strstr(msg, "/nonexistent/a:/nonexistent/b:" MMGEN_PLUGIN_INSTALL_DIR_FOR_TESTS) !=
                  NULL,
              "%s", msg);
}

Test(plugin_search, the_current_directory_is_not_searched_implicitly) {
    unsetenv("MMGEN_PLUGIN_PATH");
    cr_assert_eq(chdir(MMGEN_TEST_HOST_PLUGIN_DIR), 0);
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open("testbytes", &p), MMG_ERR_NOT_FOUND, "%s", mmg_last_error());
    cr_assert_eq(mmg_plugin_open("./mmgen-testbytes.so", &p), MMG_OK, "%s", mmg_last_error());
    mmg_plugin_close(p);
}

Test(plugin_search, the_first_directory_that_has_the_file_wins) {
    char a[] = "/tmp/mmgen-search-XXXXXX";
    make_dir(a);
    char path[512];
    /* Directory a holds testbytes2's build under the name mmgen-testbytes.so. */
    snprintf(path, sizeof path, "%s/mmgen-testbytes.so", a);
    copy_file(TP("testbytes2"), path);
    char env[1024];
    snprintf(env, sizeof env, "%s:%s", a, MMGEN_TEST_HOST_PLUGIN_DIR);
    setenv("MMGEN_PLUGIN_PATH", env, 1);
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open("testbytes", &p), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(mmg_plugin_name(p), "testbytes2");
    mmg_plugin_close(p);
    snprintf(env, sizeof env, "%s:%s", MMGEN_TEST_HOST_PLUGIN_DIR, a);
    setenv("MMGEN_PLUGIN_PATH", env, 1);
    cr_assert_eq(mmg_plugin_open("testbytes", &p), MMG_OK);
    cr_assert_str_eq(mmg_plugin_name(p), "testbytes");
    mmg_plugin_close(p);
    rm_dir(a);
}

Test(plugin_search, the_search_path_is_the_environment_then_the_install_dir) {
    setenv("MMGEN_PLUGIN_PATH", "/x:/y", 1);
    char *sp = NULL;
    cr_assert_eq(mmg_plugin_search_path(&sp), MMG_OK);
    cr_assert_str_eq(sp, "/x:/y:" MMGEN_PLUGIN_INSTALL_DIR_FOR_TESTS);
    mmg_free(sp);
    unsetenv("MMGEN_PLUGIN_PATH");
    cr_assert_eq(mmg_plugin_search_path(&sp), MMG_OK);
    cr_assert_str_eq(sp, MMGEN_PLUGIN_INSTALL_DIR_FOR_TESTS);
    cr_assert(strstr(sp, "/mmgen/plugins") != NULL, "%s", sp);
    mmg_free(sp);
    cr_assert_eq(mmg_plugin_search_path(NULL), MMG_ERR_INVALID_ARG);
}

Test(plugin_search, listing_reports_good_and_broken_plugins_without_failing) {
    char d[] = "/tmp/mmgen-list-XXXXXX";
    make_dir(d);
    char path[512];
    static const char *const stems[] = {"testbytes", "broken-noentry", "broken-major",
                                        "broken-initfails", "v1fixture"};
    for (size_t i = 0; i < sizeof stems / sizeof *stems; i++) {
        char from[512];
        snprintf(from, sizeof from, "%s/mmgen-%s.so", MMGEN_TEST_HOST_PLUGIN_DIR, stems[i]);
        snprintf(path, sizeof path, "%s/mmgen-%s.so", d, stems[i]);
        copy_file(from, path);
    }
    snprintf(path, sizeof path, "%s/mmgen-garbage.so", d);
    write_file(path, "not a shared object");
    /* Files that are not named like plugins are not listed. */
    snprintf(path, sizeof path, "%s/libother.so", d);
    write_file(path, "x");
    snprintf(path, sizeof path, "%s/mmgen-notes.txt", d);
    write_file(path, "x");

    mmg__error(MMG_ERR_CONFIG, "an earlier error");
    char search[1024];
    snprintf(search, sizeof search, "/nonexistent:%s:%s", d, d); /* d twice: listed once */
    mmg_plugin_list *list = NULL;
    cr_assert_eq(mmg_plugin_list_create(search, &list), MMG_OK, "%s", mmg_last_error());
    cr_assert_str_eq(mmg_last_error(), "an earlier error", "a listing must not clobber it");
    cr_assert_eq(mmg_last_status(), MMG_ERR_CONFIG);

    /* Sorted by file name within the directory. */
    static const struct {
        const char *file;
        mmg_status status;
        const char *name, *in_error;
    } want[] = {
        {"mmgen-broken-initfails.so", MMG_ERR_PLUGIN, "", "init refuses"},
        {"mmgen-broken-major.so", MMG_ERR_ABI, "", "plugin ABI 2.0"},
        {"mmgen-broken-noentry.so", MMG_ERR_PLUGIN, "", "mmg_plugin_entry_v1"},
        {"mmgen-garbage.so", MMG_ERR_PLUGIN, "", "cannot load"},
        {"mmgen-testbytes.so", MMG_OK, "testbytes", ""},
        {"mmgen-v1fixture.so", MMG_OK, "v1fixture", ""},
    };
    size_t n = sizeof want / sizeof *want;
    cr_assert_eq(mmg_plugin_list_count(list), n);
    for (size_t i = 0; i < n; i++) {
        const char *p = mmg_plugin_list_path(list, i);
        cr_assert(strstr(p, want[i].file) != NULL, "entry %zu is %s, expected %s", i, p,
                  want[i].file);
        cr_assert_eq(mmg_plugin_list_status(list, i), want[i].status, "%s: %s", p,
                     mmg_plugin_list_error(list, i));
        cr_assert_str_eq(mmg_plugin_list_name(list, i), want[i].name);
        cr_assert(strstr(mmg_plugin_list_error(list, i), want[i].in_error) != NULL, "%s: '%s'", p,
                  mmg_plugin_list_error(list, i));
        if (want[i].status != MMG_OK) {
            cr_assert_neq(mmg_plugin_list_error(list, i)[0], '\0');
            cr_assert_eq(mmg_plugin_list_abi_version(list, i), 0);
        }
    }
    cr_assert_str_eq(mmg_plugin_list_version(list, 4), "1.2.3");
    cr_assert_str_eq(mmg_plugin_list_description(list, 5), "frozen ABI 1.0 fixture");
    cr_assert_eq(mmg_plugin_list_modality(list, 4), MMG_MODALITY_OTHER);
    cr_assert_eq(mmg_plugin_list_abi_version(list, 5), MMGEN_MAKE_ABI_VERSION(1, 0));
    /* Out of range and NULL are harmless. */
    cr_assert_str_eq(mmg_plugin_list_path(list, n), "");
    cr_assert_eq(mmg_plugin_list_status(list, n), MMG_ERR_INVALID_ARG);
    cr_assert_eq(mmg_plugin_list_count(NULL), 0);
    mmg_plugin_list_free(list);
    mmg_plugin_list_free(NULL);
    cr_assert_eq(mmg__module_loaded_count(), 0, "listing leaves nothing loaded");
    rm_dir(d);
}

Test(plugin_search, listing_the_default_path_uses_MMGEN_PLUGIN_PATH) {
    setenv("MMGEN_PLUGIN_PATH", MMGEN_TEST_HOST_PLUGIN_DIR, 1);
    mmg_plugin_list *list = NULL;
    cr_assert_eq(mmg_plugin_list_create(NULL, &list), MMG_OK);
    size_t good = 0, bad = 0;
    for (size_t i = 0; i < mmg_plugin_list_count(list); i++)
        *(mmg_plugin_list_status(list, i) == MMG_OK ? &good : &bad) += 1;
    /* testbytes, testbytes2, newer-minor, v1fixture load; six are broken. */
    cr_assert_geq(good, 4);
    cr_assert_geq(bad, 6);
    mmg_plugin_list_free(list);
    cr_assert_eq(mmg_plugin_list_create(NULL, NULL), MMG_ERR_INVALID_ARG);
}

Test(plugin_search, listing_while_a_plugin_is_open_shares_its_module) {
    mmg_plugin *p = NULL;
    cr_assert_eq(mmg_plugin_open(TP("testbytes"), &p), MMG_OK);
    mmg_plugin_list *list = NULL;
    cr_assert_eq(mmg_plugin_list_create(MMGEN_TEST_HOST_PLUGIN_DIR, &list), MMG_OK);
    cr_assert_eq(getenv("TESTPLUGIN_TESTBYTES_DEINITS"), NULL, "listing must not deinit it");
    cr_assert_str_eq(getenv("TESTPLUGIN_TESTBYTES_INITS"), "1");
    mmg_plugin_list_free(list);
    mmg_plugin_close(p);
}
