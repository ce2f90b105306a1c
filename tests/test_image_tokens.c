/* tests/test_image_tokens.c - the image plugin's token stream: layout
 * header, vocabulary ranges, the generation constraint, decode errors, saved
 * state and config errors, through the public tokenizer API. */
#include "image_test.h"

/* A small 2-stage tokenizer fitted on a few fixtures (K = 16, patch 4). */
static mmg_tokenizer *small_fitted(const char *extra) {
    char cfg[256];
    snprintf(cfg, sizeof cfg,
             "{\"patch_size\":4,\"codebook_size\":16,\"stages\":2,\"kmeans_iterations\":5%s%s}",
             extra ? "," : "", extra ? extra : "");
    mmg_tokenizer *t = image_test_tokenizer(cfg);
    const char *names[] = {"rgb8", "rgba8", "pal8", "gray8"};
    const uint8_t *docs[4];
    size_t sizes[4];
    for (int i = 0; i < 4; i++) docs[i] = image_test_fixture(names[i], "png", &sizes[i]);
    cr_assert_eq(mmg_tokenizer_fit(t, docs, sizes, 4), MMG_OK, "fit: %s", mmg_last_error());
    for (int i = 0; i < 4; i++) free((void *)docs[i]);
    return t;
}

Test(image_tokens, vocabulary_and_special_tokens_follow_the_documented_layout) {
    mmg_tokenizer *t = image_test_tokenizer("{\"codebook_size\":16,\"stages\":2}");
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 0, "no vocabulary before fit");
    mmg_tokenizer_free(t);
    t = small_fitted(NULL);
    /* K*S + 4*128 digits + 3 channels + 2 stages + bos, eos, pad */
    cr_assert_eq(mmg_tokenizer_vocab_size(t), 16 * 2 + 520);
    int32_t bos, eos, pad;
    cr_assert_eq(mmg_tokenizer_special_token(t, "bos", &bos), MMG_OK);
    cr_assert_eq(mmg_tokenizer_special_token(t, "eos", &eos), MMG_OK);
    cr_assert_eq(mmg_tokenizer_special_token(t, "pad", &pad), MMG_OK);
    cr_assert_eq(bos, 32 + 517);
    cr_assert_eq(eos, 32 + 518);
    cr_assert_eq(pad, 32 + 519);
    int32_t other = -1;
    cr_assert_eq(mmg_tokenizer_special_token(t, "image", &other), MMG_ERR_NOT_FOUND);
    cr_assert_eq(other, -1, "out-param untouched on error");
    char *text = NULL;
    cr_assert_eq(mmg_tokenizer_describe_token(t, 3, &text), MMG_OK);
    cr_assert(strstr(text, "stage 1 #3"), "%s", text);
    mmg_free(text);
    cr_assert_eq(mmg_tokenizer_describe_token(t, 16 + 5, &text), MMG_OK);
    cr_assert(strstr(text, "stage 2 #5"), "%s", text);
    mmg_free(text);
    cr_assert_eq(mmg_tokenizer_describe_token(t, 32 + 128 + 7, &text), MMG_OK);
    cr_assert(strstr(text, "width low digit 7"), "%s", text);
    mmg_free(text);
    cr_assert_eq(mmg_tokenizer_describe_token(t, eos, &text), MMG_OK);
    cr_assert_str_eq(text, "<eos>");
    mmg_free(text);
    cr_assert_eq(mmg_tokenizer_describe_token(t, 32 + 520, &text), MMG_ERR_RANGE);
    cr_assert_eq(mmg_tokenizer_has_extension(t, MMG_EXT_CONSTRAINT_V1), 1);
    mmg_tokenizer_free(t);
}

