// The dashboard's API: training runs (list, detail, metrics, CSV, start, stop, pause, resume,
// delete), live events, models (list, info, delete, GGUF download), lattice drawings, and the
// training settings with their defaults (for the form).
import Foundation
import Hummingbird
import HTTPTypes
import CrystallineTraining
import CrystallineInterop
import CrystallineLattice
import CrystallineFormats

struct DashboardRoutes {
    let server: CrystallineServer

    func add(to router: Router<BasicRequestContext>) {
        let runs = server.runs, models = server.models, limit = server.options.maxBodyBytes
        let api = router.group("/api")
        api.get("/runs") { _, _ in try jsonResponse(try await runs.list()) }
        api.post("/runs") { request, _ in
            let body = try await request.decodeObject(limit: limit)
            guard let name = body["name"] as? String else { throw APIError(.badRequest, "a run needs a 'name'") }
            let settings = body["settings"] as? [String: Any] ?? [:]
            return try jsonResponse(try await runs.start(name: try Names.validate(name, what: "run"), settings: settings), status: .created)
        }
        api.get("/runs/:name") { _, context in
            let name = try context.parameters.require("name")
            struct Detail: Encodable { var summary: RunSummary; var config: TrainingConfig? }
            return try jsonResponse(Detail(summary: try await runs.summary(name), config: try await runs.configuration(name)))
        }
        api.get("/runs/:name/metrics") { request, context in
            let dir = try await runs.runDirectory(try context.parameters.require("name"))
            let after = request.uri.queryParameters.get("after", as: Int.self) ?? 0
            let points = request.uri.queryParameters.get("points", as: Int.self)
            return try jsonResponse(MetricsFile.downsample(MetricsFile.read(dir.appendingPathComponent("metrics.jsonl")), after: after, points: points))
        }
        api.get("/runs/:name/metrics.csv") { _, context in
            let name = try context.parameters.require("name")
            let dir = try await runs.runDirectory(name)
            let csv = MetricsFile.csv(MetricsFile.read(dir.appendingPathComponent("metrics.jsonl")))
            return Response(status: .ok, headers: [.contentType: "text/csv", .contentDisposition: "attachment; filename=\"\(name)-metrics.csv\""],
                            body: .init(byteBuffer: ByteBuffer(string: csv)))
        }
        api.post("/runs/:name/stop") { _, context in try jsonResponse(try await runs.stop(try context.parameters.require("name"))) }
        api.post("/runs/:name/pause") { _, context in try jsonResponse(try await runs.pause(try context.parameters.require("name"), resume: false)) }
        api.post("/runs/:name/resume") { request, context in
            let name = try context.parameters.require("name")
            let body = try await request.decodeObject(limit: limit)
            if (try? await runs.summary(name))?.status == "paused" { return try jsonResponse(try await runs.pause(name, resume: true)) }
            return try jsonResponse(try await runs.resume(name: name, maxSteps: body["max_steps"] as? Int))
        }
        api.delete("/runs/:name") { _, context in
            try await runs.delete(try context.parameters.require("name"))
            return Response(status: .noContent)
        }
        api.get("/events") { request, _ in events(request) }
        api.get("/settings") { _, _ in try jsonResponse(SettingsDescription.current) }

        api.get("/models") { _, _ in try jsonResponse(try await models.list().map(ModelInfoResponse.init)) }
        api.get("/models/:name") { _, context in
            try jsonResponse(ModelInfoResponse(try await models.summary(try context.parameters.require("name"))))
        }
        api.delete("/models/:name") { _, context in
            try await models.delete(try context.parameters.require("name"))
            return Response(status: .noContent)
        }
        api.get("/models/:name/gguf") { request, context in
            let name = try context.parameters.require("name")
            let types: [String: GGMLType] = ["f32": .f32, "f16": .f16, "q8_0": .q8_0]
            let type = types[request.uri.queryParameters.get("type") ?? "f32"] ?? .f32
            let dir = try await models.directory(of: name)
            let (weights, tokenizer, _) = try ModelDirectory.load(from: dir)
            let data = try GGUFExport.encode(model: weights, tokenizer: tokenizer, name: name, type: type)
            return Response(status: .ok, headers: [.contentType: "application/octet-stream",
                                                   .contentDisposition: "attachment; filename=\"\(name).gguf\""],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        api.get("/models/:name/archive") { _, context in
            // The directory Hugging Face loads (GPT2LMHeadModel.from_pretrained, tokenizers), as one tar file.
            let name = try context.parameters.require("name")
            let dir = try await models.directory(of: name)
            let names = [ModelDirectory.weightsFile, ModelDirectory.configFile, "tokenizer.json", "cllm_tokenizer.json"]
            let files = try names.filter { FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path) }
                .map { ($0, try Data(contentsOf: dir.appendingPathComponent($0))) }
            let tar = try TarArchive.make(directory: name, files: files)
            return Response(status: .ok, headers: [.contentType: "application/x-tar", .contentDisposition: "attachment; filename=\"\(name).tar\""],
                            body: .init(byteBuffer: ByteBuffer(bytes: tar)))
        }
        api.get("/lattice/ulam.svg") { request, _ in
            let size = min(max(request.uri.queryParameters.get("size", as: Int.self) ?? 101, 3), 401)
            return svg(LatticeDrawing.ulamSVG(size: size))
        }
        api.get("/lattice/clock.svg") { request, _ in
            let count = min(max(request.uri.queryParameters.get("count", as: Int.self) ?? 120, 1), 2000)
            return svg(LatticeDrawing.clockSVG(count: count))
        }
        api.get("/models/:name/tokens.svg") { _, context in
            let model = try await models.model(try context.parameters.require("name"))
            let tokenizer = model.tokenizer
            return svg(LatticeDrawing.clockSVG(count: tokenizer.vocabSize, labels: (0..<tokenizer.vocabSize).map { tokenizer.tokenString(Int32($0)) }))
        }
    }

    func svg(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "image/svg+xml"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// One stream per page for every run's events: `id` is the step (a reconnect sends
    /// Last-Event-ID and skips what it saw), `event` the type, `data` the event with its run.
    func events(_ request: Request) -> Response {
        let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!].flatMap(Int.init)
        let runs = server.runs
        let (lines, continuation) = AsyncStream<String>.makeStream()
        let producer = Task {
            await withTaskGroup(of: Void.self) { group in
                for await (name, run) in await runs.watch() {
                    group.addTask {
                        for await event in run.subscribe() {
                            if let lastEventID, event.stepNumber <= lastEventID, event.name != "finished" { continue }
                            continuation.yield(RunEventLine.format(event, run: name))
                        }
                    }
                }
            }
        }
        continuation.onTermination = { _ in producer.cancel() }
        return eventStream(lines, request: request)
    }
}

enum RunEventLine {
    static func format(_ event: TrainingEvent, run: String) -> String {
        var object = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? [String: Any]) ?? [:]
        object["run"] = run
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return "id: \(event.stepNumber)\nevent: \(event.name)\ndata: \(String(decoding: data, as: UTF8.self))"
    }
}

