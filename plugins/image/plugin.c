/* plugins/image/plugin.c - the image plugin's ABI glue: PNG <-> patch tokens.
 *
 * What it does: encode reads a PNG (any valid color type, bit depth 1-16,
 * interlaced or not), converts it to the model's channels (gray, rgb or
 * rgba), resizes it when the config fixes a size (area averaging down,
 * bilinear up), cuts it into P×P patches and emits, per patch, the id of the
 * nearest vector of a learned codebook (and of a second, residual codebook
 * with "stages": 2). decode turns the ids back into patches and writes an
 * 8-bit PNG. fit learns the codebooks by k-means (or, with "lossless", takes
 * the training images' exact colors). See config.c for the JSON config.
 *
 * Token stream of one image (encode emits exactly this; bos/eos are added by
 * the host when it wants them):
 *
 *   w_hi w_lo h_hi h_lo chan stg  p(0,0)[s1 (s2)] p(0,1)[...] ... p(H-1,W-1)[...]
 *
 *   W = (w_hi digit)*128 + (w_lo digit) patches across, likewise H; the
 *   decoded PNG is W*P x H*P pixels (an image whose size is not a multiple of
 *   P is edge-padded up to one). Patches go in raster order; with two stages
 *   each patch is its stage-1 id then its stage-2 id.
 *
 * Vocabulary (K = codebook_size, S = stages, L = K*S):
 *
 *   [0, K)            stage-1 codebook vectors (patch tokens)
 *   [K, 2K)           stage-2 residual codebook vectors (only when S = 2)
 *   [L, L+128)        width in patches, high digit (value*128)
 *   [L+128, L+256)    width in patches, low digit
 *   [L+256, L+384)    height in patches, high digit
 *   [L+384, L+512)    height in patches, low digit
 *   L+512..L+514      channels: gray, rgb, rgba (must match the model)
 *   L+515, L+516      stages: 1, 2 (a 2-stage model decodes a 1-stage stream)
 *   L+517             bos
 *   L+518             eos
 *   L+519             pad
 *   vocab_size = L + 520
 *
 * The constraint extension ("mmgen.constraint/1") lets generation produce
 * only a valid header (sizes within max_pixels, or exactly the configured
 * size), then exactly W*H*S patch tokens each in its stage's range, then
 * eos (then pad). A leading bos in the stream is skipped.
 *
 * decode accepts an optional leading bos and a trailing eos (then only
 * eos/pad); everything else must follow the layout exactly. */
#include <string.h>

#include "image.h"

void img_image_free(img_image *im) {
    img_free(im->pixels);
    im->pixels = NULL;
}

static int image_init(const mmg_host_services *host) {
    if (!host || host->struct_size < sizeof(mmg_host_services) || !host->alloc || !host->realloc ||
        !host->free || !host->log || !host->error)
        return MMG_ERR_PLUGIN;
    vq_host = host; /* the host's services, for vq and this plugin alike */
    return MMG_OK;
}

static void image_deinit(void) {}

static int image_create(const char *config_json, size_t config_size, void **out_instance) {
    if (!out_instance) return img_error(MMG_ERR_INVALID_ARG, "image: create needs out_instance");
    img_config cfg;
    int rc = img_config_parse(config_json, config_size, &cfg);
    if (rc != MMG_OK) return rc;
    img_tokenizer *t = (img_tokenizer *)img_alloc(sizeof *t);
    if (!t) return img_error(MMG_ERR_NOMEM, "image: out of memory creating a tokenizer");
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    *out_instance = t;
    return MMG_OK;
}

static void image_destroy(void *instance) {
    if (!instance) return;
    img_tokenizer_clear((img_tokenizer *)instance);
    img_free(instance);
}

static int image_fit(void *instance, const mmg_plugin_document *docs, size_t n_docs) {
    return img_rvq_fit((img_tokenizer *)instance, docs, n_docs);
}

static int image_save_state(void *instance, uint8_t **out_bytes, size_t *out_size) {
    return img_state_save((const img_tokenizer *)instance, out_bytes, out_size);
}

static int image_load_state(void *instance, const uint8_t *bytes, size_t size) {
    return img_state_load((img_tokenizer *)instance, bytes, size);
}

static int image_encode(void *instance, const uint8_t *doc, size_t doc_size, int32_t **out_ids,
                        size_t *out_count) {
    return img_tokens_encode((const img_tokenizer *)instance, doc, doc_size, out_ids, out_count);
}

static int image_decode(void *instance, const int32_t *ids, size_t count, uint8_t **out_doc,
                        size_t *out_size) {
    return img_tokens_decode((const img_tokenizer *)instance, ids, count, out_doc, out_size);
}

static int32_t image_vocab_size(void *instance) {
    const img_tokenizer *t = (const img_tokenizer *)instance;
    if (!t->fitted) return 0;
    img_vocab v;
    img_vocab_of(&t->cfg, &v);
    return v.size;
}

static int image_special_token(void *instance, const char *name, int32_t *out_id) {
    const img_tokenizer *t = (const img_tokenizer *)instance;
    img_vocab v;
    img_vocab_of(&t->cfg, &v);
    int32_t id = -1;
    if (name && !strcmp(name, "bos")) id = v.bos;
    else if (name && !strcmp(name, "eos")) id = v.eos;
    else if (name && !strcmp(name, "pad")) id = v.pad;
    if (id < 0)
        return img_error(MMG_ERR_NOT_FOUND, "image: no special token named \"%s\" (bos, eos, pad)",
                         name ? name : "(null)");
    *out_id = id;
    return MMG_OK;
}

static int image_describe_token(void *instance, int32_t id, char *buf, size_t buf_size,
                                size_t *out_length) {
    return img_tokens_describe((const img_tokenizer *)instance, id, buf, buf_size, out_length);
}

static int image_allowed_next(void *instance, const int32_t *tokens, size_t n_tokens,
                              uint8_t *allowed, size_t vocab_size) {
    return img_tokens_allowed_next((const img_tokenizer *)instance, tokens, n_tokens, allowed,
                                   vocab_size);
}

static const mmg_ext_constraint_v1 image_constraint = {
    sizeof(mmg_ext_constraint_v1),
    image_allowed_next,
};

static const void *image_get_extension(void *instance, const char *id) {
    (void)instance;
    if (id && !strcmp(id, MMG_EXT_CONSTRAINT_V1)) return &image_constraint;
    return NULL;
}

static const mmg_plugin_descriptor image_descriptor = {
    .struct_size = sizeof(mmg_plugin_descriptor),
    .abi_version = MMG_PLUGIN_ABI_VERSION,
    .name = "image",
    .version = "1.0.0",
    .modality = MMG_MODALITY_IMAGE,
    .description = "PNG images as patch tokens of a learned (residual) VQ codebook",
    .init = image_init,
    .deinit = image_deinit,
    .create = image_create,
    .destroy = image_destroy,
    .fit = image_fit,
    .save_state = image_save_state,
    .load_state = image_load_state,
    .encode = image_encode,
    .decode = image_decode,
    .vocab_size = image_vocab_size,
    .special_token = image_special_token,
    .describe_token = image_describe_token,
    .get_extension = image_get_extension,
};

MMG_PLUGIN_EXPORT const mmg_plugin_descriptor *mmg_plugin_entry_v1(void) {
    return &image_descriptor;
}
