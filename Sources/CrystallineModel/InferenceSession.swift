// Single-sequence inference with a key/value cache, over immutable weights.
//
// Each new token costs one pass of matrix–vector products over the weights plus attention over
// the cached keys and values, instead of recomputing the whole prefix. When the context reaches
// the block size the session keeps the most recent half and re-reads it (amortised O(1) per
// token), since learned position embeddings only exist up to block_size.
//
// A session owns its cache and scratch and reads `ModelWeights`, which never change: any
// number of sessions may run at once on different threads over the same weights.
import CrystallineCompute

public final class InferenceSession {
    public let weights: ModelWeights
    /// The tokens in the context, oldest first (at most block_size).
    public internal(set) var history: [Int32] = []
    /// Whether the products of each token are split over the compute pool. A server generating
    /// beside a training run turns it off: the run keeps the pool, generation takes one core, and
    /// neither spins against the other.
    public var usesThreadPool = true
    private let kCache: FloatBuffer, vCache: FloatBuffer
    private let x: FloatBuffer, ln: FloatBuffer, qkv: FloatBuffer, atty: FloatBuffer, tmp: FloatBuffer
    private let fc: FloatBuffer, logitsBuffer: FloatBuffer, scores: FloatBuffer
    /// The quantized input of a Q8_0 product (`WeightFormat.q8_0` only).
    private let q8Input: Q8Vector?
    /// The other threads' sums of an input-split float32/bf16 mat-vec.
    private let partials: MatVecPartials

    public init(weights: ModelWeights) {
        self.weights = weights
        let c = weights.config, C = c.nEmbd
        kCache = FloatBuffer(count: c.nLayer * c.blockSize * C)
        vCache = FloatBuffer(count: c.nLayer * c.blockSize * C)
        x = FloatBuffer(count: C); ln = FloatBuffer(count: C); qkv = FloatBuffer(count: 3 * C)
        atty = FloatBuffer(count: C); tmp = FloatBuffer(count: C); fc = FloatBuffer(count: 8 * C)
        logitsBuffer = FloatBuffer(count: c.vocabSize); scores = FloatBuffer(count: c.nHead * c.blockSize)
        q8Input = weights.quantized != nil ? Q8Vector(capacity: 4 * C) : nil
        partials = MatVecPartials(outputs: 4 * C)
    }

    public var position: Int { min(history.count, weights.config.blockSize) }

    /// Forgets the context (a new conversation); the cache is overwritten as tokens arrive.
    public func reset() { history.removeAll(keepingCapacity: true) }

    /// Feeds `tokens` in order and returns the logits after the last one. Several tokens that fit
    /// in the context go through the layers together (`prefill`), as matrix–matrix products that
    /// read each weight once per chunk instead of once per token.
    @discardableResult
    public func feed(_ tokens: [Int32]) throws -> [Float] {
        try append(tokens)
        return logitsBuffer.array
    }

    /// Feeds `tokens` in order, leaving the logits after the last one in `logits`.
    public func append(_ tokens: [Int32]) throws {
        precondition(!tokens.isEmpty)
        let c = weights.config
        for t in tokens where t < 0 || Int(t) >= c.vocabSize { throw ModelError.tokenOutOfRange(token: Int(t), vocabSize: c.vocabSize) }
        if tokens.count > 1, history.count + tokens.count <= c.blockSize {
            prefill(tokens)
        } else {
            for t in tokens { try step(t) }
        }
    }

