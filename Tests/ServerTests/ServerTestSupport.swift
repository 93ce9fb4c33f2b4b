import Foundation
import Hummingbird
import HummingbirdTesting
import CrystallineTraining
@testable import CrystallineServer
#if canImport(Glibc)
import Glibc
#endif

/// A models directory with one small trained model ("tiny") and a corpus file beside it.
struct ServerFixture {
    let root: URL
    var models: URL { root.appendingPathComponent("models") }
    var corpus: String { root.appendingPathComponent("corpus.txt").path }

    static let text = String(repeating: "ROMEO:\nthe quick brown fox jumps over the lazy dog.\n\nJULIET:\na stitch in time saves nine.\n\n"
        + "USER:\nHow now? Where is the model?\n\nMODEL:\nHere, my lord.\n\n", count: 40)

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cllm-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("models"), withIntermediateDirectories: true)
        try Data(Self.text.utf8).write(to: root.appendingPathComponent("corpus.txt"))
        var c = TrainingConfig()
        c.corpus = corpus
        c.out = models.appendingPathComponent("tiny").path
        c.nLayer = 1; c.nHead = 2; c.nEmbd = 16; c.blockSize = 32
        c.batchSize = 4; c.maxSteps = 10; c.evalInterval = 5; c.evalIters = 1; c.sampleTokens = 0
        try Trainer(config: c).run()
    }

    func server(apiKey: String? = nil) throws -> CrystallineServer {
        var o = ServerOptions()
        o.port = 0
        o.modelsDirectory = models
        o.runsDirectory = models
        o.apiKey = apiKey
        return try CrystallineServer(options: o)
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

extension ByteBuffer {
    var text: String { String(buffer: self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(readableBytesView))) as? [String: Any] ?? [:] }
}

func jsonBody(_ object: Any) -> ByteBuffer {
    ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
}

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

/// A raw HTTP/1.1 exchange over a socket: for what a test client cannot do (send any Host
/// header, hang up in the middle of a streamed response).
final class RawHTTPConnection {
    let fd: Int32
    /// errno of the read that ended early (0: the peer closed).
    var lastError: Int32 = -1

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
    }

    func send(_ text: String) { _ = text.withCString { Glibc.send(fd, $0, strlen($0), 0) } }

    /// Reads until `marker` appears or `limit` bytes arrived.
    func read(until marker: String, limit: Int = 1 << 16) -> String {
        var received = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while received.count < limit {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { lastError = n < 0 ? errno : 0; break }
            received += chunk[0..<n]
            if String(decoding: received, as: UTF8.self).contains(marker) { break }
        }
        return String(decoding: received, as: UTF8.self)
    }

    func hangUp() { close(fd) }
}
