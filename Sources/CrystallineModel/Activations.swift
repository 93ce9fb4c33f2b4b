// Every intermediate tensor of one forward pass at a given (B, T), carved out of one allocation.
//
// The same layout serves the activation gradients of the backward pass. Dropout masks exist
// only when dropout > 0, so a dropout-free model pays nothing for them.
//
// Memory: a layer's activation gradients are dead once the backward pass has moved below it,
// except the residual gradient it hands down. So the gradient set has two layer slots that
// the layers alternate between (layer l uses slot l mod 2; the residual gradient layer l writes
// into slot (l−1) mod 2 is the one layer l−1 reads): 2 layers of gradient buffers instead of
// nLayer, 10 of GPT-2 small's 12 saved. And the attention probabilities (B·NH·T·T per layer,
// 201 MB per layer for GPT-2 small at batch 4) may be recomputed in the backward pass instead
// of stored (`storeAttention` false).

final class ActivationSet {
    let B: Int, T: Int
    private let storage: FloatBuffer

    let encoded: UnsafeMutablePointer<Float>, encodedMask: UnsafeMutablePointer<Float>?
    let lnf: UnsafeMutablePointer<Float>, lnfMean: UnsafeMutablePointer<Float>, lnfRstd: UnsafeMutablePointer<Float>
    let logits: UnsafeMutablePointer<Float>, logPartition: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>
    /// Per-thread tiles for the attention kernels.
    let attentionScratch: UnsafeMutablePointer<Float>
    /// Per-(batch, head) partial slope gradients of the angular bias.
    let slopeGradPartials: UnsafeMutablePointer<Float>
    let layers: [Layer]

    struct Layer {
        var ln1, ln1Mean, ln1Rstd, qkv, att, atty, attProj, resid2: UnsafeMutablePointer<Float>
        var ln2, ln2Mean, ln2Rstd, fc, fcGelu, fcProj, resid3: UnsafeMutablePointer<Float>
        /// σ(2u) of the GELU, saved by the forward pass so the backward needs no exponential.
        var fcSigmoid: UnsafeMutablePointer<Float>
        var attMask, attProjMask, fcProjMask: UnsafeMutablePointer<Float>?
    }

    /// `forGradients`: the set holds activation gradients, which need no attention-probability
    /// tiles (B·NH·T·T per layer) — those are never differentiated through storage — and only two
    /// layer slots, and no logits (their gradients overwrite the forward logits).
    /// `storeAttention` false: no probability tiles and no GELU σ(2u) either (recomputed).
    init(config: GPTConfig, B: Int, T: Int, withMasks: Bool, forGradients: Bool = false, storeAttention: Bool = true) {
        self.B = B
        self.T = T
        let N = B * T, C = config.nEmbd, V = config.vocabSize, NH = config.nHead
        // First pass counts, second pass hands out pointers.
        var sizes: [Int] = []
        func want(_ n: Int) { sizes.append(n) }
        let masks = withMasks && config.dropout > 0
        let probabilities = forGradients || !storeAttention ? 0 : B * NH * T * T
        let slots = forGradients ? min(2, config.nLayer) : config.nLayer
        want(N * C); if masks { want(N * C) }
        let logitCount = forGradients ? 0 : N * V  // the logit gradients overwrite the logits
        let sigmoids = forGradients || !storeAttention ? 0 : N * 4 * C
        // Recomputing: the GELU output is only the next product's input, so one buffer serves
        // every layer and the backward pass recomputes it (into the layer's dfc slot).
        let sharedGelu = !forGradients && !storeAttention
        let geluPerLayer = sharedGelu ? 0 : N * 4 * C
        want(N * C); want(N); want(N); want(logitCount); want(N); want(N); want(Attention.scratchCount(T: T, headSize: C / NH)); want(B * NH)
        if sharedGelu { want(N * 4 * C) }
        for _ in 0..<slots {
            [N * C, N, N, N * 3 * C, probabilities, N * C, N * C, N * C,
             N * C, N, N, N * 4 * C, geluPerLayer, N * C, N * C, sigmoids].forEach(want)
            if masks { want(B * NH * T * T); want(N * C); want(N * C) }
        }
        storage = FloatBuffer(count: sizes.reduce(0, +))
        var cursor = storage.pointer
        func take(_ n: Int) -> UnsafeMutablePointer<Float> { defer { cursor += n }; return cursor }
        encoded = take(N * C)
        encodedMask = masks ? take(N * C) : nil
        lnf = take(N * C); lnfMean = take(N); lnfRstd = take(N)
        logits = take(logitCount); logPartition = take(N); losses = take(N)
        attentionScratch = take(Attention.scratchCount(T: T, headSize: C / NH))
        slopeGradPartials = take(B * NH)
        let gelu = sharedGelu ? take(N * 4 * C) : nil
        var layers: [Layer] = []
        for _ in 0..<slots {
            var l = Layer(ln1: take(N * C), ln1Mean: take(N), ln1Rstd: take(N), qkv: take(N * 3 * C),
                          att: take(probabilities), atty: take(N * C), attProj: take(N * C), resid2: take(N * C),
                          ln2: take(N * C), ln2Mean: take(N), ln2Rstd: take(N), fc: take(N * 4 * C),
                          fcGelu: gelu ?? take(geluPerLayer), fcProj: take(N * C), resid3: take(N * C),
                          fcSigmoid: take(sigmoids))
            if masks { l.attMask = take(B * NH * T * T); l.attProjMask = take(N * C); l.fcProjMask = take(N * C) }
            layers.append(l)
        }
        self.layers = (0..<config.nLayer).map { layers[$0 % slots] }
        self.storesEverything = probabilities > 0
    }
    /// Whether `att`, `fcSigmoid` and each layer's `fcGelu` hold what the backward pass needs
    /// (else it recomputes them; `fcGelu` is then one buffer shared by the layers).
    let storesEverything: Bool

}
