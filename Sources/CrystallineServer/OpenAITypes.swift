// The request and response shapes of OpenAI's completions and chat completions APIs, as
// llama.cpp's server also speaks them (plus its `timings`).
import Foundation
import CrystallineInference

/// A string or a list of strings (`prompt`, `stop`).
enum StringOrList: Codable, Sendable {
    case one(String), many([String])
    var values: [String] { switch self { case .one(let s): return [s]; case .many(let a): return a } }
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .one(s) } else { self = .many(try c.decode([String].self)) }
    }
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self { case .one(let s): try c.encode(s); case .many(let a): try c.encode(a) }
    }
}

/// What both endpoints share.
struct SamplingFields: Codable, Sendable {
    var model: String?
    var maxTokens: Int?
    var temperature: Float?
    var topP: Float?
    var topK: Int?
    var seed: UInt64?
    var stop: StringOrList?
    var stream: Bool?
    var n: Int?
    var streamOptions: StreamOptions?

    struct StreamOptions: Codable, Sendable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    enum CodingKeys: String, CodingKey {
        case model, maxTokens = "max_tokens", temperature, topP = "top_p", topK = "top_k", seed, stop, stream, n
        case streamOptions = "stream_options"
    }
}

struct CompletionRequest: Decodable, Sendable {
    var prompt: StringOrList
    var fields: SamplingFields
    init(from decoder: Decoder) throws {
        enum K: String, CodingKey { case prompt }
        prompt = try decoder.container(keyedBy: K.self).decode(StringOrList.self, forKey: .prompt)
        fields = try SamplingFields(from: decoder)
    }
}

struct ChatRequest: Decodable, Sendable {
    var messages: [ChatMessage]
    var fields: SamplingFields
    init(from decoder: Decoder) throws {
        enum K: String, CodingKey { case messages }
        messages = try decoder.container(keyedBy: K.self).decode([ChatMessage].self, forKey: .messages)
        fields = try SamplingFields(from: decoder)
    }
}

struct Usage: Codable, Sendable {
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int
    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens" }
    init(_ s: GenerationStats) {
        promptTokens = s.promptTokens; completionTokens = s.completionTokens; totalTokens = s.promptTokens + s.completionTokens
    }
}

/// llama.cpp's `timings`: milliseconds and rates of prompt reading and generation.
struct Timings: Codable, Sendable {
    var promptN: Int, promptMs: Double, promptPerSecond: Double
    var predictedN: Int, predictedMs: Double, predictedPerSecond: Double
    enum CodingKeys: String, CodingKey {
        case promptN = "prompt_n", promptMs = "prompt_ms", promptPerSecond = "prompt_per_second"
        case predictedN = "predicted_n", predictedMs = "predicted_ms", predictedPerSecond = "predicted_per_second"
    }
    init(_ s: GenerationStats) {
        promptN = s.promptTokens; promptMs = s.promptSeconds * 1000
        promptPerSecond = s.promptSeconds > 0 ? Double(s.promptTokens) / s.promptSeconds : 0
        predictedN = s.completionTokens; predictedMs = s.generationSeconds * 1000; predictedPerSecond = s.tokensPerSecond
    }
}

struct CompletionChoice: Codable, Sendable {
    var text: String
    var index = 0
    var logprobs: String? = nil
    var finishReason: String?
    enum CodingKeys: String, CodingKey { case text, index, logprobs, finishReason = "finish_reason" }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(text, forKey: .text); try c.encode(index, forKey: .index)
        try c.encodeNil(forKey: .logprobs); try c.encode(finishReason, forKey: .finishReason)
    }
}

struct CompletionResponse: Codable, Sendable {
    var id: String
    var object = "text_completion"
    var created: Int
    var model: String
    var choices: [CompletionChoice]
    var usage: Usage?
    var timings: Timings?
}

struct ChatMessageOut: Codable, Sendable { var role: String; var content: String }

struct ChatChoice: Codable, Sendable {
    var index = 0
    var message: ChatMessageOut
    var finishReason: String
    enum CodingKeys: String, CodingKey { case index, message, finishReason = "finish_reason" }
}

struct ChatResponse: Codable, Sendable {
    var id: String
    var object = "chat.completion"
    var created: Int
    var model: String
    var choices: [ChatChoice]
    var usage: Usage
    var timings: Timings
}

struct ChatDelta: Codable, Sendable { var role: String?; var content: String? }

struct ChatChunkChoice: Codable, Sendable {
    var index = 0
    var delta: ChatDelta
    var finishReason: String?
    enum CodingKeys: String, CodingKey { case index, delta, finishReason = "finish_reason" }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index); try c.encode(delta, forKey: .delta); try c.encode(finishReason, forKey: .finishReason)
    }
}

struct ChatChunk: Codable, Sendable {
    var id: String
    var object = "chat.completion.chunk"
    var created: Int
    var model: String
    var choices: [ChatChunkChoice]
    var usage: Usage?
    var timings: Timings?
}

struct ModelList: Codable, Sendable {
    struct Entry: Codable, Sendable {
        var id: String
        var object = "model"
        var created: Int
        var ownedBy = "cllm"
        var meta: Meta
        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by", meta }
    }
    struct Meta: Codable, Sendable {
        var parameters: Int
        var contextLength: Int
        var vocabSize: Int
        var tokenizer: String?
        var bestValLoss: Double?
        enum CodingKeys: String, CodingKey {
            case parameters, contextLength = "context_length", vocabSize = "vocab_size", tokenizer, bestValLoss = "best_val_loss"
        }
    }
    var object = "list"
    var data: [Entry]
}
