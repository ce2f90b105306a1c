/* cli/cmd_quantize.c - `mmgen quantize IN OUT --type q8_0|q4_0|f32`: rewrites
 * a model file with its linear layers' weights in Q8_0 or Q4_0 (or back to
 * float32), through
 * the library's own loader and writer: the library quantizes while loading
 * (mmg_model_options.weights) and mmg_model_save writes what the model holds. */
#include <stdio.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"
#include "files.h"
#include "mmgen/model.h"

static const char *const type_names[] = {"q8_0", "f32", "q4_0", "f16", NULL};
static const int32_t type_weights[] = {MMG_WEIGHTS_Q8_0, MMG_WEIGHTS_F32, MMG_WEIGHTS_Q4_0, MMG_WEIGHTS_F16};
static const char *const type_what[] = {"linear weights in Q8_0", "float32", "linear weights in Q4_0",
                                        "linear weights in F16"};

/* Whether the model holds its token embedding quantized. */
static int embedding_quantized(const mmg_model *m) {
    size_t index;
    mmg_param_info info = {.struct_size = sizeof info};
    int yes = mmg_model_param_find(m, "tok_emb.weight", &index) == MMG_OK &&
              mmg_model_param_info(m, index, &info) == MMG_OK && info.weights != MMG_WEIGHTS_F32;
    mmg_clear_error();
    return yes;
}

static double file_mb(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0.0;
}

int cmd_quantize(int argc, char **argv) {
    int32_t type = 0;
    int embedding = 0;
    args_option opts[] = {
        {"type", 0, ARG_CHOICE, &type, "TYPE",
         "q8_0 (default): linear weights as Q8_0 blocks; q4_0: as Q4_0 blocks; f16: as IEEE halves; "
         "f32: everything float32 again",
         0, 0, type_names},
        {"embedding", 0, ARG_FLAG, &embedding, NULL,
         "the token embedding in that type too, as GGUF files keep it: a much smaller file for a large "
         "vocabulary (the lookup reads quantized rows; a tied output uses them directly)"},
        {0}};
    const args_command cmd = {
        "quantize", "[options] IN OUT",
        "Writes the model file IN to OUT with the weight matrices of its linear\n"
        "layers (attention, feed-forward, an untied output projection) quantized\n"
        "to GGUF's formats: Q8_0, blocks of 32 int8 values and one float16 scale\n"
        "(1.0625 bytes a weight instead of 4), or Q4_0, blocks of 32 4-bit values\n"
        "and one float16 scale (0.5625 bytes a weight; less accurate), or to\n"
        "float16 (--type f16: 2 bytes a weight, computed as such). Embeddings,\n"
        "LayerNorms and biases stay float32 (the token embedding too, unless\n"
        "--embedding: then it is quantized as well, which GPT-2-small's 50257 x 768\n"
        "table shows: 207 MB -> 74 MB at Q4_0); the metadata (the tokenizer) is kept.\n"
        "`generate` and `info` read the result like any model file, and decoding\n"
        "reads a quarter (Q8_0) or a seventh (Q4_0) of the bytes per token.\n"
        "d_model and d_ff must be multiples of 32. A quantized model cannot be\n"
        "trained: `--type f32` writes its dequantized weights as an ordinary\n"
        "float32 model. Quantizing a Q8_0 file to Q4_0 (or back) goes through the\n"
        "dequantized weights: start from the float32 model where you have it.",
        "examples:\n"
        "  mmgen quantize model.safetensors model-q8_0.safetensors\n"
        "  mmgen quantize model.safetensors model-q4_0.safetensors --type q4_0\n"
        "  mmgen quantize model.safetensors model-q4_0.safetensors --type q4_0 --embedding\n"
        "  mmgen quantize model-q8_0.safetensors model-f32.safetensors --type f32\n"};
    const char *pos[2];
    int n = 0;
    int rc = args_parse(&cmd, opts, argc, argv, pos, 2, &n);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;
    if (n != 2) return args_usage_error(&cmd, "give IN and OUT");
    if (files_check_writable("OUT", pos[1]) != 0) return CLI_ERR;
    mmg_model_options o;
    mmg_model_options_init(&o, sizeof o);
    o.weights = type_weights[type];
    o.quantize_embedding = embedding;
    if (embedding && type_weights[type] == MMG_WEIGHTS_F32)
        return args_usage_error(&cmd, "--embedding goes with a quantized --type (q8_0, q4_0, f16)");
    mmg_model *model = NULL;
    if (mmg_model_load(pos[0], &o, &model) != MMG_OK)
        return cli_fail("loading '%s' as %s", pos[0], type_names[type]);
    if (mmg_model_save(model, pos[1]) != MMG_OK) rc = cli_fail("writing '%s'", pos[1]);
    if (!rc)
        printf("%s -> %s: %s%s, %llu parameters, %.1f MB -> %.1f MB\n", pos[0], pos[1],
               type_what[type], embedding_quantized(model) ? " (the token embedding too)" : "",
               (unsigned long long)mmg_model_n_params(model), file_mb(pos[0]), file_mb(pos[1]));
    mmg_model_free(model);
    return rc;
}
