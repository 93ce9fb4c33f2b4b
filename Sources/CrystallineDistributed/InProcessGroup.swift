// A data-parallel group of threads in one process: the reference the MPI transport is tested
// against, and a way to test data-parallel training where MPI is not installed.
import Foundation
import CrystallineTraining

/// What the threads of a group share: the buffers of the reduction in progress and a barrier.
public final class InProcessHub: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    private var slots: [UnsafeMutableRawPointer?]
    private var count = 0

    public init(size: Int) {
        precondition(size >= 1)
        self.size = size
        slots = Array(repeating: nil, count: size)
    }

    /// The member of rank `rank`; use each from its own thread.
    public func member(_ rank: Int) -> InProcessGroup { InProcessGroup(hub: self, rank: rank) }

    func barrier() {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
    }

    /// Every member publishes a pointer; returns all of them once every member has.
    func share(_ rank: Int, _ pointer: UnsafeMutableRawPointer?) -> [UnsafeMutableRawPointer?] {
        condition.lock()
        slots[rank] = pointer
        condition.unlock()
        barrier()
        return slots
    }

    /// Every member calls this with its buffer; each then combines its own slice of the
    /// elements across all buffers, in rank order, and writes the result into all of them, so
    /// every member ends with the identical result.
    func reduce<T>(_ rank: Int, _ buffer: UnsafeMutablePointer<T>, count n: Int, combine: (T, T) -> T) {
        condition.withLock { count = n }
        let buffers = share(rank, UnsafeMutableRawPointer(buffer)).map { $0!.assumingMemoryBound(to: T.self) }
        precondition(count == n, "members of a group reduced buffers of different sizes")
        let per = (n + size - 1) / size
        for i in min(n, rank * per)..<min(n, (rank + 1) * per) {
            var acc = buffers[0][i]
            for r in 1..<size { acc = combine(acc, buffers[r][i]) }
            for r in 0..<size { buffers[r][i] = acc }
        }
        barrier()
    }
}

public final class InProcessGroup: DataParallelGroup {
    public let rank: Int
    public var size: Int { hub.size }
    let hub: InProcessHub

    init(hub: InProcessHub, rank: Int) {
        self.hub = hub
        self.rank = rank
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        hub.reduce(rank, buffer.baseAddress!, count: buffer.count, combine: +)
    }

    public func allReduce(_ values: inout [Double], maximum: Bool) throws {
        values.withUnsafeMutableBufferPointer { v in
            hub.reduce(rank, v.baseAddress!, count: v.count, combine: maximum ? { Swift.max($0, $1) } : { $0 + $1 })
        }
    }

    /// Threads have no non-blocking collectives: the sum happens now.
    public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { try allReduceSum(buffer) }
    public func pollReductions() throws {}
    public func finishReductions() throws {}

    public func reduceScatterSum(_ input: UnsafeMutableBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>, shards: Shards) throws {
        let inputs = hub.share(rank, UnsafeMutableRawPointer(input.baseAddress)).map { $0!.assumingMemoryBound(to: Float.self) }
        for (j, i) in shards.range(rank).enumerated() {
            var acc = inputs[0][i]
            for r in 1..<size { acc += inputs[r][i] }
            output[j] = acc
        }
        hub.barrier()
    }

    public func allGather(_ buffer: UnsafeMutableBufferPointer<Float>, shards: Shards) throws {
        let buffers = hub.share(rank, UnsafeMutableRawPointer(buffer.baseAddress)).map { $0!.assumingMemoryBound(to: Float.self) }
        for r in 0..<size where r != rank {
            let block = shards.range(r)
            (buffer.baseAddress! + block.lowerBound).update(from: buffers[r] + block.lowerBound, count: block.count)
        }
        hub.barrier()
    }

    public func gather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>?, shards: Shards, root: Int) throws {
        let inputs = hub.share(rank, UnsafeMutableRawPointer(mutating: input.baseAddress)).map { $0?.assumingMemoryBound(to: Float.self) }
        if rank == root, let output {
            for r in 0..<size where shards.counts[r] > 0 {
                (output.baseAddress! + shards.displacements[r]).update(from: inputs[r]!, count: shards.counts[r])
            }
        }
        hub.barrier()
    }
}
