import XCTest
import CrystallineData
import CrystallineInterop
import CrystallineModel
@testable import CrystallineTraining

final class DrivenTrainerTests: XCTestCase {
    /// step() by step() gives exactly what run() gives.
    func testSteppingByHandEqualsRun() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = writeCorpus(smallCorpus, in: dir)
        let whole = try Trainer(config: tinyConfig(corpus: corpus, out: dir.appendingPathComponent("a")))
        try whole.run()
        let byHand = try Trainer(config: tinyConfig(corpus: corpus, out: dir.appendingPathComponent("b")))
        var events: [TrainingEvent] = []
        while !byHand.isFinished { events += try byHand.step() }
        XCTAssertEqual(byHand.model.parameters.array, whole.model.parameters.array)
        XCTAssertEqual(events.filter { if case .step = $0 { return true }; return false }.count, 20)
        XCTAssertTrue(events.contains { if case .checkpointSaved(10, _) = $0 { return true }; return false })
        XCTAssertTrue(events.contains { if case .modelSaved = $0 { return true }; return false })
    }

    /// The hook sees the accumulated gradients before clipping, and what it does to them is what
    /// the optimizer applies (as an all-reduce would).
    func testGradientHookRunsBetweenBackwardAndClipping() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        c.gradClip = 0; c.optimizer = .sgd; c.warmupSteps = 0; c.scheduler = .none; c.lr = 0.1; c.momentum = 0
        c.weightDecay = 0
        let trainer = try Trainer(config: c)
        let before = trainer.model.parameters.array
        var seen: [Float] = []
        trainer.gradientHook = { g in
            seen = g.array
            for i in 0..<g.count { g[i] = 0 }  // a hook that zeroes the gradients: nothing may move
        }
        try trainer.step()
        XCTAssertTrue(seen.contains { $0 != 0 })
        XCTAssertEqual(trainer.model.parameters.array, before)
    }

    func testOnlyThePrimaryWritesFiles() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run")
        let trainer = try Trainer(config: tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: out), isPrimary: false)
        try trainer.run()
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        for name in ["model.safetensors", "checkpoint.safetensors", "metrics.jsonl"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), name)
        }
    }

    /// Warm-up, constant, then an anneal decided during the run: the rate falls linearly to
    /// min_lr over the requested steps, and the run ends there; a resume keeps the window.
    func testAnnealOnRequest() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        c.scheduler = .none; c.maxSteps = 1_000_000; c.warmupSteps = 2; c.lr = 1e-2; c.minLr = 1e-3; c.evalInterval = 4
        let trainer = try Trainer(config: c)
        var lrs: [Double] = []
        for _ in 0..<4 { for case .step(let r, _) in try trainer.step() { lrs.append(r.lr) } }
        trainer.anneal(steps: 4)
        XCTAssertEqual(trainer.totalSteps, 8)
        try trainer.saveCheckpoint()
        let resumed = try Trainer.resume(from: dir.appendingPathComponent("run"))
        XCTAssertEqual(resumed.totalSteps, 8)
        try resumed.run { if case .step(let r, _) = $0 { lrs.append(r.lr) } }
        XCTAssertEqual(lrs.count, 8)
        XCTAssertEqual(lrs[0], 5e-3, accuracy: 1e-12)
        XCTAssertEqual(lrs[2], 1e-2, accuracy: 1e-12)
        XCTAssertEqual(lrs[3], 1e-2, accuracy: 1e-12)
        for (i, lr) in lrs[4...].enumerated() { XCTAssertEqual(lr, 1e-2 - 9e-3 * Double(i + 1) / 4, accuracy: 1e-12) }
    }

    func testEventsRoundTripThroughJSON() throws {
        let record = StepRecord(step: 3, trainLoss: 2.5, valLoss: 2.4, lr: 1e-3, gradNorm: 1.1, tokensPerSecond: 900, elapsed: 2)
        let events: [TrainingEvent] = [
            .started(step: 0, totalSteps: 10, parameters: 1234, config: TrainingConfig()), .step(record, totalSteps: 10),
            .evaluated(step: 3, valLoss: 2.4, improved: true), .modelSaved(step: 3, path: "m"), .checkpointSaved(step: 3, path: "c"),
            .earlyStopped(step: 3, patience: 2), .paused(step: 3), .resumed(step: 3), .interrupted(step: 4),
            .finished(TrainingSummary(steps: 4, finalTrainLoss: 2, bestValLoss: nil, seconds: 1, stoppedEarly: false, interrupted: true)),
            .failed(step: 4, message: "boom"),
        ]
        for e in events {
            let data = try JSONEncoder().encode(e)
            let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            XCTAssertEqual(object["type"] as? String, e.name)
            XCTAssertEqual(object["step"] as? Int, e.stepNumber)
            XCTAssertEqual(try JSONDecoder().decode(TrainingEvent.self, from: data), e)
        }
    }
}

final class TrainingRunTests: XCTestCase {
    func testPauseSnapshotResumeAndStopFromAnotherTask() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        c.maxSteps = 100_000
        let run = TrainingRun(trainer: try Trainer(config: c))
        let events = run.subscribe()
        run.start()
        var steps = 0, sawPause = false, sawResume = false, sawInterrupt = false
        var pausedAt = 0
        var summary: TrainingSummary?
        for await event in events {
            switch event {
            case .step(let r, _):
                steps += 1
                XCTAssertFalse(sawPause && !sawResume, "no step may run while paused")
                if steps == 3 { run.pause() }
                if sawResume && r.step >= pausedAt + 3 { run.stop() }
            case .paused(let s):
                sawPause = true
                pausedAt = s
                XCTAssertEqual(run.currentStatus, .paused)
                let a = await run.snapshot(), b = await run.snapshot()
                XCTAssertEqual(Array(UnsafeBufferPointer(start: a.parameters, count: a.parameterCount)),
                               Array(UnsafeBufferPointer(start: b.parameters, count: b.parameterCount)))
                try await Task.sleep(for: .milliseconds(100))
                run.resume()
            case .resumed(let s):
                sawResume = true
                XCTAssertEqual(s, pausedAt)
            case .interrupted:
                sawInterrupt = true
            case .finished(let s):
                summary = s
            default: break
            }
        }
        XCTAssertTrue(sawPause && sawResume && sawInterrupt)
        let s = try XCTUnwrap(summary)
        XCTAssertTrue(s.interrupted)
        XCTAssertLessThan(s.steps, 100_000)
        guard case .success(let result) = await run.result() else { return XCTFail("the run failed") }
        XCTAssertEqual(result, s)
        XCTAssertEqual(run.currentStatus, .finished)
        // The checkpoint written on stop resumes at the step the run reached.
        let resumed = try Trainer.resume(from: dir.appendingPathComponent("run"))
        XCTAssertEqual(resumed.state.step, s.steps)
        // A late subscriber gets the whole history, then the end.
        var replayed: [String] = []
        for await e in run.subscribe() { replayed.append(e.name) }
        XCTAssertEqual(replayed.first, "started")
        XCTAssertEqual(replayed.last, "finished")
    }

    func testAFailedRunReportsItsError() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        c.lr = 1e30; c.gradClip = 0; c.warmupSteps = 0
        let run = TrainingRun(trainer: try Trainer(config: c))
        run.start()
        guard case .failure(let error) = await run.result() else { return XCTFail("a 1e30 learning rate should fail") }
        XCTAssertTrue("\(error)".contains("loss became"), "\(error)")
        XCTAssertEqual(run.currentStatus, .failed)
    }
}
