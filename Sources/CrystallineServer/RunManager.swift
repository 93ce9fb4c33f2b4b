// The dashboard's training runs: model directories under --runs, one of which may be training
// now (two cores have room for one). Starting, stopping, resuming and deleting go through here;
// the training itself is a `TrainingRun` on its own thread.
import Foundation
import CrystallineTraining
import CrystallineFormats

/// A run as the runs list shows it.
struct RunSummary: Codable, Sendable {
    var name: String
    /// running, paused, finished, stopped (interrupted), failed, or idle (on disk, not loaded)
    var status: String
    var step: Int
    var totalSteps: Int?
    var lastTrainLoss: Double?
    var bestValLoss: Double?
    var hasModel: Bool

    enum CodingKeys: String, CodingKey {
        case name, status, step, totalSteps = "total_steps", lastTrainLoss = "last_train_loss", bestValLoss = "best_val_loss"
        case hasModel = "has_model"
    }
}

actor RunManager {
    let directory: URL
    private var active: (name: String, run: TrainingRun, totalSteps: Int)?
    private var outcomes: [String: String] = [:]
    private var watchers: [UUID: AsyncStream<(String, TrainingRun)>.Continuation] = [:]
    /// Told when a run writes a new best model (so a cached copy is dropped).
    private var onModelSaved: (@Sendable (String) async -> Void)?

    init(directory: URL) {
        self.directory = directory
    }

    func setModelSavedHandler(_ handler: @escaping @Sendable (String) async -> Void) { onModelSaved = handler }

    /// Whether a run is training (or paused) now.
    var isTraining: Bool {
        guard let a = active else { return false }
        return a.run.currentStatus == .running || a.run.currentStatus == .paused
    }

    func runDirectory(_ name: String) throws -> URL { try Names.child(name, of: directory, what: "run") }

    func list() throws -> [RunSummary] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return names.sorted().compactMap { name in
            guard let dir = try? runDirectory(name),
                  FileManager.default.fileExists(atPath: dir.appendingPathComponent("metrics.jsonl").path) else { return nil }
            return summary(name: name, dir: dir)
        }
    }

    private func summary(name: String, dir: URL) -> RunSummary {
        let metrics = MetricsFile.read(dir.appendingPathComponent("metrics.jsonl"))
        var status = outcomes[name] ?? "idle"
        var total: Int?
        if let a = active, a.name == name {
            total = a.totalSteps
            let live = a.run.currentStatus
            if live == .running || live == .paused { status = live.rawValue }
        }
        return RunSummary(name: name, status: status, step: metrics.last?.step ?? 0, totalSteps: total,
                          lastTrainLoss: metrics.last?.trainLoss, bestValLoss: metrics.compactMap(\.valLoss).min(),
                          hasModel: FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path))
    }

    func summary(_ name: String) throws -> RunSummary {
        let dir = try runDirectory(name)
        guard FileManager.default.fileExists(atPath: dir.path) else { throw APIError(.notFound, "no run named '\(name)'", type: "not_found") }
        return summary(name: name, dir: dir)
    }

    /// The run's configuration: as started from the dashboard (run.json), else from its checkpoint.
    func configuration(_ name: String) throws -> TrainingConfig? {
        let dir = try runDirectory(name)
        if let data = try? Data(contentsOf: dir.appendingPathComponent(Self.runFile)) {
            return try? SnakeCaseJSON.decoder().decode(TrainingConfig.self, from: data)
        }
        return nil
    }

    static let runFile = "run.json"

    /// Starts a new run `name` with `settings` (any `cllm train` option, by config key).
    func start(name: String, settings: [String: Any]) async throws -> RunSummary {
        if let a = active, a.run.currentStatus == .running || a.run.currentStatus == .paused {
            throw APIError(.conflict, "run '\(a.name)' is training; stop it first (two cores have room for one run)", type: "conflict")
        }
        let dir = try runDirectory(name)
        if FileManager.default.fileExists(atPath: dir.path) {
            throw APIError(.conflict, "a run named '\(name)' exists; resume it, delete it, or choose another name", type: "conflict")
        }
        var config: TrainingConfig
        do {
            config = try TrainingConfig().applying(settings)
            config.out = dir.path
            config.sampleTokens = 0
            try config.validate()
        } catch {
            throw APIError(.badRequest, "\(error)")
        }
        let built = config
        let run: TrainingRun
        do {
            // Reading and encoding the corpus takes a second or two: off the request's executor.
            run = try await Task.detached { TrainingRun(trainer: try Trainer(config: built)) }.value
        } catch {
            try? FileManager.default.removeItem(at: dir)
            throw APIError(.badRequest, ModelRegistry.withoutPaths("\(error)", root: directory))
        }
        try AtomicFile.write(SnakeCaseJSON.encoder(pretty: true).encode(built), to: dir.appendingPathComponent(Self.runFile))
        launch(name: name, run: run)
        return summary(name: name, dir: dir)
    }

    /// Continues a stopped run from its checkpoint, optionally for more steps.
    func resume(name: String, maxSteps: Int?) async throws -> RunSummary {
        if let a = active, a.run.currentStatus == .running || a.run.currentStatus == .paused {
            throw APIError(.conflict, "run '\(a.name)' is training; stop it first", type: "conflict")
        }
        let dir = try runDirectory(name)
        let run: TrainingRun
        do {
            run = try await Task.detached { TrainingRun(trainer: try Trainer.resume(from: dir) { c in if let maxSteps { c.maxSteps = maxSteps } }) }.value
        } catch {
            throw APIError(.badRequest, ModelRegistry.withoutPaths("\(error)", root: directory))
        }
        guard !run.startsFinished else { throw APIError(.conflict, "run '\(name)' has finished; resume it with more steps (max_steps)", type: "conflict") }
        launch(name: name, run: run)
        return summary(name: name, dir: dir)
    }

    private func launch(name: String, run: TrainingRun) {
        active = (name, run, run.totalSteps)
        outcomes[name] = nil
        for w in watchers.values { w.yield((name, run)) }
        let events = run.subscribe()
        run.start()
        Task { [weak self] in
            for await event in events {
                if case .modelSaved = event { await self?.modelSaved(name) }
            }
            await self?.ended(name, run: run)
        }
    }

    private func modelSaved(_ name: String) async { await onModelSaved?(name) }

    private func ended(_ name: String, run: TrainingRun) async {
        if case .success(let s) = await run.result() { outcomes[name] = s.interrupted ? "stopped" : "finished" } else { outcomes[name] = "failed" }
    }

    /// Stops the active run named `name` (checkpoint saved, as Ctrl-C does) and waits for it.
    func stop(_ name: String) async throws -> RunSummary {
        guard let a = active, a.name == name, a.run.currentStatus == .running || a.run.currentStatus == .paused else {
            throw APIError(.conflict, "run '\(name)' is not training", type: "conflict")
        }
        a.run.stop()
        _ = await a.run.result()
        await ended(name, run: a.run)
        return try summary(name)
    }

    func pause(_ name: String, resume: Bool) throws -> RunSummary {
        guard let a = active, a.name == name, a.run.currentStatus == .running || a.run.currentStatus == .paused else {
            throw APIError(.conflict, "run '\(name)' is not training", type: "conflict")
        }
        if resume { a.run.resume() } else { a.run.pause() }
        return try summary(name)
    }

    func delete(_ name: String) throws {
        if let a = active, a.name == name, a.run.currentStatus == .running || a.run.currentStatus == .paused {
            throw APIError(.conflict, "run '\(name)' is training; stop it first", type: "conflict")
        }
        let dir = try runDirectory(name)
        guard FileManager.default.fileExists(atPath: dir.path) else { throw APIError(.notFound, "no run named '\(name)'", type: "not_found") }
        try FileManager.default.removeItem(at: dir)
        outcomes[name] = nil
        if active?.name == name { active = nil }
    }

    /// The active run (if any), then every run started from now on.
    func watch() -> AsyncStream<(String, TrainingRun)> {
        let (stream, continuation) = AsyncStream<(String, TrainingRun)>.makeStream()
        let id = UUID()
        if let a = active { continuation.yield((a.name, a.run)) }
        watchers[id] = continuation
        continuation.onTermination = { [weak self] _ in Task { await self?.unwatch(id) } }
        return stream
    }

    private func unwatch(_ id: UUID) { watchers[id] = nil }
}

