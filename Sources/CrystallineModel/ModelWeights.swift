// Immutable model weights: what inference reads.
//
// A training workspace (`GPT`) owns parameters that the optimizer rewrites after every step, so
// nothing else may read them while a run goes on. `ModelWeights` is a copy that never changes
// once made: any number of inference sessions, on any threads, can read one set at once, and a
// server can keep serving the last snapshot of a model that is still being trained.
import CrystallineCompute

/// How `ModelWeights` stores the matrices that generation multiplies.
public enum WeightFormat: String, Codable, CaseIterable, Sendable {
    /// float32, as trained.
    case fp32
    /// bfloat16 (half the bytes per token; on AVX512_BF16 the products round their inputs too).
    case bf16
    /// GGML's Q8_0: blocks of 32 int8 values with an fp16 scale, activations quantized the same
    /// way, as llama.cpp runs a Q8_0 GGUF file (a quarter of the float32 bytes plus 1/16 for
    /// the scales). Generation only: batched evaluation of such weights reads the float32 values.
    case q8_0

    public init(_ precision: Precision) { self = precision == .bf16 ? .bf16 : .fp32 }

    /// The precision of the batched forward pass over these weights.
    public var precision: Precision { self == .bf16 ? .bf16 : .fp32 }
}

public final class ModelWeights: @unchecked Sendable {
    public let config: GPTConfig
    public let layout: ParameterLayout
    /// Storage of the weight matrices in the matrix products. With `.bf16` a bfloat16 copy
    /// feeds them (half the bytes per generated token); biases, LayerNorm and the float32
    /// values stay as they are.
    public var precision: Precision { format.precision }
    /// The storage of the generation session's matrices (`precision` for the batched pass).
    public let format: WeightFormat
    private let values: FloatBuffer
    private let values16: UnsafeMutablePointer<BFloat16>?
    /// With `.bf16` on a CPU with AVX512_BF16: the four matrices of each layer laid out for the
    /// generation mat-vec on `vdpbf16ps` (nil otherwise).
    let pairedLayers: [PairedLayer]?
    private let pairedStorage: UnsafeMutablePointer<UInt32>?

    /// One layer's matrices in `PairedBF16Matrix` layout.
    struct PairedLayer { let qkv, attnProj, fc, fcProj: PairedBF16Matrix }
    /// With `.q8_0`: each layer's four matrices and the tied head (the token embeddings, one row
    /// per token) in Q8_0 blocks, rows = outputs, as a GGUF Q8_0 file stores them.
    let quantized: QuantizedMatrices?

    struct QuantizedMatrices {
        struct Layer { let qkv, attnProj, fc, fcProj: Q8Matrix }
        let layers: [Layer]
        let head: Q8Matrix
        let quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>
    }
    /// Distances between positions for the attention bias (nil without one).
    let biasDistances: FloatBuffer?

    /// Copies `count` = `layout.totalCount` floats from `parameters`.
    public convenience init(config: GPTConfig, parameters: UnsafePointer<Float>, precision: Precision = .fp32) throws {
        try self.init(config: config, parameters: parameters, format: WeightFormat(precision))
    }

