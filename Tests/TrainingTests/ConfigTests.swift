import XCTest
import CrystallineFormats
import CrystallineModel
@testable import CrystallineTraining

final class ConfigTests: XCTestCase {
    func load(_ json: String) throws -> TrainingConfig {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-config-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(json.utf8).write(to: url)
        return try TrainingConfig.load(from: url)
    }

    func testSectionsAndFlatKeysReadTheSame() throws {
        let nested = try load(#"{"model": {"n_layer": 6, "dropout": 0.1}, "optimization": {"lr": 0.002, "min_lr": 1e-5}, "run": {"batch_size": 4}}"#)
        let flat = try load(#"{"n_layer": 6, "dropout": 0.1, "lr": 0.002, "min_lr": 1e-5, "batch_size": 4}"#)
        XCTAssertEqual(nested, flat)
        XCTAssertEqual(nested.nLayer, 6)
        XCTAssertEqual(nested.gptConfig(vocabSize: 65).architecture, nested.model, "the model section is GPTConfig's architecture")
        // What a config encodes to reads back as the same config, in sections with snake_case keys.
        let data = try JSONEncoder().encode(nested)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
        XCTAssertEqual(object["model"]?["n_layer"] as? Int, 6)
        XCTAssertEqual(object["optimization"]?["min_lr"] as? Double, 1e-5)
        XCTAssertEqual(try JSONDecoder().decode(TrainingConfig.self, from: data), nested)
        XCTAssertEqual(try SnakeCaseJSON.decoder().decode(TrainingConfig.self, from: SnakeCaseJSON.encoder().encode(nested)), nested)
    }

    func testErrorsNameTheKey() {
        XCTAssertThrowsError(try load(#"{"n_layer": 2.5}"#)) { XCTAssertTrue("\($0)".contains("'n_layer' must be an integer"), "\($0)") }
        XCTAssertThrowsError(try load(#"{"optimizer": "adagrad"}"#)) { XCTAssertTrue("\($0)".contains("'optimizer' must be one of adamw, adam, sgd"), "\($0)") }
        XCTAssertThrowsError(try load(#"{"model": {"lr": 0.1}}"#)) { XCTAssertTrue("\($0)".contains("model.lr"), "\($0)") }
        XCTAssertThrowsError(try load(#"[1, 2]"#)) { XCTAssertTrue("\($0)".contains("not a JSON object"), "\($0)") }
        var c = TrainingConfig()
        c.epochs = .nan
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("epochs"), "\($0)") }
        c = TrainingConfig(); c.lr = .infinity
        XCTAssertThrowsError(try c.validate())
        c = TrainingConfig(); c.nEmbd = 100; c.nHead = 3
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("divisible"), "\($0)") }
        c = TrainingConfig(); c.momentum = 5
        XCTAssertThrowsError(try c.validate())
    }

    /// A checkpoint written before the configuration had sections still resumes.
    func testFlatLegacyTrainerStateDecodes() throws {
        let legacy = #"{"config": {"n_layer": 2, "n_embd": 16, "n_head": 2, "block_size": 16, "lr": 0.01, "min_lr": 0.001, "max_steps": 20}, "step": 7, "optimizerSteps": 7, "dataRNG": {"s0": 1, "s1": 2, "s2": 3, "s3": 4}, "dropoutRNG": {"s0": 5, "s1": 6, "s2": 7, "s3": 8}, "evalsWithoutImprovement": 0, "tokensSeen": 448, "trainingSeconds": 0.5}"#
        let shimmed = legacy.replacingOccurrences(of: "\"dataRNG\"", with: "\"data_rng\"").replacingOccurrences(of: "\"dropoutRNG\"", with: "\"dropout_rng\"")
        let state = try SnakeCaseJSON.decoder().decode(TrainerState.self, from: Data(shimmed.utf8))
        XCTAssertEqual(state.step, 7)
        XCTAssertEqual(state.config.nLayer, 2)
        XCTAssertEqual(state.config.minLr, 0.001)
        XCTAssertEqual(state.config.nHead, 2)
    }

    func testResumeRefusesToChangeWhatTheCheckpointFixes() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("run"))
        c.maxSteps = 10
        try Trainer(config: c).run()
        XCTAssertThrowsError(try Trainer.resume(from: dir.appendingPathComponent("run")) { $0.lr = 0.5; $0.nLayer = 3 }) {
            XCTAssertTrue("\($0)".contains("lr, n_layer cannot change"), "\($0)")
        }
        let resumed = try Trainer.resume(from: dir.appendingPathComponent("run")) { $0.maxSteps = 12; $0.evalInterval = 1 }
        XCTAssertEqual(resumed.totalSteps, 12)
    }
}
