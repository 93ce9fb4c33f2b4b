// `cllm plot`: training curves of one or more runs as an SVG or PNG (CrystallineTraining.RunPlot).
import ArgumentParser
import Foundation
import CrystallineFormats
import CrystallineInterop
import CrystallineTraining

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the loss, validation-loss and learning-rate curves of one or more runs.",
        discussion: "Reads each run's metrics.jsonl. Without --svg or --png, prints each run's last and best numbers.")
    @Argument(help: "Runs: model names (in ./models or $CLLM_MODELS) or run directories.") var runs: [String] = ["default"]
    @Option(help: "Write the curves as an SVG file.") var svg: String?
    @Option(help: "Write the curves as a PNG file.") var png: String?

    func run() throws {
        try reportingErrors {
            let store = ModelStore()
            let curves = try runs.map { try RunCurves.load(store.resolve($0), name: $0.contains("/") ? URL(fileURLWithPath: $0).lastPathComponent : $0) }
            if let svg { try AtomicFile.write(Data(RunPlot.svg(curves).utf8), to: URL(fileURLWithPath: svg)); print("wrote \(svg)") }
            if let png { try AtomicFile.write(RunPlot.png(curves), to: URL(fileURLWithPath: png)); print("wrote \(png)") }
            guard svg == nil && png == nil else { return }
            printTable([["RUN", "STEPS", "TRAIN LOSS", "BEST VAL", "AT STEP", "LAST LR"]] + curves.map { c in
                let best = c.val.min { $0.loss < $1.loss }
                return [c.name, String(c.steps.last ?? 0), String(format: "%.4f", c.trainLoss.last ?? .nan),
                        best.map { String(format: "%.4f", $0.loss) } ?? "-", best.map { String($0.step) } ?? "-",
                        String(format: "%.2e", c.lr.last ?? .nan)]
            })
            print("(add --png FILE or --svg FILE for the curves)")
        }
    }
}
