// The trainer: one optimizer step at a time (micro-batches with gradient accumulation, a hook
// for the gradients, clipping, the scheduled optimizer step), periodic validation with
// best-model saving and early stopping, checkpoints that resume exactly, metrics.jsonl and
// diagnostics. `step()`, `evaluate()` and `saveCheckpoint()` are separate calls so that a
// driver (the command line, `TrainingRun` on its own thread, a distributed launcher) decides
// when each happens; `run` is the plain loop over them.
import Foundation
import CrystallineCompute
import CrystallineData
import CrystallineFormats
import CrystallineInterop
import CrystallineLattice
import CrystallineModel
import CrystallineTokenizers

/// Everything beyond the weights and optimizer moments that a resumed run needs.
public struct TrainerState: Codable, Sendable {
    public var config: TrainingConfig
    public var step = 0
    public var optimizerSteps = 0
    public var dataRng: Xoshiro256
    public var dropoutRng: Xoshiro256
    public var bestValLoss: Double? = nil
    public var evalsWithoutImprovement = 0
    public var tokensSeen = 0
    public var trainingSeconds: Double = 0
    /// Set by `anneal(steps:)`: the learning rate decays to min_lr over this window.
    public var anneal: AnnealWindow? = nil
    /// The last training loss (NaN before the first step).
    public var lastTrainLoss: Double? = nil
    /// Where the token shards are read from: a prepared directory read in place, or nil for the
    /// shards this run wrote to DIR/data.
    public var dataDirectory: String? = nil
    /// Tokens of the train and validation sources at the last checkpoint: a resumed run reads
    /// exactly that much until it next looks for new shards.
    public var trainTokens: Int? = nil
    public var valTokens: Int? = nil
    /// While following an inbox: the current round of new data, and the tokens of the inbox's
    /// train and validation shards at the last checkpoint.
    public var round: FollowRound? = nil
    public var followTrainTokens: Int? = nil
    public var followValTokens: Int? = nil
}

extension TrainerState {
    /// Refuses counters a checkpoint cannot hold (negative steps, an anneal window that
    /// overflows, non-finite losses), naming the field.
    func checkRanges(path: String) throws {
        func check(_ ok: Bool, _ what: String) throws {
            if !ok { throw TrainingError.checkpoint("\(path): the trainer state's \(what) is out of range; the checkpoint is damaged") }
        }
        try check(step >= 0, "step")
        try check(optimizerSteps >= 0, "optimizer_steps")
        try check(tokensSeen >= 0, "tokens_seen")
        try check(evalsWithoutImprovement >= 0, "evals_without_improvement")
        try check(trainingSeconds.isFinite && trainingSeconds >= 0, "training_seconds")
        try check(bestValLoss.map(\.isFinite) ?? true, "best_val_loss")
        try check((trainTokens ?? 0) >= 0 && (valTokens ?? 0) >= 0, "train_tokens/val_tokens")
        if let a = anneal {
            try check(a.start >= 0 && a.steps > 0 && a.start <= Int.max - a.steps && a.startLr.isFinite && a.startLr >= 0, "anneal window")
        }
    }
}

public final class Trainer {
    public let config: TrainingConfig
    public let model: GPT
    public let tokenizer: any Tokenizer
    public let dataset: TokenDataset
    public private(set) var optimizer: Optimizer
    public private(set) var schedule: LRSchedule
    public let outputDirectory: URL
    public private(set) var totalSteps: Int
    public private(set) var state: TrainerState
    /// Polled after every optimizer step by `run`; returning true saves a checkpoint and stops.
    public var shouldStop: () -> Bool = { false }
    /// Called after the backward pass of each optimizer step, before clipping, with the
    /// accumulated gradients: where a data-parallel run averages them over its processes.
    public var gradientHook: ((FloatBuffer) throws -> Void)?
    /// Whether this process writes files (model, checkpoints, metrics). In a data-parallel run
    /// only the primary does; the others compute the same steps and write nothing.
    public var isPrimary = true
    /// The other processes of a data-parallel run (`joinDataParallel`), nil when training alone.
    public private(set) var parallel: (any DataParallelGroup)?
    /// The micro-batches of each global batch this process computes (all of them when alone).
    public private(set) var share: MicroBatchShare
    public private(set) var reduction = GradientReduction()
    private var buckets: GradientBuckets?
    /// With a sharded optimizer: the blocks, and this process's block of the summed gradients.
    private var sharding: (shards: Shards, gradients: FloatBuffer)?
    /// The inbox a run with `follow` absorbs new documents from, and the shards it wrote.
    public private(set) var inbox: DocumentInbox?
    private(set) var followed: (train: ShardDirectorySource, val: ShardDirectorySource)?
    /// The training windows' sources while a round is on (`makeFollowMixture`).
    var followMixture: SourceMixture?
    /// Whether the run has reached its last step or stopped early.
    public var isFinished: Bool { state.step >= totalSteps || stoppedEarly }

