// The fuzz targets: each hands one input to a parser exactly as the program would meet it, then
// uses what parsed (encodes text with a tokenizer, reads every token of a shard) so that a
// value that passed the parser but breaks its user is found too.
import Foundation
import CrystallineData
import CrystallineFormats
import CrystallineInterop
import CrystallineModel
import CrystallineTokenizers
import CrystallineTraining

public enum FuzzTargets {
    /// Every target, in the order `cllm-fuzz list` shows them.
    public static let all: [FuzzTarget] = [
        safetensors, gguf, huggingFaceTokenizer, tokenizerFile, modelConfig, tokenShard, trainingConfig, checkpoint, modelWeights,
        corpusText, robotsTxt, html,
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    /// Memory a fuzzed model may ask for: a size check must refuse more, not allocate it.
    public static let memoryBudget = 256 << 20

    /// Prepares the process for fuzzing: a small memory budget, so that a config that asks for
    /// gigabytes is refused by the size checks rather than by the machine.
    public static func prepare() { ModelLimits.setMemoryBudget(memoryBudget) }

    static let sampleText = "ROMEO: But, soft! what light through yonder window breaks?\nJULIET: 'Tis but thy name that is my enemy; — é ü 世界 🙂\n"

    // MARK: - Binary containers

    public static let safetensors = FuzzTarget(
        name: "safetensors", summary: "safetensors files (model.safetensors, checkpoint.safetensors)",
        dictionary: ["\"dtype\"", "\"F32\"", "\"F16\"", "\"BF16\"", "\"I64\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"cllm.crc32.", "[0,0]"]
    ) { data in
        let (tensors, _) = try Safetensors.decode(data)
        for t in tensors {
            invariant(t.values.count == t.shape.reduce(1, *), "tensor \(t.name) has \(t.values.count) values for shape \(t.shape)")
        }
    }

    public static let gguf = FuzzTarget(
        name: "gguf", summary: "GGUF files (what `cllm export --gguf` writes and llama.cpp reads)",
        dictionary: ["GGUF", "general.alignment", "tokenizer.ggml.tokens", "gpt2.block_count"]
    ) { data in
        let (_, tensors) = try GGUF.decode(data)
        for t in tensors {
            invariant(t.values.count == t.shape.reduce(1, *), "GGUF tensor \(t.name) size")
            if t.type == .q8_0 { invariant(t.blocks?.count == t.values.count / 32 * 34, "GGUF Q8_0 tensor \(t.name) blocks") }
        }
    }

    public static let tokenShard = FuzzTarget(
        name: "token-shard", summary: "llm.c token shards (train.bin, val.bin), decoded and read through a shard directory"
    ) { data in
        let tokens = try TokenShard.decode(data)
        if tokens.isEmpty { return }  // a shard directory with no tokens is refused by design
        let dir = scratch.appendingPathComponent("shards-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try data.write(to: dir.appendingPathComponent("train.bin"))
        let source = try ShardDirectorySource(directory: dir, prefix: "train")
        invariant(source.count == tokens.count, "shard source counts \(source.count) tokens, decode \(tokens.count)")
        invariant(source.tokens(0..<source.count) == tokens, "shard source reads other tokens than decode")
    }

    // MARK: - Tokenizers

    public static let huggingFaceTokenizer = FuzzTarget(
        name: "hf-tokenizer", summary: "Hugging Face tokenizer.json (byte-level BPE)",
        dictionary: ["\"model\"", "\"type\"", "\"BPE\"", "\"vocab\"", "\"merges\"", "\"Ġ\"", "\"<|endoftext|>\""]
    ) { data in
        let tokenizer = try HuggingFaceTokenizer.decode(data, path: "tokenizer.json")
        try exercise(tokenizer)
    }

    public static let tokenizerFile = FuzzTarget(
        name: "tokenizer-file", summary: "our tokenizer file (cllm_tokenizer.json: char, word, BPE)",
        dictionary: ["\"kind\"", "\"char\"", "\"word\"", "\"bpe\"", "\"characters\"", "\"words\"", "\"merges\"", "\"vocab\"", "\"specials\"",
                     "\"pretokenizer\"", "\"gpt2\"", "\"<|endoftext|>\"", "\"<unk>\"", "\"<pad>\""]
    ) { data in
        let tokenizer = try JSONDecoder().decode(TokenizerFile.self, from: data).makeTokenizer()
        try exercise(tokenizer)
    }

    /// Encodes and decodes sample text and every token's string: what a loaded tokenizer does.
    static func exercise(_ tokenizer: any Tokenizer) throws {
        let ids = try tokenizer.encode(sampleText)
        for id in ids { invariant(id >= 0 && Int(id) < tokenizer.vocabSize, "encode gave id \(id) outside the vocabulary \(tokenizer.vocabSize)") }
        _ = tokenizer.decode(ids)
        for id in 0..<min(tokenizer.vocabSize, 4096) { _ = tokenizer.tokenString(Int32(id)) }
        _ = tokenizer.file
    }

    public static let corpusText = FuzzTarget(
        name: "corpus-text", summary: "corpus bytes (any text, invalid UTF-8 included) through the three tokenizers' training and encoding",
        dictionary: ["'s", "'ll", " the", "\n\n", "  ", "\u{00A0}", "\r\n", "\u{0301}", "\u{1F642}", "\u{FFFD}"]
    ) { data in
        let bytes = [UInt8](data)
        guard !bytes.isEmpty else { return }
        // Byte-level BPE takes any bytes and must give them back exactly.
        let bpe = BPETokenizer.train(corpus: bytes, vocabSize: 300)
        let ids = try bpe.encode(bytes)
        invariant(bpe.decodeBytes(ids) == bytes, "BPE decode(encode(x)) != x")
        let reloaded = try bpe.file.makeTokenizer()
        invariant(try reloaded.encode(bytes) == ids, "BPE tokenizer file reloads to another encoding")
        // char and word need UTF-8; when it is, char must round-trip too.
        guard (try? validatedText(bytes)) != nil else {
            invariant((try? CharTokenizer(corpus: bytes)) == nil, "char tokenizer accepted invalid UTF-8")
            return
        }
        let char = try CharTokenizer(corpus: bytes)
        invariant(char.decodeBytes(try char.encode(bytes)) == bytes, "char decode(encode(x)) != x")
        let word = try WordTokenizer(corpus: bytes, maxVocab: 1000)
        let wordIds = try word.encode(bytes)
        if word.unknownCount(wordIds) == 0 { invariant(word.decodeBytes(wordIds) == bytes, "word decode(encode(x)) != x") }
    }

    // MARK: - Model files

    public static let modelConfig = FuzzTarget(
        name: "model-config", summary: "a model directory's config.json (sizes, the cllm section)",
        dictionary: ["\"vocab_size\"", "\"n_positions\"", "\"n_layer\"", "\"n_head\"", "\"n_embd\"", "\"cllm\"", "\"architecture\"",
                     "\"layer_norm_epsilon\"", "\"resid_pdrop\"", "\"attention_bias\"", "\"angular\"", "\"positional\"", "\"lattice\""]
    ) { data in
        let (config, _) = try ModelDirectory.parseConfig(data, path: "config.json")
        // What `models list` and loading do next with a config that passed.
        let layout = ParameterLayout(config: config)
        invariant(layout.totalCount > 0, "a valid config has parameters")
        _ = try GPT(config: config)
    }

    public static let modelWeights = FuzzTarget(
        name: "model-weights", summary: "model.safetensors read against a model's config (names, shapes, values), then one generated token",
        dictionary: ["\"wte.weight\"", "\"wpe.weight\"", "\"h.0.attn.c_attn.weight\"", "\"ln_f.bias\"", "\"transformer.\"", "\"F16\"", "\"BF16\""]
    ) { data in
        let run = try fixture()
        let weights = try ModelDirectory.readWeights(config: run.config, data: data, path: "model.safetensors")
        let session = InferenceSession(weights: weights)
        try session.step(0)
    }

    public static let trainingConfig = FuzzTarget(
        name: "training-config", summary: "a training config file (cllm train --config)",
        dictionary: ["\"n_layer\"", "\"batch_size\"", "\"block_size\"", "\"lr\"", "\"epochs\"", "\"max_steps\"", "\"model\"", "\"run\"",
                     "\"optimization\"", "\"data\"", "\"val_fraction\"", "\"tokenizer\"", "\"scheduler\"", "\"precision\"", "\"patience\""]
    ) { data in
        let config = try TrainingConfig.parse(data, path: "config.json")
        try config.validate()
        _ = try SnakeCaseJSON.encoder().encode(config)
    }

    public static let checkpoint = FuzzTarget(
        name: "checkpoint", summary: "checkpoint.safetensors resumed in a run directory (trainer state, moments)",
        dictionary: ["\"trainer_state\"", "\"parameters\"", "\"optimizer.m\"", "\"optimizer.v\"", "\\\"step\\\"", "\\\"batch_size\\\"",
                     "\\\"optimizer_steps\\\"", "\\\"train_tokens\\\"", "\\\"anneal\\\"", "\\\"data_directory\\\"", "\\\"max_steps\\\""]
    ) { data in
        let run = try fixture()
        try data.write(to: run.directory.appendingPathComponent(ModelDirectory.checkpointFile))
        let trainer = try Trainer.resume(from: run.directory)
        // A step past the end is allowed: the run is finished (a resume says so and does nothing).
        invariant(trainer.state.step >= 0 && trainer.totalSteps >= 1, "resumed at step \(trainer.state.step) of \(trainer.totalSteps)")
        invariant(trainer.isFinished == (trainer.state.step >= trainer.totalSteps), "a run past its end must count as finished")
    }

    // MARK: - The run directory the model targets read against

    static let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-fuzz-\(getpid())")

    /// Removes the fixture run and the scratch files of this process (the driver calls it at
    /// exit; a fuzzing process that crashes leaves them for inspection).
    public static func removeScratch() {
        lock.withLock {
            try? FileManager.default.removeItem(at: scratch)
            cached = nil
        }
    }

    struct Fixture: @unchecked Sendable {
        let directory: URL
        let config: GPTConfig
        let files: [String: Data]
    }

    nonisolated(unsafe) private static var cached: Fixture?
    private static let lock = NSLock()

    /// A tiny trained run (one layer, 8 wide, two steps), made once per process: the model
    /// targets read their input against it, and its files are the seeds.
    static func fixture() throws -> Fixture {
        try lock.withLock {
            if let cached { return cached }
            let dir = scratch.appendingPathComponent("run")
            try? FileManager.default.removeItem(at: scratch)
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            let corpus = scratch.appendingPathComponent("corpus.txt")
            try Data(String(repeating: sampleText, count: 8).utf8).write(to: corpus)
            let config = try TrainingConfig().applying([
                "corpus": corpus.path, "out": dir.path, "n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 8, "batch_size": 2,
                "max_steps": 2, "eval_interval": 1, "eval_iters": 1, "sample_tokens": 0, "warmup_steps": 1, "val_fraction": 0.2,
            ])
            let trainer = try Trainer(config: config)
            try trainer.run()
            var files: [String: Data] = [:]
            for name in [ModelDirectory.weightsFile, ModelDirectory.checkpointFile, ModelDirectory.configFile, TokenizerFile.fileName,
                         HuggingFaceTokenizer.fileName, "data/train.bin"] {
                files[name] = try Data(contentsOf: dir.appendingPathComponent(name))
            }
            let (weights, tokenizer, _) = try ModelDirectory.load(from: dir)
            files["model.gguf"] = try GGUFExport.encode(model: weights, tokenizer: tokenizer, name: "fuzz", type: .f32)
            files["model-f16.gguf"] = try GGUFExport.encode(model: weights, tokenizer: tokenizer, name: "fuzz", type: .f16)
            files["training-config.json"] = try SnakeCaseJSON.encoder(pretty: true).encode(config)
            let fixture = Fixture(directory: dir, config: weights.config, files: files)
            cached = fixture
            return fixture
        }
    }
}
