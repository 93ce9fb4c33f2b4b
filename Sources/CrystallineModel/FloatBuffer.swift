// A fixed-size, zero-initialised, heap-allocated Float array with a stable address.
//
// Kernels take its pointer directly; unlike [Float] it is never copied on write, so holding
// it in several places costs nothing and no hot loop pays for uniqueness checks.
import CrystallineCompute

public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }

    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    public func zero() {
        parallelRanges(count, granule: 1024, minimumParallel: 1 << 16, ZeroJob(x: pointer))
    }
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    public func slice(_ offset: Int, _ n: Int) -> [Float] { Array(UnsafeBufferPointer(start: pointer + offset, count: n)) }
    public func copy(from other: FloatBuffer) { pointer.update(from: other.pointer, count: min(count, other.count)) }
    public func load(_ values: [Float], at offset: Int = 0) {
        values.withUnsafeBufferPointer { (pointer + offset).update(from: $0.baseAddress!, count: values.count) }
    }
}

/// x[range] = 0.
struct ZeroJob: RangeJob {
    let x: UnsafeMutablePointer<Float>
    func run(_ r: Range<Int>) { (x + r.lowerBound).update(repeating: 0, count: r.count) }
}
