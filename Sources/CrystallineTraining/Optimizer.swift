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
    /// The parameters this optimizer updates and holds moments for: all of them, or one
    /// process's block when the moments are sharded (ZeRO-1); `m` and `v` hold `range.count`.
    public let range: Range<Int>
    /// First moment (Adam) or momentum buffer (SGD).
    public let m: FloatBuffer
    /// Second moment (Adam only; empty for SGD).
    public let v: FloatBuffer
    /// Number of steps taken (Adam's bias correction uses it).
    public internal(set) var stepCount = 0
    /// The trainable tensors as spans of the flat buffer with their weight-decay flag, sorted by
    /// offset; kept as raw storage so that the update job carries only pointers.
    private let spans: UnsafeMutablePointer<UpdateSpan>
    private let spanCount: Int

    public init(settings: OptimizerSettings, layout: ParameterLayout, range: Range<Int>? = nil) {
        self.settings = settings
        let range = range ?? 0..<layout.totalCount
        self.range = range
        let trainable = layout.tensors.filter(\.trainable).sorted { $0.offset < $1.offset }
        spanCount = trainable.count
        spans = .allocate(capacity: max(1, trainable.count))
        for (i, t) in trainable.enumerated() {
            spans[i] = UpdateSpan(start: t.offset, end: t.offset + t.count, decays: t.decays || settings.decayAll)
        }
        m = FloatBuffer(count: range.count)
        v = FloatBuffer(count: settings.kind == .sgd ? 0 : range.count)
    }

    deinit { spans.deallocate() }

    /// Applies one update to `parameters` from `gradients` with learning rate `lr`.
    public func step(parameters: FloatBuffer, gradients: FloatBuffer, lr: Double) {
        step(parameters: parameters, gradients: gradients.pointer, lr: lr)
    }

    /// The step over `range` only. `gradients` is indexed like the parameters (gradients[i]
    /// for parameter i in `range`), so a sharded optimizer passes its block's base minus
    /// `range.lowerBound`.
    public func step(parameters: FloatBuffer, gradients g: UnsafeMutablePointer<Float>, lr: Double) {
        stepCount += 1
        let s = settings
        // The moments are indexed like the parameters too.
        let p = parameters.pointer, m = self.m.pointer - range.lowerBound, v = self.v.pointer - range.lowerBound
        let t = Double(stepCount)
        let c1 = 1 - pow(s.beta1, t), c2 = 1 - pow(s.beta2, t)
        let b1 = Float(s.beta1), b2 = Float(s.beta2), eps = Float(s.eps), mu = Float(s.momentum)
        let lrf = Float(lr), wd = Float(s.weightDecay)
        // One parallel pass over the whole flat buffer: each thread takes a contiguous chunk and
        // walks the tensors that overlap it.
        let job = UpdateJob(kind: s.kind, p: p, g: g, m: m, v: v, spans: spans, spanCount: spanCount,
                            weightDecay: wd, lr: lrf, b1: b1, b2: b2, eps: eps,
                            stepSize: Float(lr / c1), invSqrtC2: Float(1 / c2.squareRoot()),
                            momentum: mu, nesterov: s.nesterov, firstSGDStep: stepCount == 1)
        parallelRanges(range.count, granule: 16, OffsetJob(offset: range.lowerBound, job: job))
    }

    /// Restores state saved by a checkpoint.
    public func restore(m: [Float], v: [Float], stepCount: Int) {
        self.m.load(m)
        if self.v.count > 0 { self.v.load(v) }
        self.stepCount = stepCount
    }
}

/// A trainable tensor's span of the flat parameter buffer.
/// A range job over `offset ..< offset + count` run as one over `0 ..< count`.
struct OffsetJob<Job: RangeJob>: RangeJob {
    let offset: Int, job: Job
    func run(_ r: Range<Int>) { job.run((r.lowerBound + offset)..<(r.upperBound + offset)) }
}

struct UpdateSpan {
    var start: Int, end: Int
    var decays: Bool
}

