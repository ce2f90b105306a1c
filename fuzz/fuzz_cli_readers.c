/* fuzz/fuzz_cli_readers.c - the CLI's readers of user files:
 *   FUZZ_CLI_TOKENS    token files in every format (text ids, u16, u32),
 *                      the first byte choosing the format;
 *   FUZZ_CLI_MANIFEST  the pairs manifest of `mmgen train --pairs`.
 * Their errors are printed to stderr and returned; nothing may crash. */
#include "fuzz.h"

#include "manifest.h"
#include "tokens_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#if defined(FUZZ_CLI_TOKENS)
    if (size < 1) return 0;
    tokens_format f = (tokens_format)(data[0] % 4);
    int32_t *ids = NULL;
    size_t n = 0;
    if (tokens_parse(data + 1, size - 1, f, "fuzz", &ids, &n) == 0) {
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0;
        if (tokens_format_append(ids, n, f, &buf, &len, &cap) == 0) {
            int32_t *again = NULL;
            size_t m = 0;
            FUZZ_CHECK(tokens_parse(buf, len, f, "fuzz", &again, &m) == 0, "written ids do not parse");
            FUZZ_CHECK(m == n && (n == 0 || !memcmp(again, ids, n * sizeof *ids)), "ids changed");
            free(again);
        }
        free(buf);
    }
    free(ids);
#else
    char path[64];
    int fd = fuzz_memfile(data, size, path);
    if (fd < 0) return 0;
    manifest m = {0};
    if (manifest_read(path, &m) == 0) manifest_free(&m);
    close(fd);
#endif
    return 0;
}
