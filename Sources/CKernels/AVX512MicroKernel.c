// AVX-512 GEMM micro-kernel (8×32 tile: sixteen zmm accumulators) and its run-time CPU check.
// See include/CKernels.h for why this is C.
#include "CKernels.h"
#include "TilePrefetch.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int cllm_cpu_has_avx512(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0;                    /* OSXSAVE: XGETBV is usable */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 0;                  /* XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM saved */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 16)) ? 1 : 0;                    /* AVX512F */
}

int cllm_cpu_has_avx512_bw_vl(void) {
    if (!cllm_cpu_has_avx512()) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned bw = 1u << 30, vl = 1u << 31;
    return (b & (bw | vl)) == (bw | vl);
}

#define K512 __attribute__((target("avx512f,fma")))

/* The 8×32 tile: sixteen zmm accumulators, two B vectors and one broadcast per step (19 of the
   32 registers). Row r of A at step p is a[r*rsA + p*csA]: packed panels have rsA = 1,
   csA = 8; a row-major matrix read in place has rsA = lda, csA = 1. Both callers pass
   constants or a fixed stride, so each specialisation keeps one index add per step. */
#define ROW(r) av = _mm512_set1_ps(a##r[idx]); \
               c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0); c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);

static inline __attribute__((always_inline, target("avx512f,fma")))
void kernel_8x32(long kc, const float *a, long rsA, long csA, const float *b, float *c, long ldc,
                 int accumulate, int rows, int cols) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    const float *a0 = a, *a1 = a + rsA, *a2 = a + 2 * rsA, *a3 = a + 3 * rsA;
    const float *a4 = a + 4 * rsA, *a5 = a + 5 * rsA, *a6 = a + 6 * rsA, *a7 = a + 7 * rsA;
    prefetch_tile(c, ldc, rows);
    long idx = 0;
    for (long p = 0; p < kc; p++, idx += csA) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        __m512 av;
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
        b += 32;
    }
    __m512 acc[16] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71};
    if (rows == 8 && cols == 32) {
        for (int r = 0; r < 8; r++) {
            float *p = c + r * ldc;
            __m512 v0 = acc[2 * r], v1 = acc[2 * r + 1];
            if (accumulate) { v0 = _mm512_add_ps(v0, _mm512_loadu_ps(p)); v1 = _mm512_add_ps(v1, _mm512_loadu_ps(p + 16)); }
            _mm512_storeu_ps(p, v0); _mm512_storeu_ps(p + 16, v1);
        }
        return;
    }
    __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? (__mmask16)0xFFFF : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
    for (int r = 0; r < rows; r++) {
        float *p = c + r * ldc;
        __m512 v0 = acc[2 * r], v1 = acc[2 * r + 1];
        if (accumulate) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, p));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, p + 16));
        }
        _mm512_mask_storeu_ps(p, m0, v0);
        _mm512_mask_storeu_ps(p + 16, m1, v1);
    }
}

K512 void cllm_sgemm_8x32_avx512(long kc, const float *a, const float *b, float *c, long ldc,
                                 int accumulate, int rows, int cols) {
    kernel_8x32(kc, a, 1, 8, b, c, ldc, accumulate, rows, cols);
}

K512 void cllm_sgemm_8x32_rows_avx512(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                                      int accumulate, int cols) {
    kernel_8x32(kc, a, lda, 1, b, c, ldc, accumulate, 8, cols);
}

K512 float cllm_fma_chains_avx512(long iterations) {
    __m512 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps(1.0f);
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (long i = 0; i < iterations; i++) {
        a[0] = _mm512_fmadd_ps(a[0], x, y); a[1] = _mm512_fmadd_ps(a[1], x, y);
        a[2] = _mm512_fmadd_ps(a[2], x, y); a[3] = _mm512_fmadd_ps(a[3], x, y);
        a[4] = _mm512_fmadd_ps(a[4], x, y); a[5] = _mm512_fmadd_ps(a[5], x, y);
        a[6] = _mm512_fmadd_ps(a[6], x, y); a[7] = _mm512_fmadd_ps(a[7], x, y);
        a[8] = _mm512_fmadd_ps(a[8], x, y); a[9] = _mm512_fmadd_ps(a[9], x, y);
        a[10] = _mm512_fmadd_ps(a[10], x, y); a[11] = _mm512_fmadd_ps(a[11], x, y);
    }
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

#else  /* not x86-64: cllm_cpu_has_avx512() is 0, so the kernels below are unreachable */
int cllm_cpu_has_avx512(void) { return 0; }
int cllm_cpu_has_avx512_bw_vl(void) { return 0; }
void cllm_sgemm_8x32_avx512(long kc, const float *a, const float *b, float *c, long ldc,
                            int accumulate, int rows, int cols) {
    (void)kc; (void)a; (void)b; (void)c; (void)ldc; (void)accumulate; (void)rows; (void)cols;
    __builtin_trap();
}
void cllm_sgemm_8x32_rows_avx512(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                                 int accumulate, int cols) {
    (void)kc; (void)a; (void)lda; (void)b; (void)c; (void)ldc; (void)accumulate; (void)cols;
    __builtin_trap();
}
float cllm_fma_chains_avx512(long iterations) { (void)iterations; __builtin_trap(); }
#endif
