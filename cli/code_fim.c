/* cli/code_fim.c - a header-enabled twin of a code tokenizer, and the
 * header documents it reads (see code_fim.h). */
#include "code_fim.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int code_fim_is_code(const cli_tok *t) { return t->tok && t->plugin && strcmp(t->plugin, "code") == 0; }

/* base's config with the fit-time keys dropped (a config without
 * "vocab_size" makes a tokenizer that waits for load_state) and the header
 * and FIM keys set. NULL after printing. */
static char *header_config(const cli_tok *base, double fim_rate) {
    cJSON *root = base->config ? cJSON_Parse(base->config) : cJSON_CreateObject();
    if (root && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        cli_error("the '%s' tokenizer's config is not a JSON object: %.64s", base->plugin, base->config);
        return NULL;
    }
    static const char *const dropped[] = {"vocab_size", "min_frequency", "header", "fim_rate"};
    for (size_t i = 0; root && i < sizeof dropped / sizeof *dropped; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(root, dropped[i]);
    char *text = NULL;
    if (root && cJSON_AddTrueToObject(root, "header") && cJSON_AddNumberToObject(root, "fim_rate", fim_rate))
        text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) cli_error("out of memory");
    return text;
}

int code_fim_tokenizer(cli_tok *base, double fim_rate, cli_tok *out) {
    char *config = header_config(base, fim_rate);
    if (!config) return CLI_ERR;
    int rc = tokfile_create(base->plugin, config, out);
    cJSON_free(config);
    uint8_t *state = NULL;
    size_t size = 0;
    if (!rc && mmg_tokenizer_save_state(base->tok, &state, &size) != MMG_OK)
        rc = cli_fail("reading the '%s' tokenizer's state", base->plugin);
    if (!rc && mmg_tokenizer_load_state(out->tok, state, size) != MMG_OK)
        rc = cli_fail("loading the '%s' tokenizer's state into a tokenizer with document headers", base->plugin);
    mmg_free(state);
    if (rc) tokfile_free(out);
    return rc;
}

/* header (n bytes, its NULs included) + a + b, in one malloc'ed buffer. */
static int join(const char *header, size_t n, const uint8_t *a, size_t na, const uint8_t *b, size_t nb,
                uint8_t **out, size_t *out_size) {
    uint8_t *p = malloc(n + na + nb + 1);
    if (!p) return cli_error("out of memory");
    memcpy(p, header, n);
    if (na) memcpy(p + n, a, na);
    if (nb) memcpy(p + n + na, b, nb);
    *out = p;
    *out_size = n + na + nb;
    return 0;
}

int code_fim_named_doc(const char *name, const uint8_t *content, size_t size, uint8_t **out,
                       size_t *out_size) {
    size_t n = strlen(name);
    char *header = malloc(n + 8);
    if (!header) return cli_error("out of memory");
    memcpy(header, "name=", 5);
    memcpy(header + 5, name, n);
    header[n + 5] = '\0';
    header[n + 6] = '\0';
    int rc = join(header, n + 7, content, size, NULL, 0, out, out_size);
    free(header);
    return rc;
}

int code_fim_prompt_doc(const char *name, const uint8_t *prefix, size_t n_prefix, const uint8_t *suffix,
                        size_t n_suffix, int32_t context, uint8_t **out, size_t *out_size) {
    size_t n = strlen(name);
    char *header = malloc(n + 96);
    if (!header) return cli_error("out of memory");
    /* snprintf stops at the first NUL, so each field is written on its own */
    size_t at = (size_t)sprintf(header, "name=%s", name) + 1;
    at += (size_t)sprintf(header + at, "fim=prompt:%zu", n_prefix) + 1;
    at += (size_t)sprintf(header + at, "context=%d", (int)context) + 1;
    header[at++] = '\0';
    int rc = join(header, at, prefix, n_prefix, suffix, n_suffix, out, out_size);
    free(header);
    return rc;
}
