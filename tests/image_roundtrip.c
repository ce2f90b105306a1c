/* tests/image_roundtrip.c - what the image plugin reads from a PNG, written
 * back as a PNG, for tests/check_image_formats.sh to compare with
 * ImageMagick's reading of the same file.
 *
 *   image_roundtrip IN.png OUT.png [channels]
 *
 * Opens the plugin through the public API, fits a lossless tokenizer (patch
 * 1, exact colors, channels "rgba" by default) on IN.png, encodes it,
 * decodes the tokens and writes the PNG that decode returns. Exit 0 on
 * success, 1 with the library's message on stderr otherwise. */
#include <stdio.h>
#include <stdlib.h>

#include "mmgen/mmgen.h"

static int fail(const char *what) {
    fprintf(stderr, "image_roundtrip: %s: %s\n", what, mmg_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: image_roundtrip IN.png OUT.png [gray|rgb|rgba]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *png = malloc(n > 0 ? (size_t)n : 1);
    size_t size = fread(png, 1, (size_t)n, f);
    fclose(f);

    mmg_plugin *plugin;
    if (mmg_plugin_open(MMGEN_TEST_PLUGIN_DIR "/mmgen-image.so", &plugin) != MMG_OK)
        return fail("open plugin");
    char cfg[160];
    snprintf(cfg, sizeof cfg,
             "{\"channels\":\"%s\",\"patch_size\":1,\"lossless\":true,\"codebook_size\":65536}",
             argc > 3 ? argv[3] : "rgba");
    mmg_tokenizer *t;
    if (mmg_tokenizer_create(plugin, cfg, &t) != MMG_OK) return fail("create");
    mmg_plugin_close(plugin);
    const uint8_t *docs[1] = {png};
    if (mmg_tokenizer_fit(t, docs, &size, 1) != MMG_OK) return fail("fit");
    int32_t *ids;
    size_t count;
    if (mmg_tokenizer_encode(t, png, size, &ids, &count) != MMG_OK) return fail("encode");
    uint8_t *out;
    size_t out_size;
    if (mmg_tokenizer_decode(t, ids, count, &out, &out_size) != MMG_OK) return fail("decode");
    FILE *o = fopen(argv[2], "wb");
    if (!o || fwrite(out, 1, out_size, o) != out_size || fclose(o) != 0) {
        perror(argv[2]);
        return 1;
    }
    mmg_free(ids);
    mmg_free(out);
    mmg_tokenizer_free(t);
    free(png);
    return 0;
}
