// Responses: JSON bodies, JSON errors, and server-sent event streams.
import Foundation
import Hummingbird
import ServiceLifecycle

/// JSON with sorted keys (stable output for clients and tests).
func encodeJSON<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return try encoder.encode(value)
}

/// A JSON response.
func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try encodeJSON(value)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// The error shape OpenAI's API and llama.cpp's server use: {"error": {"message", "type", "code"}}.
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    var type: String

    init(_ status: HTTPResponse.Status, _ message: String, type: String? = nil) {
        self.status = status
        self.message = message
        self.type = type ?? (status.code >= 500 ? "server_error" : "invalid_request_error")
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try jsonResponse(APIErrorBody(error: .init(message: message, type: type, code: Int(status.code))), status: status)
    }
}

struct APIErrorBody: Encodable {
    struct Inner: Encodable { var message: String; var type: String; var code: Int }
    var error: Inner
}

/// A response that sends server-sent events as they come: each element of `events` is one
/// event's text (its `data:` lines and optional `id:`/`event:` fields, without the blank line).
/// A comment goes first so the headers leave at once; a ping every 15 s keeps proxies from
/// closing an idle stream. Writing to a client that went away throws, which ends the loop and
/// with it the stream (and whatever produces it, e.g. a generation). For a GET, whose request
/// body is untouched, a hang-up is noticed at once, not at the next write (an idle event stream
/// writes only a ping every 15 s, and a server shutting down waits for open responses).
func eventStream(_ events: AsyncStream<String>, request: Request? = nil) -> Response {
    let body = ResponseBody { writer in
        // A server told to stop ends its streams (an open dashboard would otherwise hold the
        // shutdown until the tab closes).
        let w = UnsafeTransferBox(writer)
        try? await cancelWhenGracefulShutdown {
            if let request {
                try await request.body.consumeWithCancellationOnInboundClose { _ in try await send(events, to: &w.value) }
            } else {
                try await send(events, to: &w.value)
            }
        }
        writer = w.value
        try await writer.finish(nil)
    }
    return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
}

private func send(_ events: AsyncStream<String>, to writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(ByteBuffer(string: ": stream start\n\n"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (pings, pingSource) = AsyncStream<String>.makeStream()
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(15))
                    pingSource.yield(": ping\n\n")
                }
            }
            let merged = AsyncStream<String> { continuation in
                let a = Task { for await e in events { continuation.yield(e + "\n\n") }; continuation.finish() }
                let b = Task { for await p in pings { continuation.yield(p) } }
                continuation.onTermination = { _ in a.cancel(); b.cancel() }
            }
            for await chunk in merged {
                try Task.checkCancellation()
                try await writer.write(ByteBuffer(string: chunk))
            }
            pingSource.finish()
            group.cancelAll()
        }
}

/// `data: <json>` for one event.
func sseData<T: Encodable>(_ value: T, id: String? = nil, event: String? = nil) -> String {
    let json = (try? encodeJSON(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    var lines: [String] = []
    if let id { lines.append("id: \(id)") }
    if let event { lines.append("event: \(event)") }
    lines.append("data: \(json)")
    return lines.joined(separator: "\n")
}

/// Carries the response writer into the cancellable operation (it is used by one task at a time:
/// the operation, then, after it returned, the body's own task).
private final class UnsafeTransferBox<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
