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
        cllm_tokenizer.json, tokenizer.json, checkpoint.safetensors and metrics.jsonl. Ctrl-C (or \
        SIGTERM) saves a checkpoint and exits; --resume continues it exactly. A directory that \
        already holds a model is refused unless --force; two runs never share one (it is locked).
        """)

    @OptionGroup var settings: TrainingFlags
    @Option(help: "JSON config file: the settings by section ({\"model\": {\"n_layer\": 6}}) or flat ({\"n_layer\": 6}); flags override it.")
    var config: String?
    @Flag(help: "Continue the checkpoint in --out exactly where it stopped (only the length, evaluation, logging and follow-data settings may change).")
    var resume = false
    @Flag(help: "Replace a model that --out already holds (its files are removed first).") var force = false
    @Flag(name: [.short, .long], help: "Print only warnings, errors and the final summary.") var quiet = false
    @Option(help: "Steps between progress lines when the output is not a terminal.") var progressInterval = 100

    func validate() throws {
        guard progressInterval >= 1 else { throw ValidationError("--progress-interval must be at least 1") }
        if resume && force { throw ValidationError("--force starts a new run; it cannot be combined with --resume") }
    }

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)  // progress lines reach a log file or pipe as they happen
        try reportingErrors {
            let trainer: Trainer
            var overrides = settings.overrides
            let log: (String) -> Void = { line in if !quiet { print(line) } }
            if resume {
                let dir = URL(fileURLWithPath: settings.outputDirectory)
                overrides["out"] = nil
                var adjusted: Error?
                trainer = try Trainer.resume(from: dir, adjust: { c in
                    do { c = try c.applying(overrides) } catch { adjusted = error }
                }, log: log)
                if let adjusted { throw adjusted }
            } else {
                var c = TrainingConfig()
                if let config { c = try TrainingConfig.load(from: URL(fileURLWithPath: config)) }
                // The models directory's `default` unless --out or the config file names one.
                if settings.out == nil && (config == nil || c.out == TrainingConfig().out) { overrides["out"] = settings.outputDirectory }
                trainer = try Trainer(config: c.applying(overrides), replacing: force, log: log)
            }
            try train(trainer)
        }
    }

    func train(_ trainer: Trainer) throws {
        let c = trainer.config
        if trainer.isFinished {
            print("\(c.out) already finished at step \(trainer.state.step) of \(trainer.totalSteps); nothing to do (raise --max-steps to go on)")
            return
        }
        if !quiet {
            let memory = ModelLimits.trainingBytes(vocabSize: trainer.tokenizer.vocabSize, c.model, batchSize: c.batchSize)
            print("model: \(c.nLayer) layers, \(c.nHead) heads, n_embd \(c.nEmbd), block \(c.blockSize), \(Terminal.thousands(Double(trainer.model.parameterCount))) parameters; about \(ModelLimits.formatBytes(memory)) to train (of \(ModelLimits.formatBytes(Double(ModelLimits.memoryBudget))))")
            print("training: \(trainer.totalSteps) steps of \(c.batchSize)×\(c.blockSize)×\(c.gradAccum) tokens, \(c.optimizer.rawValue) lr \(c.lr) \(c.scheduler.rawValue) -> \(c.minLr), warmup \(c.warmupSteps); output \(c.out)")
        }
        if c.warmupSteps >= trainer.totalSteps && c.lr > 0 {
            Terminal.error("warning: warm-up (\(c.warmupSteps) steps) is not shorter than the run (\(trainer.totalSteps) steps): the learning rate never reaches --lr \(c.lr); lower --warmup-steps")
        }
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
                if quiet { break }
                if Terminal.isInteractive {
                    if Date().timeIntervalSince(lastPrint) > 0.1 || r.step == total || r.valLoss != nil {
                        print("\r" + line + "\u{1B}[K", terminator: r.valLoss != nil ? "\n" : "")
                        flushOutput()
                        lastPrint = Date()
                    }
                } else if r.valLoss != nil || r.step % progressInterval == 0 || r.step == 1 {
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
        if Terminal.isInteractive && !quiet { print("") }
        print(String(format: "done: %d steps in %@, final train loss %.4f, best val loss %@",
                     summary.steps, Terminal.duration(summary.seconds), summary.finalTrainLoss,
                     summary.bestValLoss.map { String(format: "%.4f", $0) } ?? "-"))
        print("model saved to \(c.out)")
        if summary.interrupted { throw ExitCode(130) }
        if c.sampleTokens > 0 && !quiet {
            let model = try LanguageModel.load(directory: trainer.outputDirectory)
            let options = GenerationOptions(maxTokens: c.sampleTokens, temperature: 0.8, topK: 200, seed: c.seed)
            let text = try TextGenerator(model: model, prompt: "\n", options: options).collect()
            print("\n--- sample (temperature 0.8, top-k 200) ---\n\n\(text)\n---")
        }
    }
}
