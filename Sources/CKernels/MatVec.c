// y += xᵀ·W for one token at a time (generation): the rows of W are streamed four at a time,
// so y is loaded and stored once per four rows instead of once per row, and every weight is
// read exactly once, sequentially. bfloat16 weights are widened in registers.
#include "CKernels.h"
#include "BFloat16Widen.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

/* One definition for both weight types: LOAD8 reads eight weights as floats, SCALAR one. */
#define MATVEC_BODY(LOAD8, SCALAR)                                                                \
    long i = 0;                                                                                   \
    for (; i + 4 <= rows; i += 4) {                                                               \
        const W_T *w0 = w + i * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;              \
        long j = 0;                                                                               \
        VECTOR_PART(LOAD8)                                                                        \
        for (; j < n; j++)                                                                        \
            y[j] += x[i] * SCALAR(w0[j]) + x[i + 1] * SCALAR(w1[j])                               \
                  + x[i + 2] * SCALAR(w2[j]) + x[i + 3] * SCALAR(w3[j]);                          \
    }                                                                                             \
    for (; i < rows; i++)                                                                         \
        for (long j = 0; j < n; j++) y[j] += x[i] * SCALAR(w[i * ldw + j]);

#if defined(__AVX2__) && defined(__FMA__)
#define VECTOR_PART(LOAD8)                                                                        \
        const __m256 a0 = _mm256_set1_ps(x[i]), a1 = _mm256_set1_ps(x[i + 1]);                   \
        const __m256 a2 = _mm256_set1_ps(x[i + 2]), a3 = _mm256_set1_ps(x[i + 3]);               \
        for (; j + 8 <= n; j += 8) {                                                              \
            __m256 acc = _mm256_loadu_ps(y + j);                                                  \
            acc = _mm256_fmadd_ps(a0, LOAD8(w0 + j), acc);                                        \
            acc = _mm256_fmadd_ps(a1, LOAD8(w1 + j), acc);                                        \
            acc = _mm256_fmadd_ps(a2, LOAD8(w2 + j), acc);                                        \
            acc = _mm256_fmadd_ps(a3, LOAD8(w3 + j), acc);                                        \
            _mm256_storeu_ps(y + j, acc);                                                         \
        }
#else
#define VECTOR_PART(LOAD8)
#endif

#define IDENTITY(v) (v)

void cllm_matvec_f32(long rows, long n, const float *x, const float *w, long ldw, float *y) {
#define W_T float
    MATVEC_BODY(_mm256_loadu_ps, IDENTITY)
#undef W_T
}

void cllm_matvec_bf16(long rows, long n, const float *x, const uint16_t *w, long ldw, float *y) {
#define W_T uint16_t
    MATVEC_BODY(load_bf16x8, bf16_to_float)
#undef W_T
}
