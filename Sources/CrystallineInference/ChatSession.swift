// A conversation with a plain-text model, kept in one KV cache.
//
// Our models are trained on plain text, not on chat transcripts, so the template is the one
// their corpus already uses for dialogue: a speaker's name in capitals and a colon on its own
// line, the speech, then a blank line (the layout of the bundled Shakespeare):
//
//     USER:
//     How fares the king?
//
//     MODEL:
//     <the reply; generation stops at the blank line>
//
// Each turn feeds only its new text to the cached session; the reply's tokens stay in the
// cache, so the model sees the whole conversation (up to its block size, after which the
// session keeps the most recent half).
import Foundation
import CrystallineModel

public struct ChatTemplate: Sendable, Equatable {
    public var userName: String
    public var assistantName: String
    /// Ends a speech; also the stop sequence of a reply.
    public var turnSeparator: String

    public init(userName: String = "USER", assistantName: String = "MODEL", turnSeparator: String = "\n\n") {
        self.userName = userName; self.assistantName = assistantName; self.turnSeparator = turnSeparator
    }

    /// The text that closes a user message and opens the model's reply.
    public func userTurn(_ message: String) -> String {
        "\(userName):\n\(message)\(turnSeparator)\(assistantName):\n"
    }

    /// A whole conversation, ending with the opening of the model's reply (for a stateless API).
    public func render(_ messages: [ChatMessage]) -> String {
        var out = ""
        for m in messages {
            switch m.role {
            case .system: out += m.content + turnSeparator
            case .user: out += "\(userName):\n\(m.content)\(turnSeparator)"
            case .assistant: out += "\(assistantName):\n\(m.content)\(turnSeparator)"
            }
        }
        return out + "\(assistantName):\n"
    }
}

public enum ChatRole: String, Sendable, Codable { case system, user, assistant }

public struct ChatMessage: Sendable, Codable, Equatable {
    public var role: ChatRole
    public var content: String
    public init(role: ChatRole, content: String) { self.role = role; self.content = content }
}

public final class ChatSession {
    public let model: LanguageModel
    public let template: ChatTemplate
    public var options: GenerationOptions
    private let session: InferenceSession
    private var turns = 0

    public init(model: LanguageModel, template: ChatTemplate = ChatTemplate(), options: GenerationOptions = GenerationOptions()) {
        self.model = model
        self.template = template
        self.options = options
        session = InferenceSession(weights: model.weights)
    }

    /// Tokens of the conversation currently in the cache.
    public var contextTokens: Int { session.history.count }

    /// Starts a new conversation.
    public func reset() { session.reset(); turns = 0 }

    /// Sends `message`; `onPiece` hears the reply as it is generated. Returns the reply and its
    /// statistics. The reply and its closing separator stay in the conversation.
    @discardableResult
    public func send(_ message: String, onPiece: (String) -> Void = { _ in }) throws -> (reply: String, stats: GenerationStats) {
        let prefix = try model.tokenizer.encode(template.userTurn(message))
        var turnOptions = options
        if !turnOptions.stop.contains(template.turnSeparator) { turnOptions.stop.append(template.turnSeparator) }
        turnOptions.seed = options.seed &+ UInt64(turns)
        let generator = try TextGenerator(model: model, prompt: prefix, options: turnOptions, session: session)
        let reply = try generator.collect(onPiece: onPiece)
        try generator.commitLastToken()
        let stats = generator.stats!
        // A reply cut by length did not close its speech: close it so the next turn is well formed.
        if stats.finishReason != .stop || !endsWithSeparator(session.history) {
            let closing = try model.tokenizer.encode(template.turnSeparator)
            if !closing.isEmpty { try session.feed(closing) }
        }
        turns += 1
        return (reply, stats)
    }

    private func endsWithSeparator(_ history: [Int32]) -> Bool {
        let tail = model.tokenizer.decode(Array(history.suffix(8)))
        return tail.hasSuffix(template.turnSeparator)
    }
}
