// 8-bit generation: GGML's Q8_0 blocks (32 int8 values and one scale) and the row dot
// products of Q8_0 weights with Q8_0 activations, as llama.cpp computes a Q8_0 mat-vec.
//
// Why both operands in 8 bits: the integer dot product of a block is exact, so one block costs
// one `vpdpbusd` (64 byte products per zmm instruction, AVX512_VNNI) or a
// `vpmaddubsw`+`vpmaddwd` pair (AVX2), and the float work is one multiply-add per block by
// the product of the two scales. Weights stream at 34 bytes per 32 values instead of 64 (bf16).
//
// `vpdpbusd` multiplies unsigned by signed bytes: x is split into |x| (unsigned) and its sign,
// which is moved onto the weight (w or −w); |q| ≤ 127, so neither side overflows.
#include "CKernels.h"
#include "StreamAhead.h"
#include <math.h>
#include <stdint.h>


#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int cllm_cpu_has_avx512_vnni(void) {
    if (!cllm_cpu_has_avx512_bw_vl()) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (c & (1u << 11)) ? 1 : 0;                     /* AVX512_VNNI */
}

/* Rounds half away from zero, as C's roundf (and GGML's reference quantizer): adding the
   largest float below ½ with x's sign and truncating is exact for every float. */
static inline __m256 round_half_away(__m256 v) {
    const __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
    const __m256 half = _mm256_or_ps(sign, _mm256_set1_ps(0.49999997f));
    return _mm256_round_ps(_mm256_add_ps(v, half), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
}

void cllm_quantize_q8_0(long n, const float *x, signed char *q, float *scales) {
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (long b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        __m256 v[4], m = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) { v[k] = _mm256_loadu_ps(xb + 8 * k); m = _mm256_max_ps(m, _mm256_and_ps(v[k], absMask)); }
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float d = _mm_cvtss_f32(h) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        scales[b] = (float)(_Float16)d;                  /* stored as fp16, like GGML's block */
        __m256i i[4];
        for (int k = 0; k < 4; k++) i[k] = _mm256_cvttps_epi32(round_half_away(_mm256_mul_ps(v[k], _mm256_set1_ps(id))));
        /* packs interleave the 128-bit lanes; the permute puts the 32 bytes back in order. */
        const __m256i w16a = _mm256_packs_epi32(i[0], i[1]), w16b = _mm256_packs_epi32(i[2], i[3]);
        const __m256i bytes = _mm256_packs_epi16(w16a, w16b);
        _mm256_storeu_si256((__m256i *)(q + 32 * b), _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* One block's eight int32 partial sums of x·w on AVX2: sign moved onto w, |x|·(±w) in 16-bit
   pairs (|x|·|w| ≤ 127·127, two fit), then pairs summed to 32 bits. */
static inline __m256i block_dot_avx2(__m256i ax, __m256i x, const int8_t *w) {
    const __m256i sw = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)w), x);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sw), _mm256_set1_epi16(1));
}

/* One row at a time, as the VNNI kernel below (a single stream per thread), two blocks per
   step so that two multiply-add chains are in flight; x's blocks and |x| stay in L1. */
void cllm_q8_row_dots_avx2(long rows, long blocks, const signed char *xq, const float *xs,
                           const signed char *w, const float *ws, const float *bias, float *out) {
    for (long r = 0; r < rows; r++) {
        const int8_t *wr = w + r * blocks * 32;
        const float *sr = ws + r * blocks;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        long b = 0;
        for (; b + 2 <= blocks; b += 2) {
            _mm_prefetch((const char *)(wr + 32 * b + PREFETCH_AHEAD), _MM_HINT_T0);
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)(xq + 32 * b));
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)(xq + 32 * b + 32));
            const __m256 d0 = _mm256_cvtepi32_ps(block_dot_avx2(_mm256_sign_epi8(x0, x0), x0, wr + 32 * b));
            const __m256 d1 = _mm256_cvtepi32_ps(block_dot_avx2(_mm256_sign_epi8(x1, x1), x1, wr + 32 * b + 32));
            acc0 = _mm256_fmadd_ps(d0, _mm256_set1_ps(sr[b] * xs[b]), acc0);
            acc1 = _mm256_fmadd_ps(d1, _mm256_set1_ps(sr[b + 1] * xs[b + 1]), acc1);
        }
        if (b < blocks) {
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)(xq + 32 * b));
            const __m256 d0 = _mm256_cvtepi32_ps(block_dot_avx2(_mm256_sign_epi8(x0, x0), x0, wr + 32 * b));
            acc0 = _mm256_fmadd_ps(d0, _mm256_set1_ps(sr[b] * xs[b]), acc0);
        }
        out[r] = hsum8(_mm256_add_ps(acc0, acc1)) + (bias ? bias[r] : 0.0f);
    }
}

#define KVNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))

/* One row at a time, two blocks per zmm. Each thread's rows are one contiguous run, and reading
   it front to back as a single stream is what the memory system serves fastest: on Zen 4 two
   threads stream a 148 MB Q8_0 matrix at 19.6 GB/s when four rows are read side by side and at
   ~30 GB/s when each thread reads one row after another (scripts/stream_q8.c). So x's share of
   the work (|x|, the sign mask, the two blocks' scales spread over the lanes) is done once per
   call into `X_CHUNK`-pair tables that stay in L1, and each 64-byte step of a row is one load,
   one masked negate, one `vpdpbusd` and one multiply-add. Rows wider than the tables are done
   in column chunks. An odd last block runs on ymm. */
