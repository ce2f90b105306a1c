/* plugins/vq/bytes.h - the plugins' saved states as bytes: little-endian
 * fields whatever the host's byte order, and the FNV-1a 64 checksum that
 * ends each state (image and audio states, codebooks included). Header-only:
 * static inline functions, so each module keeps its own copy. */
#ifndef MMGEN_VQ_BYTES_H
#define MMGEN_VQ_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t vq_fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static inline void vq_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void vq_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t vq_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static inline uint64_t vq_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static inline void vq_put_f32(uint8_t *p, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    vq_put_u32(p, v);
}
static inline float vq_get_f32(const uint8_t *p) {
    uint32_t v = vq_get_u32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

#endif
