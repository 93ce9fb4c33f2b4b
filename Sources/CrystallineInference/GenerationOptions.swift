// What a generation may be asked: length, sampling, seed, and where to stop.
import CrystallineModel

public struct GenerationOptions: Sendable, Equatable {
    /// New tokens at most.
    public var maxTokens: Int = 200
    /// 0 is greedy.
    public var temperature: Float = 0.8
    /// Sample only among the k most likely tokens (nil: all).
    public var topK: Int? = nil
    /// Sample only among the smallest set of tokens reaching this probability (nil: all).
    public var topP: Float? = nil
    public var seed: UInt64 = 1337
    /// Generation ends before the first occurrence of any of these; the stop text is not returned.
    public var stop: [String] = []
    /// End at the tokenizer's end-of-text token, if it has one.
    public var stopAtEndOfText = true
    /// Compute on the generating thread alone, leaving the compute pool to others (a server
    /// that chats while a training run uses the cores).
    public var singleThreaded = false

    public init(maxTokens: Int = 200, temperature: Float = 0.8, topK: Int? = nil, topP: Float? = nil, seed: UInt64 = 1337,
                stop: [String] = [], stopAtEndOfText: Bool = true) {
        self.maxTokens = maxTokens; self.temperature = temperature; self.topK = topK; self.topP = topP
        self.seed = seed; self.stop = stop; self.stopAtEndOfText = stopAtEndOfText
    }

    public var sampling: SamplingOptions {
        SamplingOptions(temperature: temperature, topK: topK.flatMap { $0 > 0 ? $0 : nil }, topP: topP.flatMap { $0 < 1 ? $0 : nil })
    }

    /// Throws for values that have no meaning (NaN temperature, top-p outside (0, 1], …).
    public func validate() throws {
        func check(_ ok: Bool, _ why: @autoclosure () -> String) throws { if !ok { throw GenerationError.invalidOption(why()) } }
        try check(maxTokens >= 0, "max_tokens must be ≥ 0 (got \(maxTokens))")
        try check(temperature.isFinite && temperature >= 0, "temperature must be a finite number ≥ 0 (got \(temperature))")
        try check(topK.map { $0 >= 0 } ?? true, "top_k must be ≥ 0 (got \(topK!))")
        try check(topP.map { $0.isFinite && $0 > 0 && $0 <= 1 } ?? true, "top_p must be in (0, 1] (got \(topP!))")
        try check(!stop.contains(""), "a stop sequence must not be empty")
    }
}

/// Why a generation ended.
public enum FinishReason: String, Sendable, Codable {
    /// `maxTokens` reached.
    case length
    /// A stop sequence or the end-of-text token.
    case stop
    /// The consumer went away (a cancelled task, a closed connection).
    case cancelled
}

/// Counts and timing of a finished generation.
public struct GenerationStats: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var finishReason: FinishReason
    /// Seconds spent reading the prompt, and generating after it.
    public var promptSeconds: Double
    public var generationSeconds: Double
    public var tokensPerSecond: Double { generationSeconds > 0 ? Double(completionTokens) / generationSeconds : 0 }
}
