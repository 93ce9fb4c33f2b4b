// Training on documents as they arrive: the inbox absorbs each document once (copies and
// crashes included), rounds mix in replay and re-warm the learning rate, metrics carry the loss
// on both the old and the new validation text, and a run stopped mid-round resumes to exactly
// the weights of one never stopped.
import Foundation
import XCTest
import CrystallineData
import CrystallineFormats
import CrystallineTokenizers
@testable import CrystallineTraining

final class ContinualTrainingTests: XCTestCase {
    let newText = String(repeating: "new words arrive in the inbox; the model learns them in rounds. ", count: 30)

    func testInboxAbsorbsEachDocumentOnceAndSurvivesACrash() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inboxDir = dir.appendingPathComponent("inbox"), shards = dir.appendingPathComponent("follow")
        try FileManager.default.createDirectory(at: inboxDir, withIntermediateDirectories: true)
        let tokenizer = try CharTokenizer(corpus: Array((smallCorpus + newText).utf8))
        var inbox = try DocumentInbox(directory: inboxDir, shards: shards, tokenizer: tokenizer)
        XCTAssertEqual(try inbox.absorb(), DocumentInbox.Absorbed())
        _ = writeCorpus(newText, in: inboxDir, name: "a.txt")
        _ = writeCorpus(newText, in: inboxDir, name: "copy-of-a.txt")
        try FileManager.default.createDirectory(at: inboxDir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        _ = writeCorpus("the lazy dog sleeps. ", in: inboxDir.appendingPathComponent("sub"), name: "b.md")
        _ = writeCorpus("ignored", in: inboxDir, name: ".hidden.txt")
        _ = writeCorpus("ignored", in: inboxDir, name: "data.json")
        let first = try inbox.absorb()
        XCTAssertEqual(first.documents, 2, "a copy is the same document")
        XCTAssertEqual(first.trainTokens + first.valTokens, newText.utf8.count + "the lazy dog sleeps. ".utf8.count)
        XCTAssertEqual(try inbox.absorb().documents, 0, "nothing new")
        // A crash after the shards but before the manifest: the orphans go, the document comes again.
        _ = writeCorpus("the fox returns. ", in: inboxDir, name: "c.txt")
        try TokenShard.write([1, 2, 3], to: shards.appendingPathComponent("train_000002.bin"))
        inbox = try DocumentInbox(directory: inboxDir, shards: shards, tokenizer: tokenizer)
        XCTAssertFalse(FileManager.default.fileExists(atPath: shards.appendingPathComponent("train_000002.bin").path))
        XCTAssertEqual(inbox.documentCount, 2)
        XCTAssertEqual(try inbox.absorb().documents, 1)
        XCTAssertEqual(inbox.documentCount, 3)
        // A character the frozen tokenizer cannot encode is reported, not fatal.
        let strict = try CharTokenizer(corpus: Array("abc ".utf8), specials: [])
        let other = try DocumentInbox(directory: inboxDir, shards: dir.appendingPathComponent("strict"), tokenizer: strict)
        let skipped = try other.absorb()
        XCTAssertEqual(skipped.documents, 0)
        XCTAssertEqual(skipped.skipped.count, 3)
        XCTAssertThrowsError(try DocumentInbox(directory: dir.appendingPathComponent("missing"), shards: shards, tokenizer: tokenizer))
    }

    func followConfig(_ dir: URL, corpus: String) -> TrainingConfig {
        var c = tinyConfig(corpus: corpus, out: dir.appendingPathComponent("run"))
        c.follow = dir.appendingPathComponent("inbox").path
        c.replay = 0.25
        c.roundSteps = 12
        c.evalInterval = 4
        return c
    }

    func testRoundsReplayAndMetrics() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("inbox"), withIntermediateDirectories: true)
        let corpus = writeCorpus(smallCorpus + newText, in: dir)
        let trainer = try Trainer(config: followConfig(dir, corpus: corpus))
        var events: [TrainingEvent] = []
        // Nothing in the inbox: the first run ends, no round.
        try trainer.runFollowing(untilIdle: true) { events.append($0) }
        XCTAssertEqual(trainer.state.step, 20)
        XCTAssertNil(trainer.state.round)
        _ = writeCorpus(newText, in: dir.appendingPathComponent("inbox"), name: "doc.txt")
        try trainer.runFollowing(untilIdle: true) { events.append($0) }
        XCTAssertEqual(trainer.state.round?.index, 1)
        XCTAssertEqual(trainer.state.step, 32)
        XCTAssertTrue(events.contains(.roundStarted(step: 20, round: 1, endStep: 32)))
        XCTAssertTrue(events.contains { if case .dataAdded(_, let t, _) = $0 { return t > 0 }; return false })
        // The learning rate warmed up again from min_lr at the round's start.
        let schedule = trainer.schedule
        XCTAssertEqual(schedule.lr(at: 20), trainer.config.minLr + (trainer.config.lr - trainer.config.minLr) / 1, accuracy: 1e-12)
        XCTAssertEqual(schedule.lr(at: 31), trainer.config.minLr, accuracy: 1e-4)
        // metrics.jsonl: the evaluations of the round carry both losses.
        let lines = try String(contentsOf: dir.appendingPathComponent("run/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let roundEvals = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { ($0["step"] as? Int ?? 0) > 20 && $0["val_loss"] != nil }
        XCTAssertEqual(roundEvals.count, 3)
        XCTAssertTrue(roundEvals.allSatisfy { $0["new_val_loss"] is Double })
        // No new text: idle.
        try trainer.runFollowing(untilIdle: true)
        XCTAssertEqual(trainer.state.step, 32)
    }

    /// Stopped mid-round (checkpoint, trainer gone) and resumed: the same weights as a run never stopped.
    func testResumeMidRoundIsExact() throws {
        func run(stopAt: Int?) throws -> [Float] {
            let dir = temporaryDirectory("resume\(stopAt ?? 0)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("inbox"), withIntermediateDirectories: true)
            let corpus = writeCorpus(smallCorpus + newText, in: dir)
            _ = writeCorpus(newText, in: dir.appendingPathComponent("inbox"), name: "doc.txt")
            var trainer: Trainer? = try Trainer(config: followConfig(dir, corpus: corpus))
            if let stopAt {
                var n = 0
                trainer!.shouldStop = { n += 1; return n >= stopAt }
                try trainer!.runFollowing(untilIdle: true)
                XCTAssertNotNil(trainer!.state.round, "stopped inside the round")
                trainer = nil
                trainer = try Trainer.resume(from: dir.appendingPathComponent("run"))
            }
            try trainer!.runFollowing(untilIdle: true)
            XCTAssertEqual(trainer!.state.step, 32)
            return trainer!.model.parameters.array
        }
        let whole = try run(stopAt: nil)
        let resumed = try run(stopAt: 25)
        XCTAssertEqual(whole, resumed)
    }

    func testFollowSettingsAreChecked() throws {
        var c = TrainingConfig()
        c.replay = 1
        XCTAssertThrowsError(try c.validate())
        c = TrainingConfig(); c.roundSteps = 0
        XCTAssertThrowsError(try c.validate())
        c = TrainingConfig(); c.follow = "/tmp"; c.epochs = 1
        XCTAssertThrowsError(try c.validate())
    }
}
