// Hugging Face `tokenizer.json`: written beside every model so that
// `tokenizers.Tokenizer.from_file` encodes text to exactly our ids, and read back to import a
// byte-level BPE tokenizer (GPT-2's own included).
//
//   bpe  -> BPE model, ByteLevel pre-tokenizer (GPT-2 regex) and decoder, merges by rank
//   char -> WordLevel over single characters (a Split pre-tokenizer isolating each one)
//   word -> WordLevel over GPT-2's pieces (ByteLevel pre-tokenizer and decoder), unknown -> <unk>;
//           a word tokenizer of the original scheme: Lowercase normalizer and WhitespaceSplit
// Special tokens are `added_tokens` marked special, so `decode(skip_special_tokens=True)` and
// `generate`'s end-of-text handling treat them as Hugging Face's own tokenizers do.
import Foundation
import CrystallineFormats

public enum HuggingFaceTokenizer {
    public static let fileName = "tokenizer.json"

    public static func json(for tokenizer: any Tokenizer) -> [String: Any] {
        var root: [String: Any] = ["version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": [Any](),
                                   "normalizer": NSNull(), "post_processor": NSNull()]
        var vocab: [String: Int] = [:]
        switch tokenizer {
        case let bpe as BPETokenizer:
            for (i, b) in bpe.tokenBytes.enumerated() where vocab[ByteAlphabet.string(b)] == nil { vocab[ByteAlphabet.string(b)] = i }
            let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
            root["pre_tokenizer"] = byteLevel
            root["decoder"] = byteLevel
            for (i, name) in bpe.specials.enumerated() { vocab[name] = bpe.tokenBytes.count + i }
            root["model"] = ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                             "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                             "vocab": vocab, "merges": bpe.file.merges ?? []] as [String: Any]
        case let char as CharTokenizer:
            for (i, c) in char.characters.enumerated() { vocab[String(c)] = i }
            for (i, name) in char.specials.enumerated() { vocab[name] = char.characters.count + i }
            root["pre_tokenizer"] = ["type": "Split", "pattern": ["Regex": "[\\s\\S]"], "behavior": "Isolated", "invert": false] as [String: Any]
            root["decoder"] = ["type": "Fuse"]
            root["model"] = ["type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"] as [String: Any]
        case let word as WordTokenizer where word.scheme == .gpt2Pieces:
            // Words in GPT-2's byte alphabet, as the ByteLevel pre-tokenizer hands them over.
            for (i, w) in word.words.enumerated() {
                let key = word.isSpecial(Int32(i)) ? w : ByteAlphabet.string(Array(w.utf8))
                if vocab[key] == nil { vocab[key] = i }
            }
            let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
            root["pre_tokenizer"] = byteLevel
            root["decoder"] = byteLevel
            root["model"] = ["type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"] as [String: Any]
        case let word as WordTokenizer:
            for (i, w) in word.words.enumerated() where vocab[w] == nil { vocab[w] = i }
            root["normalizer"] = ["type": "Lowercase"]
            root["pre_tokenizer"] = ["type": "WhitespaceSplit"]
            root["decoder"] = NSNull()
            root["model"] = ["type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"] as [String: Any]
        default:
            break
        }
        root["added_tokens"] = (0..<Int32(tokenizer.vocabSize)).filter(tokenizer.isSpecial).map { id in
            ["id": Int(id), "content": tokenizer.tokenString(id), "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true] as [String: Any]
        }
        return root
    }

    public static func write(_ tokenizer: any Tokenizer, to directory: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: json(for: tokenizer), options: [.sortedKeys])
        try AtomicFile.write(data, to: directory.appendingPathComponent(fileName))
    }

    /// Imports a byte-level BPE `tokenizer.json` (the kind GPT-2 and our exports use).
    public static func read(_ url: URL) throws -> BPETokenizer {
        try decode(readFile(url), path: url.path)
    }

    /// The same, from the file's bytes (`path` names it in errors).
    public static func decode(_ data: Data, path: String) throws -> BPETokenizer {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let model = root["model"] as? [String: Any], (model["type"] as? String) == "BPE",
              let vocab = model["vocab"] as? [String: Int] else {
            throw TokenizerError.invalidFile("\(path) is not a byte-level BPE tokenizer.json")
        }
        var merges: [String] = []
        if let m = model["merges"] as? [String] { merges = m }
        else if let m = model["merges"] as? [[String]] { merges = m.map { $0.joined(separator: " ") } }
        // Ids must be 0..<count, each once: checked before anything is sized by them.
        var strings = [String?](repeating: nil, count: vocab.count)
        for (token, id) in vocab {
            guard id >= 0, id < vocab.count else {
                throw TokenizerError.invalidFile("\(path): token \(token.debugDescription) has id \(id), outside 0..<\(vocab.count) (ids must be contiguous)")
            }
            guard strings[id] == nil else { throw TokenizerError.invalidFile("\(path): id \(id) is given to two tokens") }
            strings[id] = token
        }
        return try BPETokenizer(mergeStrings: merges, vocabStrings: strings.map { $0! })
    }
}
