/* core/memory.c - allocation wrappers with optional fault injection. */
#include "memory.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mmgen/memory.h"

static atomic_long fault_fail_at;   /* 0: never fail */
static atomic_long fault_counter;

void mmg__fault_fail_after(long n) {
    atomic_store(&fault_counter, 0);
    atomic_store(&fault_fail_at, n);
}

long mmg__fault_count(void) { return atomic_load(&fault_counter); }

static int should_fail(void) {
    long at = atomic_load_explicit(&fault_fail_at, memory_order_relaxed);
    if (at == 0) return 0;
    long n = atomic_fetch_add(&fault_counter, 1) + 1;
    return n >= at;
}

void *mmg__malloc(size_t size) {
    if (should_fail()) return NULL;
    return malloc(size ? size : 1);
}

void *mmg__calloc(size_t count, size_t size) {
    if (should_fail()) return NULL;
    if (count == 0 || size == 0) return calloc(1, 1);
    return calloc(count, size);
}

void *mmg__realloc(void *ptr, size_t size) {
    if (should_fail()) return NULL;
    return realloc(ptr, size ? size : 1);
}

void mmg__free(void *ptr) { free(ptr); }

char *mmg__strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = mmg__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void mmg_free(void *ptr) { free(ptr); }
