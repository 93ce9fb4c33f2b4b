import XCTest
import ArgumentParser
@testable import CrystallineBenchmarks
import CrystallineInterop
import CrystallineTraining
@testable import cllm

/// Runs `body` with standard input read from `input` and standard output captured.
func capturingOutput(stdin input: String? = nil, _ body: () throws -> Void) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outPath = dir.appendingPathComponent("out").path, inPath = dir.appendingPathComponent("in").path
    FileManager.default.createFile(atPath: outPath, contents: nil)
    fflush(stdout)
    let savedOut = dup(STDOUT_FILENO), savedIn = dup(STDIN_FILENO)
    let outFD = open(outPath, O_WRONLY | O_TRUNC)
    dup2(outFD, STDOUT_FILENO); close(outFD)
    if let input {
        FileManager.default.createFile(atPath: inPath, contents: Data(input.utf8))
        let inFD = open(inPath, O_RDONLY)
        dup2(inFD, STDIN_FILENO); close(inFD)
    }
    defer {
        fflush(stdout)
        dup2(savedOut, STDOUT_FILENO); close(savedOut)
        dup2(savedIn, STDIN_FILENO); close(savedIn)
    }
    try body()
    fflush(stdout)
    return try String(contentsOfFile: outPath, encoding: .utf8)
}

final class CommandTests: XCTestCase {
    static var model: URL!
    var model: URL { Self.model }

