// 8-bit weights for generation in GGML's Q8_0 format: blocks of 32 int8 values with one scale
// (fp16 in a GGUF file, kept here as the float it rounds to). The mat-vec quantizes its input
// the same way and sums each block's products exactly in integers, as llama.cpp does, so a
// model exported as GGUF Q8_0 computes the same numbers here and there.
import CKernels
import Foundation

/// The Q8_0 dot-product kernels, chosen at run time by CPUID.
///
/// `CLLM_Q8_KERNEL=avx2` picks the AVX2 kernel on a CPU that also has AVX512_VNNI.
public enum Q8Kernel: String, Sendable, CaseIterable {
    /// `vpmaddubsw` + `vpmaddwd`, one 32-value block per ymm (every x86-64-v3 CPU).
    case avx2
    /// `vpdpbusd`, two blocks per zmm (AVX512_VNNI: AMD Zen 4, Intel Ice Lake and later).
    case avx512vnni

    /// The kernels this CPU can run, slowest first.
    public static let available: [Q8Kernel] = cllm_cpu_has_avx512_vnni() != 0 ? [.avx2, .avx512vnni] : [.avx2]
    /// The kernel generation uses.
    public static let active: Q8Kernel = {
        if let name = ProcessInfo.processInfo.environment["CLLM_Q8_KERNEL"]?.lowercased(),
           let kernel = Q8Kernel(rawValue: name), available.contains(kernel) { return kernel }
        return available.last!
    }()

    /// out[r] = Σ blocks of `matrix` row r · `vector` (+ bias[r]) for rows `range`.
    func rowDots(_ matrix: Q8Matrix, _ vector: Q8Vector, rows range: Range<Int>, bias: UnsafePointer<Float>?,
                 into out: UnsafeMutablePointer<Float>) {
        let blocks = matrix.blocksPerRow, first = range.lowerBound
        let w = matrix.quants + first * matrix.columns, ws = matrix.scales + first * blocks
        let b = bias.map { $0 + first }
        switch self {
        case .avx2: cllm_q8_row_dots_avx2(range.count, blocks, vector.quants, vector.scales, w, ws, b, out + first)
        case .avx512vnni: cllm_q8_row_dots_avx512vnni(range.count, blocks, vector.quants, vector.scales, w, ws, b, out + first)
        }
    }
}

/// Quantizes `count` values (a multiple of 32) into Q8_0 blocks: `quants` gets `count` int8
/// values, `scales` one float per block (an fp16 value).
public func quantizeQ8_0(_ x: UnsafePointer<Float>, count: Int, quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
    precondition(count % 32 == 0, "Q8_0 quantizes blocks of 32 values")
    cllm_quantize_q8_0(count, x, quants, scales)
}

/// A matrix of `rows` × `columns` (a multiple of 32) in Q8_0 blocks, each row its own run of
/// blocks: the layout of a GGUF Q8_0 tensor with the block scales kept apart from the quants.
/// Row r is output r of a mat-vec (GGML's [out, in] order).
public struct Q8Matrix: @unchecked Sendable {
    public let quants: UnsafePointer<Int8>
    public let scales: UnsafePointer<Float>
    public let rows: Int, columns: Int
    public var blocksPerRow: Int { columns / 32 }

    /// Quantizes the matrix whose element (r, c) is `source[r·rowStride + c·columnStride]`
    /// (a weight stored [in, out] for x·W has rowStride 1 and columnStride out). Rows are
    /// split over the pool.
    public static func quantize(_ source: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int, columnStride: Int,
                                quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) -> Q8Matrix {
        precondition(columns % 32 == 0, "Q8_0 rows must hold a multiple of 32 values (\(columns))")
        parallelRanges(rows, minimumParallel: 64, QuantizeRowsJob(source: source, columns: columns, rowStride: rowStride, columnStride: columnStride,
                                             quants: quants, scales: scales))
        return Q8Matrix(quants: quants, scales: scales, rows: rows, columns: columns)
    }

    /// Row r's values as the blocks hold them (scale × quant).
    public func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        let q = quants + r * columns, s = scales + r * blocksPerRow
        for i in 0..<columns { out[i] = s[i / 32] * Float(q[i]) }
    }
}

struct QuantizeRowsJob: RangeJob {
    let source: UnsafePointer<Float>, columns: Int, rowStride: Int, columnStride: Int
    let quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>
    func run(_ range: Range<Int>) {
        let row = UnsafeMutablePointer<Float>.allocate(capacity: columns)
        defer { row.deallocate() }
        for r in range {
            for c in 0..<columns { row[c] = source[r * rowStride + c * columnStride] }
            cllm_quantize_q8_0(columns, row, quants + r * columns, scales + r * columns / 32)
        }
    }
}

/// A vector quantized to Q8_0 for `matVec(_:_:_:)`: scratch owned by one caller (one session),
/// with room for `capacity` values.
public final class Q8Vector: @unchecked Sendable {
    public let capacity: Int
    let quants: UnsafeMutablePointer<Int8>
    let scales: UnsafeMutablePointer<Float>

    public init(capacity: Int) {
        self.capacity = capacity
        quants = .allocate(capacity: max(32, capacity))
        scales = .allocate(capacity: max(1, capacity / 32))
    }
    deinit { quants.deallocate(); scales.deallocate() }

    /// Quantizes x[0..<count] into the scratch.
    public func set(_ x: UnsafePointer<Float>, count: Int) {
        precondition(count <= capacity)
        quantizeQ8_0(x, count: count, quants: quants, scales: scales)
    }
}

/// y[rows] = W·q8(x) + b for a Q8_0 matrix: x (`w.columns` values) is quantized into `scratch`
/// first, then the rows are split over the pool unless `parallel` is false.
public func matVec(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: Q8Matrix, bias: UnsafePointer<Float>?,
                   scratch: Q8Vector, parallel: Bool = true, kernel: Q8Kernel = .active) {
    scratch.set(x, count: w.columns)
    parallelRanges(w.rows, granule: 16, minimumParallel: parallel && w.rows * w.columns >= 1 << 16 ? 1 : w.rows + 1,
                   Q8MatVecJob(y: y, w: w, x: scratch, bias: bias, kernel: kernel))
}

struct Q8MatVecJob: RangeJob {
    let y: UnsafeMutablePointer<Float>, w: Q8Matrix, x: Q8Vector, bias: UnsafePointer<Float>?, kernel: Q8Kernel
    func run(_ rows: Range<Int>) { kernel.rowDots(w, x, rows: rows, bias: bias, into: y) }
}
