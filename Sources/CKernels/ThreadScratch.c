// Per-thread packing scratch for the GEMM.
//
// Why thread-local rather than indexed by pool worker: a product may be started by any thread —
// a pool worker, the trainer's thread, a server request running beside it — and when the pool
// is busy with another caller's region, the product runs on the calling thread. Keying the
// scratch by the OS thread gives every concurrent caller its own buffers without a lock; the
// buffers are allocated on a thread's first product and freed when the thread exits.
#include "CKernels.h"
#include <pthread.h>
#include <stdlib.h>

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void free_scratch(void *p) {
    cllm_pack_scratch *s = p;
    free(s->a);
    free(s->b);
    free(s);
}

static void make_key(void) { pthread_key_create(&scratch_key, free_scratch); }

static float *aligned_floats(size_t count) {
    size_t bytes = (count * sizeof(float) + 63) & ~(size_t)63;  // aligned_alloc wants a multiple of the alignment
    return aligned_alloc(64, bytes);
}

cllm_pack_scratch cllm_thread_pack_scratch(size_t a_floats, size_t b_floats) {
    pthread_once(&scratch_once, make_key);
    cllm_pack_scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = malloc(sizeof *s);
        s->a = aligned_floats(a_floats);
        s->b = aligned_floats(b_floats);
        if (!s->a || !s->b) abort();  // a few hundred KiB; failing here means the process is out of memory
        pthread_setspecific(scratch_key, s);
    }
    return *s;
}
