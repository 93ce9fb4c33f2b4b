// CrystallineInference: using a trained model, from any front end.
//
// Owns the loaded model (immutable weights + tokenizer), text generation as a synchronous
// token loop (`TextGenerator`) and as an `AsyncThrowingStream` of text pieces, the UTF-8-safe
// incremental decoder, stop sequences, perplexity evaluation, and chat over a KV cache that
// keeps the conversation. Imports the model, tokenizer and interop (model directory) modules;
// the command line, the server and the tests all generate through it.
import Foundation
import CrystallineModel
import CrystallineTokenizers
import CrystallineInterop

/// A model ready for inference: immutable weights and their tokenizer. Sendable: share one
/// between any number of concurrent generations.
public struct LanguageModel: Sendable {
    public let weights: ModelWeights
    public let tokenizer: any Tokenizer
    /// What the model directory records about its training (nil for a model made elsewhere).
    public let info: ModelInfo?

    public init(weights: ModelWeights, tokenizer: any Tokenizer, info: ModelInfo? = nil) throws {
        guard tokenizer.vocabSize <= weights.config.vocabSize else {
            throw ModelDirectoryError("tokenizer has \(tokenizer.vocabSize) tokens but the model only \(weights.config.vocabSize)")
        }
        self.weights = weights
        self.tokenizer = tokenizer
        self.info = info
    }

    /// Loads a model directory (ours, or a GPT-2 safetensors directory made elsewhere).
    /// `format: .bf16` stores the weight matrices in bfloat16 (half the bytes per token),
    /// `.q8_0` in GGML's 8-bit blocks (a quarter, plus the scales).
    public static func load(directory: URL, format: WeightFormat = .fp32) throws -> LanguageModel {
        let (weights, tokenizer, info) = try ModelDirectory.load(from: directory, format: format)
        return try LanguageModel(weights: weights, tokenizer: tokenizer, info: info)
    }

    public var config: GPTConfig { weights.config }

    /// The prompt's tokens. An empty prompt starts from the tokenizer's start marker where it
    /// has one (word), else it is an error: the model needs at least one token to condition on.
    public func encodePrompt(_ prompt: String) throws -> [Int32] {
        let ids = try tokenizer.encode(prompt)
        if !ids.isEmpty { return ids }
        // An empty prompt starts from the beginning-of-text token, as GPT-2 does.
        if let bos = tokenizer.beginningOfTextId { return [bos] }
        throw GenerationError.emptyPrompt
    }
}

public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case invalidOption(String)
    /// The model's outputs overflow (finite but enormous weights): nothing it says means anything.
    case nonFiniteOutput

    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt encodes to no tokens"
        case .invalidOption(let s): return "invalid generation option: \(s)"
        case .nonFiniteOutput: return "the model's loss is not a finite number (its weights overflow); it cannot be scored"
        }
    }
}
