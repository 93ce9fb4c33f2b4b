// Training that keeps going as documents arrive (`cllm train --follow DIR`). New text in the
// inbox directory is tokenized with the run's frozen tokenizer (DocumentInbox); each batch of it
// starts a round: `round_steps` optimizer steps whose learning rate warms up and decays again,
// drawing each training window from the new text, or with probability `replay` from the data
// trained on before. Validation runs on the original validation set (val_loss) and on the held-
// out part of the new documents (new_val_loss), so forgetting shows in metrics.jsonl. The round
// and the inbox's progress are in the checkpoint: a killed run resumes mid-round exactly.
import Foundation
import CrystallineData

extension Trainer {
    /// Opens the inbox and the shards already absorbed from it (up to the checkpoint's counts).
    func attachInbox(_ directory: URL, log: (String) -> Void) throws {
        let shards = outputDirectory.appendingPathComponent("follow")
        let inbox = try DocumentInbox(directory: directory, shards: shards, tokenizer: tokenizer, valFraction: config.valFraction)
        let train = try ShardDirectorySource(directory: shards, prefix: "train", allowEmpty: true)
        let val = try ShardDirectorySource(directory: shards, prefix: "val", allowEmpty: true)
        if let n = state.followTrainTokens { train.limit(to: n) }
        if let n = state.followValTokens { val.limit(to: n) }
        setFollowed(inbox: inbox, train: train, val: val)
        log("following \(directory.path): \(inbox.documentCount) document(s) absorbed so far, \(train.count) training tokens; replay \(config.replay), rounds of \(config.roundSteps ?? config.maxSteps) steps")
    }

    /// Turns the documents that arrived since the last look into shards, and makes them readable.
    @discardableResult
    public func absorbInbox() throws -> DocumentInbox.Absorbed {
        guard let inbox, let followed else { return DocumentInbox.Absorbed() }
        let absorbed = try inbox.absorb()
        _ = try followed.train.refresh()
        _ = try followed.val.refresh()
        followMixture = makeFollowMixture()
        return absorbed
    }

    /// Where a step's windows come from while a round is on: the new text, with `replay` of the
    /// old mixed in; nil otherwise. Made when the round or the inbox changes, not in the step.
    func makeFollowMixture() -> SourceMixture? {
        guard state.round != nil, let f = followed, f.train.count > config.blockSize + 1 else { return nil }
        if config.replay <= 0 { return try? SourceMixture([(f.train, 1)]) }
        return try? SourceMixture([(dataset.train, config.replay), (f.train, 1 - config.replay)])
    }

    /// Whether the inbox holds training text that no round has covered yet.
    public var hasUntrainedDocuments: Bool {
        guard let f = followed else { return false }
        return f.train.count > config.blockSize + 1 && f.train.count > (state.round?.trainTokens ?? 0)
    }

    /// Begins the next round over what the inbox holds: `round_steps` more steps, the learning
    /// rate warmed up and decayed again, the best-model score and patience reset.
    public func startRound() -> TrainingEvent {
        let steps = config.roundSteps ?? config.maxSteps
        let round = FollowRound(index: (state.round?.index ?? 0) + 1, start: state.step, steps: steps,
                                trainTokens: followed?.train.count ?? 0)
        beginRound(round)
        return .roundStarted(step: state.step, round: round.index, endStep: round.end)
    }

    /// Trains, then keeps following the inbox: whenever the current round is over and new text
    /// has arrived, another round. With `untilIdle` it returns when a round ends with nothing
    /// new; otherwise it looks again every `pollSeconds` until `shouldStop`.
    @discardableResult
    public func runFollowing(untilIdle: Bool, pollSeconds: Double = 10, onEvent: (TrainingEvent) -> Void = { _ in }) throws -> TrainingSummary {
        guard inbox != nil else { throw TrainingError.invalidConfig("runFollowing needs a run with follow set") }
        while true {
            if !isFinished {
                for e in try step() { onEvent(e) }
                if !isFinished, shouldStop() {
                    try interrupt()
                    onEvent(.interrupted(step: state.step))
                    return summary(interrupted: true)
                }
                continue
            }
            let absorbed = try absorbInbox()
            if absorbed.documents > 0 { onEvent(.dataAdded(step: state.step, trainTokens: absorbed.trainTokens, valTokens: absorbed.valTokens)) }
            if hasUntrainedDocuments {
                onEvent(startRound())
                continue
            }
            if untilIdle { return summary(interrupted: false) }
            let deadline = Date().addingTimeInterval(pollSeconds)
            while Date() < deadline {
                if shouldStop() { return summary(interrupted: true) }
                Thread.sleep(forTimeInterval: min(0.2, pollSeconds))
            }
        }
    }
}
