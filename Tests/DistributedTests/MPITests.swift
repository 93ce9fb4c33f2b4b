// Data-parallel training as a user runs it: `mpirun -np 2 cllm train` against one process with
// the same global batch, and a rank killed in the middle of a run. Runs where `mpirun` (Open
// MPI) is installed; skipped with a message elsewhere (.ci/run installs openmpi-bin).
import Foundation
import XCTest
import CrystallineFormats

final class MPITests: XCTestCase {
    /// The `cllm` binary built beside the test bundle.
    static var cllm: URL? {
        let beside = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let bundle = Bundle(for: MPITests.self).bundleURL.deletingLastPathComponent()
        return [beside, bundle].map { $0.appendingPathComponent("cllm") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    static var mpirun: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Two ranks on this machine, one thread each, over shared memory (or TCP on loopback).
    static func mpirunArguments(transport: String = "vader") -> [String] {
        var a = ["--allow-run-as-root", "-np", "2", "--oversubscribe"]
        if transport == "tcp" {
            a += ["--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"]
        } else {
            a += ["--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none"]
        }
        return a
    }

    static let model = ["--n-layer", "2", "--n-head", "2", "--n-embd", "64", "--block-size", "32", "--batch-size", "8",
                        "--warmup-steps", "5", "--eval-iters", "4", "--sample-tokens", "0", "--seed", "11", "--threads", "1",
                        // fp32 products: the checks compare summation orders, which bf16 rounding would amplify.
                        "--precision", "fp32"]

    override func setUpWithError() throws {
        guard Self.mpirun != nil else { throw XCTSkip("mpirun not found: install Open MPI (Debian: openmpi-bin libopenmpi-dev) to run the MPI tests") }
        guard Self.cllm != nil else { throw XCTSkip("the cllm binary is not built beside the tests") }
    }

    struct Finished { let status: Int32; let output: String }

    /// Runs a command to its end (at most `timeout` seconds), output and errors together.
    func run(_ executable: URL, _ arguments: [String], timeout: Double = 300) throws -> Finished {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        p.environment = env
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-mpi-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate(); p.waitUntilExit(); XCTFail("\(arguments.joined(separator: " ")) did not finish in \(timeout) s") }
        p.waitUntilExit()
        try handle.close()
        return Finished(status: p.terminationStatus, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    func mpiTrain(_ arguments: [String], transport: String = "vader") throws -> Finished {
        try run(Self.mpirun!, Self.mpirunArguments(transport: transport) + [Self.cllm!.path, "train"] + arguments)
    }

    func parameters(_ dir: URL) throws -> [Float] {
        try Safetensors.read(dir.appendingPathComponent("model.safetensors")).tensors.flatMap(\.values)
    }

    /// (train loss, val loss) per metrics line.
    func curve(_ dir: URL) throws -> [[Double]] {
        let text = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return [o["train_loss"] as? Double ?? .nan, o["val_loss"] as? Double ?? -1]
        }
    }

    func testTwoRanksTrainAsOneProcessWithTwoMicroBatches() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let steps = ["--max-steps", "30", "--eval-interval", "10"]
        let ranks = try mpiTrain(Self.model + steps + ["--out", dir.appendingPathComponent("ranks").path])
        XCTAssertEqual(ranks.status, 0, ranks.output)
        XCTAssertTrue(ranks.output.hasPrefix("distributed: 2 processes × 1 thread"), "the first line says how the run is spread:\n\(ranks.output)")
        XCTAssertTrue(ranks.output.contains("global batch 2 × 8 × 32 = 512 tokens per step"), ranks.output)
        XCTAssertTrue(ranks.output.contains("parameters identical on all 2 processes"), ranks.output)
        let alone = try run(Self.cllm!, ["train"] + Self.model + steps + ["--grad-accum", "2", "--out", dir.appendingPathComponent("alone").path])
        XCTAssertEqual(alone.status, 0, alone.output)

        let p = try parameters(dir.appendingPathComponent("ranks")), q = try parameters(dir.appendingPathComponent("alone"))
        XCTAssertEqual(p.count, q.count)
        XCTAssertLessThan(relativeDifference(p, q), 1e-5)
        let a = try curve(dir.appendingPathComponent("ranks")), b = try curve(dir.appendingPathComponent("alone"))
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x[0], y[0], accuracy: 1e-5 * abs(y[0]))
            XCTAssertEqual(x[1], y[1], accuracy: 1e-5 * abs(y[1]))
        }
        // ZeRO-1 takes the same steps.
        let sharded = try mpiTrain(Self.model + steps + ["--shard-optimizer", "--out", dir.appendingPathComponent("sharded").path])
        XCTAssertEqual(sharded.status, 0, sharded.output)
        XCTAssertTrue(sharded.output.contains("optimizer moments sharded (ZeRO-1: 1/2 each)"), sharded.output)
        XCTAssertLessThan(relativeDifference(try parameters(dir.appendingPathComponent("sharded")), q), 1e-5)
        // Rank 1 wrote nothing of its own: the run directory holds one run's files.
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("ranks/metrics.jsonl"), encoding: .utf8).split(separator: "\n").count, 30)
    }

    func testOverTCPWithBF16GradientsOnTheWire() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("bf16")
        let ranks = try mpiTrain(Self.model + ["--max-steps", "20", "--eval-interval", "10", "--gradient-wire", "bf16", "--bucket-mb", "1",
                                               "--out", out.path], transport: "tcp")
        XCTAssertEqual(ranks.status, 0, ranks.output)
        XCTAssertTrue(ranks.output.contains("bf16 on the wire"), ranks.output)
        XCTAssertTrue(ranks.output.contains("parameters identical on all 2 processes"), ranks.output)
        let losses = try curve(out)
        XCTAssertLessThan(losses.last![0], losses.first![0] - 0.3, "bf16 gradients must still train")
    }

    /// PIDs of the `cllm` processes whose environment says MPI rank `rank` and whose arguments name `dir`.
    func pids(rank: Int, dir: URL) -> [Int32] {
        let fm = FileManager.default
        return ((try? fm.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
            guard let cmdline = fm.contents(atPath: "/proc/\(pid)/cmdline"), let environ = fm.contents(atPath: "/proc/\(pid)/environ") else { return false }
            let args = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            let env = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return args.first?.hasSuffix("/cllm") == true && args.contains(dir.path) && env.contains("OMPI_COMM_WORLD_RANK=\(rank)")
        }
    }

    func testKillingOneRankStopsTheRunAndLeavesAResumableCheckpoint() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run")
        let p = Process()
        p.executableURL = Self.mpirun!
        p.arguments = Self.mpirunArguments() + [Self.cllm!.path, "train"] + Self.model
            + ["--max-steps", "100000", "--eval-interval", "50", "--checkpoint-interval", "5", "-q", "--out", out.path]
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        p.environment = env
        let errors = Pipe()
        p.standardError = errors
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Until a few checkpoints exist (placed by progress, not by the clock).
        let checkpoint = out.appendingPathComponent("checkpoint.safetensors")
        var deadline = Date().addingTimeInterval(120)
        while Date() < deadline, (try? String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8))?
                .split(separator: "\n").count ?? 0 < 23 { usleep(20_000) }
        let victims = pids(rank: 1, dir: out)
        XCTAssertEqual(victims.count, 1, "rank 1's process")
        for pid in victims { kill(pid, SIGKILL) }
        deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(p.isRunning, "the run must stop when a rank dies")
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertTrue(said.contains("stopped by the MPI launcher") || said.contains("exited on signal 9"), "a clear error:\n\(said)")
        XCTAssertTrue(pids(rank: 0, dir: out).isEmpty, "no rank is left behind")

        // The last checkpoint reads back whole, and the run goes on from it: alone, then on two ranks again.
        let (_, metadata) = try Safetensors.read(checkpoint)
        let state = try XCTUnwrap(metadata["trainer_state"])
        let saved = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any])?["step"] as? Int)
        XCTAssertGreaterThanOrEqual(saved, 20)
        XCTAssertEqual(saved % 5, 0)
        let alone = try run(Self.cllm!, ["train", "--resume", "--max-steps", "\(saved + 5)", "--threads", "1", "-q", "--out", out.path])
        XCTAssertEqual(alone.status, 0, alone.output)
        let ranks = try mpiTrain(["--resume", "--max-steps", "\(saved + 10)", "--threads", "1", "--out", out.path])
        XCTAssertEqual(ranks.status, 0, ranks.output)
        XCTAssertTrue(ranks.output.contains("resumed \(out.path) at step \(saved + 5)"), ranks.output)
        XCTAssertTrue(ranks.output.contains("parameters identical on all 2 processes"), ranks.output)
    }
}
