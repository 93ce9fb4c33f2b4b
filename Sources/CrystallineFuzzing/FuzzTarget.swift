// CrystallineFuzzing: hostile input for every parser, and the machinery to feed it.
//
// Owns the fuzz targets (one per file format or text the program reads: safetensors, GGUF,
// tokenizer.json, our tokenizer file, config.json, token shards, the training config file,
// checkpoints, model weights, corpus text, robots.txt, HTML pages), the valid seed inputs they start from, a
// deterministic mutator and a runner that catches crashes and hangs. The same targets run
// under libFuzzer (`cllm-fuzz` built with `--sanitize fuzzer`, coverage-guided), under the
// runner here (any toolchain), and a fixed number of iterations in `swift test`.
//
// A target's contract is the one safetensors and SQLite keep: any input either parses or
// throws an error; a trap, an unbounded allocation or a hang is a bug. Imports every module
// that parses a file; nothing imports it but the fuzz driver and the tests.
import Foundation

/// One parser under test.
public struct FuzzTarget: Sendable {
    /// The name `cllm-fuzz` and `scripts/fuzz.sh` use.
    public let name: String
    /// What it parses.
    public let summary: String
    /// Words worth splicing into inputs (keys, type names, magic numbers as text).
    public let dictionary: [String]
    /// Feeds one input; returns normally or throws, for any input.
    public let run: @Sendable (Data) throws -> Void

    public init(name: String, summary: String, dictionary: [String] = [], run: @escaping @Sendable (Data) throws -> Void) {
        self.name = name; self.summary = summary; self.dictionary = dictionary; self.run = run
    }

    /// Runs the target and discards the error it may throw: errors are the expected answer to
    /// bad input. Returns whether the input was accepted.
    @discardableResult
    public func execute(_ input: Data) -> Bool {
        do { try run(input); return true } catch { return false }
    }
}

/// A check inside a target that failed: an input that parsed but broke a promise (a decoded
/// text that does not round-trip, say). The runner treats it as a crash.
public struct FuzzInvariantFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Stops the process as a crash would, for an invariant the target found broken.
func invariant(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz invariant failed: \(message())") }
}
