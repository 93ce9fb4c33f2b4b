// Every intermediate tensor of one forward pass at a given (B, T), carved out of one allocation.
//
// The same layout serves the activation gradients of the backward pass. Dropout masks exist
// only when dropout > 0, so a dropout-free model pays nothing for them.

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
    /// tiles (B·NH·T·T per layer) — those are never differentiated through storage.
    init(config: GPTConfig, B: Int, T: Int, withMasks: Bool, forGradients: Bool = false) {
        self.B = B
        self.T = T
        let N = B * T, C = config.nEmbd, V = config.vocabSize, NH = config.nHead
        // First pass counts, second pass hands out pointers.
        var sizes: [Int] = []
        func want(_ n: Int) { sizes.append(n) }
        let masks = withMasks && config.dropout > 0
        want(N * C); if masks { want(N * C) }
        want(N * C); want(N); want(N); want(N * V); want(N); want(N); want(Attention.scratchCount(T: T)); want(B * NH)
        for _ in 0..<config.nLayer {
            [N * C, N, N, N * 3 * C, forGradients ? 0 : B * NH * T * T, N * C, N * C, N * C,
             N * C, N, N, N * 4 * C, N * 4 * C, N * C, N * C, forGradients ? 0 : N * 4 * C].forEach(want)
            if masks { want(B * NH * T * T); want(N * C); want(N * C) }
        }
        storage = FloatBuffer(count: sizes.reduce(0, +))
        var cursor = storage.pointer
        func take(_ n: Int) -> UnsafeMutablePointer<Float> { defer { cursor += n }; return cursor }
        encoded = take(N * C)
        encodedMask = masks ? take(N * C) : nil
        lnf = take(N * C); lnfMean = take(N); lnfRstd = take(N)
        logits = take(N * V); logPartition = take(N); losses = take(N)
        attentionScratch = take(Attention.scratchCount(T: T))
        slopeGradPartials = take(B * NH)
        var layers: [Layer] = []
        for _ in 0..<config.nLayer {
            var l = Layer(ln1: take(N * C), ln1Mean: take(N), ln1Rstd: take(N), qkv: take(N * 3 * C),
                          att: take(forGradients ? 0 : B * NH * T * T), atty: take(N * C), attProj: take(N * C), resid2: take(N * C),
                          ln2: take(N * C), ln2Mean: take(N), ln2Rstd: take(N), fc: take(N * 4 * C),
                          fcGelu: take(N * 4 * C), fcProj: take(N * C), resid3: take(N * C),
                          fcSigmoid: take(forGradients ? 0 : N * 4 * C))
            if masks { l.attMask = take(B * NH * T * T); l.attProjMask = take(N * C); l.fcProjMask = take(N * C) }
            layers.append(l)
        }
        self.layers = layers
    }

}
