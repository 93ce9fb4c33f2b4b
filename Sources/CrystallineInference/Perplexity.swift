// Perplexity of a model on a token stream: the mean next-token loss over the whole stream.
//
// Non-overlapping windows of block_size predictions, batched 16 at a time through the batched
// forward pass (far faster than token by token); a shorter final window covers the remainder.
import Foundation
import CrystallineModel

public struct PerplexityResult: Sendable, Equatable {
    /// Predictions scored (tokens − 1).
    public var predictions: Int
    public var meanLoss: Double
    public var perplexity: Double { exp(meanLoss) }
}

extension LanguageModel {
    /// Scores `tokens`. `progress(done, total)` hears after each batch (in predictions).
    public func perplexity(of tokens: [Int32], batch: Int = 16,
                           progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> PerplexityResult {
        guard tokens.count >= 2 else { throw GenerationError.invalidOption("need at least 2 tokens to score, got \(tokens.count)") }
        let workspace = try GPT(weights: weights)
        let T = config.blockSize, total = tokens.count - 1
        let full = total / T
        var sum = 0.0, count = 0, w = 0
        while w < full {
            let B = min(batch, full - w)
            var x: [Int32] = [], y: [Int32] = []
            x.reserveCapacity(B * T); y.reserveCapacity(B * T)
            for k in 0..<B {
                let s = (w + k) * T
                x += tokens[s..<(s + T)]; y += tokens[(s + 1)...(s + T)]
            }
            sum += Double(try workspace.forward(tokens: x, targets: y, B: B, T: T)!) * Double(B * T)
            count += B * T
            w += B
            progress(count, total)
        }
        let rest = total - full * T
        if rest > 0 {
            let s = full * T
            sum += Double(try workspace.forward(tokens: Array(tokens[s..<(s + rest)]), targets: Array(tokens[(s + 1)...]), B: 1, T: rest)!) * Double(rest)
            count += rest
            progress(count, total)
        }
        guard sum.isFinite else { throw GenerationError.nonFiniteOutput }
        return PerplexityResult(predictions: count, meanLoss: sum / Double(count))
    }

    /// Scores a text.
    public func perplexity(of text: [UInt8], batch: Int = 16,
                           progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> PerplexityResult {
        try perplexity(of: tokenizer.encode(text), batch: batch, progress: progress)
    }
}
