import XCTest
import CrystallineCompute
import CrystallineData
import CrystallineFormats
import CrystallineTokenizers
@testable import CrystallineTraining

final class DataSourceTests: XCTestCase {
    func testShardSourceReadsAcrossShardsAndGrows() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = (0..<100).map { Int32($0) }, b = (100..<130).map { Int32($0) }, c = (130..<200).map { Int32($0) }
        try TokenShard.write(a, to: dir.appendingPathComponent("train.bin"))
        try TokenShard.write(b, to: dir.appendingPathComponent("train_000001.bin"))
        try TokenShard.write([7, 7], to: dir.appendingPathComponent("val.bin"))
        let source = try ShardDirectorySource(directory: dir, prefix: "train")
        XCTAssertEqual(source.count, 130)
        XCTAssertEqual(source.shardNames, ["train.bin", "train_000001.bin"])
        XCTAssertEqual(source.tokens(95..<105), (95..<105).map { Int32($0) })
        XCTAssertEqual(source.tokens(0..<130), a + b)
        XCTAssertEqual(try source.refresh(), 0)
        try TokenShard.write(c, to: dir.appendingPathComponent("train_000002.bin"))
        source.limit(to: 120)
        XCTAssertEqual(source.count, 120)
        XCTAssertEqual(try source.refresh(), 80)
        XCTAssertEqual(source.tokens(125..<135), (125..<135).map { Int32($0) })
        // A shard that sorts before one already read would change what positions mean.
        try TokenShard.write(c, to: dir.appendingPathComponent("train_000000.bin"))
        XCTAssertThrowsError(try source.refresh()) { XCTAssertTrue("\($0)".contains("sorts before"), "\($0)") }
        // Windows drawn from the shards equal windows drawn from the same tokens in memory.
        let memory = InMemoryTokens(a + b + c)
        var r1 = Xoshiro256(seed: 3), r2 = Xoshiro256(seed: 3)
        var x1 = [Int32](repeating: 0, count: 40), y1 = x1, x2 = x1, y2 = x1
        TokenDataset.sample(source, B: 4, T: 10, rng: &r1, inputs: &x1, targets: &y1)
        TokenDataset.sample(memory, B: 4, T: 10, rng: &r2, inputs: &x2, targets: &y2)
        XCTAssertEqual(x1, x2)
        XCTAssertEqual(y1, y2)
        XCTAssertEqual(zip(x1, y1).map { $1 - $0 }, [Int32](repeating: 1, count: 40))
    }

    func testMixtureDrawsByWeight() throws {
        let ones = InMemoryTokens([Int32](repeating: 1, count: 100)), twos = InMemoryTokens([Int32](repeating: 2, count: 100))
        let mixture = try SourceMixture([(ones, 3), (twos, 1)])
        var rng = Xoshiro256(seed: 1)
        var x = [Int32](repeating: 0, count: 4000 * 4), y = x
        TokenDataset.sample(mixture, B: 4000, T: 4, rng: &rng, inputs: &x, targets: &y)
        let fraction = Double(x.filter { $0 == 1 }.count) / Double(x.count)
        XCTAssertEqual(fraction, 0.75, accuracy: 0.03)
        XCTAssertThrowsError(try SourceMixture([(ones, 0)]))
    }

    /// More text joins a prepared directory as new shards, encoded by its own (frozen) tokenizer.
    func testAppendReusesTheFrozenTokenizer() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("prepared")
        let first = try PreparedData.prepare(corpus: writeCorpus(smallCorpus, in: dir), val: nil, kind: .bpe, vocabSize: 280,
                                             valFraction: 0.1, out: out)
        let tokenizerFile = try Data(contentsOf: out.appendingPathComponent(TokenizerFile.fileName))
        let more = "the lazy dog saves nine foxes in time. "
        let second = try PreparedData.prepare(corpus: writeCorpus(String(repeating: more, count: 20), in: dir, name: "more.txt"),
                                              val: nil, kind: .char, vocabSize: nil, valFraction: 0.1, out: out, append: true)
        XCTAssertEqual(second.files, ["train_000001.bin", "val_000001.bin"])
        XCTAssertEqual(second.tokenizer.kind, .bpe, "the directory's tokenizer wins over --tokenizer")
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent(TokenizerFile.fileName)), tokenizerFile)
        let all = try first.tokenizer.encode(String(repeating: more, count: 20))
        XCTAssertEqual(try TokenShard.read(out.appendingPathComponent("train_000001.bin")), Array(all.prefix(second.train)))
    }

    /// A run that follows a growing directory picks new shards up at its evaluations, and a stop
    /// and resume around the growth reads exactly what one uninterrupted run reads.
    func testFollowingRunPicksUpShardsAndResumesExactly() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let more = writeCorpus(String(repeating: "new words arrive while the model trains; ", count: 30), in: dir, name: "more.txt")
        func prepared(_ name: String) throws -> URL {
            let out = dir.appendingPathComponent(name)
            _ = try PreparedData.prepare(corpus: writeCorpus(smallCorpus, in: dir), val: nil, kind: .char, vocabSize: nil,
                                         valFraction: 0.1, out: out)
            return out
        }
        func config(_ data: URL, _ out: String) -> TrainingConfig {
            var c = tinyConfig(corpus: data.path, out: dir.appendingPathComponent(out))
            c.followData = true; c.evalInterval = 5; c.maxSteps = 20
            return c
        }
        // One run; the directory grows after step 10.
        let dataA = try prepared("a")
        let one = try Trainer(config: config(dataA, "runA"))
        var added: [Int] = []
        while !one.isFinished {
            for case .dataAdded(let s, _, _) in try one.step() { added.append(s) }
            if one.state.step == 10 { _ = try PreparedData.prepare(corpus: more, val: nil, kind: .char, vocabSize: nil, valFraction: 0.1, out: dataA, append: true) }
        }
        XCTAssertEqual(added, [15])
        // Stop at step 10, the directory grows, resume.
        let dataB = try prepared("b")
        let first = try Trainer(config: config(dataB, "runB"))
        first.shouldStop = { [unowned first] in first.state.step == 10 }
        XCTAssertTrue(try first.run().interrupted)
        _ = try PreparedData.prepare(corpus: more, val: nil, kind: .char, vocabSize: nil, valFraction: 0.1, out: dataB, append: true)
        let resumed = try Trainer.resume(from: dir.appendingPathComponent("runB"))
        try resumed.run()
        XCTAssertTrue(resumed.model.parameters.array == one.model.parameters.array, "the resumed run differs from the uninterrupted one")
        XCTAssertGreaterThan(resumed.dataset.train.count, try TokenShard.read(dataB.appendingPathComponent("train.bin")).count)
    }
}
