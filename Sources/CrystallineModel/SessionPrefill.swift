// Prompt processing for `InferenceSession`: several tokens through the layers at once.
//
// Why: a token on its own costs a mat-vec per weight matrix, which reads every weight from
// memory to use it once. A chunk of tokens shares each read: its products are matrix–matrix
// (the training GEMM, same arithmetic as the session's products: float32, or bfloat16 inputs
// where the session rounds them), and only the attention, which depends on each token's
// position, stays per token. The cache differs from token-by-token stepping only in the last
// bits (the mat-vec sums in another order). With Q8_0 weights the chunk's products dequantize
// the weights exactly and run in float32 (`gemm(quantizedB:)`); stepping quantizes each input
// to Q8_0 as well, so there the two agree to that quantization.
import CrystallineCompute

extension InferenceSession {
    /// Tokens per chunk: bounds the scratch (15·C floats per token) and keeps a chunk's
    /// activations in cache.
    static let prefillChunk = 128

    /// Appends `tokens` (all valid ids; they fit in the context) and computes the logits after
    /// the last one.
    func prefill(_ tokens: [Int32]) {
        if let w = weights.lowPrecision { prefill(tokens, matrices: w) } else { prefill(tokens, matrices: weights.parameters) }
    }

    private func prefill<W: GEMMElement>(_ tokens: [Int32], matrices w: UnsafePointer<W>) {
        let c = weights.config, C = c.nEmbd, lay = weights.layout, p = weights.parameters
        // The session's products round their inputs to bf16 where its layers are in pair layout.
        let arithmetic: GEMMArithmetic = weights.pairedLayers != nil ? .bfloat16 : .float32
        let rows = min(tokens.count, Self.prefillChunk)
        let buffers = FloatBuffer(count: rows * 15 * C)
        let x = buffers.pointer, ln = x + rows * C, qkv = ln + rows * C, atty = qkv + rows * 3 * C
        let tmp = atty + rows * C, fc = tmp + rows * C, fcg = fc + rows * 4 * C
        let mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
        let q8 = weights.quantized
        /// out = inp·W + b for the chunk's n rows, on the layer's Q8_0 copy where there is one.
        func product(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ quantized: Q8Matrix?,
                     _ weight: UnsafePointer<W>, bias: UnsafePointer<Float>, n: Int, inputs: Int, outputs: Int) {
            if let quantized {
                gemm(m: n, n: outputs, k: inputs, a: inp, lda: inputs, quantizedB: quantized, c: out, ldc: outputs, bias: bias)
            } else {
                Linear.forward(out: out, inp: inp, weight: weight, bias: bias, N: n, IC: inputs, OC: outputs, arithmetic: arithmetic)
            }
        }
        var start = 0
        while start < tokens.count {
            let n = min(rows, tokens.count - start), pos0 = history.count
            for i in 0..<n { embed(tokens[start + i], at: pos0 + i, into: x + i * C) }
            for (l, o) in lay.layers.enumerated() {
                LayerNorm.forward(out: ln, mean: mean.pointer, rstd: rstd.pointer, inp: x, weight: p + o.ln1Weight, bias: p + o.ln1Bias,
                                  N: n, C: C, eps: c.layerNormEpsilon)
                let quantized = q8?.layers[l]
                product(qkv, ln, quantized?.qkv, w + o.qkvWeight, bias: p + o.qkvBias, n: n, inputs: C, outputs: 3 * C)
                if weights.pairedLayers != nil { roundToBFloat16(qkv, n * 3 * C) }
                for i in 0..<n { cacheKeysAndValues(of: qkv + i * 3 * C, layer: l, position: pos0 + i) }
                for i in 0..<n { attend(q: qkv + i * 3 * C, layer: l, offsets: o, position: pos0 + i, into: atty + i * C) }
                product(tmp, atty, quantized?.attnProj, w + o.attnProjWeight, bias: p + o.attnProjBias, n: n, inputs: C, outputs: C)
                addInPlace(x, tmp, n * C)
                LayerNorm.forward(out: ln, mean: mean.pointer, rstd: rstd.pointer, inp: x, weight: p + o.ln2Weight, bias: p + o.ln2Bias,
                                  N: n, C: C, eps: c.layerNormEpsilon)
                product(fc, ln, quantized?.fc, w + o.fcWeight, bias: p + o.fcBias, n: n, inputs: C, outputs: 4 * C)
                GELU.forward(out: fcg, inp: fc, count: n * 4 * C)
                product(tmp, fcg, quantized?.fcProj, w + o.fcProjWeight, bias: p + o.fcProjBias, n: n, inputs: 4 * C, outputs: C)
                addInPlace(x, tmp, n * C)
            }
            history.append(contentsOf: tokens[start..<(start + n)])
            start += n
            if start == tokens.count { computeLogits(from: x + (n - 1) * C, matrices: w) }
        }
    }
}
