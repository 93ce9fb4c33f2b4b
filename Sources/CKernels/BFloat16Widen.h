// bfloat16 → float32 widening shared by the C kernels (private to CKernels).
// A bfloat16 is the top half of a float32, so widening is a zero-extension and a 16-bit shift.
#ifndef CLLM_BFLOAT16_WIDEN_H
#define CLLM_BFLOAT16_WIDEN_H
#include <stdint.h>
#include <string.h>

static inline float bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#if defined(__AVX2__)
#include <immintrin.h>
/* Eight bfloat16 values widened to eight floats (vpmovzxwd + vpslld). */
static inline __m256 load_bf16x8(const uint16_t *p) {
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
#endif
#endif