/// The optimizer update of one chunk of the flat parameter buffer.
struct UpdateJob: RangeJob {
    let kind: OptimizerKind
    let p: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>
    let m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    let spans: UnsafeMutablePointer<UpdateSpan>, spanCount: Int
    let weightDecay: Float, lr: Float, b1: Float, b2: Float, eps: Float
    /// Adam: lr/c1 and 1/√c2 (bias corrections folded into scalars).
    let stepSize: Float, invSqrtC2: Float
    let momentum: Float, nesterov: Bool, firstSGDStep: Bool

    func run(_ chunk: Range<Int>) {
        for s in 0..<spanCount {
            let span = spans[s]
            let lo = max(span.start, chunk.lowerBound), hi = min(span.end, chunk.upperBound)
            if lo >= hi { continue }
            let wd: Float = span.decays ? weightDecay : 0
            switch kind {
            case .adamw, .adam:
                // p −= lr/c1 · m / (√v/√c2 + eps); AdamW decays p itself, Adam adds wd·p to g.
                adam(lo..<hi, decayFactor: kind == .adamw ? 1 - lr * wd : 1, l2: kind == .adam ? wd : 0)
            case .sgd:
                sgd(lo..<hi, wd: wd)
            }
        }
    }

    @inline(__always)
    func adam(_ r: Range<Int>, decayFactor: Float, l2: Float) {
        let o = r.lowerBound
        adamUpdate(count: r.count, parameters: p + o, gradients: g + o, m: m + o, v: v + o, beta1: b1, beta2: b2,
                   stepSize: stepSize, invSqrtC2: invSqrtC2, eps: eps, decayFactor: decayFactor, l2: l2)
    }

    @inline(__always)
    func sgd(_ r: Range<Int>, wd: Float) {
        for i in r {
            let grad = g[i] + wd * p[i]
            let buf = firstSGDStep ? grad : momentum * m[i] + grad
            m[i] = buf
            p[i] -= lr * (nesterov ? grad + momentum * buf : buf)
        }
    }
}

/// Global L2 norm of all gradients (accumulated in Double, per thread, then summed in order so
/// the result does not depend on timing).
public func globalNorm(_ buffer: FloatBuffer) -> Double {
    let threads = ThreadPool.shared.threadCount
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: threads) { partial in
        partial.initialize(repeating: 0)
        let parts = buffer.count >= 1 << 14 ? threads : 1
        ThreadPool.shared.parallelFor(parts, SumOfSquaresJob(x: buffer.pointer, count: buffer.count, parts: parts,
                                                             partial: partial.baseAddress!))
        return partial.reduce(0, +).squareRoot()
    }
}

/// Scales gradients so their global norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGradients(_ gradients: FloatBuffer, maxNorm: Double) -> Double {
    let norm = globalNorm(gradients)
    clip(gradients, norm: norm, maxNorm: maxNorm)
    return norm
}

/// Scales `gradients`, whose global norm is `norm`, down to `maxNorm` when it is above (0 is off).
func clip(_ gradients: FloatBuffer, norm: Double, maxNorm: Double) {
    guard maxNorm > 0, norm > maxNorm, norm.isFinite else { return }
    parallelRanges(gradients.count, ScaleJob(x: gradients.pointer, scale: Float(maxNorm / (norm + 1e-6))))
}

/// Per-thread partial sums of squares (in Double), in a fixed chunking.
struct SumOfSquaresJob: ParallelJob {
    let x: UnsafeMutablePointer<Float>, count: Int, parts: Int
    let partial: UnsafeMutablePointer<Double>
    func run(task part: Int, worker: Int) {
        let r = chunk(part, of: parts, count: count, granule: 8)
        partial[part] = sumOfSquares(x + r.lowerBound, r.count)
    }
}

/// x[i] *= scale.
struct ScaleJob: RangeJob {
    let x: UnsafeMutablePointer<Float>, scale: Float
    func run(_ r: Range<Int>) { for i in r { x[i] *= scale } }
}
