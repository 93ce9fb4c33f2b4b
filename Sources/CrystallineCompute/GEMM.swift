// Packed single-precision matrix multiply (Goto/BLIS design) for the three products backprop
// needs: A·B (forward), A·Bᵀ (input gradient), Aᵀ·B (weight gradient).
//
// A and B are packed into MR-row and NR-column panels so that one 6×16 micro-kernel (twelve
// SIMD8 accumulators, FMA) serves every transpose combination. Blocks are sized for the caches
// of a typical x86 core (KC×NR of B in L1, MC×KC of A in L2). Work is split over the shared
// ThreadPool along the larger output dimension; each thread packs into its own scratch.

/// An element type the B operand may be stored in; the arithmetic is always float32.
public protocol GEMMElement { var floatValue: Float { get } }

extension Float: GEMMElement {
    @inline(__always) public var floatValue: Float { self }
}

/// bfloat16: the top 16 bits of a float32 (8-bit exponent, 7-bit mantissa), rounded to nearest even.
public struct BFloat16: GEMMElement, Equatable, Sendable {
    public var bits: UInt16
    @inline(__always) public init(_ x: Float) {
        let u = x.bitPattern
        if x.isNaN { bits = 0x7FC0; return }
        bits = UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
    }
    @inline(__always) public var floatValue: Float { Float(bitPattern: UInt32(bits) << 16) }
}

/// Whether an operand is read as stored or as its transpose (row-major storage).
public enum Transpose: Sendable { case none, transposed }

public enum GEMMBlocking {
    public static let mr = 6, nr = 16
    public static let kc = 256, mc = 120, nc = 1024
}

/// Per-thread packing buffers, allocated once per pool thread and reused for every call.
final class PackScratch: @unchecked Sendable {
    let a: UnsafeMutablePointer<Float>
    let b: UnsafeMutablePointer<Float>
    init() {
        a = .allocate(capacity: GEMMBlocking.mc * GEMMBlocking.kc)
        b = .allocate(capacity: GEMMBlocking.kc * GEMMBlocking.nc)
    }
    static let perThread: [PackScratch] = (0..<ThreadPool.shared.threadCount).map { _ in PackScratch() }
}

/// C[m×n] (+)= op(A)[m×k] · op(B)[k×n], all row-major.
///
/// - Parameters:
///   - a: storage of A; if `transA == .none` it is m×k with row stride `lda`, otherwise k×m.
///   - b: storage of B; if `transB == .none` it is k×n with row stride `ldb`, otherwise n×k.
///   - accumulate: add into C instead of overwriting it.
///   - worker: when called from inside a `ThreadPool` task, that task's worker index; the
///     product then runs on the calling thread with that worker's packing scratch.
public func gemm<BElement: GEMMElement>(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int, transA: Transpose = .none,
                 b: UnsafePointer<BElement>, ldb: Int, transB: Transpose = .none,
                 c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false,
                 worker: Int? = nil) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    let (rsA, csA) = transA == .none ? (lda, 1) : (1, lda)
    let (rsB, csB) = transB == .none ? (ldb, 1) : (1, ldb)
    let pool = ThreadPool.shared
    let flops = 2 * m * n * k
    let parts = (worker == nil && flops > 400_000) ? pool.threadCount : 1
    if parts == 1 {
        gemmSerial(m: m, n: n, k: k, a: a, rsA: rsA, csA: csA, b: b, rsB: rsB, csB: csB,
                   c: c, ldc: ldc, accumulate: accumulate, scratch: PackScratch.perThread[worker ?? 0])
        return
    }
    // Split the larger output dimension; keep chunks aligned to the micro-tile.
    let splitRows = m >= n
    pool.parallelFor(parts) { part, worker in
        let scratch = PackScratch.perThread[worker]
        if splitRows {
            let r = chunk(part, of: parts, count: m, granule: GEMMBlocking.mr)
            if r.isEmpty { return }
            gemmSerial(m: r.count, n: n, k: k, a: a + r.lowerBound * rsA, rsA: rsA, csA: csA,
                       b: b, rsB: rsB, csB: csB, c: c + r.lowerBound * ldc, ldc: ldc,
                       accumulate: accumulate, scratch: scratch)
        } else {
            let r = chunk(part, of: parts, count: n, granule: GEMMBlocking.nr)
            if r.isEmpty { return }
            gemmSerial(m: m, n: r.count, k: k, a: a, rsA: rsA, csA: csA,
                       b: b + r.lowerBound * csB, rsB: rsB, csB: csB, c: c + r.lowerBound, ldc: ldc,
                       accumulate: accumulate, scratch: scratch)
        }
    }
}

func gemmSerial<BElement: GEMMElement>(m: Int, n: Int, k: Int,
                a: UnsafePointer<Float>, rsA: Int, csA: Int,
                b: UnsafePointer<BElement>, rsB: Int, csB: Int,
                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, scratch: PackScratch) {
    let MR = GEMMBlocking.mr, NR = GEMMBlocking.nr
    var jc = 0
    while jc < n {
        let nc = min(GEMMBlocking.nc, n - jc)
        var pc = 0
        while pc < k {
            let kc = min(GEMMBlocking.kc, k - pc)
            packB(kc: kc, nc: nc, b: b + pc * rsB + jc * csB, rsB: rsB, csB: csB, into: scratch.b)
            let add = accumulate || pc > 0
            var ic = 0
            while ic < m {
                let mc = min(GEMMBlocking.mc, m - ic)
                packA(mc: mc, kc: kc, a: a + ic * rsA + pc * csA, rsA: rsA, csA: csA, into: scratch.a)
                var jr = 0
                while jr < nc {
                    let nr = min(NR, nc - jr)
                    let bp = UnsafePointer(scratch.b + jr * kc)
                    var ir = 0
                    while ir < mc {
                        let mr = min(MR, mc - ir)
                        let ap = UnsafePointer(scratch.a + ir * kc)
                        let cp = c + (ic + ir) * ldc + jc + jr
                        if mr == MR && nr == NR {
                            microKernel6x16(kc: kc, a: ap, b: bp, c: cp, ldc: ldc, accumulate: add)
                        } else {
                            microKernelEdge(kc: kc, a: ap, b: bp, c: cp, ldc: ldc, rows: mr, cols: nr, accumulate: add)
                        }
                        ir += MR
                    }
                    jr += NR
                }
                ic += GEMMBlocking.mc
            }
            pc += GEMMBlocking.kc
        }
        jc += GEMMBlocking.nc
    }
}
