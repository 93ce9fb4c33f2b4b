import XCTest
import CrystallineCompute
@testable import CrystallineModel
import TestSupport

final class InferenceTests: XCTestCase {
    func testCachedLogitsEqualFullRecomputation() throws {
        let fx = try ReferenceFixture.load()
        let model = try fx.makeModel()
        let (worst, _, _) = try cachedVersusFullLogitsError(model, Array(fx.tokens[0..<fx.config.block_size]))
        XCTAssertLessThan(worst, 1e-4)
    }

    /// Q8_0 weights: the session's products run on 8-bit blocks (its logits move by
    /// quantization-sized amounts from the float32 forward, not more), the token embedding is the
    /// dequantized row, and a width that GGML's blocks cannot tile is refused.
    func testQ8SessionStaysWithinQuantizationError() throws {
        let config = GPTConfig(vocabSize: 50, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 64)
        let model = try GPT(config: config, seed: 5)
        let tokens: [Int32] = [3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 3, 2, 38, 46, 26]
        try model.forward(tokens: tokens, targets: nil, B: 1, T: tokens.count)
        let full = Array(model.lastLogits)
        let weights = model.snapshot().converted(to: WeightFormat.q8_0)
        XCTAssertEqual(weights.format, .q8_0)
        XCTAssertEqual(weights.precision, .fp32, "batched evaluation of q8_0 weights reads float32")
        let q8 = try XCTUnwrap(weights.quantized)
        XCTAssertEqual(q8.layers[0].fc.rows, 4 * 64); XCTAssertEqual(q8.layers[0].fc.columns, 64)
        XCTAssertEqual(q8.head.rows, 50)
        let session = InferenceSession(weights: weights)
        var worst: Float = 0, largest: Float = 0
        for (t, token) in tokens.enumerated() {
            try session.step(token)
            for v in 0..<50 { worst = max(worst, abs(session.logits[v] - full[t * 50 + v])); largest = max(largest, abs(full[t * 50 + v])) }
        }
        XCTAssertLessThan(worst, 0.05 * max(largest, 1), "q8_0 logits must stay within quantization error")
        XCTAssertGreaterThan(worst, 1e-6, "the q8_0 session must not silently run float32")
        var narrow = config
        narrow.nEmbd = 48
        XCTAssertThrowsError(try ModelWeights(config: narrow, parameters: model.parameters.pointer, format: .q8_0)) {
            XCTAssertTrue("\($0)".contains("multiple of 32"), "\($0)")
        }
    }

    /// A prompt fed at once goes through the layers as matrix products (`prefill`): its logits
    /// equal token-by-token stepping up to summation order, in float32 and bf16 weights, over
    /// more than one 128-token chunk; cutting the prompt differently changes nothing beyond
    /// summation order; and stepping on from a prefilled cache gives what stepping all along gives.
    func testPrefillEqualsStepping() throws {
        let config = GPTConfig(vocabSize: 40, blockSize: 320, nLayer: 2, nHead: 2, nEmbd: 32)
        let model = try GPT(config: config, seed: 8)
        let tokens = (0..<300).map { Int32(($0 * 7 + 3) % 40) }
        for format in [WeightFormat.fp32, .bf16] {
            let weights = model.snapshot().converted(to: format)
            let stepped = InferenceSession(weights: weights), whole = InferenceSession(weights: weights)
            let pieces = InferenceSession(weights: weights)
            for t in tokens.prefix(299) { try stepped.step(t) }
            try whole.append(Array(tokens.prefix(299)))
            try pieces.append(Array(tokens.prefix(5))); try pieces.append(Array(tokens[5..<200])); try pieces.append(Array(tokens[200..<299]))
            XCTAssertEqual(whole.history, stepped.history)
            var worst: Float = 0, largest: Float = 0
            for v in 0..<40 { worst = max(worst, abs(whole.logits[v] - stepped.logits[v])); largest = max(largest, abs(stepped.logits[v])) }
            XCTAssertLessThan(worst, 1e-4 * max(1, largest), "\(format): prefill against stepping")
            for v in 0..<40 { XCTAssertEqual(pieces.logits[v], whole.logits[v], accuracy: 1e-5 * max(1, largest), "\(format): chunking") }
            try whole.step(tokens[299]); try stepped.step(tokens[299])
            for v in 0..<40 { XCTAssertEqual(whole.logits[v], stepped.logits[v], accuracy: 1e-4 * max(1, largest), "\(format): step after prefill") }
        }
    }

    /// A Q8_0 prompt fed at once runs its chunk products on the exactly dequantized weights in
    /// float32 (`gemm(quantizedB:)`). On weights that Q8_0 represents exactly (quantized and
    /// dequantized once: quantizing again gives the same blocks) it must therefore equal a
    /// float32 session over the same values up to summation order, across two chunks, while
    /// stepping, which also quantizes each input, differs from both by more.
    func testQ8PrefillEqualsFloatProductsOfTheSameWeights() throws {
        let config = GPTConfig(vocabSize: 40, blockSize: 320, nLayer: 2, nHead: 2, nEmbd: 32)
        let model = try GPT(config: config, seed: 9)
        let layout = model.snapshot().layout, C = config.nEmbd
        var values = Array(UnsafeBufferPointer(start: model.parameters.pointer, count: layout.totalCount))
        values.withUnsafeMutableBufferPointer { buffer in
            let p = buffer.baseAddress!
            // Element (r, c) of a Q8_0 matrix (row r = output r) at p[offset + r·rowStride + c·columnStride].
            func roundTrip(_ offset: Int, rows: Int, columns: Int, rowStride: Int, columnStride: Int) {
                let quants = UnsafeMutablePointer<Int8>.allocate(capacity: rows * columns)
                let scales = UnsafeMutablePointer<Float>.allocate(capacity: rows * columns / 32)
                let row = UnsafeMutablePointer<Float>.allocate(capacity: columns)
                defer { quants.deallocate(); scales.deallocate(); row.deallocate() }
                let q = Q8Matrix.quantize(p + offset, rows: rows, columns: columns, rowStride: rowStride, columnStride: columnStride,
                                          quants: quants, scales: scales)
                for r in 0..<rows {
                    q.dequantizeRow(r, into: row)
                    for c in 0..<columns { p[offset + r * rowStride + c * columnStride] = row[c] }
                }
            }
            for o in layout.layers {
                roundTrip(o.qkvWeight, rows: 3 * C, columns: C, rowStride: 1, columnStride: 3 * C)
                roundTrip(o.attnProjWeight, rows: C, columns: C, rowStride: 1, columnStride: C)
                roundTrip(o.fcWeight, rows: 4 * C, columns: C, rowStride: 1, columnStride: 4 * C)
                roundTrip(o.fcProjWeight, rows: C, columns: 4 * C, rowStride: 1, columnStride: C)
            }
            roundTrip(layout.wte, rows: config.vocabSize, columns: C, rowStride: C, columnStride: 1)
        }
        let tokens = (0..<300).map { Int32(($0 * 11 + 5) % 40) }
        let exact = InferenceSession(weights: try ModelWeights(config: config, parameters: values, format: .fp32))
        let quantized = try ModelWeights(config: config, parameters: values, format: .q8_0)
        let prompt = InferenceSession(weights: quantized), stepped = InferenceSession(weights: quantized)
        try exact.append(tokens)
        try prompt.append(tokens)
        for t in tokens { try stepped.step(t) }
        // The last layer's keys and values depend on every product before them. (The logits do
        // not show the difference: the LM head of a Q8_0 session quantizes its input either way.)
        let want = exact.cachedKeysAndValues(layer: 1), viaPrompt = prompt.cachedKeysAndValues(layer: 1)
        let viaSteps = stepped.cachedKeysAndValues(layer: 1)
        XCTAssertEqual(viaPrompt.keys.count, 300 * C)
        var prefillError: Float = 0, stepError: Float = 0, largest: Float = 0
        for i in want.keys.indices {
            for (got, reference) in [(viaPrompt.keys[i], want.keys[i]), (viaPrompt.values[i], want.values[i])] {
                prefillError = max(prefillError, abs(got - reference)); largest = max(largest, abs(reference))
            }
            stepError = max(stepError, abs(viaSteps.keys[i] - want.keys[i]), abs(viaSteps.values[i] - want.values[i]))
        }
        XCTAssertLessThan(prefillError, 1e-4 * max(1, largest), "Q8_0 prefill against float32 products of the same weights")
        XCTAssertLessThan(stepError, 0.05 * max(1, largest), "Q8_0 stepping stays within the input quantization")
        XCTAssertGreaterThan(stepError, 10 * prefillError, "stepping quantizes its inputs; the prefill must not")
        var logitGap: Float = 0, logitScale: Float = 0
        for v in 0..<40 { logitGap = max(logitGap, abs(prompt.logits[v] - stepped.logits[v])); logitScale = max(logitScale, abs(stepped.logits[v])) }
        XCTAssertLessThan(logitGap, 0.05 * max(1, logitScale), "prompt and stepped logits agree to quantization")
        // The first token generated after the prompt steps on the quantized products again.
        try prompt.step(7); try stepped.step(7)
        for v in 0..<40 { XCTAssertEqual(prompt.logits[v], stepped.logits[v], accuracy: 0.05 * max(1, logitScale)) }
    }

