// A GEMM's B operand packed once and read by many products.
//
// Why: attention multiplies each block of 24 query rows by the keys (or values) it can see, so
// the same K or V was packed again for every block, and for bfloat16 packing an element costs
// about as much as the products it feeds at k = 64: half the attention GEMM time was packing.
// Packed once per head, every block reads the panels it needs. A product may use a prefix of
// the packed rows (k ≤ `rows`) and of its columns (n ≤ `columns`), which is what a causal
// block needs: rows 0..<r1 of V, columns 0..<r1 of Kᵀ.
//
// Layout: for each depth block of `GEMMBlocking.kc` rows, the panels of the whole width, in
// the form the path's micro-kernel reads (float32: kc×NR floats per panel; bfloat16: pairs of
// k steps, (kc+1)/2 slots × NR per panel). Block b starts after the full blocks before it, so
// a prefix of rows finds its blocks where the full operand has them.
import CKernels

/// op(B)[rows×columns] packed for one GEMM path, in caller-provided memory.
public struct PackedOperand {
    public let rows: Int, columns: Int
    let path: GEMMPath
    /// 64-byte aligned (the micro-kernels use aligned loads of B).
    let base: UnsafeMutableRawPointer

    /// Bytes a packed operand of this size needs, including alignment slack, on any path.
    public static func byteCount(rows: Int, columns: Int) -> Int {
        // The float32 layout is the larger (one 4-byte slot per element, against one per pair),
        // and 32 is the widest panel of every kernel.
        let padded = (columns + 31) / 32 * 32
        return rows * padded * 4 + 64
    }

    /// Packs op(B) (`transB == .none`: B is rows×columns with row stride `ldb`; `.transposed`:
    /// columns×rows) into `storage`, which must hold `byteCount(rows:columns:)` bytes, for
    /// products of the given arithmetic and float32 kernel.
    public init(packing b: UnsafePointer<Float>, ldb: Int, transB: Transpose = .none, rows: Int, columns: Int,
                into storage: UnsafeMutableRawPointer, arithmetic: GEMMArithmetic = .float32, kernel: GEMMKernel = .active) {
        self.rows = rows
        self.columns = columns
        if arithmetic == .bfloat16, let bf16 = BF16GEMMKernel.active { path = .bfloat16(bf16) } else { path = .float32(kernel) }
        base = UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: storage) + 63) & ~63)!
        let (rsB, csB) = transB == .none ? (ldb, 1) : (1, ldb)
        var pc = 0
        while pc < rows {
            let kc = min(GEMMBlocking.kc, rows - pc)
            let block = panels(depth: pc, column: 0).pointer
            if path.packsPairs {
                cllm_pack_bf16_pairs(kc, columns, path.panelWidth, b + pc * rsB, rsB, csB, block.assumingMemoryBound(to: UInt32.self))
            } else {
                packB(kc: kc, nc: columns, panelWidth: path.panelWidth, b: b + pc * rsB, rsB: rsB, csB: csB,
                      into: block.assumingMemoryBound(to: Float.self))
            }
            pc += GEMMBlocking.kc
        }
    }

    /// 32-bit slots per panel column for a depth block of `kc` rows.
    private func slots(_ kc: Int) -> Int {
        path.packsPairs ? (kc + 1) / 2 : kc
    }

    /// The panels of the depth block starting at row `depth` (a multiple of `GEMMBlocking.kc`),
    /// from column `column` (a multiple of the panel width) on, and the distance in 32-bit slots
    /// from one panel to the next.
    func panels(depth: Int, column: Int) -> (pointer: UnsafeMutableRawPointer, panelStride: Int) {
        let width = path.panelWidth
        let padded = (columns + width - 1) / width * width
        let blockSlots = slots(min(GEMMBlocking.kc, rows - depth))
        let before = depth / GEMMBlocking.kc * slots(GEMMBlocking.kc) * padded
        return (base + 4 * (before + column / width * blockSlots * width), blockSlots * width)
    }
}

/// C[m×n] (+)= op(A)[m×k] · B[0..<k, 0..<n] with B packed beforehand: `k ≤ packedB.rows`,
/// `n ≤ packedB.columns`. Runs on the path B was packed for. With `worker` nil the rows of C
/// are split over the pool (every thread reads the one packed B); inside a pool task pass its
/// worker index, and the product runs on the calling thread.
///
/// A bfloat16 product with an odd k shorter than the packed rows multiplies packed row k by a
/// zero: exact for finite values.
public func gemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transA: Transpose = .none,
                 packedB: PackedOperand, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false,
                 worker: Int? = nil) {
    precondition(k <= packedB.rows && n <= packedB.columns, "product larger than its packed operand")
    if m == 0 || n == 0 { return }
    if k == 0 {
        if !accumulate { fillRows(c, ldc: ldc, rows: 0..<m, columns: 0..<n, bias: nil) }
        return
    }
    let (rsA, csA) = transA == .none ? (lda, 1) : (1, lda)
    let pool = ThreadPool.shared
    let parts = (worker == nil && 2 * m * n * k > 400_000) ? pool.threadCount : 1
    if parts == 1 {
        gemmSerial(m: m, n: n, k: k, a: a, rsA: rsA, csA: csA, b: BOperand<Float>.packed(packedB), c: c, ldc: ldc,
                   accumulate: accumulate, scratch: .current, path: packedB.path)
        return
    }
    pool.parallelFor(parts, PackedGEMMSplit(m: m, n: n, k: k, a: a, rsA: rsA, csA: csA, b: packedB, c: c, ldc: ldc,
                                            accumulate: accumulate, parts: parts))
}

/// One thread's block of rows of a product with a packed B.
struct PackedGEMMSplit: ParallelJob {
    let m: Int, n: Int, k: Int
    let a: UnsafePointer<Float>, rsA: Int, csA: Int
    let b: PackedOperand
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let accumulate: Bool
    let parts: Int

    func run(task part: Int, worker: Int) {
        let r = chunk(part, of: parts, count: m, granule: b.path.panelHeight)
        if r.isEmpty { return }
        gemmSerial(m: r.count, n: n, k: k, a: a + r.lowerBound * rsA, rsA: rsA, csA: csA, b: BOperand<Float>.packed(b),
                   c: c + r.lowerBound * ldc, ldc: ldc, accumulate: accumulate, scratch: .current, path: b.path)
    }
}
