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

    @OptionGroup var settings: TrainingFlags
    @Option(help: "JSON config file: the settings by section ({\"model\": {\"n_layer\": 6}}) or flat ({\"n_layer\": 6}); flags override it.")
    var config: String?
    @Flag(help: "Continue the checkpoint in --out exactly where it stopped (only the length, evaluation, logging and follow-data settings may change).")
    var resume = false

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)  // progress lines reach a log file or pipe as they happen
        try reportingErrors {
            let trainer: Trainer
            let overrides = settings.overrides
            if resume {
                let dir = URL(fileURLWithPath: settings.out ?? TrainingConfig().out)
                var adjusted: Error?
                trainer = try Trainer.resume(from: dir, adjust: { c in
                    do { c = try c.applying(overrides) } catch { adjusted = error }
                }, log: { print($0) })
                if let adjusted { throw adjusted }
            } else {
                var c = TrainingConfig()
                if let config { c = try TrainingConfig.load(from: URL(fileURLWithPath: config)) }
                trainer = try Trainer(config: c.applying(overrides), log: { print($0) })
            }
            try train(trainer)
        }
    }

    func train(_ trainer: Trainer) throws {
        let c = trainer.config
        print("model: \(c.nLayer) layers, \(c.nHead) heads, n_embd \(c.nEmbd), block \(c.blockSize), \(Terminal.thousands(Double(trainer.model.parameterCount))) parameters")
        print("training: \(trainer.totalSteps) steps of \(c.batchSize)×\(c.blockSize)×\(c.gradAccum) tokens, \(c.optimizer.rawValue) lr \(c.lr) \(c.scheduler.rawValue) -> \(c.minLr), warmup \(c.warmupSteps); output \(c.out)")
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
                        flushOutput()
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
