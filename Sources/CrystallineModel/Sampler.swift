// Next-token selection: greedy at temperature 0, otherwise sampling from the temperature-scaled
// distribution restricted to the top-k tokens and/or the top-p (nucleus) set.
import Foundation
import CrystallineCompute

public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Float = 1
    /// Keep only the k most likely tokens (nil or 0: no limit).
    public var topK: Int? = nil
    /// Keep the smallest set of most likely tokens whose probability reaches p (nil or ≥ 1: no limit).
    public var topP: Float? = nil
    public init(temperature: Float = 1, topK: Int? = nil, topP: Float? = nil) {
        self.temperature = temperature; self.topK = topK; self.topP = topP
    }
}

public struct Sampler {
    public var options: SamplingOptions
    public var rng: Xoshiro256
    private var order: [Int] = []
    private var probs: [Float] = []

    public init(options: SamplingOptions, seed: UInt64) {
        self.options = options
        rng = Xoshiro256(seed: seed)
    }

    /// The tokens sampling may return for these logits, most likely first, with their
    /// renormalised probabilities.
    public mutating func candidates(_ logits: UnsafeBufferPointer<Float>) -> [(token: Int, probability: Float)] {
        let n = logits.count
        if options.temperature <= 0 {
            var best = 0
            for i in 1..<n where logits[i] > logits[best] { best = i }
            return [(best, 1)]
        }
        if probs.count != n { probs = [Float](repeating: 0, count: n); order = Array(0..<n) }
        let invT = 1 / options.temperature
        for i in 0..<n { probs[i] = logits[i] * invT }
        _ = probs.withUnsafeMutableBufferPointer { softmaxInPlace($0.baseAddress!, n) }
        for i in 0..<n { order[i] = i }
        order.sort { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }
        var keep = n
        if let k = options.topK, k > 0 { keep = min(keep, k) }
        if let p = options.topP, p < 1 {
            var cumulative: Float = 0
            var i = 0
            while i < keep {
                cumulative += probs[order[i]]
                i += 1
                if cumulative >= p { break }
            }
            keep = max(1, i)
        }
        var total: Float = 0
        for i in 0..<keep { total += probs[order[i]] }
        return (0..<keep).map { (order[$0], probs[order[$0]] / total) }
    }

    /// Picks the next token.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        let allowed = candidates(logits)
        if allowed.count == 1 { return Int32(allowed[0].token) }
        var u = rng.nextFloat()
        for (token, p) in allowed {
            u -= p
            if u < 0 { return Int32(token) }
        }
        return Int32(allowed.last!.token)
    }
}
