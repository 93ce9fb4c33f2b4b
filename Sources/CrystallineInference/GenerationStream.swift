// Generation as an `AsyncThrowingStream`, for servers and UIs.
//
// The token loop runs on a thread of its own, never on Swift's cooperative pool: each token
// runs parallel regions on the compute pool, whose workers spin between regions, and a
// cooperative thread blocked there would starve other tasks. Ending the consumption (a
// cancelled task, a client that disconnects) stops the loop at the next token.
import Foundation
import Synchronization
import CrystallineTokenizers

/// One element of a detailed generation stream.
public enum GenerationEvent: Sendable {
    /// Newly completed text (never empty).
    case text(String)
    /// The end: counts, timing and why it stopped.
    case finished(GenerationStats)
}

extension LanguageModel {
    /// Streams the continuation of `prompt`, piece by piece, then the statistics.
    public func generationEvents(prompt: String, options: GenerationOptions) -> AsyncThrowingStream<GenerationEvent, Error> {
        let tokens: [Int32]
        do { tokens = try encodePrompt(prompt) } catch { return AsyncThrowingStream { $0.finish(throwing: error) } }
        return generationEvents(prompt: tokens, options: options)
    }

    /// Streams the continuation of `prompt` (token ids), piece by piece, then the statistics.
    public func generationEvents(prompt: [Int32], options: GenerationOptions) -> AsyncThrowingStream<GenerationEvent, Error> {
        let model = self
        return AsyncThrowingStream { continuation in
            let cancelled = CancellationFlag()
            continuation.onTermination = { _ in cancelled.set() }
            let thread = Thread {
                GenerationThreads.active.add(1, ordering: .relaxed)
                defer { GenerationThreads.active.subtract(1, ordering: .relaxed) }
                do {
                    let generator = try TextGenerator(model: model, prompt: prompt, options: options)
                    generator.isCancelled = { cancelled.isSet }
                    while let piece = try generator.next() {
                        if !piece.isEmpty { continuation.yield(.text(piece)) }
                    }
                    if let stats = generator.stats { continuation.yield(.finished(stats)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.name = "cllm-generate"
            thread.start()
        }
    }

    /// Streams the continuation of `prompt` as text pieces. A multi-byte character split across
    /// tokens comes out whole; stop sequences are cut off; cancelling stops the generation.
    public func generate(prompt: String, options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<String, Error> {
        let events = generationEvents(prompt: prompt, options: options)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await event in events {
                        if case .text(let piece) = event { continuation.yield(piece) }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Generations running on their own threads right now (a server reports it; tests check that a
/// cancelled stream really stopped).
public enum GenerationThreads {
    static let active = Atomic<Int>(0)
    public static var count: Int { active.load(ordering: .relaxed) }
}

/// Set once by whoever ends the consumption; read by the generating thread before each token.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
