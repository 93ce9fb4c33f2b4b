// llm.c token shards: a 256 × int32 header (magic 20240520, version 1, token count) followed by
// the tokens as little-endian uint16. Used to cache an encoded corpus and to exchange datasets.
import Foundation

public enum TokenShard {
    public static let magic: Int32 = 20240520
    public static let version: Int32 = 1

    public static func encode(_ tokens: [Int32]) throws -> Data {
        var data = try header(count: tokens.count)
        data.append(try packed(tokens[...]))
        return data
    }

    /// The 1024-byte header of a shard of `count` tokens.
    static func header(count: Int) throws -> Data {
        guard count <= Int(Int32.max) else {
            throw FormatError.malformed(path: "<tokens>", reason: "\(count) tokens do not fit one shard (at most \(Int32.max))")
        }
        var data = Data(count: 1024)
        data.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: Int32.self)
            raw.storeBytes(of: version.littleEndian, toByteOffset: 4, as: Int32.self)
            raw.storeBytes(of: Int32(count).littleEndian, toByteOffset: 8, as: Int32.self)
        }
        return data
    }

    /// Tokens as little-endian uint16.
    static func packed(_ tokens: ArraySlice<Int32>) throws -> Data {
        var data = Data(count: 2 * tokens.count)
        try data.withUnsafeMutableBytes { raw in
            for (i, t) in tokens.enumerated() {
                guard t >= 0, t <= Int32(UInt16.max) else {
                    throw FormatError.malformed(path: "<tokens>", reason: "token \(t) does not fit the uint16 shard format")
                }
                raw.storeBytes(of: UInt16(t).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        }
        return data
    }

    /// The number of tokens of a shard, after checking its header against its size.
    public static func tokenCount(_ data: Data, path: String = "<memory>") throws -> Int {
        func bad(_ r: String) -> FormatError { .malformed(path: path, reason: r) }
        guard data.count >= 1024 else { throw bad("shorter than the 1024-byte header") }
        let header = data.withUnsafeBytes { raw in (0..<3).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) } }
        guard header[0] == magic else { throw bad("magic \(header[0]) is not \(magic) (llm.c token shard)") }
        guard header[1] == version else { throw bad("version \(header[1]) is not supported (expected \(version))") }
        let count = Int(header[2])
        guard count >= 0, data.count == 1024 + 2 * count else {
            throw bad("header says \(count) tokens but the file holds \((data.count - 1024) / 2)")
        }
        return count
    }

    public static func decode(_ data: Data, path: String = "<memory>") throws -> [Int32] {
        let count = try tokenCount(data, path: path)
        return data.withUnsafeBytes { raw in
            (0..<count).map { Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 1024 + 2 * $0, as: UInt16.self))) }
        }
    }

    public static func read(_ url: URL) throws -> [Int32] { try decode(readFile(url), path: url.path) }
    /// Writes a shard atomically, a million tokens at a time (a shard of the whole corpus never
    /// sits in memory beside the tokens).
    public static func write(_ tokens: [Int32], to url: URL) throws {
        let head = try header(count: tokens.count)
        try AtomicFile.write(to: url) { file in
            try file.write(contentsOf: head)
            var start = 0
            while start < tokens.count {
                let end = min(start + (1 << 20), tokens.count)
                try file.write(contentsOf: packed(tokens[start..<end]))
                start = end
            }
        }
    }
}
