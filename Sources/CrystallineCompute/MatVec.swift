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