    /// Logits after the most recent token.
    public var logits: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: logitsBuffer.pointer, count: logitsBuffer.count) }

    /// Appends one token and computes the next-token logits.
    public func step(_ token: Int32) throws {
        let c = weights.config
        guard token >= 0, Int(token) < c.vocabSize else { throw ModelError.tokenOutOfRange(token: Int(token), vocabSize: c.vocabSize) }
        if history.count >= c.blockSize {
            // Window full: keep the latest half as context and rebuild the cache from it.
            let keep = Array(history.suffix(c.blockSize / 2))
            history.removeAll(keepingCapacity: true)
            for t in keep { compute(token: t, at: history.count); history.append(t) }
        }
        compute(token: token, at: history.count)
        history.append(token)
    }

    private func compute(token: Int32, at pos: Int) {
        // Generation is memory-bound (every weight is read once per token): with bf16 weights
        // the products stream half the bytes, and where the CPU has AVX512_BF16 the layers'
        // matrices are in pair layout (`ModelWeights.pairedLayers`), whose mat-vec also rounds
        // the activations to bf16, as the batched bf16 forward does. With Q8_0 weights the
        // products quantize their inputs to Q8_0 blocks (as llama.cpp does).
        if let w = weights.lowPrecision {
            compute(token: token, at: pos, matrices: w)
        } else {
            compute(token: token, at: pos, matrices: weights.parameters)
        }
    }

    private func compute<W: GEMMElement>(token: Int32, at pos: Int, matrices w: UnsafePointer<W>) {
        let c = weights.config, C = c.nEmbd
        let lay = weights.layout, p = weights.parameters
        let x = self.x.pointer, ln = self.ln.pointer, qkv = self.qkv.pointer, atty = self.atty.pointer
        let fc = self.fc.pointer, fcg = self.fc.pointer + 4 * C
        let q8 = weights.quantized
        embed(token, at: pos, into: x)
        for (l, o) in lay.layers.enumerated() {
            layerNorm(ln, x, p + o.ln1Weight, p + o.ln1Bias, C, c.layerNormEpsilon)
            let paired = weights.pairedLayers?[l], quantized = q8?.layers[l]
            product(qkv, ln, paired?.qkv, quantized?.qkv, w + o.qkvWeight, bias: p + o.qkvBias, inputs: C, outputs: 3 * C)
            // In pair layout the products round their inputs to bf16, as the batched bf16 forward
            // does in every product: q, k and v are rounded here (so is the cache), the
            // attention weights below, and the head's input at the end.
            if paired != nil { roundToBFloat16(qkv, 3 * C) }
            cacheKeysAndValues(of: qkv, layer: l, position: pos)
            attend(q: qkv, layer: l, offsets: o, position: pos, into: atty)
            product(tmp.pointer, atty, paired?.attnProj, quantized?.attnProj, w + o.attnProjWeight, bias: p + o.attnProjBias, inputs: C, outputs: C)
            addInPlace(x, tmp.pointer, C)
            layerNorm(ln, x, p + o.ln2Weight, p + o.ln2Bias, C, c.layerNormEpsilon)
            product(fc, ln, paired?.fc, quantized?.fc, w + o.fcWeight, bias: p + o.fcBias, inputs: C, outputs: 4 * C)
            GELU.forward(out: fcg, inp: fc, count: 4 * C)
            product(tmp.pointer, fcg, paired?.fcProj, quantized?.fcProj, w + o.fcProjWeight, bias: p + o.fcProjBias, inputs: 4 * C, outputs: C)
            addInPlace(x, tmp.pointer, C)
        }
        computeLogits(from: x, matrices: w)
    }

    /// The final LayerNorm of the residual row `x` and the tied LM head, into `logits`.
    func computeLogits<W: GEMMElement>(from x: UnsafePointer<Float>, matrices w: UnsafePointer<W>) {
        let c = weights.config, C = c.nEmbd, lay = weights.layout, p = weights.parameters, ln = self.ln.pointer
        layerNorm(ln, x, p + lay.lnfWeight, p + lay.lnfBias, C, c.layerNormEpsilon)
        if weights.pairedLayers != nil { roundToBFloat16(ln, C) }
        // The tied LM head reads the same weight storage as the batched forward.
        if let head = weights.quantized?.head, let scratch = q8Input {
            matVec(logitsBuffer.pointer, ln, head, bias: nil, scratch: scratch, parallel: usesThreadPool)
        } else if weights.pairedLayers != nil, let w16 = weights.lowPrecision, C % 2 == 0, C <= 8192 {
            rowDotsBF16Products(logitsBuffer.pointer, ln, rows: w16 + lay.wte, count: c.vocabSize, width: C, parallel: usesThreadPool)
        } else {
            rowDots(logitsBuffer.pointer, ln, rows: w + lay.wte, count: c.vocabSize, width: C, parallel: usesThreadPool)
        }
    }

    /// y = x·W + b for one row: on the Q8_0 or pair-layout copy where there is one, else on `weight`.
    private func product<W: GEMMElement>(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ paired: PairedBF16Matrix?,
                                         _ quantized: Q8Matrix?, _ weight: UnsafePointer<W>, bias: UnsafePointer<Float>,
                                         inputs: Int, outputs: Int) {
        if let quantized, let scratch = q8Input {
            matVec(y, x, quantized, bias: bias, scratch: scratch, parallel: usesThreadPool)
        } else if let paired {
            matVec(y, x, paired, bias: bias, partials: partials, parallel: usesThreadPool)
        } else {
            matVec(y, x, weight, bias: bias, inputs: inputs, outputs: outputs, partials: partials, parallel: usesThreadPool)
        }
    }

    /// x = token embedding + position embedding.
    func embed(_ token: Int32, at pos: Int, into x: UnsafeMutablePointer<Float>) {
        let C = weights.config.nEmbd, lay = weights.layout, p = weights.parameters
        let pe = p + lay.wpe + pos * C
        if let head = weights.quantized?.head {
            // A Q8_0 file has one copy of the token embeddings, the quantized one.
            head.dequantizeRow(Int(token), into: x)
            for i in 0..<C { x[i] += pe[i] }
        } else {
            let te = p + lay.wte + Int(token) * C
            for i in 0..<C { x[i] = te[i] + pe[i] }
        }
    }

    /// Copies of layer `l`'s cached keys and values for the positions so far, [position, C] each
    /// (for tests that compare two ways of filling the cache).
    func cachedKeysAndValues(layer l: Int) -> (keys: [Float], values: [Float]) {
        let C = weights.config.nEmbd, offset = l * weights.config.blockSize * C, count = position * C
        return (Array(UnsafeBufferPointer(start: kCache.pointer + offset, count: count)),
                Array(UnsafeBufferPointer(start: vCache.pointer + offset, count: count)))
    }

    /// Stores the key and value of one token's q|k|v row in layer `l`'s cache at `pos`.
    func cacheKeysAndValues(of qkv: UnsafePointer<Float>, layer l: Int, position pos: Int) {
        let C = weights.config.nEmbd, offset = (l * weights.config.blockSize + pos) * C
        (kCache.pointer + offset).update(from: qkv + C, count: C)
        (vCache.pointer + offset).update(from: qkv + 2 * C, count: C)
    }

    /// One token's attention in layer `l` (its keys and values already cached): heads split over
    /// the pool once the cache is long enough to be worth a parallel region (each head reads
    /// (position+1)·hs keys and values).
    func attend(q: UnsafePointer<Float>, layer l: Int, offsets o: ParameterLayout.LayerOffsets, position pos: Int,
                into out: UnsafeMutablePointer<Float>) {
        let c = weights.config, C = c.nEmbd, NH = c.nHead, hs = C / NH, T = c.blockSize
        let heads = AttentionHeadsJob(q: q, keys: kCache.pointer + l * T * C, values: vCache.pointer + l * T * C, out: out,
                                      scores: scores.pointer, position: pos, width: C, headSize: hs, blockSize: T,
                                      scale: 1 / Float(hs).squareRoot(), bias: weights.angularBias(o),
                                      roundsWeights: weights.pairedLayers != nil)
        parallelRanges(NH, granule: 1, minimumParallel: usesThreadPool && (pos + 1) * C >= 1 << 14 ? 1 : NH + 1, heads)
    }

    /// One row through the same LayerNorm kernel the batched forward uses.
    private func layerNorm(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                           _ b: UnsafePointer<Float>, _ C: Int, _ eps: Float) {
        var mean: Float = 0, rstd: Float = 0
        LayerNorm.forward(out: y, mean: &mean, rstd: &rstd, inp: x, weight: w, bias: b, N: 1, C: C, eps: eps)
    }
}

