// The models the server can use: the model directories of --models, loaded on first use and
// kept (weights are immutable, so one loaded model serves every request).
import Foundation
import CrystallineInference
import CrystallineInterop

actor ModelRegistry {
    let store: ModelStore
    private var loaded: [String: LanguageModel] = [:]

    init(directory: URL) {
        store = ModelStore(root: directory.path)
    }

    func list() throws -> [ModelSummary] { try store.list() }

    func summary(_ name: String) throws -> ModelSummary {
        let dir = try directory(of: name)
        return try store.summary(of: dir)
    }

    /// The model directory of `name`, which must exist.
    func directory(of name: String) throws -> URL {
        let dir = try Names.child(name, of: store.root, what: "model")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent(ModelDirectory.weightsFile).path) else {
            throw APIError(.notFound, "no model named '\(name)'", type: "not_found")
        }
        return dir
    }

    func model(_ name: String) throws -> LanguageModel {
        if let m = loaded[name] { return m }
        let dir = try directory(of: name)
        do {
            let m = try LanguageModel.load(directory: dir)
            loaded[name] = m
            return m
        } catch {
            throw APIError(.unprocessableContent, "model '\(name)' cannot be loaded: \(Self.withoutPaths("\(error)", root: store.root))")
        }
    }

    /// A model that was just written again (a run saved a better one) must be re-read.
    func forget(_ name: String) { loaded[name] = nil }

    func delete(_ name: String) throws {
        let dir = try directory(of: name)
        loaded[name] = nil
        try FileManager.default.removeItem(at: dir)
    }

    /// The first model in the store, for requests that name none.
    func defaultName() throws -> String {
        guard let first = try list().first?.name else {
            throw APIError(.notFound, "no models yet: train one (cllm train, or from the dashboard)", type: "not_found")
        }
        return first
    }

    /// Error messages name files relative to the store, never by absolute path.
    static func withoutPaths(_ message: String, root: URL) -> String {
        message.replacingOccurrences(of: root.standardizedFileURL.path + "/", with: "")
            .replacingOccurrences(of: root.path + "/", with: "")
    }
}
