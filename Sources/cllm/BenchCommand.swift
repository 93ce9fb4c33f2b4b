// `cllm bench`: timed training steps and generation.
import ArgumentParser
import Foundation
import CrystallineCompute
import CrystallineModel
import CrystallineTraining

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time training steps and generation.")
    @Option(help: "baby (4L/4H/128, block 64, batch 12) or shakespeare (6L/6H/384, block 256, batch 8).") var config = "baby"
    @Option(help: "Timed training steps.") var steps = 20
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try reportingErrors {
            let (gptConfig, B): (GPTConfig, Int)
            switch config {
            case "baby": (gptConfig, B) = (GPTConfig(vocabSize: 65, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128), 12)
            case "shakespeare": (gptConfig, B) = (GPTConfig(vocabSize: 65, blockSize: 256, nLayer: 6, nHead: 6, nEmbd: 384), 8)
            default: throw CLIError("unknown config \(config); use baby or shakespeare")
            }
            let result = try BenchmarkRunner.run(config: gptConfig, batch: B, steps: steps)
            if json {
                let object: [String: Any] = ["config": config, "ms_per_step": result.msPerStep, "tokens_per_s": result.tokensPerSecond,
                                             "gflops": result.gflops, "generate_tokens_per_s": result.generateTokensPerSecond,
                                             "threads": ThreadPool.shared.threadCount, "simd": BuildFeatures.simdName]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(String(format: "%@: %.2f ms/step (median of %d), %@ tokens/s, %.1f GFLOP/s; generation %.0f tokens/s [%@, %d threads]",
                             config, result.msPerStep, steps, Terminal.thousands(result.tokensPerSecond), result.gflops,
                             result.generateTokensPerSecond, BuildFeatures.simdName, ThreadPool.shared.threadCount))
            }
        }
    }
}
