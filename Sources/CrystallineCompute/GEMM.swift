// Packed single-precision matrix multiply (Goto/BLIS design) for the three products backprop
// needs: A·B (forward), A·Bᵀ (input gradient), Aᵀ·B (weight gradient).
//
// A and B are packed into MR-row and NR-column panels so that one micro-kernel serves every
// transpose combination: 6×16 (twelve SIMD8 accumulators, FMA) in portable Swift, or 8×32
// (sixteen 16-lane zmm accumulators) in C where the CPU has AVX-512 (chosen at run time, see
// `GEMMKernel`). With `arithmetic: .bfloat16` the packers round both operands to bfloat16
// pairs and an 8×32 `vdpbf16ps` kernel, or where the CPU has AMX a 32×32 tile kernel
// (AMXGEMM.swift), accumulates in float32 (see `BF16GEMMKernel`). Blocks
// are sized for the caches of a typical x86 core (KC×NR of B in L1, MC×KC of A in L2). Work is
// split over the shared ThreadPool along the larger output dimension; each thread packs into
// its own scratch.
import CKernels
import CCPUFeatures
import Foundation

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
    /// kc: depth of a packed block; mc: rows of A per block (a multiple of every panel height);
    /// nc: columns of B per block.
    /// kc = 384 measured 4–11 % faster per training step than 256 (interleaved runs, baby and
    /// shakespeare); 192 and 512 were slower, as were mc = 96/240 and nc = 512.
    public static let kc = 384, mc = 120, nc = 1024
    /// The widest column block: a remainder of up to a quarter of `nc` joins the block before
    /// it instead of becoming a narrow block of its own, for which all of A would be packed
    /// again (n = 1152, the qkv width of the shakespeare model, was 1024 + 128).
    public static let widestColumnBlock = 1280

    /// Columns of the block that starts `remaining` columns before the end of C.
    @inline(__always) static func columnBlock(_ remaining: Int) -> Int {
        remaining <= widestColumnBlock ? remaining : nc
    }
}

/// The micro-kernel a product runs on.
///
/// The build targets x86-64-v3 (AVX2 + FMA) so that it runs on any recent x86 machine; where
/// the CPU also has AVX-512 (checked at run time with CPUID/XGETBV), the 512-bit kernel does
/// twice the work per instruction. `CLLM_GEMM_KERNEL=simd8` forces the portable kernel, e.g. to
/// compare with a library held to AVX2.
public enum GEMMKernel: String, Sendable, CaseIterable {
    /// 6×16 tile of SIMD8<Float> accumulators, in Swift (AVX2+FMA on x86, NEON on aarch64).
    case simd8
    /// 8×32 tile of 16-lane accumulators, in C with AVX-512F intrinsics.
    case avx512

    /// Columns per packed B panel (the tile width).
    public var panelWidth: Int { self == .avx512 ? 32 : 16 }
    /// Rows per A panel (the tile height). Twelve SIMD8 or sixteen zmm accumulators plus the B
    /// vectors and a broadcast fit the 16 ymm / 32 zmm registers.
    public var panelHeight: Int { self == .avx512 ? 8 : 6 }
    /// Float lanes per register: the FMA width the peak of this kernel is measured with.
    public var lanes: Int { self == .avx512 ? 16 : 8 }
    /// The kernels this CPU can run.
    public static let available: [GEMMKernel] = cllm_cpu_has_avx512() != 0 ? [.simd8, .avx512] : [.simd8]
    /// The kernel every product uses unless told otherwise: the widest available, unless the
    /// environment variable `CLLM_GEMM_KERNEL` names another available one.
    public static let active: GEMMKernel = {
        if let name = ProcessInfo.processInfo.environment["CLLM_GEMM_KERNEL"],
           let chosen = GEMMKernel(rawValue: name.lowercased()), available.contains(chosen) {
            return chosen
        }
        return available.last!
    }()
    /// Name for reports: the ISA the kernel's instructions use.
    public var isaName: String {
        switch self {
        case .avx512: return "AVX-512"
        case .simd8: return cllm_compiled_with_fma() != 0 ? String(cString: cllm_compiled_simd_name()) : "portable (no FMA)"
        }
    }
}

