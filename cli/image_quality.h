/* cli/image_quality.h - PSNR between two PNG files, for `mmgen tokenizer
 * eval` on images. Both are read with libpng's simplified API as 8-bit RGB
 * (so a gray model's output compares with a color original by libpng's own
 * conversion). */
#ifndef MMGEN_CLI_IMAGE_QUALITY_H
#define MMGEN_CLI_IMAGE_QUALITY_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 and the PSNR in dB over all RGB samples (INFINITY when
 * identical) in *psnr; 1 when the sizes differ; -1 when either is not a
 * readable PNG (message in err). dims receives a's width and height, then
 * b's. */
int image_psnr(const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size, double *psnr,
               uint32_t dims[4], char *err, size_t err_size);

#endif /* MMGEN_CLI_IMAGE_QUALITY_H */
