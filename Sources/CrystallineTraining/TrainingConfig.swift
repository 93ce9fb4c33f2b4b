// CrystallineTraining: everything that turns token data into a trained model directory.
//
// Owns the training configuration, optimizers, learning-rate schedules, gradient clipping,
// checkpoints, the trainer (one step at a time, with validation, early stopping, diagnostics)
// and `TrainingRun`, which drives a trainer on its own thread for other front ends. Imports the
// model, data and interop modules.
import Foundation
import CrystallineFormats
import CrystallineModel

/// Every knob of a training run, in four sections. In a config file each section is an object
/// under its name ({"model": {"n_layer": 6}, "optimization": {"lr": 6e-4}}), or its keys may
/// stand at the top level ({"n_layer": 6, "lr": 6e-4}): every key belongs to exactly one
/// section. `config.nLayer` and the like read and write a section's field directly.
@dynamicMemberLookup
public struct TrainingConfig: Equatable, Sendable {
    public var data = DataSettings()
    /// The architecture, shared with `GPTConfig` and the model's config.json.
    public var model = ModelHyperparameters()
    public var optimization = OptimizationSettings()
    public var run = RunSettings()

    public init() {}

    public subscript<T>(dynamicMember field: WritableKeyPath<DataSettings, T>) -> T {
        get { data[keyPath: field] } set { data[keyPath: field] = newValue }
    }
    public subscript<T>(dynamicMember field: WritableKeyPath<ModelHyperparameters, T>) -> T {
        get { model[keyPath: field] } set { model[keyPath: field] = newValue }
    }
    public subscript<T>(dynamicMember field: WritableKeyPath<OptimizationSettings, T>) -> T {
        get { optimization[keyPath: field] } set { optimization[keyPath: field] = newValue }
    }
    public subscript<T>(dynamicMember field: WritableKeyPath<RunSettings, T>) -> T {
        get { run[keyPath: field] } set { run[keyPath: field] = newValue }
    }

    /// The model architecture this configuration trains.
    public func gptConfig(vocabSize: Int) -> GPTConfig { GPTConfig(vocabSize: vocabSize, architecture: model) }

    /// The sections and their fields (property names), read off the types themselves.
    public static let sections: [(name: String, fields: [String])] = [
        ("data", fieldNames(DataSettings())), ("model", fieldNames(ModelHyperparameters())),
        ("optimization", fieldNames(OptimizationSettings())), ("run", fieldNames(RunSettings())),
    ]

    /// Every setting's config-file key.
    public static var allKeys: [String] { sections.flatMap { $0.fields.map(SnakeCaseJSON.snakeCase) } }

    private static func fieldNames(_ value: Any) -> [String] { Mirror(reflecting: value).children.compactMap(\.label) }

    /// Each setting's default as a config file would hold it, by property name (settings whose
    /// default is "none" are absent): what `cllm train --help` shows beside each flag.
    public static var defaultValues: [String: Any] {
        guard let data = try? SnakeCaseJSON.encoder().encode(TrainingConfig()),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        var values: [String: Any] = [:]
        for (name, _) in sections {
            for (key, value) in root[name] as? [String: Any] ?? [:] where !(value is NSNull) { values[SnakeCaseJSON.camelCase(key)] = value }
        }
        return values
    }

    /// The section that owns a field (camelCase or snake_case name).
    public static func section(of key: String) -> String? {
        let field = SnakeCaseJSON.camelCase(key)
        return sections.first { $0.fields.contains(field) }?.name
    }

    /// Settings that a resumed run may change: how long it goes on, how it is watched, and
    /// whether it follows new data. Everything else is fixed by the checkpoint.
    public static let changeableOnResume: Set<String> = [
        "maxSteps", "epochs", "evalInterval", "evalIters", "patience", "logInterval", "sampleTokens", "diagnostics", "followData",
        "checkpointInterval", "follow", "replay", "roundSteps",
    ]

    /// Decodes a config file; keys that are absent keep their defaults, unknown keys are an error
    /// (a misspelt knob must not be silently ignored).
    public static func load(from url: URL) throws -> TrainingConfig {
        let data: Data
        do { data = try readFile(url) } catch { throw TrainingError.invalidConfig("\(error)") }
        return try parse(data, path: url.path)
    }

