import XCTest
import CrystallineCompute
import CrystallineFormats
@testable import CrystallineModel
import CrystallineTokenizers
import CrystallineData
import CrystallineInterop
@testable import CrystallineTraining

final class InteropTests: XCTestCase {
    func trainedModel(_ dir: URL, tokenizer: TokenizerKind = .bpe) throws -> Trainer {
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("model"))
        c.tokenizer = tokenizer
        c.vocabSize = 300
        c.maxSteps = 4; c.evalInterval = 2
        let t = try Trainer(config: c)
        try t.run()
        return t
    }

    func testGGUFRoundTripWithLlamaCppNamesAndLayout() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try trainedModel(dir)
        let model = trainer.model
        for type in [GGMLType.f32, .f16] {
            let url = dir.appendingPathComponent("m-\(type).gguf")
            try GGUFExport.write(model: model.snapshot(), tokenizer: trainer.tokenizer, name: "m", type: type, to: url)
            let (meta, tensors) = try GGUF.decode(Data(contentsOf: url))
            XCTAssertEqual(meta["general.architecture"], .string("gpt2"))
            XCTAssertEqual(meta["gpt2.block_count"], .uint32(2))
            XCTAssertEqual(meta["gpt2.context_length"], .uint32(16))
            guard case .stringArray(let tokens)? = meta["tokenizer.ggml.tokens"] else { return XCTFail("no tokens") }
            XCTAssertEqual(tokens.count, trainer.tokenizer.vocabSize)
            XCTAssertEqual(tensors.count, 2 + 12 * 2 + 3)
            let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) })
            let qkv = try XCTUnwrap(byName["blk.1.attn_qkv.weight"])
            XCTAssertEqual(qkv.shape, [48, 16])  // [out, in]
            let hf = model.tensor("h.1.attn.c_attn.weight")!  // [in, out]
            let tol: Float = type == .f32 ? 0 : 1e-3
            for i in 0..<16 { for j in 0..<48 { XCTAssertEqual(qkv.values[j * 16 + i], hf[i * 48 + j], accuracy: tol) } }
            XCTAssertEqual(byName["token_embd.weight"]?.shape, [trainer.tokenizer.vocabSize, 16])
            XCTAssertEqual(byName["blk.0.ffn_norm.bias"]?.type, .f32, "norms and biases stay f32")
        }
        XCTAssertThrowsError(try GGUF.decode(Data("GGUF".utf8))) { XCTAssertTrue("\($0)".contains("truncated")) }
        XCTAssertThrowsError(try GGUF.decode(Data(repeating: 0, count: 64))) { XCTAssertTrue("\($0)".contains("magic")) }
    }

    /// A Q8_0 GGUF (llama-quantize's layout: the matrices and the token embeddings in blocks of
    /// 32 along a row, everything else F32) holds exactly the blocks cllm's own Q8_0 generation
    /// multiplies; a model whose width is not a multiple of 32 is refused with a clear error.
    func testGGUFQ8_0HoldsTheBlocksGenerationUses() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfig(corpus: writeCorpus(smallCorpus, in: dir), out: dir.appendingPathComponent("model"))
        c.nEmbd = 32; c.maxSteps = 2; c.evalInterval = 2
        let trainer = try Trainer(config: c)
        try trainer.run()
        let weights = trainer.model.snapshot()
        let url = dir.appendingPathComponent("m-q8.gguf")
        try GGUFExport.write(model: weights, tokenizer: trainer.tokenizer, name: "m", type: .q8_0, to: url)
        let (meta, tensors) = try GGUF.decode(Data(contentsOf: url))
        XCTAssertEqual(meta["general.file_type"], .uint32(7), "LLAMA_FTYPE_MOSTLY_Q8_0")
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) })
        XCTAssertEqual(Set(tensors.filter { $0.type == .q8_0 }.map(\.name)),
                       Set(["token_embd.weight", "output.weight"] + (0..<2).flatMap { l in
                           ["attn_qkv", "attn_output", "ffn_up", "ffn_down"].map { "blk.\(l).\($0).weight" } }))
        XCTAssertEqual(byName["position_embd.weight"]?.type, .f32)
        let q8Weights = weights.converted(to: WeightFormat.q8_0)  // owns the blocks the matrices point into
        defer { withExtendedLifetime(q8Weights) {} }
        let session = try XCTUnwrap(q8Weights.quantized)
        let pairs: [(String, Q8Matrix)] = [("blk.1.ffn_up.weight", session.layers[1].fc), ("blk.0.attn_qkv.weight", session.layers[0].qkv),
                                           ("blk.1.ffn_down.weight", session.layers[1].fcProj), ("token_embd.weight", session.head)]
        for (name, matrix) in pairs {
            let t = try XCTUnwrap(byName[name])
            XCTAssertEqual(t.shape, [matrix.rows, matrix.columns], name)
            var row = [Float](repeating: 0, count: matrix.columns), fromSession = [Float]()
            for r in 0..<matrix.rows { row.withUnsafeMutableBufferPointer { matrix.dequantizeRow(r, into: $0.baseAddress!) }; fromSession += row }
            XCTAssertEqual(t.values, fromSession, "\(name): the file's blocks are the session's")
        }
        // The values are the float weights within half a quantization step, and not equal to them.
        let up = try XCTUnwrap(byName["blk.1.ffn_up.weight"]), hf = weights.tensor("h.1.mlp.c_fc.weight")!  // [in 32, out 128]
        var worst: Float = 0
        for o in 0..<128 { for i in 0..<32 { worst = max(worst, abs(up.values[o * 32 + i] - hf[i * 128 + o])) } }
        XCTAssertGreaterThan(worst, 0)
        XCTAssertLessThan(worst, hf.map(abs).max()! / 127)
        // Read back, written again: the same bytes.
        let again = GGUF.encode(metadata: [], tensors: [up])
        XCTAssertEqual(try GGUF.decode(again).tensors.first?.blocks, up.blocks)

        let narrowDirectory = dir.appendingPathComponent("narrow")
        try FileManager.default.createDirectory(at: narrowDirectory, withIntermediateDirectories: true)
        let narrow = try trainedModel(narrowDirectory)  // 16 wide
        XCTAssertThrowsError(try GGUFExport.encode(model: narrow.model.snapshot(), tokenizer: narrow.tokenizer, name: "m", type: .q8_0)) {
            XCTAssertTrue("\($0)".contains("multiple of 32"), "\($0)")
        }
    }

    /// config.json, tokenizer.json and the GGUF name the char model's real end of text (not id 0,
    /// which is "\n" in a character vocabulary: llama.cpp and transformers ended every reply there).
    func testCharModelDeclaresItsRealEndOfText() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try trainedModel(dir, tokenizer: .char)
        let eos = try XCTUnwrap(trainer.tokenizer.endOfTextId)
        XCTAssertGreaterThan(eos, 0)
        let modelDir = dir.appendingPathComponent("model")
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: modelDir.appendingPathComponent("config.json"))) as? [String: Any])
        XCTAssertEqual(config["eos_token_id"] as? Int, Int(eos))
        XCTAssertEqual(config["vocab_size"] as? Int, trainer.tokenizer.vocabSize)
        let hf = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: modelDir.appendingPathComponent("tokenizer.json"))) as? [String: Any])
        let added = try XCTUnwrap(hf["added_tokens"] as? [[String: Any]])
        XCTAssertEqual(added.map { $0["content"] as? String }, ["<|endoftext|>", "<unk>"])
        XCTAssertEqual(added.first?["id"] as? Int, Int(eos))
        let metadata = GGUFExport.metadata(model: trainer.model.snapshot(), tokenizer: trainer.tokenizer, name: "m", type: .f32)
        let kv = Dictionary(metadata, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(kv["tokenizer.ggml.eos_token_id"], .uint32(UInt32(eos)))
        guard case .int32Array(let types)? = kv["tokenizer.ggml.token_type"] else { return XCTFail("no token types") }
        XCTAssertEqual(types[Int(eos)], 3, "control")
        XCTAssertEqual(types[Int(trainer.tokenizer.unknownId!)], 2, "unknown")
        XCTAssertEqual(types[0], 1, "\\n is a normal token")
    }

    func testHuggingFaceTokenizerJSONImportsBackToTheSameIds() throws {
        let corpus = Array(smallCorpus.utf8)
        let bpe = BPETokenizer.train(corpus: corpus, vocabSize: 320)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try HuggingFaceTokenizer.write(bpe, to: dir)
        let imported = try HuggingFaceTokenizer.read(dir.appendingPathComponent("tokenizer.json"))
        let text = Array("the lazy fox saves nine stitches — ünïcödé".utf8)
        XCTAssertEqual(try imported.encode(text), try bpe.encode(text))
    }

    /// A vocabulary whose ids are not ours (as GPT-2's own): same segmentation, mapped ids.
    func testBPEWithForeignIdOrder() throws {
        let ours = BPETokenizer.train(corpus: Array(smallCorpus.utf8), vocabSize: 300)
        let n = ours.tokenBytes.count  // the byte-level tokens; a foreign vocabulary here has no specials
        let permutation = (0..<n).map { (n - 1 - $0) }  // id i -> n-1-i
        var vocab = [[UInt8]](repeating: [], count: n)
        for i in 0..<n { vocab[permutation[i]] = ours.tokenBytes[i] }
        let merges = ours.merges.map { (Int32(permutation[Int($0.0)]), Int32(permutation[Int($0.1)])) }
        let foreign = try BPETokenizer(vocab: vocab, merges: merges)
        let text = Array("over the lazy dog; all that glitters".utf8)
        XCTAssertEqual(try foreign.encode(text), try ours.encode(text).map { Int32(permutation[Int($0)]) })
        XCTAssertEqual(foreign.decodeBytes(try foreign.encode(text)), text)
        // Saved with its explicit vocabulary, it loads back identically.
        let back = try foreign.file.makeTokenizer()
        XCTAssertEqual(try back.encode(text), try foreign.encode(text))
    }

    func testImportsHuggingFaceStyleCheckpointNames() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try trainedModel(dir)
        let m = trainer.model
        // As GPT2LMHeadModel.save_pretrained writes it: prefixed names plus lm_head and mask buffers.
        var tensors = m.layout.tensors.map { NamedTensor(name: "transformer." + $0.name, shape: $0.shape, values: m.parameters.slice($0.offset, $0.count)) }
        tensors.append(NamedTensor(name: "lm_head.weight", shape: [m.config.vocabSize, 16], values: m.tensor("wte.weight")!))
        tensors.append(NamedTensor(name: "transformer.h.0.attn.bias", shape: [1, 1, 16, 16], values: [Float](repeating: 1, count: 256)))
        let url = dir.appendingPathComponent("hf.safetensors")
        try Safetensors.write(tensors, to: url)
        let other = try ModelDirectory.readWeights(config: m.config, from: url)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: other.parameters, count: other.parameterCount)), m.parameters.array)
        // A missing tensor or a wrong shape is a clear error.
        try Safetensors.write(Array(tensors.dropFirst()), to: url)
        XCTAssertThrowsError(try ModelDirectory.readWeights(config: m.config, from: url)) { XCTAssertEqual($0 as? ModelError, .missingTensor("wte.weight")) }
    }

    func testPreparedShardsTrainWithoutReencoding() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prepared = dir.appendingPathComponent("prepared")
        let r = try PreparedData.prepare(corpus: writeCorpus(smallCorpus, in: dir), val: nil, kind: .bpe, vocabSize: 290,
                                         valFraction: 0.1, out: prepared)
        XCTAssertTrue(PreparedData.isPrepared(prepared.path))
        XCTAssertEqual(try TokenShard.read(prepared.appendingPathComponent("train.bin")).count, r.train)
        var c = tinyConfig(corpus: prepared.path, out: dir.appendingPathComponent("model"))
        c.tokenizer = .char  // ignored: the prepared tokenizer wins
        let t = try Trainer(config: c)
        XCTAssertEqual(t.tokenizer.kind, .bpe)
        XCTAssertEqual(t.dataset.train.count, r.train)
        try t.run()
    }

    func testModelStoreListsAndRemoves() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try trainedModel(dir)
        let store = ModelStore(root: dir.path)
        let list = try store.list()
        XCTAssertEqual(list.map(\.name), ["model"])
        XCTAssertEqual(list[0].info?.trainingSteps, 4)
        XCTAssertEqual(list[0].info?.tokenizer, .bpe)
        XCTAssertGreaterThan(list[0].bytes, list[0].parameters * 4)
        XCTAssertEqual(store.resolve("model").path, dir.appendingPathComponent("model").path)
        XCTAssertThrowsError(try store.remove("../etc"))
        try store.remove("model")
        XCTAssertEqual(try store.list().count, 0)
    }
}