/// The packing buffers of the calling thread (see `cllm_thread_pack_scratch`): each thread that
/// runs a product, pool worker or not, packs into its own, so concurrent callers never share.
struct PackScratch {
    let a: UnsafeMutablePointer<Float>
    let b: UnsafeMutablePointer<Float>
    @inline(__always) static var current: PackScratch {
        let s = cllm_thread_pack_scratch(GEMMBlocking.mc * GEMMBlocking.kc, GEMMBlocking.kc * GEMMBlocking.widestColumnBlock)
        return PackScratch(a: s.a, b: s.b)
    }
}

/// C[m×n] (+)= op(A)[m×k] · op(B)[k×n], all row-major.
///
/// - Parameters:
///   - a: storage of A; if `transA == .none` it is m×k with row stride `lda`, otherwise k×m.
///   - b: storage of B; if `transB == .none` it is k×n with row stride `ldb`, otherwise n×k.
///   - accumulate: add into C instead of overwriting it.
///   - bias: without `accumulate`, C = bias + op(A)·op(B), the n-vector added to every row.
///   - worker: when called from inside a `ThreadPool` task, that task's worker index; the
///     product then runs serially on the calling thread (packing scratch is per thread).
///   - kernel: the float32 micro-kernel; the default is the fastest this CPU runs.
///   - arithmetic: `.bfloat16` rounds both operands to bfloat16 for the products (accumulation
///     stays float32) where the CPU has a bfloat16 kernel; elsewhere the product runs in float32.
public func gemm<BElement: GEMMElement>(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int, transA: Transpose = .none,
                 b: UnsafePointer<BElement>, ldb: Int, transB: Transpose = .none,
                 c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false,
                 bias: UnsafePointer<Float>? = nil,
                 worker: Int? = nil, kernel: GEMMKernel = .active, arithmetic: GEMMArithmetic = .float32) {
    let path: GEMMPath
    if arithmetic == .bfloat16, let bf16 = BF16GEMMKernel.active { path = .bfloat16(bf16) } else { path = .float32(kernel) }
    gemm(m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB, c: c, ldc: ldc,
         accumulate: accumulate, bias: bias, worker: worker, path: path)
}

/// `gemm` on a given path (the tests run every kernel this way, and the AMX loop on the model
/// of the tile instructions).
func gemm<BElement: GEMMElement>(m: Int, n: Int, k: Int,
          a: UnsafePointer<Float>, lda: Int, transA: Transpose,
          b: UnsafePointer<BElement>, ldb: Int, transB: Transpose,
          c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
          bias: UnsafePointer<Float>?, worker: Int?, path: GEMMPath) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if !accumulate { fillRows(c, ldc: ldc, rows: 0..<m, columns: 0..<n, bias: bias) }
        return
    }
    // With a bias, each thread first fills the rows/columns of C it owns with the bias and then
    // accumulates into them: the fill is parallel and its lines are still in cache.
    let seeded = !accumulate && bias != nil
    let (rsA, csA) = transA == .none ? (lda, 1) : (1, lda)
    let (rsB, csB) = transB == .none ? (ldb, 1) : (1, ldb)
    let pool = ThreadPool.shared
    let flops = 2 * m * n * k
    let parts = (worker == nil && flops > 400_000) ? pool.threadCount : 1
    if parts == 1 {
        if seeded { fillRows(c, ldc: ldc, rows: 0..<m, columns: 0..<n, bias: bias) }
        gemmSerial(m: m, n: n, k: k, a: a, rsA: rsA, csA: csA, b: .stored(b, rs: rsB, cs: csB),
                   c: c, ldc: ldc, accumulate: accumulate || seeded, scratch: .current, path: path)
        return
    }
    // Split the larger output dimension; keep chunks aligned to the micro-tile. (Splitting
    // columns whenever A is read in place, so that no thread packs B columns it does not use,
    // measured slower at the baby shapes, where n is only 128 to 512.)
    pool.parallelFor(parts, GEMMSplit(m: m, n: n, k: k, a: a, rsA: rsA, csA: csA, b: b, rsB: rsB, csB: csB,
                                      c: c, ldc: ldc, accumulate: accumulate, bias: seeded ? bias : nil,
                                      parts: parts, splitRows: m >= n, path: path))
}

