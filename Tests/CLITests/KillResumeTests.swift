// The promise a kill must not break: SIGKILL a `cllm train` at random moments, resume it each
// time, and the run ends with the same loss curve and the same weights as one never killed, bit
// for bit; no file of the run directory is ever torn. The run checkpoints at every step
// (`--checkpoint-interval 1`), so a kill lands before, during and after checkpoint writes.
import Foundation
import XCTest
import CrystallineFormats
import CrystallineInterop

final class KillResumeTests: XCTestCase {
    /// The `cllm` binary built beside the test bundle.
    static var cllm: URL? {
        let dir = Bundle(for: KillResumeTests.self).bundleURL.deletingLastPathComponent()
        let url = dir.appendingPathComponent("cllm")
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }

    static let flags = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "32", "--batch-size", "4", "--max-steps", "40",
                        "--eval-interval", "10", "--eval-iters", "2", "--sample-tokens", "0", "--checkpoint-interval", "1", "--seed", "7",
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
        XCTAssertEqual(expected.count, 40)

        // Kill at random moments until a run gets through; resume after each kill.
        var rng = SystemRandomNumberGenerator()
        var kills = 0, attempts = 0
        var finished = false
        while !finished, attempts < 40 {
            attempts += 1
            let resuming = FileManager.default.fileExists(atPath: killed.appendingPathComponent("checkpoint.safetensors").path)
            let p = try start(["train", "-o", killed.path] + (resuming ? ["--resume"] : Self.flags))
            // Early attempts die young; later ones are given longer, so the run always ends.
            let limit = 50_000 + attempts * 60_000
            usleep(UInt32(Int.random(in: 20_000...limit, using: &rng)))
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                kills += 1
                assertNothingTorn(killed)
            } else {
                p.waitUntilExit()
                XCTAssertEqual(p.terminationStatus, 0, "attempt \(attempts) failed")
                finished = true
            }
        }
        XCTAssertTrue(finished, "the run never finished")
        XCTAssertGreaterThan(kills, 0, "no kill landed; the test showed nothing")
        XCTAssertEqual(try curve(killed), expected, "after \(kills) kills the loss curve differs")
        let a = try Safetensors.read(reference.appendingPathComponent(ModelDirectory.weightsFile)).tensors
        let b = try Safetensors.read(killed.appendingPathComponent(ModelDirectory.weightsFile)).tensors
        XCTAssertEqual(a, b, "after \(kills) kills the weights differ")
        let ca = try Safetensors.read(reference.appendingPathComponent(ModelDirectory.checkpointFile)).tensors
        let cb = try Safetensors.read(killed.appendingPathComponent(ModelDirectory.checkpointFile)).tensors
        XCTAssertEqual(ca, cb, "after \(kills) kills the optimizer state differs")
        print("kill test: \(kills) SIGKILLs over \(attempts) starts; loss curve and weights equal the uninterrupted run")
    }
}
