// The models directory behind `cllm models` (default ./models, or $CLLM_MODELS): each
// subdirectory holding a model.safetensors is a model, named by its folder.
import Foundation
import CrystallineFormats
import CrystallineModel
import CrystallineTokenizers

public struct ModelSummary: Sendable {
    public var name: String
    public var path: String
    /// All the files of the directory.
    public var bytes: Int
    public var sizes: ModelSizes
    public var parameters: Int
    public var config: GPTConfig
    public var info: ModelInfo?
}

/// Where a model directory's bytes go: what inference needs, what resuming needs, the run's
/// cached token shards, and the rest (tokenizers, config, metrics).
public struct ModelSizes: Sendable, Equatable {
    public var weights = 0, checkpoint = 0, data = 0, other = 0
    public var total: Int { weights + checkpoint + data + other }
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
        // A config.json with absurd sizes must not make the listing compute (or allocate) them.
        do { try config.validate() } catch {
            throw ModelDirectoryError("\(dir.appendingPathComponent(ModelDirectory.configFile).path): \(error)")
        }
        var sizes = ModelSizes()
        let base = dir.standardizedFileURL.resolvingSymlinksInPath().path
        if let walker = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.fileSizeKey]) {
            for case let url as URL in walker {
                let size = (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0) ?? 0
                let relative = url.standardizedFileURL.resolvingSymlinksInPath().path.dropFirst(base.count + 1)
                if relative == ModelDirectory.weightsFile { sizes.weights += size }
                else if relative == ModelDirectory.checkpointFile { sizes.checkpoint += size }
                else if relative.hasPrefix("data/") { sizes.data += size }
                else { sizes.other += size }
            }
        }
        return ModelSummary(name: dir.lastPathComponent, path: dir.path, bytes: sizes.total, sizes: sizes,
                            parameters: ParameterLayout(config: config).totalCount, config: config, info: info)
    }

    /// The subdirectories holding a model.safetensors, by name.
    public func modelDirectories() -> [URL] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root.path) else { return [] }
        return names.sorted().map { root.appendingPathComponent($0) }.filter {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent(ModelDirectory.weightsFile).path)
        }
    }

    /// The summaries of the models that can be read (one broken directory does not hide the rest).
    public func list() throws -> [ModelSummary] { modelDirectories().compactMap { try? summary(of: $0) } }

    /// The training configuration a model's checkpoint was made with, as its JSON (nil without
    /// a checkpoint). Only the checkpoint's header is read.
    public func trainingConfigJSON(of dir: URL) -> String? {
        let url = dir.appendingPathComponent(ModelDirectory.checkpointFile)
        guard let state = try? Safetensors.readMetadata(url)["trainer_state"],
              let object = try? JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any], let config = object["config"] as? [String: Any],
              let data = try? JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .prettyPrinted]) else { return nil }
        return String(decoding: data, as: UTF8.self)
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