    func testSessionSlidesPastTheBlockSize() throws {
        let fx = try ReferenceFixture.load()
        let model = try fx.makeModel()
        let session = InferenceSession(weights: model.snapshot())
        let T = fx.config.block_size
        for i in 0..<(3 * T) { try session.step(Int32(i % fx.config.vocab_size)) }
        XCTAssertLessThanOrEqual(session.position, T)
        // After the slide the logits equal a fresh pass over the retained window.
        let window = session.history
        try model.forward(tokens: window, targets: nil, B: 1, T: window.count)
        let last = Array(model.lastLogits.suffix(fx.config.vocab_size))
        for (a, b) in zip(session.logits, last) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
    }

    /// A snapshot is a copy: training the workspace afterwards does not change what a session
    /// over the snapshot computes, and a workspace built from weights reproduces them exactly.
    func testSnapshotIsIndependentOfTheWorkspace() throws {
        let fx = try ReferenceFixture.load()
        let model = try fx.makeModel()
        let weights = model.snapshot()
        let sequence = Array(fx.tokens[0..<8])
        let before = try InferenceSession(weights: weights).feed(sequence)
        for i in 0..<model.parameterCount { model.parameters[i] *= 0.5 }
        XCTAssertEqual(try InferenceSession(weights: weights).feed(sequence), before)
        XCTAssertNotEqual(try InferenceSession(weights: model.snapshot()).feed(sequence), before)
        let rebuilt = try GPT(weights: weights)
        XCTAssertEqual(rebuilt.parameters.array, Array(UnsafeBufferPointer(start: weights.parameters, count: weights.parameterCount)))
        XCTAssertEqual(weights.tensor("wte.weight")!.count, fx.config.vocab_size * fx.config.n_embd)
    }

    func testGreedyAtTemperatureZero() {
        var s = Sampler(options: SamplingOptions(temperature: 0), seed: 1)
        let logits: [Float] = [0.1, 3, -2, 2.9]
        logits.withUnsafeBufferPointer { XCTAssertEqual(s.sample($0), 1) }
    }

    func testSamplingStaysInsideTopKAndTopP() {
        var rng = Xoshiro256(seed: 5)
        let logits = (0..<50).map { _ in rng.nextFloat() * 6 }
        let ranked = logits.indices.sorted { logits[$0] > logits[$1] }
        logits.withUnsafeBufferPointer { lp in
            var topK = Sampler(options: SamplingOptions(temperature: 1, topK: 5), seed: 2)
            let allowedK = Set(ranked.prefix(5))
            var seen = Set<Int>()
            for _ in 0..<2000 { let t = Int(topK.sample(lp)); XCTAssertTrue(allowedK.contains(t)); seen.insert(t) }
            XCTAssertEqual(seen.count, 5, "all top-k tokens should be reachable")

            var topP = Sampler(options: SamplingOptions(temperature: 0.7, topP: 0.5), seed: 3)
            let allowedP = Set(topP.candidates(lp).map(\.token))
            // Independent computation of the nucleus.
            let scaled = logits.map { Double($0) / 0.7 }
            let mx = scaled.max()!
            let e = scaled.map { Foundation.exp($0 - mx) }
            let z = e.reduce(0, +)
            var cum = 0.0, nucleus = Set<Int>()
            for i in ranked { nucleus.insert(i); cum += e[i] / z; if cum >= 0.5 { break } }
            XCTAssertEqual(allowedP, nucleus)
            XCTAssertLessThan(allowedP.count, 50)
            for _ in 0..<2000 { XCTAssertTrue(allowedP.contains(Int(topP.sample(lp)))) }
        }
    }
}

