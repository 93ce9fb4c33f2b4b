import XCTest
import CrystallineCompute
import CrystallineFormats
import CrystallineModel
import CrystallineData
import CrystallineInterop
@testable import CrystallineTraining
import CrystallineLattice

final class TrainerTests: XCTestCase {
    func losses(in dir: URL) throws -> [Double] {
        try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            .map { $0["train_loss"] as! Double }
    }

    /// After one step every parameter tensor received a nonzero gradient and changed — the
    /// original system only ever updated its embeddings.
    func testOneStepUpdatesEveryTensor() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        c.maxSteps = 1
        c.dropout = 0.1
        let trainer = try Trainer(config: c)
        let before = trainer.model.parameters.array
        try trainer.run()
        let after = trainer.model.parameters.array
        for t in trainer.model.layout.tensors {
            let g = trainer.model.gradients.slice(t.offset, t.count)
            XCTAssertTrue(g.contains { $0 != 0 }, "\(t.name) got no gradient")
            XCTAssertNotEqual(Array(before[t.offset..<(t.offset + t.count)]), Array(after[t.offset..<(t.offset + t.count)]), "\(t.name) did not change")
        }
    }

    /// The configured optimizer is the one that runs: the trainer's first step equals the
    /// update of that optimizer applied to the gradient of the same batch.
    func testConfiguredOptimizerIsTheOneThatRuns() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = writeCorpus(smallCorpus, in: dir)
        for kind in OptimizerKind.allCases {
            var c = tinyConfig(corpus: corpus, out: dir.appendingPathComponent("run-\(kind)"))
            c.optimizer = kind
            c.maxSteps = 1; c.warmupSteps = 0; c.gradClip = 0; c.weightDecay = 0; c.lr = 0.05
            let trainer = try Trainer(config: c)
            XCTAssertEqual(trainer.optimizer.settings.kind, kind)
            // Gradient of the batch the trainer will draw.
            var rng = trainer.state.dataRng
            var x = [Int32](repeating: 0, count: c.batchSize * c.blockSize), y = x
            TokenDataset.sample(trainer.dataset.train, B: c.batchSize, T: c.blockSize, rng: &rng, inputs: &x, targets: &y)
            let p0 = trainer.model.parameters.array
            trainer.model.zeroGradients()
            try trainer.model.forward(tokens: x, targets: y, B: c.batchSize, T: c.blockSize, training: true)
            trainer.model.backward()
            let g = trainer.model.gradients.array
            try trainer.run()
            let p1 = trainer.model.parameters.array
            for i in stride(from: 0, to: p0.count, by: 97) {
                // First step: SGD moves by lr·g; Adam(W) by lr·g/(|g|+eps) = lr·sign(g).
                let expected: Float
                switch kind {
                case .sgd: expected = p0[i] - 0.05 * g[i]
                case .adam, .adamw: expected = p0[i] - 0.05 * g[i] / (abs(g[i]) + 1e-8)
                }
                XCTAssertEqual(p1[i], expected, accuracy: 1e-5, "\(kind) parameter \(i)")
            }
        }
    }

    /// N steps, stop, resume, N more steps gives exactly the losses of 2N steps in one go.
    func testResumeIsExact() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = writeCorpus(smallCorpus, in: dir)
        var c = tinyConfig(corpus: corpus, out: dir.appendingPathComponent("straight"))
        c.maxSteps = 16; c.dropout = 0.1; c.gradAccum = 2; c.evalInterval = 5
        try Trainer(config: c).run()
        let straight = try losses(in: dir.appendingPathComponent("straight"))

        c.out = dir.appendingPathComponent("resumed").path
        let first = try Trainer(config: c)
        var steps = 0
        first.shouldStop = { steps += 1; return steps == 8 }
        let summary = try first.run()
        XCTAssertTrue(summary.interrupted)
        XCTAssertEqual(summary.steps, 8)
        let second = try Trainer.resume(from: dir.appendingPathComponent("resumed"))
        XCTAssertEqual(second.state.step, 8)
        try second.run()
        let resumed = try losses(in: dir.appendingPathComponent("resumed"))
        XCTAssertEqual(resumed.count, 16)
        XCTAssertEqual(resumed, straight)
    }

    func testEarlyStoppingAfterPatience() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        // A learning rate this high makes validation worse after the first evaluation.
        c.lr = 3; c.minLr = 3; c.warmupSteps = 0; c.scheduler = .none; c.gradClip = 0
        c.maxSteps = 200; c.evalInterval = 2; c.patience = 2
        var stoppedAt: Int?
        let summary = try Trainer(config: c).run { if case .earlyStopped(let s, _) = $0 { stoppedAt = s } }
        XCTAssertTrue(summary.stoppedEarly)
        XCTAssertNotNil(stoppedAt)
        XCTAssertLessThan(summary.steps, 200)
    }

    func testNonFiniteLossStopsWithoutSavingBrokenWeights() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        let trainer = try Trainer(config: c)
        trainer.model.parameters[trainer.model.layout.lnfWeight] = .nan
        XCTAssertThrowsError(try trainer.run()) { error in
            guard case TrainingError.nonFiniteLoss(let step, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(step, 1)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/model.safetensors").path))
    }

    func testModelDirectoryRoundTrip() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        let trainer = try Trainer(config: c)
        try trainer.run()
        let (model, tokenizer, info) = try ModelDirectory.load(from: dir.appendingPathComponent("run"))
        XCTAssertEqual(tokenizer.vocabSize, trainer.tokenizer.vocabSize)
        XCTAssertEqual(info?.trainingSteps, 20)
        XCTAssertEqual(info?.bestValLoss, trainer.state.bestValLoss)
        // The saved model is the best one; evaluating it reproduces the best validation loss.
        let evaluator = try Trainer.resume(from: dir.appendingPathComponent("run"))
        evaluator.model.parameters.pointer.update(from: model.parameters, count: model.parameterCount)
        XCTAssertEqual(try evaluator.evaluate(), trainer.state.bestValLoss!, accuracy: 1e-5)
        // HF-style names and shapes in the safetensors file.
        let (tensors, _) = try Safetensors.read(dir.appendingPathComponent("run/model.safetensors"))
        XCTAssertEqual(tensors.first { $0.name == "h.0.attn.c_attn.weight" }?.shape, [16, 48])
    }

    func testDropoutOnlyInTraining() throws {
        let model = try GPT(config: GPTConfig(vocabSize: 9, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 8, dropout: 0.5))
        let x: [Int32] = [1, 2, 3, 4], y: [Int32] = [2, 3, 4, 5]
        let e1 = try model.forward(tokens: x, targets: y, B: 1, T: 4, training: false)
        let e2 = try model.forward(tokens: x, targets: y, B: 1, T: 4, training: false)
        let t1 = try model.forward(tokens: x, targets: y, B: 1, T: 4, training: true)
        let t2 = try model.forward(tokens: x, targets: y, B: 1, T: 4, training: true)
        XCTAssertEqual(e1, e2)
        XCTAssertNotEqual(t1, t2)
        XCTAssertNotEqual(t1, e1)
    }
}

