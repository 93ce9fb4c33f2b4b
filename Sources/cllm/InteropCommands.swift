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
    @Option(name: [.customShort("o"), .customLong("out"), .customLong("gguf")], help: "Output .gguf file (--gguf is the older name).")
    var gguf: String
    @Option(name: [.customLong("precision"), .customLong("type")], help: "Number format of the 2-D weights: f32, f16 or q8_0 (GGML's 8-bit blocks of 32; --type is the older name).")
    var type = "f32"

    func run() throws {
        try reportingErrors {
            guard let t = ["f32": GGMLType.f32, "f16": .f16, "q8_0": .q8_0][type] else { throw CLIError("--precision must be f32, f16 or q8_0") }
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
    @Argument(help: "Corpus file or directory; - reads standard input.") var corpus: String
    @Option(name: [.short, .long], help: "Output directory.") var out: String
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

    /// A model named by the positional argument or -m/--model, as every other command names one
    /// (`default` when neither is given, as for the other commands).
    struct ModelName: ParsableArguments {
        @Argument(help: "Model name or path (default: default).") var name: String?
        @Option(name: [.short, .long], help: "Model name or path (the same as the argument).") var model: String?
        func validate() throws {
            guard name == nil || model == nil else { throw ValidationError("name one model, as an argument or with --model, not both") }
        }
        var isGiven: Bool { name != nil || model != nil }
        var value: String { name ?? model ?? "default" }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "One line per model.")
        @OptionGroup var options: StoreOption
        @Flag(help: "Print a JSON array, one object per model.") var json = false
        func run() throws {
            try reportingErrors {
                let store = options.store
                var models: [ModelSummary] = []
                var broken: [(String, String)] = []
                for dir in store.modelDirectories() {
                    do { models.append(try store.summary(of: dir)) } catch { broken.append((dir.lastPathComponent, "\(error)")) }
                }
                for (name, why) in broken { Terminal.error("warning: skipped \(name): \(why)") }
                if json { try printJSON(models.map { summaryJSON($0, store: store, withConfig: false) }); return }
                if models.isEmpty { print("no models in \(store.root.path)"); return }
                let header = ["NAME", "WEIGHTS", "CHECKPOINT", "DATA", "PARAMS", "TOKENIZER", "STEPS", "BEST VAL", "CREATED"]
                let rows = models.map { m in
                    [m.name, megabytes(m.sizes.weights), megabytes(m.sizes.checkpoint), megabytes(m.sizes.data),
                     Terminal.thousands(Double(m.parameters)), m.info?.tokenizer.rawValue ?? "?", String(m.info?.trainingSteps ?? 0),
                     m.info?.bestValLoss.map { String(format: "%.4f", $0) } ?? "-", String((m.info?.created ?? "-").prefix(19))]
                }
                printTable([header] + rows)
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Everything known about one model: sizes, architecture, training configuration.")
        @OptionGroup var options: StoreOption
        @OptionGroup var model: ModelName
        @Flag(help: "Print one JSON object.") var json = false
        func run() throws {
            try reportingErrors {
                let store = options.store
                let m = try store.summary(of: store.resolve(model.value))
                if json { try printJSON(summaryJSON(m, store: store, withConfig: true)); return }
                let c = m.config
                print("""
                name:         \(m.name)
                path:         \(m.path)
                size:         \(megabytes(m.bytes)) (weights \(megabytes(m.sizes.weights)), checkpoint \(megabytes(m.sizes.checkpoint)), data \(megabytes(m.sizes.data)), other \(megabytes(m.sizes.other)))
                parameters:   \(Terminal.thousands(Double(m.parameters)))
                architecture: GPT-2, \(c.nLayer) layers, \(c.nHead) heads, n_embd \(c.nEmbd), block \(c.blockSize), vocab \(c.vocabSize)
                tokenizer:    \(m.info?.tokenizer.rawValue ?? "?")
                steps:        \(m.info?.trainingSteps ?? 0)
                best val:     \(m.info?.bestValLoss.map { String(format: "%.4f", $0) } ?? "-")
                corpus:       \(m.info?.corpus ?? "-")
                created:      \(m.info?.created ?? "-")
                """)
                if let config = store.trainingConfigJSON(of: URL(fileURLWithPath: m.path)) {
                    print("training configuration (from checkpoint.safetensors):\n" + config)
                } else {
                    print("training configuration: - (no checkpoint)")
                }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a model of the models directory (asks first unless --yes).")
        @OptionGroup var options: StoreOption
        @OptionGroup var model: ModelName
        @Flag(name: [.short, .long], help: "Delete without asking.") var yes = false
        func run() throws {
            try reportingErrors {
                // Deleting is never implied: the model must be named.
                guard model.isGiven else { throw CLIError("name the model to delete, as an argument or with --model") }
                let store = options.store
                let name = model.value
                let m = try store.summary(of: store.root.appendingPathComponent(name))
                if !yes {
                    guard isatty(STDIN_FILENO) != 0 else {
                        throw CLIError("refusing to delete \(name) without confirmation; pass --yes")
                    }
                    print("delete \(name) (\(megabytes(m.bytes)), \(m.info?.trainingSteps ?? 0) steps) in \(store.root.path)? [y/N] ", terminator: "")
                    flushOutput()
                    guard let answer = readLine()?.lowercased(), answer == "y" || answer == "yes" else { print("kept \(name)"); return }
                }
                try store.remove(name)
                print("removed \(name)")
            }
        }
    }
}

/// The JSON form of a model summary (sizes in bytes).
func summaryJSON(_ m: ModelSummary, store: ModelStore, withConfig: Bool) -> [String: Any] {
    let c = m.config
    var object: [String: Any] = [
        "name": m.name, "path": m.path, "parameters": m.parameters,
        "bytes": ["total": m.bytes, "weights": m.sizes.weights, "checkpoint": m.sizes.checkpoint, "data": m.sizes.data, "other": m.sizes.other],
        "architecture": ["n_layer": c.nLayer, "n_head": c.nHead, "n_embd": c.nEmbd, "block_size": c.blockSize, "vocab_size": c.vocabSize],
        "tokenizer": m.info?.tokenizer.rawValue ?? NSNull(), "steps": m.info?.trainingSteps ?? 0,
        "best_val_loss": m.info?.bestValLoss ?? NSNull(), "corpus": m.info?.corpus ?? NSNull(), "created": m.info?.created ?? NSNull(),
    ]
    if withConfig {
        object["training_config"] = store.trainingConfigJSON(of: URL(fileURLWithPath: m.path))
            .flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } ?? NSNull()
    }
    return object
}

/// Left-aligned columns, two spaces apart.
func printTable(_ rows: [[String]]) {
    guard let first = rows.first else { return }
    let widths = first.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
    for row in rows {
        print(row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }.joined())
    }
}

func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }
