// `cllm serve`: the dashboard and the OpenAI-compatible API (CrystallineServer), in the way
// llama.cpp's `llama-server`, Ollama and TensorBoard are started.
import ArgumentParser
import Foundation
import CrystallineServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the dashboard (training, chat, models, lattice) and an OpenAI-compatible API.",
        discussion: """
        Listens on 127.0.0.1 unless told otherwise; any other address needs --api-key, which every \
        request but /health must then send as 'Authorization: Bearer KEY'. The API follows OpenAI's \
        (and llama.cpp's server's) shapes: GET /health, GET /v1/models, POST /v1/completions and \
        POST /v1/chat/completions, streaming with "stream": true.
        """)
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8080
    @Option(help: "Models directory (default ./models or $CLLM_MODELS).") var models: String?
    @Option(help: "Directory of the dashboard's training runs (default: the models directory, so trained runs are models).")
    var runs: String?
    @Option(help: "Require this bearer token on every request but /health.") var apiKey: String?
    @Option(help: "Most tokens a completion may ask for (also capped by the model's context).") var maxTokensLimit = 2048

    func run() async throws {
        var options = ServerOptions()
        options.host = host
        options.port = port
        let modelsPath = models ?? ProcessInfo.processInfo.environment["CLLM_MODELS"] ?? "models"
        options.modelsDirectory = URL(fileURLWithPath: modelsPath)
        options.runsDirectory = URL(fileURLWithPath: runs ?? modelsPath)
        options.apiKey = apiKey ?? ProcessInfo.processInfo.environment["CLLM_API_KEY"]
        options.maxTokensLimit = maxTokensLimit
        do {
            try FileManager.default.createDirectory(at: options.modelsDirectory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: options.runsDirectory, withIntermediateDirectories: true)
            let server = try CrystallineServer(options: options)
            try await server.run { address in
                print("cllm serve: dashboard and API at http://\(address) (models: \(modelsPath), runs: \(runs ?? modelsPath))")
                flushOutput()
            }
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode.failure
        }
    }
}
