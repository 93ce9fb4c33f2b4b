// /v1/models, /v1/completions, /v1/chat/completions: OpenAI's shapes, so that the official
// `openai` client (and anything built for llama.cpp's server) works unchanged.
import Foundation
import Hummingbird
import CrystallineInference
import CrystallineTokenizers

struct OpenAIRoutes {
    let server: CrystallineServer

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/models") { _, _ in try await models() }
        router.post("/v1/completions") { request, _ in
            let body = try await request.decodeJSON(CompletionRequest.self, limit: server.options.maxBodyBytes)
            let prompts = body.prompt.values
            guard prompts.count == 1 else { throw APIError(.badRequest, "one prompt per request (got \(prompts.count))") }
            return try await respond(fields: body.fields, prompt: prompts[0], chat: false)
        }
        router.post("/v1/chat/completions") { request, _ in
            let body = try await request.decodeJSON(ChatRequest.self, limit: server.options.maxBodyBytes)
            guard !body.messages.isEmpty else { throw APIError(.badRequest, "messages must not be empty") }
            return try await respond(fields: body.fields, prompt: ChatTemplate().render(body.messages), chat: true)
        }
    }

    func models() async throws -> Response {
        let list = try await server.models.list()
        let entries = list.map { m in
            ModelList.Entry(id: m.name, created: Int(ISO8601DateFormatter().date(from: m.info?.created ?? "")?.timeIntervalSince1970 ?? 0),
                            meta: .init(parameters: m.parameters, contextLength: m.config.blockSize, vocabSize: m.config.vocabSize,
                                        tokenizer: m.info?.tokenizer.rawValue, bestValLoss: m.info?.bestValLoss))
        }
        return try jsonResponse(ModelList(data: entries))
    }

    /// The options a request asks for, checked and clamped: `max_tokens` to the model's context
    /// and the server's limit.
    func options(_ f: SamplingFields, model: LanguageModel, chat: Bool, training: Bool) throws -> GenerationOptions {
        if let n = f.n, n != 1 { throw APIError(.badRequest, "n must be 1 (got \(n))") }
        let cap = min(server.options.maxTokensLimit, model.config.blockSize)
        var o = GenerationOptions(maxTokens: min(f.maxTokens ?? (chat ? cap : 16), cap), temperature: f.temperature ?? 1,
                                  topK: f.topK, topP: f.topP, seed: f.seed ?? UInt64.random(in: 0...UInt64(UInt32.max)),
                                  stop: f.stop?.values ?? [])
        if chat, !o.stop.contains(ChatTemplate().turnSeparator) { o.stop.append(ChatTemplate().turnSeparator) }
        o.singleThreaded = training
        do { try o.validate() } catch { throw APIError(.badRequest, "\(error)") }
        return o
    }

    func respond(fields: SamplingFields, prompt: String, chat: Bool) async throws -> Response {
        let name: String
        if let requested = fields.model { name = try Names.validate(requested, what: "model") } else { name = try await server.models.defaultName() }
        let model = try await server.models.model(name)
        // While a run trains, generation takes one core and leaves the pool to the run.
        let options = try options(fields, model: model, chat: chat, training: await server.runs.isTraining)
        let tokens: [Int32]
        do { tokens = try model.encodePrompt(prompt) } catch { throw APIError(.badRequest, "the prompt cannot be encoded: \(error)") }
        let lease = try server.generation.acquire()
        let id = (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.lowercased().prefix(12)
        let created = Int(Date().timeIntervalSince1970)
        let events = model.generationEvents(prompt: tokens, options: options)
        if fields.stream == true {
            let includeUsage = fields.streamOptions?.includeUsage ?? false
            return streamed(events, lease: lease, id: id, created: created, model: name, chat: chat, includeUsage: includeUsage)
        }
        defer { lease.release() }
        var text = ""
        var stats: GenerationStats?
        for try await event in events {
            switch event {
            case .text(let piece): text += piece
            case .finished(let s): stats = s
            }
        }
        guard let stats else { throw APIError(.internalServerError, "the generation ended without statistics") }
        if chat {
            return try jsonResponse(ChatResponse(id: id, created: created, model: name,
                                                 choices: [ChatChoice(message: .init(role: "assistant", content: text),
                                                                      finishReason: finishReason(stats))],
                                                 usage: Usage(stats), timings: Timings(stats)))
        }
        return try jsonResponse(CompletionResponse(id: id, created: created, model: name,
                                                   choices: [CompletionChoice(text: text, finishReason: finishReason(stats))],
                                                   usage: Usage(stats), timings: Timings(stats)))
    }

    /// Server-sent chunks as the pieces come, a last chunk with the finish reason (and usage,
    /// timings), then `data: [DONE]`. The lease is given back when the stream ends, however it ends.
    func streamed(_ events: AsyncThrowingStream<GenerationEvent, Error>, lease: GenerationSlot.Lease, id: String, created: Int,
                  model: String, chat: Bool, includeUsage: Bool) -> Response {
        let (lines, continuation) = AsyncStream<String>.makeStream()
        let producer = Task {
            defer { lease.release(); continuation.finish() }
            do {
                if chat { continuation.yield(sseData(ChatChunk(id: id, created: created, model: model, choices: [.init(delta: .init(role: "assistant"))]))) }
                for try await event in events {
                    switch event {
                    case .text(let piece):
                        continuation.yield(chat
                            ? sseData(ChatChunk(id: id, created: created, model: model, choices: [.init(delta: .init(content: piece))]))
                            : sseData(CompletionResponse(id: id, created: created, model: model, choices: [CompletionChoice(text: piece, finishReason: nil)])))
                    case .finished(let s):
                        let usage = includeUsage ? Usage(s) : nil
                        continuation.yield(chat
                            ? sseData(ChatChunk(id: id, created: created, model: model,
                                                choices: [.init(delta: .init(), finishReason: finishReason(s))], usage: usage, timings: Timings(s)))
                            : sseData(CompletionResponse(id: id, created: created, model: model,
                                                         choices: [CompletionChoice(text: "", finishReason: finishReason(s))],
                                                         usage: usage, timings: Timings(s))))
                    }
                }
                continuation.yield("data: [DONE]")
            } catch {
                struct ErrorBody: Encodable { var error: [String: String] }
                continuation.yield(sseData(ErrorBody(error: ["message": "\(error)", "type": "server_error"])))
            }
        }
        // The client went away: the body stops reading `lines`, which ends the producer and,
        // through the generation stream's termination, the generation at its next token.
        continuation.onTermination = { _ in producer.cancel() }
        return eventStream(lines)
    }

    func finishReason(_ s: GenerationStats) -> String {
        switch s.finishReason {
        case .length: return "length"
        case .stop: return "stop"
        case .cancelled: return "cancelled"
        }
    }
}
