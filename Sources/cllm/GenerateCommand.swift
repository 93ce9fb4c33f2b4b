// `cllm generate`, `cllm eval`, `cllm tokenize`: using a trained model directory.
import ArgumentParser
import Foundation
import CrystallineModel
import CrystallineTokenizers
import CrystallineTraining

/// Encodes the prompt, runs the cached session and decodes prompt + continuation.
func generateText(model: GPT, tokenizer: any Tokenizer, prompt: String, maxTokens: Int,
                  options: SamplingOptions, seed: UInt64, onToken: ((String) -> Void)? = nil) throws -> String {
    var ids = try tokenizer.encode(prompt)
    if ids.isEmpty {
        guard tokenizer.kind == .word else { throw CLIError("the prompt encodes to no tokens") }
        ids = [WordTokenizer.bos]
    }
    let session = InferenceSession(model: model)
    try session.feed(ids)
    var sampler = Sampler(options: options, seed: seed)
    var generated: [Int32] = []
    for _ in 0..<maxTokens {
        let next = sampler.sample(session.logits)
        generated.append(next)
        onToken?(tokenizer.decode([next]))
        try session.step(next)
    }
    return prompt + tokenizer.decode(generated)
}

struct ModelOption: ParsableArguments {
    @Option(help: "Model: a name in the models directory (./models or $CLLM_MODELS) or a path to a model directory.")
    var model: String = "default"
    var directory: URL { ModelStore().resolve(model) }
    func load() throws -> (model: GPT, tokenizer: any Tokenizer, info: ModelInfo?) {
        try ModelDirectory.load(from: directory)
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

    func run() throws {
        try reportingErrors {
            let (gpt, tokenizer, _) = try model.load()
            gpt.precision = precision
            let options = SamplingOptions(temperature: temperature, topK: topK > 0 ? topK : nil, topP: topP < 1 ? topP : nil)
            _ = try tokenizer.encode(prompt)  // fail before printing anything if the prompt cannot be encoded
            print(prompt, terminator: "")
            _ = try generateText(model: gpt, tokenizer: tokenizer, prompt: prompt, maxTokens: maxTokens, options: options, seed: seed) {
                print($0, terminator: ""); fflush(stdout)
            }
            print("")
        }
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mean per-token loss and perplexity of a model on a text file.")
    @OptionGroup var model: ModelOption
    @Argument(help: "Text file to score.") var file: String

    func run() throws {
        try reportingErrors {
            let (gpt, tokenizer, _) = try model.load()
            let corpus = try Corpus.load(file)
            let tokens = try tokenizer.encode(corpus.bytes)
            guard tokens.count >= 2 else { throw CLIError("\(file) encodes to \(tokens.count) token(s); need at least 2") }
            // Non-overlapping windows of block_size predictions, batched 16 at a time; a shorter
            // final window covers the remainder.
            let T = gpt.config.blockSize, batch = 16
            let full = (tokens.count - 1) / T
            var total = 0.0, count = 0
            var w = 0
            while w < full {
                let B = min(batch, full - w)
                var x: [Int32] = [], y: [Int32] = []
                for k in 0..<B {
                    let s = (w + k) * T
                    x += tokens[s..<(s + T)]; y += tokens[(s + 1)...(s + T)]
                }
                total += Double(try gpt.forward(tokens: x, targets: y, B: B, T: T)!) * Double(B * T)
                count += B * T
                w += B
            }
            let rest = tokens.count - 1 - full * T
            if rest > 0 {
                let s = full * T
                total += Double(try gpt.forward(tokens: Array(tokens[s..<(s + rest)]), targets: Array(tokens[(s + 1)...]), B: 1, T: rest)!) * Double(rest)
                count += rest
            }
            let mean = total / Double(count)
            print(String(format: "tokens: %d\nloss: %.4f\nperplexity: %.3f", count, mean, exp(mean)))
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
            let (gpt, tokenizer, _) = try model.load()
            let ids = Array(try tokenizer.encode(text).prefix(gpt.config.blockSize))
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
