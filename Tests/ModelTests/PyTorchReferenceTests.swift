import XCTest
@testable import CrystallineModel
import TestSupport

/// The whole model against PyTorch (float64 reference): logits, loss and every gradient.
final class PyTorchReferenceTests: XCTestCase {
    func testLogitsLossAndGradientsMatchPyTorch() throws {
        let fx = try ReferenceFixture.load()
        let model = try fx.makeModel()
        let B = fx.config.batch, T = fx.config.block_size
        let loss = try model.forward(tokens: fx.tokens, targets: fx.targets, B: B, T: T)!
        XCTAssertEqual(Double(loss), fx.loss, accuracy: 1e-4 * max(1, abs(fx.loss)))
        XCTAssertLessThan(relativeMaxError(Array(model.lastLogits), fx.logits), 1e-4, "logits")
        model.zeroGradients()
        model.backward()
        XCTAssertEqual(fx.gradients.count, model.layout.tensors.count)
        for t in model.layout.tensors {
            let expected = try XCTUnwrap(fx.gradients[t.name], t.name)
            let got = model.gradients.slice(t.offset, t.count)
            XCTAssertLessThan(relativeMaxError(got, expected), 1e-4, "gradient of \(t.name)")
        }
    }

    /// Guards the test itself: a model whose weights differ from the fixture must fail it.
    func testReferenceComparisonDetectsAPerturbedWeight() throws {
        let fx = try ReferenceFixture.load()
        let model = try fx.makeModel()
        let t = model.layout.tensor(named: "h.1.attn.c_attn.weight")!
        model.parameters[t.offset + 5] += 0.05
        _ = try model.forward(tokens: fx.tokens, targets: fx.targets, B: fx.config.batch, T: fx.config.block_size)
        XCTAssertGreaterThan(relativeMaxError(Array(model.lastLogits), fx.logits), 1e-4)
    }
}
