// CrystallineTokenizers: text ↔ token ids.
//
// Owns the three tokenizers (character, word, byte-level BPE with its trainer), the GPT-2
// pre-tokenizer, and the tokenizer file saved beside every model. Depends only on Foundation
// and CrystallineFormats (atomic writes).
import Foundation
import CrystallineFormats

public enum TokenizerKind: String, Codable, CaseIterable, Sendable { case char, word, bpe }

public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case invalidUTF8(byteOffset: Int)
    case unknownCharacter(String)
    case emptyCorpus
    case invalidFile(String)

    public var description: String {
        switch self {
        case .invalidUTF8(let o): return "the text is not valid UTF-8 (first bad byte at offset \(o)); the char and word tokenizers need UTF-8 text — use --tokenizer bpe for arbitrary bytes"
        case .unknownCharacter(let c): return "character \(c) is not in the tokenizer's vocabulary (a tokenizer made before cllm 0.2 has no <unk>; retrain, or remove the character)"
        case .emptyCorpus: return "cannot build a tokenizer from an empty corpus"
        case .invalidFile(let r): return "invalid tokenizer file: \(r)"
        }
    }
}

/// Maps text to token ids and back.
public protocol Tokenizer: Sendable {
    var kind: TokenizerKind { get }
    var vocabSize: Int { get }
    /// Encodes raw bytes (the char and word tokenizers require valid UTF-8).
    func encode(_ bytes: [UInt8]) throws -> [Int32]
    /// The bytes a sequence of ids stands for (exact inverse of `encode` for char and BPE).
    func decodeBytes(_ ids: [Int32]) -> [UInt8]
    /// Human-readable form of one token, for logs and tokenizer exports.
    func tokenString(_ id: Int32) -> String
    /// What the tokenizer file stores.
    var file: TokenizerFile { get }
    /// The bytes token `id` adds to a stream of decoded text when it follows `previous` (nil at
    /// the start): its own bytes, plus a separator where the tokenizer drops one on encoding.
    func pieceBytes(_ id: Int32, following previous: Int32?) -> [UInt8]
    /// The id that marks the end of a text, if the vocabulary has one.
    var endOfTextId: Int32? { get }
    /// The id a model is started from when it has no prompt (GPT-2 uses its end-of-text).
    var beginningOfTextId: Int32? { get }
    /// The id that stands for text outside the vocabulary, if the tokenizer has one; encoding
    /// maps unseen characters or words to it instead of failing.
    var unknownId: Int32? { get }
    /// Whether `id` is a special token (end of text, unknown, padding): not text of the corpus.
    func isSpecial(_ id: Int32) -> Bool
}

extension Tokenizer {
    public func pieceBytes(_ id: Int32, following previous: Int32?) -> [UInt8] { decodeBytes([id]) }
    public var endOfTextId: Int32? { nil }
    public var beginningOfTextId: Int32? { endOfTextId }
    public var unknownId: Int32? { nil }
    public func isSpecial(_ id: Int32) -> Bool { id == endOfTextId || id == unknownId }

    /// How many of `ids` stand for text the vocabulary lacked (0 without an unknown id).
    public func unknownCount(_ ids: [Int32]) -> Int {
        guard let unknownId else { return 0 }
        return ids.reduce(0) { $0 + ($1 == unknownId ? 1 : 0) }
    }

    public func encode(_ text: String) throws -> [Int32] { try encode(Array(text.utf8)) }
    /// Decoded text; invalid UTF-8 (a BPE sample cut mid-character) shows as U+FFFD.
    public func decode(_ ids: [Int32]) -> String { String(decoding: decodeBytes(ids), as: UTF8.self) }
}

/// Validates UTF-8 and returns the text; throws `invalidUTF8` with the offset of the first bad byte.
public func validatedText(_ bytes: [UInt8]) throws -> String {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    var offset = 0
    var scalars = String.UnicodeScalarView()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let s): scalars.append(s); offset += UTF8.width(s)
        case .emptyInput: return String(scalars)
        case .error: throw TokenizerError.invalidUTF8(byteOffset: offset)
        }
    }
}

