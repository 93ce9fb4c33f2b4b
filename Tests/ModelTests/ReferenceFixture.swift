import Foundation
import CrystallineModel

/// The PyTorch reference written by scripts/make_reference.py.
struct ReferenceFixture: Decodable {
    struct Config: Decodable { let vocab_size, block_size, n_layer, n_head, n_embd, batch: Int }
    struct AdamW: Decodable { let lr, beta1, beta2, eps, weight_decay: Double }
    let config: Config
    let adamw: AdamW
    let tokens: [Int32]
    let targets: [Int32]
    let parameters: [String: [Double]]
    let logits: [Double]
    let loss: Double
    let gradients: [String: [Double]]
    let adamw_losses: [Double]

    static func load(file: String = #filePath) throws -> ReferenceFixture {
        let url = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/gpt_reference.json")
        return try JSONDecoder().decode(ReferenceFixture.self, from: Data(contentsOf: url))
    }

    var gptConfig: GPTConfig {
        GPTConfig(vocabSize: config.vocab_size, blockSize: config.block_size, nLayer: config.n_layer,
                  nHead: config.n_head, nEmbd: config.n_embd)
    }

    /// A model holding exactly the fixture's weights.
    func makeModel() throws -> GPT {
        let model = try GPT(config: gptConfig)
        for t in model.layout.tensors {
            guard let values = parameters[t.name] else { throw ModelError.missingTensor(t.name) }
            model.parameters.load(values.map(Float.init), at: t.offset)
        }
        return model
    }
}

/// max |a − b| / max |b|, the tolerance measure the reference test uses.
func relativeMaxError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var worst = 0.0, scale = 0.0
    for i in 0..<a.count { worst = max(worst, abs(Double(a[i]) - b[i])); scale = max(scale, abs(b[i])) }
    return worst / max(scale, 1e-30)
}
