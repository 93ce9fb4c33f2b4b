// Word-level tokenizer, as in the original CLLM: lowercase, split on whitespace, the most
// frequent words up to a maximum vocabulary, and the specials <pad> <unk> <bos> <eos>.

public struct WordTokenizer: Tokenizer {
    public static let specials = ["<pad>", "<unk>", "<bos>", "<eos>"]
    public static let pad: Int32 = 0, unknown: Int32 = 1, bos: Int32 = 2, eos: Int32 = 3

    public let kind = TokenizerKind.word
    public let words: [String]
    private let ids: [String: Int32]

    public init(corpus: [UInt8], maxVocab: Int) throws {
        let text = try validatedText(corpus)
        var counts: [String: Int] = [:]
        for w in Self.split(text) { counts[w, default: 0] += 1 }
        guard !counts.isEmpty else { throw TokenizerError.emptyCorpus }
        // Most frequent first; ties alphabetical, so the vocabulary is deterministic.
        let ranked = counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
        let room = max(0, maxVocab - Self.specials.count)
        self.init(words: Self.specials + ranked.prefix(room).map(\.key))
    }

    public init(words: [String]) {
        self.words = words
        var map: [String: Int32] = [:]
        for (i, w) in words.enumerated() where map[w] == nil { map[w] = Int32(i) }
        ids = map
    }

    static func split(_ text: String) -> [String] {
        text.lowercased().split(whereSeparator: { $0.isWhitespace }).map(String.init)
    }

    public var vocabSize: Int { words.count }

    public func encode(_ bytes: [UInt8]) throws -> [Int32] {
        Self.split(try validatedText(bytes)).map { ids[$0] ?? Self.unknown }
    }

    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        Array(ids.filter { $0 >= 0 && Int($0) < words.count && $0 != Self.pad }.map { words[Int($0)] }.joined(separator: " ").utf8)
    }

    /// Words are split on whitespace when encoded, so a stream puts one space between them.
    public func pieceBytes(_ id: Int32, following previous: Int32?) -> [UInt8] {
        let word = decodeBytes([id])
        guard let previous, previous != Self.pad, !word.isEmpty else { return word }
        return [0x20] + word
    }

    public var endOfTextId: Int32? { Self.eos }

    public func tokenString(_ id: Int32) -> String { words[Int(id)] }

    public var file: TokenizerFile { TokenizerFile(kind: .word, words: words) }
}
