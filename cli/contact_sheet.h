/* cli/contact_sheet.h - one PNG grid of generated images, captioned with
 * what they were generated from (`mmgen generate --num-samples N -o x.png`
 * writes x-sheet.png beside x-01.png ...).
 *
 * The grid and its caption are drawn by ImageMagick's `montage` (Debian
 * package imagemagick), run as a child process with an argument vector (no
 * shell), so text is set by a maintained tool with a real font (DejaVu Sans,
 * which Debian's fontconfig always brings) rather than by hand. Small images
 * are enlarged by a whole factor with nearest-neighbour sampling, so an 8x8
 * digit stays crisp. $MMGEN_MONTAGE names another program to run instead
 * (tests use it to check the path where montage is missing). */
#ifndef MMGEN_CLI_CONTACT_SHEET_H
#define MMGEN_CLI_CONTACT_SHEET_H

#include <stddef.h>
#include <stdint.h>

/* "<stem>-sheet.png" for the output path "<stem>.<ext>" (malloc'ed; NULL
 * when out of memory). */
char *contact_sheet_path(const char *output);

/* Width and height of the PNG in `data`; 0 when it is not a PNG. */
int contact_sheet_png_size(const uint8_t *data, size_t size, uint32_t *w, uint32_t *h);

/* Writes `out` (atomically: a temporary file renamed into place) as a grid
 * of the `n` PNG files `paths`, tiles sized for images of `w` x `h` pixels,
 * under `caption` (UTF-8; shortened past 80 characters). Returns 0 when
 * written; -1 when montage is not installed (a warning printed, nothing
 * written); CLI_ERR when montage failed (printed, nothing written). */
int contact_sheet_write(const char *out, const char *const *paths, int n, uint32_t w, uint32_t h,
                        const char *caption);

#endif /* MMGEN_CLI_CONTACT_SHEET_H */
