// `cllm prepare`: a corpus tokenized once into llm.c shards plus the tokenizer, which
// `cllm train DIR` then reads in place (memory-mapped, never loaded whole).
//
// A prepared directory can grow: `prepare --append` encodes more text with the directory's own
// tokenizer (frozen, never retrained, so ids keep their meaning) into the next numbered shards
// (train_000001.bin, val_000001.bin, …), which a run with `follow_data` picks up as it goes.
import Foundation
import CrystallineFormats
import CrystallineTokenizers

public enum PreparedData {
    public static func isPrepared(_ path: String) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: (path as NSString).appendingPathComponent("train.bin"))
            && fm.fileExists(atPath: (path as NSString).appendingPathComponent("val.bin"))
            && fm.fileExists(atPath: (path as NSString).appendingPathComponent(TokenizerFile.fileName))
    }

    public struct Result: Sendable {
        public var tokenizer: any Tokenizer
        public var train: Int
        public var val: Int
        /// The shard files written (train, val).
        public var files: [String]
    }

    /// Encodes `corpus` into `out`. With `append` and an existing prepared directory, its
    /// tokenizer is reused and the tokens become its next shards; otherwise a new tokenizer is
    /// built and train.bin / val.bin are written.
    public static func prepare(corpus: String, val: String?, kind: TokenizerKind, vocabSize: Int?, valFraction: Double,
                               out: URL, append: Bool = false) throws -> Result {
        let appending = append && isPrepared(out.path)
        let frozen = appending ? try TokenizerFile.load(from: out) : nil
        let encoded = try EncodedCorpus.build(corpus: corpus, val: val, kind: frozen?.kind ?? kind, vocabSize: vocabSize,
                                              valFraction: valFraction, frozen: frozen)
        let tokenizer = encoded.tokenizer
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let (trainName, valName) = appending ? try nextShardNames(in: out) : ("train.bin", "val.bin")
        // Validation first: a run following the directory looks for new train shards, so the
        // pair is complete by the time it sees one.
        try TokenShard.write(encoded.val, to: out.appendingPathComponent(valName))
        try TokenShard.write(encoded.train, to: out.appendingPathComponent(trainName))
        if !appending {
            try tokenizer.file.save(to: out)
            try HuggingFaceTokenizer.write(tokenizer, to: out)
        }
        return Result(tokenizer: tokenizer, train: encoded.train.count, val: encoded.val.count, files: [trainName, valName])
    }

    /// train_NNNNNN.bin / val_NNNNNN.bin with the next free number (they sort after every shard
    /// already there, as a growing source requires).
    static func nextShardNames(in dir: URL) throws -> (String, String) {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        let used = names.compactMap { name -> Int? in
            guard name.hasPrefix("train_"), name.hasSuffix(".bin") else { return nil }
            return Int(name.dropFirst("train_".count).dropLast(".bin".count))
        }
        let n = (used.max() ?? 0) + 1
        let suffix = String(format: "%06d.bin", n)
        return ("train_" + suffix, "val_" + suffix)
    }
}