Test(image_tokens, encode_starts_with_the_layout_and_decode_restores_the_size) {
    mmg_tokenizer *t = small_fitted(NULL);
    size_t size;
    uint8_t *png = image_test_fixture("rgb8", "png", &size); /* 13x11 */
    int32_t *ids;
    size_t n;
    cr_assert_eq(mmg_tokenizer_encode(t, png, size, &ids, &n), MMG_OK, "%s", mmg_last_error());
    /* 13x11 pixels in 4x4 patches: 4x3 patches (edge-padded), 2 stages */
    cr_assert_eq(n, 6 + 4 * 3 * 2);
    const int32_t L = 32;
    cr_assert_eq(ids[0], L + 0);             /* width high digit 0 */
    cr_assert_eq(ids[1], L + 128 + 4);       /* width low digit 4 */
    cr_assert_eq(ids[2], L + 256 + 0);       /* height high digit 0 */
    cr_assert_eq(ids[3], L + 384 + 3);       /* height low digit 3 */
    cr_assert_eq(ids[4], L + 512 + 1);       /* rgb */
    cr_assert_eq(ids[5], L + 515 + 1);       /* 2 stages */
    for (size_t i = 6; i < n; i++) {
        int stage = (int)((i - 6) % 2);
        cr_assert(ids[i] >= stage * 16 && ids[i] < (stage + 1) * 16, "token %zu = %d", i, ids[i]);
    }
    uint8_t *out;
    size_t out_size;
    cr_assert_eq(mmg_tokenizer_decode(t, ids, n, &out, &out_size), MMG_OK, "%s", mmg_last_error());
    int w, h;
    uint8_t *px = image_test_png_pixels(out, out_size, PNG_FORMAT_RGB, 0, &w, &h);
    cr_assert_not_null(px);
    cr_assert_eq(w, 16);
    cr_assert_eq(h, 12);
    free(px);
    mmg_free(out);

    /* a leading bos and trailing eos and pads are accepted */
    int32_t *wrapped = malloc(sizeof(int32_t) * (n + 4));
    wrapped[0] = L + 517;
    memcpy(wrapped + 1, ids, sizeof(int32_t) * n);
    wrapped[n + 1] = L + 518;
    wrapped[n + 2] = L + 519;
    wrapped[n + 3] = L + 519;
    cr_assert_eq(mmg_tokenizer_decode(t, wrapped, n + 4, &out, &out_size), MMG_OK, "%s", mmg_last_error());
    mmg_free(out);

    /* a 2-stage model decodes the stage-1 stream alone */
    int32_t one[6 + 12];
    memcpy(one, ids, sizeof(int32_t) * 6);
    one[5] = L + 515;
    for (int i = 0; i < 12; i++) one[6 + i] = ids[6 + 2 * i];
    cr_assert_eq(mmg_tokenizer_decode(t, one, 18, &out, &out_size), MMG_OK, "%s", mmg_last_error());
    mmg_free(out);

    /* broken streams: each names the problem */
    int32_t *bad = malloc(sizeof(int32_t) * n);
    memcpy(bad, ids, sizeof(int32_t) * n);
    bad[7] = 999;
    cr_assert_eq(mmg_tokenizer_decode(t, bad, n, &out, &out_size), MMG_ERR_RANGE);
    cr_assert(strstr(mmg_last_error(), "999"), "%s", mmg_last_error());
    memcpy(bad, ids, sizeof(int32_t) * n);
    bad[7] = 3; /* a stage-1 id where stage 2 belongs */
    cr_assert_eq(mmg_tokenizer_decode(t, bad, n, &out, &out_size), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "stage-2"), "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_decode(t, ids, n - 1, &out, &out_size), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "takes 30 tokens"), "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_decode(t, ids, 3, &out, &out_size), MMG_ERR_FORMAT);
    memcpy(bad, ids, sizeof(int32_t) * n);
    bad[4] = L + 512 + 0; /* gray: not this model's channels */
    cr_assert_eq(mmg_tokenizer_decode(t, bad, n, &out, &out_size), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "channels"), "%s", mmg_last_error());
    free(bad);
    free(wrapped);
    mmg_free(ids);
    free(png);
    mmg_tokenizer_free(t);
}

