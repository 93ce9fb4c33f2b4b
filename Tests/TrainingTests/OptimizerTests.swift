import XCTest
import CrystallineCompute
import CrystallineModel
import TestSupport
import CrystallineData
import CrystallineInterop
@testable import CrystallineTraining

final class OptimizerTests: XCTestCase {
    /// The losses of 10 AdamW steps on the fixture batch equal PyTorch's (decay on 2-D weights
    /// except the position table, no clipping, constant lr).
    func testAdamWTrajectoryMatchesPyTorch() throws {
        let fx = try ReferenceFixture.load()
        let model = try fx.makeModel()
        let a = fx.adamw
        let opt = Optimizer(settings: OptimizerSettings(kind: .adamw, beta1: a.beta1, beta2: a.beta2, eps: a.eps,
                                                        weightDecay: a.weight_decay), layout: model.layout)
        var losses: [Double] = []
        for _ in 0..<10 {
            model.zeroGradients()
            losses.append(Double(try model.forward(tokens: fx.tokens, targets: fx.targets, B: fx.config.batch, T: fx.config.block_size)!))
            model.backward()
            opt.step(parameters: model.parameters, gradients: model.gradients, lr: a.lr)
        }
        for (got, want) in zip(losses, fx.adamw_losses) { XCTAssertEqual(got, want, accuracy: 1e-4) }
        XCTAssertLessThan(losses.last!, losses.first! - 1, "the trajectory must actually descend")
    }

    /// One step of each optimizer equals the update computed by hand, in Double.
    func testEachOptimizerStepMatchesHandComputedUpdate() throws {
        let config = GPTConfig(vocabSize: 5, blockSize: 2, nLayer: 1, nHead: 1, nEmbd: 4)
        let layout = ParameterLayout(config: config)
        var rng = Xoshiro256(seed: 11)
        let p0 = (0..<layout.totalCount).map { _ in rng.nextFloat() - 0.5 }
        let g1 = (0..<layout.totalCount).map { _ in rng.nextFloat() - 0.5 }
        let g2 = (0..<layout.totalCount).map { _ in rng.nextFloat() - 0.5 }
        let decays = layout.tensors.flatMap { t in [Bool](repeating: t.decays, count: t.count) }
        let lr = 0.01, wd = 0.1, b1 = 0.9, b2 = 0.95, eps = 1e-8, mu = 0.8
        for (kind, nesterov) in [(OptimizerKind.adamw, false), (.adam, false), (.sgd, false), (.sgd, true)] {
            let opt = Optimizer(settings: OptimizerSettings(kind: kind, beta1: b1, beta2: b2, eps: eps, weightDecay: wd,
                                                            momentum: mu, nesterov: nesterov), layout: layout)
            let params = FloatBuffer(p0), grads = FloatBuffer(g1)
            opt.step(parameters: params, gradients: grads, lr: lr)
            grads.load(g2)
            opt.step(parameters: params, gradients: grads, lr: lr)
            // Reference, two steps.
            var p = p0.map(Double.init), m = [Double](repeating: 0, count: p.count), v = m
            for (t, g) in [g1, g2].enumerated() {
                for i in p.indices {
                    let w = decays[i] ? wd : 0
                    var gi = Double(g[i])
                    switch kind {
                    case .adamw, .adam:
                        if kind == .adam { gi += w * p[i] } else { p[i] -= lr * w * p[i] }
                        m[i] = b1 * m[i] + (1 - b1) * gi
                        v[i] = b2 * v[i] + (1 - b2) * gi * gi
                        let mh = m[i] / (1 - pow(b1, Double(t + 1))), vh = v[i] / (1 - pow(b2, Double(t + 1)))
                        p[i] -= lr * mh / (vh.squareRoot() + eps)
                    case .sgd:
                        gi += w * p[i]
                        m[i] = t == 0 ? gi : mu * m[i] + gi
                        p[i] -= lr * (nesterov ? gi + mu * m[i] : m[i])
                    }
                }
            }
            let got = params.array
            for i in p.indices { XCTAssertEqual(Double(got[i]), p[i], accuracy: 1e-6, "\(kind) nesterov \(nesterov) at \(i)") }
            // The optimizers really differ: a wrong choice would fail the comparison above.
            XCTAssertGreaterThan(p.indices.map { abs(p[$0] - Double(p0[$0])) }.max()!, 1e-3)
        }
    }

