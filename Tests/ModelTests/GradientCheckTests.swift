import XCTest
import CrystallineCompute
@testable import CrystallineModel
import TestSupport

/// Finite-difference checks of every layer's hand-written backward.
///
/// Each layer is reduced to a scalar L = Σ w ⊙ y with fixed random weights w; the analytic
/// gradient of L from the layer's backward is compared with central differences. The kernels
/// run in float32, so the loss is accumulated in Double and the step is large enough (1e-2)
/// that rounding stays far below the tolerance, while a wrong formula is off by O(1).
final class GradientCheckTests: XCTestCase {
    var rng = Xoshiro256(seed: 42)

    func random(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale } }

    /// Compares `analytic` with central differences of `loss` w.r.t. `x` at every index.
    func check(_ name: String, x: inout [Float], analytic: [Float], h: Float = 1e-2, tol: Double = 2e-2,
               file: StaticString = #filePath, line: UInt = #line, loss: ([Float]) -> Double) {
        XCTAssertEqual(x.count, analytic.count, file: file, line: line)
        var worst = 0.0
        let scale = max(analytic.map { abs(Double($0)) }.max() ?? 0, 1e-3)
        for i in 0..<x.count {
            let saved = x[i]
            x[i] = saved + h; let up = loss(x)
            x[i] = saved - h; let down = loss(x)
            x[i] = saved
            let numeric = (up - down) / (2 * Double(h))
            worst = max(worst, abs(numeric - Double(analytic[i])) / scale)
        }
        XCTAssertLessThan(worst, tol, "\(name): max relative gradient error \(worst)", file: file, line: line)
    }

    func weighted(_ y: UnsafePointer<Float>, _ w: [Float]) -> Double {
        var s = 0.0
        for i in 0..<w.count { s += Double(y[i]) * Double(w[i]) }
        return s
    }

    func testLinear() {
        let N = 5, IC = 7, OC = 9
        var x = random(N * IC), W = random(IC * OC), bias = random(OC)
        let w = random(N * OC)
        func run(_ x: [Float], _ W: [Float], _ b: [Float]) -> Double {
            var y = [Float](repeating: 0, count: N * OC)
            Linear.forward(out: &y, inp: x, weight: W, bias: b, N: N, IC: IC, OC: OC)
            return weighted(y, w)
        }
        var dx = [Float](repeating: 0, count: N * IC), dW = [Float](repeating: 0, count: IC * OC), db = [Float](repeating: 0, count: OC)
        Linear.backward(dinp: &dx, dweight: &dW, dbias: &db, dout: w, inp: x, weight: W, N: N, IC: IC, OC: OC)
        check("linear dx", x: &x, analytic: dx) { run($0, W, bias) }
        check("linear dW", x: &W, analytic: dW) { run(x, $0, bias) }
        check("linear db", x: &bias, analytic: db) { run(x, W, $0) }
    }

    func testLayerNorm() {
        let N = 4, C = 12
        var x = random(N * C, scale: 2), gain = random(C), bias = random(C)
        let w = random(N * C)
        func run(_ x: [Float], _ g: [Float], _ b: [Float]) -> Double {
            var y = [Float](repeating: 0, count: N * C), m = [Float](repeating: 0, count: N), r = m
            LayerNorm.forward(out: &y, mean: &m, rstd: &r, inp: x, weight: g, bias: b, N: N, C: C, eps: 1e-5)
            return weighted(y, w)
        }
        var y = [Float](repeating: 0, count: N * C), m = [Float](repeating: 0, count: N), r = m
        LayerNorm.forward(out: &y, mean: &m, rstd: &r, inp: x, weight: gain, bias: bias, N: N, C: C, eps: 1e-5)
        var dx = [Float](repeating: 0, count: N * C), dg = [Float](repeating: 0, count: C), db = dg
        LayerNorm.backward(dinp: &dx, dweight: &dg, dbias: &db, dout: w, inp: x, weight: gain, mean: m, rstd: r, N: N, C: C)
        check("layernorm dx", x: &x, analytic: dx, h: 3e-3) { run($0, gain, bias) }
        check("layernorm dgain", x: &gain, analytic: dg) { run(x, $0, bias) }
        check("layernorm dbias", x: &bias, analytic: db) { run(x, gain, $0) }
    }

    func testGELU() {
        var x = random(37, scale: 4)
        let w = random(37)
        func run(_ x: [Float]) -> Double {
            var y = [Float](repeating: 0, count: x.count)
            GELU.forward(out: &y, inp: x, count: x.count)
            return weighted(y, w)
        }
        var dx = [Float](repeating: 0, count: x.count)
        GELU.backward(dinp: &dx, inp: x, dout: w, count: x.count)
        check("gelu", x: &x, analytic: dx) { run($0) }
        // Forward values against the formula in Double.
        var y = [Float](repeating: 0, count: x.count)
        GELU.forward(out: &y, inp: x, count: x.count)
        for i in 0..<x.count {
            let v = Double(x[i])
            let expected = 0.5 * v * (1 + Foundation.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))
            XCTAssertEqual(Double(y[i]), expected, accuracy: 1e-5)
        }
    }

    func testAttentionWithAndWithoutDropoutMask() {
        // T = 37 spans several of the kernel's 16-row blocks, with a ragged last block.
        for (useMask, B, T) in [(false, 2, 5), (true, 2, 5), (false, 1, 37), (true, 1, 37)] {
            let C = 8, NH = 2
            var scratch = [Float](repeating: 0, count: Attention.scratchCount(T: T, headSize: C / NH))
            var qkv = random(B * T * 3 * C)
            let w = random(B * T * C)
            var mask = [Float](repeating: 1, count: B * NH * T * T)
            if useMask { for i in mask.indices where i % 3 == 0 { mask[i] = 0 } ; for i in mask.indices where mask[i] != 0 { mask[i] = 1.5 } }
            func run(_ qkv: [Float]) -> Double {
                var y = [Float](repeating: 0, count: B * T * C), att = [Float](repeating: 0, count: B * NH * T * T)
                Attention.forward(out: &y, att: &att, dropMask: useMask ? mask : nil, qkv: qkv, scratch: &scratch, B: B, T: T, C: C, NH: NH)
                return weighted(y, w)
            }
            var y = [Float](repeating: 0, count: B * T * C), att = [Float](repeating: 0, count: B * NH * T * T)
            Attention.forward(out: &y, att: &att, dropMask: useMask ? mask : nil, qkv: qkv, scratch: &scratch, B: B, T: T, C: C, NH: NH)
            // Causality: every attention row sums to one over t2 ≤ t and is zero beyond.
            for row in 0..<(B * NH * T) {
                let t = row % T
                XCTAssertEqual(att[row * T..<(row * T + t + 1)].reduce(0, +), 1, accuracy: 1e-5)
                XCTAssertTrue(att[(row * T + t + 1)..<(row * T + T)].allSatisfy { $0 == 0 })
            }
            var dqkv = [Float](repeating: 0, count: qkv.count)
            Attention.backward(dqkv: &dqkv, dout: w, qkv: qkv, att: att, dropMask: useMask ? mask : nil, scratch: &scratch, B: B, T: T, C: C, NH: NH)
            check("attention (mask \(useMask))", x: &qkv, analytic: dqkv) { run($0) }
        }
    }

    func testFutureTokensDoNotAffectThePast() {
        let B = 1, T = 6, C = 8, NH = 2
        var scratch = [Float](repeating: 0, count: Attention.scratchCount(T: T, headSize: C / NH))
        var qkv = random(B * T * 3 * C)
        var y1 = [Float](repeating: 0, count: T * C), att = [Float](repeating: 0, count: NH * T * T)
        Attention.forward(out: &y1, att: &att, dropMask: nil, qkv: qkv, scratch: &scratch, B: B, T: T, C: C, NH: NH)
        for i in (5 * 3 * C)..<(6 * 3 * C) { qkv[i] += 1 }  // change only the last position
        var y2 = y1
        Attention.forward(out: &y2, att: &att, dropMask: nil, qkv: qkv, scratch: &scratch, B: B, T: T, C: C, NH: NH)
        XCTAssertEqual(Array(y1[0..<(5 * C)]), Array(y2[0..<(5 * C)]))
        XCTAssertNotEqual(Array(y1[(5 * C)...]), Array(y2[(5 * C)...]))
    }

    func testCrossEntropyWithTiedHead() {
        let N = 4, C = 6, V = 11
        var x = random(N * C), wte = random(V * C)
        let targets: [Int32] = [0, 3, 10, 3]
        func run(_ x: [Float], _ wte: [Float]) -> Double {
            var logits = [Float](repeating: 0, count: N * V), losses = [Float](repeating: 0, count: N), lse = losses
            CrossEntropy.logits(out: &logits, x: x, wte: wte, N: N, C: C, V: V)
            return Double(CrossEntropy.forward(losses: &losses, logPartition: &lse, logits: logits, targets: targets, N: N, V: V))
        }
        var logits = [Float](repeating: 0, count: N * V), losses = [Float](repeating: 0, count: N), lse = losses
        CrossEntropy.logits(out: &logits, x: x, wte: wte, N: N, C: C, V: V)
        _ = CrossEntropy.forward(losses: &losses, logPartition: &lse, logits: logits, targets: targets, N: N, V: V)
        var dx = [Float](repeating: 0, count: N * C), dwte = [Float](repeating: 0, count: V * C), dlogits = logits
        CrossEntropy.backward(dx: &dx, dwte: &dwte, dlogits: &dlogits, logits: logits, logPartition: lse, targets: targets,
                              x: x, wte: wte, gradScale: 1 / Float(N), N: N, C: C, V: V)
        check("cross-entropy dx", x: &x, analytic: dx) { run($0, wte) }
        check("cross-entropy dwte", x: &wte, analytic: dwte) { run(x, $0) }
    }

    func testEncoder() {
        let B = 2, T = 3, C = 4, V = 5
        var wte = random(V * C), wpe = random(T * C)
        let tokens: [Int32] = [1, 4, 1, 0, 2, 4]
        let w = random(B * T * C)
        func run(_ wte: [Float], _ wpe: [Float]) -> Double {
            var y = [Float](repeating: 0, count: B * T * C)
            Encoder.forward(out: &y, tokens: tokens, wte: wte, wpe: wpe, B: B, T: T, C: C)
            return weighted(y, w)
        }
        var dwte = [Float](repeating: 0, count: V * C), dwpe = [Float](repeating: 0, count: T * C)
        Encoder.backward(dwte: &dwte, dwpe: &dwpe, dout: w, tokens: tokens, B: B, T: T, C: C)
        check("encoder dwte", x: &wte, analytic: dwte) { run($0, wpe) }
        check("encoder dwpe", x: &wpe, analytic: dwpe) { run(wte, $0) }
    }

    /// The whole model, including dropout (with the masks held fixed by re-seeding). Three
    /// layers, so that the two alternating slots of the activation gradients are both reused,
    /// and with the attention probabilities both stored and recomputed.
    func testWholeModelWithDropout() throws {
        for memory in [ActivationMemory.store, .recompute] { try checkWholeModel(activationMemory: memory) }
    }

    func checkWholeModel(activationMemory: ActivationMemory) throws {
        var config = GPTConfig(vocabSize: 7, blockSize: 4, nLayer: 3, nHead: 2, nEmbd: 8, dropout: 0.2)
        config.dropout = 0.2
        let model = try GPT(config: config, seed: 3)
        model.activationMemory = activationMemory
        for i in 0..<model.parameters.count { model.parameters[i] += (rng.nextFloat() - 0.5) * 0.2 }
        let tokens: [Int32] = [1, 2, 3, 4, 6, 5, 0, 1], targets: [Int32] = [2, 3, 4, 5, 5, 0, 1, 2]
        let (worst, _, _) = wholeModelGradientError(model, tokens: tokens, targets: targets, B: 2, T: 4,
                                                 probes: Array(stride(from: 0, to: model.parameterCount, by: 7)))
        XCTAssertLessThan(worst, 2e-2, "attention \(activationMemory)")
    }

    /// Recomputing the attention probabilities in the backward pass gives the stored ones bit
    /// for bit, so the gradients are identical, dropout and several batches included.
    func testRecomputedAttentionEqualsStored() throws {
        var config = GPTConfig(vocabSize: 11, blockSize: 30, nLayer: 3, nHead: 2, nEmbd: 16, dropout: 0.1)
        config.dropout = 0.1
        let tokens = (0..<60).map { Int32($0 * 7 % 11) }, targets = (0..<60).map { Int32($0 * 5 % 11) }
        var results: [(Float?, [Float])] = []
        for memory in [ActivationMemory.store, .recompute] {
            let model = try GPT(config: config, seed: 9)
            model.activationMemory = memory
            let loss = try model.forward(tokens: tokens, targets: targets, B: 2, T: 30, training: true)
            model.zeroGradients()
            model.backward()
            results.append((loss, model.gradients.slice(0, model.parameterCount)))
        }
        XCTAssertEqual(results[0].0, results[1].0)
        XCTAssertEqual(results[0].1, results[1].1)
        XCTAssertTrue(results[0].1.contains { $0 != 0 })
    }
}
