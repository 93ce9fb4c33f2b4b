// CrystallineModel: the GPT-2 architecture, with every layer's forward and backward side by side.
//
// Owns the model configuration, the parameter layout (Hugging Face GPT-2 names and shapes),
// immutable weights (`ModelWeights`, what inference reads), the training workspace (`GPT`: the
// batched forward/backward pass, gradients, activations, dropout), KV-cached single-sequence
// inference and sampling. Imports CrystallineCompute (GEMM, pool; the C kernels through it)
// and CrystallineLattice (the crystalline options' geometry); reads and writes no files.

import CrystallineCompute

/// Precision of the matrix products (see `GPT.precision`): float32, or bfloat16 operands with
/// float32 accumulation and float32 master weights.
public enum Precision: String, Codable, CaseIterable, Sendable {
    case fp32, bf16

    /// The training default: bf16 where the CPU has a bfloat16 GEMM kernel (measured 1.4–1.7×
    /// faster per step than fp32 on Zen 4, converging to the same loss: docs/PERFORMANCE.md),
    /// fp32 elsewhere (there bf16 only rounds the weights, a 7–10 % gain at best).
    public static var preferred: Precision { BF16GEMMKernel.active != nil ? .bf16 : .fp32 }
}

/// What the forward pass keeps for the backward pass (see `GPT.activationMemory`).
/// `store` keeps everything, including the attention probabilities (B·NH·T·T floats per layer)
/// and the GELU's σ(2u); `recompute` recomputes both in the backward pass (one more Q·Kᵀ
/// product with its softmax, and one exponential per MLP element); `automatic` recomputes when
/// the stored probabilities of all layers would exceed 256 MiB (GPT-2 small from batch 1 on;
/// the shakespeare model at batch 8 stores 75 MiB, so it stores).
public enum ActivationMemory: String, Codable, CaseIterable, Sendable {
    case automatic, store, recompute

    /// `store` or `recompute` for a batch of B sequences of T tokens.
    public func resolved(config: GPTConfig, B: Int, T: Int) -> ActivationMemory {
        guard self == .automatic else { return self }
        let probabilities = Double(config.nLayer * B * config.nHead) * Double(T * T) * 4
        return probabilities > 256 * 1024 * 1024 ? .recompute : .store
    }
}

/// A GPT-2 style model: its vocabulary size and architecture. `config.nLayer` and the like
/// read the architecture's fields directly.
@dynamicMemberLookup
public struct GPTConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int
    public var architecture: ModelHyperparameters
    public var layerNormEpsilon: Float = 1e-5

    public init(vocabSize: Int, architecture: ModelHyperparameters) {
        self.vocabSize = vocabSize
        self.architecture = architecture
    }

    public init(vocabSize: Int, blockSize: Int, nLayer: Int, nHead: Int, nEmbd: Int, dropout: Float = 0) {
        self.init(vocabSize: vocabSize, architecture: ModelHyperparameters(nLayer: nLayer, nHead: nHead, nEmbd: nEmbd,
                                                                           blockSize: blockSize, dropout: dropout))
    }

    public subscript<T>(dynamicMember field: WritableKeyPath<ModelHyperparameters, T>) -> T {
        get { architecture[keyPath: field] }
        set { architecture[keyPath: field] = newValue }
    }

    public var headSize: Int { architecture.nEmbd / architecture.nHead }

    /// Checks the shape constraints the kernels rely on, the size caps of `ModelLimits`, and
    /// that the weights and one generation fit in this machine's memory.
    public func validate() throws {
        try ModelLimits.checkRange("vocab_size", vocabSize, cap: ModelLimits.maxVocabulary)
        try architecture.validate()
        guard layerNormEpsilon.isFinite, layerNormEpsilon > 0 else {
            throw ModelError.invalidConfig("layer_norm_epsilon must be a positive number (got \(layerNormEpsilon))")
        }
        try ModelLimits.checkMemory(ModelLimits.inferenceBytes(vocabSize: vocabSize, architecture),
                                    for: "a model of \(architecture.nLayer) layers, \(architecture.nEmbd) wide, block \(architecture.blockSize), vocabulary \(vocabSize)")
    }

    /// Total number of parameters (the LM head is tied to the token embedding).
    public var parameterCount: Int { ParameterLayout(config: self).totalCount }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case tokenOutOfRange(token: Int, vocabSize: Int)
    case sequenceTooLong(length: Int, blockSize: Int)
    case missingTensor(String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case parameterCount(expected: Int, found: Int)
    case nonFinite(tensor: String, index: Int)

    public var description: String {
        switch self {
        case .invalidConfig(let s): return "invalid model configuration: \(s)"
        case .tokenOutOfRange(let t, let v): return "token id \(t) is outside the vocabulary (size \(v))"
        case .sequenceTooLong(let l, let b): return "sequence of \(l) tokens exceeds the block size \(b)"
        case .missingTensor(let n): return "tensor '\(n)' is missing from the model file"
        case .shapeMismatch(let n, let e, let f): return "tensor '\(n)' has shape \(f), expected \(e)"
        case .parameterCount(let e, let f): return "\(f) parameter values given for a model of \(e)"
        case .nonFinite(let t, let i): return "tensor '\(t)' holds a NaN or infinity (at index \(i)); the weights are damaged or diverged"
        }
    }
}
