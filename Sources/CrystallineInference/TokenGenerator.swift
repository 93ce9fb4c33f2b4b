// The token loop under every generation: sample from the session's logits, feed the token back.
//
// A sampled token is fed lazily, on the next call: the forward pass it costs is only needed
// by a following token (or by a chat that continues from it, through `commit()`).
import CrystallineModel

public final class TokenGenerator {
    public let session: InferenceSession
    private var sampler: Sampler
    private var pending: Int32?

    public init(session: InferenceSession, sampling: SamplingOptions, seed: UInt64) {
        self.session = session
        sampler = Sampler(options: sampling, seed: seed)
    }

    /// Feeds context tokens (a prompt) before the first `next()`.
    public func feed(_ tokens: [Int32]) throws {
        try commit()
        try session.append(tokens)
    }

    /// The next token, sampled after everything fed or generated so far.
    public func next() throws -> Int32 {
        try commit()
        let token = sampler.sample(session.logits)
        pending = token
        return token
    }

    /// Feeds the last sampled token, so that the session's context holds it.
    public func commit() throws {
        if let t = pending { try session.step(t); pending = nil }
    }
}
