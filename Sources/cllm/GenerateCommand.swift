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
    @Option(help: "Model: a name in the models directory (./models or $CLLM_MODELS) or a path to a model directory.")
    var model: String = "default"
    var directory: URL { ModelStore().resolve(model) }
    func load(precision: Precision = .fp32) throws -> LanguageModel {
        try LanguageModel.load(directory: directory, precision: precision)
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text from a trained model (KV-cached).")
    @OptionGroup var model: ModelOption
    @Option(help: "Text to continue.") var prompt: String = "\n"
    @Option(help: "Tokens to generate.") var maxTokens: Int = 200
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0.8
    @Option(help: "Sample only from the k most likely tokens (0: all).") var topK: Int = 0
    @Option(help: "Sample only from the smallest set reaching this probability (1: all).") var topP: Float = 1
    @Option(help: "Random seed.") var seed: UInt64 = 1337
    @Option(help: "Weights for generation: fp32, or bf16 (half the memory traffic per token; faster on this memory-bound path).")
    var precision: Precision = .fp32
    @Option(help: "Stop before this text (repeatable).") var stop: [String] = []
    @Flag(help: "Print token counts and tokens/s to stderr at the end.") var stats = false

    func run() throws {
        try reportingErrors {
            let lm = try model.load(precision: precision)
            let options = GenerationOptions(maxTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, seed: seed, stop: stop)
            // Built before anything is printed: a prompt that cannot be encoded fails cleanly.
            let generator = try TextGenerator(model: lm, prompt: prompt, options: options)
            print(prompt, terminator: "")
            _ = try generator.collect { print($0, terminator: ""); flushOutput() }
            print("")
            if stats, let s = generator.stats {
                Terminal.error(String(format: "%d prompt + %d generated tokens, %.1f tokens/s (%@)", s.promptTokens, s.completionTokens,
                                      s.tokensPerSecond, s.finishReason.rawValue))
            }
        }
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mean per-token loss and perplexity of a model on a text file.")
    @OptionGroup var model: ModelOption
    @Argument(help: "Text file to score.") var file: String

    func run() throws {
        try reportingErrors {
            let lm = try model.load()
            let corpus = try Corpus.load(file)
            let tokens = try lm.tokenizer.encode(corpus.bytes)
            guard tokens.count >= 2 else { throw CLIError("\(file) encodes to \(tokens.count) token(s); need at least 2") }
            var lastReport = Date()
            let result = try lm.perplexity(of: tokens) { done, total in
                if Terminal.isStderrInteractive, Date().timeIntervalSince(lastReport) > 0.2 {
                    Terminal.progress(String(format: "scoring: %d/%d tokens (%.0f%%)", done, total, 100 * Double(done) / Double(total)))
                    lastReport = Date()
                }
            }
            Terminal.progress(nil)
            print(String(format: "tokens: %d\nloss: %.4f\nperplexity: %.3f", result.predictions, result.meanLoss, result.perplexity))
        }
    }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a file as JSON.")
    @OptionGroup var model: ModelOption
    @Argument(help: "Text file to tokenize.") var file: String

    func run() throws {
        try reportingErrors {
            let tokenizer = try ModelDirectory.loadTokenizer(from: model.directory)
            let corpus = try Corpus.load(file)
            let ids = try tokenizer.encode(corpus.bytes)
            print("[" + ids.map(String.init).joined(separator: ",") + "]")
        }
    }
}

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's logits for a text as JSON (for cross-checks with other frameworks).")
    @OptionGroup var model: ModelOption
    @Option(help: "Text to score (at most block_size tokens are used).") var text: String

    func run() throws {
        try reportingErrors {
            let lm = try model.load()
            let gpt = try GPT(weights: lm.weights)
            let ids = Array(try lm.tokenizer.encode(text).prefix(gpt.config.blockSize))
            guard !ids.isEmpty else { throw CLIError("the text encodes to no tokens") }
            try gpt.forward(tokens: ids, targets: nil, B: 1, T: ids.count)
            let V = gpt.config.vocabSize
            let logits = Array(gpt.lastLogits)
            let rows = (0..<ids.count).map { Array(logits[($0 * V)..<(($0 + 1) * V)]).map(Double.init) }
            let object: [String: Any] = ["ids": ids.map(Int.init), "logits": rows]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
        }
    }
}
