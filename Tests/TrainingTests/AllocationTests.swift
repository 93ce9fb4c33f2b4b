import XCTest
import CrystallineFormats
import CAllocationCounter
import CrystallineCompute
import CrystallineModel
import CrystallineData
import CrystallineInterop
@testable import CrystallineTraining

/// "All buffers allocated once per run; zero allocations per step": a training step after
/// warm-up (batch sampling, forward, backward with gradient accumulation, clipping, AdamW, the
/// bf16 weight refresh) must not touch the heap at all.
final class AllocationTests: XCTestCase {
    func testCounterSeesAllocations() throws {
        try XCTSkipUnless(cllm_allocation_counter_available() != 0, "allocation counting needs Linux/glibc and no sanitizer")
        cllm_allocation_counter_start()
        let p = UnsafeMutablePointer<Float>.allocate(capacity: 1000)
        let array = [Int](repeating: 1, count: Int.random(in: 10...20))
        let count = cllm_allocation_counter_stop()
        p.deallocate()
        XCTAssertGreaterThanOrEqual(count, 2, "the counter must see a pointer allocation and an array buffer (\(array.count))")
    }

    func testTrainingStepAllocatesNothing() throws {
        try XCTSkipUnless(cllm_allocation_counter_available() != 0, "allocation counting needs Linux/glibc and no sanitizer")
        for precision in [Precision.fp32, .bf16] {
            // Large enough that every parallel path (split GEMMs, side-by-side backward GEMMs,
            // row-parallel LayerNorm/GELU/AdamW) runs on the pool.
            var config = GPTConfig(vocabSize: 65, blockSize: 32, nLayer: 2, nHead: 2, nEmbd: 64)
            config.dropout = 0.1
            let B = 8, T = config.blockSize, accumulation = 2
            let model = try GPT(config: config, seed: 3)
            model.precision = precision
            let optimizer = Optimizer(settings: OptimizerSettings(kind: .adamw, beta1: 0.9, beta2: 0.99, weightDecay: 0.1),
                                      layout: model.layout)
            var rng = Xoshiro256(seed: 5)
            // Windows from memory-mapped shards (the corpus as a run on prepared data reads it).
            let tokens = (0..<5000).map { _ in Int32(rng.nextInt(below: config.vocabSize)) }
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-alloc-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try TokenShard.write(Array(tokens[..<3000]), to: dir.appendingPathComponent("train.bin"))
            try TokenShard.write(Array(tokens[3000...]), to: dir.appendingPathComponent("train_000001.bin"))
            let split = try ShardDirectorySource(directory: dir, prefix: "train")
            var inputs = [Int32](repeating: 0, count: B * T), targets = inputs
            func step() throws {
                model.zeroGradients()
                for _ in 0..<accumulation {
                    TokenDataset.sample(split, B: B, T: T, rng: &rng, inputs: &inputs, targets: &targets)
                    _ = try model.forward(tokens: inputs, targets: targets, B: B, T: T, training: true)
                    model.backward(lossScale: 1 / Float(accumulation))
                }
                _ = clipGradients(model.gradients, maxNorm: 1)
                optimizer.step(parameters: model.parameters, gradients: model.gradients, lr: 1e-3)
                model.refreshLowPrecisionWeights()
            }
            try step(); try step()  // warm-up: activation sets, optimizer moments, pool threads
            // Let the pool's workers fall asleep and wake them once, so that a first trip through
            // the sleep path (which a loaded machine can cause mid-measurement) is not counted.
            Thread.sleep(forTimeInterval: 0.05)
            try step()
            cllm_allocation_counter_start()
            for _ in 0..<3 { try step() }
            let allocations = cllm_allocation_counter_stop()
            XCTAssertEqual(allocations, 0, "\(precision): heap allocations in 3 training steps after warm-up")
        }
    }
}