    /// Decodes the bytes of a config file (`path` names it in errors).
    public static func parse(_ data: Data, path: String) throws -> TrainingConfig {
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
            throw TrainingError.invalidConfig("\(path) is not a JSON object")
        }
        do { return try TrainingConfig().applying(dictionary) } catch let e as TrainingError {
            throw TrainingError.invalidConfig("\(path): \(e.reason)")
        }
    }

    /// This configuration with `overrides` applied: keys (snake_case or camelCase) at the top
    /// level or inside their section's object, values as JSON would hold them.
    public func applying(_ overrides: [String: Any]) throws -> TrainingConfig {
        try applying(overrides, explainFailures: true)
    }

    private func applying(_ overrides: [String: Any], explainFailures: Bool) throws -> TrainingConfig {
        // The current values by section, keyed by property name (the encoding is snake_case).
        var tree = (try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: [String: Any]]).mapValues { fields in
            Dictionary(uniqueKeysWithValues: fields.map { (SnakeCaseJSON.camelCase($0.key), $0.value) })
        } as [String: Any]
        var unknown: [String] = []
        func set(_ key: String, _ value: Any) {
            guard let section = Self.section(of: key) else { unknown.append(key); return }
            var s = tree[section] as! [String: Any]
            s[SnakeCaseJSON.camelCase(key)] = value
            tree[section] = s
        }
        let givenFields = Set(overrides.flatMap { (k, v) in (v as? [String: Any]).map { $0.keys.map(SnakeCaseJSON.camelCase) } ?? [SnakeCaseJSON.camelCase(k)] })
        if givenFields.contains("maxSteps") && !givenFields.contains("epochs") {
            // A step count given now replaces a length in epochs given before.
            var run = tree["run"] as! [String: Any]
            run["epochs"] = nil
            tree["run"] = run
        }
        for (key, value) in overrides {
            if let fields = value as? [String: Any], Self.sections.contains(where: { $0.name == key }) {
                for (k, v) in fields {
                    if Self.section(of: k) == key { set(k, v) } else { unknown.append("\(key).\(k)") }
                }
            } else {
                set(key, value)
            }
        }
        if !unknown.isEmpty {
            throw TrainingError.invalidConfig("unknown key(s): \(unknown.map(SnakeCaseJSON.snakeCase).sorted().joined(separator: ", "))")
        }
        func section<S: Decodable>(_ type: S.Type, _ name: String) throws -> S {
            do {
                return try JSONDecoder().decode(S.self, from: JSONSerialization.data(withJSONObject: tree[name]!))
            } catch {
                throw TrainingError.invalidConfig((explainFailures ? Self.culprit(in: overrides) : nil) ?? SnakeCaseJSON.describe(error))
            }
        }
        var result = TrainingConfig()
        result.data = try section(DataSettings.self, "data")
        result.model = try section(ModelHyperparameters.self, "model")
        result.optimization = try section(OptimizationSettings.self, "optimization")
        result.run = try section(RunSettings.self, "run")
        return result
    }

    /// Which override a decoding failure comes from, and what its field takes: Foundation's
    /// decoding errors do not always name the key (a fractional number for an integer does not).
    private static func culprit(in overrides: [String: Any]) -> String? {
        let defaults: [Any] = [DataSettings(), ModelHyperparameters(), OptimizationSettings(), RunSettings()]
        func expected(_ field: String) -> String {
            for section in defaults {
                guard let child = Mirror(reflecting: section).children.first(where: { $0.label == field }) else { continue }
                if let cases = (child.value as? any CaseIterable).map({ Mirror(reflecting: type(of: $0).allCases).children.map { "\($0.value)" } }) {
                    return "one of " + cases.joined(separator: ", ")
                }
                return SnakeCaseJSON.typeName(type(of: child.value))
            }
            return "valid"
        }
        let flat = overrides.flatMap { (k, v) in (v as? [String: Any]).map { Array($0) } ?? [(k, v)] }
        for (key, value) in flat.sorted(by: { $0.0 < $1.0 }) where (try? TrainingConfig().applying([key: value], explainFailures: false)) == nil {
            return "'\(SnakeCaseJSON.snakeCase(SnakeCaseJSON.camelCase(key)))' must be \(expected(SnakeCaseJSON.camelCase(key))) (got \(value))"
        }
        return nil
    }

    /// The fields (property names) whose values differ between the two configurations.
    public func differences(from other: TrainingConfig) throws -> Set<String> {
        func fields(_ c: TrainingConfig) throws -> [String: NSObject] {
            let tree = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as! [String: [String: Any]]
            var out: [String: NSObject] = [:]
            for section in tree.values { for (k, v) in section { out[SnakeCaseJSON.camelCase(k)] = v as? NSObject } }
            return out
        }
        let a = try fields(self), b = try fields(other)
        return Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }
    }

    public func validate() throws {
        func check(_ ok: Bool, _ why: @autoclosure () -> String) throws { if !ok { throw TrainingError.invalidConfig(why()) } }
        let o = optimization, r = run, d = data
        do { try model.validate() } catch { throw TrainingError.invalidConfig(Self.reason(error)) }
        try check((1...ModelLimits.maxBatch).contains(r.batchSize), "batch_size is \(r.batchSize); it must be between 1 and \(ModelLimits.maxBatch)")
        try check((1...ModelLimits.maxBatch).contains(r.gradAccum), "grad_accum is \(r.gradAccum); it must be between 1 and \(ModelLimits.maxBatch)")
        try check(r.maxSteps > 0 || (r.epochs ?? 0) > 0, "max_steps (or epochs) must be positive")
        try check(r.epochs.map { $0.isFinite && $0 > 0 && $0 <= 1e6 } ?? true, "epochs must be a positive number, at most 1e6")
        try check(o.lr.isFinite && o.lr > 0 && o.minLr.isFinite && o.minLr >= 0, "lr must be positive and min_lr non-negative (finite numbers)")
        try check(o.warmupSteps >= 0, "warmup_steps must be non-negative")
        try check(o.stepSize > 0 && o.stepFactor.isFinite && o.stepFactor > 0, "step_size and step_factor must be positive")
        try check(d.valFraction > 0 && d.valFraction < 1, "val_fraction must be in (0, 1)")
        try check(d.vocabSize.map { $0 > 0 } ?? true, "vocab_size must be positive")
        try check(r.evalInterval > 0 && r.evalIters > 0, "eval_interval and eval_iters must be positive")
        try check(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "betas must be in [0, 1)")
        try check(o.eps.isFinite && o.eps > 0, "eps must be positive")
        try check(o.momentum >= 0 && o.momentum < 1, "momentum must be in [0, 1)")
        try check(o.weightDecay.isFinite && o.weightDecay >= 0, "weight_decay must be non-negative")
        try check(o.gradClip.isFinite && o.gradClip >= 0, "grad_clip must be non-negative (0 disables clipping)")
        try check(r.logInterval > 0, "log_interval must be positive")
        try check(r.patience.map { $0 > 0 } ?? true, "patience must be positive")
        try check(r.sampleTokens >= 0, "sample_tokens must be non-negative")
        if let text = r.checkpointInterval {
            try check(CheckpointInterval(text) != nil, "checkpoint_interval \(text.debugDescription) must be a number of steps (\"100\") or a time (\"10m\", \"30s\")")
        }
        try check(d.replay.isFinite && d.replay >= 0 && d.replay < 1, "replay must be in [0, 1): the fraction of each batch drawn from the old data")
        try check(d.roundSteps.map { $0 > 0 } ?? true, "round_steps must be positive")
        try check(d.follow == nil || r.epochs == nil, "follow runs in rounds of round_steps; it cannot be combined with epochs")
        try check(r.evalIters <= 1 << 20, "eval_iters is \(r.evalIters); it must be at most \(1 << 20)")
        try checkMemory(vocabSize: d.vocabSize ?? 1)
    }

    /// Refuses a run whose model, optimizer state and activations would not fit in memory
    /// (the vocabulary is known once the tokenizer is built; `validate` checks a lower bound).
    public func checkMemory(vocabSize: Int) throws {
        do {
            try ModelLimits.checkMemory(ModelLimits.trainingBytes(vocabSize: vocabSize, model, batchSize: run.batchSize),
                                        for: "training \(model.nLayer) layers, \(model.nEmbd) wide, at batch \(run.batchSize) × block \(model.blockSize)")
        } catch { throw TrainingError.invalidConfig(Self.reason(error)) }
    }

    /// A model error's reason without its own "invalid model configuration" prefix.
    static func reason(_ error: Error) -> String {
        if case ModelError.invalidConfig(let why) = error { return why }
        return "\(error)"
    }
}