    override class func tearDown() {
        if let model { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
    }

    override class func setUp() {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-cli-model-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let corpus = dir.appendingPathComponent("corpus.txt")
        try! Data(String(repeating: "To be, or not to be: that is the question.\n", count: 80).utf8).write(to: corpus)
        var c = TrainingConfig()
        c.corpus = corpus.path; c.out = dir.appendingPathComponent("model").path
        c.nLayer = 1; c.nHead = 2; c.nEmbd = 16; c.blockSize = 32; c.batchSize = 4
        c.maxSteps = 10; c.warmupSteps = 2; c.evalInterval = 5; c.evalIters = 1; c.sampleTokens = 0
        _ = try! Trainer(config: c).run { _ in }
        model = URL(fileURLWithPath: c.out)
    }

    /// `train --help` shows the default of every setting (they once lived only in checkpoints).
    func testTrainHelpShowsEveryDefault() {
        let help = Train.helpMessage(columns: 10_000)
        // One entry per option: its line and the lines of help below it (long names wrap).
        var entries: [String] = []
        for line in help.split(separator: "\n") {
            if line.hasPrefix("  -") { entries.append(String(line)) } else if !entries.isEmpty { entries[entries.count - 1] += String(line) }
        }
        for name in TrainingFlags.settingNames where name != "corpus" {
            let flag = "--" + name.reduce("") { $0 + ($1.isUppercase ? "-" + $1.lowercased() : String($1)) }
            let entry = entries.first { $0.contains(flag + " ") || $0.hasSuffix(flag) || $0.contains(flag + ",") }
            XCTAssertNotNil(entry, "no help entry for \(flag)")
            XCTAssertTrue(entry?.contains("(default: ") ?? false, "\(flag) shows no default: \(entry ?? "")")
        }
        XCTAssertTrue(help.contains("--n-layer <n-layer>") && help.contains("(default: 4)"))
    }

    func testStandardInputAndJSON() throws {
        let ids = try capturingOutput(stdin: "To be") { try Tokenize.parse(["-m", model.path, "-"]).run() }
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(ids.utf8)) as? [Int])?.count, 5)

        let eval = try capturingOutput(stdin: "To be, or not to be: that is the question.\n") {
            try Eval.parse(["--model", model.path, "-", "--json", "--quiet"]).run()
        }
        let scored = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(eval.utf8)) as? [String: Any])
        XCTAssertEqual(scored["tokens"] as? Int, 42, "43 characters: 42 predictions")
        XCTAssertGreaterThan(scored["perplexity"] as? Double ?? 0, 1)

        let generated = try capturingOutput(stdin: "To be") {
            try Generate.parse(["-m", model.path, "-p", "-", "-n", "7", "--json", "-t", "0"]).run()
        }
        let g = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(generated.utf8)) as? [String: Any])
        XCTAssertEqual(g["prompt"] as? String, "To be")
        XCTAssertEqual(g["completion_tokens"] as? Int, 7)
        XCTAssertNotNil(g["time_to_first_token_ms"] as? Double)
        XCTAssertGreaterThan(g["tokens_per_s"] as? Double ?? 0, 0)
        // --quiet prints the continuation alone.
        let quiet = try capturingOutput { try Generate.parse(["-m", model.path, "-p", "To", "-n", "3", "-t", "0", "-q"]).run() }
        XCTAssertFalse(quiet.hasPrefix("To"))
        XCTAssertThrowsError(try Generate.parse(["--top-p", "2"]))
        XCTAssertThrowsError(try Generate.parse(["--temperature", "nan"]))
        XCTAssertThrowsError(try Generate.parse(["--max-tokens=-1"]))
        XCTAssertThrowsError(try Generate.parse(["--top-k", "-5"])) { XCTAssertTrue("\($0)".contains("--top-k"), "\($0)") }
    }

    /// A negative number is the option's value (and then refused by name), not "missing value".
    func testNegativeNumbersReachValidation() throws {
        let flags = try TrainingFlags.parse(["--max-steps", "-1", "--weight-decay", "-0.5"])
        XCTAssertEqual(flags.maxSteps, -1)
        XCTAssertThrowsError(try TrainingConfig().applying(flags.overrides).validate()) { XCTAssertTrue("\($0)".contains("max_steps"), "\($0)") }
    }

    func testModelsInfoSplitsTheSizesAndShowsTheConfig() throws {
        let info = try capturingOutput { try Models.Info.parse([model.path, "--json"]).run() }
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])
        let bytes = try XCTUnwrap(object["bytes"] as? [String: Int])
        XCTAssertGreaterThan(bytes["weights"] ?? 0, 0)
        XCTAssertGreaterThan(bytes["checkpoint"] ?? 0, bytes["weights"] ?? 0, "weights plus two moments")
        XCTAssertGreaterThan(bytes["data"] ?? 0, 0)
        XCTAssertEqual(bytes["total"], (bytes["weights"] ?? 0) + (bytes["checkpoint"] ?? 0) + (bytes["data"] ?? 0) + (bytes["other"] ?? 0))
        let config = try XCTUnwrap(object["training_config"] as? [String: Any])
        XCTAssertEqual((config["model"] as? [String: Any])?["n_embd"] as? Int, 16)
        let text = try capturingOutput { try Models.Info.parse(["-m", model.path]).run() }
        XCTAssertTrue(text.contains("weights ") && text.contains("training configuration (from checkpoint.safetensors)"), text)
        // rm never deletes without --yes when nobody can answer.
        XCTAssertThrowsError(try Models.Remove.parse(["--models-dir", model.deletingLastPathComponent().path, "model"]).run())
        XCTAssertTrue(FileManager.default.fileExists(atPath: model.appendingPathComponent("model.safetensors").path))
    }

    func testExperimentNamesFoldersPlainlyAndShowsNoSpreadForOneSeed() {
        XCTAssertEqual(ExperimentVariant.all.map(\.slug).first { $0.contains("control") }, "linear-distance-bias-control")
        let run = ExperimentRun(variant: "standard", seed: 1, finalValLoss: 2.5, bestValLoss: 2.4, curve: [(10, 2.5)], seconds: 1)
        let table = CrystallineExperiment.table([run], target: 2.6)
        XCTAssertTrue(table.contains("2.5000 (one seed)"), table)
        XCTAssertFalse(table.contains("± 0.0000"), table)
    }
}
