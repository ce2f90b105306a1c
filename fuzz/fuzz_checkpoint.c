/* fuzz/fuzz_checkpoint.c - training checkpoints (mmg_trainer_load): the
 * safetensors container, the config and optimizer checks, the moments and
 * the loader state, restored into a small model's trainer and loader. A
 * rejected file must leave the trainer usable: it takes a step afterwards. */
#include "fuzz.h"

static mmg_model *model;
static mmg_trainer *trainer;
static mmg_dataset *dataset;
static mmg_loader *loader;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    /* the config of the seed checkpoint (fuzz/make_seeds.sh), every key given */
    static const char cfg[] =
        "{\"vocab_size\": 16, \"d_model\": 8, \"n_heads\": 2, \"n_encoder_layers\": 0, "
        "\"n_decoder_layers\": 1, \"d_ff\": 16, \"max_seq_len\": 8, \"norm_placement\": \"pre\", "
        "\"final_norm\": true, \"activation\": \"gelu_tanh\", \"position_encoding\": \"learned\", "
        "\"tied_output\": true, \"bias\": true, \"scale_embeddings\": false, \"layernorm_eps\": 1e-05, "
        "\"norm_bias\": true}";
    mmg_model_config c;
    mmg_model_config_init(&c, sizeof c);
    FUZZ_SETUP(mmg_model_config_from_json(cfg, sizeof cfg - 1, &c));
    FUZZ_SETUP(mmg_model_create(&c, NULL, &model));
    mmg_train_options to;
    mmg_train_options_init(&to, sizeof to);
    to.n_threads = 1;
    FUZZ_SETUP(mmg_trainer_create(model, &to, &trainer));
    int32_t tokens[64];
    for (int i = 0; i < 64; i++) tokens[i] = (i * 5) % 16;
    FUZZ_SETUP(mmg_dataset_from_tokens(tokens, 64, &dataset));
    mmg_loader_options lo;
    mmg_loader_options_init(&lo, sizeof lo);
    lo.batch_size = 2, lo.seq_len = 8;
    FUZZ_SETUP(mmg_loader_create_packed(dataset, &lo, &loader));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfile(data, size, path);
    if (fd < 0) return 0;
    mmg_status s = mmg_trainer_load(trainer, loader, path);
    FUZZ_NOTE(s, "trainer_load");
    close(fd);
    const mmg_batch *b;
    FUZZ_SETUP(mmg_loader_next(loader, &b));
    s = mmg_trainer_step(trainer, b, NULL);
    /* loaded weights or moments may hold NaN: that is reported, not a crash */
    FUZZ_CHECK(s == MMG_OK || s == MMG_ERR_NUMERIC, "a step after a load: %s", mmg_last_error());
    return 0;
}
