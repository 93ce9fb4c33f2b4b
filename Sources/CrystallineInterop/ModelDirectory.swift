// CrystallineInterop: models on disk, in our layout and in other tools' formats.
//
// Owns the model directory (safetensors weights with Hugging Face GPT-2 names, config.json,
// tokenizer files), the models store behind `cllm models`, and export to llama.cpp's GGUF.
// Imports the model, tokenizer and file-format modules; knows nothing of training.
//
// The model directory: what `cllm train` writes and `generate`, `eval` and other tools read.
//
//   model.safetensors      weights, Hugging Face GPT-2 names and Conv1D layout (lm_head tied)
//   config.json            Hugging Face GPT-2 config plus a "cllm" section (ours)
//   cllm_tokenizer.json    the tokenizer
//   tokenizer.json         the same tokenizer for Hugging Face `tokenizers`
//   checkpoint.safetensors parameters + optimizer state + trainer state, for exact --resume
import Foundation
import CrystallineFormats
import CrystallineModel
import CrystallineTokenizers

/// What we record about a model beyond its architecture.
public struct ModelInfo: Codable, Equatable, Sendable {
    public var tokenizer: TokenizerKind
    public var trainingSteps: Int
    public var bestValLoss: Double?
    public var created: String
    public var corpus: String?

    public init(tokenizer: TokenizerKind, trainingSteps: Int, bestValLoss: Double?, created: String, corpus: String?) {
        self.tokenizer = tokenizer; self.trainingSteps = trainingSteps; self.bestValLoss = bestValLoss
        self.created = created; self.corpus = corpus
    }

    enum CodingKeys: String, CodingKey {
        case tokenizer, trainingSteps = "training_steps", bestValLoss = "best_val_loss", created, corpus
    }
}

/// A model directory that cannot be used, with the reason.
public struct ModelDirectoryError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = "model: " + description }
}

public enum ModelDirectory {
    public static let weightsFile = "model.safetensors"
    public static let configFile = "config.json"
    public static let checkpointFile = "checkpoint.safetensors"

    /// Writes weights, config and tokenizer (each atomically).
    public static func save(weights: ModelWeights, tokenizer: any Tokenizer, info: ModelInfo, to dir: URL) throws {
        try save(config: weights.config, layout: weights.layout, parameters: weights.parameters, tokenizer: tokenizer, info: info, to: dir)
    }

    /// Writes the current parameters of a training workspace (no snapshot copy).
    public static func save(model: GPT, tokenizer: any Tokenizer, info: ModelInfo, to dir: URL) throws {
        try save(config: model.config, layout: model.layout, parameters: model.parameters.pointer, tokenizer: tokenizer, info: info, to: dir)
    }

    private static func save(config: GPTConfig, layout: ParameterLayout, parameters p: UnsafePointer<Float>,
                             tokenizer: any Tokenizer, info: ModelInfo, to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tensors = layout.tensors.map { NamedTensor(name: $0.name, shape: $0.shape, values: Array(UnsafeBufferPointer(start: p + $0.offset, count: $0.count))) }
        try Safetensors.write(tensors, metadata: ["format": "pt"], to: dir.appendingPathComponent(weightsFile))
        try writeConfig(config, info: info, tokenizer: tokenizer, to: dir)
        try tokenizer.file.save(to: dir)
        try HuggingFaceTokenizer.write(tokenizer, to: dir)
    }

