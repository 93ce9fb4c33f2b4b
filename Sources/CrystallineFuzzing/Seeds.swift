// Valid inputs for every target: the files of a tiny trained run, tokenizers of each kind, and
// texts that stress the pre-tokenizer. `cllm-fuzz seeds DIR` writes them; the repository keeps
// a copy in Tests/FuzzSeeds/<target>/, which the tests and scripts/fuzz.sh start from.
import Foundation
import CrystallineFormats
import CrystallineTokenizers

public enum FuzzSeeds {
    /// A GGUF file with a Q8_0 tensor of two rows of 64 (two blocks each) beside an F32 one.
    static func q8Sample() -> Data {
        let quants = (0..<128).map { Int8(truncatingIfNeeded: $0 * 37 % 255 - 127) }
        let scales: [Float] = [0.5, 0.0009765625, 0.25, 3]  // fp16 values
        let q8 = quants.withUnsafeBufferPointer { q in
            scales.withUnsafeBufferPointer { s in GGUFTensor.q8_0(name: "blk.0.ffn_up.weight", shape: [2, 64], quants: q, scales: s) }
        }
        return GGUF.encode(metadata: [("general.architecture", .string("gpt2")), ("general.file_type", .uint32(7))],
                           tensors: [q8, GGUFTensor(name: "blk.0.ffn_up.bias", shape: [2], type: .f32, values: [1, -1])])
    }

    /// Seed files by target name: (file name, bytes).
    public static func generate() throws -> [String: [(String, Data)]] {
        let run = try FuzzTargets.fixture()
        let f = run.files
        let text = Array(String(repeating: FuzzTargets.sampleText, count: 4).utf8)
        func json<T: Encodable>(_ value: T) throws -> Data {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            return try e.encode(value)
        }
        let bpe = BPETokenizer.train(corpus: text, vocabSize: 300)
        let word = try WordTokenizer(corpus: text, maxVocab: 64)
        let char = try CharTokenizer(corpus: text)
        return [
            "safetensors": [("model.safetensors", f["model.safetensors"]!), ("checkpoint.safetensors", f["checkpoint.safetensors"]!)],
            "gguf": [("model-f32.gguf", f["model.gguf"]!), ("model-f16.gguf", f["model-f16.gguf"]!), ("q8_0.gguf", q8Sample())],
            "hf-tokenizer": [("bpe-tokenizer.json", try JSONSerialization.data(withJSONObject: HuggingFaceTokenizer.json(for: bpe), options: [.sortedKeys]))],
            "tokenizer-file": [("char.json", try json(char.file)), ("bpe.json", try json(bpe.file)), ("word.json", try json(word.file))],
            "model-config": [("config.json", f["config.json"]!)],
            "token-shard": [("train.bin", f["data/train.bin"]!), ("empty.bin", try TokenShard.encode([]))],
            "training-config": [("config.json", f["training-config.json"]!)],
            "checkpoint": [("checkpoint.safetensors", f["checkpoint.safetensors"]!)],
            "model-weights": [("model.safetensors", f["model.safetensors"]!)],
            "corpus-text": [("sample.txt", Data(text)),
                            ("contractions.txt", Data("I'll say it's 're 've 'd 'm 't 's '\n\t  \r\n x".utf8)),
                            ("invalid-utf8.bin", Data([0x61, 0xC3, 0x28, 0x20, 0xE2, 0x82, 0x20, 0xF0, 0x9F, 0x99, 0x82, 0xFF, 0x0A])),
                            ("long-word.txt", Data(String(repeating: "abcab", count: 200).utf8))],
            "robots-txt": [("groups.txt", Data("User-agent: CrystallineBot\nUser-agent: other\nDisallow: /private\nAllow: /private/open$\n\nUser-agent: *\nDisallow: /*.pdf$\nDisallow: /%7Ejoe\nSitemap: https://example.org/sitemap.xml\n".utf8)),
                           ("crlf-comments.txt", Data("# comment\r\nuser-agent: * # all\r\ndisallow: /a*b*c\r\nallow: /a/b/c\r\n".utf8))],
            "html": [("article.html", Data("<!doctype html><html><head><title>T</title><meta name=\"robots\" content=\"nofollow\"><base href=\"/x/\"></head><body><nav><a href=\"/\">Home</a></nav><article class=\"post\"><h1>Title</h1><p>First paragraph, with commas, and enough words to be main text.</p><ul><li>one</li><li>two</ul><pre>code\n  indented</pre></article><aside class=\"sidebar\">side</aside><footer>foot</footer><script>var a = '<p>';</script></body></html>".utf8)),
                     ("broken.html", Data("<div><p>unclosed <b>bold <i>italic</b> &amp; &#9731; &nosuch; <a href='rel'>link<p>next<!-- comment".utf8))],
        ]
    }

    /// The seed files kept in `directory/<target>/` (empty when there are none).
    public static func read(target: String, from directory: URL) -> [Data] {
        let dir = directory.appendingPathComponent(target)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
        return names.compactMap { try? Data(contentsOf: dir.appendingPathComponent($0)) }
    }
}
