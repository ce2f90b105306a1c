/* core/memory.h - the library's allocator (private).
 *
 * All library allocations go through these so that tests can make the n-th
 * allocation fail (curl's torture mode, SQLite's fault tests) and check that
 * every failure path reports MMG_ERR_NOMEM and leaks nothing. */
#ifndef MMGEN_CORE_MEMORY_H
#define MMGEN_CORE_MEMORY_H

#include <stddef.h>

void *mmg__malloc(size_t size);
void *mmg__calloc(size_t count, size_t size);
void *mmg__realloc(void *ptr, size_t size);
void mmg__free(void *ptr);
/* A NUL-terminated copy of `s` (NULL on failure or if s is NULL). */
char *mmg__strdup(const char *s);

/* Fault injection for tests: the allocation numbered `n` (counting from 1
 * after this call) and every later one fail; 0 turns injection off. */
void mmg__fault_fail_after(long n);
/* How many allocations were attempted since the last mmg__fault_fail_after. */
long mmg__fault_count(void);

/* Overflow-checked a*b; returns 0 and sets *out on success, -1 on overflow. */
static inline int mmg__mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > (size_t)-1 / a) return -1;
    *out = a * b;
    return 0;
}

#endif /* MMGEN_CORE_MEMORY_H */
