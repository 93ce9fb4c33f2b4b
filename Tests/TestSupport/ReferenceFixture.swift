import Foundation
import CrystallineModel
import CrystallineCompute

/// The PyTorch reference written by scripts/make_reference.py.
public struct ReferenceFixture: Decodable {
    public struct Config: Decodable { public let vocab_size, block_size, n_layer, n_head, n_embd, batch: Int }
    public struct AdamW: Decodable { public let lr, beta1, beta2, eps, weight_decay: Double }
    public let config: Config
    public let adamw: AdamW
    public let tokens: [Int32]
    public let targets: [Int32]
    public let parameters: [String: [Double]]
    public let logits: [Double]
    public let loss: Double
    public let gradients: [String: [Double]]
    public let adamw_losses: [Double]

    public static func load(file: String = #filePath) throws -> ReferenceFixture {
        let url = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/gpt_reference.json")
        return try JSONDecoder().decode(ReferenceFixture.self, from: Data(contentsOf: url))
    }

    public var gptConfig: GPTConfig {
        GPTConfig(vocabSize: config.vocab_size, blockSize: config.block_size, nLayer: config.n_layer,
                  nHead: config.n_head, nEmbd: config.n_embd)
    }

    /// A model holding exactly the fixture's weights.
    public func makeModel() throws -> GPT {
        let model = try GPT(config: gptConfig)
        for t in model.layout.tensors {
            guard let values = parameters[t.name] else { throw ModelError.missingTensor(t.name) }
            model.parameters.load(values.map(Float.init), at: t.offset)
        }
        return model
    }
}

/// max |a − b| / max |b|, the tolerance measure the reference test uses.
public func relativeMaxError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var worst = 0.0, scale = 0.0
    for i in 0..<a.count { worst = max(worst, abs(Double(a[i]) - b[i])); scale = max(scale, abs(b[i])) }
    return worst / max(scale, 1e-30)
}

/// Whole-model gradient check: runs one training forward/backward on the batch (dropout masks
/// held fixed by restoring `dropoutSeed` before every pass), then compares the analytic gradient
/// at `probes` with central differences of step `h`. Returns the largest error relative to the
/// largest gradient magnitude, and each probe's (numeric, analytic) pair for checks that need a
/// per-entry scale (a tensor whose gradients are small next to the largest one).
public func wholeModelGradientError(_ model: GPT, tokens: [Int32], targets: [Int32], B: Int, T: Int,
                                    probes: [Int], dropoutSeed: Xoshiro256 = Xoshiro256(seed: 9), h: Float = 1e-2)
    -> (error: Double, gradient: [Float], pairs: [Int: (numeric: Double, analytic: Double)]) {
    func loss() -> Double {
        model.dropoutRNG = dropoutSeed
        return Double(try! model.forward(tokens: tokens, targets: targets, B: B, T: T, training: true)!)
    }
    _ = loss()
    model.zeroGradients()
    model.backward()
    let analytic = model.gradients.array
    let scale = analytic.map { abs(Double($0)) }.max()!
    var worst = 0.0
    var pairs: [Int: (numeric: Double, analytic: Double)] = [:]
    for i in probes {
        let saved = model.parameters[i]
        model.parameters[i] = saved + h; let up = loss()
        model.parameters[i] = saved - h; let down = loss()
        model.parameters[i] = saved
        let numeric = (up - down) / Double(2 * h)
        pairs[i] = (numeric, Double(analytic[i]))
        worst = max(worst, abs(numeric - Double(analytic[i])) / scale)
    }
    return (worst, analytic, pairs)
}

/// Runs `sequence` once through the batched forward and once token by token through a
/// KV-cached session; returns the largest |cached − full| / max(1, |full|), the largest absolute
/// difference, and the full logits.
public func cachedVersusFullLogitsError(_ model: GPT, _ sequence: [Int32]) throws -> (worst: Float, worstAbsolute: Float, full: [Float]) {
    try model.forward(tokens: sequence, targets: nil, B: 1, T: sequence.count)
    let full = Array(model.lastLogits)
    let V = model.config.vocabSize
    let session = InferenceSession(weights: model.snapshot())
    var worst: Float = 0, worstAbsolute: Float = 0
    for (t, token) in sequence.enumerated() {
        try session.step(token)
        for v in 0..<V {
            let d = abs(session.logits[v] - full[t * V + v])
            worst = max(worst, d / max(1, abs(full[t * V + v])))
            worstAbsolute = max(worstAbsolute, d)
        }
    }
    return (worst, worstAbsolute, full)
}
