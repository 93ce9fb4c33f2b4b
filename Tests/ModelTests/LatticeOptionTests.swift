import XCTest
import CrystallineCompute
import CrystallineLattice
@testable import CrystallineModel
import TestSupport

final class LatticeOptionTests: XCTestCase {
    /// t = 3 sits at angle 0 on ring 0, so by hand: 3^(3/12) · cos(0) · c(3) · tanh(1) / 100.
    func testLatticeEmbeddingFormulaAndTheOriginalsZeroRows() {
        let c3 = cos(Double.pi / 2 + Double.pi / 24)  // corrected phase: −sin(π/24)
        let expected = tanh(pow(3, 0.25) * c3 * tanh(1.0) / 100)
        XCTAssertEqual(LatticeFeatures.rawEmbedding(token: 3, dim: 0), expected, accuracy: 1e-15)
        XCTAssertEqual(expected, -0.0013083, accuracy: 1e-6)
        // The original formula zeroes every token ≡ 3, 9 (mod 12).
        for t in [3, 9, 15, 21, 99] { for d in 0..<8 { XCTAssertEqual(LatticeFeatures.rawEmbedding(token: t, dim: d, corrected: false), 0, accuracy: 1e-15) } }
    }

    func testLatticeEmbeddingHasNoZeroOrDuplicateRowsAndStandardScale() {
        let V = 4000, C = 16
        let e = LatticeFeatures.embedding(vocabSize: V, width: C)
        var rows = Set<[Float]>()
        for t in 0..<V {
            let row = Array(e[(t * C)..<((t + 1) * C)])
            XCTAssertTrue(row.contains { abs($0) > 1e-6 }, "row \(t) is zero")
            XCTAssertTrue(rows.insert(row).inserted, "row \(t) repeats an earlier row")
        }
        let mean = e.reduce(0, +) / Float(e.count)
        let std = (e.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(e.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 1e-4)
    }

    func testLatticePositionsAreDistinctFixedAndExportAsATable() throws {
        let T = 256, C = 32
        let pe = LatticeFeatures.positional(blockSize: T, width: C)
        XCTAssertEqual(Set((0..<T).map { Array(pe[($0 * C)..<(($0 + 1) * C)]) }).count, T)
        // By hand: position 3 (angle 0, ring 0), d = 1: (1/5)·sin(0 + π/4) before scaling;
        // position 0 (angle −π/2), d = 0: (1/5)·sin(−π/2·3) = 1/5. Their ratio survives scaling.
        XCTAssertEqual(Double(pe[3 * C + 1] / pe[0]), sin(Double.pi / 4), accuracy: 1e-5)
        var config = GPTConfig(vocabSize: 10, blockSize: T, nLayer: 1, nHead: 2, nEmbd: C)
        config.positional = .lattice
        let model = try GPT(config: config)
        XCTAssertEqual(model.tensor("wpe.weight")!, pe, "stored in the ordinary position table")
        XCTAssertFalse(model.layout.tensor(named: "wpe.weight")!.trainable)
    }

    func angularModel(dropout: Float = 0) throws -> GPT {
        var config = GPTConfig(vocabSize: 7, blockSize: 6, nLayer: 2, nHead: 2, nEmbd: 8, dropout: dropout)
        config.attentionBias = .angular
        let model = try GPT(config: config, seed: 3)
        var rng = Xoshiro256(seed: 21)
        for i in 0..<model.parameters.count { model.parameters[i] += (rng.nextFloat() - 0.5) * 0.2 }
        return model
    }

    /// Every gradient, slopes included, against central differences.
    func testAngularBiasGradientsIncludingSlopes() throws {
        let model = try angularModel(dropout: 0.1)
        let slopes = model.layout.layers.map { $0.latticeSlope! }
        XCTAssertEqual(model.layout.tensor(named: "h.0.attn.lattice_slope")?.shape, [2])
        let tokens: [Int32] = [1, 2, 3, 4, 6, 5, 0, 1, 2, 3, 4, 5], targets: [Int32] = [2, 3, 4, 5, 5, 0, 1, 2, 3, 4, 5, 6]
        let probes = Array(stride(from: 0, to: model.parameterCount, by: 5)) + slopes.flatMap { [$0, $0 + 1] }
        let (worst, analytic, pairs) = wholeModelGradientError(model, tokens: tokens, targets: targets, B: 2, T: 6, probes: probes)
        // Slope gradients are small next to the largest gradient: check each on its own scale.
        for s in slopes { for i in [s, s + 1] {
            let (numeric, exact) = pairs[i]!
            XCTAssertEqual(exact, numeric, accuracy: 0.05 * abs(numeric) + 1e-5, "slope gradient at \(i)")
        } }
        XCTAssertLessThan(worst, 2e-2)
        for s in slopes { XCTAssertNotEqual(analytic[s], 0, "slopes receive gradient") }
    }

    func testAngularBiasChangesAttentionAndMatchesTheKVCache() throws {
        let model = try angularModel()
        let seq: [Int32] = [1, 4, 2, 6, 0, 3]
        let (_, worstAbsolute, full) = try cachedVersusFullLogitsError(model, seq)
        XCTAssertLessThan(worstAbsolute, 1e-4)
        // Zero slopes give a different model: the bias is really applied.
        for o in model.layout.layers { model.parameters.load([0, 0], at: o.latticeSlope!) }
        try model.forward(tokens: seq, targets: nil, B: 1, T: 6)
        XCTAssertNotEqual(Array(model.lastLogits), full)
    }
}
