// The programs the corpus tests run: the `cllm` binary beside the tests, started (to be killed)
// or run to its end with its output captured.
import Foundation

enum KillHelpers {
    static var cllm: URL? {
        let beside = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let bundle = Bundle(for: CrawlerTests.self).bundleURL.deletingLastPathComponent()
        return [beside, bundle].map { $0.appendingPathComponent("cllm") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs a program to its end; its exit status and its standard output and error together.
    static func run(_ program: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = program
        p.arguments = arguments
        if let environment { p.environment = environment }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, output)
    }

    static func start(_ cllm: URL, _ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = cllm
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }
}
