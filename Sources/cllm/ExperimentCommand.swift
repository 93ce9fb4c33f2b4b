// `cllm experiment crystalline`: the ablation of the crystalline-lattice options.
import ArgumentParser
import Foundation
import CrystallineFormats
import CrystallineBenchmarks
import CrystallineTraining

struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Controlled experiments.", subcommands: [Crystalline.self])

    struct Crystalline: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train the standard model and each crystalline option (and all together) at equal compute over several seeds.",
            discussion: "Writes a markdown table (final val loss mean ± std, steps to reach a target loss) to OUT/crystalline.md and prints it.")
        @Argument(help: "Corpus (default: the bundled tinyshakespeare).") var corpus: String?
        @Option(help: "Optimizer steps per run (baby-GPT settings otherwise).") var maxSteps = 600
        @Option(help: "Steps between validations.") var evalInterval = 50
        @Option(help: "Seeds.") var seeds = 3
        @Option(help: "Target validation loss for the steps-to-target column.") var target = 2.2
        @Option(help: "Output directory.") var out = "runs/crystalline"

        func run() throws {
            try reportingErrors {
                setvbuf(stdout, nil, _IOLBF, 0)
                var base = TrainingConfig()
                if let corpus { base.corpus = corpus }
                base.maxSteps = maxSteps
                base.evalInterval = evalInterval
                base.warmupSteps = min(base.warmupSteps, maxSteps / 10)
                let root = URL(fileURLWithPath: out)
                print("crystalline ablation: baby GPT (4L/4H/128, block 64, batch 12), \(maxSteps) steps per run, \(seeds) seeds, corpus \(base.corpus)")
                let runs = try CrystallineExperiment.run(base: base, seeds: (0..<seeds).map { 1337 + UInt64($0) }, outputRoot: root) { r in
                    print(String(format: "  %-24@ seed %d: final val %.4f, best %.4f (%.0fs)", r.variant as NSString, r.seed, r.finalValLoss, r.bestValLoss, r.seconds))
                }
                let table = CrystallineExperiment.table(runs, target: target)
                let text = "# Crystalline ablation\n\n`cllm experiment crystalline --max-steps \(maxSteps) --seeds \(seeds) --target \(target)` on \(base.corpus)\n\n" + table + "\n"
                try AtomicFile.write(Data(text.utf8), to: root.appendingPathComponent("crystalline.md"))
                print("\n" + table + "\n\nwritten to \(root.appendingPathComponent("crystalline.md").path)")
            }
        }
    }
}
