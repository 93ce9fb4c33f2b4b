// Export to llama.cpp: GGUF v3 for architecture `gpt2`, tensor names and layout as llama.cpp's
// own converter (convert_hf_to_gguf.py) writes them: linear weights as [out, in], the matrices
// and token embeddings in F16 or Q8_0 when asked (as llama-quantize makes a Q8_0 file), the
// position embeddings, norms and biases always F32. Q8_0 blocks come from the same quantizer
// as cllm's own Q8_0 generation, so both run on identical bytes.
import Foundation
import CrystallineCompute
import CrystallineFormats
import CrystallineModel
import CrystallineTokenizers

public enum GGUFExport {
    /// The tensors in llama.cpp's names and layout. Q8_0 needs n_embd to be a multiple of 32.
    public static func tensors(of model: ModelWeights, type: GGMLType) throws -> [GGUFTensor] {
        let c = model.config
        if type == .q8_0 { try ModelWeights.requireQ8Width(c) }
        func get(_ name: String) -> [Float] { model.tensor(name)! }
        /// HF Conv1D [in, out] -> llama.cpp [out, in].
        func transposed(_ name: String, rows: Int, cols: Int) -> [Float] {
            let v = get(name)
            var t = [Float](repeating: 0, count: v.count)
            for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = v[i * cols + j] } }
            return t
        }
        func matrix(_ name: String, _ shape: [Int], _ values: [Float]) -> GGUFTensor {
            guard type == .q8_0 else { return GGUFTensor(name: name, shape: shape, type: type, values: values) }
            var quants = [Int8](repeating: 0, count: values.count), scales = [Float](repeating: 0, count: values.count / 32)
            quants.withUnsafeMutableBufferPointer { q in
                scales.withUnsafeMutableBufferPointer { s in
                    quantizeQ8_0(values, count: values.count, quants: q.baseAddress!, scales: s.baseAddress!)
                }
            }
            return quants.withUnsafeBufferPointer { q in
                scales.withUnsafeBufferPointer { s in GGUFTensor.q8_0(name: name, shape: shape, quants: q, scales: s) }
            }
        }
        func vector(_ name: String, _ values: [Float]) -> GGUFTensor { GGUFTensor(name: name, shape: [values.count], type: .f32, values: values) }
        let C = c.nEmbd
        var out = [matrix("token_embd.weight", [c.vocabSize, C], get("wte.weight")),
                   GGUFTensor(name: "position_embd.weight", shape: [c.blockSize, C], type: .f32, values: get("wpe.weight"))]
        for l in 0..<c.nLayer {
            let h = "h.\(l).", b = "blk.\(l)."
            out += [vector(b + "attn_norm.weight", get(h + "ln_1.weight")), vector(b + "attn_norm.bias", get(h + "ln_1.bias")),
                    matrix(b + "attn_qkv.weight", [3 * C, C], transposed(h + "attn.c_attn.weight", rows: C, cols: 3 * C)),
                    vector(b + "attn_qkv.bias", get(h + "attn.c_attn.bias")),
                    matrix(b + "attn_output.weight", [C, C], transposed(h + "attn.c_proj.weight", rows: C, cols: C)),
                    vector(b + "attn_output.bias", get(h + "attn.c_proj.bias")),
                    vector(b + "ffn_norm.weight", get(h + "ln_2.weight")), vector(b + "ffn_norm.bias", get(h + "ln_2.bias")),
                    matrix(b + "ffn_up.weight", [4 * C, C], transposed(h + "mlp.c_fc.weight", rows: C, cols: 4 * C)),
                    vector(b + "ffn_up.bias", get(h + "mlp.c_fc.bias")),
                    matrix(b + "ffn_down.weight", [C, 4 * C], transposed(h + "mlp.c_proj.weight", rows: 4 * C, cols: C)),
                    vector(b + "ffn_down.bias", get(h + "mlp.c_proj.bias"))]
        }
        out += [vector("output_norm.weight", get("ln_f.weight")), vector("output_norm.bias", get("ln_f.bias")),
                matrix("output.weight", [c.vocabSize, C], get("wte.weight"))]
        return out
    }

    /// Token strings in GPT-2's byte-level alphabet (what llama.cpp's gpt2 tokenizer expects).
    public static func tokenStrings(_ tokenizer: any Tokenizer) -> [String] {
        if let bpe = tokenizer as? BPETokenizer { return bpe.tokenBytes.map(ByteAlphabet.string) + bpe.specials }
        return (0..<tokenizer.vocabSize).map { ByteAlphabet.string(Array(tokenizer.tokenString(Int32($0)).utf8)) }
    }

    public static func metadata(model: ModelWeights, tokenizer: any Tokenizer, name: String, type: GGMLType) -> [(String, GGUFValue)] {
        let c = model.config
        var tokens = tokenStrings(tokenizer)
        // The model's vocabulary may be padded beyond the tokenizer's.
        while tokens.count < c.vocabSize { tokens.append("<pad\(tokens.count)>") }
        var kv: [(String, GGUFValue)] = [
            ("general.architecture", .string("gpt2")), ("general.name", .string(name)),
            ("general.file_type", .uint32(fileType(type))), ("general.alignment", .uint32(UInt32(GGUF.alignment))),
            ("gpt2.context_length", .uint32(UInt32(c.blockSize))), ("gpt2.embedding_length", .uint32(UInt32(c.nEmbd))),
            ("gpt2.feed_forward_length", .uint32(UInt32(4 * c.nEmbd))), ("gpt2.block_count", .uint32(UInt32(c.nLayer))),
            ("gpt2.attention.head_count", .uint32(UInt32(c.nHead))),
            ("gpt2.attention.layer_norm_epsilon", .float32(c.layerNormEpsilon)),
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("gpt-2")),
            ("tokenizer.ggml.tokens", .stringArray(tokens)),
            ("tokenizer.ggml.token_type", .int32Array(tokenTypes(tokenizer, count: tokens.count))),
        ]
        if let bpe = tokenizer as? BPETokenizer { kv.append(("tokenizer.ggml.merges", .stringArray(bpe.file.merges ?? []))) }
        else { kv.append(("tokenizer.ggml.merges", .stringArray([]))) }
        // Only ids the vocabulary really has: llama.cpp stops generating at the end-of-text id.
        if let bos = tokenizer.beginningOfTextId { kv.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
        if let eos = tokenizer.endOfTextId { kv.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        if let unk = tokenizer.unknownId { kv.append(("tokenizer.ggml.unknown_token_id", .uint32(UInt32(unk)))) }
        kv.append(("tokenizer.ggml.add_bos_token", .bool(false)))
        return kv
    }

    /// llama.cpp's `llama_ftype` of a file whose matrices are all `type`.
    static func fileType(_ type: GGMLType) -> UInt32 {
        switch type { case .f32: return 0; case .f16: return 1; case .q8_0: return 7 }
    }

    /// llama.cpp's token types: 1 normal, 2 unknown, 3 control (specials, never printed).
    static func tokenTypes(_ tokenizer: any Tokenizer, count: Int) -> [Int32] {
        (0..<count).map { i in
            let id = Int32(i)
            if i >= tokenizer.vocabSize { return 3 }  // rows padding the vocabulary
            if id == tokenizer.unknownId { return 2 }
            return tokenizer.isSpecial(id) ? 3 : 1
        }
    }

    /// The GGUF file's bytes.
    public static func encode(model: ModelWeights, tokenizer: any Tokenizer, name: String, type: GGMLType) throws -> Data {
        GGUF.encode(metadata: metadata(model: model, tokenizer: tokenizer, name: name, type: type), tensors: try tensors(of: model, type: type))
    }

    public static func write(model: ModelWeights, tokenizer: any Tokenizer, name: String, type: GGMLType, to url: URL) throws {
        try AtomicFile.write(try encode(model: model, tokenizer: tokenizer, name: name, type: type), to: url)
    }
}
