// Timing the gradient sum: what one all-reduce of a model's gradients costs on this group's
// transport, the input of the cost model in docs/DISTRIBUTED.md.
import Foundation
import CrystallineTraining

public enum AllReduceBenchmark {
    public struct Measurement: Codable, Sendable {
        public let name: String
        public let elements: Int
        public let bytes: Int
        /// Median seconds of one in-place sum over the group.
        public let seconds: Double
        /// bytes / seconds.
        public let algorithmBandwidth: Double
        /// 2(N−1)/N × bytes / seconds: what each link carries in a ring all-reduce, comparable
        /// across group sizes (NCCL's "bus bandwidth").
        public let busBandwidth: Double
    }

    /// Sums `elements` floats `repeats` times (after one warm-up) and reports the median; every
    /// rank must call it with the same arguments. Each repetition starts from a barrier, so a
    /// late rank does not count as transport time.
    public static func measure(_ group: MPIProcessGroup, name: String, elements: Int, repeats: Int) throws -> Measurement {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(elements, 1))
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1e-3)
        var times: [Double] = []
        for r in 0...repeats {
            try group.barrier()
            let start = MPIProcessGroup.time
            try group.allReduceSum(buffer)
            // The slowest rank's time is the step's.
            let t = try group.allReduce(MPIProcessGroup.time - start, maximum: true)
            if r > 0 { times.append(t) }
        }
        let median = times.sorted()[times.count / 2]
        let bytes = elements * (group.wire == .bf16 ? 2 : 4)
        let n = Double(group.size)
        return Measurement(name: name, elements: elements, bytes: bytes, seconds: median, algorithmBandwidth: Double(bytes) / median,
                           busBandwidth: 2 * (n - 1) / n * Double(bytes) / median)
    }
}
