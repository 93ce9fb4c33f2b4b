// Single-sequence inference with a key/value cache.
//
// Each new token costs one pass of matrix–vector products over the weights plus attention over
// the cached keys and values, instead of recomputing the whole prefix. When the context reaches
// the block size the session keeps the most recent half and re-reads it (amortised O(1) per
// token), since learned position embeddings only exist up to block_size.
import CKernels
import CrystallineCompute

public final class InferenceSession {
    public let model: GPT
    public private(set) var history: [Int32] = []
    private let kCache: FloatBuffer, vCache: FloatBuffer
    private let x: FloatBuffer, ln: FloatBuffer, qkv: FloatBuffer, atty: FloatBuffer, tmp: FloatBuffer
    private let fc: FloatBuffer, logitsBuffer: FloatBuffer, scores: FloatBuffer

    public init(model: GPT) {
        self.model = model
        let c = model.config, C = c.nEmbd
        kCache = FloatBuffer(count: c.nLayer * c.blockSize * C)
        vCache = FloatBuffer(count: c.nLayer * c.blockSize * C)
        x = FloatBuffer(count: C); ln = FloatBuffer(count: C); qkv = FloatBuffer(count: 3 * C)
        atty = FloatBuffer(count: C); tmp = FloatBuffer(count: C); fc = FloatBuffer(count: 8 * C)
        logitsBuffer = FloatBuffer(count: c.vocabSize); scores = FloatBuffer(count: c.blockSize)
    }

    public var position: Int { min(history.count, model.config.blockSize) }

    public func reset() { history.removeAll(keepingCapacity: true) }

    /// Feeds `tokens` in order and returns the logits after the last one.
    @discardableResult
    public func feed(_ tokens: [Int32]) throws -> [Float] {
        precondition(!tokens.isEmpty)
        for t in tokens { try step(t) }
        return logitsBuffer.array
    }

