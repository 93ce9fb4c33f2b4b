// The training workspace of a GPT-2 model: parameters the optimizer updates, their gradients,
// the activations of the batched forward/backward pass and the dropout generator.
//
// A workspace belongs to one thread at a time. What other threads may read is a `snapshot()`:
// immutable `ModelWeights`, which inference sessions take. Gradients are allocated on the
// first backward pass, so a workspace used only for evaluation never holds them.
import CrystallineCompute

public final class GPT {
    public let config: GPTConfig
    public let layout: ParameterLayout
    /// All parameters, contiguous, in `layout` order.
    public let parameters: FloatBuffer
    /// Gradients, same layout as `parameters`. `backward` accumulates into them.
    public private(set) lazy var gradients = FloatBuffer(count: layout.totalCount)
    /// Drives dropout masks; part of the training state that a checkpoint saves.
    public var dropoutRNG = Xoshiro256(seed: 0x5eed)

    /// The precision of the matrix products, as PyTorch's CPU autocast has it. With `.bf16` a
    /// bfloat16 copy of the parameters feeds every GEMM that multiplies by a weight, and where
    /// the CPU has a bfloat16 kernel (`BF16GEMMKernel.active`) every product of the forward and
    /// backward pass — weights, activations, attention — multiplies bfloat16-rounded operands;
    /// elsewhere only the weights are rounded and the products run in float32. `parameters` stay
    /// the float32 master copy the optimizer updates; LayerNorm, softmax, GELU, the loss,
    /// gradients and all accumulation stay float32. Call `refreshLowPrecisionWeights()` after
    /// changing `parameters`.
    public var precision: Precision = .fp32 {
        didSet {
            if precision == .bf16 {
                if weights16 == nil { weights16 = .allocate(capacity: max(1, layout.totalCount)) }
                refreshLowPrecisionWeights()
            }
        }
    }
    private var weights16: UnsafeMutablePointer<BFloat16>?
    /// Whether the forward pass stores the attention probabilities (B·NH·T·T floats per layer)
    /// and the GELU's σ(2u) for the backward pass, or the backward pass recomputes them (one
    /// more Q·Kᵀ product and softmax per layer, a T×T tile per thread instead; one exponential
    /// per MLP element). The gradients are the same either way, bit for bit.
    public var activationMemory: ActivationMemory = .automatic

    /// With `.bf16`: whether the products also round the activations (the default, as autocast
    /// does), or only read the bfloat16 weights — what the KV-cached inference session does, so
    /// a test can compare the two paths exactly.
    var roundsActivations = true
    /// The arithmetic of every product under `precision`.
    public var arithmetic: GEMMArithmetic { precision == .bf16 && roundsActivations ? .bfloat16 : .float32 }

    /// Distances D between positions for the attention bias, [blockSize, blockSize] (nil without one).
    let angularDistances: FloatBuffer?
    private var acts: ActivationSet?
    private var dActs: ActivationSet?
    private var tokens: UnsafeMutablePointer<Int32>
    private var targets: UnsafeMutablePointer<Int32>
    private var tokenCapacity = 0
    private var lastTraining = false
    private var hasTargets = false

