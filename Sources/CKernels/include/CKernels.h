// CKernels: the few kernels Swift cannot express well. Only CrystallineCompute calls them (its
// GEMM, `matVec`, `adamUpdate`); every other module reaches them through it.
//
// - The AVX-512 micro-kernel and FMA-peak probe. Swift cannot compile one function for a wider
//   ISA than the rest of the module, and the build must run on AVX2-only machines (x86-64-v3).
//   So the 512-bit kernel lives here, compiled with a per-function target attribute, and is
//   called only after `cllm_cpu_has_avx512()` confirmed, at run time, that both the CPU and
//   the OS support it.
// - The bfloat16 GEMM (packers that round float32 to bfloat16 pairs, and an 8×32 micro-kernel
//   on `vdpbf16ps`), compiled the same way and called only after `cllm_cpu_has_avx512_bf16()`;
//   and its AMX form (a 32×32 kernel on `tdpbf16ps` tiles, after `cllm_cpu_has_amx_bf16()`),
//   with a software model of the tile instructions that the tests run on any CPU.
// - The Adam update, which needs a vector square root (Swift's SIMD squareRoot() is a loop of
//   sqrtf calls).
// - The generation matrix-vector products and head row dots, each reading its weights in
//   memory order, bf16 widened with vpmovzxwd (Swift's generic SIMD conversions compile to
//   scalar loops).
// - Packing of transposed operands, which needs 8×8 register transposes (lane shuffles that
//   Swift's SIMD types do not expose). Portable C elsewhere.
// - Per-thread packing scratch (thread-local through a pthread key, freed at thread exit), so
//   that concurrent callers of the GEMM never share buffers.
#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Packing buffers of the calling thread (64-byte aligned), allocated on its first call and
/// freed when the thread exits. The sizes must be the same on every call.
typedef struct { float *a; float *b; } cllm_pack_scratch;
cllm_pack_scratch cllm_thread_pack_scratch(size_t a_floats, size_t b_floats);

/// 1 when the CPU has AVX-512F and the OS saves the zmm/opmask state (CPUID + XGETBV).
int cllm_cpu_has_avx512(void);
/// 1 when AVX-512F is usable (`cllm_cpu_has_avx512`) and the CPU also has AVX-512BW and VL, which
/// the bfloat16 and 8-bit kernels use for byte/word lanes and masked 256-bit forms.
int cllm_cpu_has_avx512_bw_vl(void);

/// C[rows×cols] (+)= Apanel[8×kc] · Bpanel[kc×32] with rows ≤ 8, cols ≤ 32.
/// Apanel is k-major with 8 floats per step, Bpanel k-major with 32 floats per step; both are
/// zero-padded past the matrix edge. Partial tiles are written with masked stores.
/// Bpanel must be 64-byte aligned.
void cllm_sgemm_8x32_avx512(long kc, const float *a, const float *b, float *c, long ldc,
                            int accumulate, int rows, int cols);

/// The same product with A read in place: eight full rows of a row-major matrix with row stride
/// `lda` (row r, step p at a[r*lda + p]), which spares packing A.
void cllm_sgemm_8x32_rows_avx512(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                                 int accumulate, int cols);

/// Runs twelve independent 16-lane FMA chains `iterations` times (12·32 flops per iteration)
/// and returns a value that depends on all of them, so the work cannot be optimised away.
float cllm_fma_chains_avx512(long iterations);

/// 1 when the CPU also has AVX512_BF16 (`vdpbf16ps`) and AVX-512BW/VL (CPUID leaf 7).
int cllm_cpu_has_avx512_bf16(void);

/// bfloat16 operand panels: each 32-bit slot holds the values of two consecutive k steps
/// (step 2pp in the low half, 2pp+1 in the high half, rounded to nearest even; a missing odd
/// step is 0). Packs a kc×cols block, element (p, c) at src[p*rs + c*cs], into panels of
/// `width` columns (8 or a multiple of 16): panel j starts at out + j*P*width with
/// P = (kc+1)/2, and holds pair pp of column j*width + c' at [pp*width + c']; columns past
/// `cols` are 0. A panels use width 8 (c = row of A), B panels width 32.
void cllm_pack_bf16_pairs(long kc, long cols, long width, const float *src, long rs, long cs, uint32_t *out);
/// The same from bfloat16 bit patterns (copied, not rounded).
void cllm_pack_bf16_pairs_from_bf16(long kc, long cols, long width, const uint16_t *src, long rs, long cs, uint32_t *out);