struct ModelInfoResponse: Encodable {
    var name: String
    var bytes: Int
    var parameters: Int
    var tokenizer: String?
    var trainingSteps: Int?
    var bestValLoss: Double?
    var created: String?
    var architecture: [String: String]
    var vocabSize: Int

    init(_ m: ModelSummary) {
        name = m.name; bytes = m.bytes; parameters = m.parameters; tokenizer = m.info?.tokenizer.rawValue
        trainingSteps = m.info?.trainingSteps; bestValLoss = m.info?.bestValLoss; created = m.info?.created
        vocabSize = m.config.vocabSize
        let a = m.config.architecture
        architecture = ["n_layer": "\(a.nLayer)", "n_head": "\(a.nHead)", "n_embd": "\(a.nEmbd)", "block_size": "\(a.blockSize)",
                        "dropout": "\(a.dropout)", "embedding_init": a.embeddingInit.rawValue, "positional": a.positional.rawValue,
                        "attention_bias": a.attentionBias.rawValue]
    }

    enum CodingKeys: String, CodingKey {
        case name, bytes, parameters, tokenizer, trainingSteps = "training_steps", bestValLoss = "best_val_loss", created, architecture
        case vocabSize = "vocab_size"
    }
}

/// The training settings by section with their defaults, for the dashboard's form.
enum SettingsDescription {
    static var current: [String: [String: JSONValue]] {
        let data = (try? JSONEncoder().encode(TrainingConfig())) ?? Data()
        guard case .object(let sections)? = try? JSONDecoder().decode(JSONValue.self, from: data) else { return [:] }
        var out: [String: [String: JSONValue]] = [:]
        for (name, value) in sections { if case .object(let fields) = value { out[name] = fields } }
        // Optional settings absent from the defaults still belong on the form.
        for section in TrainingConfig.sections {
            for field in section.fields where out[section.name]?[SnakeCaseJSON.snakeCase(field)] == nil {
                out[section.name, default: [:]][SnakeCaseJSON.snakeCase(field)] = .null
            }
        }
        return out
    }
}