    private var inputs: [Int32], targets: [Int32]
    /// Held while the trainer lives: no second process writes the same run directory.
    private var lock: DirectoryLock?
    private var stoppedEarly = false
    private var metrics: MetricsLog?
    /// Checkpoints between evaluations (`checkpoint_interval`, parsed once).
    private let checkpointInterval: CheckpointInterval?
    /// When the last checkpoint was written (or the trainer made), for time-based intervals.
    private var lastCheckpoint = ContinuousClock.now
    private lazy var diagnosticsSnapshot = FloatBuffer(count: model.parameterCount)

    /// A fresh run: builds the tokenizer, encodes the corpus once (cached as llm.c shards in
    /// DIR/data), initialises the model.
    ///
    /// The output directory is locked for the trainer's lifetime. One that already holds a model
    /// or a checkpoint is refused unless `replacing` is set; then the old run's files are removed
    /// first, so that no mix of the two runs is ever left there.
    /// `isPrimary: false` (a secondary process of a data-parallel run) writes nothing at all.
    public convenience init(config: TrainingConfig, isPrimary: Bool = true, replacing: Bool = false,
                            log: (String) -> Void = { _ in }) throws {
        try config.validate()
        let out = URL(fileURLWithPath: config.out)
        let lock = isPrimary ? try DirectoryLock(out) : nil
        var tokenizer: any Tokenizer
        var dataset: TokenDataset
        var dataDirectory: String?
        if PreparedData.isPrepared(config.corpus) {
            // Shards from `cllm prepare`: read in place, memory-mapped, no re-encoding.
            let dir = URL(fileURLWithPath: config.corpus)
            tokenizer = try TokenizerFile.load(from: dir)
            dataset = try Self.shardDataset(dir, blockSize: config.blockSize)
            dataDirectory = dir.path
            log("data: prepared shards in \(config.corpus) (\(tokenizer.kind.rawValue), vocab \(tokenizer.vocabSize)); train \(dataset.train.count), val \(dataset.val.count) tokens")
        } else {
            let frozen = try config.tokenizerFrom.map { try TokenizerFile.load(from: URL(fileURLWithPath: $0)) }
            if let frozen { log("tokenizer: reusing the \(frozen.kind.rawValue) tokenizer of \(config.tokenizerFrom!) (vocab \(frozen.vocabSize))") }
            let encoded = try EncodedCorpus.build(corpus: config.corpus, val: config.val, kind: frozen?.kind ?? config.tokenizer,
                                                  vocabSize: config.vocabSize, valFraction: config.valFraction, frozen: frozen)
            for s in encoded.source.skipped { log("note: skipped \(s.path) (\(s.reason))") }
            tokenizer = encoded.tokenizer
            dataset = try TokenDataset(train: encoded.train, val: encoded.val, blockSize: config.blockSize)
            log("corpus: \(encoded.source.files.count) file(s), \(encoded.source.bytes.count) bytes -> \(encoded.train.count + encoded.val.count) tokens (\(config.tokenizer.rawValue), vocab \(tokenizer.vocabSize)); train \(dataset.train.count), val \(dataset.val.count)")
        }
        if config.vocabOrder == .ulam {
            guard dataDirectory == nil else { throw TrainingError.invalidConfig("vocab_order ulam re-numbers the tokens, so it needs a text corpus, not prepared shards") }
            (tokenizer, dataset) = try Self.ulamOrder(tokenizer, dataset, blockSize: config.blockSize)
            log("vocabulary re-numbered by Ulam-spiral locality of frequency rank")
        }
        // Before any file is touched: a run that cannot fit in memory never costs the old model.
        try config.checkMemory(vocabSize: tokenizer.vocabSize)
        if isPrimary {
            // Only now that the new run's data is good: a missing corpus never costs the old model.
            try Self.clearForFreshRun(out, name: config.out, replacing: replacing, log: log)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            Self.removeStaleTemporaries(out, log: log)
            try tokenizer.file.save(to: out)
            if dataDirectory == nil, tokenizer.vocabSize <= Int(UInt16.max) + 1 {
                try TokenShard.write(dataset.train.tokens(0..<dataset.train.count), to: out.appendingPathComponent("data/train.bin"))
                try TokenShard.write(dataset.val.tokens(0..<dataset.val.count), to: out.appendingPathComponent("data/val.bin"))
            }
        }
        let model = try GPT(config: config.gptConfig(vocabSize: tokenizer.vocabSize), seed: config.seed)
        var state = TrainerState(config: config, dataRng: Xoshiro256(seed: config.seed &+ 1),
                                 dropoutRng: Xoshiro256(seed: config.seed &+ 2))
        state.dataDirectory = dataDirectory
        try self.init(state: state, model: model, tokenizer: tokenizer, dataset: dataset, out: out)
        self.isPrimary = isPrimary
        self.lock = lock
        if let follow = config.follow { try attachInbox(URL(fileURLWithPath: follow), log: log) }
        if isPrimary {
            for stale in ["metrics.jsonl", "diagnostics.jsonl"] { try? FileManager.default.removeItem(at: out.appendingPathComponent(stale)) }
        }
    }

