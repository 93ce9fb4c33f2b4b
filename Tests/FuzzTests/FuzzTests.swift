// Every fuzz target over its committed seeds, every saved regression input, and a fixed number
// of seeded mutations: the short, deterministic part of the fuzzing that `swift test` runs.
// (scripts/fuzz.sh runs the long, coverage-guided part.) A crash here kills the test process,
// which fails the run; a target that throws is fine — that is a clear error.
import Foundation
import XCTest
@testable import CrystallineFuzzing

final class FuzzTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let seeds = root.appendingPathComponent("FuzzSeeds")
    static let regressions = root.appendingPathComponent("FuzzRegressions")

    override func setUp() { FuzzTargets.prepare() }
    override class func tearDown() { FuzzTargets.removeScratch() }

    func testEveryTargetHasCommittedSeedsThatItAccepts() throws {
        for target in FuzzTargets.all {
            let seeds = FuzzSeeds.read(target: target.name, from: Self.seeds)
            XCTAssertFalse(seeds.isEmpty, "no seeds in Tests/FuzzSeeds/\(target.name)")
            for (i, seed) in seeds.enumerated() {
                XCTAssertNoThrow(try target.run(seed), "\(target.name) seed \(i) is refused")
            }
        }
    }

    /// Each hostile input of Tests/FuzzRegressions (scripts/make_fuzz_regressions.py, and what
    /// fuzzing found) is refused with an error; corpus text, robots.txt and HTML are read from
    /// any bytes (as browsers and crawlers do), so those must be accepted, quickly.
    func testRegressionInputsGiveErrorsNotCrashes() throws {
        var count = 0
        for target in FuzzTargets.all {
            for input in FuzzSeeds.read(target: target.name, from: Self.regressions) {
                let accepted = target.execute(input)
                XCTAssertEqual(accepted, ["corpus-text", "robots-txt", "html"].contains(target.name), "\(target.name) regression input \(count)")
                count += 1
            }
        }
        XCTAssertGreaterThan(count, 0, "Tests/FuzzRegressions holds the inputs fuzzing found; none were read")
    }

    /// A few hundred mutations per target, the same on every run (the seed is fixed).
    func testMutatedInputsGiveErrorsNotCrashes() throws {
        let artifacts = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-fuzz-tests-\(getpid())")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        for target in FuzzTargets.all {
            let seeds = FuzzSeeds.read(target: target.name, from: Self.seeds)
            let report = FuzzRunner.run(target, seeds: seeds, seconds: 60, runs: 300, seed: 42, timeout: 30, artifacts: artifacts)
            XCTAssertEqual(report.executions, 300, "\(target.name) stopped early: \(report)")
            XCTAssertGreaterThan(report.accepted, 0, "\(target.name): not even the seeds were accepted")
        }
    }

    func testMutatorIsDeterministicAndBounded() {
        let m = Mutator(maxLength: 64, dictionary: ["\"n_layer\""])
        var a = FuzzRandom(seed: 7), b = FuzzRandom(seed: 7)
        var x: [UInt8] = Array("{\"n_layer\": 4, \"n_embd\": 128}".utf8), y = x
        for _ in 0..<500 {
            x = m.mutate(x, other: [1, 2, 3], rng: &a)
            y = m.mutate(y, other: [1, 2, 3], rng: &b)
            XCTAssertEqual(x, y)
            XCTAssertLessThanOrEqual(x.count, 64)
        }
    }

    func testNumberReplacementReachesTheSizeChecks() {
        let m = Mutator()
        var rng = FuzzRandom(seed: 3)
        var seen = Set<String>()
        for _ in 0..<200 {
            var b = Array("{\"n_layer\": 4}".utf8)
            m.replaceNumber(&b, rng: &rng)
            seen.insert(String(decoding: b, as: UTF8.self))
        }
        XCTAssertTrue(seen.contains("{\"n_layer\": -1}"))
        XCTAssertTrue(seen.contains("{\"n_layer\": 4000000000}"))
    }
}
