// The sizes a model and a run may have, checked before anything is allocated.
//
// Sizes come from command-line flags, config files, config.json and checkpoints, any of which
// may hold 4e9 or −1. Every path that builds a model (training, loading, `models list`,
// resume) goes through `GPTConfig.validate()`, which calls these checks: each dimension inside
// a hard cap, then the memory the model would need, estimated in floating point (so the
// estimate itself cannot overflow), against what this machine has.
import Foundation
import Synchronization

public enum ModelLimits {
    /// Hard caps, far above any model this engine could train on a CPU; they exist so that the
    /// arithmetic on sizes never overflows, whatever a file says.
    public static let maxLayers = 1_024
    public static let maxHeads = 1_024
    public static let maxEmbedding = 65_536
    public static let maxBlockSize = 1 << 20
    public static let maxVocabulary = 1 << 24
    public static let maxBatch = 1 << 20

    private static let budgetOverride = Atomic<Int>(0)

    /// Bytes a model may need: the machine's physical memory, unless `setMemoryBudget` lowered it
    /// (tests and the fuzz targets do, so that a hostile file is refused instead of swapping).
    public static var memoryBudget: Int {
        let set = budgetOverride.load(ordering: .relaxed)
        return set > 0 ? set : Int(clamping: ProcessInfo.processInfo.physicalMemory)
    }

    /// Sets the memory budget for this process (0 restores the physical memory).
    public static func setMemoryBudget(_ bytes: Int) { budgetOverride.store(max(0, bytes), ordering: .relaxed) }

    /// Checks `value` of setting `name` is in 1...cap; the message names the setting.
    public static func checkRange(_ name: String, _ value: Int, cap: Int) throws {
        guard value >= 1, value <= cap else {
            throw ModelError.invalidConfig("\(name) is \(value); it must be between 1 and \(cap)")
        }
    }

    /// The parameter count, in floating point (exact below 2^53, and never traps).
    public static func parameterEstimate(vocabSize: Int, _ a: ModelHyperparameters) -> Double {
        let C = Double(a.nEmbd), L = Double(a.nLayer)
        let perLayer = 12 * C * C + 13 * C + (a.attentionBias == .none ? 0 : Double(a.nHead))
        return Double(vocabSize) * C + Double(a.blockSize) * C + L * perLayer + 2 * C
    }

    /// Bytes to hold the weights and generate one sequence (weights, a bf16 copy, the KV cache,
    /// and the block × block distance table of a lattice attention bias).
    public static func inferenceBytes(vocabSize: Int, _ a: ModelHyperparameters) -> Double {
        let P = parameterEstimate(vocabSize: vocabSize, a)
        let cache = 2 * Double(a.nLayer) * Double(a.blockSize) * Double(a.nEmbd)
        let distances = a.attentionBias == .none ? 0 : Double(a.blockSize) * Double(a.blockSize)
        return 4 * (1.5 * P + cache + Double(vocabSize) + Double(a.blockSize) + distances)
    }

    /// Bytes to train at batch `B` × block `T`: parameters, gradients, two optimizer moments, a
    /// bf16 copy, and two activation sets (forward and gradients) as `ActivationSet` lays them out.
    public static func trainingBytes(vocabSize: Int, _ a: ModelHyperparameters, batchSize B: Int) -> Double {
        let P = parameterEstimate(vocabSize: vocabSize, a)
        let N = Double(B) * Double(a.blockSize), C = Double(a.nEmbd), V = Double(vocabSize)
        let T = Double(a.blockSize), heads = Double(a.nHead)
        let attention = Double(B) * heads * T * T * (a.dropout > 0 ? 2 : 1)
        let perLayer = 40 * N * C + 8 * N + attention
        let distances = a.attentionBias == .none ? 0 : T * T
        return 4 * (4.5 * P + Double(a.nLayer) * perLayer + 2 * N * V + 6 * N * C + distances)
    }

    /// Refuses `bytes` beyond the budget, saying what needs it and what the machine has.
    public static func checkMemory(_ bytes: Double, for what: String) throws {
        let budget = Double(memoryBudget)
        guard bytes <= budget else {
            throw ModelError.invalidConfig("\(what) needs about \(formatBytes(bytes)) of memory, more than this machine's \(formatBytes(budget))")
        }
    }

    /// "1.5 GB", "310 MB", "4.0 TB".
    public static func formatBytes(_ bytes: Double) -> String {
        let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"]
        var value = bytes, unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        if unit == units.count - 1, value >= 1000 { return String(format: "%.1e B", bytes) }
        return unit == 0 ? "\(Int(value)) B" : String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }
}