/* Samples uniformly among the allowed tokens until eos; returns the count. */
static size_t generate(mmg_tokenizer *t, int32_t *out, size_t cap, uint64_t *rng) {
    int32_t v = mmg_tokenizer_vocab_size(t), eos;
    mmg_tokenizer_special_token(t, "eos", &eos);
    uint8_t *allowed = malloc((size_t)v);
    size_t n = 0;
    for (;;) {
        memset(allowed, 1, (size_t)v);
        cr_assert_eq(mmg_tokenizer_allowed_next(t, out, n, allowed, (size_t)v), MMG_OK, "%s",
                     mmg_last_error());
        int32_t count = 0;
        for (int32_t i = 0; i < v; i++) count += allowed[i];
        cr_assert_gt(count, 0, "no token allowed after %zu tokens", n);
        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        int32_t pick = (int32_t)((*rng >> 33) % (uint64_t)count), id = -1;
        for (int32_t i = 0; i < v && id < 0; i++)
            if (allowed[i] && pick-- == 0) id = i;
        cr_assert_lt(n, cap, "generation did not end");
        out[n++] = id;
        if (id == eos) break;
    }
    free(allowed);
    return n;
}

Test(image_tokens, the_constraint_makes_every_generated_stream_decodable) {
    /* max_pixels 4096 with 4x4 patches: at most 256 patches */
    mmg_tokenizer *t = small_fitted("\"max_pixels\":4096");
    int32_t eos, pad;
    mmg_tokenizer_special_token(t, "eos", &eos);
    mmg_tokenizer_special_token(t, "pad", &pad);
    int32_t *buf = malloc(sizeof(int32_t) * 4096);
    uint64_t rng = 7;
    for (int round = 0; round < 40; round++) {
        size_t n = generate(t, buf, 4096, &rng);
        int32_t pw = (buf[0] - 32) * 128 + (buf[1] - 32 - 128), ph = (buf[2] - 32 - 256) * 128 + (buf[3] - 32 - 384);
        cr_assert(pw >= 1 && ph >= 1 && pw * ph * 16 <= 4096, "layout %dx%d", pw, ph);
        cr_assert_eq(n, 6 + (size_t)pw * ph * 2 + 1, "round %d: %zu tokens for %dx%d", round, n, pw, ph);
        uint8_t *out;
        size_t out_size;
        cr_assert_eq(mmg_tokenizer_decode(t, buf, n, &out, &out_size), MMG_OK, "%s", mmg_last_error());
        int w, h;
        uint8_t *px = image_test_png_pixels(out, out_size, PNG_FORMAT_RGB, 0, &w, &h);
        cr_assert_not_null(px);
        cr_assert_eq(w, pw * 4);
        cr_assert_eq(h, ph * 4);
        free(px);
        mmg_free(out);
        /* after eos only pad */
        int32_t v = mmg_tokenizer_vocab_size(t);
        uint8_t *allowed = malloc((size_t)v);
        memset(allowed, 1, (size_t)v);
        cr_assert_eq(mmg_tokenizer_allowed_next(t, buf, n, allowed, (size_t)v), MMG_OK);
        for (int32_t i = 0; i < v; i++) cr_assert_eq(allowed[i], i == pad, "id %d after eos", i);
        free(allowed);
    }
    /* an encoded image is a valid prefix: the constraint then asks for eos */
    size_t size;
    uint8_t *png = image_test_fixture("rgb8", "png", &size);
    int32_t *ids;
    size_t n;
    cr_assert_eq(mmg_tokenizer_encode(t, png, size, &ids, &n), MMG_OK);
    int32_t v = mmg_tokenizer_vocab_size(t);
    uint8_t *allowed = malloc((size_t)v);
    for (size_t i = 0; i <= n; i++) {
        memset(allowed, 1, (size_t)v);
        cr_assert_eq(mmg_tokenizer_allowed_next(t, ids, i, allowed, (size_t)v), MMG_OK, "%s", mmg_last_error());
        if (i < n) cr_assert(allowed[ids[i]], "encoded token %zu (%d) is not allowed", i, ids[i]);
        else
            for (int32_t j = 0; j < v; j++) cr_assert_eq(allowed[j], j == eos);
    }
    /* a wrong token in the stream is an error, not a crash */
    ids[2] = 5;
    cr_assert_neq(mmg_tokenizer_allowed_next(t, ids, 4, allowed, (size_t)v), MMG_OK);
    free(allowed);
    mmg_free(ids);
    free(png);
    free(buf);
    mmg_tokenizer_free(t);
}

