// Data-parallel training without MPI: trainers on threads joined by an in-process group must
// take the steps one trainer takes with the same global batch, and stay bitwise equal to each
// other. The MPI transport is checked against the same promise in MPITests.
import Foundation
import XCTest
import CrystallineDistributed
import CrystallineFormats
import CrystallineModel
import CrystallineTraining

/// A temporary directory for one test.
func temporaryDirectory(_ name: String = #function) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-dp-\(name.filter(\.isLetter))-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

let corpusText = String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 60)
    + String(repeating: "a stitch in time saves nine; all that glitters is not gold. ", count: 40)

func tinyConfig(_ dir: URL, out: String, gradAccum: Int, dropout: Float = 0) -> TrainingConfig {
    let corpus = dir.appendingPathComponent("corpus.txt")
    if !FileManager.default.fileExists(atPath: corpus.path) { try! Data(corpusText.utf8).write(to: corpus) }
    var c = TrainingConfig()
    c.corpus = corpus.path
    c.out = dir.appendingPathComponent(out).path
    c.nLayer = 2; c.nHead = 2; c.nEmbd = 16; c.blockSize = 16
    c.batchSize = 4; c.maxSteps = 12; c.warmupSteps = 2
    c.evalInterval = 6; c.evalIters = 3
    c.sampleTokens = 0
    c.gradAccum = gradAccum
    c.dropout = dropout
    // fp32 products: the comparison is of summation orders, which bf16 would amplify (a weight
    // that lands on the other side of a bfloat16 rounding boundary moves by 2⁻⁸ of itself).
    c.precision = .fp32
    return c
}

/// ‖a − b‖ / ‖b‖ over all elements.
func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) { num += Double(x - y) * Double(x - y); den += Double(y) * Double(y) }
    return (num / max(den, 1e-300)).squareRoot()
}

final class DataParallelTests: XCTestCase {
    /// Runs `config` on `size` trainers on threads, joined by an in-process group; returns each
    /// rank's trainer, its loss curve (train, val per step) and whether the members agreed on
    /// the parameters at the end (a collective: every member asks at once).
    func trainInGroup(_ config: TrainingConfig, size: Int, reduction: GradientReduction) throws -> [(Trainer, [[Double?]], Bool)] {
        let hub = InProcessHub(size: size)
        let trainers = try (0..<size).map { rank in
            let t = try Trainer(config: config, isPrimary: rank == 0)
            try t.joinDataParallel(hub.member(rank), reduction: reduction)
            return t
        }
        nonisolated(unsafe) var curves = Array(repeating: [[Double?]](), count: size)
        nonisolated(unsafe) var failures: [Error] = []
        nonisolated(unsafe) var agreed = Array(repeating: false, count: size)
        let lock = NSLock()
        let done = DispatchGroup()
        for rank in 0..<size {
            done.enter()
            let trainer = trainers[rank]
            nonisolated(unsafe) let unsafeTrainer = trainer
            Thread {
                defer { done.leave() }
                do {
                    try unsafeTrainer.run { event in
                        if case .step(let r, _) = event { lock.withLock { curves[rank].append([r.trainLoss, r.valLoss]) } }
                    }
                    let agree = try unsafeTrainer.parametersAgree()
                    lock.withLock { agreed[rank] = agree }
                } catch { lock.withLock { failures.append(error) } }
            }.start()
        }
        done.wait()
        if let first = failures.first { throw first }
        return (0..<size).map { (trainers[$0], curves[$0], agreed[$0]) }
    }

    func curve(_ trainer: Trainer) throws -> [[Double?]] {
        var curve: [[Double?]] = []
        try trainer.run { event in if case .step(let r, _) = event { curve.append([r.trainLoss, r.valLoss]) } }
        return curve
    }

