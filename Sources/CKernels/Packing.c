// Packing of transposed GEMM operands into the micro-kernels' panel layout.
//
// op(B) = storageᵀ: each output step p needs one float from each of nr storage rows. Reading 8
// rows × 8 consecutive p as eight vectors and transposing them in registers turns 64 strided
// scalar copies into 8 loads, 24 shuffles and 8 stores.
#include "CKernels.h"
#include "BFloat16Widen.h"

#include "Transpose8x8.h"

void cllm_pack_b_bf16(long kc, long cols, long nr, const uint16_t *b, long rsB, long csB, float *out) {
#if defined(__AVX2__)
    if (csB == 1 && cols == nr) {                 /* rows of B contiguous: widen 8 at a time */
        for (long p = 0; p < kc; p++)
            for (long c = 0; c < nr; c += 8) _mm256_storeu_ps(out + p * nr + c, load_bf16x8(b + p * rsB + c));
        return;
    }
    if (rsB == 1) {                               /* transposed: widen 8 storage rows, transpose */
        long c0 = 0;
        for (; c0 + 8 <= cols; c0 += 8) {
            long p = 0;
            for (; p + 8 <= kc; p += 8) {
                __m256 r[8];
                for (int i = 0; i < 8; i++) r[i] = load_bf16x8(b + (c0 + i) * csB + p);
                transpose8x8(r);
                for (int i = 0; i < 8; i++) _mm256_storeu_ps(out + (p + i) * nr + c0, r[i]);
            }
            for (; p < kc; p++)
                for (int i = 0; i < 8; i++) out[p * nr + c0 + i] = bf16_to_float(b[(c0 + i) * csB + p]);
        }
        for (long c = c0; c < nr; c++)
            for (long p = 0; p < kc; p++) out[p * nr + c] = c < cols ? bf16_to_float(b[c * csB + p]) : 0;
        return;
    }
#endif
    for (long p = 0; p < kc; p++)
        for (long c = 0; c < nr; c++) out[p * nr + c] = c < cols ? bf16_to_float(b[p * rsB + c * csB]) : 0;
}

void cllm_pack_b_transposed(long kc, long cols, long nr, const float *b, long ldb, float *out) {
    long c0 = 0;
#if defined(__AVX2__)
    for (; c0 + 8 <= cols; c0 += 8) {            /* eight storage rows at a time */
        long p = 0;
        for (; p + 8 <= kc; p += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(b + (c0 + i) * ldb + p);
            transpose8x8(r);
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(out + (p + i) * nr + c0, r[i]);
        }
        for (; p < kc; p++)
            for (int i = 0; i < 8; i++) out[p * nr + c0 + i] = b[(c0 + i) * ldb + p];
    }
#endif
    for (long c = c0; c < nr; c++) {
        float *o = out + c;
        if (c < cols) {
            const float *src = b + c * ldb;
            for (long p = 0; p < kc; p++) o[p * nr] = src[p];
        } else {
            for (long p = 0; p < kc; p++) o[p * nr] = 0;
        }
    }
}

void cllm_pack_a_transposed(long kc, long mr, const float *a, long lda, float *out) {
#if defined(__AVX2__)
    if (mr == 8) {
        for (long p = 0; p < kc; p++) _mm256_storeu_ps(out + p * 8, _mm256_loadu_ps(a + p * lda));
        return;
    }
    if (mr == 6) {
        for (long p = 0; p < kc; p++) {
            const float *src = a + p * lda;
            _mm_storeu_ps(out, _mm_loadu_ps(src));
            _mm_storel_pi((__m64 *)(out + 4), _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(src + 4)));
            out += 6;
        }
        return;
    }
#endif
    for (long p = 0; p < kc; p++)
        for (long r = 0; r < mr; r++) out[p * mr + r] = a[p * lda + r];
}

void cllm_pack_b_q8(long kc, long cols, long nr, const int8_t *q, long ldq, const float *scales, long blocks, float *out) {
    long c0 = 0;
#if defined(__AVX2__)
    for (; c0 + 8 <= cols; c0 += 8) {            /* eight weight rows at a time */
        long p = 0;
        for (; p + 8 <= kc; p += 8) {             /* eight steps never straddle a 32-value block */
            __m256 r[8];
            for (int i = 0; i < 8; i++) {
                const long row = c0 + i;
                const __m256i q8 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + row * ldq + p)));
                r[i] = _mm256_mul_ps(_mm256_cvtepi32_ps(q8), _mm256_set1_ps(scales[row * blocks + p / 32]));
            }
            transpose8x8(r);
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(out + (p + i) * nr + c0, r[i]);
        }
        for (; p < kc; p++)
            for (int i = 0; i < 8; i++) out[p * nr + c0 + i] = (float)q[(c0 + i) * ldq + p] * scales[(c0 + i) * blocks + p / 32];
    }
#endif
    for (long c = c0; c < nr; c++)
        for (long p = 0; p < kc; p++)
            out[p * nr + c] = c < cols ? (float)q[c * ldq + p] * scales[c * blocks + p / 32] : 0;
}
