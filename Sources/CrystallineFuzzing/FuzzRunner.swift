// A mutation fuzzer that needs nothing beyond the Swift toolchain: start from valid seeds,
// mutate, run the target, keep inputs the parser accepted as bases for further mutation (they
// reach deeper checks). A crash (trap, segfault, abort) kills the process, as it would under
// libFuzzer; before it does, a signal handler writes the input to `crash-<target>-<n>`. An input
// that runs longer than the timeout is written to `hang-<target>-<n>` by a watchdog, which then
// stops the process. Everything is seeded, so a run is reproducible.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public struct FuzzReport: Sendable, CustomStringConvertible {
    public var target: String
    public var executions = 0
    public var accepted = 0
    public var seconds = 0.0
    public var poolSize = 0
    public var slowest = 0.0

    public var description: String {
        String(format: "%@: %d executions in %.1f s (%.0f/s), %d accepted, pool %d, slowest input %.3f s, 0 crashes, 0 hangs",
               target, executions, seconds, Double(executions) / max(seconds, 1e-9), accepted, poolSize, slowest)
    }
}

// The input being run, where the signal handler and the watchdog can reach it without locks.
nonisolated(unsafe) private var currentInput: UnsafeMutableRawPointer?
nonisolated(unsafe) private var currentLength = 0
nonisolated(unsafe) private var crashPath: UnsafeMutablePointer<CChar>?
private let executionStarted = Atomic<UInt64>(0)  // monotonic ns; 0 when idle
// The watchdog's settings: one thread for the process, set anew by each run.
private let watchdogLimit = Atomic<UInt64>(10_000_000_000)
nonisolated(unsafe) private var watchdogHangPath = ""
nonisolated(unsafe) private var watchdogStarted = false

private func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Writes the current input to the crash file, then lets the signal kill the process.
private func crashHandler(_ signal: Int32) {
    if let path = crashPath, let input = currentInput {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd >= 0 { _ = write(fd, input, currentLength); close(fd) }
        let note = "cllm-fuzz: crash; input written to "
        _ = write(2, note, note.utf8.count); _ = write(2, path, strlen(path)); _ = write(2, "\n", 1)
    }
    Glibc.signal(signal, SIG_DFL)
    raise(signal)
}

public enum FuzzRunner {
    /// Runs `target` until `seconds` pass or `runs` inputs have run (whichever comes first).
    /// `artifacts` is where a crashing or hanging input is written.
    public static func run(_ target: FuzzTarget, seeds: [Data], seconds: Double, runs: Int = .max, seed: UInt64 = 1,
                           timeout: Double = 10, artifacts: URL, log: (String) -> Void = { _ in }) -> FuzzReport {
        try? FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let stamp = "\(target.name)-\(getpid())"
        free(crashPath)
        crashPath = strdup(artifacts.appendingPathComponent("crash-\(stamp)").path)
        let hangPath = artifacts.appendingPathComponent("hang-\(stamp)").path
        for s in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] { signal(s, crashHandler) }
        if currentInput == nil { currentInput = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16) }
        startWatchdog(timeout: timeout, hangPath: hangPath)

        var rng = FuzzRandom(seed: seed)
        let mutator = Mutator(maxLength: 1 << 18, dictionary: target.dictionary)
        var pool = seeds.map { Array($0) }
        if pool.isEmpty { pool = [[]] }
        var report = FuzzReport(target: target.name)
        let start = monotonicNanoseconds()
        var lastLog = start
        // Seeds first, as they are: each must be accepted or at least survive.
        var queue = pool
        while report.executions < runs {
            let input: [UInt8]
            if !queue.isEmpty { input = queue.removeFirst() } else {
                input = mutator.mutate(pool[rng.below(pool.count)], other: pool[rng.below(pool.count)], rng: &rng)
            }
            let began = monotonicNanoseconds()
            let accepted = runOne(target, input)
            let took = Double(monotonicNanoseconds() - began) / 1e9
            report.slowest = max(report.slowest, took)
            report.executions += 1
            if accepted {
                report.accepted += 1
                if pool.count < 512 { pool.append(input) } else if rng.chance(8) { pool[rng.below(pool.count)] = input }
            }
            let now = monotonicNanoseconds()
            if Double(now - start) / 1e9 >= seconds { break }
            if now - lastLog > 30_000_000_000 {
                lastLog = now
                log("#\(report.executions) \(Int(Double(now - start) / 1e9)) s, \(report.accepted) accepted, pool \(pool.count)")
            }
        }
        report.seconds = Double(monotonicNanoseconds() - start) / 1e9
        report.poolSize = pool.count
        for s in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] { signal(s, SIG_DFL) }
        executionStarted.store(0, ordering: .releasing)
        return report
    }

    /// Runs one input with the crash handler able to see it.
    static func runOne(_ target: FuzzTarget, _ input: [UInt8]) -> Bool {
        let n = min(input.count, 1 << 20)
        input.withUnsafeBytes { if n > 0 { currentInput!.copyMemory(from: $0.baseAddress!, byteCount: n) } }
        currentLength = n
        executionStarted.store(monotonicNanoseconds(), ordering: .releasing)
        defer { executionStarted.store(0, ordering: .releasing) }
        return target.execute(Data(input))
    }

    private static func startWatchdog(timeout: Double, hangPath: String) {
        watchdogLimit.store(UInt64(timeout * 1e9), ordering: .relaxed)
        watchdogHangPath = hangPath
        if watchdogStarted { return }
        watchdogStarted = true
        let thread = Thread {
            while true {
                usleep(200_000)
                let started = executionStarted.load(ordering: .acquiring), limit = watchdogLimit.load(ordering: .relaxed)
                if started != 0, monotonicNanoseconds() > started + limit {
                    let path = watchdogHangPath
                    FileManager.default.createFile(atPath: path, contents: Data(bytes: currentInput!, count: currentLength))
                    FileHandle.standardError.write(Data("cllm-fuzz: an input ran longer than \(Double(limit) / 1e9) s; written to \(path)\n".utf8))
                    _exit(3)
                }
            }
        }
        thread.start()
    }
}
