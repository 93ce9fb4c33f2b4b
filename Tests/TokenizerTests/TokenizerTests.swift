import XCTest
@testable import CrystallineTokenizers

final class TokenizerTests: XCTestCase {
    func testCharRoundTripAndVocabulary() throws {
        let text = "First Citizen:\nBefore we proceed, hear me speak — ünïcödé 東京."
        let tok = try CharTokenizer(corpus: Array(text.utf8))
        let alphabet = Set(text.unicodeScalars).count
        XCTAssertEqual(tok.vocabSize, alphabet + 2, "the characters, then <|endoftext|> and <unk>")
        let ids = try tok.encode(text)
        XCTAssertEqual(ids.count, text.unicodeScalars.count)
        XCTAssertEqual(tok.decode(ids), text)
        XCTAssertEqual(tok.characters, tok.characters.sorted { $0.value < $1.value })
        // The end of text is outside the alphabet: not "\n" (id 0 here), which ended every reply
        // after one line in llama.cpp and transformers.
        XCTAssertEqual(tok.endOfTextId, Int32(alphabet))
        XCTAssertEqual(tok.unknownId, Int32(alphabet + 1))
        XCTAssertFalse(ids.contains(tok.endOfTextId!))
        XCTAssertEqual(tok.tokenString(tok.endOfTextId!), "<|endoftext|>")
        XCTAssertEqual(tok.decode([ids[0], tok.endOfTextId!, ids[1]]), "Fi", "the end of text decodes to nothing")
    }

