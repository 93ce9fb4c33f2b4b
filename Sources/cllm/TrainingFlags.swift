// The `cllm train` flags: one per training setting, named as the setting (`nLayer` is
// `--n-layer` here and `n_layer` in a config file). They are not copied into the configuration
// one by one: `overrides` reads the flags that were given by reflection and hands them to
// `TrainingConfig.applying`, which places each in its section and checks its type, so a
// setting is added by declaring its property in TrainingSettings.swift and its flag here. A
// test checks that the two lists match.
import ArgumentParser
import CrystallineModel
import CrystallineTokenizers
import CrystallineTraining

struct TrainingFlags: ParsableArguments {
    // data
    @Argument(help: "Corpus: a text file, a directory of text files, or a `cllm prepare` directory (default: data/tinyshakespeare.txt).")
    var corpus: String?
    @Option(help: "Separate validation corpus (default: the last --val-fraction of the corpus).") var val: String?
    @Option(help: "Fraction of the corpus held out for validation (default 0.1).") var valFraction: Double?
    @Option(help: "Tokenizer: char, word or bpe (default char).") var tokenizer: TokenizerKind?
    @Option(help: "Vocabulary size for word and bpe tokenizers.") var vocabSize: Int?
    @Option(help: "Reuse the tokenizer of this model or prepared directory instead of building one.") var tokenizerFrom: String?
    @Flag(help: "Re-scan a prepared data directory for new shards at every evaluation.") var followData = false
    @Option(help: "Token ids: standard, or ulam (Ulam-spiral locality of frequency rank).") var vocabOrder: VocabOrder?
    // model
    @Option(help: "Transformer blocks (default 4).") var nLayer: Int?
    @Option(help: "Attention heads (default 4).") var nHead: Int?
    @Option(help: "Embedding width (default 128).") var nEmbd: Int?
    @Option(help: "Context length in tokens (default 64).") var blockSize: Int?
    @Option(help: "Dropout probability, training only (default 0).") var dropout: Float?
    @Option(help: "Token embedding init: standard or lattice (the corrected clock-lattice formula).") var embeddingInit: EmbeddingInit?
    @Option(help: "Positions: learned, or lattice (fixed clock-lattice encoding).") var positional: PositionalEncoding?
    @Option(help: "Attention bias: none, angular (learned per-head slope × clock-angle distance) or linear (the same over |i − j|, an ALiBi-like control).")
    var attentionBias: AttentionBias?
    // optimization
    @Option(help: "Optimizer: adamw, adam or sgd (default adamw).") var optimizer: OptimizerKind?
    @Option(help: "Peak learning rate (default 0.001).") var lr: Double?
    @Option(help: "Floor of the learning-rate decay (default 0.0001).") var minLr: Double?
    @Option(help: "Linear warmup steps (default 100).") var warmupSteps: Int?
    @Option(help: "Learning-rate decay after warm-up: cosine, linear, step or none (constant) (default cosine).") var scheduler: ScheduleKind?
    @Option(help: "Steps between decays of the step scheduler (default 1000).") var stepSize: Int?
    @Option(help: "Factor of each step-scheduler decay (default 0.1).") var stepFactor: Double?
    @Option(help: "SGD momentum (default 0.9).") var momentum: Double?
    @Flag(help: "Nesterov momentum for SGD.") var nesterov = false
    @Option(help: "Weight decay, 2-D weight matrices only unless --decay-all (default 0.1).") var weightDecay: Double?
    @Flag(help: "Apply weight decay to every tensor.") var decayAll = false
    @Option(help: "Adam beta1 (default 0.9).") var beta1: Double?
    @Option(help: "Adam beta2 (default 0.99).") var beta2: Double?
    @Option(help: "Adam epsilon (default 1e-8).") var eps: Double?
    @Option(help: "Clip the global gradient norm to this; 0 is off (default 1).") var gradClip: Double?
    // run
    @Option(help: "Sequences per micro-batch (default 12).") var batchSize: Int?
    @Option(help: "Micro-batches accumulated per optimizer step (default 1).") var gradAccum: Int?
    @Option(help: "Optimizer steps to run (default 2000).") var maxSteps: Int?
    @Option(help: "Passes over the training tokens (instead of --max-steps).") var epochs: Double?
    @Option(help: "Weight storage in the matrix products: fp32, or bf16 (fp32 master weights and accumulation).") var precision: Precision?
    @Option(help: "Steps between validations (default 250).") var evalInterval: Int?
    @Option(help: "Batches per validation (default 20).") var evalIters: Int?
    @Option(help: "Stop after this many validations without improvement.") var patience: Int?
    @Option(help: "Steps between metrics.jsonl lines (default 1).") var logInterval: Int?
    @Flag(help: "Report per-tensor weight/gradient norms, max |grad|, nonzero fraction and update/weight ratio.") var diagnostics = false
    @Option(help: "Random seed (default 1337).") var seed: UInt64?
    @Option(help: "Output model directory (default models/default).") var out: String?
    @Option(help: "Tokens of the sample printed at the end; 0 is none (default 300).") var sampleTokens: Int?

    /// The settings given on the command line, by property name, as JSON values.
    var overrides: [String: Any] {
        var given: [String: Any] = [:]
        for child in Mirror(reflecting: self).children {
            guard let label = child.label, let flag = child.value as? GivenValue, let value = flag.given else { continue }
            given[String(label.drop { $0 == "_" })] = value
        }
        return given
    }

    /// The setting names the flags stand for.
    static var settingNames: [String] {
        Mirror(reflecting: TrainingFlags()).children.compactMap { $0.label.map { String($0.drop { $0 == "_" }) } }
    }
}

/// A flag's value when the user gave it, as JSON holds it (nil when absent).
protocol GivenValue { var given: Any? { get } }

extension Option: GivenValue {
    var given: Any? { jsonValue(wrappedValue) }
}

extension Argument: GivenValue {
    var given: Any? { jsonValue(wrappedValue) }
}

extension Flag: GivenValue {
    /// A Boolean flag is given when set (its absence is indistinguishable from false).
    var given: Any? { (wrappedValue as? Bool) == true ? true : nil }
}

/// Unwraps an optional and turns enums into their raw strings and floats into doubles.
private func jsonValue(_ value: Any) -> Any? {
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .optional {
        guard let inner = mirror.children.first?.value else { return nil }
        return jsonValue(inner)
    }
    if let raw = value as? any RawRepresentable { return raw.rawValue }
    if let f = value as? Float { return Double(f) }
    return value
}
