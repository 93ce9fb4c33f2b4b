// The inbox of a run that keeps learning: a directory where `cllm crawl` or `cllm ingest` (or
// anything else) drops text files. Each look turns the documents not seen before into token
// shards with the run's own tokenizer (frozen: ids keep their meaning), the last `valFraction`
// of each document held out for validation on the new text. A document is known by the SHA-1
// of its bytes, so a copy, a rename or a second crawl of the same page is absorbed once.
//
// The shards go to the run's `follow/` directory as train_NNNNNN.bin / val_NNNNNN.bin, and a
// manifest (written atomically after them) lists what has been absorbed. Shards a crash left
// behind without a manifest entry are removed on the next look, so a killed run never
// absorbs a document twice.
import Foundation
import CrystallineFormats
import CrystallineTokenizers

public final class DocumentInbox {
    /// The watched directory.
    public let directory: URL
    /// Where the shards and the manifest are written.
    public let shards: URL
    public let tokenizer: any Tokenizer
    public let valFraction: Double
    /// Files smaller than this many bytes wait (a writer may still be filling them).
    public var minimumBytes = 1

    struct Manifest: Codable {
        var shards = 0
        /// SHA-1 of each absorbed document → the shard number that holds it (0: skipped).
        var documents: [String: Int] = [:]
    }

    /// What one look found.
    public struct Absorbed: Sendable, Equatable {
        public var documents = 0
        public var trainTokens = 0
        public var valTokens = 0
        /// Files that could not be absorbed, with the reason (each reported once).
        public var skipped: [String] = []
        public init() {}
    }

    private var manifest: Manifest
    /// (size, modification time) → SHA-1 for files already hashed, so a look reads only new files.
    private var known: [String: (Int, Date, String)] = [:]

    public init(directory: URL, shards: URL, tokenizer: any Tokenizer, valFraction: Double = 0.1) throws {
        self.directory = directory
        self.shards = shards
        self.tokenizer = tokenizer
        self.valFraction = valFraction
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError("\(directory.path) is not a directory to follow")
        }
        try FileManager.default.createDirectory(at: shards, withIntermediateDirectories: true)
        let url = shards.appendingPathComponent("manifest.json")
        if let data = try? Data(contentsOf: url) {
            do { manifest = try JSONDecoder().decode(Manifest.self, from: data) } catch {
                throw DataError("\(url.path) is unreadable (\(error)); remove the follow directory to absorb the inbox again")
            }
        } else {
            manifest = Manifest()
        }
        try removeOrphans()
    }

    /// Documents absorbed so far.
    public var documentCount: Int { manifest.documents.count }

    /// Shards numbered past the manifest: written by a run killed before it recorded them.
    private func removeOrphans() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: shards.path) {
            guard let n = Self.shardNumber(name), n > manifest.shards else { continue }
            try FileManager.default.removeItem(at: shards.appendingPathComponent(name))
        }
    }

    static func shardNumber(_ name: String) -> Int? {
        for prefix in ["train_", "val_"] where name.hasPrefix(prefix) && name.hasSuffix(".bin") {
            return Int(name.dropFirst(prefix.count).dropLast(4))
        }
        return nil
    }

    /// Text files under the directory (recursively; hidden files and temporaries skipped), by name.
    func candidates() -> [URL] {
        let fm = FileManager.default
        guard let items = fm.enumerator(atPath: directory.path) else { return [] }
        var out: [URL] = []
        for case let item as String in items {
            let parts = item.split(separator: "/")
            guard !parts.contains(where: { $0.hasPrefix(".") }), item.hasSuffix(".txt") || item.hasSuffix(".md") else { continue }
            out.append(directory.appendingPathComponent(item))
        }
        return out.sorted { $0.path < $1.path }
    }

    /// Absorbs the documents not seen before into one new pair of shards.
    @discardableResult
    public func absorb() throws -> Absorbed {
        var result = Absorbed()
        var train: [Int32] = [], val: [Int32] = []
        var added: [String] = []
        var skippedHashes: [String] = []
        for url in candidates() {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
                  let size = (attributes[.size] as? NSNumber)?.intValue, size >= minimumBytes,
                  let modified = attributes[.modificationDate] as? Date else { continue }
            // A file already hashed is not read again; a new one is read once, for its hash and its tokens.
            var bytes: [UInt8]?
            let sha: String
            if let k = known[url.path], k.0 == size, k.1 == modified { sha = k.2 } else {
                guard let data = FileManager.default.contents(atPath: url.path) else { continue }
                bytes = [UInt8](data)
                sha = SHA1.hex(bytes!)
                known[url.path] = (size, modified, sha)
            }
            if manifest.documents[sha] != nil || added.contains(sha) || skippedHashes.contains(sha) { continue }
            if bytes == nil { bytes = FileManager.default.contents(atPath: url.path).map { [UInt8]($0) } }
            guard let bytes else { continue }
            do {
                let tokens = try tokenizer.encode(bytes)
                let cut = TokenDataset.cut(tokens.count, valFraction: valFraction)
                train += tokens[..<cut]
                val += tokens[cut...]
                added.append(sha)
                result.documents += 1
            } catch {
                result.skipped.append("\(url.lastPathComponent): \(error)")
                skippedHashes.append(sha)
            }
        }
        guard !added.isEmpty || !skippedHashes.isEmpty else { return result }
        var next = manifest
        if !added.isEmpty {
            next.shards += 1
            let suffix = String(format: "%06d.bin", next.shards)
            // Validation first: a reader that sees the train shard finds its pair complete.
            try TokenShard.write(val, to: shards.appendingPathComponent("val_" + suffix))
            try TokenShard.write(train, to: shards.appendingPathComponent("train_" + suffix))
        }
        for sha in added { next.documents[sha] = next.shards }
        for sha in skippedHashes { next.documents[sha] = 0 }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(next), to: shards.appendingPathComponent("manifest.json"))
        manifest = next
        result.trainTokens = train.count
        result.valTokens = val.count
        return result
    }
}
