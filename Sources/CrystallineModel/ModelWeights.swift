// Immutable model weights: what inference reads.
//
// A training workspace (`GPT`) owns parameters that the optimizer rewrites after every step, so
// nothing else may read them while a run goes on. `ModelWeights` is a copy that never changes
// once made: any number of inference sessions, on any threads, can read one set at once, and a
// server can keep serving the last snapshot of a model that is still being trained.
import CrystallineCompute

public final class ModelWeights: @unchecked Sendable {
    public let config: GPTConfig
    public let layout: ParameterLayout
    /// Storage of the weight matrices in the matrix products. With `.bf16` a bfloat16 copy
    /// feeds them (half the bytes per generated token); biases, LayerNorm and the float32
    /// values stay as they are.
    public let precision: Precision
    private let values: FloatBuffer
    private let values16: UnsafeMutablePointer<BFloat16>?
    /// Distances between positions for the attention bias (nil without one).
    let biasDistances: FloatBuffer?

    /// Copies `count` = `layout.totalCount` floats from `parameters`.
    public init(config: GPTConfig, parameters: UnsafePointer<Float>, precision: Precision = .fp32) throws {
        try config.validate()
        var c = config
        c.dropout = 0  // inference never drops
        self.config = c
        layout = ParameterLayout(config: c)
        self.precision = precision
        values = FloatBuffer(count: layout.totalCount)
        values.pointer.update(from: parameters, count: layout.totalCount)
        if precision == .bf16 {
            let w = UnsafeMutablePointer<BFloat16>.allocate(capacity: max(1, layout.totalCount))
            parallelRanges(layout.totalCount, RoundToBFloat16Job(source: values.pointer, destination: w))
            values16 = w
        } else {
            values16 = nil
        }
        biasDistances = LatticeFeatures.biasDistances(config: c)
    }

    /// Weights from a flat array in `layout` order.
    public static func from(config: GPTConfig, values: [Float], precision: Precision = .fp32) throws -> ModelWeights {
        let expected = ParameterLayout(config: config).totalCount
        guard values.count == expected else { throw ModelError.parameterCount(expected: expected, found: values.count) }
        return try values.withUnsafeBufferPointer { try ModelWeights(config: config, parameters: $0.baseAddress!, precision: precision) }
    }

    deinit { values16?.deallocate() }

    /// The same weights with the matrices stored in `precision` (self when it already is).
    public func converted(to precision: Precision) -> ModelWeights {
        if precision == self.precision { return self }
        return try! ModelWeights(config: config, parameters: values.pointer, precision: precision)
    }

    public var parameterCount: Int { layout.totalCount }

    /// The float32 parameters, in `layout` order. Read-only by contract: nothing writes them.
    public var parameters: UnsafePointer<Float> { UnsafePointer(values.pointer) }

    /// The bfloat16 copy (nil unless `precision == .bf16`).
    var lowPrecision: UnsafePointer<BFloat16>? { values16.map { UnsafePointer($0) } }

    /// A copy of one tensor's values, by Hugging Face name.
    public func tensor(_ name: String) -> [Float]? {
        layout.tensor(named: name).map { values.slice($0.offset, $0.count) }
    }

    /// The angular bias arguments of layer `o` (nil without the option).
    func angularBias(_ o: ParameterLayout.LayerOffsets) -> AngularBias? {
        guard let d = biasDistances, let s = o.latticeSlope else { return nil }
        return AngularBias(distances: d.pointer, stride: config.blockSize, slopes: parameters + s, slopeGradPartials: nil)
    }
}
