// The `cllm train` flags: one per training setting, named as the setting (`nLayer` is
// `--n-layer` here and `n_layer` in a config file). They are not copied into the configuration
// one by one: `overrides` reads the flags that were given by reflection and hands them to
// `TrainingConfig.applying`, which places each in its section and checks its type, so a
// setting is added by declaring its property in TrainingSettings.swift and its flag here. A
// test checks that the two lists match. Each help text shows the setting's default, read from
// `TrainingConfig()` itself (the flags are optional, to know which were given).
import ArgumentParser
import Foundation
import CrystallineData
import CrystallineInterop
import CrystallineModel
import CrystallineTokenizers
import CrystallineTraining

/// `text`, then the default of `setting` as `TrainingConfig()` has it ("none" where it has none).
func settingHelp(_ text: String, _ setting: String, none: String = "none") -> ArgumentHelp {
    let value = TrainingConfig.defaultValues[setting].map { v -> String in
        if let b = v as? Bool { return b ? "on" : "off" }
        return "\(v)"
    } ?? none
    return ArgumentHelp("\(text) (default: \(value))")
}

struct TrainingFlags: ParsableArguments {
    // data
    @Argument(help: settingHelp("Corpus: a text file, a directory of text files, a `cllm prepare` directory, or - for standard input", "corpus"))
    var corpus: String?
    @Option(help: settingHelp("Separate validation corpus", "val", none: "the last --val-fraction of the corpus")) var val: String?
    @Option(parsing: .unconditional, help: settingHelp("Fraction of the corpus held out for validation", "valFraction")) var valFraction: Double?
    @Option(help: settingHelp("Tokenizer: char, word or bpe", "tokenizer")) var tokenizer: TokenizerKind?
    @Option(parsing: .unconditional, help: settingHelp("Vocabulary size of the word and bpe tokenizers, special tokens included", "vocabSize", none: "10000 word, 512 bpe"))
    var vocabSize: Int?
    @Option(help: settingHelp("Reuse the tokenizer of this model or prepared directory instead of building one", "tokenizerFrom"))
    var tokenizerFrom: String?
    @Flag(help: settingHelp("Re-scan a prepared data directory for new shards at every evaluation", "followData")) var followData = false
    @Option(help: settingHelp("Keep training on text files that arrive in this directory (from cllm crawl or cllm ingest), in rounds", "follow"))
    var follow: String?
    @Option(parsing: .unconditional, help: settingHelp("While following: the fraction of each batch replayed from the data trained on before (0.05 for a mild shift, up to 0.25 for a strong one)", "replay"))
    var replay: Double?
    @Option(parsing: .unconditional, help: settingHelp("While following: steps per round of new data, the learning rate warmed up and decayed again each round", "roundSteps", none: "--max-steps"))
    var roundSteps: Int?
    @Option(help: settingHelp("Token ids: standard, or ulam (Ulam-spiral locality of frequency rank)", "vocabOrder")) var vocabOrder: VocabOrder?
    // model
    @Option(parsing: .unconditional, help: settingHelp("Transformer blocks", "nLayer")) var nLayer: Int?
    @Option(parsing: .unconditional, help: settingHelp("Attention heads", "nHead")) var nHead: Int?
    @Option(parsing: .unconditional, help: settingHelp("Embedding width", "nEmbd")) var nEmbd: Int?
    @Option(parsing: .unconditional, help: settingHelp("Context length in tokens", "blockSize")) var blockSize: Int?
    @Option(parsing: .unconditional, help: settingHelp("Dropout probability, training only", "dropout")) var dropout: Float?
    @Option(help: settingHelp("Token embedding init: standard or lattice (the corrected clock-lattice formula)", "embeddingInit"))
    var embeddingInit: EmbeddingInit?
    @Option(help: settingHelp("Positions: learned, or lattice (fixed clock-lattice encoding)", "positional")) var positional: PositionalEncoding?
    @Option(help: settingHelp("Attention bias: none, angular (learned per-head slope × clock-angle distance) or linear (the same over |i − j|, an ALiBi-like control)", "attentionBias"))
    var attentionBias: AttentionBias?
    // optimization
    @Option(help: settingHelp("Optimizer: adamw, adam or sgd", "optimizer")) var optimizer: OptimizerKind?
    @Option(parsing: .unconditional, help: settingHelp("Peak learning rate", "lr")) var lr: Double?
    @Option(parsing: .unconditional, help: settingHelp("Floor of the learning-rate decay", "minLr")) var minLr: Double?
    @Option(parsing: .unconditional, help: settingHelp("Linear warm-up steps", "warmupSteps")) var warmupSteps: Int?
    @Option(help: settingHelp("Learning-rate decay after warm-up: cosine, linear, step or none (constant)", "scheduler")) var scheduler: ScheduleKind?
    @Option(parsing: .unconditional, help: settingHelp("Steps between decays of the step scheduler", "stepSize")) var stepSize: Int?
    @Option(parsing: .unconditional, help: settingHelp("Factor of each step-scheduler decay", "stepFactor")) var stepFactor: Double?
    @Option(parsing: .unconditional, help: settingHelp("SGD momentum", "momentum")) var momentum: Double?
    @Flag(help: settingHelp("Nesterov momentum for SGD", "nesterov")) var nesterov = false
    @Option(parsing: .unconditional, help: settingHelp("Weight decay, 2-D weight matrices only unless --decay-all", "weightDecay")) var weightDecay: Double?
    @Flag(help: settingHelp("Apply weight decay to every tensor", "decayAll")) var decayAll = false
    @Option(parsing: .unconditional, help: settingHelp("Adam beta1", "beta1")) var beta1: Double?
    @Option(parsing: .unconditional, help: settingHelp("Adam beta2", "beta2")) var beta2: Double?
    @Option(parsing: .unconditional, help: settingHelp("Adam epsilon", "eps")) var eps: Double?
    @Option(parsing: .unconditional, help: settingHelp("Clip the global gradient norm to this; 0 is off", "gradClip")) var gradClip: Double?
    // run
    @Option(parsing: .unconditional, help: settingHelp("Sequences per micro-batch", "batchSize")) var batchSize: Int?
    @Option(parsing: .unconditional, help: settingHelp("Micro-batches accumulated per optimizer step", "gradAccum")) var gradAccum: Int?
    @Option(parsing: .unconditional, help: settingHelp("Optimizer steps to run", "maxSteps")) var maxSteps: Int?
    @Option(parsing: .unconditional, help: settingHelp("Passes over the training tokens, instead of --max-steps", "epochs")) var epochs: Double?
    @Option(help: settingHelp("Precision of the matrix products: fp32, or bf16 (bfloat16 operands on the CPU's AVX512_BF16 instructions; fp32 master weights and accumulation)", "precision"))
    var precision: Precision?
    @Option(parsing: .unconditional, help: settingHelp("Steps between validations (and checkpoints)", "evalInterval")) var evalInterval: Int?
    @Option(parsing: .unconditional, help: settingHelp("Batches per validation", "evalIters")) var evalIters: Int?
    @Option(parsing: .unconditional, help: settingHelp("Stop after this many validations without improvement", "patience")) var patience: Int?
    @Option(parsing: .unconditional, help: settingHelp("Steps between metrics.jsonl lines", "logInterval")) var logInterval: Int?
    @Flag(help: settingHelp("Report per-tensor weight/gradient norms, max |grad|, nonzero fraction and update/weight ratio", "diagnostics"))
    var diagnostics = false
    @Option(parsing: .unconditional, help: settingHelp("Random seed", "seed")) var seed: UInt64?
    @Option(name: [.short, .long], help: "Output model directory (default: models/default, or default in $CLLM_MODELS).") var out: String?
    @Option(parsing: .unconditional, help: settingHelp("Tokens of the sample printed at the end; 0 is none", "sampleTokens")) var sampleTokens: Int?
    @Option(help: settingHelp("Also checkpoint every N steps (100) or every so long (10m, 30s), not only at validations", "checkpointInterval",
                              none: "at validations only"))
    var checkpointInterval: String?

    /// The settings given on the command line, by property name, as JSON values.
    var overrides: [String: Any] {
        var given: [String: Any] = [:]
        for child in Mirror(reflecting: self).children {
            guard let label = child.label, let flag = child.value as? GivenValue, let value = flag.given else { continue }
            given[String(label.drop { $0 == "_" })] = value
        }
        return given
    }

    /// The output directory: --out as given, or `default` in the models directory (./models or
    /// $CLLM_MODELS), where `--model default` finds it.
    var outputDirectory: String {
        out ?? ProcessInfo.processInfo.environment["CLLM_MODELS"].map { ($0 as NSString).appendingPathComponent("default") } ?? TrainingConfig().out
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
