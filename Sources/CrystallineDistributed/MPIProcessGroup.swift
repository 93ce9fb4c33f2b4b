// The processes of an MPI job as a `DataParallelGroup`: sums over MPI_COMM_WORLD, blocking or
// started during the backward pass, optionally with gradients sent as bfloat16.
import Foundation
import CMPILoader
import CrystallineCompute
import CrystallineTraining

/// How gradients travel between processes.
public enum GradientWire: String, Sendable, CaseIterable {
    /// float32: the sum is what one process accumulating every micro-batch would get, up to
    /// the order of additions.
    case fp32
    /// bfloat16: half the bytes; each process's gradient is rounded to bf16 and every addition
    /// of the reduction rounds again (an error of about 2^-8 relative per hop).
    case bf16
}

public final class MPIProcessGroup: DataParallelGroup {
    public let rank: Int
    public let size: Int
    public let wire: GradientWire
    /// "Open MPI v4.1.4" or "MPICH Version: 4.0.2": MPI_Get_library_version's first line.
    public let libraryVersion: String
    /// The shared object that was loaded.
    public let libraryName: String

    private struct Started {
        var request: UInt64
        let target: UnsafeMutableBufferPointer<Float>
        /// The bf16 copy on the wire (bf16 only); widened into `target` when finished.
        let wireOffset: Int?
    }
    private var started: [Started] = []
    /// bf16 copies of buckets in flight, reused from step to step.
    private var wireBuffer = UnsafeMutableBufferPointer<UInt16>(start: nil, count: 0)
    private var wireUsed = 0
    private var finalized = false

