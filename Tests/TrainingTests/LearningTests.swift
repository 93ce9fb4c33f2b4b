import XCTest
import CrystallineCompute
import CrystallineModel
import CrystallineData
import CrystallineInterop
@testable import CrystallineTraining

/// The original system's own test plan, never carried out there: the model must learn.
final class LearningTests: XCTestCase {
    func makeOptimizer(_ model: GPT, lr: Double = 3e-3) -> Optimizer {
        Optimizer(settings: OptimizerSettings(kind: .adamw, beta1: 0.9, beta2: 0.99, weightDecay: 0), layout: model.layout)
    }

    func testSingleSequenceIsOverfitToNearZeroLoss() throws {
        let model = try GPT(config: GPTConfig(vocabSize: 20, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32))
        var rng = Xoshiro256(seed: 4)
        let seq = (0..<17).map { _ in Int32(rng.nextInt(below: 20)) }
        let x = Array(seq.dropLast()), y = Array(seq.dropFirst())
        let opt = makeOptimizer(model)
        var loss: Float = 0
        for _ in 0..<300 {
            model.zeroGradients()
            loss = try model.forward(tokens: x, targets: y, B: 1, T: 16, training: true)!
            model.backward()
            opt.step(parameters: model.parameters, gradients: model.gradients, lr: 3e-3)
        }
        XCTAssertLessThan(loss, 0.02)
    }

    /// "A B C → B C D": every token is followed by its successor (mod vocab).
    func testSuccessorPatternIsLearned() throws {
        let V = 12
        let model = try GPT(config: GPTConfig(vocabSize: V, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16))
        let opt = makeOptimizer(model)
        var rng = Xoshiro256(seed: 6)
        var initial: Float = 0, final: Float = 0
        for step in 0..<300 {
            var x: [Int32] = [], y: [Int32] = []
            for _ in 0..<8 {
                let start = rng.nextInt(below: V)
                for t in 0..<8 { x.append(Int32((start + t) % V)); y.append(Int32((start + t + 1) % V)) }
            }
            model.zeroGradients()
            let loss = try model.forward(tokens: x, targets: y, B: 8, T: 8, training: true)!
            if step == 0 { initial = loss }
            final = loss
            model.backward()
            opt.step(parameters: model.parameters, gradients: model.gradients, lr: 1e-2)
        }
        XCTAssertEqual(initial, log(Float(V)), accuracy: 0.3, "an untrained model starts near ln(vocab)")
        XCTAssertLessThan(final, 0.05)
        // Greedy continuation of "3 4 5" is "6 7 8".
        let session = InferenceSession(weights: model.snapshot())
        var sampler = Sampler(options: SamplingOptions(temperature: 0), seed: 1)
        try session.feed([3, 4, 5])
        var out: [Int32] = []
        for _ in 0..<3 { let t = sampler.sample(session.logits); out.append(t); try session.step(t) }
        XCTAssertEqual(out, [6, 7, 8])
    }

    func testLossStartsNearLogVocabAndFalls() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        c.maxSteps = 150; c.lr = 1e-2; c.evalInterval = 50
        var records: [StepRecord] = []
        let trainer = try Trainer(config: c)
        try trainer.run { if case .step(let r, _) = $0 { records.append(r) } }
        let V = Double(trainer.tokenizer.vocabSize)
        XCTAssertEqual(records.first!.trainLoss, log(V), accuracy: 0.3)
        XCTAssertLessThan(records.last!.trainLoss, log(V) - 1)
        XCTAssertLessThan(trainer.state.bestValLoss!, log(V) - 1)
    }
}
