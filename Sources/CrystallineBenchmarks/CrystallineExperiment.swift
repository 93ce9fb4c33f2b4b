// The ablation behind docs/CRYSTALLINE.md: the standard model against each crystalline option
// and all of them together, at equal compute (same steps, batch and data), over several seeds.
import Foundation
import CrystallineModel
import CrystallineTraining

public struct ExperimentVariant: Sendable {
    public var name: String
    /// The name as a folder name: lower case, runs of anything but letters and digits as one "-"
    /// ("linear-distance bias (control)" → "linear-distance-bias-control").
    public var slug: String {
        name.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).joined(separator: "-")
    }
    public var apply: @Sendable (inout TrainingConfig) -> Void

    public static let all: [ExperimentVariant] = [
        ExperimentVariant(name: "standard") { _ in },
        ExperimentVariant(name: "lattice embedding") { $0.embeddingInit = .lattice },
        ExperimentVariant(name: "lattice positions") { $0.positional = .lattice },
        ExperimentVariant(name: "angular attention bias") { $0.attentionBias = .angular },
        ExperimentVariant(name: "ulam vocab order") { $0.vocabOrder = .ulam },
        // Control: the same learned-slope bias over plain distance |i − j| (ALiBi-like), to tell
        // whether the lattice geometry or any distance bias is what matters.
        ExperimentVariant(name: "linear-distance bias (control)") { $0.attentionBias = .linear },
        ExperimentVariant(name: "all crystalline") {
            $0.embeddingInit = .lattice; $0.positional = .lattice; $0.attentionBias = .angular; $0.vocabOrder = .ulam
        },
    ]
}

public struct ExperimentRun: Sendable {
    public var variant: String
    public var seed: UInt64
    public var finalValLoss: Double
    public var bestValLoss: Double
    /// (step, val loss) at every evaluation.
    public var curve: [(Int, Double)]
    public var seconds: Double
}

public enum CrystallineExperiment {
    /// Trains every variant for every seed; `progress` hears about each finished run.
    public static func run(base: TrainingConfig, seeds: [UInt64], variants: [ExperimentVariant] = ExperimentVariant.all,
                           outputRoot: URL, progress: (ExperimentRun) -> Void) throws -> [ExperimentRun] {
        var runs: [ExperimentRun] = []
        for seed in seeds {
            for v in variants {
                var c = base
                c.seed = seed
                c.sampleTokens = 0
                c.out = outputRoot.appendingPathComponent("\(v.slug)-seed\(seed)").path
                v.apply(&c)
                // A finished run of the same settings is reused (the experiment can be extended
                // with new variants or seeds without retraining the rest).
                if let done = finishedRun(at: URL(fileURLWithPath: c.out), variant: v.name, seed: seed, steps: c.maxSteps) {
                    runs.append(done)
                    progress(done)
                    continue
                }
                // An unfinished run of an earlier invocation is started again from scratch.
                let trainer = try Trainer(config: c, replacing: true)
                var curve: [(Int, Double)] = []
                let summary = try trainer.run { if case .evaluated(let step, let val, _) = $0 { curve.append((step, val)) } }
                let run = ExperimentRun(variant: v.name, seed: seed, finalValLoss: curve.last?.1 ?? .nan,
                                        bestValLoss: summary.bestValLoss ?? .nan, curve: curve, seconds: summary.seconds)
                runs.append(run)
                progress(run)
            }
        }
        return runs
    }

    /// Reads a completed run back from its metrics.jsonl (nil unless it reached `steps`).
    static func finishedRun(at dir: URL, variant: String, seed: UInt64, steps: Int) -> ExperimentRun? {
        guard let text = try? String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8) else { return nil }
        var curve: [(Int, Double)] = []
        var lastStep = 0, seconds = 0.0
        for line in text.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let step = o["step"] as? Int else { continue }
            lastStep = step
            seconds = o["elapsed_s"] as? Double ?? seconds
            if let v = o["val_loss"] as? Double { curve.append((step, v)) }
        }
        guard lastStep == steps, let final = curve.last, final.0 == steps else { return nil }
        return ExperimentRun(variant: variant, seed: seed, finalValLoss: final.1, bestValLoss: curve.map(\.1).min()!,
                             curve: curve, seconds: seconds)
    }

    /// Markdown table: final val loss mean ± std over seeds, and the mean first evaluation step
    /// at which val loss ≤ target (seeds that never reach it are counted as "not reached").
    public static func table(_ runs: [ExperimentRun], target: Double, variants: [ExperimentVariant] = ExperimentVariant.all) -> String {
        var lines = ["| variant | final val loss (mean ± std) | best val loss | Δ vs standard | steps to val ≤ \(String(format: "%.2f", target)) | seeds |",
                     "| --- | --- | --- | --- | --- | --- |"]
        func stats(_ x: [Double]) -> (Double, Double) {
            let m = x.reduce(0, +) / Double(x.count)
            let s = x.count > 1 ? (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot() : 0
            return (m, s)
        }
        let baseline = stats(runs.filter { $0.variant == "standard" }.map(\.finalValLoss)).0
        for v in variants {
            let rs = runs.filter { $0.variant == v.name }
            guard !rs.isEmpty else { continue }
            let (m, s) = stats(rs.map(\.finalValLoss))
            let best = stats(rs.map(\.bestValLoss)).0
            let reach = rs.map { r in r.curve.first { $0.1 <= target }?.0 }
            let reached = reach.compactMap { $0 }
            let stepsText = reached.isEmpty ? "not reached"
                : String(format: "%.0f", Double(reached.reduce(0, +)) / Double(reached.count)) + (reached.count < rs.count ? " (\(reached.count)/\(rs.count) seeds)" : "")
            // A spread needs two seeds at least; one seed has none to show.
            let spread = rs.count > 1 ? String(format: "%.4f ± %.4f", m, s) : String(format: "%.4f (one seed)", m)
            lines.append(String(format: "| %@ | %@ | %.4f | %+.4f | %@ | %d |", v.name, spread, best, m - baseline, stepsText, rs.count))
        }
        return lines.joined(separator: "\n")
    }
}