    /// The files of a run directory: what a fresh run refuses to overwrite, and removes when told to.
    static let runFiles = [ModelDirectory.weightsFile, ModelDirectory.checkpointFile, ModelDirectory.configFile, TokenizerFile.fileName,
                           HuggingFaceTokenizer.fileName, "metrics.jsonl", "diagnostics.jsonl", "data", "follow"]

    static func clearForFreshRun(_ out: URL, name: String, replacing: Bool, log: (String) -> Void) throws {
        let fm = FileManager.default
        let holdsModel = [ModelDirectory.weightsFile, ModelDirectory.checkpointFile].contains {
            fm.fileExists(atPath: out.appendingPathComponent($0).path)
        }
        guard holdsModel else { return }
        guard replacing else {
            throw TrainingError.existingModel("\(name) already holds a model; continue it with --resume, replace it with --force, or choose another --out")
        }
        for name in runFiles { try? fm.removeItem(at: out.appendingPathComponent(name)) }
        log("replacing the model in \(name)")
    }

    /// Temporary files of writers that were killed (this process holds the lock, so no live
    /// writer owns one).
    static func removeStaleTemporaries(_ dir: URL, log: (String) -> Void) {
        let removed = AtomicFile.removeStaleTemporaries(in: dir) + AtomicFile.removeStaleTemporaries(in: dir.appendingPathComponent("data"))
        if !removed.isEmpty { log("removed \(removed.count) temporary file(s) left by an interrupted write: \(removed.joined(separator: ", "))") }
    }

