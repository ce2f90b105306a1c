/* plugins/vq/host.c - vq's link to the host: the services table the plugin
 * hands over in its init(), the overflow-checked allocation everything in
 * vq goes through, and the one-time CPU feature probe.
 *
 * The library is linked into each plugin module and built with
 * -fvisibility=hidden, so each module has its own vq_host and nothing here
 * is exported from the module. */
#include <pthread.h>

#include "vq-impl.h"

const mmg_host_services *vq_host;

void *vq_alloc_array(size_t a, size_t b, size_t c) {
    if (b && a > (size_t)-1 / b) return NULL;
    size_t ab = a * b;
    if (c && ab > (size_t)-1 / c) return NULL;
    return vq_host->alloc(ab * c);
}

static void cpu_init_once(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    /* libgcc's constructor normally fills the feature bits; calling it here
     * makes sure they are set in a dlopened module whatever the load order */
    __builtin_cpu_init();
#endif
}

void vq__cpu_init(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, cpu_init_once);
}
