// Optimizers over every parameter of the model, in one pass over the flat parameter buffer.
//
// AdamW: bias-corrected moments, decoupled weight decay (p ← p − lr·wd·p) on the tensors the
// layout marks as decaying. Adam: the classic coupled L2 (g ← g + wd·p). SGD: momentum
// (PyTorch convention: buf ← μ·buf + g, first step buf = g) with an optional Nesterov step.
import Foundation
import CrystallineCompute
import CrystallineModel

public struct OptimizerSettings: Codable, Equatable, Sendable {
    public var kind: OptimizerKind
    public var beta1: Double, beta2: Double, eps: Double
    public var weightDecay: Double
    public var momentum: Double, nesterov: Bool
    /// Apply weight decay to every tensor, not only 2-D weight matrices.
    public var decayAll: Bool

    public init(kind: OptimizerKind, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0, momentum: Double = 0.9, nesterov: Bool = false, decayAll: Bool = false) {
        self.kind = kind; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.momentum = momentum; self.nesterov = nesterov; self.decayAll = decayAll
    }
}

public final class Optimizer {
    public let settings: OptimizerSettings
    /// First moment (Adam) or momentum buffer (SGD).
    public let m: FloatBuffer
    /// Second moment (Adam only; empty for SGD).
    public let v: FloatBuffer
    /// Number of steps taken (Adam's bias correction uses it).
    public internal(set) var stepCount = 0
    private let tensors: [ParameterTensor]

    public init(settings: OptimizerSettings, layout: ParameterLayout) {
        self.settings = settings
        tensors = layout.tensors
        m = FloatBuffer(count: layout.totalCount)
        v = FloatBuffer(count: settings.kind == .sgd ? 0 : layout.totalCount)
    }

    /// Applies one update to `parameters` from `gradients` with learning rate `lr`.
    public func step(parameters: FloatBuffer, gradients: FloatBuffer, lr: Double) {
        stepCount += 1
        let s = settings
        let p = parameters.pointer, g = gradients.pointer, m = self.m.pointer, v = self.v.pointer
        let t = Double(stepCount)
        let c1 = 1 - pow(s.beta1, t), c2 = 1 - pow(s.beta2, t)
        let b1 = Float(s.beta1), b2 = Float(s.beta2), eps = Float(s.eps), mu = Float(s.momentum)
        let firstSGDStep = stepCount == 1
        for tensor in tensors where tensor.trainable {
            let wd = (tensor.decays || s.decayAll) ? Float(s.weightDecay) : 0
            let range = tensor.offset..<(tensor.offset + tensor.count)
            switch s.kind {
            case .adamw, .adam:
                // p −= lr/c1 · m / (√v/√c2 + eps), written so the bias corrections are scalars.
                let stepSize = Float(lr / c1), invSqrtC2 = Float(1 / c2.squareRoot())
                let decayFactor: Float = s.kind == .adamw ? 1 - Float(lr) * wd : 1
                let l2: Float = s.kind == .adam ? wd : 0
                parallelRanges(range.count) { sub in
                    for i in (sub.lowerBound + range.lowerBound)..<(sub.upperBound + range.lowerBound) {
                        let grad = g[i] + l2 * p[i]
                        let mi = b1 * m[i] + (1 - b1) * grad
                        let vi = b2 * v[i] + (1 - b2) * grad * grad
                        m[i] = mi; v[i] = vi
                        p[i] = p[i] * decayFactor - stepSize * mi / (vi.squareRoot() * invSqrtC2 + eps)
                    }
                }
            case .sgd:
                let lrf = Float(lr)
                for i in range {
                    let grad = g[i] + wd * p[i]
                    let buf = firstSGDStep ? grad : mu * m[i] + grad
                    m[i] = buf
                    let update = s.nesterov ? grad + mu * buf : buf
                    p[i] -= lrf * update
                }
            }
        }
    }

    /// Restores state saved by a checkpoint.
    public func restore(m: [Float], v: [Float], stepCount: Int) {
        self.m.load(m)
        if self.v.count > 0 { self.v.load(v) }
        self.stepCount = stepCount
    }
}

/// Global L2 norm of all gradients (accumulated in Double, per thread, then summed in order so
/// the result does not depend on timing).
public func globalNorm(_ buffer: FloatBuffer) -> Double {
    let threads = ThreadPool.shared.threadCount
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: threads) { partial in
        partial.initialize(repeating: 0)
        let parts = buffer.count >= 1 << 14 ? threads : 1
        ThreadPool.shared.parallelFor(parts) { part, _ in
            let r = chunk(part, of: parts, count: buffer.count, granule: 8)
            partial[part] = sumOfSquares(buffer.pointer + r.lowerBound, r.count)
        }
        return partial.reduce(0, +).squareRoot()
    }
}

/// Scales gradients so their global norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGradients(_ gradients: FloatBuffer, maxNorm: Double) -> Double {
    let norm = globalNorm(gradients)
    if maxNorm > 0, norm > maxNorm, norm.isFinite {
        let scale = Float(maxNorm / (norm + 1e-6))
        let g = gradients.pointer
        parallelRanges(gradients.count) { r in for i in r { g[i] *= scale } }
    }
    return norm
}
