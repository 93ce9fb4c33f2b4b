// The checks in front of every route: API key, Host header, content type, body size.
import Foundation
import Hummingbird
import CrystallineFormats

struct SafetyMiddleware<Context: RequestContext>: RouterMiddleware {
    let options: ServerOptions

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // DNS rebinding: a page on another site that resolves its name to 127.0.0.1 sends its own
        // Host; only names of this machine are served.
        if let host = request.head.authority, !Self.hostAllowed(host, options: options) {
            throw APIError(.forbidden, "host '\(host.prefix(100))' is not served here (DNS rebinding protection); use 127.0.0.1 or localhost",
                           type: "forbidden")
        }
        let path = request.uri.path
        if let key = options.apiKey, !key.isEmpty, path != "/health" {
            let given = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
            guard Self.constantTimeEqual(given, key) else {
                throw APIError(.unauthorized, "missing or wrong API key (send 'Authorization: Bearer <key>')", type: "authentication_error")
            }
        }
        if request.method == .post || request.method == .put || request.method == .patch || request.method == .delete {
            let type = request.headers[.contentType] ?? ""
            guard type.lowercased().hasPrefix("application/json") else {
                throw APIError(.unsupportedMediaType, "send JSON (Content-Type: application/json)")
            }
            if let length = request.headers[.contentLength].flatMap(Int.init), length > options.maxBodyBytes {
                throw APIError(.contentTooLarge, "request body over \(options.maxBodyBytes) bytes")
            }
        }
        return try await next(request, context)
    }

    static func hostAllowed(_ hostHeader: String, options: ServerOptions) -> Bool {
        var host = hostHeader.lowercased()
        if host.hasPrefix("[") { host = String(host.dropFirst().prefix { $0 != "]" }) }  // [::1]:8080
        else if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        let local: Set<String> = ["127.0.0.1", "localhost", "::1"]
        return local.contains(host) || host == options.host.lowercased() || options.apiKey.map { !$0.isEmpty && options.host == "0.0.0.0" } == true
    }

    /// Compares every byte, whatever the first difference: the time does not tell how much of a
    /// guessed key was right.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0 && x.count == y.count
    }
}

extension Request {
    /// The body as JSON of `T`, with the size cap, and errors that say what was wrong.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        let buffer: ByteBuffer
        do { buffer = try await body.collect(upTo: limit) } catch {
            throw APIError(.contentTooLarge, "request body over \(limit) bytes")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let e as DecodingError {
            throw APIError(.badRequest, "invalid request: \(SnakeCaseJSON.describe(e))")
        } catch {
            throw APIError(.badRequest, "invalid JSON: \(error)")
        }
    }

    /// The body as a JSON object (for settings passed through to the training configuration).
    func decodeObject(limit: Int) async throws -> [String: Any] {
        let buffer: ByteBuffer
        do { buffer = try await body.collect(upTo: limit) } catch {
            throw APIError(.contentTooLarge, "request body over \(limit) bytes")
        }
        if buffer.readableBytes == 0 { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] else {
            throw APIError(.badRequest, "the body must be a JSON object")
        }
        return object
    }
}
