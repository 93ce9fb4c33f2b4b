// The HTTP request bodies as a fuzz target: mutated JSON for the OpenAI endpoints, through the
// real router and middleware. Every answer must be a JSON error with a 4xx status, or a success;
// never a 500, a crash or a hang. The mutations are CrystallineFuzzing's, seeded, so the same
// bodies are sent on every run.
import XCTest
import Hummingbird
import HummingbirdTesting
import CrystallineFuzzing
@testable import CrystallineServer

final class RequestFuzzTests: XCTestCase {
    var fixture: ServerFixture!
    override func setUpWithError() throws { fixture = try ServerFixture() }
    override func tearDown() { fixture.remove() }

    static let seeds: [(String, String)] = [
        ("/v1/completions", #"{"prompt": "ROMEO:", "max_tokens": 3, "temperature": 0.8, "top_p": 0.9, "top_k": 40, "seed": 1, "stop": ["\n"]}"#),
        ("/v1/completions", #"{"prompt": ["a", "b"], "max_tokens": 2, "stream": true, "stream_options": {"include_usage": true}}"#),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "n": 1, "model": "tiny"}"#),
    ]

    func testMutatedRequestBodiesGetJSONAnswersNever500() async throws {
        let app = try fixture.server().application()
        let mutator = Mutator(maxLength: 4096, dictionary: ["\"prompt\"", "\"messages\"", "\"max_tokens\"", "\"temperature\"", "\"top_p\"",
                                                           "\"top_k\"", "\"stop\"", "\"stream\"", "\"model\"", "\"role\"", "\"content\"", "\"n\""])
        var rng = FuzzRandom(seed: 11)
        // The bodies are made up front (seeded), then sent.
        let requests: [(String, [UInt8])] = (0..<400).map { i in
            let (uri, seed) = Self.seeds[i % Self.seeds.count]
            if i < Self.seeds.count { return (uri, Array(seed.utf8)) }
            let other = Array(Self.seeds[rng.below(Self.seeds.count)].1.utf8)
            return (uri, mutator.mutate(Array(seed.utf8), other: other, rng: &rng))
        }
        let statuses = try await app.test(.router) { client -> [Int: Int] in
            var statuses: [Int: Int] = [:]
            for (uri, body) in requests {
                try await client.execute(uri: uri, method: .post, headers: jsonHeaders, body: ByteBuffer(bytes: body)) { r in
                    statuses[Int(r.status.code), default: 0] += 1
                    let text = String(decoding: body, as: UTF8.self)
                    XCTAssertLessThan(r.status.code, 500, "\(uri) \(text): \(r.body.text)")
                    if r.status.code >= 400 {
                        XCTAssertNotNil((r.body.json["error"] as? [String: Any])?["message"], "\(uri) \(text): \(r.body.text)")
                    }
                }
            }
            return statuses
        }
        XCTAssertGreaterThan(statuses[200, default: 0], 0, "\(statuses)")
        XCTAssertGreaterThan(statuses[400, default: 0], 0, "\(statuses)")
    }
}
