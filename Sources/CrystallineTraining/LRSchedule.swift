// Learning-rate schedules: linear warmup, then cosine / linear / step decay or constant, never
// below min_lr. Evaluated at every optimizer step.
//
// A run without a fixed end (training on data as it arrives) uses `none`: constant after the
// warm-up. When it is told to finish, an anneal window takes the rate linearly from where it
// is to min_lr (warm-up → constant → anneal, as in the WSD schedules).
import Foundation

/// The last `steps` optimizer steps from `start`, over which the rate falls from `startLr` to min_lr.
public struct AnnealWindow: Codable, Sendable, Equatable {
    public var start: Int
    public var steps: Int
    public var startLr: Double
    public var end: Int { start + steps }
}

/// One round of training on newly arrived documents: `steps` optimizer steps from `start`.
public struct FollowRound: Codable, Sendable, Equatable {
    public var index: Int
    public var start: Int
    public var steps: Int
    /// Training tokens in the inbox's shards when the round began: a later round starts only
    /// when more have arrived.
    public var trainTokens: Int
    public var end: Int { start + steps }
}

public struct LRSchedule: Sendable {
    public var kind: ScheduleKind
    public var maxLR: Double, minLR: Double
    public var warmupSteps: Int, totalSteps: Int
    public var stepSize: Int, stepFactor: Double
    public var anneal: AnnealWindow?
    /// While following an inbox: the current round, over which the rate warms up again and
    /// decays again (Ibrahim et al. 2024, "Simple and Scalable Strategies to Continually
    /// Pre-train Large Language Models").
    public var round: FollowRound?

    public init(kind: ScheduleKind, maxLR: Double, minLR: Double, warmupSteps: Int, totalSteps: Int,
                stepSize: Int = 1000, stepFactor: Double = 0.1, anneal: AnnealWindow? = nil) {
        self.kind = kind; self.maxLR = maxLR; self.minLR = minLR
        self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
        self.stepSize = stepSize; self.stepFactor = stepFactor
        self.anneal = anneal
    }

    /// The learning rate for optimizer step `step` (0-based).
    public func lr(at step: Int) -> Double {
        if let a = anneal, step >= a.start {
            let progress = min(1, Double(step - a.start + 1) / Double(max(1, a.steps)))
            return a.startLr - (a.startLr - minLR) * progress
        }
        if let r = round, step >= r.start {
            let local = step - r.start
            let warm = min(warmupSteps, max(1, r.steps / 10))
            if local < warm { return minLR + (maxLR - minLR) * Double(local + 1) / Double(warm) }
            let progress = min(1, Double(local - warm) / Double(max(1, r.steps - warm)))
            return minLR + 0.5 * (1 + cos(.pi * progress)) * (maxLR - minLR)
        }
        return scheduled(at: step)
    }

    private func scheduled(at step: Int) -> Double {
        if step < warmupSteps { return maxLR * Double(step + 1) / Double(warmupSteps) }
        let decaySteps = max(1, totalSteps - warmupSteps)
        let progress = min(1, max(0, Double(step - warmupSteps) / Double(decaySteps)))
        switch kind {
        case .cosine: return minLR + 0.5 * (1 + cos(.pi * progress)) * (maxLR - minLR)
        case .linear: return maxLR - (maxLR - minLR) * progress
        case .step: return max(minLR, maxLR * pow(stepFactor, Double((step - warmupSteps) / stepSize)))
        case .none: return maxLR
        }
    }
}
