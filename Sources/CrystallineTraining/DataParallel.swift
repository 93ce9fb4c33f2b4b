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
}

/// How a data-parallel trainer reduces its gradients.
public struct GradientReduction: Sendable, Equatable {
    /// Start each bucket's sum during the backward pass (as PyTorch DDP does) rather than one
    /// sum of all gradients after it.
    public var overlap: Bool
    /// Bucket size in bytes (DDP's default is 25 MiB).
    public var bucketBytes: Int

    public init(overlap: Bool = true, bucketBytes: Int = 25 << 20) {
        self.overlap = overlap
        self.bucketBytes = bucketBytes
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
