// WARC 1.1 (ISO 28500:2017) output: the crawler's raw responses, the requests that produced
// them, the extracted text as `conversion` records (as Common Crawl's WET files hold it), and
// `revisit` records for payloads already stored. Each record is its own gzip member, so a reader
// can start at any record's offset; `warcio check` verifies the block and payload digests.
import Foundation
import CrystallineFormats

/// One WARC record, before serialisation.
public struct WARCRecord: Sendable {
    public enum RecordType: String, Sendable { case warcinfo, request, response, conversion, revisit, resource, metadata }
    public var type: RecordType
    public var id: String
    public var date: Date
    /// Header fields after the mandatory ones, in order (`WARC-Target-URI`, …).
    public var fields: [(String, String)]
    public var contentType: String
    public var block: [UInt8]
    /// For response and revisit records: the HTTP entity body, whose digest is `WARC-Payload-Digest`.
    public var payload: [UInt8]?

    public init(type: RecordType, id: String = WARCRecord.newID(), date: Date = Date(), fields: [(String, String)] = [],
                contentType: String, block: [UInt8], payload: [UInt8]? = nil) {
        self.type = type; self.id = id; self.date = date; self.fields = fields
        self.contentType = contentType; self.block = block; self.payload = payload
    }

    public static func newID() -> String { "<urn:uuid:\(UUID().uuidString.lowercased())>" }

    public static func digest(_ bytes: [UInt8]) -> String { "sha1:" + Base32.encode(SHA1.digest(bytes)) }

    /// WARC-Date: UTC, second precision (§5.4).
    public static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    /// The record as bytes: version line, header fields, a blank line, the block, two CRLFs.
    public func serialized() -> [UInt8] {
        var header = "WARC/1.1\r\nWARC-Type: \(type.rawValue)\r\nWARC-Record-ID: \(id)\r\nWARC-Date: \(Self.timestamp(date))\r\n"
        for (name, value) in fields {
            // A field value may not hold a line break (it would start a new field).
            header += "\(name): \(value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " "))\r\n"
        }
        header += "Content-Type: \(contentType)\r\n"
        header += "WARC-Block-Digest: \(Self.digest(block))\r\n"
        if let payload { header += "WARC-Payload-Digest: \(Self.digest(payload))\r\n" }
        header += "Content-Length: \(block.count)\r\n\r\n"
        return Array(header.utf8) + block + Array("\r\n\r\n".utf8)
    }
}

/// HTTP messages as WARC blocks hold them.
public enum HTTPMessage {
    /// A request line and headers (no body: the crawler only sends GETs).
    public static func request(method: String = "GET", url: URL, headers: [(String, String)]) -> [UInt8] {
        var path = url.path.isEmpty ? "/" : url.path
        if let q = url.query { path += "?" + q }
        var s = "\(method) \(path) HTTP/1.1\r\nHost: \(hostHeader(url))\r\n"
        for (k, v) in headers { s += "\(k): \(v)\r\n" }
        return Array((s + "\r\n").utf8)
    }

    /// A status line, headers and body. The body is the decoded payload, so framing headers that
    /// described the wire form (Content-Encoding, Transfer-Encoding, Content-Length) are
    /// replaced by the true length.
    public static func response(status: Int, reason: String, headers: [(String, String)], body: [UInt8]) -> [UInt8] {
        var s = "HTTP/1.1 \(status) \(reason)\r\n"
        for (k, v) in headers where !["content-encoding", "transfer-encoding", "content-length"].contains(k.lowercased()) {
            s += "\(k): \(v)\r\n"
        }
        s += "Content-Length: \(body.count)\r\n\r\n"
        return Array(s.utf8) + body
    }

    public static func responseHeadersOnly(status: Int, reason: String, headers: [(String, String)]) -> [UInt8] {
        var s = "HTTP/1.1 \(status) \(reason)\r\n"
        for (k, v) in headers where !["content-encoding", "transfer-encoding"].contains(k.lowercased()) { s += "\(k): \(v)\r\n" }
        return Array((s + "\r\n").utf8)
    }

    static func hostHeader(_ url: URL) -> String {
        let host = url.host ?? ""
        if let port = url.port, !(url.scheme == "http" && port == 80) && !(url.scheme == "https" && port == 443) { return "\(host):\(port)" }
        return host
    }
}

/// Appends records to one `.warc.gz` file, one gzip member per record.
public final class WARCWriter {
    public let url: URL
    private let handle: FileHandle
    /// Bytes in the file: where the next record starts.
    public private(set) var offset: UInt64

    /// Opens (creating if needed) `url` for appending. A file that already holds records is
    /// continued; `truncateTo` first cuts it back to a known-good length (the end of the last
    /// record a crash-safe state recorded), dropping a record torn by a crash.
    public init(url: URL, truncateTo: UInt64? = nil) throws {
        self.url = url
        let fm = FileManager.default
        try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !fm.fileExists(atPath: url.path) { fm.createFile(atPath: url.path, contents: nil) }
        handle = try FileHandle(forUpdating: url)
        if let truncateTo { try handle.truncate(atOffset: truncateTo) }
        offset = try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    /// Writes `records` and flushes them to disk; returns each record's (offset, length) in the file.
    @discardableResult
    public func write(_ records: [WARCRecord]) throws -> [(offset: UInt64, length: UInt64)] {
        var placed: [(UInt64, UInt64)] = []
        var bytes: [UInt8] = []
        for r in records {
            let member = Gzip.member(r.serialized())
            placed.append((offset + UInt64(bytes.count), UInt64(member.count)))
            bytes += member
        }
        try handle.write(contentsOf: bytes)
        try handle.synchronize()
        offset += UInt64(bytes.count)
        return placed
    }

    /// The opening `warcinfo` record of a file (§6.4): the software, the format, the operator's settings.
    public static func info(filename: String, fields: [(String, String)]) -> WARCRecord {
        var block = ""
        for (k, v) in fields { block += "\(k): \(v)\r\n" }
        return WARCRecord(type: .warcinfo, fields: [("WARC-Filename", filename)], contentType: "application/warc-fields", block: Array(block.utf8))
    }
}
