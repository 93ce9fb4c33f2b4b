import XCTest
import CrystallineCompute
import CrystallineModel
import CrystallineTokenizers
@testable import CrystallineInference

/// A small random model with a character tokenizer over `text`'s characters.
func randomModel(text: String = "abcdefghijklmnopqrstuvwxyz ,.!?\nABCDEFGHIJKLMNOPQRSTUVWXYZ:'", blockSize: Int = 64,
                 seed: UInt64 = 3, specials: [String] = CharTokenizer.defaultSpecials) throws -> LanguageModel {
    let tokenizer = try CharTokenizer(corpus: Array(text.utf8), specials: specials)
    let gpt = try GPT(config: GPTConfig(vocabSize: tokenizer.vocabSize, blockSize: blockSize, nLayer: 2, nHead: 2, nEmbd: 32), seed: seed)
    // Larger weights than GPT-2's init, so that sampling is far from uniform and greedy is stable.
    for i in 0..<gpt.parameterCount { gpt.parameters[i] *= 8 }
    return try LanguageModel(weights: gpt.snapshot(), tokenizer: tokenizer)
}

final class StreamingTextTests: XCTestCase {
    /// Every token of a byte-level tokenizer without merges is one byte, so multi-byte characters
    /// are always split across tokens: the decoder must still never emit U+FFFD for them.
    func testDecoderNeverSplitsACharacter() {
        let text = "naïve café 👋🏽 — 日本語, ok"
        let bpe = BPETokenizer(merges: [])
        let ids = try! bpe.encode(text)
        XCTAssertGreaterThan(ids.count, text.unicodeScalars.count)
        var decoder = UTF8StreamDecoder()
        var out = ""
        for (i, id) in ids.enumerated() {
            let piece = decoder.decode(bpe.pieceBytes(id, following: i == 0 ? nil : ids[i - 1]))
            XCTAssertFalse(piece.contains("\u{FFFD}"), "piece \(i) split a character")
            out += piece
        }
        out += decoder.flush()
        XCTAssertEqual(out, text)
        // Naive per-token decoding would have produced replacement characters.
        XCTAssertTrue(ids.map { bpe.decode([$0]) }.joined().contains("\u{FFFD}"))
    }

    func testDecoderEmitsInvalidBytesAtOnceAndFlushesAnUnfinishedCharacter() {
        var decoder = UTF8StreamDecoder()
        XCTAssertEqual(decoder.decode([0x61, 0xFF]), "a\u{FFFD}")
        XCTAssertEqual(decoder.decode([0xE6, 0x97]), "")       // two of the three bytes of 日
        XCTAssertEqual(decoder.decode([0xA5, 0x62]), "日b")
        XCTAssertEqual(decoder.decode([0xF0, 0x9F]), "")
        XCTAssertEqual(decoder.flush(), "\u{FFFD}")
    }

    func testStopSequenceIsCutAndHeldTextReleased() {
        var f = StopSequenceFilter(stops: ["\n\n", "END"])
        XCTAssertEqual(f.push("Hel").emit, "Hel")
        XCTAssertEqual(f.push("lo\n").emit, "lo")        // "\n" may start "\n\n": held
        XCTAssertEqual(f.push("x E").emit, "\nx ")       // "E" may start "END": held
        let (emit, stopped) = f.push("ND and more")
        XCTAssertEqual(emit, "")
        XCTAssertTrue(stopped)
        var g = StopSequenceFilter(stops: ["\n\n"])
        XCTAssertEqual(g.push("a\n").emit, "a")
        XCTAssertEqual(g.flush(), "\n")
        var h = StopSequenceFilter(stops: ["\n\n"])
        XCTAssertEqual(h.push("one\n\ntwo").emit, "one")
    }

    func testWordTokensAreStreamedWithSpaces() throws {
        let words = try WordTokenizer(corpus: Array("to be or not to be".utf8), maxVocab: 100)
        let ids = try words.encode("to be or not to be")
        var out = ""
        for (i, id) in ids.enumerated() { out += String(decoding: words.pieceBytes(id, following: i == 0 ? nil : ids[i - 1]), as: UTF8.self) }
        XCTAssertEqual(out, "to be or not to be")
        XCTAssertEqual(words.endOfTextId, WordTokenizer.eos)
    }
}

