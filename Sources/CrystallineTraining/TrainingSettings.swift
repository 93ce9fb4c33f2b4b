// The sections of a training configuration. Each setting is written once, here, as a property
// with its default and a doc comment; its config-file key is the property name in snake_case
// (`SnakeCaseJSON`), and `cllm train`'s flag is the same name in kebab-case.
import CrystallineTokenizers
import CrystallineModel

public enum OptimizerKind: String, Codable, CaseIterable, Sendable { case adamw, adam, sgd }
public enum ScheduleKind: String, Codable, CaseIterable, Sendable { case cosine, linear, step, none }
/// Token id assignment: as the tokenizer builds it, or by Ulam-spiral locality of frequency rank.
public enum VocabOrder: String, Codable, CaseIterable, Sendable { case standard, ulam }

/// What the model learns from.
public struct DataSettings: Codable, Equatable, Sendable {
    /// A text file, a directory of text files, or a `cllm prepare` directory.
    public var corpus = "data/tinyshakespeare.txt"
    /// A separate validation corpus (otherwise the last `val_fraction` of the corpus).
    public var val: String? = nil
    public var valFraction = 0.1
    public var tokenizer = TokenizerKind.char
    /// Vocabulary size of the word and BPE tokenizers.
    public var vocabSize: Int? = nil
    /// Reuse the tokenizer of this model or prepared directory instead of building one.
    public var tokenizerFrom: String? = nil
    /// Re-scan a prepared data directory for new shards at every evaluation.
    public var followData = false
    /// Keep training on text files that arrive in this directory (from `cllm crawl` or
    /// `cllm ingest`): each batch of new documents starts a round of `round_steps` steps.
    public var follow: String? = nil
    /// While following: the fraction of each batch replayed from the data trained on before.
    public var replay = 0.05
    /// While following: optimizer steps per round of new data, with the learning rate warmed up
    /// again and decayed again in each round (nil: max_steps).
    public var roundSteps: Int? = nil
    /// Token ids as built, or re-numbered by Ulam-spiral locality (a crystalline option).
    public var vocabOrder = VocabOrder.standard
    public init() {}
}

/// How the parameters are updated.
public struct OptimizationSettings: Codable, Equatable, Sendable {
    public var optimizer = OptimizerKind.adamw
    /// Peak learning rate.
    public var lr = 1e-3
    /// Floor of the learning-rate decay.
    public var minLr = 1e-4
    public var warmupSteps = 100
    public var scheduler = ScheduleKind.cosine
    /// Steps between decays of the step scheduler, and its factor.
    public var stepSize = 1000
    public var stepFactor = 0.1
    /// SGD momentum, and whether it is Nesterov's.
    public var momentum = 0.9
    public var nesterov = false
    /// Decoupled weight decay (2-D weight matrices only unless `decay_all`).
    public var weightDecay = 0.1
    public var decayAll = false
    public var beta1 = 0.9
    public var beta2 = 0.99
    public var eps = 1e-8
    /// Clip the global gradient norm to this (0: off).
    public var gradClip = 1.0
    public init() {}
}

/// How long, how big, and what the run writes.
public struct RunSettings: Codable, Equatable, Sendable {
    /// Sequences per micro-batch, and micro-batches per optimizer step.
    public var batchSize = 12
    public var gradAccum = 1
    /// Optimizer steps, unless `epochs` (passes over the training tokens) is given.
    public var maxSteps = 2000
    public var epochs: Double? = nil
    /// Precision of the matrix products (fp32 master weights either way): bf16 where the CPU
    /// has bfloat16 instructions, else fp32 (`Precision.preferred`).
    public var precision = Precision.preferred
    public var evalInterval = 250
    public var evalIters = 20
    /// Stop after this many evaluations without improvement.
    public var patience: Int? = nil
    /// Steps between metrics.jsonl lines.
    public var logInterval = 1
    public var diagnostics = false
    public var seed: UInt64 = 1337
    /// The model directory written.
    public var out = "models/default"
    /// Tokens of the sample printed at the end (0: none).
    public var sampleTokens = 300
    /// A checkpoint also every N steps ("100") or every so many minutes ("10m", "30s"), apart
    /// from the one at each evaluation. Nil: at evaluations only.
    public var checkpointInterval: String? = nil
    public init() {}
}