    func assertMatchesOneProcess(size: Int, gradAccum: Int, dropout: Float = 0, reduction: GradientReduction,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let alone = try Trainer(config: tinyConfig(dir, out: "alone", gradAccum: gradAccum, dropout: dropout))
        let expected = try curve(alone)
        let ranks = try trainInGroup(tinyConfig(dir, out: "group", gradAccum: gradAccum, dropout: dropout), size: size, reduction: reduction)
        let reference = ranks[0].0.model.parameters.array
        for (trainer, losses, agreed) in ranks {
            XCTAssertEqual(trainer.model.parameters.array, reference, "rank \(trainer.parallel!.rank) differs from rank 0", file: file, line: line)
            XCTAssertTrue(agreed, "the parameter checksums agree", file: file, line: line)
            XCTAssertEqual(losses.count, expected.count, file: file, line: line)
            for (got, want) in zip(losses, expected) {
                XCTAssertEqual(got[0]!, want[0]!, accuracy: 1e-5 * abs(want[0]!), "train loss", file: file, line: line)
                XCTAssertEqual(got[1] == nil, want[1] == nil, file: file, line: line)
                if let g = got[1], let w = want[1] { XCTAssertEqual(g, w, accuracy: 1e-5 * abs(w), "validation loss", file: file, line: line) }
            }
        }
        let difference = relativeDifference(reference, alone.model.parameters.array)
        XCTAssertLessThan(difference, 1e-5, "parameters of \(size) processes vs one with grad_accum \(gradAccum)", file: file, line: line)
        XCTAssertGreaterThan(relativeDifference(reference, try GPT(config: alone.model.config, seed: alone.config.seed).parameters.array), 1e-3,
                             "the run must have moved the parameters", file: file, line: line)
        // Only rank 0 wrote the run's files; its checkpoint is the lone process's, moments included.
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("group/model.safetensors").path), file: file, line: line)
        let saved = try Safetensors.read(dir.appendingPathComponent("group/checkpoint.safetensors")).tensors
        let expectedTensors = try Safetensors.read(dir.appendingPathComponent("alone/checkpoint.safetensors")).tensors
        XCTAssertEqual(saved.map(\.name), expectedTensors.map(\.name), file: file, line: line)
        for (a, b) in zip(saved, expectedTensors) {
            XCTAssertEqual(a.values.count, b.values.count, a.name, file: file, line: line)
            XCTAssertLessThan(relativeDifference(a.values, b.values), 1e-4, a.name, file: file, line: line)
        }
    }

    func testTwoProcessesTakeTheStepsOfOneWithTwoMicroBatches() throws {
        try assertMatchesOneProcess(size: 2, gradAccum: 2, reduction: GradientReduction(overlap: false))
    }

    func testOverlappedBucketsGiveTheSameSteps() throws {
        // Buckets smaller than a layer: several sums start during each backward pass.
        try assertMatchesOneProcess(size: 2, gradAccum: 2, reduction: GradientReduction(overlap: true, bucketBytes: 4096))
    }

    func testAccumulationWithinEachProcess() throws {
        // Two processes, two micro-batches each: the sum happens once, after the last.
        try assertMatchesOneProcess(size: 2, gradAccum: 4, reduction: GradientReduction(overlap: true, bucketBytes: 1 << 20))
        try assertMatchesOneProcess(size: 3, gradAccum: 3, reduction: GradientReduction(overlap: false))
    }

    func testDropoutMasksFollowTheMicroBatch() throws {
        try assertMatchesOneProcess(size: 2, gradAccum: 2, dropout: 0.1, reduction: GradientReduction(overlap: true, bucketBytes: 8192))
    }

    func testShardedOptimizerTakesTheSameSteps() throws {
        // ZeRO-1: each member keeps 1/size of the moments; the checkpoint still holds them all.
        try assertMatchesOneProcess(size: 2, gradAccum: 2, reduction: GradientReduction(shardOptimizer: true))
        try assertMatchesOneProcess(size: 3, gradAccum: 6, dropout: 0.1, reduction: GradientReduction(shardOptimizer: true))
    }

    func testShardsCoverTheBufferOnce() {
        for (total, parts) in [(10, 3), (9, 3), (2, 3), (1_000_003, 4)] {
            let s = Shards(total: total, parts: parts)
            XCTAssertEqual(s.counts.reduce(0, +), total)
            for r in 1..<parts { XCTAssertEqual(s.range(r - 1).upperBound, s.range(r).lowerBound) }
            XCTAssertEqual(s.range(parts - 1).upperBound, total)
        }
    }

    func testSharesMustDivideTheGlobalBatch() throws {
        XCTAssertThrowsError(try MicroBatchShare(rank: 0, size: 2, microBatches: 3)) { error in
            XCTAssertTrue("\(error)".contains("not a multiple of the 2 processes"), "\(error)")
        }
        let share = try MicroBatchShare(rank: 1, size: 2, microBatches: 4)
        XCTAssertEqual((0..<4).map(share.owns), [false, false, true, true])
        XCTAssertEqual((0..<4).map(share.isLastOwned), [false, false, false, true])
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try Trainer(config: tinyConfig(dir, out: "run", gradAccum: 1))
        XCTAssertThrowsError(try trainer.joinDataParallel(InProcessHub(size: 2).member(0)))
    }

    func testInProcessReductionsAreIdenticalOnEveryMember() throws {
        let size = 3, n = 1001
        let hub = InProcessHub(size: size)
        nonisolated(unsafe) var results = Array(repeating: [Float](), count: size)
        nonisolated(unsafe) var maxima = Array(repeating: [Double](), count: size)
        let lock = NSLock()
        // One thread per member: a pool narrower than the group (concurrentPerform on two
        // cores) would leave a member waiting at the barrier for one that never starts.
        let done = DispatchGroup()
        for rank in 0..<size { done.enter(); Thread {
            defer { done.leave() }
            let group = hub.member(rank)
            var values = (0..<n).map { Float($0 % 17) * 0.1 + Float(rank) }
            values.withUnsafeMutableBufferPointer { try! group.allReduceSum($0) }
            var m = [Double(rank), -Double(rank)]
            try! group.allReduce(&m, maximum: true)
            lock.withLock {
                results[rank] = values
                maxima[rank] = m
            }
        }.start() }
        done.wait()
        for rank in 0..<size {
            XCTAssertEqual(results[rank], results[0])
            XCTAssertEqual(maxima[rank], [2, 0])
        }
        XCTAssertEqual(results[0][5], 3 * 0.5 + 3, accuracy: 1e-5)
    }

    func testLauncherEnvironmentIsRecognised() {
        XCTAssertNil(MPIEnvironment.detect([:]))
        let openMPI = MPIEnvironment.detect(["OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"])
        XCTAssertEqual(openMPI, MPIEnvironment(rank: 1, size: 4, localSize: 2, launcher: "Open MPI"))
        XCTAssertEqual(openMPI?.threadsPerProcess(cores: 2), 1)
        XCTAssertEqual(openMPI?.threadsPerProcess(cores: 16), 8)
        XCTAssertEqual(MPIEnvironment.detect(["PMI_RANK": "0", "PMI_SIZE": "2"])?.launcher, "MPICH (Hydra)")
        XCTAssertNil(MPIEnvironment.detect(["OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_SIZE": "2"]), "a rank outside the job is not a launch")
    }
}
