// Where each parameter tensor lives inside the single contiguous parameter buffer.
//
// One flat buffer means one optimizer loop over all parameters, one memcpy for checkpoints and
// no per-tensor allocations. Names and shapes are Hugging Face GPT-2's (Conv1D stores linear
// weights as [in, out]), so safetensors export is a straight copy.

public struct ParameterTensor: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    /// Whether AdamW's decoupled weight decay applies: 2-D weight matrices only, not biases,
    /// LayerNorm gains or the learned position table.
    public let decays: Bool
    /// False for tensors the optimizer must leave alone (the fixed lattice position table).
    public var trainable: Bool = true
}

public struct ParameterLayout: Sendable {
    public let tensors: [ParameterTensor]
    public let totalCount: Int

    // Offsets of the tensors the kernels use directly.
    public let wte: Int, wpe: Int, lnfWeight: Int, lnfBias: Int
    public let layers: [LayerOffsets]

    public struct LayerOffsets: Sendable {
        public var ln1Weight = 0, ln1Bias = 0, qkvWeight = 0, qkvBias = 0, attnProjWeight = 0, attnProjBias = 0
        public var ln2Weight = 0, ln2Bias = 0, fcWeight = 0, fcBias = 0, fcProjWeight = 0, fcProjBias = 0
        /// Per-head slopes of the angular attention bias (only with `attentionBias == .angular`).
        public var latticeSlope: Int? = nil
    }

    public init(config: GPTConfig) {
        let C = config.nEmbd, V = config.vocabSize, T = config.blockSize
        var list: [ParameterTensor] = []
        var next = 0
        func add(_ name: String, _ shape: [Int], decays: Bool = false, trainable: Bool = true) -> Int {
            let t = ParameterTensor(name: name, shape: shape, offset: next, decays: decays, trainable: trainable)
            list.append(t)
            next += t.count
            return t.offset
        }
        wte = add("wte.weight", [V, C], decays: true)
        wpe = add("wpe.weight", [T, C], trainable: config.positional == .learned)
        var layers: [LayerOffsets] = []
        for l in 0..<config.nLayer {
            let p = "h.\(l)."
            var o = LayerOffsets()
            o.ln1Weight = add(p + "ln_1.weight", [C])
            o.ln1Bias = add(p + "ln_1.bias", [C])
            o.qkvWeight = add(p + "attn.c_attn.weight", [C, 3 * C], decays: true)
            o.qkvBias = add(p + "attn.c_attn.bias", [3 * C])
            o.attnProjWeight = add(p + "attn.c_proj.weight", [C, C], decays: true)
            o.attnProjBias = add(p + "attn.c_proj.bias", [C])
            o.ln2Weight = add(p + "ln_2.weight", [C])
            o.ln2Bias = add(p + "ln_2.bias", [C])
            o.fcWeight = add(p + "mlp.c_fc.weight", [C, 4 * C], decays: true)
            o.fcBias = add(p + "mlp.c_fc.bias", [4 * C])
            o.fcProjWeight = add(p + "mlp.c_proj.weight", [4 * C, C], decays: true)
            o.fcProjBias = add(p + "mlp.c_proj.bias", [C])
            if config.attentionBias != .none { o.latticeSlope = add(p + "attn.lattice_slope", [config.nHead]) }
            layers.append(o)
        }
        self.layers = layers
        lnfWeight = add("ln_f.weight", [C])
        lnfBias = add("ln_f.bias", [C])
        tensors = list
        totalCount = next
    }

    public func tensor(named name: String) -> ParameterTensor? { tensors.first { $0.name == name } }

    /// The parameters of transformer block `l`, contiguous in the layout.
    public func layerRange(_ l: Int) -> Range<Int> {
        layers[l].ln1Weight..<(l + 1 < layers.count ? layers[l + 1].ln1Weight : lnfWeight)
    }
    /// The token and position embeddings (the first parameters).
    public var embeddingRange: Range<Int> { 0..<(layers.first?.ln1Weight ?? lnfWeight) }
    /// The final LayerNorm (the last parameters).
    public var finalNormRange: Range<Int> { lnfWeight..<totalCount }

    /// The first tensor holding a NaN or an infinity in `values` (in layout order), with the
    /// index inside it: a model that would only ever produce NaN is refused where it is loaded.
    public func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> (tensor: String, index: Int)? {
        for t in tensors {
            for i in 0..<t.count where !values[t.offset + i].isFinite { return (t.name, i) }
        }
        return nil
    }
}
