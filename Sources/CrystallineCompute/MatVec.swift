// Matrix–vector products for generation, where every weight is read once per token and the
// speed is that of memory. A thread reads its share of the weights fastest as one contiguous
// stretch read front to back (one stream for the hardware prefetcher, plus a software prefetch
// ahead of it): so the mat-vecs split the *inputs* (whole rows of W) over the pool and sum the
// threads' partial vectors, the row dots of the LM head split the rows, and every kernel walks
// its weights in memory order (bf16 widened in registers or multiplied by `vdpbf16ps`).
import CKernels

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
/// `vdpbf16ps`: x is rounded to bfloat16, products accumulate in float32. The pairs of input
/// rows are split over the pool (each thread one contiguous run, summed into its own vector of
/// `partials`) unless `parallel` is false.
public func matVec(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: PairedBF16Matrix,
                   bias b: UnsafePointer<Float>, partials: MatVecPartials, parallel: Bool = true) {
    let pairs = (w.rows + 1) / 2
    splitInputs(y, bias: b, units: pairs, outputs: w.columns, partials: partials, parallel: parallel && w.rows * w.columns >= 1 << 16,
                PairedMatVecJob(x: x, w: w))
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

/// Pairs of input rows `pairs` of x·W on a paired matrix, added to `out`.
struct PairedMatVecJob: InputRangeJob {
    let x: UnsafePointer<Float>, w: PairedBF16Matrix
    func run(_ pairs: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let first = 2 * pairs.lowerBound
        cllm_matvec_bf16_pairs(pairs.count, w.columns, x + first, w.rows - first, w.slots + pairs.lowerBound * w.stride, w.stride, out)
    }
}

/// Room for the partial sums of `matVec(_:_:_:bias:inputs:outputs:partials:parallel:)`: one
/// vector of up to `outputs` values per pool thread after the first. Owned by one caller (one
/// session), like any scratch.
public final class MatVecPartials: @unchecked Sendable {
    public let outputs: Int
    let parts: Int
    let storage: UnsafeMutablePointer<Float>

    public init(outputs: Int, threads: Int = ThreadPool.shared.threadCount) {
        self.outputs = outputs
        parts = max(1, threads)
        storage = .allocate(capacity: max(1, (parts - 1) * outputs))
    }
    deinit { storage.deallocate() }
}

/// y[OC] = x[IC]·W[IC,OC] + b, W row-major in float32 or bfloat16, with the *inputs* split over
/// the pool: each thread takes a run of whole rows of W, one contiguous stretch of memory, and
/// sums into its own vector of `partials`; the caller adds the vectors. (Splitting the columns
/// instead gives every thread many short stretches, which DRAM serves more slowly: on Zen 4 the
/// shakespeare-size fp32 session went from 435 to 635 tokens/s, docs/PERFORMANCE.md.) The sums
/// run in a different order than a serial product's, so the last bits depend on the split.
/// `parallel: false` keeps it on the calling thread (a server generating beside a training run).
public func matVec<W: GEMMElement>(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<W>,
                                   bias b: UnsafePointer<Float>, inputs IC: Int, outputs OC: Int,
                                   partials: MatVecPartials, parallel: Bool = true) {
    splitInputs(y, bias: b, units: IC, outputs: OC, partials: partials, parallel: parallel && IC * OC >= 1 << 16,
                RowsMatVecJob(x: x, w: w, OC: OC))
}

/// Rows `rows` of x·W, added to `out`.
struct RowsMatVecJob<W: GEMMElement>: InputRangeJob {
    let x: UnsafePointer<Float>, w: UnsafePointer<W>, OC: Int
    func run(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let first = rows.lowerBound
        if W.self == Float.self {
            let wf = UnsafeRawPointer(w).assumingMemoryBound(to: Float.self)
            cllm_matvec_f32(rows.count, OC, x + first, wf + first * OC, OC, out)
        } else {
            let wb = UnsafeRawPointer(w).assumingMemoryBound(to: UInt16.self)
            cllm_matvec_bf16(rows.count, OC, x + first, wb + first * OC, OC, out)
        }
    }
}

/// A mat-vec over a range of its inputs (rows of W, or pairs of them), summing into `out`.
protocol InputRangeJob {
    func run(_ inputs: Range<Int>, into out: UnsafeMutablePointer<Float>)
}

/// y = bias + Σ over the input units of `job`, the units split into one contiguous range per
/// pool thread: thread 0 sums into y, thread t into partial vector t, then the caller adds them.
func splitInputs<Job: InputRangeJob>(_ y: UnsafeMutablePointer<Float>, bias b: UnsafePointer<Float>, units: Int, outputs OC: Int,
                                     partials: MatVecPartials, parallel: Bool, _ job: Job) {
    precondition(OC <= partials.outputs, "MatVecPartials holds \(partials.outputs) outputs, not \(OC)")
    let pool = ThreadPool.shared
    let parts = parallel ? min(pool.threadCount, partials.parts, max(1, units / 4)) : 1
    let split = InputSplit(job: job, y: y, b: b, units: units, OC: OC, parts: parts, partials: partials.storage)
    if parts == 1 { split.run(task: 0, worker: 0); return }
    pool.parallelFor(parts, split)
    for part in 1..<parts { addInPlace(y, partials.storage + (part - 1) * OC, OC) }
}

/// Task t of `splitInputs`: its range of units into y (task 0, which starts from the bias) or into
/// partial vector t (which starts from zero).
struct InputSplit<Job: InputRangeJob>: ParallelJob {
    let job: Job, y: UnsafeMutablePointer<Float>, b: UnsafePointer<Float>
    let units: Int, OC: Int, parts: Int, partials: UnsafeMutablePointer<Float>
    func run(task: Int, worker: Int) {
        let range = chunk(task, of: parts, count: units, granule: 4)
        let out = task == 0 ? y : partials + (task - 1) * OC
        if task == 0 { out.update(from: b, count: OC) } else { out.update(repeating: 0, count: OC) }
        if !range.isEmpty { job.run(range, into: out) }
    }
}