final class CrystallineTrainingTests: XCTestCase {
    func testFixedLatticePositionsStayFixedWhileTraining() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        c.positional = .lattice
        c.maxSteps = 3
        let trainer = try Trainer(config: c)
        let before = trainer.model.tensor("wpe.weight")!
        let wteBefore = trainer.model.tensor("wte.weight")!
        try trainer.run()
        XCTAssertEqual(trainer.model.tensor("wpe.weight")!, before)
        XCTAssertNotEqual(trainer.model.tensor("wte.weight")!, wteBefore)
        // The saved model reloads with the same architecture options.
        let (loaded, _, _) = try ModelDirectory.load(from: dir.appendingPathComponent("run"))
        XCTAssertEqual(loaded.config.positional, .lattice)
    }

    func testUlamVocabOrderRenumbersConsistently() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        c.maxSteps = 1
        let plain = try Trainer(config: c)
        c.vocabOrder = .ulam
        c.out = dir.appendingPathComponent("ulam").path
        let ulam = try Trainer(config: c)
        let text = "the lazy dog saves nine"
        XCTAssertEqual(ulam.tokenizer.decode(try ulam.tokenizer.encode(text)), text)
        XCTAssertNotEqual(try ulam.tokenizer.encode(text), try plain.tokenizer.encode(text))
        // The most frequent token (space) gets the id of rank 0's place in the locality order
        // of the text ids (the specials keep theirs).
        let V = plain.tokenizer.vocabSize - 2
        XCTAssertEqual(ulam.tokenizer.endOfTextId, plain.tokenizer.endOfTextId)
        let centre = UlamSpiral.localityOrder(V).firstIndex(of: 0)!
        XCTAssertEqual(try ulam.tokenizer.encode(" "), [Int32(centre)])
        XCTAssertEqual(ulam.dataset.train.count, plain.dataset.train.count)
    }
}