final class MixedPrecisionTests: XCTestCase {
    /// With bf16 weights the KV-cached session reads the same bf16 copy as the batched forward.
    /// Where the CPU has AVX512_BF16 its mat-vec (pair layout, `vdpbf16ps`) also rounds the
    /// activations, so it is compared with the forward that does the same; elsewhere with the
    /// forward that rounds only the weights. Either way only the summation order differs.
    func testBF16CachedGenerationMatchesBF16Forward() throws {
        let fx = try ReferenceFixture.load()
        let model = try fx.makeModel()
        model.precision = .bf16
        let sequence = Array(fx.tokens[0..<fx.config.block_size])
        model.roundsActivations = BF16GEMMKernel.active != nil
        XCTAssertEqual(model.snapshot().pairedLayers != nil, BF16GEMMKernel.active != nil)
        let (worst, _, full) = try cachedVersusFullLogitsError(model, sequence)
        XCTAssertLessThan(worst, 1e-4)
        model.roundsActivations.toggle()
        let (otherWorst, _, _) = try cachedVersusFullLogitsError(model, sequence)
        XCTAssertLessThan(otherWorst, 5e-2)
        if BF16GEMMKernel.active != nil { XCTAssertGreaterThan(otherWorst, 1e-6, "the session must round the activations") }
        model.precision = .fp32
        try model.forward(tokens: sequence, targets: nil, B: 1, T: sequence.count)
        XCTAssertNotEqual(Array(model.lastLogits), full, "the bf16 session must not silently use fp32 weights")
    }

    func testBFloat16Rounding() {
        XCTAssertEqual(BFloat16(1).floatValue, 1)
        XCTAssertEqual(BFloat16(-2.5).floatValue, -2.5)
        // 1 + 2^-8 lies halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to even (1).
        XCTAssertEqual(BFloat16(1 + 1.0 / 256).floatValue, 1)
        XCTAssertEqual(BFloat16(1 + 3.0 / 256).floatValue, 1 + 4.0 / 256)
        XCTAssertEqual(BFloat16(0.1).floatValue, 0.10009765625)
        XCTAssertTrue(BFloat16(.nan).floatValue.isNaN)
    }

    /// bf16 weights really feed the products (the loss moves by rounding-sized amounts) while
    /// the float32 master weights and gradients stay close to the float32 run.
    func testBF16WeightsAreUsedAndStayClose() throws {
        let fx = try ReferenceFixture.load()
        let model = try fx.makeModel()
        let B = fx.config.batch, T = fx.config.block_size
        let lossFP32 = try model.forward(tokens: fx.tokens, targets: fx.targets, B: B, T: T)!
        model.zeroGradients(); model.backward()
        let gradFP32 = model.gradients.array
        model.precision = .bf16
        let lossBF16 = try model.forward(tokens: fx.tokens, targets: fx.targets, B: B, T: T)!
        model.zeroGradients(); model.backward()
        XCTAssertNotEqual(lossBF16, lossFP32, "bf16 path must actually run")
        XCTAssertEqual(lossBF16, lossFP32, accuracy: 2e-2)
        XCTAssertLessThan(relativeMaxError(model.gradients.array, gradFP32.map(Double.init)), 5e-2)
        // A change of the master weights reaches the bf16 copy only through refresh.
        let fc = model.layout.tensor(named: "h.0.mlp.c_fc.weight")!.offset
        model.parameters[fc] += 1
        let stale = try model.forward(tokens: fx.tokens, targets: fx.targets, B: B, T: T)!
        XCTAssertEqual(stale, lossBF16)
        model.refreshLowPrecisionWeights()
        XCTAssertNotEqual(try model.forward(tokens: fx.tokens, targets: fx.targets, B: B, T: T)!, lossBF16)
    }
}
