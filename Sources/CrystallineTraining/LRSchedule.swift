// Learning-rate schedules: linear warmup, then cosine / linear / step decay or constant, never
// below min_lr. Evaluated at every optimizer step.
import Foundation

public struct LRSchedule: Sendable {
    public var kind: ScheduleKind
    public var maxLR: Double, minLR: Double
    public var warmupSteps: Int, totalSteps: Int
    public var stepSize: Int, stepFactor: Double

    public init(kind: ScheduleKind, maxLR: Double, minLR: Double, warmupSteps: Int, totalSteps: Int,
                stepSize: Int = 1000, stepFactor: Double = 0.1) {
        self.kind = kind; self.maxLR = maxLR; self.minLR = minLR
        self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
        self.stepSize = stepSize; self.stepFactor = stepFactor
    }

    /// The learning rate for optimizer step `step` (0-based).
    public func lr(at step: Int) -> Double {
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
