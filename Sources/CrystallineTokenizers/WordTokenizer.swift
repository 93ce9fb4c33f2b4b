// Word-level tokenizer: the most frequent words of the corpus up to a maximum vocabulary, after
// the specials <pad> <unk> <bos> <eos>.
//
// A "word" is one of GPT-2's pre-tokenizer pieces (" the", ",", "\n", " 42"): case and
// punctuation are tokens of their own and each piece carries the spacing before it, so decoding
// restores the text exactly wherever every piece is in the vocabulary; an unseen piece becomes
// <unk>. The original CLLM's scheme (lowercase, split on whitespace, decode with single spaces)
// is kept only to read models made with it.

public struct WordTokenizer: Tokenizer {
    public static let specials = ["<pad>", "<unk>", "<bos>", "<eos>"]
    public static let pad: Int32 = 0, unknown: Int32 = 1, bos: Int32 = 2, eos: Int32 = 3

    /// How text is cut into words.
    public enum Scheme: String, Sendable {
        /// GPT-2's pre-tokenizer pieces, verbatim.
        case gpt2Pieces = "gpt2"
        /// The original CLLM's: lowercased, split on whitespace (the whitespace is lost).
        case lowercasedWhitespace = "whitespace-lowercase"
    }

    public let kind = TokenizerKind.word
    public let words: [String]
    public let scheme: Scheme
    private let ids: [String: Int32]

    public init(corpus: [UInt8], maxVocab: Int, scheme: Scheme = .gpt2Pieces) throws {
        let text = try validatedText(corpus)
        var counts: [String: Int] = [:]
        for w in Self.split(text, scheme) { counts[w, default: 0] += 1 }
        guard !counts.isEmpty else { throw TokenizerError.emptyCorpus }
        // Most frequent first; ties in code-unit order, so the vocabulary is deterministic.
        let ranked = counts.sorted { $0.value > $1.value || ($0.value == $1.value && Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8))) }
        let room = max(0, maxVocab - Self.specials.count)
        self.init(words: Self.specials + ranked.prefix(room).map(\.key), scheme: scheme)
    }

    public init(words: [String], scheme: Scheme = .gpt2Pieces) {
        self.words = words
        self.scheme = scheme
        var map: [String: Int32] = [:]
        for (i, w) in words.enumerated() where map[w] == nil { map[w] = Int32(i) }
        ids = map
    }

    static func split(_ text: String, _ scheme: Scheme) -> [String] {
        switch scheme {
        case .lowercasedWhitespace:
            return text.lowercased().split(whereSeparator: { $0.isWhitespace }).map(String.init)
        case .gpt2Pieces:
            let bytes = Array(text.utf8)
            return PreTokenizer.chunks(bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
        }
    }

    public var vocabSize: Int { words.count }
    public var endOfTextId: Int32? { Self.eos }
    public var beginningOfTextId: Int32? { Self.bos }
    public var unknownId: Int32? { Self.unknown }
    public func isSpecial(_ id: Int32) -> Bool { id >= 0 && Int(id) < Self.specials.count }

    public func encode(_ bytes: [UInt8]) throws -> [Int32] {
        Self.split(try validatedText(bytes), scheme).map { ids[$0] ?? Self.unknown }
    }

    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        var previous: Int32?
        for id in ids {
            out += pieceBytes(id, following: previous)
            previous = id
        }
        return out
    }

    /// A word's own bytes (with its leading spacing); `<unk>` reads as itself, the other specials
    /// as nothing. In the original scheme words are joined by one space.
    public func pieceBytes(_ id: Int32, following previous: Int32?) -> [UInt8] {
        guard id >= 0, Int(id) < words.count, id != Self.pad, id != Self.bos, id != Self.eos else { return [] }
        let word = Array(words[Int(id)].utf8)
        guard scheme == .lowercasedWhitespace, let previous, previous >= 0, !isSpecial(previous) || previous == Self.unknown else { return word }
        return [0x20] + word
    }

    public func tokenString(_ id: Int32) -> String { words[Int(id)] }

    public var file: TokenizerFile {
        TokenizerFile(kind: .word, words: words, pretokenizer: scheme == .gpt2Pieces ? Scheme.gpt2Pieces.rawValue : nil)
    }
}
