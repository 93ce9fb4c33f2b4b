// CrystallineData: from text on disk to the token windows a training step reads.
//
// Owns corpus reading (files and directories, text checks), the one corpus-to-tokens path
// (`EncodedCorpus`), llm.c token shards as the on-disk unit (`cllm prepare`), token sources
// (in memory, or a directory of shards that may grow while a run goes on, mixed by weight)
// and the seeded sampling of training windows. Imports tokenizers, formats and compute (the
// RNG); knows nothing of models or training.
//
// Reading a corpus (a file, or a directory of text files) and turning it into token streams.
import Foundation
import CrystallineFormats
import CrystallineTokenizers
import CrystallineCompute

public struct Corpus {
    public var bytes: [UInt8]
    public var files: [String]
    /// Files left out of a directory corpus, with the reason.
    public var skipped: [(path: String, reason: String)]

    /// The default corpus's name: `data/tinyshakespeare.txt` in the working directory if there
    /// is one, otherwise the copy bundled with the program.
    public static let defaultPath = "data/tinyshakespeare.txt"

    /// The copy of tinyshakespeare bundled with the program: in the resource folder SwiftPM puts
    /// beside the executable, or in `../share/cllm` of an installed one. Looked up by hand, not
    /// through `Bundle.module`, which stops the program when its folder is missing.
    public static var bundledDefault: URL? {
        guard let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() else { return nil }
        let dir = executable.deletingLastPathComponent()
        return [dir.appendingPathComponent("Crystalline_CrystallineData.resources/tinyshakespeare.txt"),
                dir.appendingPathComponent("../share/cllm/tinyshakespeare.txt").standardized]
            .first { FileManager.default.isReadableFile(atPath: $0.path) }
    }

    /// Where `path` is read from: itself, or the bundled copy for the default name when the
    /// working directory has none.
    public static func resolve(_ path: String) -> String {
        if path == defaultPath, !FileManager.default.fileExists(atPath: path), let bundled = bundledDefault { return bundled.path }
        return path
    }

    /// Loads `path`: "-" is standard input; a directory is read recursively in sorted order,
    /// keeping text files only (a NUL byte or invalid UTF-8 marks a file as binary), files
    /// joined with a newline; anything else readable (a file, a pipe, /dev/stdin) as one text.
    public static func load(_ path: String) throws -> Corpus {
        if path == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            guard !data.isEmpty else { throw DataError("standard input is empty") }
            return Corpus(bytes: [UInt8](data), files: ["-"], skipped: [])
        }
        let path = resolve(path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DataError("corpus '\(path)' does not exist")
        }
        if !isDir.boolValue {
            let data: Data
            do { data = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)).readToEnd() ?? Data() } catch {
                throw DataError("cannot read corpus '\(path)': \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
            }
            guard !data.isEmpty else { throw DataError("corpus '\(path)' is empty") }
            return Corpus(bytes: [UInt8](data), files: [path], skipped: [])
        }
        guard let walker = FileManager.default.enumerator(atPath: path) else {
            throw DataError("cannot list directory '\(path)'")
        }
        var names: [String] = []
        while let name = walker.nextObject() as? String { names.append(name) }
        var corpus = Corpus(bytes: [], files: [], skipped: [])
        for name in names.sorted() {
            let full = (path as NSString).appendingPathComponent(name)
            var sub: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue else { continue }
            guard let data = FileManager.default.contents(atPath: full) else {
                corpus.skipped.append((full, "unreadable")); continue
            }
            if data.isEmpty { corpus.skipped.append((full, "empty")); continue }
            let bytes = [UInt8](data)
            if bytes.contains(0) || (try? validatedText(bytes)) == nil {
                corpus.skipped.append((full, "binary (not UTF-8 text)")); continue
            }
            if !corpus.bytes.isEmpty { corpus.bytes.append(0x0A) }
            corpus.bytes += bytes
            corpus.files.append(full)
        }
        guard !corpus.bytes.isEmpty else { throw DataError("directory '\(path)' holds no text files") }
        return corpus
    }
}

/// A corpus turned into a tokenizer and train/validation token streams: the one path that both
/// `cllm train` and `cllm prepare` take.
public struct EncodedCorpus {
    public var tokenizer: any Tokenizer
    public var train: [Int32]
    public var val: [Int32]
    public var source: Corpus

