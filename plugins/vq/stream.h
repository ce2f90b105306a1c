/* plugins/vq/stream.h - the document inside a token stream given to decode,
 * framed as the image and audio plugins' constraints produce it:
 * [bos] document [eos [eos|pad]...]. Header-only. */
#ifndef MMGEN_VQ_STREAM_H
#define MMGEN_VQ_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* Sets *begin past an optional leading bos and *end at the first eos after
 * it (count when there is none). Returns the position of the first id after
 * that eos which is neither eos nor pad, or count when the tail is clean. */
static inline size_t vq_stream_span(const int32_t *ids, size_t count, int32_t bos, int32_t eos, int32_t pad,
                                    size_t *begin, size_t *end) {
    size_t i0 = count && ids[0] == bos ? 1 : 0, e = count;
    for (size_t i = i0; i < count; i++)
        if (ids[i] == eos) {
            e = i;
            break;
        }
    *begin = i0;
    *end = e;
    for (size_t i = e + 1; i < count; i++)
        if (ids[i] != pad && ids[i] != eos) return i;
    return count;
}

#endif
