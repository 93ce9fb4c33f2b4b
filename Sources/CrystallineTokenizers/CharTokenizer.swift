// Character-level tokenizer (nanoGPT's shakespeare_char): one id per distinct Unicode scalar,
// ids in code-point order, then the special tokens: `<|endoftext|>` (a real end of text outside
// the alphabet, so that other runtimes do not stop at id 0, which is "\n" here) and `<unk>`
// (what an unseen character encodes to, instead of an error in the middle of a prompt).

public struct CharTokenizer: Tokenizer {
    public let kind = TokenizerKind.char
    public let characters: [Unicode.Scalar]
    /// Special tokens, ids `characters.count...` in this order.
    public let specials: [String]
    private let ids: [Unicode.Scalar: Int32]

    /// The specials a new character tokenizer gets.
    public static let defaultSpecials = [TokenizerFile.endOfText, TokenizerFile.unknown]

    public init(corpus: [UInt8], specials: [String] = CharTokenizer.defaultSpecials) throws {
        let text = try validatedText(corpus)
        guard !text.isEmpty else { throw TokenizerError.emptyCorpus }
        try self.init(scalars: Set(text.unicodeScalars).sorted { $0.value < $1.value }, specials: specials)
    }

    public init(characters: [String], specials: [String] = []) throws {
        var scalars: [Unicode.Scalar] = []
        for c in characters {
            let s = Array(c.unicodeScalars)
            guard s.count == 1 else { throw TokenizerError.invalidFile("char entry \(c.debugDescription) is not one scalar") }
            scalars.append(s[0])
        }
        try self.init(scalars: scalars, specials: specials)
    }

    init(scalars: [Unicode.Scalar], specials: [String]) throws {
        characters = scalars
        var map: [Unicode.Scalar: Int32] = [:]
        for (i, s) in scalars.enumerated() {
            guard map[s] == nil else { throw TokenizerError.invalidFile("duplicate character \(describe(s))") }
            map[s] = Int32(i)
        }
        guard Set(specials).count == specials.count, specials.allSatisfy(CharTokenizer.defaultSpecials.contains) else {
            throw TokenizerError.invalidFile("char specials must be among \(CharTokenizer.defaultSpecials), each once; got \(specials)")
        }
        ids = map
        self.specials = specials
    }

    public var vocabSize: Int { characters.count + specials.count }

    private func specialId(_ name: String) -> Int32? { specials.firstIndex(of: name).map { Int32(characters.count + $0) } }
    public var endOfTextId: Int32? { specialId(TokenizerFile.endOfText) }
    public var unknownId: Int32? { specialId(TokenizerFile.unknown) }

    public func encode(_ bytes: [UInt8]) throws -> [Int32] {
        let text = try validatedText(bytes)
        let unknown = unknownId
        var out: [Int32] = []
        out.reserveCapacity(bytes.count)
        for s in text.unicodeScalars {
            if let id = ids[s] ?? unknown { out.append(id) } else { throw TokenizerError.unknownCharacter(describe(s)) }
        }
        return out
    }

    /// Characters as themselves; `<unk>` as U+FFFD (the character it stood for is gone); the
    /// end of text as nothing.
    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        var s = String.UnicodeScalarView()
        let unknown = unknownId
        for id in ids where id >= 0 {
            if Int(id) < characters.count { s.append(characters[Int(id)]) } else if id == unknown { s.append("\u{FFFD}") }
        }
        return Array(String(s).utf8)
    }

    public func tokenString(_ id: Int32) -> String {
        Int(id) < characters.count ? String(characters[Int(id)]) : specials[Int(id) - characters.count]
    }

    public var file: TokenizerFile {
        TokenizerFile(kind: .char, characters: characters.map { String($0) }, specials: specials.isEmpty ? nil : specials)
    }
}

/// A character as a person reads it in a message: `"é" (U+00E9)`.
func describe(_ s: Unicode.Scalar) -> String {
    let hex = String(s.value, radix: 16, uppercase: true)
    let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    return s.properties.isWhitespace || s.value < 0x20 || s.value == 0x7F ? code : "\"\(Character(s))\" (\(code))"
}