/// One thread's share of a product split over the pool: a block of rows or of columns of C.
struct GEMMSplit<BElement: GEMMElement>: ParallelJob {
    let m: Int, n: Int, k: Int
    let a: UnsafePointer<Float>, rsA: Int, csA: Int
    let b: UnsafePointer<BElement>, rsB: Int, csB: Int
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let accumulate: Bool
    /// Seeds this thread's block of C before accumulating into it.
    let bias: UnsafePointer<Float>?
    let parts: Int, splitRows: Bool
    let path: GEMMPath

    func run(task part: Int, worker: Int) {
        let scratch = PackScratch.current
        if splitRows {
            let r = chunk(part, of: parts, count: m, granule: path.panelHeight)
            if r.isEmpty { return }
            if bias != nil { fillRows(c, ldc: ldc, rows: r, columns: 0..<n, bias: bias) }
            gemmSerial(m: r.count, n: n, k: k, a: a + r.lowerBound * rsA, rsA: rsA, csA: csA,
                       b: .stored(b, rs: rsB, cs: csB), c: c + r.lowerBound * ldc, ldc: ldc,
                       accumulate: accumulate || bias != nil, scratch: scratch, path: path)
        } else {
            let r = chunk(part, of: parts, count: n, granule: path.panelWidth)
            if r.isEmpty { return }
            if bias != nil { fillRows(c, ldc: ldc, rows: 0..<m, columns: r, bias: bias) }
            gemmSerial(m: m, n: r.count, k: k, a: a, rsA: rsA, csA: csA,
                       b: .stored(b + r.lowerBound * csB, rs: rsB, cs: csB), c: c + r.lowerBound, ldc: ldc,
                       accumulate: accumulate || bias != nil, scratch: scratch, path: path)
        }
    }
}

/// C[rows, columns] = bias[columns] broadcast over the rows, or 0 without a bias.
func fillRows(_ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Range<Int>, columns: Range<Int>, bias: UnsafePointer<Float>?) {
    for i in rows {
        let row = c + i * ldc + columns.lowerBound
        if let bias { row.update(from: bias + columns.lowerBound, count: columns.count) } else { row.update(repeating: 0, count: columns.count) }
    }
}

/// Where a product's B comes from: storage (element (p, j) at `pointer[p*rs + j*cs]`) or Q8_0
/// rows (element (p, j) is weight row j, step p), packed block by block into the thread's
/// scratch as the product goes, or panels packed beforehand.
enum BOperand<Element: GEMMElement> {
    case stored(UnsafePointer<Element>, rs: Int, cs: Int)
    case quantized(Q8Matrix)
    case packed(PackedOperand)
}

/// The serial product on the path chosen for it.
func gemmSerial<BElement: GEMMElement>(m: Int, n: Int, k: Int,
                a: UnsafePointer<Float>, rsA: Int, csA: Int, b: BOperand<BElement>,
                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, scratch: PackScratch,
                path: GEMMPath) {
    switch path {
    case .float32(let kernel):
        gemmSerial(m: m, n: n, k: k, a: a, rsA: rsA, csA: csA, b: b,
                   c: c, ldc: ldc, accumulate: accumulate, scratch: scratch, kernel: kernel)
    case .bfloat16(.amx), .modeledTiles:
        // The tile kernel packs B its own way (pairs padded to 16); an operand packed
        // beforehand goes to the `vdpbf16ps` kernel.
        if case .stored(let pointer, let rsB, let csB) = b {
            var modeled: Int32 = 0
            if case .modeledTiles = path { modeled = 1 }
            gemmSerialAMX(m: m, n: n, k: k, a: a, rsA: rsA, csA: csA, b: pointer, rsB: rsB, csB: csB,
                          c: c, ldc: ldc, accumulate: accumulate, scratch: scratch, modeled: modeled)
        } else {
            gemmSerialBF16(m: m, n: n, k: k, a: a, rsA: rsA, csA: csA, b: b,
                           c: c, ldc: ldc, accumulate: accumulate, scratch: scratch)
        }
    case .bfloat16(.avx512bf16):
        gemmSerialBF16(m: m, n: n, k: k, a: a, rsA: rsA, csA: csA, b: b,
                       c: c, ldc: ldc, accumulate: accumulate, scratch: scratch)
    }
}