final class DiagnosticsTests: XCTestCase {
    /// --diagnostics reports every tensor; with a healthy step each one has gradients and moves.
    func testDiagnosticsCoverEveryTensor() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        c.diagnostics = true
        c.maxSteps = 1
        var reported: [TensorDiagnostics] = []
        let trainer = try Trainer(config: c)
        try trainer.run { if case .diagnostics(_, let stats) = $0 { reported = stats } }
        XCTAssertEqual(reported.map(\.name), trainer.model.layout.tensors.map(\.name))
        for s in reported {
            XCTAssertGreaterThan(s.gradNorm, 0, s.name)
            XCTAssertGreaterThan(s.maxAbsGrad, 0, s.name)
            XCTAssertGreaterThan(s.nonzeroGradFraction, 0, s.name)
            XCTAssertGreaterThan(s.weightNorm, 0, s.name)
            XCTAssertGreaterThan(s.updateRatio, 0, "\(s.name) did not move")
            // Biases start at zero, so their first update is their whole value (ratio 1);
            // weight matrices move by a small fraction.
            if s.name.hasSuffix("_attn.weight") || s.name.hasSuffix("c_fc.weight") { XCTAssertLessThan(s.updateRatio, 0.1, s.name) }
        }
        let lines = try String(contentsOf: dir.appendingPathComponent("run/diagnostics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].contains("\"update_ratio\""))
        XCTAssertFalse(TensorDiagnostics.table(reported).isEmpty)
    }
}

final class RunDirectoryTests: XCTestCase {
    /// A fresh run never silently replaces a model; with `replacing` it removes the old run first.
    func testFreshRunRefusesADirectoryHoldingAModel() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        _ = try Trainer(config: c).run { _ in }
        XCTAssertThrowsError(try Trainer(config: c)) { error in
            XCTAssertTrue("\(error)".contains("already holds a model") && "\(error)".contains("--force"), "\(error)")
        }
        let replaced = try Trainer(config: c, replacing: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/model.safetensors").path),
                       "the old model is gone before the new run writes anything of its own")
        XCTAssertEqual(replaced.state.step, 0)
    }

    /// Another process holding the run directory's lock (flock(1) here) keeps train and resume out.
    func testAnotherProcessHoldingTheDirectoryKeepsTrainingOut() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else { throw XCTSkip("flock(1) is not installed") }
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        // flock(1) holds the lock while `cat` waits on a pipe; closing the pipe ends both.
        holder.arguments = [out.appendingPathComponent(".lock").path, "cat"]
        let pipe = Pipe()
        holder.standardInput = pipe
        try holder.run()
        func release() { try? pipe.fileHandleForWriting.close(); holder.waitUntilExit() }
        defer { release() }
        // Wait until flock(1) holds it.
        let deadline = Date().addingTimeInterval(10)
        var busy = false
        while !busy, Date() < deadline {
            do { _ = try DirectoryLock(out); Thread.sleep(forTimeInterval: 0.05) } catch is DirectoryLock.Busy { busy = true }
        }
        XCTAssertTrue(busy, "flock(1) never took the lock")
        let c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: out)
        XCTAssertThrowsError(try Trainer(config: c)) { XCTAssertTrue("\($0)".contains("in use by another cllm process"), "\($0)") }
        release()
        XCTAssertNoThrow(try Trainer(config: c), "the lock goes with the process that held it")
    }
}