/// The tokenizer as stored beside a model (`cllm_tokenizer.json`).
public struct TokenizerFile: Codable, Equatable, Sendable {
    public var kind: TokenizerKind
    /// char: the characters, in id order.
    public var characters: [String]?
    /// word: the words (specials first), in id order.
    public var words: [String]?
    /// bpe: merges in rank order, each "left right" in GPT-2's byte-to-unicode alphabet.
    public var merges: [String]?
    /// bpe: the tokens in id order (same alphabet), only when ids do not follow our own layout
    /// (bytes 0–255, then one per merge), e.g. for an imported GPT-2 tokenizer.
    public var vocab: [String]?
    /// char and bpe: special tokens, given the ids after the text vocabulary in this order
    /// (`<|endoftext|>`, and `<unk>` for char). Absent in files written before they existed.
    public var specials: [String]?
    /// word: how text is split into words. "gpt2": GPT-2's pre-tokenizer pieces, case, punctuation
    /// and the spacing before each word kept, so decoding restores the text; absent: the original
    /// CLLM scheme (lowercased, split on whitespace), kept to read models made with it.
    public var pretokenizer: String?

    public init(kind: TokenizerKind, characters: [String]? = nil, words: [String]? = nil, merges: [String]? = nil, vocab: [String]? = nil,
                specials: [String]? = nil, pretokenizer: String? = nil) {
        self.kind = kind; self.characters = characters; self.words = words; self.merges = merges; self.vocab = vocab
        self.specials = specials; self.pretokenizer = pretokenizer
    }

    /// The end-of-text marker, named as GPT-2 names it.
    public static let endOfText = "<|endoftext|>"
    /// The stand-in for text outside the vocabulary.
    public static let unknown = "<unk>"

    public static let fileName = "cllm_tokenizer.json"

    public func makeTokenizer() throws -> any Tokenizer {
        switch kind {
        case .char:
            guard let c = characters, !c.isEmpty else { throw TokenizerError.invalidFile("char tokenizer without characters") }
            return try CharTokenizer(characters: c, specials: specials ?? [])
        case .word:
            guard let w = words, w.count >= WordTokenizer.specials.count else { throw TokenizerError.invalidFile("word tokenizer without words") }
            switch pretokenizer {
            case nil: return WordTokenizer(words: w, scheme: .lowercasedWhitespace)
            case WordTokenizer.Scheme.gpt2Pieces.rawValue?: return WordTokenizer(words: w, scheme: .gpt2Pieces)
            case let other?: throw TokenizerError.invalidFile("unknown word pre-tokenizer \(other.debugDescription)")
            }
        case .bpe:
            return try BPETokenizer(mergeStrings: merges ?? [], vocabStrings: vocab, specials: specials ?? [])
        }
    }

    public static func load(from directory: URL) throws -> any Tokenizer {
        let url = directory.appendingPathComponent(fileName)
        let data = try readFile(url)
        do { return try JSONDecoder().decode(TokenizerFile.self, from: data).makeTokenizer() } catch TokenizerError.invalidFile(let why) {
            throw TokenizerError.invalidFile("\(url.path): \(why)")
        } catch let e as TokenizerError {
            throw e
        } catch {
            throw TokenizerError.invalidFile("\(url.path): \(SnakeCaseJSON.describe(error))")
        }
    }

    public func save(to directory: URL) throws {
        try AtomicFile.writeJSON(self, to: directory.appendingPathComponent(Self.fileName))
    }
}

/// Builds a tokenizer of the given kind from a training corpus.
public func trainTokenizer(kind: TokenizerKind, corpus: [UInt8], vocabSize: Int?) throws -> any Tokenizer {
    guard !corpus.isEmpty else { throw TokenizerError.emptyCorpus }
    switch kind {
    case .char: return try CharTokenizer(corpus: corpus)
    case .word: return try WordTokenizer(corpus: corpus, maxVocab: vocabSize ?? 10_000)
    case .bpe: return BPETokenizer.train(corpus: corpus, vocabSize: vocabSize ?? 512)
    }
}
