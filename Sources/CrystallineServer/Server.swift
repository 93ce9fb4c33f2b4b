// CrystallineServer: `cllm serve`, the application around the engine.
//
// Owns the HTTP surface only: an OpenAI-compatible API (the shapes llama.cpp's server uses), the
// dashboard's API (runs, live training events, models, lattice drawings), the dashboard pages,
// and the safety checks in front of them. All the work is done by the library modules below it:
// generation by CrystallineInference, training by CrystallineTraining's `TrainingRun`, model
// files by CrystallineInterop. Built on Hummingbird 2.
import Foundation
import Hummingbird
import Logging

/// What `cllm serve` is told.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Where models are listed, loaded and deleted (each a model directory).
    public var modelsDirectory = URL(fileURLWithPath: "models")
    /// Where the dashboard's training runs live (each a model directory with metrics).
    public var runsDirectory = URL(fileURLWithPath: "runs")
    /// Required as a bearer token on every route but /health when set.
    public var apiKey: String? = nil
    /// The most tokens one completion may ask for (also capped by the model's context).
    public var maxTokensLimit = 2048
    /// Largest request body accepted.
    public var maxBodyBytes = 1 << 20

    public init() {}

    /// Binding beyond the loopback needs an API key: the server runs training and reads files.
    public func validate() throws {
        let loopback = ["127.0.0.1", "localhost", "::1"]
        if !loopback.contains(host) && (apiKey ?? "").isEmpty {
            throw ServerError.unsafeBinding(host)
        }
        guard (0...65535).contains(port) else { throw ServerError.invalidOption("port \(port) is not in 0...65535") }
    }
}

public enum ServerError: Error, CustomStringConvertible {
    case unsafeBinding(String)
    case invalidOption(String)

    public var description: String {
        switch self {
        case .unsafeBinding(let host): return "refusing to listen on \(host) without --api-key (anyone who can reach it could train and read models)"
        case .invalidOption(let s): return s
        }
    }
}

/// The server: shared state plus the router.
public struct CrystallineServer: Sendable {
    public let options: ServerOptions
    let models: ModelRegistry
    let runs: RunManager
    let generation = GenerationSlot()

    public init(options: ServerOptions) throws {
        try options.validate()
        self.options = options
        models = ModelRegistry(directory: options.modelsDirectory)
        runs = RunManager(directory: options.runsDirectory)
    }

    /// Every route, behind the safety middleware.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.middlewares.add(SafetyMiddleware(options: options))
        router.get("/health") { _, _ in
            try jsonResponse(HealthResponse(status: "ok", generating: generation.isBusy))
        }
        OpenAIRoutes(server: self).add(to: router)
        DashboardRoutes(server: self).add(to: router)
        StaticRoutes().add(to: router)
        return router
    }

    /// The application, for `runService()` or Hummingbird's test client. `onServerRunning`
    /// hears the address once the socket listens.
    public func application(logLevel: Logger.Level = .notice,
                            onServerRunning: @escaping @Sendable (String) async -> Void = { _ in }) -> some ApplicationProtocol {
        var logger = Logger(label: "cllm.serve")
        logger.logLevel = logLevel
        let runs = self.runs, models = self.models
        return Application(router: router(), configuration: .init(address: .hostname(options.host, port: options.port), serverName: "cllm"),
                           onServerRunning: { channel in
                               await runs.setModelSavedHandler { name in await models.forget(name) }
                               let address = channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                               await onServerRunning(address)
                           },
                           logger: logger)
    }

    /// Runs until the process is told to stop (SIGINT/SIGTERM stop it gracefully).
    public func run(onServerRunning: @escaping @Sendable (String) async -> Void) async throws {
        try await application(onServerRunning: onServerRunning).runService()
    }
}

struct HealthResponse: Codable {
    var status: String
    var generating: Bool
}
