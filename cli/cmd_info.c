/* cli/cmd_info.c - `mmgen info MODEL`: what a model file holds (its
 * architecture, parameter count, metadata and embedded tokenizer), read
 * through the library's own loader so a file that `info` accepts is one
 * `generate` accepts. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "mmgen/model.h"
#include "tokfile.h"

/* Prints the config as "  key  value" lines, in the words of its JSON form
 * (mmg_model_config_to_json), so the names are those --config takes. */
static int print_config(const mmg_model_config *cfg) {
    char *json = NULL;
    if (mmg_model_config_to_json(cfg, &json) != MMG_OK) return cli_fail("writing the config");
    cJSON *root = cJSON_Parse(json);
    mmg_free(json);
    if (!root) return cli_error("out of memory");
    for (const cJSON *e = root->child; e; e = e->next) {
        char *v = cJSON_IsString(e) ? NULL : cJSON_PrintUnformatted(e);
        printf("  %-18s %s\n", e->string, cJSON_IsString(e) ? e->valuestring : v ? v : "?");
        cJSON_free(v);
    }
    cJSON_Delete(root);
    return 0;
}

/* "weights     Q4_0: linear layers, token embedding, the rest F32; 73.1 MB":
 * how the model holds its parameters (mmg_param_info.weights) and the bytes
 * they take in memory (a tied output's quantized copy included). */
static void print_weights(const mmg_model *m) {
    static const char *const names[] = {"?", "F32", "Q8_0", "Q4_0", "F16"};
    int32_t type = MMG_WEIGHTS_F32;
    int linear = 0, embedding = 0;
    uint64_t bytes = 0, emb_elements = 0;
    for (size_t i = 0; i < mmg_model_param_count(m); i++) {
        mmg_param_info info = {.struct_size = sizeof info};
        if (mmg_model_param_info(m, i, &info) != MMG_OK) continue;
        bytes += info.n_bytes;
        if (!strcmp(info.name, "tok_emb.weight")) emb_elements = info.n_elements;
        if (info.weights == MMG_WEIGHTS_F32 || info.weights < 0 || info.weights > MMG_WEIGHTS_F16) continue;
        type = info.weights;
        if (!strcmp(info.name, "tok_emb.weight")) embedding = 1;
        else linear = 1;
    }
    /* a tied output of a model with an F32 embedding reads a quantized copy of it */
    mmg_model_config cfg;
    mmg_model_config_init(&cfg, sizeof cfg);
    if (type != MMG_WEIGHTS_F32 && !embedding && mmg_model_get_config(m, &cfg) == MMG_OK && cfg.tied_output)
        bytes += mmg_weights_size(type, emb_elements);
    if (type == MMG_WEIGHTS_F32)
        printf("weights     F32; %.1f MB\n", (double)bytes / 1e6);
    else
        printf("weights     %s: %s%s%s, the rest F32; %.1f MB\n", names[type], linear ? "linear layers" : "",
               linear && embedding ? ", " : "", embedding ? "token embedding" : "", (double)bytes / 1e6);
}

int cmd_info(int argc, char **argv) {
    args_option opts[] = {{0}};
    const args_command cmd = {"info", "MODEL",
                              "Describes a model file written by `mmgen train`: its config, its\n"
                              "parameter count, the types its weights are stored in (F32, or\n"
                              "Q8_0 / Q4_0 / F16 after `mmgen quantize`) and the tokenizer it\n"
                              "carries.",
                              NULL};
    const char *pos[1];
    int n = 0;
    int rc = args_parse(&cmd, opts, argc, argv, pos, 1, &n);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;
    if (n != 1) return args_usage_error(&cmd, "give one model file");
    mmg_model *model = NULL;
    if (mmg_model_load(pos[0], NULL, &model) != MMG_OK) return cli_fail("loading model '%s'", pos[0]);
    mmg_model_config cfg;
    mmg_model_config_init(&cfg, sizeof cfg);
    if (mmg_model_get_config(model, &cfg) != MMG_OK) rc = cli_fail("reading the config of '%s'", pos[0]);
    if (!rc) {
        uint64_t np = mmg_model_n_params(model);
        printf("model       %s\n", pos[0]);
        printf("kind        %s\n", cfg.n_encoder_layers > 0 ? "encoder-decoder" : "decoder-only");
        printf("parameters  %llu (%.2f M, %.1f MB as float32)\n", (unsigned long long)np, (double)np / 1e6,
               (double)np * 4 / 1e6);
        print_weights(model);
        printf("config\n");
        rc = print_config(&cfg);
        size_t n_meta = mmg_model_metadata_count(model);
        if (!rc && n_meta) {
            printf("metadata   ");
            for (size_t i = 0; i < n_meta; i++) {
                const char *key = mmg_model_metadata_key_at(model, i), *value = "";
                mmg_model_get_metadata(model, key, &value);
                printf("%s %s (%zu bytes)", i ? "," : "", key, strlen(value));
            }
            printf("\n");
        }
        cli_tok t;
        int found = 0;
        if (!rc) rc = tokfile_from_loaded_model(model, pos[0], &t, &found);
        if (!rc && found) {
            printf("tokenizer   %s (%s), %d tokens\n", t.plugin, mmg_modality_name(t.modality),
                   (int)mmg_tokenizer_vocab_size(t.tok));
            tokfile_free(&t);
        } else if (!rc) {
            printf("tokenizer   none (generate needs --tokenizer, or prints token ids)\n");
        }
        found = 0;
        int32_t offset = 0;
        if (!rc) rc = tokfile_from_loaded_model_key(model, TOKFILE_SOURCE_METADATA_KEY, pos[0], &t, &found);
        if (!rc && found && mmg_model_source_id_offset(model, &offset) != MMG_OK) {
            rc = cli_fail("reading '%s'", pos[0]);
            tokfile_free(&t);
        } else if (!rc && found) {
            printf("source      %s (%s), %d tokens, ids from %d\n", t.plugin, mmg_modality_name(t.modality),
                   (int)mmg_tokenizer_vocab_size(t.tok), (int)offset);
            tokfile_free(&t);
        }
    }
    mmg_model_free(model);
    return rc;
}
