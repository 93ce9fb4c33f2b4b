// CrystallineTraining: everything that turns a corpus into a trained model directory.
//
// Owns the training configuration, corpus loading and batching, optimizers, learning-rate
// schedules, gradient clipping, checkpoints and the model directory, and the training loop with
// validation, early stopping, diagnostics and Ctrl-C handling.
import Foundation
import CrystallineTokenizers
import CrystallineModel

public enum OptimizerKind: String, Codable, CaseIterable, Sendable { case adamw, adam, sgd }
public enum ScheduleKind: String, Codable, CaseIterable, Sendable { case cosine, linear, step, none }
/// Token id assignment: as the tokenizer builds it, or by Ulam-spiral locality of frequency rank.
public enum VocabOrder: String, Codable, CaseIterable, Sendable { case standard, ulam }

/// Every knob of a training run. Field names are the config file's keys (JSON, snake_case).
public struct TrainingConfig: Codable, Equatable, Sendable {
    // Data
    public var corpus: String = "data/tinyshakespeare.txt"
    public var val: String? = nil
    public var valFraction: Double = 0.1
    public var tokenizer: TokenizerKind = .char
    public var vocabSize: Int? = nil
    /// Reuse the tokenizer of this model or prepared directory instead of building one.
    public var tokenizerFrom: String? = nil
    /// Re-scan a prepared data directory for new shards at every evaluation.
    public var followData = false
    // Model
    public var nLayer = 4
    public var nHead = 4
    public var nEmbd = 128
    public var blockSize = 64
    public var dropout: Float = 0
    // Crystalline lattice options (docs/CRYSTALLINE.md)
    public var embeddingInit: EmbeddingInit = .standard
    public var positional: PositionalEncoding = .learned
    public var attentionBias: AttentionBias = .none
    public var vocabOrder: VocabOrder = .standard
    // Optimisation
    public var batchSize = 12
    public var gradAccum = 1
    public var maxSteps = 2000
    public var epochs: Double? = nil
    public var optimizer: OptimizerKind = .adamw
    public var lr: Double = 1e-3
    public var minLR: Double = 1e-4
    public var warmupSteps = 100
    public var scheduler: ScheduleKind = .cosine
    public var stepSize = 1000
    public var stepFactor: Double = 0.1
    public var momentum: Double = 0.9
    public var nesterov = false
    public var weightDecay: Double = 0.1
    public var decayAll = false
    public var beta1: Double = 0.9
    public var beta2: Double = 0.99
    public var eps: Double = 1e-8
    public var gradClip: Double = 1.0
    /// Storage of the weight matrices in the matrix products (fp32 master weights either way).
    public var precision: Precision = .fp32
    // Evaluation, logging, output
    public var evalInterval = 250
    public var evalIters = 20
    public var patience: Int? = nil
    public var logInterval = 1
    public var diagnostics = false
    public var seed: UInt64 = 1337
    public var out = "models/default"
    public var sampleTokens = 300

    public init() {}

    enum CodingKeys: String, CodingKey {
        case corpus, val, valFraction = "val_fraction", tokenizer, vocabSize = "vocab_size", tokenizerFrom = "tokenizer_from"
        case followData = "follow_data"
        case nLayer = "n_layer", nHead = "n_head", nEmbd = "n_embd", blockSize = "block_size", dropout
        case embeddingInit = "embedding_init", positional, attentionBias = "attention_bias", vocabOrder = "vocab_order"
        case batchSize = "batch_size", gradAccum = "grad_accum", maxSteps = "max_steps", epochs, optimizer, lr
        case minLR = "min_lr", warmupSteps = "warmup_steps", scheduler, stepSize = "step_size", stepFactor = "step_factor"
        case momentum, nesterov, weightDecay = "weight_decay", decayAll = "decay_all", beta1, beta2, eps
        case gradClip = "grad_clip", precision, evalInterval = "eval_interval", evalIters = "eval_iters", patience
        case logInterval = "log_interval", diagnostics, seed, out, sampleTokens = "sample_tokens"
    }

    /// Decodes a config file; keys that are absent keep their defaults, unknown keys are an error
    /// (a misspelt knob must not be silently ignored).
    public static func load(from url: URL) throws -> TrainingConfig {
        let data = try Data(contentsOf: url)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TrainingError.invalidConfig("\(url.path) is not a JSON object")
        }
        let known = Set(CodingKeys.allKeys)
        let unknown = object.keys.filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty { throw TrainingError.invalidConfig("unknown key(s) in \(url.path): \(unknown.joined(separator: ", "))") }
        var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(TrainingConfig())) as! [String: Any]
        for (k, v) in object { merged[k] = v }
        do {
            return try JSONDecoder().decode(TrainingConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch {
            throw TrainingError.invalidConfig("\(url.path): \(error)")
        }
    }

    /// The model architecture this configuration trains.
    public func gptConfig(vocabSize: Int) -> GPTConfig {
        var g = GPTConfig(vocabSize: vocabSize, blockSize: blockSize, nLayer: nLayer, nHead: nHead, nEmbd: nEmbd, dropout: dropout)
        g.embeddingInit = embeddingInit
        g.positional = positional
        g.attentionBias = attentionBias
        return g
    }

    public func validate() throws {
        func check(_ ok: Bool, _ why: String) throws { if !ok { throw TrainingError.invalidConfig(why) } }
        try check(batchSize > 0, "batch_size must be positive")
        try check(gradAccum > 0, "grad_accum must be positive")
        try check(maxSteps > 0 || (epochs ?? 0) > 0, "max_steps (or epochs) must be positive")
        try check(lr > 0 && minLR >= 0, "lr must be positive and min_lr non-negative")
        try check(warmupSteps >= 0, "warmup_steps must be non-negative")
        try check(stepSize > 0, "step_size must be positive")
        try check(valFraction > 0 && valFraction < 1, "val_fraction must be in (0, 1)")
        try check(evalInterval > 0 && evalIters > 0, "eval_interval and eval_iters must be positive")
        try check(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "betas must be in [0, 1)")
        try check(gradClip >= 0, "grad_clip must be non-negative (0 disables clipping)")
        try check(logInterval > 0, "log_interval must be positive")
    }
}

extension TrainingConfig.CodingKeys: CaseIterable {
    static var allKeys: [String] { allCases.map(\.rawValue) }
}

public enum TrainingError: Error, CustomStringConvertible {
    case invalidConfig(String)
    case nonFiniteLoss(step: Int, loss: Float)
    case checkpoint(String)

    public var description: String {
        switch self {
        case .invalidConfig(let s): return "invalid configuration: \(s)"
        case .nonFiniteLoss(let step, let loss): return "loss became \(loss) at step \(step); stopped without saving the broken weights (the last checkpoint and best model are intact). Try a lower --lr or --grad-clip."
        case .checkpoint(let s): return "checkpoint: \(s)"
        }
    }
}
