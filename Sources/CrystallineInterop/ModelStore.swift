// The models directory behind `cllm models` (default ./models, or $CLLM_MODELS): each
// subdirectory holding a model.safetensors is a model, named by its folder.
import Foundation
import CrystallineFormats
import CrystallineModel
import CrystallineTokenizers

public struct ModelSummary: Sendable {
    public var name: String
    public var path: String
    public var bytes: Int
    public var parameters: Int
    public var config: GPTConfig
    public var info: ModelInfo?
}

public struct ModelStore {
    public let root: URL

    public init(root: String? = nil) {
        self.root = URL(fileURLWithPath: root ?? ProcessInfo.processInfo.environment["CLLM_MODELS"] ?? "models")
    }

    /// A model name in the store, or a path to a model directory.
    public func resolve(_ nameOrPath: String) -> URL {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDir), isDir.boolValue {
            return URL(fileURLWithPath: nameOrPath)
        }
        return root.appendingPathComponent(nameOrPath)
    }

    public func summary(of dir: URL) throws -> ModelSummary {
        let (config, info) = try ModelDirectory.readConfig(from: dir)
        var bytes = 0
        if let walker = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.fileSizeKey]) {
            for case let url as URL in walker { bytes += (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0) ?? 0 }
        }
        return ModelSummary(name: dir.lastPathComponent, path: dir.path, bytes: bytes,
                            parameters: ParameterLayout(config: config).totalCount, config: config, info: info)
    }

    public func list() throws -> [ModelSummary] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root.path) else { return [] }
        return names.sorted().compactMap { name in
            let dir = root.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: dir.appendingPathComponent(ModelDirectory.weightsFile).path) else { return nil }
            return try? summary(of: dir)
        }
    }

    /// Deletes a model of the store (never a path outside it).
    public func remove(_ name: String) throws {
        let dir = root.appendingPathComponent(name)
        guard !name.contains("/"), name != "..", name != ".",
              FileManager.default.fileExists(atPath: dir.appendingPathComponent(ModelDirectory.weightsFile).path) else {
            throw ModelDirectoryError("no model named '\(name)' in \(root.path)")
        }
        try FileManager.default.removeItem(at: dir)
    }
}
