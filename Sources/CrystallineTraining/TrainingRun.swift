// A training run that other code can drive and watch: started, paused, resumed and stopped
// from any thread or task, observed as a stream of events, and read from (weight snapshots)
// while it goes on.
//
// The steps run on a thread of their own, never on Swift's cooperative pool: the compute pool
// spins between parallel regions, and a cooperative thread held for minutes would starve every
// other task (a server's requests). Commands reach the training thread between steps; so do
// snapshot requests, since only that thread may read the parameters the optimizer writes.
import Foundation
import CrystallineModel

public final class TrainingRun: @unchecked Sendable {
    public enum Status: String, Sendable, Codable { case notStarted = "not_started", running, paused, finished, failed }

    private let trainer: Trainer
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var status = Status.notStarted
    private var pauseRequested = false
    private var stopRequested = false
    private var snapshotWaiters: [CheckedContinuation<ModelWeights, Never>] = []
    private var finalWeights: ModelWeights?
    private var subscribers: [UUID: AsyncStream<TrainingEvent>.Continuation] = [:]
    private var history: [TrainingEvent] = []
    private var outcome: Result<TrainingSummary, Error>?
    private var outcomeWaiters: [CheckedContinuation<Result<TrainingSummary, Error>, Never>] = []

    /// Events kept for late subscribers (the first of them is always the start).
    public let historyLimit: Int
    /// The run's length, and whether it had already reached it when handed over (a finished run
    /// resumed without more steps).
    public let totalSteps: Int
    public let startsFinished: Bool

    /// Takes ownership of `trainer`: from now on only the run's thread may touch it.
    public init(trainer: Trainer, historyLimit: Int = 100_000) {
        self.trainer = trainer
        self.historyLimit = historyLimit
        totalSteps = trainer.totalSteps
        startsFinished = trainer.isFinished
    }

    public var currentStatus: Status { condition.withLock { status } }

    /// Starts the training thread (once).
    public func start() {
        condition.withLock {
            precondition(status == .notStarted, "a run starts once")
            status = .running
        }
        let thread = Thread { [self] in trainingLoop() }
        thread.name = "cllm-train"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Holds the run after the current step; `resume()` continues it.
    public func pause() { condition.withLock { pauseRequested = true; condition.broadcast() } }
    public func resume() { condition.withLock { pauseRequested = false; condition.broadcast() } }
    /// Saves a checkpoint after the current step and ends the run (what Ctrl-C does).
    public func stop() { condition.withLock { stopRequested = true; pauseRequested = false; condition.broadcast() } }

    /// A stream of the run's events: the ones already sent (up to `historyLimit`), then each new
    /// one as it happens; it ends when the run does. Any number of subscribers.
    public func subscribe() -> AsyncStream<TrainingEvent> {
        AsyncStream { continuation in
            let id = UUID()
            let ended = condition.withLock { () -> Bool in
                for e in history { continuation.yield(e) }
                if status == .finished || status == .failed { return true }
                subscribers[id] = continuation
                return false
            }
            if ended { continuation.finish(); return }
            continuation.onTermination = { [weak self] _ in
                guard let self else { return }
                self.condition.withLock { _ = self.subscribers.removeValue(forKey: id) }
            }
        }
    }

    /// An immutable copy of the current weights, taken between two steps (at once when paused
    /// or finished).
    public func snapshot() async -> ModelWeights {
        await withCheckedContinuation { continuation in
            let ready = condition.withLock { () -> ModelWeights? in
                if let finalWeights { return finalWeights }
                snapshotWaiters.append(continuation)
                condition.broadcast()
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Waits for the end of the run: its summary, or the error that ended it.
    public func result() async -> Result<TrainingSummary, Error> {
        await withCheckedContinuation { continuation in
            let done = condition.withLock { () -> Result<TrainingSummary, Error>? in
                if let outcome { return outcome }
                outcomeWaiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    // MARK: - The training thread

    private func trainingLoop() {
        publish(trainer.startEvent)
        var interrupted = false
        do {
            while !trainer.isFinished {
                if try waitBetweenSteps() { interrupted = true; break }
                for e in try trainer.step() { publish(e) }
            }
            if interrupted {
                try trainer.interrupt()
                publish(.interrupted(step: trainer.state.step))
            }
            let summary = trainer.summary(interrupted: interrupted)
            end(with: .success(summary), event: .finished(summary), status: .finished)
        } catch {
            end(with: .failure(error), event: .failed(step: trainer.state.step, message: "\(error)"), status: .failed)
        }
    }

    /// Serves snapshot requests and holds while paused; returns true when a stop was requested.
    private func waitBetweenSteps() throws -> Bool {
        var announcedPause = false
        while true {
            let (waiters, paused, stopping) = condition.withLock { () -> ([CheckedContinuation<ModelWeights, Never>], Bool, Bool) in
                while pauseRequested && !stopRequested && snapshotWaiters.isEmpty {
                    if status != .paused { break }  // announce the pause first, then wait
                    condition.wait()
                }
                let w = snapshotWaiters
                snapshotWaiters.removeAll()
                if pauseRequested && !stopRequested { status = .paused } else { status = .running }
                return (w, pauseRequested && !stopRequested, stopRequested)
            }
            if !waiters.isEmpty {
                let weights = trainer.model.snapshot()
                for w in waiters { w.resume(returning: weights) }
            }
            if stopping { return true }
            if paused {
                if !announcedPause { publish(.paused(step: trainer.state.step)); announcedPause = true }
                continue
            }
            if announcedPause { publish(.resumed(step: trainer.state.step)) }
            return false
        }
    }

    private func publish(_ event: TrainingEvent) {
        condition.withLock {
            if history.count >= historyLimit { history.removeFirst(history.count - historyLimit + 1) }
            history.append(event)
            for s in subscribers.values { s.yield(event) }
        }
    }

    private func end(with result: Result<TrainingSummary, Error>, event: TrainingEvent, status final: Status) {
        let weights = trainer.model.snapshot()
        let (subs, snaps, waiters) = condition.withLock { () -> ([AsyncStream<TrainingEvent>.Continuation], [CheckedContinuation<ModelWeights, Never>], [CheckedContinuation<Result<TrainingSummary, Error>, Never>]) in
            history.append(event)
            for s in subscribers.values { s.yield(event) }
            status = final
            finalWeights = weights
            outcome = result
            defer { subscribers.removeAll(); snapshotWaiters.removeAll(); outcomeWaiters.removeAll() }
            return (Array(subscribers.values), snapshotWaiters, outcomeWaiters)
        }
        for s in subs { s.finish() }
        for w in snaps { w.resume(returning: weights) }
        for w in waiters { w.resume(returning: result) }
    }
}