/// metrics.jsonl read leniently: complete lines only (a run may be writing the last one), and
/// re-read whole each time (a resume replaces the file).
enum MetricsFile {
    static func read(_ url: URL) -> [StepRecord] {
        guard let data = try? Data(contentsOf: url) else { return [] }
        let decoder = JSONDecoder()
        var out: [StepRecord] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if let r = try? decoder.decode(StepRecord.self, from: Data(line)) { out.append(r) }
        }
        return out
    }

    /// At most `points` records after `after`, evenly spaced, always keeping evaluations and the last.
    static func downsample(_ records: [StepRecord], after: Int, points: Int?) -> [StepRecord] {
        let tail = records.filter { $0.step > after }
        guard let points, points > 0, tail.count > points else { return tail }
        let stride = Double(tail.count) / Double(points)
        var keep = Set((0..<points).map { Int(Double($0) * stride) })
        keep.insert(tail.count - 1)
        return tail.enumerated().filter { keep.contains($0.offset) || $0.element.valLoss != nil }.map(\.element)
    }

    static func csv(_ records: [StepRecord]) -> String {
        var out = "step,train_loss,val_loss,lr,grad_norm,tokens_per_s,elapsed_s\n"
        for r in records {
            out += "\(r.step),\(r.trainLoss),\(r.valLoss.map { "\($0)" } ?? ""),\(r.lr),\(r.gradNorm),\(r.tokensPerSecond),\(r.elapsed)\n"
        }
        return out
    }
}
