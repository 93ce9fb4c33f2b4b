// Running the command-line programs that read documents (poppler's pdftotext, pdfinfo and
// pdftoppm; tesseract), with a clear error naming the Debian package when one is missing.
import Foundation

public enum IngestError: Error, CustomStringConvertible {
    case missingTool(String, package: String)
    case toolFailed(String, status: Int32, message: String)
    case unreadable(String, reason: String)

    public var description: String {
        switch self {
        case .missingTool(let tool, let package):
            return "\(tool) is not installed; it comes with the Debian package \(package) (sudo apt-get install \(package))"
        case .toolFailed(let tool, let status, let message):
            return "\(tool) failed (exit status \(status))\(message.isEmpty ? "" : ": " + message)"
        case .unreadable(let path, let reason): return "\(path): \(reason)"
        }
    }
}

public enum ExternalTool {
    /// The Debian package that provides each tool.
    static let packages = ["pdftotext": "poppler-utils", "pdfinfo": "poppler-utils", "pdftoppm": "poppler-utils",
                           "tesseract": "tesseract-ocr tesseract-ocr-eng"]

    /// The tool's path on $PATH, or nil.
    public static func find(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public static func isAvailable(_ tool: String) -> Bool { find(tool) != nil }

    /// Runs `tool` with `arguments`; returns its standard output. Tesseract gets one OpenMP
    /// thread (on two cores its default of all cores makes it slower, not faster).
    @discardableResult
    public static func run(_ tool: String, _ arguments: [String]) throws -> Data {
        guard let path = find(tool) else { throw IngestError.missingTool(tool, package: packages[tool] ?? tool) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_THREAD_LIMIT"] = "1"
        process.environment = environment
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes before waiting, so a chatty tool never blocks on a full pipe.
        let errorData = LockedData()
        let errorReader = Thread { errorData.set(stderr.fileHandleForReading.readDataToEndOfFile()) }
        errorReader.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errorData.isSet { usleep(1000) }
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errorData.value, as: UTF8.self).split(separator: "\n").prefix(3).joined(separator: "; ")
            throw IngestError.toolFailed(tool, status: process.terminationStatus, message: message)
        }
        return output
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    func set(_ d: Data) { lock.withLock { data = d } }
    var isSet: Bool { lock.withLock { data != nil } }
    var value: Data { lock.withLock { data ?? Data() } }
}