    /// Copies `count` = `layout.totalCount` floats from `parameters` and stores the matrices
    /// for generation in `format`. `.q8_0` needs a width that is a multiple of 32.
    public init(config: GPTConfig, parameters: UnsafePointer<Float>, format: WeightFormat) throws {
        try config.validate()
        if format == .q8_0 { try Self.requireQ8Width(config) }
        var c = config
        c.dropout = 0  // inference never drops
        self.config = c
        layout = ParameterLayout(config: c)
        self.format = format
        values = FloatBuffer(count: layout.totalCount)
        values.pointer.update(from: parameters, count: layout.totalCount)
        if format == .bf16 {
            let w = UnsafeMutablePointer<BFloat16>.allocate(capacity: max(1, layout.totalCount))
            parallelRanges(layout.totalCount, RoundToBFloat16Job(source: values.pointer, destination: w))
            values16 = w
        } else {
            values16 = nil
        }
        if let w = values16, BF16GEMMKernel.active != nil {
            // Generation streams each weight once per token; in pair layout the mat-vec does 32
            // products per instruction instead of 8 (float32 FMA after widening).
            let shapes = Self.matrixShapes(c)
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
        quantized = format == .q8_0 ? Self.quantize(values.pointer, layout: layout, config: c) : nil
        biasDistances = LatticeFeatures.biasDistances(config: c)
    }

    /// (inputs, outputs) of each layer's qkv, attention projection, MLP up and MLP down matrices.
    static func matrixShapes(_ c: GPTConfig) -> [(Int, Int)] {
        let C = c.nEmbd
        return [(C, 3 * C), (C, C), (C, 4 * C), (4 * C, C)]
    }

    /// Q8_0 blocks tile rows of 32 values: every matrix row of the model (n_embd or 4·n_embd
    /// inputs, and the head's n_embd) must be a whole number of blocks.
    public static func requireQ8Width(_ config: GPTConfig) throws {
        guard config.nEmbd % 32 != 0 else { return }
        throw ModelError.invalidConfig("q8_0 weights need n_embd to be a multiple of 32 (GGML's block size), not \(config.nEmbd)")
    }

    /// The Q8_0 copies of the matrices: the layers' [in, out] weights become rows = outputs.
    private static func quantize(_ p: UnsafePointer<Float>, layout: ParameterLayout, config c: GPTConfig) -> QuantizedMatrices {
        let C = c.nEmbd, shapes = matrixShapes(c)
        let perLayer = shapes.reduce(0) { $0 + $1.0 * $1.1 }
        let total = perLayer * c.nLayer + c.vocabSize * C
        let quants = UnsafeMutablePointer<Int8>.allocate(capacity: total), scales = UnsafeMutablePointer<Float>.allocate(capacity: total / 32)
        var q = quants, s = scales
        func take(_ offset: Int, rows: Int, columns: Int, rowStride: Int, columnStride: Int) -> Q8Matrix {
            defer { q += rows * columns; s += rows * columns / 32 }
            return Q8Matrix.quantize(p + offset, rows: rows, columns: columns, rowStride: rowStride, columnStride: columnStride, quants: q, scales: s)
        }
        func layerMatrix(_ offset: Int, _ k: Int) -> Q8Matrix {
            let (inputs, outputs) = shapes[k]
            return take(offset, rows: outputs, columns: inputs, rowStride: 1, columnStride: outputs)
        }
        let layers = layout.layers.map { o in
            QuantizedMatrices.Layer(qkv: layerMatrix(o.qkvWeight, 0), attnProj: layerMatrix(o.attnProjWeight, 1),
                                    fc: layerMatrix(o.fcWeight, 2), fcProj: layerMatrix(o.fcProjWeight, 3))
        }
        let head = take(layout.wte, rows: c.vocabSize, columns: C, rowStride: C, columnStride: 1)
        return QuantizedMatrices(layers: layers, head: head, quants: quants, scales: scales)
    }

    /// Weights from a flat array in `layout` order.
    public static func from(config: GPTConfig, values: [Float], precision: Precision = .fp32) throws -> ModelWeights {
        try from(config: config, values: values, format: WeightFormat(precision))
    }

    public static func from(config: GPTConfig, values: [Float], format: WeightFormat) throws -> ModelWeights {
        let expected = ParameterLayout(config: config).totalCount
        guard values.count == expected else { throw ModelError.parameterCount(expected: expected, found: values.count) }
        return try values.withUnsafeBufferPointer { try ModelWeights(config: config, parameters: $0.baseAddress!, format: format) }
    }

    deinit {
        values16?.deallocate(); pairedStorage?.deallocate()
        quantized?.quants.deallocate(); quantized?.scales.deallocate()
    }

    /// The same weights with the matrices stored in `precision` (self when it already is).
    public func converted(to precision: Precision) -> ModelWeights {
        converted(to: WeightFormat(precision))
    }

    /// The same weights with generation's matrices stored in `format` (self when they already are).
    public func converted(to format: WeightFormat) -> ModelWeights {
        if format == self.format { return self }
        return try! ModelWeights(config: config, parameters: values.pointer, format: format)
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