    /// The tokenizer is built from the corpus (plus the validation corpus for char and word,
    /// whose vocabularies must cover it; BPE merges are learned from training text only). Without
    /// a validation corpus the last `valFraction` of the tokens is held out, as in nanoGPT.
    /// A `frozen` tokenizer (one a model or an earlier `prepare` already uses) is reused as it is.
    public static func build(corpus path: String, val valPath: String?, kind: TokenizerKind, vocabSize: Int?,
                             valFraction: Double, frozen: (any Tokenizer)? = nil) throws -> EncodedCorpus {
        guard valPath != nil || (valFraction > 0 && valFraction < 1) else {
            throw DataError("the validation fraction must be between 0 and 1 (got \(valFraction))")
        }
        if let vocabSize, vocabSize < 1 || vocabSize > 1 << 20 { throw DataError("the vocabulary size must be between 1 and 1,048,576 (got \(vocabSize))") }
        let corpus = try Corpus.load(path)
        let valCorpus = try valPath.map { try Corpus.load($0) }
        var vocabText = corpus.bytes
        if let v = valCorpus, kind != .bpe { vocabText += [0x0A] + v.bytes }
        let tokenizer = try frozen ?? trainTokenizer(kind: kind, corpus: vocabText, vocabSize: vocabSize)
        var tokens = try tokenizer.encode(corpus.bytes)
        if let v = valCorpus {
            return EncodedCorpus(tokenizer: tokenizer, train: tokens, val: try tokenizer.encode(v.bytes), source: corpus)
        }
        // Split in place: the training part keeps the encoded buffer, only the (small)
        // validation part is copied, so the tokens are held once, not twice.
        let cut = TokenDataset.cut(tokens.count, valFraction: valFraction)
        let val = Array(tokens[cut...])
        tokens.removeSubrange(cut...)
        return EncodedCorpus(tokenizer: tokenizer, train: tokens, val: val, source: corpus)
    }
}

/// Train and validation token sources plus seeded random windows over them.
public struct TokenDataset: Sendable {
    public let train: any TokenSource
    public let val: any TokenSource

    /// Splits one stream: the first (1 − valFraction) for training, the rest for validation (nanoGPT).
    public init(tokens: [Int32], valFraction: Double, blockSize: Int) throws {
        let (train, val) = Self.split(tokens, valFraction: valFraction)
        try self.init(train: train, val: val, blockSize: blockSize)
    }

    /// The first (1 − valFraction) of the stream, and the rest.
    public static func split(_ tokens: [Int32], valFraction: Double) -> (train: [Int32], val: [Int32]) {
        // (EncodedCorpus.build divides its own buffer in place at the same point.)
        let cut = Self.cut(tokens.count, valFraction: valFraction)
        return (Array(tokens[..<cut]), Array(tokens[cut...]))
    }

    /// Where a stream of `count` tokens divides into training and validation.
    static func cut(_ count: Int, valFraction: Double) -> Int { Int(Double(count) * (1 - valFraction)) }

    public init(train: [Int32], val: [Int32], blockSize: Int) throws {
        try self.init(train: InMemoryTokens(train), val: InMemoryTokens(val), blockSize: blockSize)
    }

    public init(train: any TokenSource, val: any TokenSource, blockSize: Int) throws {
        guard train.count > blockSize + 1 else {
            throw DataError("the training split has \(train.count) tokens, fewer than one block (\(blockSize) + 1); use a larger corpus or a smaller --block-size")
        }
        guard val.count > blockSize + 1 else {
            throw DataError("the validation split has \(val.count) tokens, fewer than one block (\(blockSize) + 1); use a larger corpus, a larger validation fraction or a smaller --block-size")
        }
        self.train = train
        self.val = val
    }

    /// Fills `inputs` and `targets` (B·T each) with B random windows of `split`; targets are
    /// the inputs shifted by one token.
    public static func sample(_ split: any TokenSource, B: Int, T: Int, rng: inout Xoshiro256,
                              inputs: inout [Int32], targets: inout [Int32]) {
        let limit = split.count - T - 1
        inputs.withUnsafeMutableBufferPointer { x in
            targets.withUnsafeMutableBufferPointer { y in
                for b in 0..<B {
                    let start = rng.nextInt(below: limit + 1)
                    split.read(from: start, count: T, into: x.baseAddress! + b * T)
                    split.read(from: start + 1, count: T, into: y.baseAddress! + b * T)
                }
            }
        }
    }

    /// Advances `rng` exactly as `sample` would, reading nothing: how a process of a
    /// data-parallel run passes over the micro-batches other processes compute.
    public static func skip(_ split: any TokenSource, B: Int, T: Int, rng: inout Xoshiro256) {
        let limit = split.count - T - 1
        for _ in 0..<B { _ = rng.nextInt(below: limit + 1) }
    }

    /// The same from a mixture: each window's source is drawn by weight, then its position.
    public static func sample(_ mixture: SourceMixture, B: Int, T: Int, rng: inout Xoshiro256,
                              inputs: inout [Int32], targets: inout [Int32]) {
        inputs.withUnsafeMutableBufferPointer { x in
            targets.withUnsafeMutableBufferPointer { y in
                for b in 0..<B {
                    let source = mixture.sources[mixture.pick(rng.nextDouble())]
                    let start = rng.nextInt(below: source.count - T)
                    source.read(from: start, count: T, into: x.baseAddress! + b * T)
                    source.read(from: start + 1, count: T, into: y.baseAddress! + b * T)
                }
            }
        }
    }
}
