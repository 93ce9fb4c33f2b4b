// Prefetch of the C tile a GEMM micro-kernel adds its products to (AVX512MicroKernel.c,
// BF16GEMM.c).
//
// Why: a kernel call runs a few thousand cycles of products from packed panels in L1/L2 and
// only then loads and stores its 8×32 tile of C, which for a training product (C is megabytes
// of activations or gradients) is usually not in any cache. In the profile of a bf16
// shakespeare step about an eighth of the bf16 kernel's samples sat on the adds that wait for
// those loads. Requested at the start, the tile arrives while the products run.
#ifndef CLLM_TILE_PREFETCH_H
#define CLLM_TILE_PREFETCH_H
#if defined(__x86_64__)
#include <immintrin.h>

/* The `rows` rows of a 32-float tile: 128 bytes, two cache lines, three when a row does not
   start on a line. Prefetching a row past the end of C is harmless (hints do not fault). */
static inline __attribute__((always_inline)) void prefetch_tile(const float *c, long ldc, int rows) {
    for (int r = 0; r < rows; r++) {
        const char *row = (const char *)(c + r * ldc);
        _mm_prefetch(row, _MM_HINT_T0);
        _mm_prefetch(row + 64, _MM_HINT_T0);
        _mm_prefetch(row + 127, _MM_HINT_T0);
    }
}
#endif
#endif
