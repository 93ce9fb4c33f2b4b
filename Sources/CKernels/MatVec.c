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

/* out[v] = x · rows[v] (the tied LM head): four rows at a time, two 8-lane accumulators each,
   so that x is loaded once per four rows and eight FMA chains are in flight. */
#if defined(__AVX2__) && defined(__FMA__)
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define ROWDOTS_VECTOR(LOAD8)                                                                     \
        __m256 s00 = _mm256_setzero_ps(), s01 = s00, s10 = s00, s11 = s00;                        \
        __m256 s20 = s00, s21 = s00, s30 = s00, s31 = s00;                                        \
        for (; j + 16 <= width; j += 16) {                                                        \
            const __m256 xa = _mm256_loadu_ps(x + j), xb = _mm256_loadu_ps(x + j + 8);            \
            s00 = _mm256_fmadd_ps(xa, LOAD8(r0 + j), s00); s01 = _mm256_fmadd_ps(xb, LOAD8(r0 + j + 8), s01); \
            s10 = _mm256_fmadd_ps(xa, LOAD8(r1 + j), s10); s11 = _mm256_fmadd_ps(xb, LOAD8(r1 + j + 8), s11); \
            s20 = _mm256_fmadd_ps(xa, LOAD8(r2 + j), s20); s21 = _mm256_fmadd_ps(xb, LOAD8(r2 + j + 8), s21); \
            s30 = _mm256_fmadd_ps(xa, LOAD8(r3 + j), s30); s31 = _mm256_fmadd_ps(xb, LOAD8(r3 + j + 8), s31); \
        }                                                                                         \
        d0 = hsum8(_mm256_add_ps(s00, s01)); d1 = hsum8(_mm256_add_ps(s10, s11));                  \
        d2 = hsum8(_mm256_add_ps(s20, s21)); d3 = hsum8(_mm256_add_ps(s30, s31));
#else
#define ROWDOTS_VECTOR(LOAD8)
#endif

#define ROWDOTS_BODY(LOAD8, SCALAR)                                                               \
    long v = 0;                                                                                   \
    for (; v + 4 <= count; v += 4) {                                                              \
        const W_T *r0 = rows + v * width, *r1 = r0 + width, *r2 = r1 + width, *r3 = r2 + width;   \
        float d0 = 0, d1 = 0, d2 = 0, d3 = 0;                                                     \
        long j = 0;                                                                               \
        ROWDOTS_VECTOR(LOAD8)                                                                     \
        for (; j < width; j++) {                                                                  \
            d0 += x[j] * SCALAR(r0[j]); d1 += x[j] * SCALAR(r1[j]);                               \
            d2 += x[j] * SCALAR(r2[j]); d3 += x[j] * SCALAR(r3[j]);                               \
        }                                                                                         \
        out[v] = d0; out[v + 1] = d1; out[v + 2] = d2; out[v + 3] = d3;                           \
    }                                                                                             \
    for (; v < count; v++) {                                                                      \
        float d = 0;                                                                              \
        for (long j = 0; j < width; j++) d += x[j] * SCALAR(rows[v * width + j]);                 \
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
