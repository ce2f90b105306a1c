/* plugins/audio/config.c - the tokenizer's JSON configuration.
 *
 *   {"mode": "learned",          "mulaw" | "codec2" | "learned"
 *    "sample_rate": 8000,        the tokens' rate: 8000, 11025, 12000, 16000,
 *                                22050, 24000, 32000, 44100 or 48000 (codec2:
 *                                8000 only); input of any rate is resampled
 *    "codec2_mode": "1200",      "3200" "2400" "1600" "1400" "1300" "1200" "700C"
 *    learned codec:
 *    "frame_ms": 25,             one token frame: a gain id + one id per stage
 *    "subframes": 2,             log-mel frames per token frame (hop frame_ms/2)
 *    "n_mels": 40, "window_ms": 32,
 *    "stages": 3, "codebook_size": 1024, "gain_levels": 64,
 *    "griffin_lim_iterations": 32,
 *    "kmeans_iterations": 20, "max_train_frames": 200000, "seed": 1,
 *    "threads": 0,               k-means and search threads; 0: every CPU
 *    limits and output (not part of the saved state):
 *    "max_channels": 64, "max_seconds": 3600, "max_file_bytes": 2147483648,
 *    "output": "pcm16"}          decoded WAV: "pcm16" or "float"
 *
 * The learned codec's token rate is (1 + stages) * 1000 / frame_ms per
 * second: 160 with the defaults, plus 6 header tokens per file (about 183
 * tokens/s in all on half-second spoken digits). Unknown keys are errors, so
 * a typo never silently falls back to a default. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <codec2/codec2.h>

#include "audio.h"

const int32_t aud_rates[AUD_N_RATES] = {8000, 11025, 12000, 16000, 22050,
                                        24000, 32000, 44100, 48000};

const aud_codec2_mode aud_codec2_modes[AUD_N_CODEC2_MODES] = {
    {"3200", CODEC2_MODE_3200}, {"2400", CODEC2_MODE_2400}, {"1600", CODEC2_MODE_1600},
    {"1400", CODEC2_MODE_1400}, {"1300", CODEC2_MODE_1300}, {"1200", CODEC2_MODE_1200},
    {"700C", CODEC2_MODE_700C}};

int aud_rate_index(int32_t rate) {
    for (int i = 0; i < AUD_N_RATES; i++)
        if (aud_rates[i] == rate) return i;
    return -1;
}

void aud_config_defaults(aud_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->codec = AUD_LEARNED;
    cfg->sample_rate = 8000;
    cfg->codec2_mode = 5; /* 1200 */
    cfg->frame_ms = 25;
    cfg->subframes = 2;
    cfg->n_mels = 40;
    cfg->window_ms = 32;
    cfg->stages = 3;
    cfg->codebook_size = 1024;
    cfg->gain_levels = 64;
    cfg->griffin_lim_iterations = 32;
    cfg->kmeans_iterations = 20;
    cfg->max_train_frames = 200000;
    cfg->seed = 1;
    cfg->max_channels = 64;
    cfg->max_seconds = 3600;
    cfg->max_file_bytes = 2ull << 30;
}

int aud_config_check(const aud_config *c) {
    if (c->codec < AUD_MULAW || c->codec > AUD_LEARNED)
        return aud_error(MMG_ERR_CONFIG, "audio config: unknown mode %d", (int)c->codec);
    if (aud_rate_index(c->sample_rate) < 0)
        return aud_error(MMG_ERR_CONFIG, "audio config: sample_rate %d is not one of 8000, 11025, "
                         "12000, 16000, 22050, 24000, 32000, 44100, 48000", c->sample_rate);
    if (c->codec2_mode < 0 || c->codec2_mode >= AUD_N_CODEC2_MODES)
        return aud_error(MMG_ERR_CONFIG, "audio config: codec2_mode index %d is invalid",
                         c->codec2_mode);
    if (c->codec == AUD_CODEC2 && c->sample_rate != 8000)
        return aud_error(MMG_ERR_CONFIG, "audio config: codec2 codes 8000 Hz speech; sample_rate "
                         "is %d", c->sample_rate);
    if (c->codec == AUD_LEARNED) {
        int64_t len = (int64_t)c->sample_rate * c->frame_ms;
        if (len % 1000 || (len / 1000) % c->subframes)
            return aud_error(MMG_ERR_CONFIG, "audio config: frame_ms %d at %d Hz is not a whole "
                             "number of samples divisible by subframes %d", c->frame_ms,
                             c->sample_rate, c->subframes);
        int64_t stream_ids = (int64_t)c->gain_levels + (int64_t)c->stages * c->codebook_size;
        if (stream_ids > (1 << 24))
            return aud_error(MMG_ERR_CONFIG, "audio config: stages x codebook_size is too large");
    }
    if (!(c->max_seconds > 0) || !isfinite(c->max_seconds))
        return aud_error(MMG_ERR_CONFIG, "audio config: max_seconds must be a positive number");
    return MMG_OK;
}

/* Integer keys: name, field offset, range. */
typedef struct int_key {
    const char *name;
    size_t offset;
    int wide; /* int64_t / uint64_t field, else int32_t */
    double lo, hi;
} int_key;

