// Character-level tokenizer (nanoGPT's shakespeare_char): one id per distinct Unicode scalar,
// ids in code-point order.

public struct CharTokenizer: Tokenizer {
    public let kind = TokenizerKind.char
    public let characters: [Unicode.Scalar]
    private let ids: [Unicode.Scalar: Int32]

    public init(corpus: [UInt8]) throws {
        let text = try validatedText(corpus)
        guard !text.isEmpty else { throw TokenizerError.emptyCorpus }
        try self.init(scalars: Set(text.unicodeScalars).sorted { $0.value < $1.value })
    }

    public init(characters: [String]) throws {
        var scalars: [Unicode.Scalar] = []
        for c in characters {
            let s = Array(c.unicodeScalars)
            guard s.count == 1 else { throw TokenizerError.invalidFile("char entry \(c.debugDescription) is not one scalar") }
            scalars.append(s[0])
        }
        try self.init(scalars: scalars)
    }

    init(scalars: [Unicode.Scalar]) throws {
        characters = scalars
        var map: [Unicode.Scalar: Int32] = [:]
        for (i, s) in scalars.enumerated() {
            guard map[s] == nil else { throw TokenizerError.invalidFile("duplicate character \(s.escaped(asASCII: true))") }
            map[s] = Int32(i)
        }
        ids = map
    }

    public var vocabSize: Int { characters.count }

    public func encode(_ bytes: [UInt8]) throws -> [Int32] {
        let text = try validatedText(bytes)
        var out: [Int32] = []
        out.reserveCapacity(bytes.count)
        for s in text.unicodeScalars {
            guard let id = ids[s] else { throw TokenizerError.unknownCharacter(s.escaped(asASCII: true)) }
            out.append(id)
        }
        return out
    }

    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        var s = String.UnicodeScalarView()
        for id in ids where id >= 0 && Int(id) < characters.count { s.append(characters[Int(id)]) }
        return Array(String(s).utf8)
    }

    public func tokenString(_ id: Int32) -> String { String(characters[Int(id)]) }

    public var file: TokenizerFile { TokenizerFile(kind: .char, characters: characters.map { String($0) }) }
}