/// C[rows×cols] (+)= A·B from packed pair panels: A 8 rows wide, B 32 columns wide (64-byte
/// aligned), `pairs` steps of two k each; `vdpbf16ps` into sixteen float32 accumulators.
void cllm_gemm_bf16_8x32(long pairs, const uint32_t *a, const uint32_t *b, float *c, long ldc,
                         int accumulate, int rows, int cols);

/// Generation's mat-vec on pair-interleaved bfloat16 weights (AVX512_BF16): y[0..<n] +=
/// Σ_pp bf16pair(x[2pp], x[2pp+1]) · w[pp*ldw + c], where w holds, per pair of input rows, one
/// 32-bit slot per column (row 2pp in the low half); x (`inputs` floats) is rounded to bf16.
void cllm_matvec_bf16_pairs(long pairs, long n, const float *x, long inputs, const uint32_t *w, long ldw, float *y);

/// out[v] = bf16(x) · rows[v] for v < count, bfloat16 rows of `width` (even, ≤ 8192) values, on
/// `vdpbf16ps` (AVX512_BF16): the tied LM head of a bf16 session.
void cllm_row_dots_bf16_pairs(long count, long width, const float *x, const uint16_t *rows, float *out);

/// Twelve independent `vdpbf16ps` chains (12·64 flops per iteration), as `cllm_fma_chains_avx512`.
float cllm_dpbf16_chains(long iterations);

/// `cllm_pack_bf16_pairs` (is_bf16 0) or `cllm_pack_bf16_pairs_from_bf16` (is_bf16 1) into
/// panels of `panel_pairs` ≥ (kc+1)/2 pair rows (panel j at out + j*panel_pairs*width), the
/// rows past the block's pairs zero: B operands of the AMX kernel, which steps 16 pairs.
void cllm_pack_bf16_pairs_padded(long kc, long cols, long width, const void *src, int is_bf16, long rs, long cs,
                                 long panel_pairs, uint32_t *out);

/// 1 when the CPU has AMX-TILE and AMX-BF16 (and AVX512_BF16), the OS manages the tile state,
/// and Linux granted this process the tile data (arch_prctl ARCH_REQ_XCOMP_PERM, requested here).
int cllm_cpu_has_amx_bf16(void);
/// The 64-byte tile configuration the AMX kernel loads (palette 1, tiles 0–7 of 16 rows × 64 bytes).
void cllm_amx_config_bytes(uint8_t out[64]);
/// Loads that configuration on the calling thread, on the hardware or (`modeled` 1) in the
/// software model of the tile instructions; `cllm_amx_end` releases it.
void cllm_amx_begin(int modeled);
void cllm_amx_end(int modeled);
/// C[rows×cols] (+)= A·B with rows, cols ≤ 32, on four 16×16 tiles (`tdpbf16ps`), after
/// `cllm_amx_begin`. A: 32 rows of `lda` pair slots each (16·chunks used, rows past the matrix
/// zero, see `cllm_amx_rows_from_panels`); B: one 32-column panel of 16·chunks pair rows
/// (`cllm_pack_bf16_pairs_padded`). `modeled` runs the software model instead of the hardware.
void cllm_gemm_bf16_amx_32x32(long chunks, const uint32_t *a, long lda, const uint32_t *b, float *c, long ldc,
                              int accumulate, int rows, int cols, int modeled);
/// Turns the 8-row A panels of `cllm_pack_bf16_pairs` (width 8, `pairs` pair rows, `count`
/// rows) into rows of pairs: rows[i*lda + pp], zero past `pairs` and for rows count..<padded_rows.
void cllm_amx_rows_from_panels(long pairs, long count, const uint32_t *panels, long lda, long padded_rows, uint32_t *rows);
/// Four independent `tdpbf16ps` accumulators, `iterations` rounds (4·16384 flops per round).
float cllm_amx_dp_chains(long iterations);

