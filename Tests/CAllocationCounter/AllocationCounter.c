// See include/CAllocationCounter.h.
#include "CAllocationCounter.h"
#include <stdlib.h>  /* defines __GLIBC__ on glibc systems */

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define CLLM_UNDER_SANITIZER 1
#endif
#endif

/* A sanitizer brings its own allocator; standing in for malloc beside it would hand its
   blocks to glibc's free. Under a sanitizer the counter is off and its tests skip. */
#if defined(__linux__) && defined(__GLIBC__) && !defined(CLLM_UNDER_SANITIZER)
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_int counting;
static atomic_long allocations;

static inline void note(void) {
    if (atomic_load_explicit(&counting, memory_order_relaxed))
        atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
}

void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t count, size_t n) { note(); return __libc_calloc(count, n); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t alignment, size_t n) { note(); return __libc_memalign(alignment, n); }
void *aligned_alloc(size_t alignment, size_t n) { note(); return __libc_memalign(alignment, n); }
int posix_memalign(void **out, size_t alignment, size_t n) {
    note();
    void *p = __libc_memalign(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

int cllm_allocation_counter_available(void) { return 1; }
void cllm_allocation_counter_start(void) {
    atomic_store(&allocations, 0);
    atomic_store(&counting, 1);
}
long cllm_allocation_counter_stop(void) {
    atomic_store(&counting, 0);
    return atomic_load(&allocations);
}
#else
int cllm_allocation_counter_available(void) { return 0; }
void cllm_allocation_counter_start(void) {}
long cllm_allocation_counter_stop(void) { return 0; }
#endif
