// bfloat16 GEMM on AVX512_BF16: the packers that round float32 operands to bfloat16 pairs and
// the 8×32 micro-kernel built on `vdpbf16ps`. See include/CKernels.h for the layout.
//
// Why pairs: `vdpbf16ps` multiplies two adjacent bfloat16 values of one operand with the two
// of the other and adds both products to one float32 lane. So both packed operands hold, in
// each 32-bit slot, the values of two consecutive k steps (low half: even step, high half:
// odd step); a k that is odd is padded with a zero high half.
//
// Rounding is to nearest even, done with integer adds (the same formula as Swift's
// `BFloat16.init`), so the packers need only AVX-512F/BW and a test can reproduce each value.
#include "CKernels.h"
#include "Transpose8x8.h"
#include "StreamAhead.h"
#include "TilePrefetch.h"
#include <stdint.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int cllm_cpu_has_avx512_bf16(void) {
    if (!cllm_cpu_has_avx512_bw_vl()) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a & (1u << 5)) ? 1 : 0;                      /* AVX512_BF16 */
}

#define KBF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))
#define INLINE_BF16 static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

/* Sixteen values as bfloat16 bit patterns in the low halves of 32-bit lanes (high halves 0);
   lanes outside `mask` are 0. */
INLINE_BF16 __m512i bits_of_floats(const float *p, __mmask16 mask) {
    __m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(mask, p));
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb), 16);
    /* A NaN stays a (quiet) NaN rather than rounding into infinity. */
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
    return _mm512_mask_mov_epi32(rounded, nan, _mm512_set1_epi32(0x7FC0));
}

INLINE_BF16 __m512i bits_of_bf16(const uint16_t *p, __mmask16 mask) {
    return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, p));
}

INLINE_BF16 __m512i load_bits(const void *src, int is_bf16, long offset, __mmask16 mask) {
    return is_bf16 ? bits_of_bf16((const uint16_t *)src + offset, mask) : bits_of_floats((const float *)src + offset, mask);
}

