// `cllm bench`: timed training steps and generation.
import ArgumentParser
import Foundation
import CrystallineCompute
import CrystallineModel
import CrystallineBenchmarks
import CrystallineDistributed

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time training steps and generation.")
    @Option(name: [.customLong("preset"), .customLong("config")],
            help: "Model preset: baby (4L/4H/128, block 64, batch 12), shakespeare (6L/6H/384, block 256, batch 8) or gpt2 (GPT-2 small: 12L/12H/768, vocab 50257, block 1024, batch 1). (--config is the older name.)")
    var config = "baby"
    @Option(help: "Timed training steps.") var steps = 20
    @Option(help: "Sequences per step (default: the preset's).") var batch: Int?
    @Flag(help: "Print one JSON object (with --gemm, the GEMM table inside it) and nothing else.") var json = false
    @Option(help: "Precision of the matrix products: fp32, or bf16 (bfloat16 operands, float32 accumulation, on AVX512_BF16 where the CPU has it; the default there, as for training).")
    var precision: Precision = .preferred
    @Option(help: "What the forward pass keeps for the backward: store (attention probabilities, B·heads·T·T floats per layer, and the GELU's sigmoid), recompute (both in the backward pass) or automatic (recompute when the probabilities would pass 256 MiB).")
    var activationMemory: ActivationMemory = .automatic
    @Flag(help: "Also time the GEMM forms backprop uses at this model's shapes, on one core and on all.") var gemm = false
    @Flag(help: "Under mpirun: time the all-reduce of the gradients of the baby, shakespeare and GPT-2-small models (and smaller sizes, for the latency) instead.")
    var allreduce = false
    @Option(help: "With --allreduce: fp32 or bf16 on the wire.") var gradientWire: GradientWire = .fp32
    @Option(help: "With --allreduce: timed repetitions per size.") var repeats = 10

    func run() throws {
        try reportingErrors {
            if allreduce { return try benchAllReduce(wire: gradientWire, repeats: repeats, json: json) }
            if !BuildFeatures.hasFusedMultiplyAdd {
                Terminal.error("warning: this build has no FMA code generation (\(BuildFeatures.simdName)); the kernels run ~150x slower. Build with `swift build -c release` on x86-64-v3 or aarch64.")
            }
            let (gptConfig, presetBatch): (GPTConfig, Int)
            switch config {
            case "baby": (gptConfig, presetBatch) = (GPTConfig(vocabSize: 65, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128), 12)
            case "shakespeare": (gptConfig, presetBatch) = (GPTConfig(vocabSize: 65, blockSize: 256, nLayer: 6, nHead: 6, nEmbd: 384), 8)
            case "gpt2": (gptConfig, presetBatch) = (GPTConfig(vocabSize: 50257, blockSize: 1024, nLayer: 12, nHead: 12, nEmbd: 768), 1)
            default: throw CLIError("unknown config \(config); use baby, shakespeare or gpt2")
            }
            let B = batch ?? presetBatch
            guard B >= 1 else { throw CLIError("--batch must be at least 1") }
            // With bf16 products on a bfloat16 kernel the peak is that of its instruction.
            let bf16Kernel = precision == .bf16 ? BF16GEMMKernel.active : nil
            let arithmetic: GEMMArithmetic = bf16Kernel != nil ? .bfloat16 : .float32
            let kernelName = bf16Kernel?.isaName ?? GEMMKernel.active.isaName
            let threads = ThreadPool.shared.threadCount
            let peak1 = bf16Kernel != nil ? MachineBenchmark.peakBF16GFLOPS(threads: 1)! : MachineBenchmark.peakGFLOPS(threads: 1)
            let peakAll = bf16Kernel != nil ? MachineBenchmark.peakBF16GFLOPS(threads: threads)! : MachineBenchmark.peakGFLOPS(threads: threads)
            let gemmRows = gemm ? gemmTable(gptConfig, batch: B, arithmetic: arithmetic) : []
            if gemm && !json { printGEMMTable(gemmRows, peak1: peak1, peakAll: peakAll, kernelName: kernelName) }
            let result = try BenchmarkRunner.run(config: gptConfig, batch: B, steps: steps, warmup: config == "gpt2" ? 1 : 3,
                                                precision: precision, activationMemory: activationMemory)
            if json {
                var object: [String: Any] = ["config": config, "precision": precision.rawValue, "ms_per_step": result.msPerStep, "tokens_per_s": result.tokensPerSecond,
                                             "gflops": result.gflops, "generate_tokens_per_s": result.generateTokensPerSecond,
                                             "threads": threads, "simd": kernelName,
                                             "gemm_kernel": bf16Kernel?.rawValue ?? GEMMKernel.active.rawValue,
                                             "batch": B, "tokens_per_step": B * gptConfig.blockSize,
                                             "activation_memory": activationMemory.resolved(config: gptConfig, B: B, T: gptConfig.blockSize).rawValue,
                                             "peak_gflops": peakAll, "peak_gflops_1core": peak1,
                                             "percent_of_peak": 100 * result.gflops / peakAll]
                if gemm {
                    object["gemm"] = gemmRows.map { ["layer": $0.layer, "form": $0.form, "m": $0.m, "n": $0.n, "k": $0.k,
                                                     "gflops_1core": $0.oneCore, "gflops_all_cores": $0.allCores] as [String: Any] }
                }
                try printJSON(object)
            } else {
                print(String(format: "%@: %.2f ms/step (median of %d), %@ tokens/s, %.1f GFLOP/s (%.0f%% of the %.0f GFLOP/s peak); generation %.0f tokens/s [%@, %d threads]",
                             config, result.msPerStep, steps, Terminal.thousands(result.tokensPerSecond), result.gflops,
                             100 * result.gflops / peakAll, peakAll, result.generateTokensPerSecond, kernelName, threads))
            }
        }
    }
}

