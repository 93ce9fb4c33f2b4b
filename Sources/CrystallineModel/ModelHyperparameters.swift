// The architecture of a model, apart from its vocabulary: the one definition that the training
// configuration, `GPTConfig` and the model directory's config.json all share.

/// How the token embedding is initialised.
public enum EmbeddingInit: String, Codable, CaseIterable, Sendable { case standard, lattice }
/// Learned position table, or the fixed clock-lattice encoding (stored in the same table).
public enum PositionalEncoding: String, Codable, CaseIterable, Sendable { case learned, lattice }
/// Optional additive attention bias: `angular` uses clock-lattice geometry; `linear` is the
/// ALiBi-style control (plain distance i − j), with the same learned slopes and range.
public enum AttentionBias: String, Codable, CaseIterable, Sendable { case none, angular, linear }

public struct ModelHyperparameters: Codable, Equatable, Sendable {
    /// Transformer blocks.
    public var nLayer = 4
    /// Attention heads.
    public var nHead = 4
    /// Embedding width.
    public var nEmbd = 128
    /// Context length in tokens.
    public var blockSize = 64
    /// Dropout probability (training only).
    public var dropout: Float = 0
    /// Crystalline options (off by default; see docs/CRYSTALLINE.md).
    public var embeddingInit = EmbeddingInit.standard
    public var positional = PositionalEncoding.learned
    public var attentionBias = AttentionBias.none

    public init() {}

    public init(nLayer: Int, nHead: Int, nEmbd: Int, blockSize: Int, dropout: Float = 0) {
        self.nLayer = nLayer; self.nHead = nHead; self.nEmbd = nEmbd; self.blockSize = blockSize; self.dropout = dropout
    }

    /// Checks the shape constraints the kernels rely on.
    public func validate() throws {
        func fail(_ why: String) -> ModelError { .invalidConfig(why) }
        try ModelLimits.checkRange("n_layer", nLayer, cap: ModelLimits.maxLayers)
        try ModelLimits.checkRange("n_head", nHead, cap: ModelLimits.maxHeads)
        try ModelLimits.checkRange("n_embd", nEmbd, cap: ModelLimits.maxEmbedding)
        try ModelLimits.checkRange("block_size", blockSize, cap: ModelLimits.maxBlockSize)
        guard nEmbd % nHead == 0 else { throw fail("n_embd (\(nEmbd)) must be divisible by n_head (\(nHead))") }
        guard dropout.isFinite, dropout >= 0, dropout < 1 else { throw fail("dropout must be in [0, 1)") }
    }
}
