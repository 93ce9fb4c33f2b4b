// Reads WARC files back: every gzip member whole, every record's Content-Length and block
// digest right. Then, where the `warcio` tool is installed (pip install warcio), `warcio check`
// must agree; without it that half is skipped with a message.
import Foundation
import XCTest
import CrystallineFormats

enum WARCCheck {
    struct Record { var headers: [String: String]; var block: [UInt8] }

    static func records(_ url: URL) throws -> [Record] {
        let raw = [UInt8](try Data(contentsOf: url))
        guard let bytes = Gzip.decompressMembers(raw) else { throw NSError(domain: "WARC", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(url.lastPathComponent): a damaged gzip member"]) }
        var records: [Record] = []
        var i = 0
        while i < bytes.count {
            guard let end = find(bytes, [13, 10, 13, 10], from: i) else { throw NSError(domain: "WARC", code: 2) }
            let head = String(decoding: bytes[i..<end], as: UTF8.self).components(separatedBy: "\r\n")
            guard head.first == "WARC/1.1" else { throw NSError(domain: "WARC", code: 3, userInfo: [NSLocalizedDescriptionKey: "bad version line \(head.first ?? "")"]) }
            var headers: [String: String] = [:]
            for line in head.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[String(line[..<colon])] = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            }
            guard let length = headers["Content-Length"].flatMap(Int.init) else { throw NSError(domain: "WARC", code: 4) }
            let blockStart = end + 4
            let block = Array(bytes[blockStart..<(blockStart + length)])
            guard Array(bytes[(blockStart + length)..<(blockStart + length + 4)]) == [13, 10, 13, 10] else { throw NSError(domain: "WARC", code: 5) }
            records.append(Record(headers: headers, block: block))
            i = blockStart + length + 4
        }
        return records
    }

    static func find(_ b: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        var i = from
        while i + needle.count <= b.count {
            if b[i] == needle[0] && Array(b[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    static func verify(directory: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".warc.gz") }.sorted()
        XCTAssertFalse(files.isEmpty, "no WARC files", file: file, line: line)
        var types: [String: Int] = [:]
        for name in files {
            for r in try records(directory.appendingPathComponent(name)) {
                types[r.headers["WARC-Type"] ?? "?", default: 0] += 1
                XCTAssertEqual(r.headers["WARC-Block-Digest"], "sha1:" + Base32.encode(SHA1.digest(r.block)), "\(name): block digest", file: file, line: line)
                XCTAssertNotNil(r.headers["WARC-Record-ID"], file: file, line: line)
            }
        }
        XCTAssertGreaterThan(types["response"] ?? 0, 0, file: file, line: line)
        XCTAssertEqual(types["request"], types["response"], "one request per response", file: file, line: line)
        guard let warcio = ["/usr/local/bin/warcio", "/usr/bin/warcio"].first(where: FileManager.default.isExecutableFile(atPath:))
                ?? findOnPath("warcio") else {
            print("note: warcio is not installed (pip install warcio): `warcio check` skipped; the records were verified here")
            return
        }
        let (status, text) = try KillHelpers.run(URL(fileURLWithPath: warcio), ["check"] + files.map { directory.appendingPathComponent($0).path })
        XCTAssertEqual(status, 0, "warcio check: \(text)", file: file, line: line)
    }

    static func findOnPath(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}