    /// Logits after the most recent token.
    public var logits: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: logitsBuffer.pointer, count: logitsBuffer.count) }

    /// Appends one token and computes the next-token logits.
    public func step(_ token: Int32) throws {
        let c = model.config
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
        // the products stream half the bytes.
        if model.precision == .bf16, let w = model.lowPrecisionWeights {
            compute(token: token, at: pos, weights: w)
        } else {
            compute(token: token, at: pos, weights: UnsafePointer(model.parameters.pointer))
        }
    }

    private func compute<W: GEMMElement>(token: Int32, at pos: Int, weights w: UnsafePointer<W>) {
        let c = model.config, C = c.nEmbd, NH = c.nHead, hs = C / NH, T = c.blockSize
        let lay = model.layout, p = model.parameters.pointer
        let x = self.x.pointer, ln = self.ln.pointer, qkv = self.qkv.pointer, atty = self.atty.pointer
        let fc = self.fc.pointer, fcg = self.fc.pointer + 4 * C, scores = self.scores.pointer
        let te = p + lay.wte + Int(token) * C, pe = p + lay.wpe + pos * C
        for i in 0..<C { x[i] = te[i] + pe[i] }
        let scale = 1 / Float(hs).squareRoot()
        for (l, o) in lay.layers.enumerated() {
            layerNorm(ln, x, p + o.ln1Weight, p + o.ln1Bias, C, c.layerNormEpsilon)
            matVec(qkv, ln, w + o.qkvWeight, p + o.qkvBias, C, 3 * C)
            let kc = kCache.pointer + l * T * C, vc = vCache.pointer + l * T * C
            (kc + pos * C).update(from: qkv + C, count: C)
            (vc + pos * C).update(from: qkv + 2 * C, count: C)
            for h in 0..<NH {
                let q = qkv + h * hs
                for t2 in 0...pos { scores[t2] = dot(q, kc + t2 * C + h * hs, hs) * scale }
                if let bias = model.angularBias(o, partials: nil) {
                    let slope = bias.slopes[h], dist = bias.distances + pos * bias.stride
                    for t2 in 0...pos { scores[t2] -= slope * dist[t2] }
                }
                softmaxInPlace(scores, pos + 1)
                let y = atty + h * hs
                y.update(repeating: 0, count: hs)
                for t2 in 0...pos { axpy(y, scores[t2], vc + t2 * C + h * hs, hs) }
            }
            matVec(tmp.pointer, atty, w + o.attnProjWeight, p + o.attnProjBias, C, C)
            addInPlace(x, tmp.pointer, C)
            layerNorm(ln, x, p + o.ln2Weight, p + o.ln2Bias, C, c.layerNormEpsilon)
            matVec(fc, ln, w + o.fcWeight, p + o.fcBias, C, 4 * C)
            GELU.forward(out: fcg, inp: fc, count: 4 * C)
            matVec(tmp.pointer, fcg, w + o.fcProjWeight, p + o.fcProjBias, 4 * C, C)
            addInPlace(x, tmp.pointer, C)
        }
        layerNorm(ln, x, p + lay.lnfWeight, p + lay.lnfBias, C, c.layerNormEpsilon)
        // The tied LM head reads the same weight storage as the batched forward.
        let V = c.vocabSize
        parallelRanges(V, granule: 1, minimumParallel: V * C >= 1 << 16 ? 1 : V + 1,
                       HeadJob(out: logitsBuffer.pointer, x: ln, wte: w + lay.wte, C: C))
    }

    /// y[OC] = x[IC]·W[IC,OC] + b, streaming W four rows at a time (memory-bound; split over columns).
    private func matVec<W: GEMMElement>(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<W>,
                        _ b: UnsafePointer<Float>, _ IC: Int, _ OC: Int) {
        parallelRanges(OC, granule: 8, minimumParallel: IC * OC >= 1 << 16 ? 1 : OC + 1,
                       MatVecJob(y: y, x: x, w: w, b: b, IC: IC, OC: OC))
    }

    /// Columns `cols` of y = x·W + b.
    struct MatVecJob<W: GEMMElement>: RangeJob {
        let y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<W>, b: UnsafePointer<Float>
        let IC: Int, OC: Int
        func run(_ cols: Range<Int>) {
            let y0 = y + cols.lowerBound, n = cols.count
            y0.update(from: b + cols.lowerBound, count: n)
            if W.self == Float.self {
                let wf = UnsafeRawPointer(w).assumingMemoryBound(to: Float.self)
                cllm_matvec_f32(IC, n, x, wf + cols.lowerBound, OC, y0)
            } else {
                let wb = UnsafeRawPointer(w).assumingMemoryBound(to: UInt16.self)
                cllm_matvec_bf16(IC, n, x, wb + cols.lowerBound, OC, y0)
            }
        }
    }

    /// Logits `rows` of the tied head: out[v] = x · wte[v].
    struct HeadJob<W: GEMMElement>: RangeJob {
        let out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, wte: UnsafePointer<W>, C: Int
        func run(_ rows: Range<Int>) {
            if W.self == Float.self {
                let wf = UnsafeRawPointer(wte).assumingMemoryBound(to: Float.self)
                for v in rows { out[v] = dot(x, wf + v * C, C) }
            } else {
                let wb = UnsafeRawPointer(wte).assumingMemoryBound(to: UInt16.self)
                for v in rows { out[v] = dotBF16(x, wb + v * C, C) }
            }
        }
    }

    /// One row through the same LayerNorm kernel the batched forward uses.
    private func layerNorm(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                           _ b: UnsafePointer<Float>, _ C: Int, _ eps: Float) {
        var mean: Float = 0, rstd: Float = 0
        LayerNorm.forward(out: y, mean: &mean, rstd: &rstd, inp: x, weight: w, bias: b, N: 1, C: C, eps: eps)
    }
}
