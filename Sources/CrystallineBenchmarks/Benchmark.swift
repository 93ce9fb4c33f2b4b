// Timing of full training steps (forward, backward, clipping, AdamW) and of cached generation.
//
// FLOPs are counted with nanoGPT's formula (estimate_mfu): per token 6·N + 12·L·C·T, where N is
// the parameter count without the position table; the attention term counts the full T×T
// scores although the kernels skip the masked half.
import Foundation
import CrystallineCompute
import CrystallineModel
import CrystallineTraining
import CrystallineInference

public struct BenchmarkResult: Sendable {
    public var msPerStep: Double
    public var tokensPerSecond: Double
    public var gflops: Double
    public var generateTokensPerSecond: Double
}

public enum BenchmarkRunner {
    public static func flopsPerToken(_ c: GPTConfig) -> Double {
        let n = Double(c.parameterCount - c.blockSize * c.nEmbd)
        return 6 * n + 12 * Double(c.nLayer * c.nEmbd * c.blockSize)
    }

    public static func run(config: GPTConfig, batch B: Int, steps: Int, warmup: Int = 3, generateTokens: Int = 128,
                           precision: Precision = .fp32, activationMemory: ActivationMemory = .automatic) throws -> BenchmarkResult {
        let T = config.blockSize
        let model = try GPT(config: config, seed: 1)
        model.precision = precision
        model.activationMemory = activationMemory
        var optimizer: Optimizer? = Optimizer(settings: OptimizerSettings(kind: .adamw, beta1: 0.9, beta2: 0.99, weightDecay: 0.1), layout: model.layout)
        var rng = Xoshiro256(seed: 7)
        let tokens = (0..<(B * T)).map { _ in Int32(rng.nextInt(below: config.vocabSize)) }
        let targets = (0..<(B * T)).map { _ in Int32(rng.nextInt(below: config.vocabSize)) }
        var times: [Double] = []
        let clock = ContinuousClock()
        try tokens.withUnsafeBufferPointer { tp in
            try targets.withUnsafeBufferPointer { gp in
                for i in 0..<(warmup + steps) {
                    let t0 = clock.now
                    model.zeroGradients()
                    _ = try model.forward(tokens: tp, targets: gp, B: B, T: T, training: true)
                    model.backward()
                    clipGradients(model.gradients, maxNorm: 1)
                    optimizer!.step(parameters: model.parameters, gradients: model.gradients, lr: 1e-4)
                    model.refreshLowPrecisionWeights()
                    if i >= warmup { times.append((clock.now - t0).seconds) }
                }
            }
        }
        let median = times.sorted()[times.count / 2]
        let tokensPerSecond = Double(B * T) / median
        // Generation: batch 1, `generateTokens` new tokens from a fresh session, sampled; the median
        // of 5 sessions (one session is a fraction of a second, too short to time once).
        let n = min(generateTokens, T - 1)
        var rates: [Double] = []
        // The optimizer's moments go before the weights are copied for inference, so that the
        // peak memory of a bench run is that of the training step (the moments are larger).
        optimizer = nil
        let weights = model.snapshot()
        for round in 0..<5 {
            let generator = TokenGenerator(session: InferenceSession(weights: weights), sampling: SamplingOptions(temperature: 1),
                                           seed: 3 &+ UInt64(round))
            try generator.feed([0])
            let g0 = clock.now
            for _ in 0..<n { _ = try generator.next() }
            try generator.commit()
            rates.append(Double(n) / (clock.now - g0).seconds)
        }
        let generateRate = rates.sorted()[2]
        return BenchmarkResult(msPerStep: median * 1000, tokensPerSecond: tokensPerSecond,
                               gflops: flopsPerToken(config) * tokensPerSecond / 1e9,
                               generateTokensPerSecond: generateRate)
    }
}
