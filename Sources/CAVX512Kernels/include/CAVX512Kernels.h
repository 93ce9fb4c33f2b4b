// CAVX512Kernels: the GEMM micro-kernel and FMA-peak probe for CPUs with AVX-512.
//
// Swift cannot compile one function for a wider ISA than the rest of the module, and the build
// must run on AVX2-only machines (x86-64-v3). So the 512-bit kernel lives here, in C, compiled
// with a per-function target attribute, and CrystallineCompute calls it only after
// `cllm_cpu_has_avx512()` confirmed, at run time, that both the CPU and the OS support it.
#ifndef CAVX512KERNELS_H
#define CAVX512KERNELS_H

/// 1 when the CPU has AVX-512F and the OS saves the zmm/opmask state (CPUID + XGETBV).
int cllm_cpu_has_avx512(void);

/// C[rows×cols] (+)= Apanel[6×kc] · Bpanel[kc×32] with rows ≤ 6, cols ≤ 32.
/// Apanel is k-major with 6 floats per step, Bpanel k-major with 32 floats per step; both are
/// zero-padded past the matrix edge. Partial tiles are written with masked stores.
/// Bpanel must be 64-byte aligned.
void cllm_sgemm_6x32_avx512(long kc, const float *a, const float *b, float *c, long ldc,
                            int accumulate, int rows, int cols);

/// The same product with A read in place: six full rows of a row-major matrix with row stride
/// `lda` (row r, step p at a[r*lda + p]), which spares packing A.
void cllm_sgemm_6x32_rows_avx512(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                                 int accumulate, int cols);

/// Runs twelve independent 16-lane FMA chains `iterations` times (12·32 flops per iteration)
/// and returns a value that depends on all of them, so the work cannot be optimised away.
float cllm_fma_chains_avx512(long iterations);

#endif