#define X_CHUNK 64
KVNNI void cllm_q8_row_dots_avx512vnni(long rows, long blocks, const signed char *xq, const float *xs,
                                       const signed char *w, const float *ws, const float *bias, float *out) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    __m512i ax[X_CHUNK];
    __mmask64 negative[X_CHUNK];
    __m512 xsv[X_CHUNK];
    const long pairs = blocks / 2;
    for (long r = 0; r < rows; r++) out[r] = bias ? bias[r] : 0.0f;
    for (long p0 = 0; p0 < pairs; p0 += X_CHUNK) {
        const long n = pairs - p0 < X_CHUNK ? pairs - p0 : X_CHUNK;
        for (long p = 0; p < n; p++) {
            const __m512i x = _mm512_loadu_si512(xq + 64 * (p0 + p));
            ax[p] = _mm512_abs_epi8(x);
            negative[p] = _mm512_movepi8_mask(x);
            xsv[p] = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd((const double *)(xs + 2 * (p0 + p))))));
        }
        for (long r = 0; r < rows; r++) {
            const int8_t *wr = w + r * blocks * 32 + 64 * p0;
            const float *sr = ws + r * blocks + 2 * p0;
            __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
            long p = 0;
            for (; p + 2 <= n; p += 2) {
                _mm_prefetch((const char *)(wr + 64 * p + PREFETCH_AHEAD), _MM_HINT_T0);
                _mm_prefetch((const char *)(wr + 64 * p + 64 + PREFETCH_AHEAD), _MM_HINT_T0);
                __m512i w0 = _mm512_loadu_si512(wr + 64 * p), w1 = _mm512_loadu_si512(wr + 64 * p + 64);
                w0 = _mm512_mask_sub_epi8(w0, negative[p], zero, w0);
                w1 = _mm512_mask_sub_epi8(w1, negative[p + 1], zero, w1);
                const __m512 d0 = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(zero, ax[p], w0));
                const __m512 d1 = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(zero, ax[p + 1], w1));
                const __m512 s0 = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd((const double *)(sr + 2 * p)))));
                const __m512 s1 = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd((const double *)(sr + 2 * p + 2)))));
                acc0 = _mm512_fmadd_ps(d0, _mm512_mul_ps(s0, xsv[p]), acc0);
                acc1 = _mm512_fmadd_ps(d1, _mm512_mul_ps(s1, xsv[p + 1]), acc1);
            }
            if (p < n) {
                _mm_prefetch((const char *)(wr + 64 * p + PREFETCH_AHEAD), _MM_HINT_T0);
                __m512i w0 = _mm512_loadu_si512(wr + 64 * p);
                w0 = _mm512_mask_sub_epi8(w0, negative[p], zero, w0);
                const __m512 d0 = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(zero, ax[p], w0));
                const __m512 s0 = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd((const double *)(sr + 2 * p)))));
                acc0 = _mm512_fmadd_ps(d0, _mm512_mul_ps(s0, xsv[p]), acc0);
            }
            out[r] += _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        }
    }
    if (blocks & 1) {
        const long b = blocks - 1;
        const __m256i x = _mm256_loadu_si256((const __m256i *)(xq + 32 * b)), axb = _mm256_abs_epi8(x);
        const __mmask32 neg = _mm256_movepi8_mask(x);
        for (long r = 0; r < rows; r++) {
            __m256i wv = _mm256_loadu_si256((const __m256i *)(w + (r * blocks + b) * 32));
            wv = _mm256_mask_sub_epi8(wv, neg, _mm256_setzero_si256(), wv);
            out[r] += hsum8(_mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), axb, wv))) * (ws[r * blocks + b] * xs[b]);
        }
    }
}

#else  /* not x86-64: portable loops (cllm_cpu_has_avx512_vnni() is 0) */
int cllm_cpu_has_avx512_vnni(void) { return 0; }

void cllm_quantize_q8_0(long n, const float *x, signed char *q, float *scales) {
    for (long b = 0; b < n / 32; b++) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[32 * b + i]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        scales[b] = (float)(_Float16)d;
        for (int i = 0; i < 32; i++) q[32 * b + i] = (int8_t)roundf(x[32 * b + i] * id);
    }
}

void cllm_q8_row_dots_avx2(long rows, long blocks, const signed char *xq, const float *xs,
                           const signed char *w, const float *ws, const float *bias, float *out) {
    for (long r = 0; r < rows; r++) {
        float sum = 0;
        for (long b = 0; b < blocks; b++) {
            int dot = 0;
            for (int i = 0; i < 32; i++) dot += (int)xq[32 * b + i] * (int)w[(r * blocks + b) * 32 + i];
            sum += (float)dot * (ws[r * blocks + b] * xs[b]);
        }
        out[r] = sum + (bias ? bias[r] : 0.0f);
    }
}

void cllm_q8_row_dots_avx512vnni(long rows, long blocks, const signed char *xq, const float *xs,
                                 const signed char *w, const float *ws, const float *bias, float *out) {
    (void)rows; (void)blocks; (void)xq; (void)xs; (void)w; (void)ws; (void)bias; (void)out; __builtin_trap();
}
#endif
