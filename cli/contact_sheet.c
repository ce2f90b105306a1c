/* cli/contact_sheet.c - the captioned grid of generated images, drawn by
 * ImageMagick's montage (see contact_sheet.h). */
#include "contact_sheet.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "spawn.h"

#define CAPTION_MAX 80 /* characters shown; longer captions end with "..." */
#define TILE_MIN 96    /* small images are enlarged to about this many pixels */
#define GAP 4          /* pixels around each tile */

char *contact_sheet_path(const char *output) {
    const char *slash = strrchr(output, '/');
    const char *dot = strrchr(slash ? slash : output, '.');
    size_t stem = dot ? (size_t)(dot - output) : strlen(output);
    size_t n = stem + sizeof "-sheet.png";
    char *out = malloc(n);
    if (out) snprintf(out, n, "%.*s-sheet.png", (int)stem, output);
    return out;
}

int contact_sheet_png_size(const uint8_t *d, size_t size, uint32_t *w, uint32_t *h) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size < 24 || memcmp(d, sig, 8) != 0 || memcmp(d + 12, "IHDR", 4) != 0) return 0;
    *w = (uint32_t)d[16] << 24 | (uint32_t)d[17] << 16 | (uint32_t)d[18] << 8 | d[19];
    *h = (uint32_t)d[20] << 24 | (uint32_t)d[21] << 16 | (uint32_t)d[22] << 8 | d[23];
    return *w > 0 && *h > 0;
}

/* The caption as montage's -title reads it: '%' starts its escapes, '\'
 * and '@' are its escape and read-a-file characters, so each is escaped;
 * control characters become spaces; past CAPTION_MAX characters (UTF-8
 * sequences counted once) it ends with "...". *chars gets the shown count. */
static char *escape_caption(const char *caption, size_t *chars) {
    size_t n = strlen(caption);
    char *out = malloc(2 * n + 8), *o = out;
    if (!out) return NULL;
    size_t shown = 0;
    for (const unsigned char *p = (const unsigned char *)caption; *p; p++) {
        int starts_char = (*p & 0xc0) != 0x80;
        if (starts_char && shown == CAPTION_MAX) {
            memcpy(o, "...", 3), o += 3;
            shown += 3;
            break;
        }
        shown += starts_char;
        if (*p == '%') *o++ = '%';
        if (*p == '\\' || *p == '@') *o++ = '\\';
        *o++ = *p < 0x20 || *p == 0x7f ? ' ' : (char)*p;
    }
    *o = 0;
    *chars = shown;
    return out;
}

int contact_sheet_write(const char *out, const char *const *paths, int n, uint32_t w, uint32_t h,
                        const char *caption) {
    const char *program = getenv("MMGEN_MONTAGE");
    if (!program || !*program) program = "montage";
    int cols = (int)ceil(sqrt((double)n));
    uint32_t side = w > h ? w : h;
    uint32_t scale = side && side < TILE_MIN ? TILE_MIN / side : 1;
    double sheet_width = (double)cols * (double)(w * scale + 2 * GAP);
    size_t chars = 0;
    char *title = escape_caption(caption, &chars);
    /* the largest type (up to 24 pt) that fits the caption on the grid's width */
    double pt = chars ? 1.7 * sheet_width / (double)chars : 24;
    pt = pt > 24 ? 24 : pt < 8 ? 8 : pt;
    char geometry[64], tile[32], pointsize[16];
    snprintf(geometry, sizeof geometry, "%ux%u+%d+%d", (unsigned)(w * scale), (unsigned)(h * scale), GAP, GAP);
    snprintf(tile, sizeof tile, "%dx", cols);
    snprintf(pointsize, sizeof pointsize, "%.0f", pt);
    /* montage picks the format from "png:"; the temporary name sits beside the result */
    size_t tn = strlen(out) + 64;
    char *tmp = malloc(tn), *target = malloc(tn);
    const char **argv = malloc((size_t)(n + 24) * sizeof *argv);
    if (!title || !tmp || !target || !argv) {
        free(title), free(tmp), free(target), free(argv);
        return cli_error("out of memory");
    }
    snprintf(tmp, tn, "%s.tmp%ld", out, (long)getpid());
    snprintf(target, tn, "png:%s", tmp);
    int k = 0;
    argv[k++] = program;
    for (int i = 0; i < n; i++) argv[k++] = paths[i];
    const char *opts[] = {"-font", "DejaVu-Sans", "-pointsize", pointsize, "-title", title, "-tile", tile,
                          "-geometry", geometry, "-filter", "point", "-background", "white", target};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) argv[k++] = opts[i];
    argv[k] = NULL;
    int status = spawn_wait((char *const *)argv);
    int rc = 0;
    if (status == -2 && errno == ENOENT) {
        cli_warn("no contact sheet: '%s' is not installed (Debian: apt-get install imagemagick)", program);
        rc = -1;
    } else if (status != 0) {
        rc = cli_error("drawing the contact sheet '%s': %s %s", out, program,
                       status == -2 ? strerror(errno) : status < 0 ? "did not finish" : "failed (its message is above)");
    } else if (rename(tmp, out) != 0) {
        rc = cli_error("cannot write '%s': %s", out, strerror(errno));
    }
    if (rc) remove(tmp); /* montage may have left a partial file */
    free(title), free(tmp), free(target), free(argv);
    return rc;
}
