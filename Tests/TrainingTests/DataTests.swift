import XCTest
import CrystallineCompute
import CrystallineFormats
import CrystallineTokenizers
import CrystallineData
import CrystallineInterop
@testable import CrystallineTraining

final class DataTests: XCTestCase {
    /// `cllm prepare --val-fraction 1.5` crashed; the one corpus-to-tokens path now refuses it.
    func testValidationFractionAndVocabularySizeAreChecked() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = writeCorpus(smallCorpus, in: dir)
        for fraction in [1.5, 0, -0.1, .nan] {
            XCTAssertThrowsError(try PreparedData.prepare(corpus: corpus, val: nil, kind: .char, vocabSize: nil, valFraction: fraction,
                                                          out: dir.appendingPathComponent("p"))) {
                XCTAssertTrue("\($0)".contains("validation fraction"), "\($0)")
            }
        }
        XCTAssertThrowsError(try EncodedCorpus.build(corpus: corpus, val: nil, kind: .bpe, vocabSize: 0, valFraction: 0.1)) {
            XCTAssertTrue("\($0)".contains("vocabulary size"), "\($0)")
        }
        // A FIFO (or /dev/stdin) is read as a stream, not refused as "permission".
        let fifo = dir.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let writer = Thread {
            let handle = FileHandle(forWritingAtPath: fifo)  // blocks until the reader opens the FIFO
            handle?.write(Data("through a pipe".utf8))
            try? handle?.close()
        }
        writer.start()
        XCTAssertEqual(try Corpus.load(fifo).bytes, Array("through a pipe".utf8))
    }

    func testCorpusErrorsAreClear() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try Corpus.load(dir.appendingPathComponent("missing.txt").path)) {
            XCTAssertTrue("\($0)".contains("does not exist"))
        }
        let empty = writeCorpus("", in: dir, name: "empty.txt")
        XCTAssertThrowsError(try Corpus.load(empty)) { XCTAssertTrue("\($0)".contains("is empty")) }
        var c = tinyConfig(corpus: writeCorpus("short text", in: dir, name: "short.txt"), out: dir.appendingPathComponent("run"))
        XCTAssertThrowsError(try Trainer(config: c)) { XCTAssertTrue("\($0)".contains("fewer than one block"), "\($0)") }
        let bad = dir.appendingPathComponent("bad.txt")
        try Data([0x61, 0x62, 0xFF, 0x63] + Array(smallCorpus.utf8)).write(to: bad)
        c.corpus = bad.path
        XCTAssertThrowsError(try Trainer(config: c)) { XCTAssertTrue("\($0)".contains("not valid UTF-8"), "\($0)") }
        c.tokenizer = .bpe
        c.vocabSize = 260
        XCTAssertNoThrow(try Trainer(config: c), "BPE takes arbitrary bytes")
    }

    func testDirectoryCorpusSkipsBinaries() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sub = dir.appendingPathComponent("nested/deeper")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        _ = writeCorpus("alpha", in: dir, name: "a.txt")
        _ = writeCorpus("beta", in: sub, name: "b.md")
        try Data([0x00, 0x01, 0x02]).write(to: dir.appendingPathComponent("blob.bin"))
        let corpus = try Corpus.load(dir.path)
        XCTAssertEqual(String(decoding: corpus.bytes, as: UTF8.self), "alpha\nbeta")
        XCTAssertEqual(corpus.skipped.count, 1)
        XCTAssertTrue(corpus.skipped[0].path.hasSuffix("blob.bin"))
    }

    func testSplitAndSamplingAreSeededAndShifted() throws {
        let tokens = (0..<1000).map { Int32($0 % 50) }
        let ds = try TokenDataset(tokens: tokens, valFraction: 0.1, blockSize: 8)
        XCTAssertEqual(ds.train.count, 900)
        XCTAssertEqual(ds.val.count, 100)
        var r1 = Xoshiro256(seed: 3), r2 = Xoshiro256(seed: 3)
        var x1 = [Int32](repeating: 0, count: 32), y1 = x1, x2 = x1, y2 = x1
        TokenDataset.sample(ds.train, B: 4, T: 8, rng: &r1, inputs: &x1, targets: &y1)
        TokenDataset.sample(ds.train, B: 4, T: 8, rng: &r2, inputs: &x2, targets: &y2)
        XCTAssertEqual(x1, x2)
        for i in 0..<32 { XCTAssertEqual(y1[i], (x1[i] + 1) % 50) }
    }

    func testConfigFileIsOverriddenByFlagsAndRejectsUnknownKeys() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("c.json")
        try Data(#"{"n_layer": 6, "lr": 0.002, "optimizer": "sgd", "scheduler": "step"}"#.utf8).write(to: url)
        let c = try TrainingConfig.load(from: url)
        XCTAssertEqual(c.nLayer, 6); XCTAssertEqual(c.lr, 0.002); XCTAssertEqual(c.optimizer, .sgd); XCTAssertEqual(c.scheduler, .step)
        XCTAssertEqual(c.nHead, TrainingConfig().nHead, "absent keys keep defaults")
        try Data(#"{"n_layers": 6}"#.utf8).write(to: url)
        XCTAssertThrowsError(try TrainingConfig.load(from: url)) { XCTAssertTrue("\($0)".contains("n_layers")) }
    }
}