    func testSchedules() {
        let s = { (k: ScheduleKind) in LRSchedule(kind: k, maxLR: 1, minLR: 0.1, warmupSteps: 10, totalSteps: 110, stepSize: 25, stepFactor: 0.5) }
        XCTAssertEqual(s(.cosine).lr(at: 0), 0.1, accuracy: 1e-12)    // warmup: (0+1)/10
        XCTAssertEqual(s(.cosine).lr(at: 4), 0.5, accuracy: 1e-12)
        XCTAssertEqual(s(.cosine).lr(at: 10), 1, accuracy: 1e-12)
        XCTAssertEqual(s(.cosine).lr(at: 60), 0.55, accuracy: 1e-12)  // halfway: min + (max-min)/2
        XCTAssertEqual(s(.cosine).lr(at: 110), 0.1, accuracy: 1e-12)
        XCTAssertEqual(s(.cosine).lr(at: 500), 0.1, accuracy: 1e-12)
        XCTAssertEqual(s(.linear).lr(at: 35), 1 - 0.9 * 0.25, accuracy: 1e-12)
        XCTAssertEqual(s(.step).lr(at: 34), 1, accuracy: 1e-12)
        XCTAssertEqual(s(.step).lr(at: 35), 0.5, accuracy: 1e-12)
        XCTAssertEqual(s(.step).lr(at: 60), 0.25, accuracy: 1e-12)
        XCTAssertEqual(s(.step).lr(at: 109), 0.125, accuracy: 1e-12)
        XCTAssertEqual(s(.none).lr(at: 77), 1, accuracy: 1e-12)
    }

    func testGlobalNormClipping() {
        let g = FloatBuffer([3, 4, 0, 0])
        XCTAssertEqual(clipGradients(g, maxNorm: 1), 5, accuracy: 1e-9)
        XCTAssertEqual(globalNorm(g), 1, accuracy: 1e-5)
        XCTAssertEqual(g[0], 0.6, accuracy: 1e-5)
        let h = FloatBuffer([0.3, 0.4])
        clipGradients(h, maxNorm: 1)
        XCTAssertEqual(h.array, [0.3, 0.4], "below the threshold nothing changes")
    }

    /// N micro-batches with 1/N scaling give the gradient of one N-times larger batch.
    func testGradientAccumulationEqualsLargerBatch() throws {
        let config = GPTConfig(vocabSize: 11, blockSize: 6, nLayer: 2, nHead: 2, nEmbd: 8)
        let model = try GPT(config: config, seed: 5)
        var rng = Xoshiro256(seed: 8)
        let N = 3, B = 2, T = 6
        let tokens = (0..<(N * B * T)).map { _ in Int32(rng.nextInt(below: 11)) }
        let targets = (0..<(N * B * T)).map { _ in Int32(rng.nextInt(below: 11)) }
        model.zeroGradients()
        try model.forward(tokens: tokens, targets: targets, B: N * B, T: T)
        model.backward()
        let big = model.gradients.array
        model.zeroGradients()
        for k in 0..<N {
            let r = (k * B * T)..<((k + 1) * B * T)
            try model.forward(tokens: Array(tokens[r]), targets: Array(targets[r]), B: B, T: T)
            model.backward(lossScale: 1 / Float(N))
        }
        let accumulated = model.gradients.array
        let scale = big.map { abs($0) }.max()!
        for i in big.indices { XCTAssertEqual(accumulated[i], big[i], accuracy: 1e-5 * max(1, scale)) }
    }
}