/// One token's attention for heads `range`: scores against every cached key, softmax, and the
/// weighted sum of the cached values. Each head has its own row of `scores`.
struct AttentionHeadsJob: RangeJob {
    let q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>
    let position: Int, width: Int, headSize: Int, blockSize: Int, scale: Float
    let bias: AngularBias?
    /// The session's products round their inputs to bf16 (pair layout), so the attention
    /// weights are rounded too, as the batched bf16 forward's P·V does.
    let roundsWeights: Bool

    func run(_ range: Range<Int>) {
        let pos = position, C = width, hs = headSize
        for h in range {
            let q = self.q + h * hs, scores = self.scores + h * blockSize
            for t2 in 0...pos { scores[t2] = dot(q, keys + t2 * C + h * hs, hs) * scale }
            if let bias {
                let slope = bias.slopes[h], dist = bias.distances + pos * bias.stride
                for t2 in 0...pos { scores[t2] -= slope * dist[t2] }
            }
            softmaxInPlace(scores, pos + 1)
            if roundsWeights { roundToBFloat16(scores, pos + 1) }
            let y = out + h * hs
            y.update(repeating: 0, count: hs)
            for t2 in 0...pos { axpy(y, scores[t2], values + t2 * C + h * hs, hs) }
        }
    }
}
