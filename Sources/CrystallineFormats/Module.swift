// CrystallineFormats: bytes on disk.
//
// Owns atomic file writes, the safetensors container (bounds-checked reader and writer) and
// llm.c token shards. Knows nothing about models beyond named float tensors.
import Foundation

public enum FormatError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "cannot read \(p): \(r)"
        case .malformed(let p, let r): return "\(p) is not a valid file: \(r)"
        }
    }
}

public enum AtomicFile {
    /// Writes `data` to a temporary file beside `url`, flushes it, and renames it over `url`, so a
    /// crash or Ctrl-C leaves either the old file or the new one, never a torn one.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(contentsOf: data) }
    }

    /// The same, for a file written in pieces by `body` (so that a large file never has to be
    /// held whole in memory).
    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw FormatError.unreadable(path: tmp.path, reason: "cannot create file")
        }
        let handle = try FileHandle(forWritingTo: tmp)
        do {
            try body(handle)
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
        if rename(tmp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw FormatError.unreadable(path: url.path, reason: "rename failed: \(reason)")
        }
    }

    /// Removes the temporary files that writers killed mid-write left in `directory` (named
    /// `.<file>.<pid>.tmp`, as `write` names them). Call it only while holding the directory's
    /// lock, when no other writer can be using one. Returns the names removed.
    @discardableResult
    public static func removeStaleTemporaries(in directory: URL) -> [String] {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
        var removed: [String] = []
        for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp") {
            if (try? fm.removeItem(at: directory.appendingPathComponent(name))) != nil { removed.append(name) }
        }
        return removed
    }

    /// Encodes `value` as pretty, key-sorted JSON and writes it atomically.
    public static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try write(enc.encode(value), to: url)
    }
}

/// Reads a whole file with a clear error.
public func readFile(_ url: URL) throws -> Data {
    do { return try Data(contentsOf: url) } catch {
        throw FormatError.unreadable(path: url.path, reason: (error as NSError).localizedDescription)
    }
}