extension TrainingConfig: Codable {
    enum Section: String, CodingKey { case data, model, optimization, run }

    /// Written by section. Read leniently: a section may be partial (absent fields keep their
    /// defaults) or its keys may stand at the top level (config files and checkpoints of the
    /// flat layout); unknown keys are an error.
    public init(from decoder: Decoder) throws {
        let any = try JSONValue(from: decoder)
        guard case .object(let object) = any else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a training configuration must be an object"))
        }
        do {
            self = try TrainingConfig().applying(object.mapValues(\.foundationValue))
        } catch let e as TrainingError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: e.reason))
        }
    }

    /// Always with snake_case keys, whatever the encoder's key strategy: a configuration inside
    /// an event or a checkpoint reads like a config file.
    public func encode(to encoder: Encoder) throws {
        func snakeCased<S: Encodable>(_ section: S) throws -> JSONValue {
            guard case .object(let fields) = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(section)) else {
                preconditionFailure("a settings section encodes as an object")
            }
            return .object(Dictionary(uniqueKeysWithValues: fields.map { (SnakeCaseJSON.snakeCase($0.key), $0.value) }))
        }
        var c = encoder.container(keyedBy: Section.self)
        try c.encode(snakeCased(data), forKey: .data)
        try c.encode(snakeCased(model), forKey: .model)
        try c.encode(snakeCased(optimization), forKey: .optimization)
        try c.encode(snakeCased(run), forKey: .run)
    }
}

public enum TrainingError: Error, CustomStringConvertible {
    case invalidConfig(String)
    case nonFiniteLoss(step: Int, loss: Float)
    case checkpoint(String)
    /// A fresh run was pointed at a directory that already holds a model.
    case existingModel(String)

    public var description: String {
        switch self {
        case .existingModel(let s): return s
        case .invalidConfig(let s): return "invalid configuration: \(s)"
        case .nonFiniteLoss(let step, let loss): return "loss became \(loss) at step \(step); stopped without saving the broken weights (the last checkpoint and best model are intact). Try a lower --lr or --grad-clip."
        case .checkpoint(let s): return "checkpoint: \(s)"
        }
    }

    /// The message without its prefix.
    var reason: String {
        switch self {
        case .invalidConfig(let s), .checkpoint(let s), .existingModel(let s): return s
        case .nonFiniteLoss: return description
        }
    }
}
