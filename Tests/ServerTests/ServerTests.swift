import XCTest
import Hummingbird
import HummingbirdTesting
import CrystallineInference
import CrystallineInterop
import CrystallineModel
import CrystallineTokenizers
@testable import CrystallineServer

final class OpenAIAPITests: XCTestCase {
    var fixture: ServerFixture!
    override func setUpWithError() throws { fixture = try ServerFixture() }
    override func tearDown() { fixture.remove() }

    func testHealthAndModels() async throws {
        let app = try fixture.server().application()
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { r in
                XCTAssertEqual(r.status, .ok)
                XCTAssertEqual(r.body.json["status"] as? String, "ok")
            }
            try await client.execute(uri: "/v1/models", method: .get) { r in
                let data = r.body.json["data"] as? [[String: Any]]
                XCTAssertEqual(data?.first?["id"] as? String, "tiny")
                XCTAssertEqual((data?.first?["meta"] as? [String: Any])?["context_length"] as? Int, 32)
            }
        }
    }

    func testCompletionHonoursTheOptions() async throws {
        let app = try fixture.server().application()
        try await app.test(.router) { client in
            let request: [String: Any] = ["model": "tiny", "prompt": "ROMEO:", "max_tokens": 12, "temperature": 0, "seed": 3]
            var first = ""
            try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders, body: jsonBody(request)) { r in
                XCTAssertEqual(r.status, .ok)
                let json = r.body.json
                XCTAssertEqual(json["object"] as? String, "text_completion")
                let choice = (json["choices"] as? [[String: Any]])?.first
                first = choice?["text"] as? String ?? ""
                XCTAssertEqual(choice?["finish_reason"] as? String, "length")
                let usage = json["usage"] as? [String: Any]
                XCTAssertEqual(usage?["completion_tokens"] as? Int, 12)
                XCTAssertEqual(usage?["prompt_tokens"] as? Int, 6)
                XCTAssertNotNil((json["timings"] as? [String: Any])?["predicted_per_second"])
            }
            // The same text as the library gives for the same options (greedy).
            let model = try LanguageModel.load(directory: self.fixture.models.appendingPathComponent("tiny"))
            let expected = try TextGenerator(model: model, prompt: "ROMEO:", options: GenerationOptions(maxTokens: 12, temperature: 0)).collect()
            XCTAssertEqual(first, expected)
            // A stop sequence cuts the text before it.
            if let cut = first.dropFirst(2).first {
                var stopped = request
                stopped["stop"] = [String(cut)]
                try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders, body: jsonBody(stopped)) { r in
                    let choice = (r.body.json["choices"] as? [[String: Any]])?.first
                    XCTAssertEqual(choice?["finish_reason"] as? String, "stop")
                    XCTAssertFalse((choice?["text"] as? String ?? "x").contains(cut))
                }
            }
            // max_tokens is clamped to the model's context.
            var long = request
            long["max_tokens"] = 100_000
            try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders, body: jsonBody(long)) { r in
                XCTAssertEqual((r.body.json["usage"] as? [String: Any])?["completion_tokens"] as? Int, 32)
            }
        }
    }

    func testChatStreamsChunksAndEndsWithDone() async throws {
        let app = try fixture.server().application()
        try await app.test(.router) { client in
            let request: [String: Any] = ["messages": [["role": "user", "content": "How now?"]], "stream": true, "max_tokens": 10,
                                          "seed": 1, "stream_options": ["include_usage": true]]
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: jsonBody(request)) { r in
                XCTAssertEqual(r.status, .ok)
                XCTAssertEqual(r.headers[.contentType], "text/event-stream")
                let events = r.body.text.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
                XCTAssertEqual(events.last, "[DONE]")
                let chunks = events.dropLast().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                XCTAssertEqual(chunks.first.flatMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["role"] as? String }, "assistant")
                XCTAssertTrue(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
                let last = chunks.last
                XCTAssertNotNil((last?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String)
                XCTAssertNotNil(last?["usage"])
            }
        }
    }

    func testBadRequestsGetJSONErrors() async throws {
        let app = try fixture.server().application()
        try await app.test(.router) { client in
            let cases: [(String, ByteBuffer, HTTPFields, HTTPResponse.Status)] = [
                ("/v1/completions", ByteBuffer(string: "{not json"), jsonHeaders, .badRequest),
                ("/v1/completions", jsonBody(["prompt": "x"]), [.contentType: "text/plain"], .unsupportedMediaType),
                ("/v1/completions", jsonBody(["prompt": 5]), jsonHeaders, .badRequest),
                ("/v1/completions", jsonBody(["prompt": "ROMEO", "top_p": 2]), jsonHeaders, .badRequest),
                ("/v1/completions", jsonBody(["prompt": "ROMEO", "temperature": -1]), jsonHeaders, .badRequest),
                ("/v1/completions", jsonBody(["prompt": "ROMEO", "n": 3]), jsonHeaders, .badRequest),
                ("/v1/completions", jsonBody(["prompt": "ROMEO", "model": "missing"]), jsonHeaders, .notFound),
                ("/v1/completions", jsonBody(["prompt": "ROMEO", "model": "../models/tiny"]), jsonHeaders, .badRequest),
                ("/v1/chat/completions", jsonBody(["messages": []]), jsonHeaders, .badRequest),
                ("/v1/completions", ByteBuffer(repeating: 0x20, count: 2 << 20), jsonHeaders, .contentTooLarge),
            ]
            for (uri, body, headers, status) in cases {
                try await client.execute(uri: uri, method: .post, headers: headers, body: body) { r in
                    XCTAssertEqual(r.status, status, "\(uri) \(body.readableBytes < 200 ? body.text : "<large>")")
                    let error = r.body.json["error"] as? [String: Any]
                    XCTAssertNotNil(error?["message"] as? String, r.body.text)
                    XCTAssertFalse(r.body.text.contains(self.fixture.root.path), "no absolute paths in errors")
                }
            }
        }
    }

    func testOneGenerationAtATime() async throws {
        let server = try fixture.server()
        let app = server.application()
        let lease = try server.generation.acquire()
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders, body: jsonBody(["prompt": "ROMEO"])) { r in
                XCTAssertEqual(r.status, .serviceUnavailable)
                XCTAssertEqual((r.body.json["error"] as? [String: Any])?["type"] as? String, "server_busy")
            }
            lease.release()
            try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders, body: jsonBody(["prompt": "ROMEO"])) { r in
                XCTAssertEqual(r.status, .ok)
            }
        }
    }

    func testAPIKeyIsRequiredButHealthIsPublic() async throws {
        let app = try fixture.server(apiKey: "s3cret").application()
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(uri: "/v1/models", method: .get) { XCTAssertEqual($0.status, .unauthorized) }
            try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer wrong"]) { XCTAssertEqual($0.status, .unauthorized) }
            try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer s3cret"]) { XCTAssertEqual($0.status, .ok) }
        }
        XCTAssertTrue(SafetyMiddleware<BasicRequestContext>.constantTimeEqual("abc", "abc"))
        XCTAssertFalse(SafetyMiddleware<BasicRequestContext>.constantTimeEqual("abc", "abd"))
        XCTAssertFalse(SafetyMiddleware<BasicRequestContext>.constantTimeEqual("abc", "abcd"))
        var open = ServerOptions()
        open.host = "0.0.0.0"
        XCTAssertThrowsError(try open.validate(), "binding beyond loopback needs a key")
        open.apiKey = "k"
        XCTAssertNoThrow(try open.validate())
    }

    /// A client that hangs up in the middle of a streamed completion ends the generation (its
    /// thread stops, the slot is free again), not after the tokens it asked for.
    func testDisconnectCancelsGeneration() async throws {
        // A model whose context is long enough that a full generation would take minutes.
        // Without an end-of-text token, so that a random model cannot end early.
        let tokenizer = try CharTokenizer(corpus: Array(ServerFixture.text.utf8), specials: [TokenizerFile.unknown])
        let gpt = try GPT(config: GPTConfig(vocabSize: tokenizer.vocabSize, blockSize: 300_000, nLayer: 1, nHead: 2, nEmbd: 8))
        try ModelDirectory.save(weights: gpt.snapshot(), tokenizer: tokenizer,
                                info: ModelInfo(tokenizer: .char, trainingSteps: 0, bestValLoss: nil, created: "", corpus: nil),
                                to: fixture.models.appendingPathComponent("long"))
        var o = ServerOptions()
        o.port = 0
        o.modelsDirectory = fixture.models
        o.runsDirectory = fixture.models
        o.maxTokensLimit = 1_000_000
        let server = try CrystallineServer(options: o)
        let before = GenerationThreads.count
        try await server.application().test(.live) { client in
            let port = try XCTUnwrap(client.port)
            // Host checks: a foreign Host header is refused, ours is served.
            let foreign = try RawHTTPConnection(port: port)
            foreign.send("GET /health HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n")
            let refused = foreign.read(until: "}}")
            XCTAssertTrue(refused.hasPrefix("HTTP/1.1 403"), refused)
            foreign.hangUp()

            let body = #"{"model": "long", "prompt": "ROMEO:", "max_tokens": 300000, "stream": true}"#
            let connection = try RawHTTPConnection(port: port)
            connection.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let start = connection.read(until: "\"text\"")
            XCTAssertTrue(start.contains("text/event-stream"), "got '\(start)', read error \(connection.lastError)")
            XCTAssertTrue(server.generation.isBusy)
            connection.hangUp()
            let deadline = Date().addingTimeInterval(10)
            while (server.generation.isBusy || GenerationThreads.count > before), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            XCTAssertFalse(server.generation.isBusy, "the generation slot is still taken after the client left")
            XCTAssertEqual(GenerationThreads.count, before, "the generation thread is still running after the client left")
        }
    }
}