#define K32(name, lo, hi) {#name, offsetof(aud_config, name), 0, lo, hi}
#define K64(name, lo, hi) {#name, offsetof(aud_config, name), 1, lo, hi}
static const int_key int_keys[] = {
    K32(sample_rate, 1, 1e6),        K32(frame_ms, 5, 100),
    K32(subframes, 1, 8),            K32(n_mels, 8, 128),
    K32(window_ms, 8, 128),          K32(stages, 1, 8),
    K32(codebook_size, 2, 65536),    K32(gain_levels, 2, 1024),
    K32(griffin_lim_iterations, 0, 10000), K32(kmeans_iterations, 0, 10000),
    K64(max_train_frames, 1, 1e12),  K64(seed, 0, 9007199254740992.0),
    K32(threads, 0, 64),             K32(max_channels, 1, 1024),
    K64(max_file_bytes, 1, 1e15),
};

static int set_int(aud_config *c, const cJSON *it, const int_key *k) {
    if (!cJSON_IsNumber(it))
        return aud_error(MMG_ERR_CONFIG, "audio config: \"%s\" must be a number", k->name);
    double v = it->valuedouble;
    if (v != floor(v) || v < k->lo || v > k->hi)
        return aud_error(MMG_ERR_CONFIG, "audio config: \"%s\" is %g; expected an integer in "
                         "[%g, %g]", k->name, v, k->lo, k->hi);
    char *field = (char *)c + k->offset;
    if (k->wide) {
        int64_t w = (int64_t)v;
        memcpy(field, &w, sizeof w);
    } else {
        int32_t n = (int32_t)v;
        memcpy(field, &n, sizeof n);
    }
    return MMG_OK;
}

static int set_string(aud_config *c, const cJSON *it, const char *k) {
    const char *s = cJSON_GetStringValue(it);
    if (!strcmp(k, "mode")) {
        if (s && !strcmp(s, "mulaw")) c->codec = AUD_MULAW;
        else if (s && !strcmp(s, "codec2")) c->codec = AUD_CODEC2;
        else if (s && !strcmp(s, "learned")) c->codec = AUD_LEARNED;
        else return aud_error(MMG_ERR_CONFIG, "audio config: \"mode\" must be \"mulaw\", "
                              "\"codec2\" or \"learned\"");
        return MMG_OK;
    }
    if (!strcmp(k, "codec2_mode")) {
        for (int i = 0; s && i < AUD_N_CODEC2_MODES; i++)
            if (!strcmp(s, aud_codec2_modes[i].name)) {
                c->codec2_mode = i;
                return MMG_OK;
            }
        return aud_error(MMG_ERR_CONFIG, "audio config: \"codec2_mode\" must be one of \"3200\", "
                         "\"2400\", \"1600\", \"1400\", \"1300\", \"1200\", \"700C\"");
    }
    /* "output" */
    if (s && !strcmp(s, "pcm16")) c->output_float = 0;
    else if (s && !strcmp(s, "float")) c->output_float = 1;
    else return aud_error(MMG_ERR_CONFIG, "audio config: \"output\" must be \"pcm16\" or \"float\"");
    return MMG_OK;
}

int aud_config_parse(const char *json, size_t size, aud_config *cfg) {
    aud_config c;
    aud_config_defaults(&c);
    size_t n = json ? size : 0;
    while (n && (json[n - 1] == '\0' || json[n - 1] == ' ' || json[n - 1] == '\n')) n--;
    if (n == 0) {
        int rc = aud_config_check(&c);
        if (rc == MMG_OK) *cfg = c;
        return rc;
    }
    const char *end = NULL; /* cJSON's global error pointer is not thread-safe */
    cJSON *root = cJSON_ParseWithLengthOpts(json, n, &end, 0);
    if (!root)
        return aud_error(MMG_ERR_CONFIG, "audio config: not valid JSON (near byte %ld)",
                         end ? (long)(end - json) : -1L);
    int rc = MMG_OK;
    if (!cJSON_IsObject(root))
        rc = aud_error(MMG_ERR_CONFIG, "audio config: expected a JSON object");
    for (const cJSON *it = root->child; it && rc == MMG_OK; it = it->next) {
        const char *k = it->string ? it->string : "";
        const int_key *ik = NULL;
        for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++)
            if (!strcmp(k, int_keys[i].name)) ik = &int_keys[i];
        if (ik) {
            rc = set_int(&c, it, ik);
        } else if (!strcmp(k, "mode") || !strcmp(k, "codec2_mode") || !strcmp(k, "output")) {
            rc = set_string(&c, it, k);
            if (!strcmp(k, "mode")) c.mode_given = 1;
        } else if (!strcmp(k, "max_seconds")) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble > 0) || it->valuedouble > 1e7)
                rc = aud_error(MMG_ERR_CONFIG, "audio config: \"max_seconds\" must be a number "
                               "in (0, 1e7]");
            else c.max_seconds = it->valuedouble;
        } else {
            rc = aud_error(MMG_ERR_CONFIG,
                           "audio config: unknown key \"%s\" (known: mode, sample_rate, codec2_mode, "
                           "frame_ms, subframes, n_mels, window_ms, stages, codebook_size, "
                           "gain_levels, griffin_lim_iterations, kmeans_iterations, "
                           "max_train_frames, seed, threads, max_channels, max_seconds, "
                           "max_file_bytes, output)", k);
        }
    }
    if (rc == MMG_OK) rc = aud_config_check(&c);
    if (rc == MMG_OK) *cfg = c;
    cJSON_Delete(root);
    return rc;
}
