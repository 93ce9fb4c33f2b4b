// CrystallineModel: the GPT-2 architecture, with every layer's forward and backward side by side.
//
// Owns the model configuration, the parameter layout (Hugging Face GPT-2 names and shapes),
// immutable weights (`ModelWeights`, what inference reads), the training workspace (`GPT`: the
// batched forward/backward pass, gradients, activations, dropout), KV-cached single-sequence
// inference and sampling. Imports CrystallineCompute (GEMM, pool; the C kernels through it)
// and CrystallineLattice (the crystalline options' geometry); reads and writes no files.

/// How the token embedding is initialised.
public enum EmbeddingInit: String, Codable, CaseIterable, Sendable { case standard, lattice }
/// Learned position table, or the fixed clock-lattice encoding (stored in the same table).
public enum PositionalEncoding: String, Codable, CaseIterable, Sendable { case learned, lattice }
/// Optional additive attention bias: `angular` uses clock-lattice geometry; `linear` is the
/// ALiBi-style control (plain distance i − j), with the same learned slopes and range.
public enum AttentionBias: String, Codable, CaseIterable, Sendable { case none, angular, linear }

/// Storage precision of the weight matrices in the matrix products (see `GPT.precision`).
public enum Precision: String, Codable, CaseIterable, Sendable { case fp32, bf16 }

/// Hyper-parameters of a GPT-2 style model.
public struct GPTConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int
    public var blockSize: Int
    public var nLayer: Int
    public var nHead: Int
    public var nEmbd: Int
    public var dropout: Float
    public var layerNormEpsilon: Float = 1e-5
    /// Crystalline options (off by default; see docs/CRYSTALLINE.md).
    public var embeddingInit: EmbeddingInit = .standard
    public var positional: PositionalEncoding = .learned
    public var attentionBias: AttentionBias = .none

    public init(vocabSize: Int, blockSize: Int, nLayer: Int, nHead: Int, nEmbd: Int, dropout: Float = 0) {
        self.vocabSize = vocabSize
        self.blockSize = blockSize
        self.nLayer = nLayer
        self.nHead = nHead
        self.nEmbd = nEmbd
        self.dropout = dropout
    }

    public var headSize: Int { nEmbd / nHead }

    /// Checks the shape constraints the kernels rely on.
    public func validate() throws {
        func fail(_ why: String) -> ModelError { .invalidConfig(why) }
        guard vocabSize > 0 else { throw fail("vocab_size must be positive") }
        guard blockSize > 0 else { throw fail("block_size must be positive") }
        guard nLayer > 0 else { throw fail("n_layer must be positive") }
        guard nHead > 0, nEmbd > 0 else { throw fail("n_head and n_embd must be positive") }
        guard nEmbd % nHead == 0 else { throw fail("n_embd (\(nEmbd)) must be divisible by n_head (\(nHead))") }
        guard dropout >= 0, dropout < 1 else { throw fail("dropout must be in [0, 1)") }
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

    public var description: String {
        switch self {
        case .invalidConfig(let s): return "invalid model configuration: \(s)"
        case .tokenOutOfRange(let t, let v): return "token id \(t) is outside the vocabulary (size \(v))"
        case .sequenceTooLong(let l, let b): return "sequence of \(l) tokens exceeds the block size \(b)"
        case .missingTensor(let n): return "tensor '\(n)' is missing from the model file"
        case .shapeMismatch(let n, let e, let f): return "tensor '\(n)' has shape \(f), expected \(e)"
        case .parameterCount(let e, let f): return "\(f) parameter values given for a model of \(e)"
        }
    }
}