    /// Loads the MPI library (`CLLM_MPI_LIBRARY` names one explicitly) and initialises MPI.
    /// Call once per process, when `MPIEnvironment.detect()` says the process was launched by MPI.
    public init(wire: GradientWire = .fp32, library: String? = ProcessInfo.processInfo.environment["CLLM_MPI_LIBRARY"]) throws {
        var message = [CChar](repeating: 0, count: 1024)
        let abi = cllm_mpi_load(library, &message, message.count)
        guard abi != CLLM_MPI_NONE else { throw DistributedError(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        var rank: Int32 = 0, size: Int32 = 0
        try Self.check(cllm_mpi_init(&rank, &size), "MPI_Init_thread")
        self.rank = Int(rank)
        self.size = Int(size)
        self.wire = wire
        // MPICH says "MPICH Version:\t4.0.2": one space between words.
        libraryVersion = String(cString: cllm_mpi_library_version()).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        libraryName = String(cString: cllm_mpi_library_name())
    }

    deinit {
        finalize()
        wireBuffer.deallocate()
    }

    /// MPI_Finalize (once; after it no call may be made).
    public func finalize() {
        guard !finalized else { return }
        finalized = true
        _ = cllm_mpi_finalize()
    }

    /// Ends every process of the job (MPI_Abort): for an error on one rank that the others
    /// cannot know of and would wait for forever.
    public func abort(code: Int32) -> Never {
        _ = cllm_mpi_abort(code)
        exit(code)
    }

    public func barrier() throws { try Self.check(cllm_mpi_barrier(), "MPI_Barrier") }

    /// MPI_Wtime: seconds, for measurements that agree across ranks.
    public static var time: Double { cllm_mpi_wtime() }

    static func check(_ code: Int32, _ call: String) throws {
        guard code == 0 else {
            throw DistributedError("\(call) failed: \(String(cString: cllm_mpi_error_string(code))) (another process of the run may have died)")
        }
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard size > 1, buffer.count > 0 else { return }
        switch wire {
        case .fp32:
            try Self.check(cllm_mpi_allreduce(buffer.baseAddress, buffer.count, CLLM_MPI_FLOAT, CLLM_MPI_SUM), "MPI_Allreduce")
        case .bf16:
            let offset = try reserveWire(buffer)
            try Self.check(cllm_mpi_allreduce(wireBuffer.baseAddress! + offset, buffer.count, CLLM_MPI_UINT16, CLLM_MPI_BF16_SUM), "MPI_Allreduce")
            widen(offset, into: buffer)
            wireUsed -= buffer.count
        }
    }

    public func allReduce(_ values: inout [Double], maximum: Bool) throws {
        guard size > 1, !values.isEmpty else { return }
        try values.withUnsafeMutableBufferPointer { v in
            try Self.check(cllm_mpi_allreduce(v.baseAddress, v.count, CLLM_MPI_DOUBLE, maximum ? CLLM_MPI_MAX : CLLM_MPI_SUM), "MPI_Allreduce")
        }
    }

    public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard size > 1, buffer.count > 0 else { return }
        var request: UInt64 = 0
        switch wire {
        case .fp32:
            try Self.check(cllm_mpi_iallreduce(buffer.baseAddress, buffer.count, CLLM_MPI_FLOAT, CLLM_MPI_SUM, &request), "MPI_Iallreduce")
            started.append(Started(request: request, target: buffer, wireOffset: nil))
        case .bf16:
            let offset = try reserveWire(buffer)
            try Self.check(cllm_mpi_iallreduce(wireBuffer.baseAddress! + offset, buffer.count, CLLM_MPI_UINT16, CLLM_MPI_BF16_SUM, &request), "MPI_Iallreduce")
            started.append(Started(request: request, target: buffer, wireOffset: offset))
        }
    }

    public func pollReductions() throws {
        for i in started.indices where started[i].request != 0 {
            var done: Int32 = 0
            try Self.check(cllm_mpi_test(&started[i].request, &done), "MPI_Test")
            if done != 0 { complete(started[i]); started[i].request = 0 }
        }
    }

    public func finishReductions() throws {
        for i in started.indices where started[i].request != 0 {
            try Self.check(cllm_mpi_wait(&started[i].request), "MPI_Wait")
            complete(started[i])
        }
        started.removeAll(keepingCapacity: true)
        wireUsed = 0
    }

    public func reduceScatterSum(_ input: UnsafeMutableBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>, shards: Shards) throws {
        let counts = try Self.int32(shards.counts)
        try Self.check(cllm_mpi_reduce_scatter(input.baseAddress, output.baseAddress, counts, CLLM_MPI_FLOAT, CLLM_MPI_SUM), "MPI_Reduce_scatter")
    }

    public func allGather(_ buffer: UnsafeMutableBufferPointer<Float>, shards: Shards) throws {
        let counts = try Self.int32(shards.counts), displacements = try Self.int32(shards.displacements)
        try Self.check(cllm_mpi_allgatherv_in_place(buffer.baseAddress, counts, displacements, CLLM_MPI_FLOAT), "MPI_Allgatherv")
    }

    public func gather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>?, shards: Shards, root: Int) throws {
        let counts = try Self.int32(shards.counts), displacements = try Self.int32(shards.displacements)
        try Self.check(cllm_mpi_gatherv(input.baseAddress, Int32(shards.counts[rank]), output?.baseAddress, counts, displacements,
                                        CLLM_MPI_FLOAT, Int32(root)), "MPI_Gatherv")
    }

    /// MPI's counts are ints.
    static func int32(_ values: [Int]) throws -> [Int32] {
        guard values.allSatisfy({ $0 <= Int(Int32.max) }) else { throw DistributedError("a block of \(values.max()!) elements is more than MPI's counts can hold; use more processes") }
        return values.map { Int32($0) }
    }

    /// Copies `buffer` rounded to bf16 into the wire buffer; returns where. The buffer grows
    /// only in the first step (later steps send the same buckets); buckets in flight are
    /// finished first, since growing moves them.
    private func reserveWire(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> Int {
        if wireBuffer.count < wireUsed + buffer.count {
            try finishReductions()
            let grown = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: max(wireBuffer.count + buffer.count, 2 * wireBuffer.count))
            wireBuffer.deallocate()
            wireBuffer = grown
        }
        let offset = wireUsed
        for i in 0..<buffer.count { wireBuffer[offset + i] = BFloat16(buffer[i]).bits }
        wireUsed += buffer.count
        return offset
    }

    private func complete(_ s: Started) {
        if let offset = s.wireOffset { widen(offset, into: s.target) }
    }

    private func widen(_ offset: Int, into target: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<target.count { target[i] = Float(bitPattern: UInt32(wireBuffer[offset + i]) << 16) }
    }
}