    func testCharMapsUnknownCharactersToUnk() throws {
        let tok = try CharTokenizer(corpus: Array("abc".utf8))
        let ids = try tok.encode("abzé")
        XCTAssertEqual(ids, [0, 1, tok.unknownId!, tok.unknownId!])
        XCTAssertEqual(tok.unknownCount(ids), 2)
        XCTAssertEqual(tok.decode(ids), "ab\u{FFFD}\u{FFFD}")
        // A tokenizer file from before the specials existed still refuses, naming the character
        // as a person reads it (not as a Swift escape).
        let legacy = try TokenizerFile(kind: .char, characters: ["a", "b", "c"]).makeTokenizer()
        XCTAssertEqual(legacy.vocabSize, 3)
        XCTAssertNil(legacy.endOfTextId)
        XCTAssertThrowsError(try legacy.encode("abé")) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownCharacter("\"é\" (U+00E9)"))
            XCTAssertFalse("\(error)".contains("\\u"), "\(error)")
        }
        XCTAssertThrowsError(try CharTokenizer(corpus: [0x61, 0xff, 0x62])) {
            XCTAssertEqual($0 as? TokenizerError, .invalidUTF8(byteOffset: 1))
        }
        XCTAssertThrowsError(try trainTokenizer(kind: .char, corpus: [], vocabSize: nil)) {
            XCTAssertEqual($0 as? TokenizerError, .emptyCorpus)
        }
    }

    func testWordTokenizerKeepsCasePunctuationAndSpacing() throws {
        let text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n  Speak, speak.\n"
        let tok = try WordTokenizer(corpus: Array(text.utf8), maxVocab: 1000)
        XCTAssertEqual(Array(tok.words.prefix(4)), ["<pad>", "<unk>", "<bos>", "<eos>"])
        XCTAssertTrue(tok.words.contains(","), "punctuation is a token of its own")
        XCTAssertTrue(tok.words.contains(" Speak") && tok.words.contains(" speak"), "case is kept")
        let ids = try tok.encode(text)
        XCTAssertEqual(tok.decode(ids), text, "decoding restores the spacing it saw")
        XCTAssertEqual(tok.unknownCount(ids), 0)
        // Streamed piece by piece, the same text.
        var streamed: [UInt8] = []
        for (i, id) in ids.enumerated() { streamed += tok.pieceBytes(id, following: i == 0 ? nil : ids[i - 1]) }
        XCTAssertEqual(String(decoding: streamed, as: UTF8.self), text)
        // An unseen word is <unk>, counted, and the rest keeps its spacing.
        let other = try tok.encode("First Senator: speak.")
        XCTAssertEqual(tok.unknownCount(other), 1)
        XCTAssertEqual(tok.decode(other), "First<unk>: speak.")
        XCTAssertEqual(tok.endOfTextId, WordTokenizer.eos)
        XCTAssertEqual(tok.decode([ids[0], WordTokenizer.eos, WordTokenizer.pad]), "First")
    }

    func testWordTokenizerOfTheOriginalSchemeStillReads() throws {
        let text = "The cat\tsat. the CAT sat\non the mat the"
        let tok = try WordTokenizer(corpus: Array(text.utf8), maxVocab: 7, scheme: .lowercasedWhitespace)
        // "the" ×4, "cat" ×2, "sat" ×1 / "sat." ×1 / "on" / "mat": ties in code-unit order.
        XCTAssertEqual(Array(tok.words.dropFirst(4)), ["the", "cat", "mat"])
        XCTAssertEqual(try tok.encode("THE dog cat"), [4, WordTokenizer.unknown, 5])
        XCTAssertEqual(tok.decode([4, 5, 6]), "the cat mat")
        // Its file has no pre-tokenizer field, and reads back as the same scheme.
        XCTAssertNil(tok.file.pretokenizer)
        let back = try XCTUnwrap(try tok.file.makeTokenizer() as? WordTokenizer)
        XCTAssertEqual(back.scheme, .lowercasedWhitespace)
        XCTAssertThrowsError(try TokenizerFile(kind: .word, words: WordTokenizer.specials, pretokenizer: "nonsense").makeTokenizer())
    }

    /// Expected chunks computed with Python's `regex` and GPT-2's pattern.
    func testPreTokenizerMatchesGPT2Pattern() {
        let cases: [(String, [String])] = [
            ("Hello world's  end!\n\n  x", ["Hello", " world", "'s", " ", " end", "!", "\n\n ", " x"]),
            ("I'll  do it 42 times...  ", ["I", "'ll", " ", " do", " it", " 42", " times", "...", "  "]),
            ("naïve café — 東京 123abc\tend\n", ["naïve", " café", " —", " 東京", " 123", "abc", "\t", "end", "\n"]),
            ("ROMEO:\nWhat, ho!  Apothecary!\n\nFIRST'S", ["ROMEO", ":", "\n", "What", ",", " ho", "!", " ", " Apothecary", "!", "\n", "\n", "FIRST", "'", "S"]),
        ]
        for (text, expected) in cases {
            let bytes = Array(text.utf8)
            let got = PreTokenizer.chunks(bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
            XCTAssertEqual(got, expected, text.debugDescription)
        }
    }

    func testBPERoundTripsArbitraryBytes() throws {
        let corpus = Array(String(repeating: "the theme of the thesis is that the other thing ", count: 40).utf8)
        let tok = BPETokenizer.train(corpus: corpus, vocabSize: 270)
        XCTAssertEqual(tok.vocabSize, 270, "256 bytes, 13 merges and <|endoftext|>")
        XCTAssertEqual(tok.endOfTextId, 269)
        XCTAssertEqual(tok.decodeBytes([269]), [], "the end of text is no text")
        let text = Array("the thesis, not the theme".utf8)
        let ids = try tok.encode(text)
        XCTAssertLessThan(ids.count, text.count / 2, "merges must compress familiar text")
        XCTAssertEqual(tok.decodeBytes(ids), text)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let junk = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            XCTAssertEqual(tok.decodeBytes(try tok.encode(junk)), junk)
        }
        let invalid: [UInt8] = [0x74, 0x68, 0x65, 0xC3, 0x28, 0xFF, 0xED, 0xA0, 0x80, 0x20, 0x74, 0x68, 0x65]
        XCTAssertEqual(tok.decodeBytes(try tok.encode(invalid)), invalid)
    }

    func testBPELearnsTheMostFrequentPairFirst() {
        // "ab" occurs 3×, "cd" 2× (each chunk is one word).
        let tok = BPETokenizer.train(corpus: Array("ab ab ab cd cd".utf8), vocabSize: 259)
        XCTAssertEqual(tok.merges.count, 2)
        XCTAssertEqual(tok.tokenBytes[256], Array("ab".utf8))
    }

    func testTokenizerFilesRoundTrip() throws {
        let corpus = Array("To be, or not to be: that is the question. Whether 'tis nobler…".utf8)
        for kind in TokenizerKind.allCases {
            let tok = try trainTokenizer(kind: kind, corpus: corpus, vocabSize: 270)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(kind)-\(UUID())")
            try tok.file.save(to: dir)
            let loaded = try TokenizerFile.load(from: dir)
            XCTAssertEqual(loaded.file, tok.file)
            XCTAssertEqual(try loaded.encode(corpus), try tok.encode(corpus))
            try? FileManager.default.removeItem(at: dir)
        }
    }
}
