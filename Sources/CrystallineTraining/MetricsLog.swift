// metrics.jsonl and diagnostics.jsonl: one JSON object per line, appended as a run goes.
import Foundation

final class MetricsLog {
    private let handle: FileHandle
    private let encoder = JSONEncoder()

    init(url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        encoder.outputFormatting = [.sortedKeys]
    }

    deinit { try? handle.close() }

    func append(_ record: StepRecord) throws {
        try handle.write(contentsOf: encoder.encode(record) + Data("\n".utf8))
    }

    func appendDiagnostics(step: Int, _ stats: [TensorDiagnostics], directory: URL) throws {
        struct Line: Encodable { let step: Int; let tensors: [TensorDiagnostics] }
        let url = directory.appendingPathComponent("diagnostics.jsonl")
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd()
        try h.write(contentsOf: encoder.encode(Line(step: step, tensors: stats)) + Data("\n".utf8))
        try h.close()
    }
}