final class GenerationTests: XCTestCase {
    /// The library loop gives exactly what the plain session + sampler loop gives.
    func testGeneratorMatchesTheManualLoop() throws {
        let model = try randomModel()
        let prompt = try model.encodePrompt("ROMEO:\n")
        var options = GenerationOptions(maxTokens: 40, temperature: 0.9, topK: 10, seed: 11)
        options.stopAtEndOfText = false  // the manual loop below does not stop either
        let generator = try TextGenerator(model: model, prompt: prompt, options: options)
        let text = try generator.collect()

        let session = InferenceSession(weights: model.weights)
        try session.feed(prompt)
        var sampler = Sampler(options: options.sampling, seed: 11)
        var ids: [Int32] = []
        for _ in 0..<40 { let t = sampler.sample(session.logits); ids.append(t); try session.step(t) }
        XCTAssertEqual(text, model.tokenizer.decode(ids))
        let stats = try XCTUnwrap(generator.stats)
        XCTAssertEqual(stats.completionTokens, 40)
        XCTAssertEqual(stats.promptTokens, prompt.count)
        XCTAssertEqual(stats.finishReason, .length)
        XCTAssertNil(try generator.next())
    }

    func testStopSequenceEndsGeneration() throws {
        let model = try randomModel()
        let free = try TextGenerator(model: model, prompt: "ab", options: GenerationOptions(maxTokens: 60, temperature: 0)).collect()
        // Stop at a piece of the free-running text: the result is the text before it.
        let start = free.index(free.startIndex, offsetBy: 10)
        let stop = String(free[start...].prefix(2))
        let cut = try TextGenerator(model: model, prompt: "ab", options: GenerationOptions(maxTokens: 60, temperature: 0, stop: [stop]))
        let text = try cut.collect()
        XCTAssertEqual(text, String(free[..<free.range(of: stop)!.lowerBound]))
        XCTAssertEqual(cut.stats?.finishReason, .stop)
    }

    func testInvalidOptionsAreRejected() throws {
        let model = try randomModel()
        for bad in [GenerationOptions(temperature: .nan), GenerationOptions(topP: 2), GenerationOptions(topK: -5),
                    GenerationOptions(maxTokens: -1), GenerationOptions(stop: [""])] {
            XCTAssertThrowsError(try TextGenerator(model: model, prompt: "ab", options: bad))
        }
        // An empty prompt starts from <|endoftext|>, as GPT-2's does; without one it is an error.
        XCTAssertEqual(try model.encodePrompt(""), [model.tokenizer.endOfTextId!])
        XCTAssertThrowsError(try TextGenerator(model: try randomModel(specials: []), prompt: "", options: GenerationOptions())) {
            XCTAssertEqual($0 as? GenerationError, .emptyPrompt)
        }
    }

    func testCancellationIsCheckedEveryToken() throws {
        let model = try randomModel()
        let generator = try TextGenerator(model: model, prompt: "ab", options: GenerationOptions(maxTokens: 1000))
        var pieces = 0
        generator.isCancelled = { pieces >= 5 }
        while try generator.next() != nil { pieces += 1 }
        XCTAssertEqual(generator.stats?.finishReason, .cancelled)
        XCTAssertEqual(generator.stats?.completionTokens, 5)
    }

    func testStreamGivesTheGeneratorsText() async throws {
        let model = try randomModel()
        let options = GenerationOptions(maxTokens: 50, temperature: 0.8, seed: 5)
        let expected = try TextGenerator(model: model, prompt: "The ", options: options).collect()
        var streamed = ""
        for try await piece in model.generate(prompt: "The ", options: options) { streamed += piece }
        XCTAssertEqual(streamed, expected)
        var finished: GenerationStats?
        for try await event in model.generationEvents(prompt: "The ", options: options) {
            if case .finished(let s) = event { finished = s }
        }
        XCTAssertEqual(finished?.completionTokens, 50)
    }

