// How often a run saves a checkpoint besides the one at each evaluation: every N optimizer
// steps, or every so much wall-clock time. A long evaluation interval then no longer means a
// long stretch of work that a kill or a power cut would lose.
import Foundation

public enum CheckpointInterval: Equatable, Sendable {
    case steps(Int)
    case seconds(Double)

    /// "100" (steps), "10m", "30s", "2h" (time).
    public init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let n = Int(t) {
            guard n > 0 else { return nil }
            self = .steps(n)
            return
        }
        let units: [(String, Double)] = [("s", 1), ("m", 60), ("h", 3600)]
        guard let (suffix, scale) = units.first(where: { t.hasSuffix($0.0) }), let v = Double(t.dropLast(suffix.count)),
              v.isFinite, v > 0, v * scale <= 365 * 86_400 else { return nil }
        self = .seconds(v * scale)
    }

    /// Whether a checkpoint is due after `step`, `elapsed` seconds after the last one.
    public func isDue(step: Int, secondsSinceLast elapsed: Double) -> Bool {
        switch self {
        case .steps(let n): return step % n == 0
        case .seconds(let s): return elapsed >= s
        }
    }
}