    /// Re-numbers tokens: frequency rank r (most frequent first, in the training split) gets the
    /// id of r's place in the Ulam-spiral locality order, among the ids of text; special tokens
    /// keep their ids.
    static func ulamOrder(_ tokenizer: any Tokenizer, _ data: TokenDataset, blockSize: Int) throws -> (any Tokenizer, TokenDataset) {
        let V = tokenizer.vocabSize
        let textIds = (0..<V).filter { !tokenizer.isSpecial(Int32($0)) }
        var counts = [Int](repeating: 0, count: V)
        let train = data.train.tokens(0..<data.train.count), val = data.val.tokens(0..<data.val.count)
        for t in train { counts[Int(t)] += 1 }
        let ranked = textIds.sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }
        let order = UlamSpiral.localityOrder(ranked.count)
        var newId = (0..<V).map { Int32($0) }
        for (slot, rank) in order.enumerated() { newId[ranked[rank]] = Int32(textIds[slot]) }
        let remap = { (tokens: [Int32]) in tokens.map { newId[Int($0)] } }
        return (try tokenizer.permuted(newId), try TokenDataset(train: remap(train), val: remap(val), blockSize: blockSize))
    }

    /// The train*.bin and val*.bin shards of `dir`, read in place; with token counts, only that
    /// many are visible until the next `refreshData()`.
    static func shardDataset(_ dir: URL, blockSize: Int, trainTokens: Int? = nil, valTokens: Int? = nil) throws -> TokenDataset {
        let train = try ShardDirectorySource(directory: dir, prefix: "train")
        let val = try ShardDirectorySource(directory: dir, prefix: "val")
        if let trainTokens { train.limit(to: trainTokens) }
        if let valTokens { val.limit(to: valTokens) }
        return try TokenDataset(train: train, val: val, blockSize: blockSize)
    }

    /// Looks for shards added to the data directory since the start (or the last look); returns
    /// the tokens added to training and validation.
    @discardableResult
    public func refreshData() throws -> (train: Int, val: Int) {
        (try dataset.train.refresh(), try dataset.val.refresh())
    }

    /// Continues the run saved in `directory`. `adjust` may change what does not alter the
    /// model or the data (max_steps, eval and logging settings, patience). `isPrimary: false`
    /// (a secondary process of a data-parallel run) reads the checkpoint and writes nothing.
    public static func resume(from directory: URL, isPrimary: Bool = true, adjust: (inout TrainingConfig) -> Void = { _ in },
                              log: (String) -> Void = { _ in }) throws -> Trainer {
        let url = directory.appendingPathComponent(ModelDirectory.checkpointFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TrainingError.checkpoint("no checkpoint at \(url.path) to resume from")
        }
        let lock = isPrimary ? try DirectoryLock(directory) : nil
        if isPrimary { removeStaleTemporaries(directory, log: log) }
        let (tensors, metadata) = try Safetensors.read(url)
        guard let json = metadata["trainer_state"] else { throw TrainingError.checkpoint("\(url.path) has no trainer state") }
        var state: TrainerState
        // Checkpoints written before the state used snake_case keys spell the generators in camel
        // case with an acronym, which snake-case decoding cannot map back.
        let stateJSON = json.replacingOccurrences(of: "\"dataRNG\"", with: "\"data_rng\"")
            .replacingOccurrences(of: "\"dropoutRNG\"", with: "\"dropout_rng\"")
        do { state = try SnakeCaseJSON.decoder().decode(TrainerState.self, from: Data(stateJSON.utf8)) } catch {
            throw TrainingError.checkpoint("\(url.path): unreadable trainer state (\(SnakeCaseJSON.describe(error)))")
        }
        try state.checkRanges(path: url.path)
        let before = state.config
        adjust(&state.config)
        state.config.out = before.out
        let changed = try before.differences(from: state.config).subtracting(TrainingConfig.changeableOnResume)
        guard changed.isEmpty else {
            throw TrainingError.checkpoint("\(changed.map(SnakeCaseJSON.snakeCase).sorted().joined(separator: ", ")) cannot change when a run is resumed (only \(TrainingConfig.changeableOnResume.map(SnakeCaseJSON.snakeCase).sorted().joined(separator: ", ")) can); start a new run with --out elsewhere")
        }
        state.config.out = directory.path
        try state.config.validate()
        let tokenizer = try TokenizerFile.load(from: directory)
        let dataDir = state.dataDirectory.map { URL(fileURLWithPath: $0) } ?? directory.appendingPathComponent("data")
        let dataset = try shardDataset(dataDir, blockSize: state.config.blockSize, trainTokens: state.trainTokens, valTokens: state.valTokens)
        let c = state.config
        try c.checkMemory(vocabSize: tokenizer.vocabSize)
        let model = try GPT(config: c.gptConfig(vocabSize: tokenizer.vocabSize))
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.values) })
        guard let params = byName["parameters"], params.count == model.parameterCount, let m = byName["optimizer.m"],
              let v = byName["optimizer.v"] else {
            throw TrainingError.checkpoint("\(url.path) does not match the model (parameter count \(model.parameterCount))")
        }
        if let bad = params.withUnsafeBufferPointer({ model.layout.firstNonFinite($0) }) {
            throw TrainingError.checkpoint("\(url.path): \(ModelError.nonFinite(tensor: bad.tensor, index: bad.index))")
        }
        guard m.allSatisfy(\.isFinite), v.allSatisfy(\.isFinite) else {
            throw TrainingError.checkpoint("\(url.path): the optimizer moments hold a NaN or infinity; the checkpoint is damaged")
        }
        model.parameters.load(params)
        let trainer = try Trainer(state: state, model: model, tokenizer: tokenizer, dataset: dataset, out: directory)
        guard m.count == trainer.optimizer.m.count, v.count == trainer.optimizer.v.count else {
            throw TrainingError.checkpoint("\(url.path): optimizer moments hold \(m.count) and \(v.count) values, expected \(trainer.optimizer.m.count)")
        }
        trainer.optimizer.restore(m: m, v: v, stepCount: state.optimizerSteps)
        trainer.lock = lock
        trainer.isPrimary = isPrimary
        if let follow = state.config.follow { try trainer.attachInbox(URL(fileURLWithPath: follow), log: log) }
        if isPrimary { trainer.trimMetrics() }
        log("resumed \(directory.path) at step \(state.step)/\(trainer.totalSteps)")
        return trainer
    }

    private init(state: TrainerState, model: GPT, tokenizer: any Tokenizer, dataset: TokenDataset, out: URL) throws {
        let c = state.config
        self.config = c
        self.state = state
        self.model = model
        self.tokenizer = tokenizer
        self.dataset = dataset
        self.outputDirectory = out
        checkpointInterval = c.checkpointInterval.flatMap(CheckpointInterval.init)
        model.precision = c.precision
        optimizer = Optimizer(settings: OptimizerSettings(kind: c.optimizer, beta1: c.beta1, beta2: c.beta2, eps: c.eps,
                                                          weightDecay: c.weightDecay, momentum: c.momentum,
                                                          nesterov: c.nesterov, decayAll: c.decayAll),
                              layout: model.layout)
        let tokensPerStep = c.batchSize * c.blockSize * c.gradAccum
        var total = c.maxSteps
        if let e = c.epochs { total = max(1, Int((e * Double(dataset.train.count) / Double(tokensPerStep)).rounded(.up))) }
        if let a = state.anneal { total = a.end }
        if let r = state.round { total = r.end }
        totalSteps = total
        schedule = LRSchedule(kind: c.scheduler, maxLR: c.lr, minLR: c.minLr, warmupSteps: c.warmupSteps,
                              totalSteps: total, stepSize: c.stepSize, stepFactor: c.stepFactor, anneal: state.anneal)
        schedule.round = state.round
        inputs = [Int32](repeating: 0, count: c.batchSize * c.blockSize)
        targets = inputs
        share = try MicroBatchShare(rank: 0, size: 1, microBatches: c.gradAccum)
    }

    /// Trains as one of `group.size` processes: each computes its share of every global batch
    /// (`grad_accum` micro-batches, drawn as a lone process would draw them), the gradient sums
    /// are averaged over the group before clipping, and every process applies the same step.
    /// Train and validation losses are means over the group. Only rank 0 should be primary.
    public func joinDataParallel(_ group: any DataParallelGroup, reduction: GradientReduction = GradientReduction()) throws {
        guard config.follow == nil else {
            throw TrainingError.invalidConfig("follow reads an inbox directory on one machine; it cannot be combined with a data-parallel run")
        }
        share = try MicroBatchShare(rank: group.rank, size: group.size, microBatches: config.gradAccum)
        if reduction.shardOptimizer {
            guard !config.diagnostics else {
                throw TrainingError.invalidConfig("diagnostics need every gradient and moment in one process; they cannot be combined with a sharded optimizer")
            }
            let shards = Shards(total: model.parameterCount, parts: group.size)
            let mine = shards.range(group.rank)
            // This process keeps its block of the moments (restored ones included) and lets
            // the whole-model optimizer go.
            let sharded = Optimizer(settings: optimizer.settings, layout: model.layout, range: mine)
            sharded.restore(m: optimizer.m.slice(mine.lowerBound, mine.count),
                            v: optimizer.v.count > 0 ? optimizer.v.slice(mine.lowerBound, mine.count) : [],
                            stepCount: optimizer.stepCount)
            optimizer = sharded
            sharding = (shards, FloatBuffer(count: mine.count))
        }
        parallel = group
        self.reduction = reduction
        buckets = reduction.overlap && !reduction.shardOptimizer
            ? GradientBuckets(group: group, gradients: model.gradients.pointer, bucketBytes: reduction.bucketBytes) : nil
    }

    /// A checksum of the parameters, the same on every process of a healthy data-parallel run.
    public var parameterChecksum: UInt32 {
        let p = model.parameters
        return CRC32.checksum(p.pointer, count: p.count * MemoryLayout<Float>.stride)
    }

    /// Whether every process of the group holds bitwise the same parameters (true when alone).
    public func parametersAgree() throws -> Bool {
        guard let parallel else { return true }
        let crc = Double(parameterChecksum)
        var extremes = [crc, -crc]
        try parallel.allReduce(&extremes, maximum: true)
        return extremes[0] == crc && -extremes[1] == crc
    }

    /// Mean loss over `eval_iters` validation batches. The batches come from a generator seeded
    /// the same way at every evaluation, so successive evaluations compare like with like.
    public func evaluate() throws -> Double { try evaluate(on: dataset.val) }

    /// The same on another held-out source (the new documents of a followed inbox).
    public func evaluate(on source: any TokenSource) throws -> Double {
        var rng = Xoshiro256(seed: config.seed ^ 0x0E7A_1000)
        var total = 0.0
        // In a data-parallel run each process evaluates every size-th batch of the same sequence.
        let size = parallel?.size ?? 1, rank = parallel?.rank ?? 0
        for i in 0..<config.evalIters {
            guard i % size == rank else {
                TokenDataset.skip(source, B: config.batchSize, T: config.blockSize, rng: &rng)
                continue
            }
            TokenDataset.sample(source, B: config.batchSize, T: config.blockSize, rng: &rng, inputs: &inputs, targets: &targets)
            total += Double(try model.forward(tokens: inputs, targets: targets, B: config.batchSize, T: config.blockSize, training: false)!)
        }
        if let parallel { total = try parallel.allReduce(total) }
        return total / Double(config.evalIters)
    }

    /// An event for observers that a run (re)starts here.
    public var startEvent: TrainingEvent {
        .started(step: state.step, totalSteps: totalSteps, parameters: model.parameterCount, config: config)
    }

    /// One optimizer step: `grad_accum` micro-batches forward and backward, the gradient hook,
    /// clipping, the optimizer; then, when due, validation (saving the best model), metrics and
    /// a checkpoint. Returns what happened, in order. Throws on a non-finite loss or gradient
    /// norm, before the broken weights reach any file.
    @discardableResult
    public func step() throws -> [TrainingEvent] {
        precondition(!isFinished, "step() after the run finished")
        let c = config
        let B = c.batchSize, T = c.blockSize
        let clock = ContinuousClock()
        let started = clock.now
        var events: [TrainingEvent] = []
        model.zeroGradients()
        var lossSum = 0.0
        // Each micro-batch's dropout masks come from its own generator, seeded from the step's
        // draw and the micro-batch's index, so a process computing micro-batch i alone draws
        // the masks a lone process would.
        let dropoutSeed = state.dropoutRng.next()
        for i in 0..<c.gradAccum {
            guard share.owns(i) else {
                TokenDataset.skip(dataset.train, B: B, T: T, rng: &state.dataRng)
                continue
            }
            if let mixture = followMixture {
                TokenDataset.sample(mixture, B: B, T: T, rng: &state.dataRng, inputs: &inputs, targets: &targets)
            } else {
                TokenDataset.sample(dataset.train, B: B, T: T, rng: &state.dataRng, inputs: &inputs, targets: &targets)
            }
            model.dropoutRNG = Xoshiro256(seed: dropoutSeed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
            let loss = try model.forward(tokens: inputs, targets: targets, B: B, T: T, training: true)!
            guard loss.isFinite else { throw TrainingError.nonFiniteLoss(step: state.step + 1, loss: loss) }
            lossSum += Double(loss)
            // Gradients are summed over the group only after the last local micro-batch, bucket
            // by bucket while its backward pass is still running.
            if let buckets, share.isLastOwned(i) { model.gradientsReady = { buckets.ready($0) } }
            model.backward(lossScale: 1 / Float(c.gradAccum))
            model.gradientsReady = nil
        }
        let allGradients = UnsafeMutableBufferPointer(start: model.gradients.pointer, count: model.gradients.count)
        if let parallel {
            if let sharding {
                try parallel.reduceScatterSum(allGradients, into: UnsafeMutableBufferPointer(start: sharding.gradients.pointer, count: sharding.gradients.count),
                                              shards: sharding.shards)
            } else if let buckets {
                try buckets.finish()
            } else {
                try parallel.allReduceSum(allGradients)
            }
            lossSum = try parallel.allReduce(lossSum)
        }
        // With a sharded optimizer the hook sees this process's own (unsummed) gradients.
        try gradientHook?(model.gradients)
        let diagnose = c.diagnostics && (state.step == 0 || (state.step + 1) % c.evalInterval == 0)
        var stats = diagnose ? TensorDiagnostics.gradients(model: model) : []
        let gradNorm = try clipSummedGradients(maxNorm: c.gradClip)
        guard gradNorm.isFinite else { throw TrainingError.nonFiniteLoss(step: state.step + 1, loss: Float(gradNorm)) }
        let lr = schedule.lr(at: state.step)
        if diagnose { diagnosticsSnapshot.copy(from: model.parameters) }
        if let sharding, let parallel {
            // Each process updates its block, then every block goes to every process.
            optimizer.step(parameters: model.parameters, gradients: sharding.gradients.pointer - optimizer.range.lowerBound, lr: lr)
            try parallel.allGather(UnsafeMutableBufferPointer(start: model.parameters.pointer, count: model.parameters.count), shards: sharding.shards)
        } else {
            optimizer.step(parameters: model.parameters, gradients: model.gradients, lr: lr)
        }
        model.refreshLowPrecisionWeights()
        state.step += 1
        state.optimizerSteps = optimizer.stepCount
        state.tokensSeen += B * T * c.gradAccum
        let seconds = (clock.now - started).seconds
        state.trainingSeconds += seconds
        let trainLoss = lossSum / Double(c.gradAccum)
        state.lastTrainLoss = trainLoss
        if diagnose {
            TensorDiagnostics.complete(&stats, model: model, before: diagnosticsSnapshot)
            events.append(.diagnostics(step: state.step, stats))
            if isPrimary { try metricsLog().appendDiagnostics(step: state.step, stats, directory: outputDirectory) }
        }
        var record = StepRecord(step: state.step, trainLoss: trainLoss, valLoss: nil, lr: lr, gradNorm: gradNorm,
                                tokensPerSecond: Double(B * T * c.gradAccum) / max(seconds, 1e-9),
                                elapsed: state.trainingSeconds)
        if state.step % c.evalInterval == 0 || state.step == totalSteps {
            if c.followData {
                let added = try refreshData()
                if added.train + added.val > 0 { events.append(.dataAdded(step: state.step, trainTokens: added.train, valTokens: added.val)) }
            }
            if inbox != nil {
                let absorbed = try absorbInbox()
                if absorbed.documents > 0 { events.append(.dataAdded(step: state.step, trainTokens: absorbed.trainTokens, valTokens: absorbed.valTokens)) }
            }
            let val = try evaluate()
            record.valLoss = val
            if let f = followed, f.val.count > T + 1 { record.newValLoss = try evaluate(on: f.val) }
            // While following, "best" weighs the old and the new text alike.
            let score = record.newValLoss.map { ($0 + val) / 2 } ?? val
            let improved = state.bestValLoss.map { score < $0 } ?? true
            if improved {
                state.bestValLoss = score
                state.evalsWithoutImprovement = 0
                if try saveModel() { events.append(.modelSaved(step: state.step, path: outputDirectory.path)) }
            } else {
                state.evalsWithoutImprovement += 1
            }
            events.append(.evaluated(step: state.step, valLoss: val, improved: improved))
            if let p = c.patience, state.evalsWithoutImprovement >= p {
                events.append(.earlyStopped(step: state.step, patience: p))
                stoppedEarly = true
            }
        }
        if isPrimary, record.valLoss != nil || state.step % c.logInterval == 0 { try metricsLog().append(record) }
        events.insert(.step(record, totalSteps: totalSteps), at: events.firstIndex { if case .evaluated = $0 { return true }; return false } ?? events.count)
        var due = checkpointInterval?.isDue(step: state.step, secondsSinceLast: (ContinuousClock.now - lastCheckpoint).seconds) ?? false
        if sharding != nil, case .seconds = checkpointInterval, let parallel {
            // Saving gathers the moments, so every process must decide alike: a clock is not alike.
            due = try parallel.allReduce(due ? 1 : 0, maximum: true) > 0
        }
        if record.valLoss != nil || stoppedEarly || due {
            if try saveCheckpoint() { events.append(.checkpointSaved(step: state.step, path: checkpointURL.path)) }
        }
        return events
    }

    func setFollowed(inbox: DocumentInbox, train: ShardDirectorySource, val: ShardDirectorySource) {
        self.inbox = inbox
        followed = (train, val)
        followMixture = makeFollowMixture()
    }

    func beginRound(_ round: FollowRound) {
        state.round = round
        state.anneal = nil
        schedule.anneal = nil
        schedule.round = round
        totalSteps = round.end
        state.bestValLoss = nil
        state.evalsWithoutImprovement = 0
        stoppedEarly = false
        followMixture = makeFollowMixture()
    }

    /// Ends the run after `steps` more steps, with the learning rate decaying linearly from its
    /// current value to min_lr over them: the "anneal" of a warm-up → constant → anneal schedule
    /// whose end was not fixed in advance (a run that trains on data as it arrives).
    public func anneal(steps: Int) {
        precondition(steps > 0)
        let window = AnnealWindow(start: state.step, steps: steps, startLr: schedule.lr(at: state.step))
        state.anneal = window
        schedule.anneal = window
        totalSteps = window.end
    }

    /// Trains until `totalSteps`, early stopping or `shouldStop`; `onEvent` hears every event.
    @discardableResult
    public func run(onEvent: (TrainingEvent) -> Void = { _ in }) throws -> TrainingSummary {
        var interrupted = false
        while !isFinished {
            for e in try step() { onEvent(e) }
            if !isFinished, shouldStop() {
                try interrupt()
                onEvent(.interrupted(step: state.step))
                interrupted = true
                break
            }
        }
        return summary(interrupted: interrupted)
    }

    /// Saves what a stopped run needs to continue: the checkpoint, and a model if none was saved yet.
    public func interrupt() throws {
        try saveCheckpoint()
        if state.bestValLoss == nil { try saveModel() }
    }

    public func summary(interrupted: Bool) -> TrainingSummary {
        TrainingSummary(steps: state.step, finalTrainLoss: state.lastTrainLoss ?? .nan, bestValLoss: state.bestValLoss,
                        seconds: state.trainingSeconds, stoppedEarly: stoppedEarly, interrupted: interrupted)
    }

    /// Writes the current weights as the model of the directory (primary only; returns whether it wrote).
    @discardableResult
    public func saveModel() throws -> Bool {
        guard isPrimary else { return false }
        let info = ModelInfo(tokenizer: tokenizer.kind, trainingSteps: state.step, bestValLoss: state.bestValLoss,
                             created: ISO8601DateFormatter().string(from: Date()), corpus: config.corpus)
        try ModelDirectory.save(model: model, tokenizer: tokenizer, info: info, to: outputDirectory)
        return true
    }

    public var checkpointURL: URL { outputDirectory.appendingPathComponent(ModelDirectory.checkpointFile) }

    /// The gradient norm over every parameter, clipped to `maxNorm`: of the summed gradients,
    /// or, with a sharded optimizer, of the blocks the processes hold (their squares summed).
    private func clipSummedGradients(maxNorm: Double) throws -> Double {
        guard let sharding, let parallel else { return clipGradients(model.gradients, maxNorm: maxNorm) }
        let local = globalNorm(sharding.gradients)
        let norm = try parallel.allReduce(local * local).squareRoot()
        clip(sharding.gradients, norm: norm, maxNorm: maxNorm)
        return norm
    }

    /// Parameters, optimizer moments and trainer state in one atomically written file (primary
    /// only; returns whether it wrote). With a sharded optimizer every process must call it
    /// (the moments are gathered to the primary).
    @discardableResult
    public func saveCheckpoint() throws -> Bool {
        var moments = (m: optimizer.m, v: optimizer.v)
        if let sharding, let parallel {
            /// Every process's block of a moment, whole on the primary (an empty buffer elsewhere).
            func gathered(_ block: FloatBuffer) throws -> FloatBuffer {
                let whole = FloatBuffer(count: isPrimary ? model.parameterCount : 0)
                try parallel.gather(UnsafeBufferPointer(start: block.pointer, count: block.count),
                                    into: isPrimary ? UnsafeMutableBufferPointer(start: whole.pointer, count: whole.count) : nil,
                                    shards: sharding.shards, root: 0)
                return whole
            }
            // SGD has no second moment.
            moments = (try gathered(optimizer.m), optimizer.settings.kind == .sgd ? optimizer.v : try gathered(optimizer.v))
        }
        guard isPrimary else { return false }
        state.trainTokens = dataset.train.count
        state.valTokens = dataset.val.count
        state.followTrainTokens = followed?.train.count
        state.followValTokens = followed?.val.count
        let stateJSON = String(decoding: try SnakeCaseJSON.encoder().encode(state), as: UTF8.self)
        defer { lastCheckpoint = ContinuousClock.now }
        let tensors = [
            NamedTensor(name: "parameters", shape: [model.parameterCount], values: model.parameters.array),
            NamedTensor(name: "optimizer.m", shape: [moments.m.count], values: moments.m.array),
            NamedTensor(name: "optimizer.v", shape: [moments.v.count], values: moments.v.array),
        ]
        try Safetensors.write(tensors, metadata: ["trainer_state": stateJSON], to: checkpointURL)
        return true
    }

    private func metricsLog() throws -> MetricsLog {
        if let metrics { return metrics }
        let log = try MetricsLog(url: outputDirectory.appendingPathComponent("metrics.jsonl"))
        metrics = log
        return log
    }

    /// Drops metric lines past the checkpoint's step (written by a run that died after it).
    func trimMetrics() {
        let url = outputDirectory.appendingPathComponent("metrics.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = obj["step"] as? Int else { return false }
            return step <= state.step
        }
        try? AtomicFile.write(Data((kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).utf8), to: url)
    }
}