Test(image_tokens, a_configured_size_fixes_the_generated_layout) {
    mmg_tokenizer *t = small_fitted("\"width\":24,\"height\":8");
    int32_t buf[256];
    uint64_t rng = 99;
    size_t n = generate(t, buf, 256, &rng);
    cr_assert_eq(n, 6 + 6 * 2 * 2 + 1);
    cr_assert_eq(buf[1], 32 + 128 + 6);
    cr_assert_eq(buf[3], 32 + 384 + 2);
    /* and encode resizes any input to it */
    size_t size;
    uint8_t *png = image_test_fixture("pal4", "png", &size);
    int32_t *ids;
    cr_assert_eq(mmg_tokenizer_encode(t, png, size, &ids, &n), MMG_OK);
    cr_assert_eq(n, 6 + 6 * 2 * 2);
    cr_assert_eq(ids[1], 32 + 128 + 6);
    mmg_free(ids);
    free(png);
    mmg_tokenizer_free(t);
}

Test(image_tokens, lossless_mode_round_trips_exactly_and_refuses_too_many_colors) {
    size_t size, esize;
    uint8_t *png = image_test_fixture("pal8_trns_i", "png", &size);
    uint8_t *expect = image_test_fixture("pal8_trns_i", "rgba", &esize);
    int w, h;
    uint8_t *got = image_test_lossless_rgba(png, size, &w, &h);
    cr_assert_eq(memcmp(got, expect, esize), 0, "lossless round trip differs");
    free(got);
    /* 13x11 pixels with more than 16 distinct colors */
    mmg_tokenizer *t = image_test_tokenizer("{\"channels\":\"rgba\",\"patch_size\":1,\"lossless\":true,\"codebook_size\":16}");
    cr_assert_eq(image_test_fit1(t, png, size), MMG_ERR_LIMIT);
    cr_assert(strstr(mmg_last_error(), "distinct colors"), "%s", mmg_last_error());
    mmg_tokenizer_free(t);

    /* colors the palette lacks map to the nearest palette color */
    size_t psize;
    uint8_t *pal = image_test_fixture("pal2", "png", &psize); /* 4 colors */
    uint8_t *pal_px = image_test_fixture("pal2", "rgba", &(size_t){0});
    t = image_test_tokenizer("{\"channels\":\"rgba\",\"patch_size\":1,\"lossless\":true,\"codebook_size\":4}");
    cr_assert_eq(image_test_fit1(t, pal, psize), MMG_OK, "%s", mmg_last_error());
    int32_t *ids;
    size_t n;
    uint8_t *out;
    size_t out_size;
    cr_assert_eq(mmg_tokenizer_encode(t, png, size, &ids, &n), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_decode(t, ids, n, &out, &out_size), MMG_OK);
    uint8_t *dec = image_test_png_pixels(out, out_size, PNG_FORMAT_RGBA, 0, &w, &h);
    for (int i = 0; i < w * h; i++) {
        int found = 0;
        for (int j = 0; j < 13 * 11 && !found; j++) found = memcmp(dec + i * 4, pal_px + j * 4, 4) == 0;
        cr_assert(found, "pixel %d is not a palette color", i);
    }
    free(dec);
    mmg_free(out);
    mmg_free(ids);
    mmg_tokenizer_free(t);
    free(pal);
    free(pal_px);
    free(png);
    free(expect);
}

