// `cllm generate`, `cllm eval`, `cllm tokenize`, `cllm logits`: using a trained model directory,
// all through the inference library.
import ArgumentParser
import Foundation
import CrystallineData
import CrystallineInference
import CrystallineInterop
import CrystallineModel
import CrystallineTokenizers

struct ModelOption: ParsableArguments {
    @Option(name: [.short, .long], help: "Model: a name in the models directory (./models or $CLLM_MODELS) or a path to a model directory.")
    var model: String = "default"
    var directory: URL { ModelStore().resolve(model) }
    func load(format: WeightFormat = .fp32) throws -> LanguageModel {
        try LanguageModel.load(directory: directory, format: format)
    }
}

/// Reads a text argument: "-" is standard input (all of it), anything else is the text itself.
func textArgument(_ value: String) throws -> String {
    guard value == "-" else { return value }
    let data = FileHandle.standardInput.readDataToEndOfFile()
    guard let text = String(data: data, encoding: .utf8) else { throw CLIError("standard input is not UTF-8 text") }
    return text
}

/// A note on stderr when some of `ids` stand for text the vocabulary lacks.
func noteUnknown(_ tokenizer: any Tokenizer, _ ids: [Int32], in what: String) {
    let n = tokenizer.unknownCount(ids)
    guard n > 0 else { return }
    let unit = tokenizer.kind == .word ? "word" : "character"
    Terminal.error("note: \(n) \(unit)\(n == 1 ? "" : "s") of \(what) \(n == 1 ? "is" : "are") not in the model's vocabulary and read as <unk>")
}

