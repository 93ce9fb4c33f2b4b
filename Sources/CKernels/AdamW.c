// The Adam/AdamW update of a contiguous run of parameters, eight lanes at a time.
//
// In C because it needs a vector square root: Swift's SIMD8<Float>.squareRoot() compiles to
// eight calls of sqrtf, which made the optimizer step 4% of a baby-GPT training step.
#include "CKernels.h"
#include <math.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

void cllm_adam_update(long n, float *p, const float *g, float *m, float *v,
                      float beta1, float beta2, float step_size, float inv_sqrt_c2, float eps,
                      float decay_factor, float l2) {
    long i = 0;
#if defined(__AVX2__) && defined(__FMA__)
    const __m256 b1 = _mm256_set1_ps(beta1), b2 = _mm256_set1_ps(beta2);
    const __m256 one_b1 = _mm256_set1_ps(1 - beta1), one_b2 = _mm256_set1_ps(1 - beta2);
    const __m256 ss = _mm256_set1_ps(step_size), ic2 = _mm256_set1_ps(inv_sqrt_c2), ep = _mm256_set1_ps(eps);
    const __m256 df = _mm256_set1_ps(decay_factor), l2v = _mm256_set1_ps(l2);
    for (; i + 8 <= n; i += 8) {
        __m256 pv = _mm256_loadu_ps(p + i);
        __m256 grad = _mm256_fmadd_ps(l2v, pv, _mm256_loadu_ps(g + i));
        __m256 mi = _mm256_fmadd_ps(b1, _mm256_loadu_ps(m + i), _mm256_mul_ps(one_b1, grad));
        __m256 vi = _mm256_fmadd_ps(b2, _mm256_loadu_ps(v + i), _mm256_mul_ps(one_b2, _mm256_mul_ps(grad, grad)));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 denom = _mm256_fmadd_ps(_mm256_sqrt_ps(vi), ic2, ep);
        _mm256_storeu_ps(p + i, _mm256_sub_ps(_mm256_mul_ps(pv, df), _mm256_div_ps(_mm256_mul_ps(ss, mi), denom)));
    }
#endif
    for (; i < n; i++) {
        float grad = g[i] + l2 * p[i];
        float mi = beta1 * m[i] + (1 - beta1) * grad;
        float vi = beta2 * v[i] + (1 - beta2) * grad * grad;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay_factor - step_size * mi / (sqrtf(vi) * inv_sqrt_c2 + eps);
    }
}
