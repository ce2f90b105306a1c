/* fuzz/fuzz_cli_readers.c - the CLI's readers of user files:
 *   FUZZ_CLI_TOKENS    token files in every format (text ids, u16, u32),
 *                      the first byte choosing the format;
 *   FUZZ_CLI_MANIFEST  the pairs manifest of `mmgen train --pairs`;
 *   FUZZ_CLI_GGUF      GGUF files (`mmgen convert`): the header, every
 *                      key/value and tensor record, and each tensor read
 *                      as F32 (bounded: at most 1 Mi elements each).
 * Their errors are printed to stderr and returned; nothing may crash. */
#include "fuzz.h"

#include "gguf.h"
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
#elif defined(FUZZ_CLI_GGUF)
    char path[64], err[512];
    int fd = fuzz_memfile(data, size, path);
    if (fd < 0) return 0;
    gguf_reader *r = gguf_reader_open(path, err, sizeof err);
    if (r) {
        for (uint64_t i = 0; i < r->n_kv; i++) {
            uint64_t len;
            gguf_kv_str(r, &r->kv[i], &len);
        }
        for (uint64_t i = 0; i < r->n_tensors; i++) {
            uint64_t n = 1;
            for (uint32_t d = 0; d < r->tensors[i].n_dims && n <= (1u << 20); d++) n *= r->tensors[i].ne[d];
            if (n == 0 || n > (1u << 20)) continue;
            float *buf = malloc(n * sizeof *buf);
            if (buf) gguf_reader_read_f32(r, &r->tensors[i], buf, n);
            free(buf);
            /* the stored bytes too (n elements take at most 4 n bytes) */
            unsigned char *raw = malloc(r->tensors[i].n_bytes ? r->tensors[i].n_bytes : 1);
            if (raw) gguf_reader_read_data(r, &r->tensors[i], raw, r->tensors[i].n_bytes);
            free(raw);
        }
        gguf_reader_close(r);
    }
    close(fd);
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
