// The generation loop, one token per call: sample, decode, check stops, feed the token back.
//
// Synchronous and single-threaded on purpose: it is the one loop behind `cllm generate`, the
// benchmark, chat and the async stream (which runs it on a thread of its own). A consumer
// that goes away is noticed at the next token through `isCancelled`.
import Foundation
import CrystallineCompute
import CrystallineModel
import CrystallineTokenizers

public final class TextGenerator {
    public let model: LanguageModel
    public let options: GenerationOptions
    /// The KV-cached session; a chat passes its own so that the conversation stays cached.
    public var session: InferenceSession { tokens.session }
    /// Polled before every token; true ends the generation with `.cancelled`.
    public var isCancelled: () -> Bool = { false }
    /// Set when the generation has ended.
    public private(set) var stats: GenerationStats?

    private var prompt: [Int32]
    private let promptTokenCount: Int
    private let tokens: TokenGenerator
    private var decoder = UTF8StreamDecoder()
    private var stops: StopSequenceFilter
    private var previousToken: Int32?
    private var generated = 0
    private var promptSeconds = 0.0
    private var started: ContinuousClock.Instant?
    /// Held while a single-threaded generation runs, so that the pool's user steps aside.
    private var reservation: CoreReservation?
    private let clock = ContinuousClock()

    /// - Parameter session: a session to continue (its context is kept); a new one if nil.
    public init(model: LanguageModel, prompt: [Int32], options: GenerationOptions, session: InferenceSession? = nil) throws {
        try options.validate()
        guard !prompt.isEmpty || session.map({ !$0.history.isEmpty }) ?? false else { throw GenerationError.emptyPrompt }
        self.model = model
        self.options = options
        tokens = TokenGenerator(session: session ?? InferenceSession(weights: model.weights), sampling: options.sampling, seed: options.seed)
        tokens.session.usesThreadPool = !options.singleThreaded
        self.prompt = prompt
        promptTokenCount = prompt.count
        stops = StopSequenceFilter(stops: options.stop)
        previousToken = prompt.last ?? session?.history.last
    }

    public convenience init(model: LanguageModel, prompt: String, options: GenerationOptions) throws {
        try self.init(model: model, prompt: try model.encodePrompt(prompt), options: options)
    }

    /// The next piece of text (possibly empty while a character or a possible stop sequence is
    /// held back), or nil once the generation has ended (`stats` then says why).
    public func next() throws -> String? {
        if stats != nil { return nil }
        if started == nil {
            if options.singleThreaded { reservation = ThreadPool.shared.reserveCore() }
            let t0 = clock.now
            try tokens.feed(prompt)
            prompt = []
            promptSeconds = (clock.now - t0).seconds
            started = clock.now
        }
        if isCancelled() { return finish(.cancelled, emitHeld: false) }
        if generated >= options.maxTokens { return finish(.length) }
        let token = try tokens.next()
        if options.stopAtEndOfText, token == model.tokenizer.endOfTextId { return finish(.stop) }
        generated += 1
        let text = decoder.decode(model.tokenizer.pieceBytes(token, following: previousToken))
        previousToken = token
        let (emit, stopped) = stops.push(text)
        if stopped { return finish(.stop, emitHeld: false, prefix: emit) }
        return emit
    }

    /// Feeds the last sampled token to the session, so that its context holds the whole text
    /// generated (a chat continues from there).
    public func commitLastToken() throws { try tokens.commit() }

    /// Runs to the end and returns the whole text.
    public func collect(onPiece: (String) -> Void = { _ in }) throws -> String {
        var out = ""
        while let piece = try next() { out += piece; if !piece.isEmpty { onPiece(piece) } }
        return out
    }

    private func finish(_ reason: FinishReason, emitHeld: Bool = true, prefix: String = "") -> String {
        reservation?.release()
        reservation = nil
        var tail = prefix
        if emitHeld {
            let (text, stopped) = stops.push(decoder.flush())
            tail += text
            if !stopped { tail += stops.flush() }
        }
        stats = GenerationStats(promptTokens: promptTokenCount,
                                completionTokens: generated, finishReason: reason, promptSeconds: promptSeconds,
                                generationSeconds: started.map { (clock.now - $0).seconds } ?? 0)
        return tail
    }
}