    /// A consumer that stops reading ends the generation thread within a token or so, not
    /// after the million tokens it asked for.
    func testAbandonedStreamStopsGenerating() async throws {
        let model = try randomModel()
        let before = GenerationThreads.count
        var received = 0
        for try await _ in model.generate(prompt: "ab", options: GenerationOptions(maxTokens: 1_000_000)) {
            received += 1
            if received == 3 { break }
        }
        let deadline = Date().addingTimeInterval(10)
        while GenerationThreads.count > before, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(GenerationThreads.count, before, "the generation thread is still running")
    }

    /// A character tokenizer written before `<unk>` existed cannot encode an unseen character.
    func testStreamReportsAnUnencodablePrompt() async throws {
        let model = try randomModel(specials: [])
        do {
            for try await _ in model.generate(prompt: "€", options: GenerationOptions()) {}
            XCTFail("expected an error")
        } catch {
            XCTAssertTrue("\(error)".contains("not in the tokenizer's vocabulary"), "\(error)")
        }
    }
}

final class ChatAndPerplexityTests: XCTestCase {
    /// The second reply, generated from the cached conversation, equals a fresh generation over
    /// the whole transcript: the cache really holds the conversation.
    func testChatKeepsTheConversationInTheCache() throws {
        let model = try randomModel(blockSize: 256)
        let options = GenerationOptions(maxTokens: 30, temperature: 0.7, seed: 9)
        let chat = ChatSession(model: model, options: options)
        let first = try chat.send("hello there")
        XCTAssertGreaterThan(chat.contextTokens, 10)
        let transcript = chat.template.userTurn("hello there") + first.reply + chat.template.turnSeparator
        let afterFirst = chat.contextTokens
        let second = try chat.send("and then?")
        XCTAssertGreaterThan(chat.contextTokens, afterFirst)

        var fresh = options
        fresh.seed = options.seed &+ 1
        fresh.stop = [chat.template.turnSeparator]
        let expected = try TextGenerator(model: model, prompt: transcript + chat.template.userTurn("and then?"), options: fresh).collect()
        XCTAssertEqual(second.reply, expected)
        chat.reset()
        XCTAssertEqual(chat.contextTokens, 0)
    }

    func testTemplateRendersAConversation() {
        let t = ChatTemplate()
        let text = t.render([ChatMessage(role: .user, content: "Hi"), ChatMessage(role: .assistant, content: "Hail."),
                             ChatMessage(role: .user, content: "Bye")])
        XCTAssertEqual(text, "USER:\nHi\n\nMODEL:\nHail.\n\nUSER:\nBye\n\nMODEL:\n")
    }

    func testPerplexityIsTheMeanLossOfTheWindows() throws {
        let model = try randomModel(blockSize: 16)
        var rng = Xoshiro256(seed: 4)
        let tokens = (0..<(16 * 3 + 6)).map { _ in Int32(rng.nextInt(below: model.tokenizer.vocabSize)) }
        let result = try model.perplexity(of: tokens, batch: 2)
        XCTAssertEqual(result.predictions, tokens.count - 1)
        let gpt = try GPT(weights: model.weights)
        var sum = 0.0
        for w in 0..<3 {
            let s = w * 16
            sum += Double(try gpt.forward(tokens: Array(tokens[s..<(s + 16)]), targets: Array(tokens[(s + 1)...(s + 16)]), B: 1, T: 16)!) * 16
        }
        let s = 48, rest = tokens.count - 1 - 48
        sum += Double(try gpt.forward(tokens: Array(tokens[s..<(s + rest)]), targets: Array(tokens[(s + 1)...]), B: 1, T: rest)!) * Double(rest)
        XCTAssertEqual(result.meanLoss, sum / Double(tokens.count - 1), accuracy: 1e-5)
        XCTAssertEqual(result.perplexity, exp(result.meanLoss), accuracy: 1e-9)
    }
}