Test(image_tokens, state_round_trips_and_malformed_states_are_refused) {
    mmg_tokenizer *t = small_fitted(NULL);
    uint8_t *state;
    size_t state_size;
    cr_assert_eq(mmg_tokenizer_save_state(t, &state, &state_size), MMG_OK);
    /* a fresh tokenizer with another config takes the saved one */
    mmg_tokenizer *u = image_test_tokenizer("{\"patch_size\":8,\"codebook_size\":4}");
    cr_assert_eq(mmg_tokenizer_load_state(u, state, state_size), MMG_OK, "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_vocab_size(u), mmg_tokenizer_vocab_size(t));
    size_t size;
    uint8_t *png = image_test_fixture("rgba16_i", "png", &size);
    int32_t *a, *b;
    size_t na, nb;
    cr_assert_eq(mmg_tokenizer_encode(t, png, size, &a, &na), MMG_OK);
    cr_assert_eq(mmg_tokenizer_encode(u, png, size, &b, &nb), MMG_OK);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(a, b, na * sizeof(int32_t)), 0, "tokens differ after load_state");
    uint8_t *s2;
    size_t s2_size;
    cr_assert_eq(mmg_tokenizer_save_state(u, &s2, &s2_size), MMG_OK);
    cr_assert_eq(s2_size, state_size);
    cr_assert_eq(memcmp(s2, state, state_size), 0, "save(load(s)) != s");
    mmg_free(s2);

    uint8_t *bad = malloc(state_size);
    const size_t cuts[] = {0, 7, 20, 80, state_size / 2, state_size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++)
        cr_assert_eq(mmg_tokenizer_load_state(u, state, cuts[i]), MMG_ERR_FORMAT, "cut %zu", cuts[i]);
    for (size_t pos = 0; pos < state_size; pos += 37) {
        memcpy(bad, state, state_size);
        bad[pos] ^= 0x10;
        cr_assert_eq(mmg_tokenizer_load_state(u, bad, state_size), MMG_ERR_FORMAT, "flip at %zu", pos);
    }
    memcpy(bad, state, state_size);
    bad[8] = 2; /* a format version from the future */
    cr_assert_eq(mmg_tokenizer_load_state(u, bad, state_size), MMG_ERR_FORMAT);
    cr_assert(strstr(mmg_last_error(), "version"), "%s", mmg_last_error());
    /* u still works with the state it had */
    int32_t *c;
    size_t nc;
    cr_assert_eq(mmg_tokenizer_encode(u, png, size, &c, &nc), MMG_OK);
    cr_assert_eq(memcmp(a, c, na * sizeof(int32_t)), 0);
    mmg_free(c);
    free(bad);
    /* the encoding does not depend on the number of threads */
    const char *threads[] = {"{\"threads\":1}", "{\"threads\":3}", "{\"threads\":8}"};
    for (int i = 0; i < 3; i++) {
        mmg_tokenizer *v = image_test_tokenizer(threads[i]);
        cr_assert_eq(mmg_tokenizer_load_state(v, state, state_size), MMG_OK);
        cr_assert_eq(mmg_tokenizer_encode(v, png, size, &c, &nc), MMG_OK);
        cr_assert_eq(nc, na);
        cr_assert_eq(memcmp(a, c, na * sizeof(int32_t)), 0, "%s changes the tokens", threads[i]);
        mmg_free(c);
        mmg_tokenizer_free(v);
    }
    mmg_free(a);
    mmg_free(b);
    mmg_free(state);
    free(png);
    mmg_tokenizer_free(u);
    mmg_tokenizer_free(t);
}

Test(image_tokens, bad_configs_and_calls_before_fit_are_refused) {
    mmg_plugin *plugin;
    cr_assert_eq(mmg_plugin_open(IMAGE_PLUGIN_PATH, &plugin), MMG_OK);
    const char *bad[] = {"{\"patch_size\":3}", "{\"pach_size\":4}", "{\"channels\":\"cmyk\"}",
                         "{\"lossless\":true,\"patch_size\":4}", "{\"stages\":3}",
                         "{\"width\":30,\"height\":30}", "{\"width\":32}", "[1,2]", "{",
                         "{\"codebook_size\":0}", "{\"seed\":-1}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mmg_tokenizer *t = NULL;
        cr_assert_eq(mmg_tokenizer_create(plugin, bad[i], &t), MMG_ERR_CONFIG, "%s", bad[i]);
        cr_assert_null(t);
        cr_assert(strstr(mmg_last_error(), "image config"), "%s", mmg_last_error());
    }
    mmg_tokenizer *t;
    cr_assert_eq(mmg_tokenizer_create(plugin, "{\"patch_size\":2}", &t), MMG_OK);
    size_t size;
    uint8_t *png = image_test_fixture("rgb8", "png", &size);
    int32_t *ids;
    size_t n;
    cr_assert_eq(mmg_tokenizer_encode(t, png, size, &ids, &n), MMG_ERR_STATE);
    cr_assert(strstr(mmg_last_error(), "fit"), "%s", mmg_last_error());
    cr_assert_eq(mmg_tokenizer_fit(t, NULL, NULL, 0), MMG_ERR_INVALID_ARG);
    free(png);
    mmg_tokenizer_free(t);
    mmg_plugin_close(plugin);
}
