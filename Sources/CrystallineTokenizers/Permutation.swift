// Re-numbering a tokenizer's ids (used by the Ulam vocabulary order). The text ↔ token mapping
// is unchanged; only the integers change. Special tokens keep their ids.

extension Tokenizer {
    /// A tokenizer whose id `newId[i]` stands for what id i stood for. `newId` must be a
    /// permutation of 0..<vocabSize.
    public func permuted(_ newId: [Int32]) throws -> any Tokenizer {
        precondition(newId.count == vocabSize && Set(newId).count == vocabSize, "not a permutation")
        precondition((0..<Int32(vocabSize)).allSatisfy { !isSpecial($0) || newId[Int($0)] == $0 }, "special tokens keep their ids")
        /// `items` are the first ids' entries (the text vocabulary before trailing specials).
        func reorder<T>(_ items: [T]) -> [T] {
            var out = items
            for (old, new) in newId.enumerated() where old < items.count { out[Int(new)] = items[old] }
            return out
        }
        switch self {
        case let c as CharTokenizer: return try CharTokenizer(scalars: reorder(c.characters), specials: c.specials)
        case let w as WordTokenizer:
            return WordTokenizer(words: reorder(w.words), scheme: w.scheme)
        case let b as BPETokenizer:
            return try BPETokenizer(vocab: reorder(b.tokenBytes), merges: b.merges.map { (newId[Int($0.0)], newId[Int($0.1)]) }, specials: b.specials)
        default:
            return self
        }
    }
}