/// One GEMM measurement at a model shape.
struct GEMMRow { var layer: String, form: String, m: Int, n: Int, k: Int, oneCore: Double, allCores: Double }

/// GFLOP/s of the three products at the model's linear-layer shapes (N = B·T rows).
func gemmTable(_ c: GPTConfig, batch: Int, arithmetic: GEMMArithmetic) -> [GEMMRow] {
    let N = batch * c.blockSize, C = c.nEmbd
    var rows: [GEMMRow] = []
    let layers: [(String, Int, Int)] = [("qkv", C, 3 * C), ("attn proj", C, C), ("mlp fc", C, 4 * C), ("mlp proj", 4 * C, C)]
    for (name, IC, OC) in layers {
        // forward y = x·W, input gradient dx = dy·Wᵀ, weight gradient dW = xᵀ·dy.
        let forms: [(String, Int, Int, Int, Transpose, Transpose)] = [
            ("A·B", N, OC, IC, .none, .none), ("A·Bᵀ", N, IC, OC, .none, .transposed), ("Aᵀ·B", IC, OC, N, .transposed, .none)]
        for (form, m, n, k, ta, tb) in forms {
            rows.append(GEMMRow(layer: name, form: form, m: m, n: n, k: k,
                                oneCore: MachineBenchmark.gemmGFLOPS(m: m, n: n, k: k, transA: ta, transB: tb, singleThread: true,
                                                                     arithmetic: arithmetic),
                                allCores: MachineBenchmark.gemmGFLOPS(m: m, n: n, k: k, transA: ta, transB: tb, singleThread: false,
                                                                      arithmetic: arithmetic)))
        }
    }
    return rows
}

func printGEMMTable(_ rows: [GEMMRow], peak1: Double, peakAll: Double, kernelName: String) {
    print(String(format: "peak: %.1f GFLOP/s on 1 core, %.1f on %d (12 independent %@ chains, no memory)", peak1, peakAll,
                 ThreadPool.shared.threadCount, kernelName))
    print("shape (layer)              form        1 core   %peak    all cores  %peak")
    for r in rows {
        let label = "\(r.m)×\(r.n)×\(r.k) (\(r.layer))".padding(toLength: 26, withPad: " ", startingAt: 0)
        print(label + r.form.padding(toLength: 8, withPad: " ", startingAt: 0)
              + String(format: "%9.1f  %5.0f%%   %9.1f  %5.0f%%", r.oneCore, 100 * r.oneCore / peak1, r.allCores, 100 * r.allCores / peakAll))
    }
}