/// Packs one B panel from a transposed view: out[p*nr + c] = b[c*ldb + p] for c < cols, and 0
/// for cols ≤ c < nr, for p < kc. (Column c of op(B) is row c of storage, contiguous in p.)
void cllm_pack_b_transposed(long kc, long cols, long nr, const float *b, long ldb, float *out);

/// Packs one B panel of bfloat16 bit patterns, widened to float: out[p*nr + c] =
/// float(b[p*rsB + c*csB]) for c < cols, and 0 for cols ≤ c < nr, for p < kc.
void cllm_pack_b_bf16(long kc, long cols, long nr, const unsigned short *b, long rsB, long csB, float *out);

/// Packs one B panel from Q8_0 weight rows (GGML's [out, in] order, so op(B) is their transpose),
/// dequantized exactly (an int8 times an fp16 scale fits a float's mantissa): out[p*nr + c] =
/// q[c*ldq + p] · scales[c*blocks + p/32] for c < cols, and 0 for cols ≤ c < nr, for p < kc.
/// `q` and `scales` point at the panel's first row at a step that is a multiple of 32.
void cllm_pack_b_q8(long kc, long cols, long nr, const int8_t *q, long ldq, const float *scales, long blocks, float *out);

/// Packs one full `mr`-row A panel (mr = 6 or 8) from a transposed view:
/// out[p*mr + r] = a[p*lda + r], p < kc.
void cllm_pack_a_transposed(long kc, long mr, const float *a, long lda, float *out);

/// One Adam/AdamW step over p[0..<n]: grad = g + l2·p; m = β1·m + (1−β1)·grad;
/// v = β2·v + (1−β2)·grad²; p = p·decay_factor − step_size·m / (√v·inv_sqrt_c2 + eps).
/// (AdamW: decay_factor = 1 − lr·wd, l2 = 0; Adam: decay_factor = 1, l2 = wd.)
void cllm_adam_update(long n, float *p, const float *g, float *m, float *v,
                      float beta1, float beta2, float step_size, float inv_sqrt_c2, float eps,
                      float decay_factor, float l2);

/// y[0..<n] += Σ_{i<rows} x[i]·w[i*ldw + 0..<n], one row of W at a time (a single stream when
/// the rows are full width, ldw == n); float32 weights, or bfloat16 bit patterns widened.
void cllm_matvec_f32(long rows, long n, const float *x, const float *w, long ldw, float *y);
void cllm_matvec_bf16(long rows, long n, const float *x, const unsigned short *w, long ldw, float *y);
/// out[v] = Σ_j x[j]·rows[v*width + j] for v < count (the tied LM head), one row after another.
void cllm_row_dots_f32(long count, long width, const float *x, const float *rows, float *out);
void cllm_row_dots_bf16(long count, long width, const float *x, const uint16_t *rows, float *out);

/// 1 when the CPU (and OS) can run AVX512_VNNI with AVX-512F/BW/VL (`vpdpbusd` on zmm).
int cllm_cpu_has_avx512_vnni(void);

/// GGML's Q8_0 quantization of n values (n a multiple of 32): per block of 32, d = max|x|/127,
/// q = round-half-away(x/d) computed with the float32 d, and the scale stored as the float
/// that d rounds to in fp16 (GGML stores d as fp16).
void cllm_quantize_q8_0(long n, const float *x, signed char *q, float *scales);

/// out[r] = Σ_b ws[r*blocks + b]·xs[b]·(Σ_i w[(r*blocks + b)*32 + i]·xq[32b + i]) + bias[r]
/// (bias may be NULL), for r < rows: Q8_0 weight rows times a Q8_0 vector, exact integer
/// block sums. Two kernels: AVX2 (`vpmaddubsw`) and AVX512_VNNI (`vpdpbusd`).
void cllm_q8_row_dots_avx2(long rows, long blocks, const signed char *xq, const float *xs,
                           const signed char *w, const float *ws, const float *bias, float *out);
void cllm_q8_row_dots_avx512vnni(long rows, long blocks, const signed char *xq, const float *xs,
                                 const signed char *w, const float *ws, const float *bias, float *out);

#endif
