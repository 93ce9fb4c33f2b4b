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
    /// With `.bf16` on a CPU with AVX512_BF16: the four matrices of each layer laid out for the
    /// generation mat-vec on `vdpbf16ps` (nil otherwise).
    let pairedLayers: [PairedLayer]?
    private let pairedStorage: UnsafeMutablePointer<UInt32>?

    /// One layer's matrices in `PairedBF16Matrix` layout.
    struct PairedLayer { let qkv, attnProj, fc, fcProj: PairedBF16Matrix }
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
        if let w = values16, BF16GEMMKernel.active != nil {
            // Generation streams each weight once per token; in pair layout the mat-vec does 32
            // products per instruction instead of 8 (float32 FMA after widening).
            let C = c.nEmbd
            let shapes = [(C, 3 * C), (C, C), (C, 4 * C), (4 * C, C)]
            let perLayer = shapes.map { PairedBF16Matrix.slotCount(rows: $0.0, columns: $0.1) }
            let storage = UnsafeMutablePointer<UInt32>.allocate(capacity: max(1, perLayer.reduce(0, +) * c.nLayer))
            var cursor = storage
            func pack(_ offset: Int, _ k: Int) -> PairedBF16Matrix {
                defer { cursor += perLayer[k] }
                return PairedBF16Matrix.pack(w + offset, rows: shapes[k].0, columns: shapes[k].1, into: cursor)
            }
            pairedLayers = layout.layers.map { o in
                PairedLayer(qkv: pack(o.qkvWeight, 0), attnProj: pack(o.attnProjWeight, 1), fc: pack(o.fcWeight, 2),
                            fcProj: pack(o.fcProjWeight, 3))
            }
            pairedStorage = storage
        } else {
            pairedLayers = nil
            pairedStorage = nil
        }
        biasDistances = LatticeFeatures.biasDistances(config: c)
    }

    /// Weights from a flat array in `layout` order.
    public static func from(config: GPTConfig, values: [Float], precision: Precision = .fp32) throws -> ModelWeights {
        let expected = ParameterLayout(config: config).totalCount
        guard values.count == expected else { throw ModelError.parameterCount(expected: expected, found: values.count) }
        return try values.withUnsafeBufferPointer { try ModelWeights(config: config, parameters: $0.baseAddress!, precision: precision) }
    }

    deinit { values16?.deallocate(); pairedStorage?.deallocate() }

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
