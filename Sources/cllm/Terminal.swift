// Terminal helpers: progress formatting, stderr, and the Ctrl-C flag.
import Foundation
import Synchronization
import ArgumentParser

enum Terminal {
    static let isInteractive = isatty(STDOUT_FILENO) != 0
    static let isStderrInteractive = isatty(STDERR_FILENO) != 0

    /// A progress line on stderr that rewrites itself (nil clears it); only on a terminal.
    static func progress(_ line: String?) {
        guard isStderrInteractive else { return }
        FileHandle.standardError.write(Data(("\r" + (line ?? "") + "\u{1B}[K").utf8))
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }

    static func thousands(_ x: Double) -> String {
        let f = NumberFormatter()
        f.numberStyle = .decimal
        f.maximumFractionDigits = 0
        return f.string(from: NSNumber(value: x)) ?? "\(Int(x))"
    }
}

/// Set by SIGINT or SIGTERM (a container stop); the training loop polls it, saves a checkpoint
/// and exits cleanly. A second signal exits at once.
let interruptRequested = Atomic<Bool>(false)

func installInterruptHandler() {
    for sig in [SIGINT, SIGTERM] {
        signal(sig) { _ in
            if interruptRequested.load(ordering: .relaxed) { _exit(130) }
            interruptRequested.store(true, ordering: .relaxed)
        }
    }
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs `body`, turning library errors into a clean message and exit code 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ExitCode { throw e } catch let e as CleanExit { throw e } catch {
        Terminal.error("error: \(error)")
        throw ExitCode.failure
    }
}

/// Flushes standard output (and every other output stream).
func flushOutput() { fflush(nil) }

