// Matrix–vector products for generation, where every weight is read once per token and the
// speed is that of memory: the C kernels stream four weight rows per pass (bf16 widened in
// registers), and the columns are split over the pool.
import CKernels

/// y[OC] = x[IC]·W[IC,OC] + b, W row-major in float32 or bfloat16.
@inlinable
/// `parallel: false` keeps it on the calling thread (a server generating beside a training run).
public func matVec<W: GEMMElement>(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<W>,
                                   bias b: UnsafePointer<Float>, inputs IC: Int, outputs OC: Int, parallel: Bool = true) {
    parallelRanges(OC, granule: 8, minimumParallel: parallel && IC * OC >= 1 << 16 ? 1 : OC + 1,
                   MatVecJob(y: y, x: x, w: w, b: b, IC: IC, OC: OC))
}

/// out[v] = x · rows[v] for v in 0..<count: the tied LM head (rows are the token embeddings).
@inlinable
public func rowDots<W: GEMMElement>(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: UnsafePointer<W>,
                                    count V: Int, width C: Int, parallel: Bool = true) {
    parallelRanges(V, granule: 4, minimumParallel: parallel && V * C >= 1 << 16 ? 1 : V + 1, RowDotsJob(out: out, x: x, rows: rows, C: C))
}

/// out[v] = bf16(x) · rows[v] on the CPU's `vdpbf16ps` (x rounded to bfloat16, float32 sums):
/// the head of a session whose products round their inputs. Needs `BF16GEMMKernel.active` and
/// an even width of at most 8192.
public func rowDotsBF16Products(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: UnsafePointer<BFloat16>,
                                count V: Int, width C: Int, parallel: Bool = true) {
    precondition(C % 2 == 0 && C <= 8192, "rowDotsBF16Products needs an even width of at most 8192")
    parallelRanges(V, granule: 4, minimumParallel: parallel && V * C >= 1 << 16 ? 1 : V + 1,
                   PairedRowDotsJob(out: out, x: x, rows: UnsafeRawPointer(rows).assumingMemoryBound(to: UInt16.self), C: C))
}

struct PairedRowDotsJob: RangeJob {
    let out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: UnsafePointer<UInt16>, C: Int
    func run(_ range: Range<Int>) {
        cllm_row_dots_bf16_pairs(range.count, C, x, rows + range.lowerBound * C, out + range.lowerBound)
    }
}

/// Columns `cols` of y = x·W + b.
@usableFromInline
struct MatVecJob<W: GEMMElement>: RangeJob {
    @usableFromInline let y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<W>, b: UnsafePointer<Float>
    @usableFromInline let IC: Int, OC: Int
    @usableFromInline init(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<W>, b: UnsafePointer<Float>, IC: Int, OC: Int) {
        self.y = y; self.x = x; self.w = w; self.b = b; self.IC = IC; self.OC = OC
    }
    @inlinable func run(_ cols: Range<Int>) {
        let y0 = y + cols.lowerBound, n = cols.count
        y0.update(from: b + cols.lowerBound, count: n)
        if W.self == Float.self {
            let wf = UnsafeRawPointer(w).assumingMemoryBound(to: Float.self)
            cllm_matvec_f32(IC, n, x, wf + cols.lowerBound, OC, y0)
        } else {
            let wb = UnsafeRawPointer(w).assumingMemoryBound(to: UInt16.self)
            cllm_matvec_bf16(IC, n, x, wb + cols.lowerBound, OC, y0)
        }
    }
}

/// Entries `range` of out[v] = x · rows[v].
@usableFromInline
struct RowDotsJob<W: GEMMElement>: RangeJob {
    @usableFromInline let out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: UnsafePointer<W>, C: Int
    @usableFromInline init(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: UnsafePointer<W>, C: Int) {
        self.out = out; self.x = x; self.rows = rows; self.C = C
    }
    @inlinable func run(_ range: Range<Int>) {
        let first = range.lowerBound
        if W.self == Float.self {
            let wf = UnsafeRawPointer(rows).assumingMemoryBound(to: Float.self)
            cllm_row_dots_f32(range.count, C, x, wf + first * C, out + first)
        } else {
            let wb = UnsafeRawPointer(rows).assumingMemoryBound(to: UInt16.self)
            cllm_row_dots_bf16(range.count, C, x, wb + first * C, out + first)
        }
    }
}

/// y[OC] = x[IC]·W + b with W in pair-interleaved bfloat16 (`PairedBF16Matrix`), on the CPU's
/// `vdpbf16ps`: x is rounded to bfloat16, products accumulate in float32. Columns are split
/// over the pool unless `parallel` is false.
public func matVec(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: PairedBF16Matrix,
                   bias b: UnsafePointer<Float>, parallel: Bool = true) {
    parallelRanges(w.columns, granule: 16, minimumParallel: parallel && w.rows * w.columns >= 1 << 16 ? 1 : w.columns + 1,
                   PairedMatVecJob(y: y, x: x, w: w, b: b))
}

/// A weight matrix [rows, columns] laid out for `vdpbf16ps`: per pair of rows, one 32-bit slot
/// per column holding both rows' bfloat16 values (the even row in the low half), rows of
/// `stride` slots. Made by `pack(_:)` from a row-major bfloat16 matrix.
public struct PairedBF16Matrix: @unchecked Sendable {
    public let slots: UnsafePointer<UInt32>
    public let rows: Int, columns: Int, stride: Int

    /// Slots `pack` needs for a rows×columns matrix.
    public static func slotCount(rows: Int, columns: Int) -> Int { (rows + 1) / 2 * paddedStride(columns) }
    static func paddedStride(_ columns: Int) -> Int { (columns + 15) / 16 * 16 }

    /// Packs row-major `source` into `destination` (`slotCount` slots). Needs AVX512_BF16
    /// (`BF16GEMMKernel.active`).
    public static func pack(_ source: UnsafePointer<BFloat16>, rows: Int, columns: Int,
                            into destination: UnsafeMutablePointer<UInt32>) -> PairedBF16Matrix {
        let stride = paddedStride(columns)
        let bits = UnsafeRawPointer(source).assumingMemoryBound(to: UInt16.self)
        cllm_pack_bf16_pairs_from_bf16(rows, columns, stride, bits, columns, 1, destination)
        return PairedBF16Matrix(slots: UnsafePointer(destination), rows: rows, columns: columns, stride: stride)
    }
}

/// Columns `cols` of y = x·W + b on a paired matrix.
struct PairedMatVecJob: RangeJob {
    let y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: PairedBF16Matrix, b: UnsafePointer<Float>
    func run(_ cols: Range<Int>) {
        let y0 = y + cols.lowerBound
        y0.update(from: b + cols.lowerBound, count: cols.count)
        cllm_matvec_bf16_pairs((w.rows + 1) / 2, cols.count, x, w.rows, w.slots + cols.lowerBound, w.stride, y0)
    }
}
