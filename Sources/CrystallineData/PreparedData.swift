// `cllm prepare`: a corpus tokenized once into llm.c shards plus the tokenizer.
import Foundation
import CrystallineFormats
import CrystallineTokenizers

/// `cllm prepare`: a corpus tokenized once into llm.c shards plus the tokenizer, which
/// `cllm train DIR` then trains on without re-encoding.
public enum PreparedData {
    public static func isPrepared(_ path: String) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: (path as NSString).appendingPathComponent("train.bin"))
            && fm.fileExists(atPath: (path as NSString).appendingPathComponent("val.bin"))
            && fm.fileExists(atPath: (path as NSString).appendingPathComponent(TokenizerFile.fileName))
    }

    public static func prepare(corpus: String, val: String?, kind: TokenizerKind, vocabSize: Int?, valFraction: Double,
                               out: URL) throws -> (tokenizer: any Tokenizer, train: Int, val: Int) {
        let encoded = try EncodedCorpus.build(corpus: corpus, val: val, kind: kind, vocabSize: vocabSize, valFraction: valFraction)
        let (tokenizer, trainTokens, valTokens) = (encoded.tokenizer, encoded.train, encoded.val)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try TokenShard.write(trainTokens, to: out.appendingPathComponent("train.bin"))
        try TokenShard.write(valTokens, to: out.appendingPathComponent("val.bin"))
        try tokenizer.file.save(to: out)
        try HuggingFaceTokenizer.write(tokenizer, to: out)
        return (tokenizer, trainTokens.count, valTokens.count)
    }
}