/// One JSON object on a line, keys sorted.
func printJSON(_ object: Any) throws {
    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text from a trained model (KV-cached).")
    @OptionGroup var model: ModelOption
    @Option(name: [.short, .long], help: "Text to continue; - reads it from standard input; empty starts from the beginning-of-text token.")
    var prompt: String = "\n"
    @Option(name: [.customShort("n"), .long], parsing: .unconditional, help: "Tokens to generate.") var maxTokens: Int = 200
    @Option(name: [.short, .long], parsing: .unconditional, help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0.8
    @Option(parsing: .unconditional, help: "Sample only from the k most likely tokens (0: all).") var topK: Int = 0
    @Option(parsing: .unconditional, help: "Sample only from the smallest set reaching this probability (1: all).") var topP: Float = 1
    @Option(name: [.short, .long], help: "Random seed.") var seed: UInt64 = 1337
    @Option(help: "Weights for generation: fp32, bf16 (half the memory traffic per token; faster on this memory-bound path), or q8_0 (GGML's 8-bit blocks, as llama.cpp runs a Q8_0 file).")
    var precision: WeightFormat = .fp32
    @Option(help: "Stop before this text (repeatable).") var stop: [String] = []
    @Flag(help: "Print token counts, time to first token and tokens/s to stderr at the end.") var stats = false
    @Flag(help: "Print one JSON object (text, finish reason and the statistics) instead of streaming text.") var json = false
    @Flag(name: [.short, .long], help: "Print only the generated text (no prompt echo, no notes).") var quiet = false

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must not be negative") }
        guard temperature.isFinite, temperature >= 0 else { throw ValidationError("--temperature must be a finite number ≥ 0") }
        guard topK >= 0 else { throw ValidationError("--top-k must not be negative") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() throws {
        try reportingErrors {
            let loadStart = Date()
            let lm = try model.load(format: precision)
            let loadSeconds = Date().timeIntervalSince(loadStart)
            let prompt = try textArgument(self.prompt)
            let options = GenerationOptions(maxTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, seed: seed, stop: stop)
            // Encoded and built before anything is printed: a prompt that cannot be encoded fails cleanly.
            let ids = try lm.encodePrompt(prompt)
            if !quiet { noteUnknown(lm.tokenizer, ids, in: "the prompt") }
            let generator = try TextGenerator(model: lm, prompt: ids, options: options)
            let start = Date()
            var firstToken: Double?
            var text = ""
            if !quiet && !json { print(prompt, terminator: "") }
            _ = try generator.collect { piece in
                if firstToken == nil { firstToken = Date().timeIntervalSince(start) }
                text += piece
                if !json { print(piece, terminator: ""); flushOutput() }
            }
            if !json { print("") }
            flushOutput()
            guard let s = generator.stats else { return }
            let timings: [String: Any] = [
                "prompt_tokens": s.promptTokens, "completion_tokens": s.completionTokens, "tokens_per_s": s.tokensPerSecond,
                "time_to_first_token_ms": 1000 * (firstToken ?? 0), "load_ms": 1000 * loadSeconds,
                "finish_reason": s.finishReason.rawValue, "precision": precision.rawValue,
            ]
            if json {
                try printJSON(timings.merging(["text": text, "prompt": prompt, "model": model.directory.path]) { a, _ in a })
            } else if stats {
                Terminal.error(String(format: "%d prompt + %d generated tokens, %.1f tokens/s, first token after %.1f ms (model loaded in %.0f ms; %@)",
                                      s.promptTokens, s.completionTokens, s.tokensPerSecond, 1000 * (firstToken ?? 0), 1000 * loadSeconds,
                                      s.finishReason.rawValue))
            }
        }
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mean per-token loss and perplexity of a model on a text file.")
    @OptionGroup var model: ModelOption
    @Argument(help: "Text file to score; - reads standard input.") var file: String
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(name: [.short, .long], help: "No progress lines.") var quiet = false

    func run() throws {
        try reportingErrors {
            let lm = try model.load()
            let corpus = try Corpus.load(file)
            let tokens = try lm.tokenizer.encode(corpus.bytes)
            noteUnknown(lm.tokenizer, tokens, in: file == "-" ? "standard input" : file)
            guard tokens.count >= 2 else { throw CLIError("\(file) encodes to \(tokens.count) token(s); need at least 2") }
            // A progress line that rewrites itself on a terminal, and one line every 5 s
            // otherwise (a log file should not stay silent for the half minute a large file takes).
            var lastReport = Date()
            let start = Date()
            let result = try lm.perplexity(of: tokens) { done, total in
                guard !quiet else { return }
                let line = String(format: "scoring: %d/%d tokens (%.0f%%)", done, total, 100 * Double(done) / Double(total))
                if Terminal.isStderrInteractive, Date().timeIntervalSince(lastReport) > 0.2 {
                    Terminal.progress(line); lastReport = Date()
                } else if !Terminal.isStderrInteractive, Date().timeIntervalSince(lastReport) > 5 {
                    Terminal.error(line); lastReport = Date()
                }
            }
            Terminal.progress(nil)
            let seconds = Date().timeIntervalSince(start)
            if json {
                try printJSON(["tokens": result.predictions, "loss": result.meanLoss, "perplexity": result.perplexity,
                               "bits_per_token": result.meanLoss / log(2), "seconds": seconds, "model": model.directory.path])
            } else {
                print(String(format: "tokens: %d\nloss: %.4f\nperplexity: %.3f", result.predictions, result.meanLoss, result.perplexity))
            }
        }
    }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text as JSON.")
    @OptionGroup var model: ModelOption
    @Argument(help: "Text file to tokenize; - reads standard input.") var file: String
    @Flag(help: "Print each token with its text, one per line, instead of the id list.") var pieces = false

    func run() throws {
        try reportingErrors {
            let tokenizer = try ModelDirectory.loadTokenizer(from: model.directory)
            let corpus = try Corpus.load(file)
            let ids = try tokenizer.encode(corpus.bytes)
            noteUnknown(tokenizer, ids, in: file == "-" ? "standard input" : file)
            if pieces {
                for id in ids { print("\(id)\t\(tokenizer.tokenString(id).debugDescription)") }
            } else {
                print("[" + ids.map(String.init).joined(separator: ",") + "]")
            }
        }
    }
}

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's logits for a text as JSON (for cross-checks with other frameworks).")
    @OptionGroup var model: ModelOption
    @Option(help: "Text to score (at most block_size tokens are used); - reads standard input.") var text: String
    @Option(help: "Weights: fp32 or bf16 (the batched forward pass), or q8_0 (the generation session, token by token, as llama.cpp runs a Q8_0 file).")
    var precision: WeightFormat = .fp32

    func run() throws {
        try reportingErrors {
            let lm = try model.load(format: precision)
            let ids = Array(try lm.tokenizer.encode(textArgument(text)).prefix(lm.config.blockSize))
            guard !ids.isEmpty else { throw CLIError("the text encodes to no tokens") }
            var rows: [[Double]] = []
            if precision == .q8_0 {
                let session = InferenceSession(weights: lm.weights)
                for t in ids {
                    try session.step(t)
                    rows.append(session.logits.map(Double.init))
                }
            } else {
                let gpt = try GPT(weights: lm.weights)
                try gpt.forward(tokens: ids, targets: nil, B: 1, T: ids.count)
                let V = gpt.config.vocabSize
                let logits = Array(gpt.lastLogits)
                rows = (0..<ids.count).map { Array(logits[($0 * V)..<(($0 + 1) * V)]).map(Double.init) }
            }
            try printJSON(["ids": ids.map(Int.init), "logits": rows])
        }
    }
}
