// `cllm train`: flags override the config file, which overrides the defaults.
import ArgumentParser
import Foundation
import CrystallineCompute
import CrystallineDistributed
import CrystallineFormats
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

        Started by mpirun (Open MPI or MPICH, loaded at run time), it trains data-parallel: \
        `mpirun -np 2 cllm train ...` splits each global batch of --grad-accum micro-batches \
        (default: one per process) over the processes and averages their gradients; rank 0 \
        writes the files (docs/DISTRIBUTED.md).
        """)

    @OptionGroup var settings: TrainingFlags
    @Option(help: "JSON config file: the settings by section ({\"model\": {\"n_layer\": 6}}) or flat ({\"n_layer\": 6}); flags override it.")
    var config: String?
    @Flag(help: "Continue the checkpoint in --out exactly where it stopped (only the length, evaluation, logging and follow-data settings may change).")
    var resume = false
    @Flag(help: "Replace a model that --out already holds (its files are removed first).") var force = false
    @Flag(name: [.short, .long], help: "Print only warnings, errors and the final summary.") var quiet = false
    @Option(help: "Steps between progress lines when the output is not a terminal.") var progressInterval = 100
    @Option(help: "Worker threads (default: the machine's cores, shared evenly by the MPI processes on it).") var threads: Int?
    @Flag(help: "Under mpirun: sum the gradients after the backward pass instead of overlapping the sums with it.")
    var noOverlap = false
    @Option(help: "Under mpirun: the gradient bucket size in MiB (summed as soon as its layers' backward is done).")
    var bucketMb = 25
    @Option(help: "Under mpirun: gradients on the wire as fp32 or bf16 (half the bytes, bf16 rounding).")
    var gradientWire: GradientWire = .fp32
    @Flag(help: "With --follow: stop when a round ends and no new text has arrived, instead of waiting for more.")
    var untilIdle = false
    @Option(help: "With --follow: seconds between looks at the directory while waiting for new text.")
    var pollSeconds = 10.0
    @Flag(help: "Under mpirun: each process keeps and updates only its block of the optimizer moments (ZeRO stage 1).")
    var shardOptimizer = false

    func validate() throws {
        guard progressInterval >= 1 else { throw ValidationError("--progress-interval must be at least 1") }
        if resume && force { throw ValidationError("--force starts a new run; it cannot be combined with --resume") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard bucketMb >= 1 else { throw ValidationError("--bucket-mb must be at least 1") }
        if shardOptimizer && gradientWire == .bf16 {
            throw ValidationError("--shard-optimizer sends fp32 gradients (reduce-scatter); it cannot be combined with --gradient-wire bf16")
        }
    }

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)  // progress lines reach a log file or pipe as they happen
        let mpi = MPIEnvironment.detect()
        // Before the first parallel region creates the pool.
        if let n = threads ?? mpi.map({ $0.threadsPerProcess() }) { setenv("CLLM_THREADS", "\(n)", 1) }
        try reportingErrors {
            guard let mpi else { return try train(makeTrainer(log: { line in if !quiet { print(line) } }), launch: nil) }
            let launch = try DataParallelLaunch(environment: mpi, threads: threads,
                                                reduction: GradientReduction(overlap: !noOverlap, bucketBytes: bucketMb << 20, shardOptimizer: shardOptimizer),
                                                wire: gradientWire)
            defer { launch.group.finalize() }
            // The launch line comes first: the trainer's own lines wait for it.
            var lines: [String] = []
            let made = Result { try makeTrainer(group: launch, log: { lines.append($0) }) }
            try launch.agree(ready: (try? made.get()) != nil)
            let trainer = try made.get()
            if launch.isPrimary && !quiet {
                print(launch.summary(config: trainer.config))
                lines.forEach { print($0) }
            }
            do {
                try train(trainer, launch: launch)
            } catch let e as ExitCode {
                throw e
            } catch {
                // The others are waiting in a collective this process will never join: end the
                // job rather than finalize (which would wait for them).
                Terminal.error("error: rank \(launch.group.rank): \(error)")
                launch.group.abort(code: 1)
            }
        }
    }

    /// A new or resumed trainer; in a data-parallel run, one process of the group.
    func makeTrainer(group launch: DataParallelLaunch? = nil, log: @escaping (String) -> Void) throws -> Trainer {
        let primary = launch?.isPrimary ?? true
        var overrides = settings.overrides
        let trainer: Trainer
        if resume {
            let dir = URL(fileURLWithPath: settings.outputDirectory)
            overrides["out"] = nil
            var adjusted: Error?
            trainer = try Trainer.resume(from: dir, isPrimary: primary, adjust: { c in
                do { c = try c.applying(overrides) } catch { adjusted = error }
            }, log: log)
            if let adjusted { throw adjusted }
        } else {
            var c = TrainingConfig()
            if let config { c = try TrainingConfig.load(from: URL(fileURLWithPath: config)) }
            // The models directory's `default` unless --out or the config file names one.
            if settings.out == nil && (config == nil || c.out == TrainingConfig().out) { overrides["out"] = settings.outputDirectory }
            // Under mpirun the global batch defaults to one micro-batch per process.
            if let launch, overrides["gradAccum"] == nil, c.gradAccum == 1 { overrides["gradAccum"] = launch.group.size }
            trainer = try Trainer(config: c.applying(overrides), isPrimary: primary, replacing: force, log: log)
        }
        if let launch { try trainer.joinDataParallel(launch.group, reduction: launch.reduction) }
        return trainer
    }

    func train(_ trainer: Trainer, launch: DataParallelLaunch?) throws {
        let c = trainer.config
        // A secondary process of a data-parallel run prints nothing but errors.
        let quiet = quiet || !trainer.isPrimary
        // mpirun hands each rank a pseudo-terminal whatever mpirun's own output is: progress
        // under it goes line by line.
        let interactive = Terminal.isInteractive && launch == nil
        let following = trainer.inbox != nil
        if trainer.isFinished && !following {
            print("\(c.out) already finished at step \(trainer.state.step) of \(trainer.totalSteps); nothing to do (raise --max-steps to go on)")
            return
        }
        if !quiet {
            let memory = ModelLimits.trainingBytes(vocabSize: trainer.tokenizer.vocabSize, c.model, batchSize: c.batchSize)
            print("model: \(c.nLayer) layers, \(c.nHead) heads, n_embd \(c.nEmbd), block \(c.blockSize), \(Terminal.thousands(Double(trainer.model.parameterCount))) parameters; about \(ModelLimits.formatBytes(memory)) to train (of \(ModelLimits.formatBytes(Double(ModelLimits.memoryBudget))))")
            print("training: \(trainer.totalSteps) steps of \(c.batchSize)×\(c.blockSize)×\(c.gradAccum) tokens, \(c.optimizer.rawValue) lr \(c.lr) \(c.scheduler.rawValue) -> \(c.minLr), warmup \(c.warmupSteps), \(precisionNote(c.precision)); output \(c.out)")
        }
        if c.warmupSteps >= trainer.totalSteps && c.lr > 0 && trainer.isPrimary {
            Terminal.error("warning: warm-up (\(c.warmupSteps) steps) is not shorter than the run (\(trainer.totalSteps) steps): the learning rate never reaches --lr \(c.lr); lower --warmup-steps")
        }
        if let launch {
            DataParallelLaunch.installTerminationNotice(rank: launch.group.rank, runDirectory: trainer.outputDirectory.path)
            guard try trainer.parametersAgree() else { throw CLIError("the processes start from different parameters") }
        } else {
            installInterruptHandler()
        }
        trainer.shouldStop = { interruptRequested.load(ordering: .relaxed) }
        var lastVal: Double?
        var lastNewVal: Double?
        var smoothedRate = 0.0
        var lastPrint = Date.distantPast
        let onEvent: (TrainingEvent) -> Void = { event in
            switch event {
            case .step(let r, let total):
                if let v = r.valLoss { lastVal = v }
                smoothedRate = smoothedRate == 0 ? r.tokensPerSecond : 0.9 * smoothedRate + 0.1 * r.tokensPerSecond
                let stepsPerSecond = smoothedRate / Double(c.batchSize * c.blockSize * c.gradAccum)
                let eta = Double(total - r.step) / max(stepsPerSecond, 1e-9)
                if let v = r.newValLoss { lastNewVal = v }
                let line = String(format: "step %d/%d | loss %.4f | val %@%@ | lr %.2e | gnorm %.3f | %@ tok/s | ETA %@",
                                  r.step, total, r.trainLoss, lastVal.map { String(format: "%.4f", $0) } ?? "-",
                                  lastNewVal.map { String(format: " | new-text val %.4f", $0) } ?? "", r.lr, r.gradNorm,
                                  Terminal.thousands(smoothedRate), Terminal.duration(eta))
                if quiet { break }
                if interactive {
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
                if interactive { print("") }
                print("diagnostics at step \(step):\n" + TensorDiagnostics.table(stats))
            case .dataAdded(let step, let train, let val):
                if interactive { print("") }
                print("data: step \(step): \(train) new training and \(val) new validation tokens")
            case .earlyStopped(let step, let patience):
                print("early stop at step \(step): no validation improvement in \(patience) evaluations")
            case .interrupted(let step):
                print("\ninterrupted at step \(step): checkpoint saved; continue with `cllm train --resume --out \(trainer.outputDirectory.path)`")
            case .roundStarted(let step, let round, let end):
                if interactive { print("") }
                print("round \(round): steps \(step + 1)-\(end) on the new text, replaying \(Int((c.replay * 100).rounded()))% old data; learning rate warms up again")
            }
        }
        let summary = following
            ? try trainer.runFollowing(untilIdle: untilIdle, pollSeconds: pollSeconds, onEvent: onEvent)
            : try trainer.run(onEvent: onEvent)
        if interactive && !quiet { print("") }
        if launch != nil {
            // Every process applied the same steps: their parameters must be bitwise equal.
            let agree = try trainer.parametersAgree()
            if trainer.isPrimary {
                print(agree ? "parameters identical on all \(trainer.parallel!.size) processes (CRC-32 \(CRC32.hex(trainer.parameterChecksum)))"
                            : "error: the processes' parameters differ at the end of the run")
            }
            guard agree else { throw ExitCode.failure }
            guard trainer.isPrimary else { return }
        }
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

/// How the products of a run are computed, for the header line: "bf16 (AVX512_BF16)", "fp32",
/// or the weights-only bf16 of a CPU without bfloat16 instructions.
func precisionNote(_ precision: Precision) -> String {
    switch precision {
    case .fp32: return "fp32"
    case .bf16:
        if let kernel = BF16GEMMKernel.active { return "bf16 (\(kernel.isaName.split(separator: " ").first ?? ""))" }
        return "bf16 weights (this CPU has no bfloat16 instructions)"
    }
}
