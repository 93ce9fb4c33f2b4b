// A small HTTP/1.1 server on 127.0.0.1 for the crawler tests: each route answers what a test
// needs (slow, broken, 429 with Retry-After, redirects), and every request is logged with its
// arrival time, so a test can prove what was and was not requested, and when.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct TestResponse: Sendable {
    var status = 200
    var headers: [(String, String)] = [("Content-Type", "text/html; charset=utf-8")]
    var body: [UInt8] = []
    /// Seconds to wait before answering (a slow page).
    var delay = 0.0
    /// Close the connection after this many body bytes although Content-Length promised more.
    var breakAfter: Int?

    static func html(_ s: String) -> TestResponse { TestResponse(body: Array(s.utf8)) }
    static func text(_ s: String) -> TestResponse { TestResponse(headers: [("Content-Type", "text/plain")], body: Array(s.utf8)) }
    static func status(_ code: Int, headers: [(String, String)] = []) -> TestResponse { TestResponse(status: code, headers: headers) }
    static func redirect(_ location: String, status: Int = 301) -> TestResponse { TestResponse(status: status, headers: [("Location", location)]) }
}

final class TestHTTPServer: @unchecked Sendable {
    struct Entry: Sendable { var path: String; var userAgent: String; var arrived: Double; var finished: Double? }

    private let lock = NSLock()
    private var entries: [Entry] = []
    private var handler: @Sendable (String, Int) -> TestResponse
    private var counts: [String: Int] = [:]
    private let listener: Int32
    let port: Int
    private var stopped = false

    /// `handler(path, n)` answers the n-th request (0-based) for `path`.
    init(handler: @escaping @Sendable (String, Int) -> TestResponse) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 64) == 0 else { throw NSError(domain: "TestHTTPServer", code: Int(errno)) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listener = fd
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// A copy made under the lock (a fresh buffer, not a shared one: the server threads keep
    /// appending to theirs).
    var log: [Entry] { lock.withLock { entries.map { $0 } } }
    func requests(_ path: String) -> [Entry] { log.filter { $0.path == path } }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { if lock.withLock({ stopped }) { return }; continue }
            let t = Thread { [self] in serve(fd) }
            t.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.containsHeaderEnd {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return }
            request += buffer.prefix(n)
            if request.count > 65536 { return }
        }
        let head = String(decoding: request, as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2 else { return }
        let path = String(parts[1])
        let agent = lines.first { $0.lowercased().hasPrefix("user-agent:") }.map { String($0.dropFirst("user-agent:".count)).trimmingCharacters(in: .whitespaces) } ?? ""
        let (index, n): (Int, Int) = lock.withLock {
            entries.append(Entry(path: path, userAgent: agent, arrived: Date().timeIntervalSince1970))
            let n = counts[path, default: 0]
            counts[path] = n + 1
            return (entries.count - 1, n)
        }
        let r = handler(path, n)
        if r.delay > 0 { Thread.sleep(forTimeInterval: r.delay) }
        var out = "HTTP/1.1 \(r.status) X\r\nConnection: close\r\nContent-Length: \(r.body.count)\r\n"
        for (k, v) in r.headers { out += "\(k): \(v)\r\n" }
        var bytes = Array((out + "\r\n").utf8)
        bytes += r.breakAfter.map { Array(r.body.prefix($0)) } ?? r.body
        var sent = 0
        while sent < bytes.count {
            let w = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if w <= 0 { break }
            sent += w
        }
        lock.withLock { entries[index].finished = Date().timeIntervalSince1970 }
    }
}

extension Array where Element == UInt8 {
    var containsHeaderEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 { return true }
        return false
    }
}