    /// A model with GPT-2 initialisation: N(0, 0.02) weights, residual projections scaled by
    /// 1/√(2·n_layer), zero biases, unit LayerNorm gains.
    public init(config: GPTConfig, seed: UInt64 = 1337) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config: config)
        parameters = FloatBuffer(count: layout.totalCount)
        tokens = .allocate(capacity: 1)
        targets = .allocate(capacity: 1)
        angularDistances = LatticeFeatures.biasDistances(config: config)
        var rng = Xoshiro256(seed: seed)
        let residualStd = 0.02 / (2.0 * Double(config.nLayer)).squareRoot()
        for t in layout.tensors {
            let p = parameters.pointer + t.offset
            if t.shape.count == 2 {
                let std = t.name.hasSuffix("c_proj.weight") ? residualStd : 0.02
                for i in 0..<t.count { p[i] = Float(rng.nextGaussian() * std) }
            } else if t.name.hasSuffix("ln_1.weight") || t.name.hasSuffix("ln_2.weight") || t.name == "ln_f.weight" {
                p.update(repeating: 1, count: t.count)
            }
        }
        // Crystalline options replace parts of the standard initialisation.
        if config.embeddingInit == .lattice {
            parameters.load(LatticeFeatures.embedding(vocabSize: config.vocabSize, width: config.nEmbd), at: layout.wte)
        }
        if config.positional == .lattice {
            parameters.load(LatticeFeatures.positional(blockSize: config.blockSize, width: config.nEmbd), at: layout.wpe)
        }
        for o in layout.layers {
            if let s = o.latticeSlope { parameters.load(LatticeFeatures.initialSlopes(heads: config.nHead, blockSize: config.blockSize), at: s) }
        }
    }

    /// A workspace starting from `weights` (for batched evaluation, or to train further).
    public convenience init(weights: ModelWeights, dropout: Float = 0) throws {
        var c = weights.config
        c.dropout = dropout
        try self.init(config: c)
        parameters.pointer.update(from: weights.parameters, count: layout.totalCount)
        precision = weights.precision
    }

    /// An immutable copy of the current parameters, for inference on any thread while this
    /// workspace goes on training. `precision` defaults to the workspace's own.
    public func snapshot(precision: Precision? = nil) -> ModelWeights {
        try! ModelWeights(config: config, parameters: parameters.pointer, precision: precision ?? self.precision)
    }

    /// The angular bias arguments of layer `o` (nil without the option).
    func angularBias(_ o: ParameterLayout.LayerOffsets, partials: UnsafeMutablePointer<Float>?) -> AngularBias? {
        guard let d = angularDistances, let s = o.latticeSlope else { return nil }
        return AngularBias(distances: d.pointer, stride: config.blockSize, slopes: parameters.pointer + s, slopeGradPartials: partials)
    }

    deinit { tokens.deallocate(); targets.deallocate(); weights16?.deallocate() }

    /// Re-rounds the bfloat16 weight copy from the float32 master parameters.
    public func refreshLowPrecisionWeights() {
        guard let w = weights16 else { return }
        parallelRanges(layout.totalCount, RoundToBFloat16Job(source: parameters.pointer, destination: w))
    }

    public var parameterCount: Int { layout.totalCount }

    /// Reads the parameters of a tensor by name (copy).
    public func tensor(_ name: String) -> [Float]? {
        layout.tensor(named: name).map { parameters.slice($0.offset, $0.count) }
    }

    private func prepare(B: Int, T: Int, training: Bool) {
        let masks = training && config.dropout > 0
        let store = activationMemory.resolved(config: config, B: B, T: T) == .store
        if let a = acts, a.B == B, a.T == T, (a.layers.first?.attMask != nil) == masks || !masks, a.storesEverything == store { return }
        acts = nil  // the old set goes before the new one is allocated
        acts = ActivationSet(config: config, B: B, T: T, withMasks: masks, storeAttention: store)
        dActs = nil
        if B * T > tokenCapacity {
            tokens.deallocate(); targets.deallocate()
            tokens = .allocate(capacity: B * T); targets = .allocate(capacity: B * T)
            tokenCapacity = B * T
        }
    }

    /// Runs the model on `B` sequences of `T` tokens (row-major). With targets, returns the mean
    /// cross-entropy loss and keeps what `backward` needs; without, returns nil and only logits.
    /// `training` enables dropout.
    @discardableResult
    public func forward(tokens input: UnsafeBufferPointer<Int32>, targets target: UnsafeBufferPointer<Int32>?,
                        B: Int, T: Int, training: Bool = false) throws -> Float? {
        guard T <= config.blockSize else { throw ModelError.sequenceTooLong(length: T, blockSize: config.blockSize) }
        precondition(input.count >= B * T, "need B*T input tokens")
        let V = config.vocabSize
        for i in 0..<(B * T) {
            let tok = Int(input[i])
            if tok < 0 || tok >= V { throw ModelError.tokenOutOfRange(token: tok, vocabSize: V) }
            if let target {
                let tg = Int(target[i])
                if tg < 0 || tg >= V { throw ModelError.tokenOutOfRange(token: tg, vocabSize: V) }
            }
        }
        prepare(B: B, T: T, training: training)
        tokens.update(from: input.baseAddress!, count: B * T)
        if let target { targets.update(from: target.baseAddress!, count: B * T) }
        lastTraining = training
        hasTargets = target != nil

        if precision == .bf16, let w = weights16 {
            return forwardLayers(weights: UnsafePointer(w), B: B, T: T, training: training, hasTargets: target != nil)
        }
        return forwardLayers(weights: UnsafePointer(parameters.pointer), B: B, T: T, training: training, hasTargets: target != nil)
    }

    /// The forward pass proper; `w` holds the weight matrices in the storage type of `precision`.
    private func forwardLayers<W: GEMMElement>(weights w: UnsafePointer<W>, B: Int, T: Int, training: Bool, hasTargets: Bool) -> Float? {
        let a = acts!
        let C = config.nEmbd, NH = config.nHead, N = B * T
        let p = parameters.pointer
        let dropping = training && config.dropout > 0
        let pDrop = config.dropout
        let arithmetic = self.arithmetic

        Encoder.forward(out: a.encoded, tokens: tokens, wte: p + layout.wte, wpe: p + layout.wpe, B: B, T: T, C: C)
        if dropping, let m = a.encodedMask {
            Dropout.fillMask(m, count: N * C, p: pDrop, rng: &dropoutRNG)
            Dropout.apply(a.encoded, mask: m, count: N * C)
        }
        for (l, o) in layout.layers.enumerated() {
            let L = a.layers[l]
            if l == 0 {
                LayerNorm.forward(out: L.ln1, mean: L.ln1Mean, rstd: L.ln1Rstd, inp: a.encoded,
                                  weight: p + o.ln1Weight, bias: p + o.ln1Bias, N: N, C: C, eps: config.layerNormEpsilon)
            } else {
                // resid3 of the previous layer = resid2 + fcProj, formed inside this LayerNorm.
                let P = a.layers[l - 1]
                LayerNorm.forward(out: L.ln1, mean: L.ln1Mean, rstd: L.ln1Rstd, sum: P.resid3, a: P.resid2, b: P.fcProj,
                                  weight: p + o.ln1Weight, bias: p + o.ln1Bias, N: N, C: C, eps: config.layerNormEpsilon)
            }
            let residual = UnsafePointer(l == 0 ? a.encoded : a.layers[l - 1].resid3)
            Linear.forward(out: L.qkv, inp: L.ln1, weight: w + o.qkvWeight, bias: p + o.qkvBias, N: N, IC: C, OC: 3 * C, arithmetic: arithmetic)
            if dropping, let m = L.attMask { Dropout.fillMask(m, count: B * NH * T * T, p: pDrop, rng: &dropoutRNG) }
            Attention.forward(out: L.atty, att: a.storesEverything ? L.att : nil, dropMask: dropping ? L.attMask : nil, qkv: L.qkv,
                              scratch: a.attentionScratch, bias: angularBias(o, partials: nil), B: B, T: T, C: C, NH: NH, arithmetic: arithmetic)
            Linear.forward(out: L.attProj, inp: L.atty, weight: w + o.attnProjWeight, bias: p + o.attnProjBias, N: N, IC: C, OC: C, arithmetic: arithmetic)
            if dropping, let m = L.attProjMask {
                Dropout.fillMask(m, count: N * C, p: pDrop, rng: &dropoutRNG)
                Dropout.apply(L.attProj, mask: m, count: N * C)
            }
            LayerNorm.forward(out: L.ln2, mean: L.ln2Mean, rstd: L.ln2Rstd, sum: L.resid2, a: residual, b: L.attProj,
                              weight: p + o.ln2Weight, bias: p + o.ln2Bias, N: N, C: C, eps: config.layerNormEpsilon)
            Linear.forward(out: L.fc, inp: L.ln2, weight: w + o.fcWeight, bias: p + o.fcBias, N: N, IC: C, OC: 4 * C, arithmetic: arithmetic)
            GELU.forward(out: L.fcGelu, sigmoid: a.storesEverything ? L.fcSigmoid : nil, inp: L.fc, count: N * 4 * C)
            Linear.forward(out: L.fcProj, inp: L.fcGelu, weight: w + o.fcProjWeight, bias: p + o.fcProjBias, N: N, IC: 4 * C, OC: C, arithmetic: arithmetic)
            if dropping, let m = L.fcProjMask {
                Dropout.fillMask(m, count: N * C, p: pDrop, rng: &dropoutRNG)
                Dropout.apply(L.fcProj, mask: m, count: N * C)
            }
        }
        let last = a.layers[config.nLayer - 1]
        LayerNorm.forward(out: a.lnf, mean: a.lnfMean, rstd: a.lnfRstd, sum: last.resid3, a: last.resid2, b: last.fcProj,
                          weight: p + layout.lnfWeight, bias: p + layout.lnfBias, N: N, C: C, eps: config.layerNormEpsilon)
        CrossEntropy.logits(out: a.logits, x: a.lnf, wte: w + layout.wte, N: N, C: C, V: config.vocabSize, arithmetic: arithmetic)
        guard hasTargets else { return nil }
        return CrossEntropy.forward(losses: a.losses, logPartition: a.logPartition, logits: a.logits,
                                    targets: targets, N: N, V: config.vocabSize)
    }

    /// Convenience overload for arrays.
    @discardableResult
    public func forward(tokens: [Int32], targets: [Int32]?, B: Int, T: Int, training: Bool = false) throws -> Float? {
        try tokens.withUnsafeBufferPointer { tp in
            if let targets {
                return try targets.withUnsafeBufferPointer { try forward(tokens: tp, targets: $0, B: B, T: T, training: training) }
            }
            return try forward(tokens: tp, targets: nil, B: B, T: T, training: training)
        }
    }

    /// Logits of the last forward pass, [B·T, V] row-major.
    public var lastLogits: UnsafeBufferPointer<Float> {
        let a = acts!
        return UnsafeBufferPointer(start: a.logits, count: a.B * a.T * config.vocabSize)
    }

    public func zeroGradients() { gradients.zero() }

    /// Called during `backward` each time a contiguous range of `gradients` is final for this
    /// pass: the final LayerNorm first, then each block from the last to the first, then the
    /// embeddings (the tied token embedding is written at both ends of the pass). A data-parallel
    /// trainer starts reducing each range while the earlier layers are still being computed.
    public var gradientsReady: ((Range<Int>) -> Void)?

    /// Accumulates d(lossScale · mean loss)/dθ into `gradients`. Gradient accumulation over N
    /// micro-batches passes lossScale = 1/N.
    public func backward(lossScale: Float = 1) {
        guard let a = acts, hasTargets else { preconditionFailure("backward() needs a forward pass with targets") }
        if dActs == nil || dActs!.B != a.B || dActs!.T != a.T {
            dActs = ActivationSet(config: config, B: a.B, T: a.T, withMasks: false, forGradients: true)
        }
        // Activation gradients are written by their single producer, so nothing is zeroed.
        if precision == .bf16, let w = weights16 {
            backwardLayers(weights: UnsafePointer(w), lossScale: lossScale)
        } else {
            backwardLayers(weights: UnsafePointer(parameters.pointer), lossScale: lossScale)
        }
    }

    /// The gradient reaching a residual branch's output through `x + dropout(branch)`: the
    /// residual gradient itself, or a masked copy of it in `scratch` when dropout is on.
    private func branchGradient(_ dResidual: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>?,
                                scratch: UnsafeMutablePointer<Float>, count: Int) -> UnsafePointer<Float> {
        guard let mask else { return UnsafePointer(dResidual) }
        scratch.update(from: dResidual, count: count)
        Dropout.apply(scratch, mask: mask, count: count)
        return UnsafePointer(scratch)
    }

    private func backwardLayers<W: GEMMElement>(weights w: UnsafePointer<W>, lossScale: Float) {
        let a = acts!, d = dActs!
        let B = a.B, T = a.T, N = B * T, C = config.nEmbd, NH = config.nHead, V = config.vocabSize
        let p = parameters.pointer, g = gradients.pointer
        let dropping = lastTraining && config.dropout > 0
        let arithmetic = self.arithmetic

        // dlogits overwrite the logits (each element is read once, then written): the logits of
        // GPT-2 small at batch 4 are 823 MB, and nothing reads them after the backward pass.
        CrossEntropy.backward(dx: d.lnf, dwte: g + layout.wte, dlogits: a.logits, logits: a.logits,
                              logPartition: a.logPartition, targets: targets, x: a.lnf, wte: w + layout.wte,
                              gradScale: lossScale / Float(N), N: N, C: C, V: V, arithmetic: arithmetic)
        let lastResidual = a.layers.last!.resid3
        let dLastResidual = d.layers.last!.resid3
        LayerNorm.backward(dinp: dLastResidual, mode: .write, dweight: g + layout.lnfWeight, dbias: g + layout.lnfBias,
                           dout: d.lnf, inp: lastResidual, weight: p + layout.lnfWeight,
                           mean: a.lnfMean, rstd: a.lnfRstd, N: N, C: C)
        gradientsReady?(layout.finalNormRange)
        for l in stride(from: config.nLayer - 1, through: 0, by: -1) {
            let o = layout.layers[l], L = a.layers[l], D = d.layers[l]
            let residual = l == 0 ? a.encoded : a.layers[l - 1].resid3
            let dResidual = l == 0 ? d.encoded : d.layers[l - 1].resid3
            // resid3 = resid2 + dropout(fcProj): the gradient passes to both. Without dropout
            // the branch reads D.resid3 itself; the skip connection's copy is folded into the
            // LayerNorm backward below, which writes D.resid2 = D.resid3 + ∂ln2.
            let dFcProj = branchGradient(D.resid3, mask: dropping ? L.fcProjMask : nil, scratch: D.fcProj, count: N * C)
            // Recomputing, the GELU output is rebuilt in D.fc, free until the GELU backward below.
            if !a.storesEverything { GELU.forward(out: D.fc, inp: L.fc, count: N * 4 * C) }
            Linear.backward(dinp: D.fcGelu, dweight: g + o.fcProjWeight, dbias: g + o.fcProjBias, dout: dFcProj,
                            inp: a.storesEverything ? L.fcGelu : D.fc, weight: w + o.fcProjWeight, N: N, IC: 4 * C, OC: C, accumulateInput: false, arithmetic: arithmetic)
            GELU.backward(dinp: D.fc, inp: L.fc, sigmoid: a.storesEverything ? UnsafePointer(L.fcSigmoid) : nil, dout: D.fcGelu, count: N * 4 * C, accumulate: false)
            Linear.backward(dinp: D.ln2, dweight: g + o.fcWeight, dbias: g + o.fcBias, dout: D.fc,
                            inp: L.ln2, weight: w + o.fcWeight, N: N, IC: C, OC: 4 * C, accumulateInput: false, arithmetic: arithmetic)
            LayerNorm.backward(dinp: D.resid2, mode: .residual(D.resid3), dweight: g + o.ln2Weight, dbias: g + o.ln2Bias,
                               dout: D.ln2, inp: L.resid2, weight: p + o.ln2Weight, mean: L.ln2Mean, rstd: L.ln2Rstd, N: N, C: C)
            // resid2 = residual + dropout(attProj), likewise.
            let dAttProj = branchGradient(D.resid2, mask: dropping ? L.attProjMask : nil, scratch: D.attProj, count: N * C)
            Linear.backward(dinp: D.atty, dweight: g + o.attnProjWeight, dbias: g + o.attnProjBias, dout: dAttProj,
                            inp: L.atty, weight: w + o.attnProjWeight, N: N, IC: C, OC: C, accumulateInput: false, arithmetic: arithmetic)
            let bias = angularBias(o, partials: d.slopeGradPartials)
            Attention.backward(dqkv: D.qkv, dout: D.atty, qkv: L.qkv, att: a.storesEverything ? UnsafePointer(L.att) : nil, dropMask: dropping ? L.attMask : nil,
                               scratch: d.attentionScratch, bias: bias, B: B, T: T, C: C, NH: NH, arithmetic: arithmetic)
            if bias != nil, let s = o.latticeSlope {
                for task in 0..<(B * NH) { g[s + task % NH] += d.slopeGradPartials[task] }
            }
            Linear.backward(dinp: D.ln1, dweight: g + o.qkvWeight, dbias: g + o.qkvBias, dout: D.qkv,
                            inp: L.ln1, weight: w + o.qkvWeight, N: N, IC: C, OC: 3 * C, accumulateInput: false, arithmetic: arithmetic)
            LayerNorm.backward(dinp: dResidual, mode: .residual(D.resid2), dweight: g + o.ln1Weight, dbias: g + o.ln1Bias,
                               dout: D.ln1, inp: residual, weight: p + o.ln1Weight, mean: L.ln1Mean, rstd: L.ln1Rstd, N: N, C: C)
            gradientsReady?(layout.layerRange(l))
        }
        if dropping, let m = a.encodedMask { Dropout.apply(d.encoded, mask: m, count: N * C) }
        Encoder.backward(dwte: g + layout.wte, dwpe: g + layout.wpe, dout: d.encoded, tokens: tokens, B: B, T: T, C: C)
        gradientsReady?(layout.embeddingRange)
    }
}

/// destination[i] = bfloat16(source[i]), round to nearest even.
struct RoundToBFloat16Job: RangeJob {
    let source: UnsafeMutablePointer<Float>, destination: UnsafeMutablePointer<BFloat16>
    func run(_ r: Range<Int>) { for i in r { destination[i] = BFloat16(source[i]) } }
}
