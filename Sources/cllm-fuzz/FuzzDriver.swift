// cllm-fuzz: runs the fuzz targets of CrystallineFuzzing.
//
// Built normally, it is a self-contained mutation fuzzer (`cllm-fuzz run TARGET --seconds N`).
// Built with `swift build --sanitize fuzzer -Xswiftc -DLIBFUZZER` (scripts/fuzz.sh does), it is
// a libFuzzer binary instead: coverage-guided, the target named by $CLLM_FUZZ_TARGET, and
// libFuzzer's own flags (-max_total_time, -runs, corpus directories).
import Foundation
import CrystallineFuzzing

#if LIBFUZZER
nonisolated(unsafe) private var selected: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = ProcessInfo.processInfo.environment["CLLM_FUZZ_TARGET"] ?? ""
    if name == "list" {
        for t in FuzzTargets.all { print("\(t.name) \(t.summary)") }
        exit(0)
    }
    guard let target = FuzzTargets.named(name) else {
        FileHandle.standardError.write(Data("set CLLM_FUZZ_TARGET to one of: \(FuzzTargets.all.map(\.name).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    FuzzTargets.prepare()
    selected = target
    atexit { FuzzTargets.removeScratch() }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = size > 0 ? Data(bytes: data!, count: size) : Data()
    selected!.execute(input)
    return 0
}
#else
@main
struct FuzzDriver {
    static let usage = """
    usage: cllm-fuzz list
           cllm-fuzz seeds DIR                 write the valid seed inputs of every target to DIR/<target>/
           cllm-fuzz run TARGET [--seconds N] [--runs N] [--seed N] [--seeds DIR] [--artifacts DIR] [--timeout S]
           cllm-fuzz replay TARGET FILE...     run saved inputs once each (crash reproduction, regressions)
    """

    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        guard let command = args.first else { fail(usage) }
        args.removeFirst()
        defer { FuzzTargets.removeScratch() }
        switch command {
        case "list":
            for t in FuzzTargets.all { print("\(t.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(t.summary)") }
        case "seeds":
            guard let dir = args.first else { fail(usage) }
            FuzzTargets.prepare()
            for (target, files) in try FuzzSeeds.generate() {
                let folder = URL(fileURLWithPath: dir).appendingPathComponent(target)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for (name, data) in files { try data.write(to: folder.appendingPathComponent(name)) }
                print("\(target): \(files.count) seed(s)")
            }
        case "run":
            guard let name = args.first, let target = FuzzTargets.named(name) else { fail("unknown target; `cllm-fuzz list` names them") }
            var seconds = 60.0, runs = Int.max, seed: UInt64 = 1, timeout = 10.0
            var seedDir = "Tests/FuzzSeeds", artifacts = "fuzz-artifacts"
            var i = 1
            while i < args.count {
                let value = i + 1 < args.count ? args[i + 1] : ""
                switch args[i] {
                case "--seconds": seconds = Double(value) ?? seconds
                case "--runs": runs = Int(value) ?? runs
                case "--seed": seed = UInt64(value) ?? seed
                case "--timeout": timeout = Double(value) ?? timeout
                case "--seeds": seedDir = value
                case "--artifacts": artifacts = value
                default: fail("unknown option \(args[i])\n\(usage)")
                }
                i += 2
            }
            FuzzTargets.prepare()
            var seeds = FuzzSeeds.read(target: name, from: URL(fileURLWithPath: seedDir))
            if seeds.isEmpty { seeds = (try FuzzSeeds.generate()[name] ?? []).map(\.1) }
            let report = FuzzRunner.run(target, seeds: seeds, seconds: seconds, runs: runs, seed: seed, timeout: timeout,
                                        artifacts: URL(fileURLWithPath: artifacts)) { print($0) }
            print(report)
        case "replay":
            guard let name = args.first, let target = FuzzTargets.named(name) else { fail("unknown target; `cllm-fuzz list` names them") }
            FuzzTargets.prepare()
            for path in args.dropFirst() {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                do {
                    try target.run(data)
                    print("\(path): accepted")
                } catch {
                    print("\(path): refused: \(error)")
                }
            }
        default:
            fail(usage)
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}
#endif