static inline __mmask16 first_lanes(long n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

static inline uint32_t scalar_bits(const void *src, int is_bf16, long offset) {
    if (is_bf16) return ((const uint16_t *)src)[offset];
    uint32_t u;
    __builtin_memcpy(&u, (const float *)src + offset, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;  /* NaN stays a (quiet) NaN */
    return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}

/* How many pairs of rows ahead the row-sweeping packer prefetches: about 1,000 columns' worth
   of work in flight, so that a row fetched from DRAM arrives before it is packed. */
static inline long pack_ahead_pairs(long cols) {
    const long ahead = (1024 + cols - 1) / (cols > 0 ? cols : 1);
    return ahead < 1 ? 1 : ahead > 8 ? 8 : ahead;
}

/* The packer for both element types: panels of `width` columns, panel j at
   out + j*pairs*width, out[j*pairs*width + pp*width + c'] = pair (2pp, 2pp+1) of column
   j*width + c', where element (p, c) is src[p*rs + c*cs]. Columns past `cols` are 0. */
INLINE_BF16 void pack_pairs_into(long kc, long cols, long width, const void *src, int is_bf16, long rs, long cs,
                                 long stride, uint32_t *out) {
    const long pairs = (kc + 1) / 2;
    const long padded = (cols + width - 1) / width * width;
    const long elem = is_bf16 ? 2 : 4;
    if (cs == 1) {
        /* Columns contiguous: two rows (steps 2pp and 2pp+1) of sixteen columns make sixteen
           pairs; the block is swept row by row, so each source line is read once. The rows
           `ahead` pairs on are prefetched (see pack_ahead_pairs). */
        const long ahead = pack_ahead_pairs(cols);
        for (long pp = 0; pp < pairs; pp++) {
            const long p = 2 * pp;
            const long next = p + 2 * ahead;
            for (long c = 0; c < padded; c += 16) {
                if (next + 1 < kc && c < cols) {
                    _mm_prefetch((const char *)src + (next * rs + c) * elem, _MM_HINT_T0);
                    _mm_prefetch((const char *)src + ((next + 1) * rs + c) * elem, _MM_HINT_T0);
                }
                const __mmask16 load = first_lanes(cols - c);
                __m512i lo = load_bits(src, is_bf16, p * rs + c, load);
                __m512i hi = p + 1 < kc ? load_bits(src, is_bf16, (p + 1) * rs + c, load) : _mm512_setzero_si512();
                __m512i v = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
                if (width >= 16) {
                    _mm512_storeu_si512(out + (c / width) * stride + pp * width + c % width, v);
                } else {  /* width 8: the two halves go to two panels */
                    _mm256_storeu_si256((__m256i *)(out + (c / 8) * stride + pp * 8), _mm512_castsi512_si256(v));
                    if (c + 8 < padded)
                        _mm256_storeu_si256((__m256i *)(out + (c / 8 + 1) * stride + pp * 8), _mm512_extracti64x4_epi64(v, 1));
                }
            }
        }
        return;
    }
    if (rs == 1) {
        /* Steps contiguous: sixteen steps of one column are eight pairs (vpmovdw keeps the low
           halves, so lanes 2i and 2i+1 land in one 32-bit slot); eight columns of eight pairs
           are then transposed into eight packed steps. */
        for (long c0 = 0; c0 < padded; c0 += 8) {
            uint32_t *panel = out + (c0 / width) * stride + c0 % width;
            for (long pp0 = 0; pp0 < pairs; pp0 += 8) {
                const long p0 = 2 * pp0;
                __m256 r[8];
                for (int i = 0; i < 8; i++) {
                    const long c = c0 + i;
                    /* The same steps of the next eight columns, a whole column group ahead. */
                    if (c + 8 < cols) _mm_prefetch((const char *)src + ((c + 8) * cs + p0) * elem, _MM_HINT_T0);
                    const __mmask16 m = c < cols ? first_lanes(kc - p0) : 0;
                    r[i] = _mm256_castsi256_ps(_mm512_cvtepi32_epi16(load_bits(src, is_bf16, c * cs + p0, m)));
                }
                transpose8x8(r);
                const long steps = pairs - pp0 < 8 ? pairs - pp0 : 8;
                for (long i = 0; i < steps; i++)
                    _mm256_storeu_si256((__m256i *)(panel + (pp0 + i) * width), _mm256_castps_si256(r[i]));
            }
        }
        return;
    }
    for (long c = 0; c < padded; c++) {
        uint32_t *panel = out + (c / width) * stride + c % width;
        for (long pp = 0; pp < pairs; pp++) {
            const long p = 2 * pp;
            uint32_t v = 0;
            if (c < cols) {
                v = scalar_bits(src, is_bf16, p * rs + c * cs);
                if (p + 1 < kc) v |= scalar_bits(src, is_bf16, (p + 1) * rs + c * cs) << 16;
            }
            panel[pp * width] = v;
        }
    }
}

/* Panels of `panel_pairs` ≥ (kc+1)/2 pair rows each, the rows past the block's pairs zero: the
   AMX kernel steps 16 pairs at a time (AMXGEMM.c). */
INLINE_BF16 void pack_pairs(long kc, long cols, long width, const void *src, int is_bf16, long rs, long cs,
                            long panel_pairs, uint32_t *out) {
    const long pairs = (kc + 1) / 2, stride = panel_pairs * width;
    pack_pairs_into(kc, cols, width, src, is_bf16, rs, cs, stride, out);
    if (panel_pairs == pairs) return;
    const long panels = (cols + width - 1) / width;
    for (long j = 0; j < panels; j++)
        __builtin_memset(out + j * stride + pairs * width, 0, (size_t)((panel_pairs - pairs) * width) * 4);
}

KBF16 void cllm_pack_bf16_pairs(long kc, long cols, long width, const float *src, long rs, long cs, uint32_t *out) {
    pack_pairs(kc, cols, width, src, 0, rs, cs, (kc + 1) / 2, out);
}

KBF16 void cllm_pack_bf16_pairs_from_bf16(long kc, long cols, long width, const uint16_t *src, long rs, long cs, uint32_t *out) {
    pack_pairs(kc, cols, width, src, 1, rs, cs, (kc + 1) / 2, out);
}

KBF16 void cllm_pack_bf16_pairs_padded(long kc, long cols, long width, const void *src, int is_bf16, long rs, long cs,
                                       long panel_pairs, uint32_t *out) {
    pack_pairs(kc, cols, width, src, is_bf16, rs, cs, panel_pairs, out);
}

/* The 8×32 tile: sixteen zmm accumulators, two B vectors and one broadcast pair per step. */
#define ROW(r) av = _mm512_set1_epi32((int)a[pp * 8 + r]); \
               c##r##0 = _mm512_dpbf16_ps(c##r##0, (__m512bh)av, b0); c##r##1 = _mm512_dpbf16_ps(c##r##1, (__m512bh)av, b1);

KBF16 void cllm_gemm_bf16_8x32(long pairs, const uint32_t *a, const uint32_t *b, float *c, long ldc,
                               int accumulate, int rows, int cols) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    prefetch_tile(c, ldc, rows);
    for (long pp = 0; pp < pairs; pp++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(b + pp * 32), b1 = (__m512bh)_mm512_load_si512(b + pp * 32 + 16);
        __m512i av;
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
    }
    __m512 acc[16] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71};
    const __mmask16 m0 = first_lanes(cols), m1 = first_lanes(cols - 16);
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

KBF16 float cllm_dpbf16_chains(long iterations) {
    __m512 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(1.0f);
    const __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
    const __m512bh y = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(-1e-3f));
    for (long i = 0; i < iterations; i++) {
        acc[0] = _mm512_dpbf16_ps(acc[0], x, y); acc[1] = _mm512_dpbf16_ps(acc[1], x, y);
        acc[2] = _mm512_dpbf16_ps(acc[2], x, y); acc[3] = _mm512_dpbf16_ps(acc[3], x, y);
        acc[4] = _mm512_dpbf16_ps(acc[4], x, y); acc[5] = _mm512_dpbf16_ps(acc[5], x, y);
        acc[6] = _mm512_dpbf16_ps(acc[6], x, y); acc[7] = _mm512_dpbf16_ps(acc[7], x, y);
        acc[8] = _mm512_dpbf16_ps(acc[8], x, y); acc[9] = _mm512_dpbf16_ps(acc[9], x, y);
        acc[10] = _mm512_dpbf16_ps(acc[10], x, y); acc[11] = _mm512_dpbf16_ps(acc[11], x, y);
    }
    __m512 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

#else  /* not x86-64: cllm_cpu_has_avx512_bf16() is 0, so the kernels below are unreachable */
int cllm_cpu_has_avx512_bf16(void) { return 0; }
void cllm_pack_bf16_pairs(long kc, long cols, long width, const float *src, long rs, long cs, uint32_t *out) {
    (void)kc; (void)cols; (void)width; (void)src; (void)rs; (void)cs; (void)out; __builtin_trap();
}
void cllm_pack_bf16_pairs_from_bf16(long kc, long cols, long width, const uint16_t *src, long rs, long cs, uint32_t *out) {
    (void)kc; (void)cols; (void)width; (void)src; (void)rs; (void)cs; (void)out; __builtin_trap();
}
void cllm_gemm_bf16_8x32(long pairs, const uint32_t *a, const uint32_t *b, float *c, long ldc,
                         int accumulate, int rows, int cols) {
    (void)pairs; (void)a; (void)b; (void)c; (void)ldc; (void)accumulate; (void)rows; (void)cols; __builtin_trap();
}
float cllm_dpbf16_chains(long iterations) { (void)iterations; __builtin_trap(); }
void cllm_pack_bf16_pairs_padded(long kc, long cols, long width, const void *src, int is_bf16, long rs, long cs,
                                 long panel_pairs, uint32_t *out) {
    (void)kc; (void)cols; (void)width; (void)src; (void)is_bf16; (void)rs; (void)cs; (void)panel_pairs; (void)out; __builtin_trap();
}
#endif

#if defined(__x86_64__)
/* Generation streams the weights from DRAM once per token, and a thread reads its share
   fastest as one stream, front to back, with a software prefetch ahead of the loads
   (StreamAhead.h has the measurement). Both kernels below walk their weights in memory order. */

/* y[0..<n] += Σ_pp pair(x, pp) · w[pp*ldw + c] over `pairs` pairs of input rows: generation's
   mat-vec on pair-interleaved bf16 weights, 32 products per instruction. x is rounded to bf16
   pairs in chunks of 256 (a stack buffer); then each pair-row is swept across the columns, y
   (in L1) loaded and stored around each `vdpbf16ps`. Called with whole rows (the inputs split
   over the pool), a thread's weights are one contiguous run. */
KBF16 void cllm_matvec_bf16_pairs(long pairs, long n, const float *x, long inputs, const uint32_t *w, long ldw, float *y) {
    uint32_t xp[256];
    const long full = n / 64 * 64;
    const __mmask16 m0 = first_lanes(n - full), m1 = first_lanes(n - full - 16);
    const __mmask16 m2 = first_lanes(n - full - 32), m3 = first_lanes(n - full - 48);
    for (long p0 = 0; p0 < pairs; p0 += 256) {
        const long count = pairs - p0 < 256 ? pairs - p0 : 256;
        for (long i = 0; i < count; i += 8) {  /* 16 inputs → 8 pairs */
            const long first = 2 * (p0 + i);
            const __mmask16 m = first_lanes(inputs - first);
            _mm256_storeu_si256((__m256i *)(xp + i), _mm512_cvtepi32_epi16(bits_of_floats(x + first, m)));
        }
        for (long pp = 0; pp < count; pp++) {
            const uint32_t *row = w + (p0 + pp) * ldw;
            const __m512bh xb = (__m512bh)_mm512_set1_epi32((int)xp[pp]);
            for (long c = 0; c < full; c += 64) {
                const char *ahead = (const char *)(row + c) + PREFETCH_AHEAD;
                _mm_prefetch(ahead, _MM_HINT_T0); _mm_prefetch(ahead + 64, _MM_HINT_T0);
                _mm_prefetch(ahead + 128, _MM_HINT_T0); _mm_prefetch(ahead + 192, _MM_HINT_T0);
                _mm512_storeu_ps(y + c, _mm512_dpbf16_ps(_mm512_loadu_ps(y + c), xb, (__m512bh)_mm512_loadu_si512(row + c)));
                _mm512_storeu_ps(y + c + 16, _mm512_dpbf16_ps(_mm512_loadu_ps(y + c + 16), xb, (__m512bh)_mm512_loadu_si512(row + c + 16)));
                _mm512_storeu_ps(y + c + 32, _mm512_dpbf16_ps(_mm512_loadu_ps(y + c + 32), xb, (__m512bh)_mm512_loadu_si512(row + c + 32)));
                _mm512_storeu_ps(y + c + 48, _mm512_dpbf16_ps(_mm512_loadu_ps(y + c + 48), xb, (__m512bh)_mm512_loadu_si512(row + c + 48)));
            }
            if (full < n) {
                float *yc = y + full;
                const uint32_t *rc = row + full;
                _mm512_mask_storeu_ps(yc, m0, _mm512_dpbf16_ps(_mm512_maskz_loadu_ps(m0, yc), xb, (__m512bh)_mm512_maskz_loadu_epi32(m0, rc)));
                _mm512_mask_storeu_ps(yc + 16, m1, _mm512_dpbf16_ps(_mm512_maskz_loadu_ps(m1, yc + 16), xb, (__m512bh)_mm512_maskz_loadu_epi32(m1, rc + 16)));
                _mm512_mask_storeu_ps(yc + 32, m2, _mm512_dpbf16_ps(_mm512_maskz_loadu_ps(m2, yc + 32), xb, (__m512bh)_mm512_maskz_loadu_epi32(m2, rc + 32)));
                _mm512_mask_storeu_ps(yc + 48, m3, _mm512_dpbf16_ps(_mm512_maskz_loadu_ps(m3, yc + 48), xb, (__m512bh)_mm512_maskz_loadu_epi32(m3, rc + 48)));
            }
        }
    }
}

/* out[v] = x · rows[v] for bf16 rows (the tied LM head) on `vdpbf16ps`: consecutive elements of
   a row already form the pairs the instruction wants, so the rows need no new layout; x is
   rounded to bf16 pairs once (width ≤ 8192, even). One row after another (a single stream),
   two accumulators in flight. */
KBF16 void cllm_row_dots_bf16_pairs(long count, long width, const float *x, const uint16_t *rows, float *out) {
    uint32_t xp[4096];
    const long pairs = width / 2, full = pairs / 32 * 32;
    for (long i = 0; i < pairs; i += 8) {
        const __mmask16 m = first_lanes(width - 2 * i);
        _mm256_storeu_si256((__m256i *)(xp + i), _mm512_cvtepi32_epi16(bits_of_floats(x + 2 * i, m)));
    }
    for (long v = 0; v < count; v++) {
        const uint32_t *r = (const uint32_t *)(rows + v * width);
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        long j = 0;
        for (; j < full; j += 32) {
            _mm_prefetch((const char *)(r + j) + PREFETCH_AHEAD, _MM_HINT_T0);
            _mm_prefetch((const char *)(r + j) + PREFETCH_AHEAD + 64, _MM_HINT_T0);
            a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(xp + j), (__m512bh)_mm512_loadu_si512(r + j));
            a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(xp + j + 16), (__m512bh)_mm512_loadu_si512(r + j + 16));
        }
        for (; j < pairs; j += 16) {
            const __mmask16 m = first_lanes(pairs - j);
            a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_maskz_loadu_epi32(m, xp + j), (__m512bh)_mm512_maskz_loadu_epi32(m, r + j));
        }
        out[v] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
}
#else
void cllm_row_dots_bf16_pairs(long count, long width, const float *x, const uint16_t *rows, float *out) {
    (void)count; (void)width; (void)x; (void)rows; (void)out; __builtin_trap();
}
void cllm_matvec_bf16_pairs(long pairs, long n, const float *x, long inputs, const uint32_t *w, long ldw, float *y) {
    (void)pairs; (void)n; (void)x; (void)inputs; (void)w; (void)ldw; (void)y; __builtin_trap();
}
#endif