    static func writeConfig(_ c: GPTConfig, info: ModelInfo, tokenizer: any Tokenizer, to dir: URL) throws {
        var ours = try JSONSerialization.jsonObject(with: JSONEncoder().encode(info)) as! [String: Any]
        // The architecture exactly as the training configuration names it (one definition).
        ours["architecture"] = try JSONSerialization.jsonObject(with: SnakeCaseJSON.encoder().encode(c.architecture))
        let config: [String: Any] = [
            "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
            "vocab_size": c.vocabSize, "n_positions": c.blockSize, "n_ctx": c.blockSize,
            "n_embd": c.nEmbd, "n_layer": c.nLayer, "n_head": c.nHead, "n_inner": NSNull(),
            "activation_function": "gelu_new", "resid_pdrop": Double(c.dropout), "embd_pdrop": Double(c.dropout),
            "attn_pdrop": Double(c.dropout), "layer_norm_epsilon": Double(c.layerNormEpsilon),
            "initializer_range": 0.02, "tie_word_embeddings": true, "scale_attn_weights": true,
            // The tokenizer's own specials (null where it has none), so `generate` stops only
            // at a real end of text.
            "bos_token_id": tokenizer.beginningOfTextId.map { Int($0) } as Any? ?? NSNull(),
            "eos_token_id": tokenizer.endOfTextId.map { Int($0) } as Any? ?? NSNull(),
            "torch_dtype": "float32", "cllm": ours,
        ]
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data, to: dir.appendingPathComponent(configFile))
    }

    /// Reads config.json: the architecture, and our info if present.
    public static func readConfig(from dir: URL) throws -> (GPTConfig, ModelInfo?) {
        let url = dir.appendingPathComponent(configFile)
        return try parseConfig(readFile(url), path: url.path)
    }

    /// Parses the bytes of a config.json and checks the sizes it gives (`GPTConfig.validate`),
    /// so that nothing is allocated for a model that cannot exist. Errors name the file and key.
    public static func parseConfig(_ data: Data, path: String) throws -> (GPTConfig, ModelInfo?) {
        func bad(_ why: String) -> FormatError { .malformed(path: path, reason: why) }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch { throw bad("not valid JSON") }
        guard let object = parsed as? [String: Any] else { throw bad("not a JSON object") }
        func int(_ k: String) throws -> Int {
            guard let v = object[k] else { throw bad("'\(k)' is missing") }
            guard let i = v as? Int else { throw bad("'\(k)' must be an integer (got \(v))") }
            return i
        }
        var config = GPTConfig(vocabSize: try int("vocab_size"), blockSize: try int("n_positions"), nLayer: try int("n_layer"),
                               nHead: try int("n_head"), nEmbd: try int("n_embd"),
                               dropout: Float((object["resid_pdrop"] as? Double) ?? 0))
        if let eps = object["layer_norm_epsilon"] as? Double { config.layerNormEpsilon = Float(eps) }
        if let ours = object["cllm"] as? [String: Any], let section = ours["architecture"] {
            guard let architecture = section as? [String: Any] else { throw bad("'cllm.architecture' must be an object") }
            do {
                config.architecture = try SnakeCaseJSON.decoder().decode(ModelHyperparameters.self,
                                                                         from: JSONSerialization.data(withJSONObject: architecture))
            } catch {
                throw bad("cllm.architecture: \(SnakeCaseJSON.describe(error))")
            }
        } else if let lattice = object["crystalline"] as? [String: String] {
            // Written before the architecture section existed.
            config.embeddingInit = lattice["embedding_init"].flatMap(EmbeddingInit.init) ?? .standard
            config.positional = lattice["positional"].flatMap(PositionalEncoding.init) ?? .learned
            config.attentionBias = lattice["attention_bias"].flatMap(AttentionBias.init) ?? .none
        }
        var info: ModelInfo?
        if let ours = object["cllm"] as? [String: Any] {
            info = try? JSONDecoder().decode(ModelInfo.self, from: JSONSerialization.data(withJSONObject: ours.filter { $0.key != "architecture" }))
        }
        do { try config.validate() } catch { throw bad("\(error)") }
        return (config, info)
    }

    /// Reads the weights of a model of `config` from a safetensors file, checking every name and
    /// shape. Accepts Hugging Face checkpoints saved from GPT2LMHeadModel ("transformer." prefix,
    /// tied lm_head, attention mask buffers).
    public static func readWeights(config: GPTConfig, from url: URL, format: WeightFormat = .fp32) throws -> ModelWeights {
        try readWeights(config: config, data: readFile(url), path: url.path, format: format)
    }

    /// The same, from the bytes of a safetensors file (`path` names it in errors).
    public static func readWeights(config: GPTConfig, data: Data, path: String, format: WeightFormat = .fp32) throws -> ModelWeights {
        let (tensors, _) = try Safetensors.decode(data, path: path)
        var byName: [String: NamedTensor] = [:]
        for t in tensors {
            var name = t.name
            if name.hasPrefix("transformer.") { name.removeFirst("transformer.".count) }
            byName[name] = t
        }
        let layout = ParameterLayout(config: config)
        var values = [Float](repeating: 0, count: layout.totalCount)
        for p in layout.tensors {
            guard let t = byName[p.name] else { throw ModelError.missingTensor(p.name) }
            guard t.shape == p.shape, t.values.count == p.count else {
                throw ModelError.shapeMismatch(name: p.name, expected: p.shape, found: t.shape)
            }
            values.replaceSubrange(p.offset..<(p.offset + p.count), with: t.values)
        }
        if let bad = values.withUnsafeBufferPointer({ layout.firstNonFinite($0) }) {
            throw FormatError.malformed(path: path, reason: "\(ModelError.nonFinite(tensor: bad.tensor, index: bad.index))")
        }
        return try ModelWeights.from(config: config, values: values, format: format)
    }

    /// Our tokenizer file, or else a Hugging Face byte-level BPE `tokenizer.json` (a GPT-2 model
    /// directory made elsewhere).
    public static func loadTokenizer(from dir: URL) throws -> any Tokenizer {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent(TokenizerFile.fileName).path) {
            return try TokenizerFile.load(from: dir)
        }
        let hf = dir.appendingPathComponent(HuggingFaceTokenizer.fileName)
        guard FileManager.default.fileExists(atPath: hf.path) else {
            throw ModelDirectoryError("\(dir.path) has neither \(TokenizerFile.fileName) nor tokenizer.json")
        }
        return try HuggingFaceTokenizer.read(hf)
    }

    /// Loads a model directory: config, weights (generation's matrices stored in `format`), tokenizer.
    public static func load(from dir: URL, format: WeightFormat = .fp32) throws -> (weights: ModelWeights, tokenizer: any Tokenizer, info: ModelInfo?) {
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent(weightsFile).path) else {
            throw ModelDirectoryError("\(dir.path) is not a model directory (no \(weightsFile))")
        }
        let (config, info) = try readConfig(from: dir)
        let weights = try readWeights(config: config, from: dir.appendingPathComponent(weightsFile), format: format)
        let tokenizer = try loadTokenizer(from: dir)
        guard tokenizer.vocabSize <= config.vocabSize else {
            throw ModelDirectoryError("tokenizer has \(tokenizer.vocabSize) tokens but the model only \(config.vocabSize)")
        }
        return (weights, tokenizer, info)
    }
}
