// Per-tensor health figures: the numbers that would have shown at a glance that the original
// system updated only its embeddings.
import CrystallineCompute
import CrystallineModel

public struct TensorDiagnostics: Codable, Sendable, Equatable {
    public var name: String
    public var weightNorm: Double
    public var gradNorm: Double
    public var maxAbsGrad: Double
    /// Fraction of gradient entries that are not exactly zero.
    public var nonzeroGradFraction: Double
    /// ‖Δw‖ / ‖w‖ of the optimizer step.
    public var updateRatio: Double

    enum CodingKeys: String, CodingKey {
        case name, weightNorm = "weight_norm", gradNorm = "grad_norm", maxAbsGrad = "max_abs_grad"
        case nonzeroGradFraction = "nonzero_grad_fraction", updateRatio = "update_ratio"
    }

    /// Gradient statistics of every tensor (call after backward, before the step).
    static func gradients(model: GPT) -> [TensorDiagnostics] {
        model.layout.tensors.map { t in
            let g = model.gradients.pointer + t.offset
            var maxAbs: Float = 0, nonzero = 0
            for i in 0..<t.count { let a = abs(g[i]); maxAbs = max(maxAbs, a); if a != 0 { nonzero += 1 } }
            return TensorDiagnostics(name: t.name, weightNorm: 0, gradNorm: sumOfSquares(g, t.count).squareRoot(),
                                     maxAbsGrad: Double(maxAbs), nonzeroGradFraction: Double(nonzero) / Double(t.count), updateRatio: 0)
        }
    }

    /// Fills weight norms and update ratios, given the parameters from before the step.
    static func complete(_ stats: inout [TensorDiagnostics], model: GPT, before: FloatBuffer) {
        for (k, t) in model.layout.tensors.enumerated() {
            let p = model.parameters.pointer + t.offset, q = before.pointer + t.offset
            var delta = 0.0
            for i in 0..<t.count { let d = Double(p[i] - q[i]); delta += d * d }
            let norm = sumOfSquares(p, t.count).squareRoot()
            stats[k].weightNorm = norm
            stats[k].updateRatio = norm > 0 ? delta.squareRoot() / norm : 0
        }
    }

    /// A fixed-width table for the terminal.
    public static func table(_ stats: [TensorDiagnostics]) -> String {
        func f(_ x: Double) -> String { String(format: "%10.3e", x) }
        var lines = ["tensor                        weight_norm  grad_norm   max|grad|   nonzero   update/weight"]
        for s in stats {
            let name = s.name.padding(toLength: 28, withPad: " ", startingAt: 0)
            lines.append("\(name)  \(f(s.weightNorm)) \(f(s.gradNorm)) \(f(s.maxAbsGrad))  \(String(format: "%7.3f", s.nonzeroGradFraction))   \(f(s.updateRatio))")
        }
        return lines.joined(separator: "\n")
    }
}

import Foundation
