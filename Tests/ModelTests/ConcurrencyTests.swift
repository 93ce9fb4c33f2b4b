import XCTest
import CrystallineCompute
@testable import CrystallineModel

/// Several callers of the compute pool at once. While one caller holds the pool, a concurrent
/// caller's parallel regions run on its own thread, and its matrix products must then pack into
/// that thread's own scratch: before the scratch was per thread, a second forward running beside
/// a first would overwrite the first one's packed panels.
final class ConcurrencyTests: XCTestCase {
    /// Large enough that every linear layer's product is split over the pool.
    let config = GPTConfig(vocabSize: 65, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 96)
    let B = 4

    func batch(seed: UInt64) -> (tokens: [Int32], targets: [Int32]) {
        var rng = Xoshiro256(seed: seed)
        let n = B * config.blockSize
        return ((0..<n).map { _ in Int32(rng.nextInt(below: 65)) }, (0..<n).map { _ in Int32(rng.nextInt(below: 65)) })
    }

    func logits(_ model: GPT, _ tokens: [Int32]) throws -> [Float] {
        try model.forward(tokens: tokens, targets: nil, B: B, T: config.blockSize)
        return Array(model.lastLogits)
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// Runs `bodies` at the same time on threads of their own and waits for all of them.
    func concurrently(_ bodies: [@Sendable () -> Void]) {
        let group = DispatchGroup()
        for body in bodies {
            group.enter()
            let thread = Thread { body(); group.leave() }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
    }

    func testTwoForwardsAtOnceMatchLoneRuns() throws {
        let a = try GPT(config: config, seed: 1), b = try GPT(config: config, seed: 2)
        let xa = batch(seed: 10).tokens, xb = batch(seed: 20).tokens
        let loneA = try logits(a, xa), loneB = try logits(b, xb)
        let worst = WorstDifference()
        concurrently([
            { for _ in 0..<30 { worst.record(self.maxDifference(try! self.logits(a, xa), loneA)) } },
            { for _ in 0..<30 { worst.record(self.maxDifference(try! self.logits(b, xb), loneB)) } },
        ])
        XCTAssertLessThan(worst.value, 1e-5, "a forward run beside another differs from its lone run")
    }

    /// Training steps on one model beside forwards on another: both equal their lone runs.
    func testForwardBesideTrainingStepsMatchesLoneRuns() throws {
        let steps = 8
        func train(_ model: GPT) throws {
            let (x, y) = batch(seed: 30)
            for _ in 0..<steps {
                model.zeroGradients()
                try model.forward(tokens: x, targets: y, B: B, T: config.blockSize, training: true)
                model.backward()
                for i in 0..<model.parameterCount { model.parameters[i] -= 0.01 * model.gradients[i] }
            }
        }
        let loneTrained = try GPT(config: config, seed: 3)
        try train(loneTrained)
        let reader = try GPT(config: config, seed: 4)
        let x = batch(seed: 40).tokens
        let loneLogits = try logits(reader, x)

        let trained = try GPT(config: config, seed: 3)
        let worst = WorstDifference()
        concurrently([
            { try! train(trained) },
            { for _ in 0..<40 { worst.record(self.maxDifference(try! self.logits(reader, x), loneLogits)) } },
        ])
        XCTAssertLessThan(worst.value, 1e-5, "a forward beside training differs from its lone run")
        XCTAssertLessThan(maxDifference(trained.parameters.array, loneTrained.parameters.array), 1e-5,
                          "training steps beside a forward differ from lone steps")
    }

    /// Inference sessions over one snapshot, on several threads, while its source keeps training.
    func testSessionsShareOneSnapshotWhileTheWorkspaceTrains() throws {
        let model = try GPT(config: config, seed: 5)
        let weights = model.snapshot()
        let prompt: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8]
        let expected = try InferenceSession(weights: weights).feed(prompt)
        let worst = WorstDifference()
        let (x, y) = batch(seed: 50)
        concurrently([
            { for _ in 0..<10 { worst.record(self.maxDifference(try! InferenceSession(weights: weights).feed(prompt), expected)) } },
            { for _ in 0..<10 { worst.record(self.maxDifference(try! InferenceSession(weights: weights).feed(prompt), expected)) } },
            {
                for _ in 0..<4 {
                    model.zeroGradients()
                    try! model.forward(tokens: x, targets: y, B: self.B, T: self.config.blockSize, training: true)
                    model.backward()
                    for i in 0..<model.parameterCount { model.parameters[i] -= 0.1 * model.gradients[i] }
                }
            },
        ])
        XCTAssertEqual(worst.value, 0, "sessions over an immutable snapshot must agree exactly")
    }
}

/// The largest difference any thread saw.
final class WorstDifference: @unchecked Sendable {
    private let lock = NSLock()
    private var worst: Float = 0
    func record(_ d: Float) { lock.withLock { worst = max(worst, d.isNaN ? .infinity : d) } }
    var value: Float { lock.withLock { worst } }
}
