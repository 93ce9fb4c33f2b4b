// Re-numbering a tokenizer's ids (used by the Ulam vocabulary order). The text ↔ token mapping
// is unchanged; only the integers change. Word-tokenizer specials keep their ids 0–3.

extension Tokenizer {
    /// A tokenizer whose id `newId[i]` stands for what id i stood for. `newId` must be a
    /// permutation of 0..<vocabSize.
    public func permuted(_ newId: [Int32]) throws -> any Tokenizer {
        precondition(newId.count == vocabSize && Set(newId).count == vocabSize, "not a permutation")
        func reorder<T>(_ items: [T]) -> [T] {
            var out = items
            for (old, new) in newId.enumerated() { out[Int(new)] = items[old] }
            return out
        }
        switch self {
        case let c as CharTokenizer: return try CharTokenizer(scalars: reorder(c.characters))
        case let w as WordTokenizer:
            let specials = WordTokenizer.specials.count
            precondition((0..<specials).allSatisfy { newId[$0] == Int32($0) }, "word specials keep their ids")
            return WordTokenizer(words: reorder(w.words))
        case let b as BPETokenizer:
            return try BPETokenizer(vocab: reorder(b.tokenBytes), merges: b.merges.map { (newId[Int($0.0)], newId[Int($0.1)]) })
        default:
            return self
        }
    }
}
