// Generation's float32 and bfloat16 kernels, one token at a time: y += xᵀ·W for the layers
// and the row dots of the tied LM head. Every weight is read exactly once per token, so the
// speed is that of memory, and each kernel reads its weights in memory order, one row after
// another: a thread's share is then a single stream, which the memory system serves fastest
// (StreamAhead.h has the measurement). bfloat16 weights are widened in registers.
#include "CKernels.h"
#include "BFloat16Widen.h"
#include "StreamAhead.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#define IDENTITY(v) (v)

/* out[v] = x · rows[v] (the tied LM head): one row after another, so that a thread's rows are
   a single stream (StreamAhead.h), with four 8-lane accumulators in flight and x from L1. */
#if defined(__AVX2__) && defined(__FMA__)
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define ROWDOTS_VECTOR(LOAD8)                                                                     \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                               \
        for (; j + 32 <= width; j += 32) {                                                        \
            _mm_prefetch((const char *)(r + j) + PREFETCH_AHEAD, _MM_HINT_T0);                              \
            if (sizeof(W_T) == 4) _mm_prefetch((const char *)(r + j) + PREFETCH_AHEAD + 64, _MM_HINT_T0);   \
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), LOAD8(r + j), s0);                       \
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j + 8), LOAD8(r + j + 8), s1);               \
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j + 16), LOAD8(r + j + 16), s2);             \
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j + 24), LOAD8(r + j + 24), s3);             \
        }                                                                                         \
        for (; j + 8 <= width; j += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), LOAD8(r + j), s0); \
        d = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
#else
#define ROWDOTS_VECTOR(LOAD8)
#endif

#define ROWDOTS_BODY(LOAD8, SCALAR)                                                               \
    for (long v = 0; v < count; v++) {                                                            \
        const W_T *r = rows + v * width;                                                          \
        float d = 0;                                                                              \
        long j = 0;                                                                               \
        ROWDOTS_VECTOR(LOAD8)                                                                     \
        for (; j < width; j++) d += x[j] * SCALAR(r[j]);                                          \
        out[v] = d;                                                                               \
    }

void cllm_row_dots_f32(long count, long width, const float *x, const float *rows, float *out) {
#define W_T float
    ROWDOTS_BODY(_mm256_loadu_ps, IDENTITY)
#undef W_T
}

void cllm_row_dots_bf16(long count, long width, const float *x, const uint16_t *rows, float *out) {
#define W_T uint16_t
    ROWDOTS_BODY(load_bf16x8, bf16_to_float)
#undef W_T
}

/* y[0..<n] += Σ_i x[i] · w[i·ldw + 0..<n], one row at a time: when a thread's rows are full
   rows of W (the inputs split over the pool), its weights are one contiguous run, read front to
   back as a single stream with a software prefetch ahead (StreamAhead.h). */
#define ROWWALK_BODY(LOAD8, SCALAR)                                                               \
    for (long i = 0; i < rows; i++) {                                                             \
        const W_T *wi = w + i * ldw;                                                              \
        long j = 0;                                                                               \
        ROWWALK_VECTOR(LOAD8)                                                                     \
        for (; j < n; j++) y[j] += x[i] * SCALAR(wi[j]);                                          \
    }
#if defined(__AVX2__) && defined(__FMA__)
#define ROWWALK_VECTOR(LOAD8)                                                                     \
        const __m256 a = _mm256_set1_ps(x[i]);                                                    \
        for (; j + 32 <= n; j += 32) {                                                            \
            _mm_prefetch((const char *)(wi + j) + PREFETCH_AHEAD, _MM_HINT_T0);                             \
            if (sizeof(W_T) == 4) _mm_prefetch((const char *)(wi + j) + PREFETCH_AHEAD + 64, _MM_HINT_T0);  \
            _mm256_storeu_ps(y + j, _mm256_fmadd_ps(a, LOAD8(wi + j), _mm256_loadu_ps(y + j)));                 \
            _mm256_storeu_ps(y + j + 8, _mm256_fmadd_ps(a, LOAD8(wi + j + 8), _mm256_loadu_ps(y + j + 8)));     \
            _mm256_storeu_ps(y + j + 16, _mm256_fmadd_ps(a, LOAD8(wi + j + 16), _mm256_loadu_ps(y + j + 16)));  \
            _mm256_storeu_ps(y + j + 24, _mm256_fmadd_ps(a, LOAD8(wi + j + 24), _mm256_loadu_ps(y + j + 24)));  \
        }                                                                                         \
        for (; j + 8 <= n; j += 8)                                                                \
            _mm256_storeu_ps(y + j, _mm256_fmadd_ps(a, LOAD8(wi + j), _mm256_loadu_ps(y + j)));
#else
#define ROWWALK_VECTOR(LOAD8)
#endif

void cllm_matvec_f32(long rows, long n, const float *x, const float *w, long ldw, float *y) {
#define W_T float
    ROWWALK_BODY(_mm256_loadu_ps, IDENTITY)
#undef W_T
}

void cllm_matvec_bf16(long rows, long n, const float *x, const uint16_t *w, long ldw, float *y) {
#define W_T uint16_t
    ROWWALK_BODY(load_bf16x8, bf16_to_float)
#undef W_T
}
