import XCTest
import Hummingbird
import HummingbirdTesting
@testable import CrystallineServer

final class DashboardAPITests: XCTestCase {
    var fixture: ServerFixture!
    override func setUpWithError() throws { fixture = try ServerFixture() }
    override func tearDown() { fixture.remove() }

    func testModelsListInfoLatticeAndDelete() async throws {
        let app = try fixture.server().application()
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/models", method: .get) { r in
                let list = (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [[String: Any]]
                XCTAssertEqual(list?.first?["name"] as? String, "tiny")
                XCTAssertEqual(list?.first?["tokenizer"] as? String, "char")
            }
            try await client.execute(uri: "/api/models/tiny", method: .get) { r in
                XCTAssertEqual((r.body.json["architecture"] as? [String: Any])?["n_layer"] as? String, "1")
            }
            for bad in ["/api/models/.hidden", "/api/models/a%2F..%2F..%2Fetc", "/api/runs/..", "/api/runs/x%00y/metrics"] {
                try await client.execute(uri: bad, method: .get) { r in
                    XCTAssertTrue([.badRequest, .notFound].contains(r.status), "\(bad): \(r.status)")
                    XCTAssertNotNil(r.body.json["error"], bad)
                }
            }
            try await client.execute(uri: "/api/models/tiny/gguf?type=f16", method: .get) { r in
                XCTAssertEqual(r.status, .ok)
                XCTAssertEqual(Array(r.body.readableBytesView.prefix(4)), Array("GGUF".utf8))
            }
            try await client.execute(uri: "/api/models/tiny/archive", method: .get) { r in
                XCTAssertEqual(r.headers[.contentType], "application/x-tar")
                // The real tar reads it back: the four files of a Hugging Face directory.
                let dir = self.fixture.root.appendingPathComponent("untar")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                let tarFile = dir.appendingPathComponent("m.tar")
                try Data(r.body.readableBytesView).write(to: tarFile)
                guard FileManager.default.isExecutableFile(atPath: "/bin/tar") else { return }
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/tar")
                p.arguments = ["-xf", tarFile.path, "-C", dir.path]
                try p.run(); p.waitUntilExit()
                XCTAssertEqual(p.terminationStatus, 0)
                let original = try Data(contentsOf: self.fixture.models.appendingPathComponent("tiny/model.safetensors"))
                XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("tiny/model.safetensors")), original)
                XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("tiny/tokenizer.json").path))
            }
            try await client.execute(uri: "/api/settings", method: .get) { r in
                XCTAssertEqual((r.body.json["model"] as? [String: Any])?["n_layer"] as? Int, 4, "defaults for the form")
                XCTAssertTrue((r.body.json["run"] as? [String: Any])?.keys.contains("patience") ?? false, "optional settings listed too")
            }
            try await client.execute(uri: "/api/lattice/ulam.svg?size=21", method: .get) { r in
                XCTAssertEqual(r.headers[.contentType], "image/svg+xml")
                XCTAssertTrue(r.body.text.hasPrefix("<svg"))
            }
            try await client.execute(uri: "/api/models/tiny/tokens.svg", method: .get) { r in
                XCTAssertTrue(r.body.text.contains("(id 0,"), "token labels in the drawing")
            }
            try await client.execute(uri: "/", method: .get) { r in
                XCTAssertTrue(r.body.text.contains("<title>Crystalline</title>"))
            }
            try await client.execute(uri: "/api/models/tiny", method: .delete) { XCTAssertEqual($0.status, .unsupportedMediaType) }
            try await client.execute(uri: "/api/models/tiny", method: .delete, headers: jsonHeaders) { XCTAssertEqual($0.status, .noContent) }
            try await client.execute(uri: "/api/models/tiny", method: .get) { XCTAssertEqual($0.status, .notFound) }
        }
    }

    /// Start a run from the API, see its events on the page stream, stop it (a checkpoint is
    /// written), read its metrics whole, after a step and down-sampled, as CSV, then delete it.
    func testRunLifecycle() async throws {
        let server = try fixture.server()
        try await server.application().test(.live) { client in
            let settings: [String: Any] = ["corpus": self.fixture.corpus, "n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16,
                                           "batch_size": 2, "max_steps": 100_000, "eval_interval": 20, "eval_iters": 1]
            try await client.execute(uri: "/api/runs", method: .post, headers: jsonHeaders, body: jsonBody(["name": "r1", "settings": settings])) { r in
                XCTAssertEqual(r.status, .created, r.body.text)
            }
            try await client.execute(uri: "/api/runs", method: .post, headers: jsonHeaders, body: jsonBody(["name": "r2", "settings": settings])) { r in
                XCTAssertEqual(r.status, .conflict, "one run at a time")
            }
            try await client.execute(uri: "/api/runs", method: .post, headers: jsonHeaders, body: jsonBody(["name": "bad name/", "settings": [:]])) { r in
                XCTAssertEqual(r.status, .badRequest)
            }
            // The page's event stream, read raw: events of the run, with the step as id.
            let events = try RawHTTPConnection(port: try XCTUnwrap(client.port))
            events.send("GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let seen = events.read(until: "event: evaluated")
            events.hangUp()
            XCTAssertTrue(seen.contains("event: started"), seen)
            XCTAssertTrue(seen.contains("event: step"))
            XCTAssertTrue(seen.contains("\"run\":\"r1\""))
            // A reconnect with Last-Event-ID gets only what came after that step.
            let again = try RawHTTPConnection(port: try XCTUnwrap(client.port))
            again.send("GET /api/events HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 15\r\n\r\n")
            let resumed = again.read(until: "event: evaluated")
            again.hangUp()
            let ids = resumed.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("id: ") }.compactMap { Int($0.dropFirst(4)) }
            XCTAssertFalse(ids.isEmpty, "read error \(again.lastError): " + String(resumed.prefix(700)).replacingOccurrences(of: "\n", with: "⏎").replacingOccurrences(of: "\r", with: "␍"))
            XCTAssertTrue(ids.allSatisfy { $0 > 15 }, "ids after a reconnect: \(ids.prefix(5))")
            try await client.execute(uri: "/api/runs/r1/pause", method: .post, headers: jsonHeaders, body: ByteBuffer(string: "{}")) { r in
                XCTAssertEqual(r.status, .ok, r.body.text)
            }
            try await Task.sleep(for: .milliseconds(300))
            try await client.execute(uri: "/api/runs/r1", method: .get) { r in
                XCTAssertEqual((r.body.json["summary"] as? [String: Any])?["status"] as? String, "paused")
            }
            try await client.execute(uri: "/api/runs/r1/resume", method: .post, headers: jsonHeaders, body: ByteBuffer(string: "{}")) { r in
                XCTAssertEqual(r.status, .ok, r.body.text)
            }
            try await client.execute(uri: "/api/runs/r1/stop", method: .post, headers: jsonHeaders, body: ByteBuffer(string: "{}")) { r in
                XCTAssertEqual(r.status, .ok, r.body.text)
                XCTAssertEqual(r.body.json["status"] as? String, "stopped")
            }
            XCTAssertTrue(FileManager.default.fileExists(atPath: self.fixture.models.appendingPathComponent("r1/checkpoint.safetensors").path))
            var total = 0
            try await client.execute(uri: "/api/runs/r1/metrics", method: .get) { r in
                let all = (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [[String: Any]] ?? []
                total = all.count
                XCTAssertGreaterThanOrEqual(total, 20)
            }
            try await client.execute(uri: "/api/runs/r1/metrics?after=10&points=5", method: .get) { r in
                let some = (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [[String: Any]] ?? []
                XCTAssertTrue(some.allSatisfy { ($0["step"] as? Int ?? 0) > 10 })
                XCTAssertLessThanOrEqual(some.count, 5 + total / 20 + 1, "down-sampled (evaluations kept)")
            }
            try await client.execute(uri: "/api/runs/r1/metrics.csv", method: .get) { r in
                XCTAssertTrue(r.body.text.hasPrefix("step,train_loss,val_loss"))
            }
            try await client.execute(uri: "/api/runs/r1", method: .get) { r in
                XCTAssertEqual(((r.body.json["config"] as? [String: Any])?["model"] as? [String: Any])?["n_embd"] as? Int, 16)
            }
            try await client.execute(uri: "/api/runs/r1", method: .delete, headers: jsonHeaders) { XCTAssertEqual($0.status, .noContent) }
            try await client.execute(uri: "/api/runs", method: .get) { r in XCTAssertFalse(r.body.text.contains("\"r1\"")) }
        }
    }
}
