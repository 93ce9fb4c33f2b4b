// `cllm train`: flags override the config file, which overrides the defaults.
import ArgumentParser
import Foundation
import CrystallineInference
import CrystallineModel
import CrystallineTokenizers
import CrystallineTraining

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a GPT on a corpus (a text file or a directory of them).",
        discussion: """
        With no arguments, trains the default small model ("baby GPT": 4 layers, 4 heads, 128 wide, \
        block 64, character tokenizer) on the bundled tinyshakespeare corpus for a short run, \
        then prints a sample. The model directory (--out) receives model.safetensors, config.json, \
        cllm_tokenizer.json, checkpoint.safetensors and metrics.jsonl. Ctrl-C saves a checkpoint \
        and exits; --resume continues it exactly.
        """)

    @Argument(help: "Corpus file or directory (default: data/tinyshakespeare.txt).") var corpus: String?
    @Option(help: "JSON config file; its keys are the flag names in snake_case.") var config: String?
    @Option(help: "Separate validation corpus (default: the last 10% of the corpus).") var val: String?
    @Option(help: "Tokenizer: char, word or bpe.") var tokenizer: TokenizerKind?
    @Option(help: "Vocabulary size for word and bpe tokenizers.") var vocabSize: Int?
    @Option(help: "Transformer blocks.") var nLayer: Int?
    @Option(help: "Attention heads.") var nHead: Int?
    @Option(help: "Embedding width.") var nEmbd: Int?
    @Option(help: "Context length in tokens.") var blockSize: Int?
    @Option(help: "Dropout probability (training only).") var dropout: Float?
    @Option(help: "Token embedding init: standard or lattice (the corrected clock-lattice formula).") var embeddingInit: EmbeddingInit?
    @Option(help: "Positions: learned, or lattice (fixed clock-lattice encoding).") var positional: PositionalEncoding?
    @Option(help: "Attention bias: none, angular (learned per-head slope × clock-angle distance) or linear (the same over |i − j|, an ALiBi-like control).") var attentionBias: AttentionBias?
    @Option(help: "Token ids: standard, or ulam (Ulam-spiral locality of frequency rank).") var vocabOrder: VocabOrder?
    @Option(help: "Sequences per micro-batch.") var batchSize: Int?
    @Option(help: "Micro-batches accumulated per optimizer step.") var gradAccum: Int?
    @Option(help: "Peak learning rate.") var lr: Double?
    @Option(name: .customLong("min-lr"), help: "Floor of the learning-rate decay.") var minLR: Double?
    @Option(help: "Linear warmup steps.") var warmupSteps: Int?
    @Option(help: "Optimizer steps to run.") var maxSteps: Int?
    @Option(help: "Passes over the training tokens (overrides --max-steps).") var epochs: Double?
    @Option(help: "Learning-rate decay: cosine, linear, step or none.") var scheduler: ScheduleKind?
    @Option(help: "Steps between decays of the step scheduler.") var stepSize: Int?
    @Option(help: "Factor of each step-scheduler decay.") var stepFactor: Double?
    @Option(help: "Optimizer: adamw, adam or sgd.") var optimizer: OptimizerKind?
    @Option(help: "SGD momentum.") var momentum: Double?
    @Flag(help: "Nesterov momentum for SGD.") var nesterov = false
    @Option(help: "Weight decay (2-D weight matrices only unless --decay-all).") var weightDecay: Double?
    @Flag(help: "Apply weight decay to every tensor.") var decayAll = false
    @Option(help: "Adam beta1.") var beta1: Double?
    @Option(help: "Adam beta2.") var beta2: Double?
    @Option(help: "Clip the global gradient norm to this (0: off).") var gradClip: Double?
    @Option(help: "Weight storage in the matrix products: fp32, or bf16 (fp32 master weights and accumulation).") var precision: Precision?
    @Option(help: "Steps between validations.") var evalInterval: Int?
    @Option(help: "Batches per validation.") var evalIters: Int?
    @Option(help: "Stop after this many validations without improvement.") var patience: Int?
    @Option(help: "Steps between metrics.jsonl lines.") var logInterval: Int?
    @Option(help: "Random seed.") var seed: UInt64?
    @Option(help: "Output model directory.") var out: String?
    @Option(help: "Tokens of the sample printed at the end (0: none).") var sampleTokens: Int?
    @Flag(help: "Continue the checkpoint in --out exactly where it stopped.") var resume = false
    @Flag(help: "Report per-tensor weight/gradient norms, max |grad|, nonzero fraction and update/weight ratio.")
    var diagnostics = false

    /// The flags that may change when a run is resumed: length, evaluation and logging.
    func applyRunSettings(to c: inout TrainingConfig) {
        if let maxSteps { c.maxSteps = maxSteps; c.epochs = nil }
        if let epochs { c.epochs = epochs }
        if let evalInterval { c.evalInterval = evalInterval }
        if let evalIters { c.evalIters = evalIters }
        if let patience { c.patience = patience }
        if let logInterval { c.logInterval = logInterval }
        if let sampleTokens { c.sampleTokens = sampleTokens }
        if diagnostics { c.diagnostics = true }
    }

    /// Applies every flag the user gave.
    func apply(to c: inout TrainingConfig) {
        applyRunSettings(to: &c)
        if let corpus { c.corpus = corpus }
        if let val { c.val = val }
        if let tokenizer { c.tokenizer = tokenizer }
        if let vocabSize { c.vocabSize = vocabSize }
        if let nLayer { c.nLayer = nLayer }
        if let nHead { c.nHead = nHead }
        if let nEmbd { c.nEmbd = nEmbd }
        if let blockSize { c.blockSize = blockSize }
        if let dropout { c.dropout = dropout }
        if let embeddingInit { c.embeddingInit = embeddingInit }
        if let positional { c.positional = positional }
        if let attentionBias { c.attentionBias = attentionBias }
        if let vocabOrder { c.vocabOrder = vocabOrder }
        if let batchSize { c.batchSize = batchSize }
        if let gradAccum { c.gradAccum = gradAccum }
        if let lr { c.lr = lr }
        if let minLR { c.minLR = minLR }
        if let warmupSteps { c.warmupSteps = warmupSteps }
        if let scheduler { c.scheduler = scheduler }
        if let stepSize { c.stepSize = stepSize }
        if let stepFactor { c.stepFactor = stepFactor }
        if let optimizer { c.optimizer = optimizer }
        if let momentum { c.momentum = momentum }
        if nesterov { c.nesterov = true }
        if let weightDecay { c.weightDecay = weightDecay }
        if decayAll { c.decayAll = true }
        if let beta1 { c.beta1 = beta1 }
        if let beta2 { c.beta2 = beta2 }
        if let gradClip { c.gradClip = gradClip }
        if let precision { c.precision = precision }
        if let seed { c.seed = seed }
        if let out { c.out = out }
    }

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)  // progress lines reach a log file or pipe as they happen
        try reportingErrors {
            let trainer: Trainer
            if resume {
                let dir = URL(fileURLWithPath: out ?? TrainingConfig().out)
                trainer = try Trainer.resume(from: dir, adjust: applyRunSettings, log: { print($0) })
            } else {
                var c = TrainingConfig()
                if let config { c = try TrainingConfig.load(from: URL(fileURLWithPath: config)) }
                apply(to: &c)
                trainer = try Trainer(config: c, log: { print($0) })
            }
            try train(trainer)
        }
    }

    func train(_ trainer: Trainer) throws {
        let c = trainer.config
        print("model: \(c.nLayer) layers, \(c.nHead) heads, n_embd \(c.nEmbd), block \(c.blockSize), \(Terminal.thousands(Double(trainer.model.parameterCount))) parameters")
        print("training: \(trainer.totalSteps) steps of \(c.batchSize)×\(c.blockSize)×\(c.gradAccum) tokens, \(c.optimizer.rawValue) lr \(c.lr) \(c.scheduler.rawValue) -> \(c.minLR), warmup \(c.warmupSteps); output \(c.out)")
        installInterruptHandler()
        trainer.shouldStop = { interruptRequested.load(ordering: .relaxed) }
        var lastVal: Double?
        var smoothedRate = 0.0
        var lastPrint = Date.distantPast
        let summary = try trainer.run { event in
            switch event {
            case .step(let r, let total):
                if let v = r.valLoss { lastVal = v }
                smoothedRate = smoothedRate == 0 ? r.tokensPerSecond : 0.9 * smoothedRate + 0.1 * r.tokensPerSecond
                let stepsPerSecond = smoothedRate / Double(c.batchSize * c.blockSize * c.gradAccum)
                let eta = Double(total - r.step) / max(stepsPerSecond, 1e-9)
                let line = String(format: "step %d/%d | loss %.4f | val %@ | lr %.2e | gnorm %.3f | %@ tok/s | ETA %@",
                                  r.step, total, r.trainLoss, lastVal.map { String(format: "%.4f", $0) } ?? "-", r.lr, r.gradNorm,
                                  Terminal.thousands(smoothedRate), Terminal.duration(eta))
                if Terminal.isInteractive {
                    if Date().timeIntervalSince(lastPrint) > 0.1 || r.step == total || r.valLoss != nil {
                        print("\r" + line + "\u{1B}[K", terminator: r.valLoss != nil ? "\n" : "")
                        fflush(stdout)
                        lastPrint = Date()
                    }
                } else if r.valLoss != nil || r.step % 100 == 0 || r.step == 1 {
                    print(line)
                }
            case .evaluated, .started, .modelSaved, .checkpointSaved, .paused, .resumed, .finished, .failed:
                break
            case .diagnostics(let step, let stats):
                if Terminal.isInteractive { print("") }
                print("diagnostics at step \(step):\n" + TensorDiagnostics.table(stats))
            case .dataAdded(let step, let train, let val):
                if Terminal.isInteractive { print("") }
                print("data: step \(step): \(train) new training and \(val) new validation tokens")
            case .earlyStopped(let step, let patience):
                print("early stop at step \(step): no validation improvement in \(patience) evaluations")
            case .interrupted(let step):
                print("\ninterrupted at step \(step): checkpoint saved; continue with `cllm train --resume --out \(trainer.outputDirectory.path)`")
            }
        }
        if Terminal.isInteractive { print("") }
        print(String(format: "done: %d steps in %@, final train loss %.4f, best val loss %@",
                     summary.steps, Terminal.duration(summary.seconds), summary.finalTrainLoss,
                     summary.bestValLoss.map { String(format: "%.4f", $0) } ?? "-"))
        print("model saved to \(c.out)")
        if summary.interrupted { throw ExitCode(130) }
        if c.sampleTokens > 0 {
            let model = try LanguageModel.load(directory: trainer.outputDirectory)
            let options = GenerationOptions(maxTokens: c.sampleTokens, temperature: 0.8, topK: 200, seed: c.seed)
            let text = try TextGenerator(model: model, prompt: "\n", options: options).collect()
            print("\n--- sample (temperature 0.8, top-k 200) ---\n\n\(text)\n---")
        }
    }
}
