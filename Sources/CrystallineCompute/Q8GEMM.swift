// Matrix products with Q8_0 weights, for prompt processing in an 8-bit session.
//
// Why: a prompt token by token costs a mat-vec per weight matrix, each reading all the weights
// to use them once (a 643-token prompt took 3.9 s on GPT-2 small). As a GEMM, a chunk of tokens
// shares each read. The weights are dequantized exactly as they are packed (int8 times an fp16
// scale is exact in float32) and the products run in float32 on the float32 micro-kernel, so the
// only rounding is float32's; token-by-token stepping, which also quantizes its input to Q8_0
// as llama.cpp does, agrees to that input quantization.
import CKernels

/// C[m×n] = A[m×k] · Qᵀ (+ bias), with Q the n×k Q8_0 matrix (row j is output j) and k its
/// width. The columns of C (weight rows) are split over the pool, so no thread packs weights
/// another uses.
public func gemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, quantizedB q: Q8Matrix,
                 c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil, kernel: GEMMKernel = .active) {
    precondition(n == q.rows && k == q.columns, "a \(q.rows)×\(q.columns) Q8_0 matrix cannot give \(n) outputs from \(k) inputs")
    precondition(GEMMBlocking.kc % 32 == 0, "depth blocks must start on Q8_0 block boundaries")
    if m == 0 || n == 0 { return }
    let pool = ThreadPool.shared
    let parts = 2 * m * n * k > 400_000 ? pool.threadCount : 1
    let job = Q8GEMMSplit(m: m, n: n, k: k, a: a, lda: lda, q: q, c: c, ldc: ldc, bias: bias, parts: parts, kernel: kernel)
    if parts == 1 { job.run(task: 0, worker: 0) } else { pool.parallelFor(parts, job) }
}

/// One thread's block of columns of C: its weight rows, packed by it alone.
struct Q8GEMMSplit: ParallelJob {
    let m: Int, n: Int, k: Int
    let a: UnsafePointer<Float>, lda: Int
    let q: Q8Matrix
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let bias: UnsafePointer<Float>?
    let parts: Int
    let kernel: GEMMKernel

    func run(task part: Int, worker: Int) {
        let columns = chunk(part, of: parts, count: n, granule: kernel.panelWidth)
        if columns.isEmpty { return }
        fillRows(c, ldc: ldc, rows: 0..<m, columns: columns, bias: bias)
        let rows = Q8Matrix(quants: q.quants + columns.lowerBound * q.columns, scales: q.scales + columns.lowerBound * q.blocksPerRow,
                            rows: columns.count, columns: q.columns)
        gemmSerial(m: m, n: columns.count, k: k, a: a, rsA: lda, csA: 1, b: BOperand<Float>.quantized(rows),
                   c: c + columns.lowerBound, ldc: ldc, accumulate: true, scratch: .current, kernel: kernel)
    }
}
