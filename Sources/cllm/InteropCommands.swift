// `cllm export`, `cllm prepare`, `cllm models`: moving models and data in and out.
import ArgumentParser
import Foundation
import CrystallineFormats
import CrystallineData
import CrystallineInterop
import CrystallineTokenizers

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model for llama.cpp (GGUF v3, architecture gpt2).",
        discussion: "The model directory itself already loads in Hugging Face transformers (GPT2LMHeadModel.from_pretrained) and tokenizers (tokenizer.json).")
    @OptionGroup var model: ModelOption
    @Option(help: "Output .gguf file.") var gguf: String
    @Option(help: "Weight type of 2-D tensors: f32 or f16.") var type = "f32"

    func run() throws {
        try reportingErrors {
            guard let t = ["f32": GGMLType.f32, "f16": .f16][type] else { throw CLIError("--type must be f32 or f16") }
            let dir = model.directory
            let (weights, tokenizer, _) = try ModelDirectory.load(from: dir)
            if weights.config.attentionBias != .none {
                Terminal.error("warning: this model uses the angular lattice attention bias, which llama.cpp's gpt2 graph does not apply; the exported model will not reproduce its outputs")
            }
            try GGUFExport.write(model: weights, tokenizer: tokenizer, name: dir.lastPathComponent, type: t, to: URL(fileURLWithPath: gguf))
            let size = (try? FileManager.default.attributesOfItem(atPath: gguf)[.size] as? Int) ?? 0
            print("wrote \(gguf) (GGUF v3, gpt2, \(type), \(Terminal.thousands(Double(size))) bytes)")
        }
    }
}

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize a corpus once into llm.c token shards (train.bin, val.bin) plus the tokenizer.",
        discussion: "Train on the result with `cllm train DIR`. The shards use llm.c's format (256×int32 header, magic 20240520, uint16 tokens), so they move to and from llm.c.")
    @Argument(help: "Corpus file or directory.") var corpus: String
    @Option(help: "Output directory.") var out: String
    @Option(help: "Tokenizer: char, word or bpe.") var tokenizer: TokenizerKind = .char
    @Option(help: "Vocabulary size for word and bpe.") var vocabSize: Int?
    @Option(help: "Separate validation corpus.") var val: String?
    @Option(help: "Fraction held out for validation when --val is not given.") var valFraction = 0.1
    @Flag(help: "Add the corpus to an existing prepared directory as its next shards, encoded with its own tokenizer.")
    var append = false

    func run() throws {
        try reportingErrors {
            let r = try PreparedData.prepare(corpus: corpus, val: val, kind: tokenizer, vocabSize: vocabSize,
                                             valFraction: valFraction, out: URL(fileURLWithPath: out), append: append)
            print("\(out): \(r.tokenizer.kind.rawValue) tokenizer, vocab \(r.tokenizer.vocabSize); \(r.files[0]) \(r.train) tokens, \(r.files[1]) \(r.val) tokens")
        }
    }
}

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, inspect and delete the models of a models directory.",
        subcommands: [List.self, Info.self, Remove.self], defaultSubcommand: List.self)

    struct StoreOption: ParsableArguments {
        @Option(name: .customLong("models-dir"), help: "Models directory (default ./models or $CLLM_MODELS).") var dir: String?
        var store: ModelStore { ModelStore(root: dir) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "One line per model.")
        @OptionGroup var options: StoreOption
        func run() throws {
            try reportingErrors {
                let models = try options.store.list()
                if models.isEmpty { print("no models in \(options.store.root.path)"); return }
                print("NAME".padding(toLength: 18, withPad: " ", startingAt: 0) + "SIZE       PARAMS     TOKENIZER  STEPS   BEST VAL  CREATED")
                for m in models {
                    let row = [m.name.padding(toLength: 18, withPad: " ", startingAt: 0),
                               megabytes(m.bytes).padding(toLength: 11, withPad: " ", startingAt: 0),
                               Terminal.thousands(Double(m.parameters)).padding(toLength: 11, withPad: " ", startingAt: 0),
                               (m.info?.tokenizer.rawValue ?? "?").padding(toLength: 11, withPad: " ", startingAt: 0),
                               String(m.info?.trainingSteps ?? 0).padding(toLength: 8, withPad: " ", startingAt: 0),
                               (m.info?.bestValLoss.map { String(format: "%.4f", $0) } ?? "-").padding(toLength: 10, withPad: " ", startingAt: 0),
                               String((m.info?.created ?? "-").prefix(19))]
                    print(row.joined())
                }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Everything known about one model.")
        @OptionGroup var options: StoreOption
        @Argument(help: "Model name or path.") var name: String
        func run() throws {
            try reportingErrors {
                let m = try options.store.summary(of: options.store.resolve(name))
                let c = m.config
                print("""
                name:        \(m.name)
                path:        \(m.path)
                size:        \(megabytes(m.bytes))
                parameters:  \(Terminal.thousands(Double(m.parameters)))
                architecture: GPT-2, \(c.nLayer) layers, \(c.nHead) heads, n_embd \(c.nEmbd), block \(c.blockSize), vocab \(c.vocabSize)
                tokenizer:   \(m.info?.tokenizer.rawValue ?? "?")
                steps:       \(m.info?.trainingSteps ?? 0)
                best val:    \(m.info?.bestValLoss.map { String(format: "%.4f", $0) } ?? "-")
                corpus:      \(m.info?.corpus ?? "-")
                created:     \(m.info?.created ?? "-")
                """)
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a model of the models directory.")
        @OptionGroup var options: StoreOption
        @Argument(help: "Model name.") var name: String
        func run() throws {
            try reportingErrors {
                try options.store.remove(name)
                print("removed \(name)")
            }
        }
    }
}

func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }
