// Micro-benchmarks of the machine itself: the FMA peak and GEMM throughput at given shapes.
import CKernels
import Foundation

public enum MachineBenchmark {
    /// Peak single-precision GFLOP/s of `threads` cores with the given kernel's registers: twelve
    /// independent FMA chains per thread (SIMD8 or 16-lane zmm), no memory traffic (the same
    /// register shape as the GEMM micro-kernel).
    public static func peakGFLOPS(threads: Int, kernel: GEMMKernel = .active) -> Double {
        bestRate(threads: threads, flopsPerIteration: 12 * 2 * kernel.lanes) { iterations in
            kernel == .avx512 ? cllm_fma_chains_avx512(iterations) : fmaChains(iterations)
        }
    }

    /// Peak bfloat16 GFLOP/s of `threads` cores for a kernel (default: the one products use):
    /// for `vdpbf16ps` twelve independent chains per thread, each instruction 16 lanes × 2
    /// products × 2 flops = 64 flops; for AMX four independent tile accumulators, each
    /// `tdpbf16ps` 16 × 16 × 16 pairs × 2 products × 2 flops = 16,384 flops. Nil where the CPU
    /// has no bfloat16 kernel.
    public static func peakBF16GFLOPS(threads: Int, kernel: BF16GEMMKernel? = BF16GEMMKernel.active ?? BF16GEMMKernel.available.last) -> Double? {
        guard let kernel, BF16GEMMKernel.available.contains(kernel) else { return nil }
        if kernel == .amx {
            return bestRate(threads: threads, flopsPerIteration: 4 * kernel.flopsPerInstruction, iterations: 200_000) { cllm_amx_dp_chains($0) }
        }
        return bestRate(threads: threads, flopsPerIteration: 12 * kernel.flopsPerInstruction) { cllm_dpbf16_chains($0) }
    }

    /// The best of three timings of `chains(iterations)` on `threads` pool threads at once.
    private static func bestRate(threads: Int, flopsPerIteration: Int, iterations: Int = 2_000_000, _ chains: (Int) -> Float) -> Double {
        let pool = ThreadPool.shared
        let parts = min(threads, pool.threadCount)
        var best = 0.0
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            pool.parallelFor(parts) { _, _ in blackHole(chains(iterations)) }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(parts * iterations * flopsPerIteration) / elapsed / 1e9)
        }
        return best
    }

    /// Median GFLOP/s of C = op(A)·op(B) at m×n×k, on the whole pool or (singleThread) one core.
    public static func gemmGFLOPS(m: Int, n: Int, k: Int, transA: Transpose, transB: Transpose,
                                  singleThread: Bool, repeats: Int = 15, kernel: GEMMKernel = .active,
                                  arithmetic: GEMMArithmetic = .float32) -> Double {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k), b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<(m * k) { a[i] = Float(i % 7) * 0.1 }
        for i in 0..<(k * n) { b[i] = Float(i % 5) * 0.1 }
        var times: [Double] = []
        for _ in 0..<(repeats + 2) {
            let start = DispatchTime.now().uptimeNanoseconds
            gemm(m: m, n: n, k: k, a: a, lda: transA == .none ? k : m, transA: transA,
                 b: b, ldb: transB == .none ? n : k, transB: transB, c: c, ldc: n, worker: singleThread ? 0 : nil, kernel: kernel,
                 arithmetic: arithmetic)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let median = times.dropFirst(2).sorted()[repeats / 2]
        return 2 * Double(m * n * k) / median / 1e9
    }
}

/// Twelve independent FMA dependency chains: enough in flight to saturate both FMA ports.
@inline(never) func fmaChains(_ iterations: Int) -> Float {
    var a0 = Vec8(repeating: 1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0
    var a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0
    let x = Vec8(repeating: 0.999_999), y = Vec8(repeating: 1e-7)
    for _ in 0..<iterations {
        a0 = a0.addingProduct(x, y); a1 = a1.addingProduct(x, y); a2 = a2.addingProduct(x, y)
        a3 = a3.addingProduct(x, y); a4 = a4.addingProduct(x, y); a5 = a5.addingProduct(x, y)
        a6 = a6.addingProduct(x, y); a7 = a7.addingProduct(x, y); a8 = a8.addingProduct(x, y)
        a9 = a9.addingProduct(x, y); a10 = a10.addingProduct(x, y); a11 = a11.addingProduct(x, y)
    }
    return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).sum()
}

@inline(never) func blackHole(_ x: Float) { if x == .infinity { print("") } }

