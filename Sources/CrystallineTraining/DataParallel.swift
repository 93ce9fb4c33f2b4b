// Data parallelism as the trainer sees it: a group of processes that sum buffers, and the
// bucketing that starts summing each layer's gradients as soon as the backward pass has
// finished with them. The transport (MPI, or threads in a test) lives in CrystallineDistributed;
// the trainer only knows this protocol, so a second transport needs no change here.
import CrystallineModel

/// The processes of a data-parallel run. Every process calls the same reductions in the same
/// order; each gets the identical result (so parameters stay bitwise equal across processes).
public protocol DataParallelGroup: AnyObject {
    /// This process's index, 0..<size; rank 0 is the primary, the only one that writes files.
    var rank: Int { get }
    var size: Int { get }
    /// buffer[i] = Σ over processes of buffer[i], in place.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// values[i] = Σ (or max) over processes of values[i]: losses, counts, checksums.
    func allReduce(_ values: inout [Double], maximum: Bool) throws
    /// Starts an in-place sum of `buffer`, which must stay untouched until `finishReductions()`.
    func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Lets started sums make progress (MPI advances non-blocking collectives inside its calls).
    func pollReductions() throws
    /// Waits for every started sum.
    func finishReductions() throws
    /// The sharded optimizer's three collectives (ZeRO-1). `output` = this process's block of
    /// the sum over processes of `input`.
    func reduceScatterSum(_ input: UnsafeMutableBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>, shards: Shards) throws
    /// Every process's block of `buffer` (already in place) to every process.
    func allGather(_ buffer: UnsafeMutableBufferPointer<Float>, shards: Shards) throws
    /// Every process's block (`input`) into `output` on `root`; `output` is nil elsewhere.
    func gather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>?, shards: Shards, root: Int) throws
}

extension DataParallelGroup {
    /// The sum (or max) over processes of one value.
    public func allReduce(_ value: Double, maximum: Bool = false) throws -> Double {
        var values = [value]
        try allReduce(&values, maximum: maximum)
        return values[0]
    }
}

/// A flat buffer cut into one contiguous block per process (the last may be shorter or empty).
public struct Shards: Sendable, Equatable {
    public let counts: [Int]
    public let displacements: [Int]

    public init(total: Int, parts: Int) {
        let block = (total + parts - 1) / parts
        displacements = (0..<parts).map { min(total, $0 * block) }
        counts = (0..<parts).map { min(total, ($0 + 1) * block) - min(total, $0 * block) }
    }

    public func range(_ rank: Int) -> Range<Int> { displacements[rank]..<(displacements[rank] + counts[rank]) }
}

/// How a data-parallel trainer reduces its gradients.
public struct GradientReduction: Sendable, Equatable {
    /// Start each bucket's sum during the backward pass (as PyTorch DDP does) rather than one
    /// sum of all gradients after it.
    public var overlap: Bool
    /// Bucket size in bytes (DDP's default is 25 MiB).
    public var bucketBytes: Int

    /// ZeRO stage 1: each process keeps and updates only its block of the optimizer moments;
    /// gradients are reduce-scattered (each process receives the sum of its block) and the
    /// updated parameters all-gathered. The same bytes on the wire as an all-reduce; the
    /// moments take 1/N of the memory. Not overlapped with the backward pass.
    public var shardOptimizer: Bool

    public init(overlap: Bool = true, bucketBytes: Int = 25 << 20, shardOptimizer: Bool = false) {
        self.overlap = overlap
        self.bucketBytes = bucketBytes
        self.shardOptimizer = shardOptimizer
    }
}

/// Groups the gradient ranges the backward pass reports as final into buckets of at least
/// `bucketBytes` and starts each bucket's sum when it fills. The ranges arrive from the end of
/// the parameter layout towards its start, each adjacent to the previous, so a bucket is one
/// contiguous range.
final class GradientBuckets {
    let group: any DataParallelGroup
    let gradients: UnsafeMutablePointer<Float>
    let bucketElements: Int
    private var pending: Range<Int>?
    private(set) var started = 0

    init(group: any DataParallelGroup, gradients: UnsafeMutablePointer<Float>, bucketBytes: Int) {
        self.group = group
        self.gradients = gradients
        bucketElements = max(1, bucketBytes / MemoryLayout<Float>.stride)
    }

    /// A range is final: add it to the open bucket, start the bucket when it is full, and give
    /// earlier buckets a chance to progress. Errors are kept for `finish()`.
    func ready(_ range: Range<Int>) {
        guard error == nil else { return }
        if let p = pending {
            precondition(range.upperBound == p.lowerBound, "gradient ranges must arrive from the end of the layout")
            pending = range.lowerBound..<p.upperBound
        } else {
            pending = range
        }
        do {
            if let p = pending, p.count >= bucketElements { try start(p) }
            if started > 0 { try group.pollReductions() }
        } catch { self.error = error }
    }

    private var error: Error?

    private func start(_ range: Range<Int>) throws {
        try group.startAllReduceSum(UnsafeMutableBufferPointer(start: gradients + range.lowerBound, count: range.count))
        started += 1
        pending = nil
    }

    /// Starts the last, partly filled bucket and waits for all of them.
    func finish() throws {
        if let error { throw error }
        if let p = pending { try start(p) }
        try group.finishReductions()
        started = 0
    }
}

/// Which micro-batches of a global batch a process computes: the batch is drawn exactly as
/// one process with `grad_accum` micro-batches would draw it, and process r takes the r-th
/// block of `grad_accum / size` consecutive micro-batches.
public struct MicroBatchShare: Sendable, Equatable {
    public let rank: Int, size: Int, microBatches: Int

    public init(rank: Int, size: Int, microBatches: Int) throws {
        guard size >= 1, (0..<size).contains(rank) else { throw TrainingError.invalidConfig("rank \(rank) is not in 0..<\(size)") }
        guard microBatches % size == 0 else {
            throw TrainingError.invalidConfig("grad_accum \(microBatches) is not a multiple of the \(size) processes; each must take the same number of micro-batches (use --grad-accum \(max(size, microBatches / size * size)))")
        }
        self.rank = rank
        self.size = size
        self.microBatches = microBatches
    }

    /// Micro-batches per process.
    public var perProcess: Int { microBatches / size }
    /// Whether micro-batch `index` (0..<microBatches) is this process's.
    public func owns(_ index: Int) -> Bool { index / perProcess == rank }
    /// Whether micro-batch `index` is the last one this process computes in a step.
    public func isLastOwned(_ index: Int) -> Bool { index == (rank + 1) * perProcess - 1 }
}