func gemmSerial<BElement: GEMMElement>(m: Int, n: Int, k: Int,
                a: UnsafePointer<Float>, rsA: Int, csA: Int, b: BOperand<BElement>,
                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, scratch: PackScratch,
                kernel: GEMMKernel) {
    let MR = kernel.panelHeight, NR = kernel.panelWidth
    // A row-major A (csA == 1) is read in place by the micro-kernel, six rows at a time: only a
    // partial panel at the bottom edge is packed (zero-padded). A transposed A is packed, since
    // its rows would be strided gathers.
    let inPlaceA = csA == 1
    var jc = 0
    while jc < n {
        let nc = GEMMBlocking.columnBlock(n - jc)
        var pc = 0
        while pc < k {
            let kc = min(GEMMBlocking.kc, k - pc)
            let bBlock: UnsafePointer<Float>, panelStride: Int
            switch b {
            case .stored(let pointer, let rsB, let csB):
                packB(kc: kc, nc: nc, panelWidth: NR, b: pointer + pc * rsB + jc * csB, rsB: rsB, csB: csB, into: scratch.b)
                (bBlock, panelStride) = (UnsafePointer(scratch.b), kc * NR)
            case .quantized(let q):
                var j = 0
                while j < nc {
                    let row = jc + j
                    cllm_pack_b_q8(kc, min(NR, nc - j), NR, q.quants + row * q.columns + pc, q.columns,
                                   q.scales + row * q.blocksPerRow + pc / 32, q.blocksPerRow, scratch.b + j * kc)
                    j += NR
                }
                (bBlock, panelStride) = (UnsafePointer(scratch.b), kc * NR)
            case .packed(let operand):
                let block = operand.panels(depth: pc, column: jc)
                (bBlock, panelStride) = (UnsafePointer(block.pointer.assumingMemoryBound(to: Float.self)), block.panelStride)
            }
            let add = accumulate || pc > 0
            var ic = 0
            while ic < m {
                let mc = min(GEMMBlocking.mc, m - ic)
                let aBlock = a + ic * rsA + pc * csA
                let fullPanels = inPlaceA ? mc / MR * MR : 0
                if fullPanels < mc {
                    packA(mc: mc - fullPanels, kc: kc, panelHeight: MR, a: aBlock + fullPanels * rsA, rsA: rsA, csA: csA,
                          into: scratch.a)
                }
                var jr = 0
                while jr < nc {
                    let nr = min(NR, nc - jr)
                    let bp = bBlock + jr / NR * panelStride
                    var ir = 0
                    while ir < mc {
                        let mr = min(MR, mc - ir)
                        let cp = c + (ic + ir) * ldc + jc + jr
                        if ir < fullPanels {
                            let ap = aBlock + ir * rsA
                            if kernel == .avx512 {
                                cllm_sgemm_8x32_rows_avx512(kc, ap, rsA, bp, cp, ldc, add ? 1 : 0, Int32(nr))
                            } else if nr == NR {
                                microKernel6x16Rows(kc: kc, a: ap, lda: rsA, b: bp, c: cp, ldc: ldc, accumulate: add)
                            } else {
                                microKernelEdge(kc: kc, a: ap, lda: rsA, b: bp, c: cp, ldc: ldc, rows: mr, cols: nr, accumulate: add)
                            }
                        } else {
                            let ap = UnsafePointer(scratch.a + (ir - fullPanels) * kc)  // panels of MR·kc floats
                            if kernel == .avx512 {
                                cllm_sgemm_8x32_avx512(kc, ap, bp, cp, ldc, add ? 1 : 0, Int32(mr), Int32(nr))
                            } else if mr == MR && nr == NR {
                                microKernel6x16Packed(kc: kc, a: ap, b: bp, c: cp, ldc: ldc, accumulate: add)
                            } else {
                                microKernelEdge(kc: kc, a: ap, b: bp, c: cp, ldc: ldc, rows: mr, cols: nr, accumulate: add)
                            }
                        }
                        ir += MR
                    }
                    jr += NR
                }
                ic += GEMMBlocking.mc
            }
            pc += GEMMBlocking.kc
        }
        jc += nc
    }
}
