import XCTest
import CrystallineTraining
@testable import cllm

/// The flags of `cllm train` and the settings of `TrainingConfig` are one list.
final class TrainingFlagsTests: XCTestCase {
    func testEverySettingHasAFlagAndEveryFlagIsASetting() {
        let flags = Set(TrainingFlags.settingNames)
        let settings = Set(TrainingConfig.sections.flatMap(\.fields))
        XCTAssertEqual(flags.subtracting(settings), [], "flags that are no setting")
        XCTAssertEqual(settings.subtracting(flags), [], "settings without a flag")
    }

    func testGivenFlagsBecomeTheConfiguration() throws {
        let flags = try TrainingFlags.parse(["corpus.txt", "--n-layer", "6", "--min-lr", "2e-5", "--tokenizer", "bpe", "--nesterov",
                                             "--dropout", "0.25", "--seed", "18446744073709551615", "--max-steps", "30"])
        var base = TrainingConfig()
        base.epochs = 3
        let c = try base.applying(flags.overrides)
        XCTAssertEqual(c.corpus, "corpus.txt")
        XCTAssertEqual(c.nLayer, 6)
        XCTAssertEqual(c.minLr, 2e-5)
        XCTAssertEqual(c.tokenizer, .bpe)
        XCTAssertTrue(c.nesterov)
        XCTAssertEqual(c.dropout, 0.25)
        XCTAssertEqual(c.seed, .max)
        XCTAssertEqual(c.maxSteps, 30)
        XCTAssertNil(c.epochs, "--max-steps replaces a length in epochs")
        XCTAssertEqual(c.nHead, TrainingConfig().nHead, "flags not given keep their values")
        XCTAssertEqual(try TrainingConfig().applying(TrainingFlags.parse([]).overrides), TrainingConfig())
    }
}
