// The promise a kill must not break: SIGKILL a `cllm train` at random moments, resume it each
// time, and the run ends with the same loss curve and the same weights as one never killed, bit
// for bit; no file of the run directory is ever torn. The run checkpoints at every step
// (`--checkpoint-interval 1`), so a kill lands before, during and after checkpoint writes.
// Kills are placed by the run's progress (its metrics), so a slow machine cannot make them miss.
import Foundation
import XCTest
import CrystallineFormats
import CrystallineInterop

final class KillResumeTests: XCTestCase {
    /// The `cllm` binary built beside the test bundle.
    static var cllm: URL? {
        // The test bundle is an executable in .build/<configuration>/, beside the products.
        let beside = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let bundle = Bundle(for: KillResumeTests.self).bundleURL.deletingLastPathComponent()
        return [beside, bundle].map { $0.appendingPathComponent("cllm") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    static let flags = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "32", "--batch-size", "4", "--max-steps", "300",
                        "--eval-interval", "25", "--eval-iters", "2", "--sample-tokens", "0", "--checkpoint-interval", "1", "--seed", "7",
                        "--warmup-steps", "5", "-q"]

    func start(_ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = Self.cllm
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// (step, train loss, val loss, lr, grad norm) of each metrics line, as written.
    func curve(_ dir: URL) throws -> [String] {
        let text = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return ["step", "train_loss", "val_loss", "lr", "grad_norm"].map { "\(o[$0] ?? "-")" }.joined(separator: " ")
        }
    }

    /// Lines of metrics.jsonl so far (one per step), counted without parsing.
    func stepsWritten(_ dir: URL) -> Int {
        guard let data = try? Data(contentsOf: dir.appendingPathComponent("metrics.jsonl")) else { return 0 }
        return data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    /// Every file the run has written must read back whole.
    func assertNothingTorn(_ dir: URL, file: StaticString = #filePath, line: UInt = #line) {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] {
            let url = dir.appendingPathComponent(name)
            if name.hasSuffix(".safetensors") {
                XCTAssertNoThrow(try Safetensors.read(url), "\(name) is torn", file: file, line: line)
            } else if name.hasSuffix(".json") {
                XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(contentsOf: url)), "\(name) is torn", file: file, line: line)
            }
        }
        for shard in ["train.bin", "val.bin"] where fm.fileExists(atPath: dir.appendingPathComponent("data/\(shard)").path) {
            XCTAssertNoThrow(try TokenShard.read(dir.appendingPathComponent("data/\(shard)")), "\(shard) is torn", file: file, line: line)
        }
    }

    func testKilledAndResumedRunEqualsTheUninterruptedRunBitForBit() throws {
        guard Self.cllm != nil else { throw XCTSkip("the cllm binary is not built beside the tests (swift build first)") }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-kill-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let reference = root.appendingPathComponent("reference"), killed = root.appendingPathComponent("killed")

        let whole = try start(["train", "-o", reference.path] + Self.flags)
        whole.waitUntilExit()
        XCTAssertEqual(whole.terminationStatus, 0)
        let expected = try curve(reference)
        XCTAssertEqual(expected.count, 300)

        // Kill at random moments until a run gets through; resume after each kill.
        // The kills are aimed by progress, not by the clock, so that a slow or busy machine
        // moves them but does not make them miss: the first start dies while loading (after a
        // random 5–80 ms); each later one runs until the metrics show a random number of new
        // steps (5–40 past what the last run wrote) and is killed there, mid-step or mid-write.
        // The last start runs to the end.
        var rng = SystemRandomNumberGenerator()
        var kills = 0, killsAfterResume = 0, attempts = 0
        var finished = false
        while !finished, attempts < 10 {
            attempts += 1
            let resuming = FileManager.default.fileExists(atPath: killed.appendingPathComponent("checkpoint.safetensors").path)
            let before = stepsWritten(killed)
            let p = try start(["train", "-o", killed.path] + (resuming ? ["--resume"] : Self.flags))
            if attempts == 1 {
                usleep(UInt32(Int.random(in: 5_000...80_000, using: &rng)))
            } else if attempts < 10 {
                let target = min(before + Int.random(in: 5...40, using: &rng), 290)
                while p.isRunning, stepsWritten(killed) < target { usleep(300) }
            } else {
                p.waitUntilExit()
            }
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                kills += 1
                if resuming { killsAfterResume += 1 }
                assertNothingTorn(killed)
            } else {
                p.waitUntilExit()
                XCTAssertEqual(p.terminationStatus, 0, "attempt \(attempts) failed")
                finished = true
            }
        }
        XCTAssertTrue(finished, "the run never finished")
        XCTAssertGreaterThan(killsAfterResume, 0, "no kill landed in a resumed run; the test showed nothing")
        XCTAssertEqual(try curve(killed), expected, "after \(kills) kills the loss curve differs")
        let a = try Safetensors.read(reference.appendingPathComponent(ModelDirectory.weightsFile)).tensors
        let b = try Safetensors.read(killed.appendingPathComponent(ModelDirectory.weightsFile)).tensors
        XCTAssertEqual(a, b, "after \(kills) kills the weights differ")
        let ca = try Safetensors.read(reference.appendingPathComponent(ModelDirectory.checkpointFile)).tensors
        let cb = try Safetensors.read(killed.appendingPathComponent(ModelDirectory.checkpointFile)).tensors
        XCTAssertEqual(ca, cb, "after \(kills) kills the optimizer state differs")
        let steps = (try? curve(killed).count) ?? 0
        print("kill test: \(kills) SIGKILLs (\(killsAfterResume) of resumed runs) over \(attempts) starts; \(steps) steps; loss curve, weights and optimizer state equal the uninterrupted run")
    }
}
