/* plugins/audio/mulaw.c - 8-bit mu-law companding (mu = 255), as WaveNet
 * quantizes audio: f(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu) maps [-1, 1]
 * onto [-1, 1] with fine steps near zero, and f is cut into 256 equal
 * levels. Decoding returns the level's center mapped back by the inverse,
 * sign(f) ((1 + mu)^|f| - 1) / mu. */
#include <math.h>

#include "audio.h"

#define MU 255.0

int32_t aud_mulaw_encode(float x) {
    double v = x > 1.0f ? 1.0 : x < -1.0f ? -1.0 : (double)x;
    double f = (v < 0 ? -1.0 : 1.0) * log1p(MU * fabs(v)) / log1p(MU);
    /* level q covers [-1 + q*w, -1 + (q+1)*w), w = 2/256 */
    int32_t q = (int32_t)floor((f + 1.0) * (AUD_MULAW_LEVELS / 2.0));
    return q < 0 ? 0 : q >= AUD_MULAW_LEVELS ? AUD_MULAW_LEVELS - 1 : q;
}

float aud_mulaw_decode(int32_t q) {
    double f = -1.0 + (q + 0.5) * (2.0 / AUD_MULAW_LEVELS);
    double a = expm1(fabs(f) * log1p(MU)) / MU;
    return (float)(f < 0 ? -a : a);
}
