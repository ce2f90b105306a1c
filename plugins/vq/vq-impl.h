/* plugins/vq/vq-impl.h - what vq's own sources share and its users do not
 * need: short wrappers over the host's services. Functions here carry the
 * vq__ prefix; the public API is vq.h. */
#ifndef MMGEN_PLUGIN_VQ_IMPL_H
#define MMGEN_PLUGIN_VQ_IMPL_H

#include "vq.h"

static inline void vq__free(void *p) {
    if (p) vq_host->free(p);
}
#define vq__error(...) vq_host->error(__VA_ARGS__)
#define vq__log(...) vq_host->log(__VA_ARGS__)

/* Once per process, before the first search: lets codebook.c ask the CPU
 * for AVX2 (host.c). */
void vq__cpu_init(void);

#endif /* MMGEN_PLUGIN_VQ_IMPL_H */
