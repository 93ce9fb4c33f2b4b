// Token sources: where the training windows come from, read by position.
//
// A source is a sequence of token ids that may grow (a directory of shards that a crawler or
// `cllm prepare` keeps adding to) but never changes what it already holds, so a position read
// once reads the same tokens forever. The trainer reads windows out of it without holding the
// corpus in memory: shards are memory-mapped, and only the window being copied is touched.
import Foundation
import CrystallineFormats

public protocol TokenSource: AnyObject, Sendable {
    /// Tokens readable now.
    var count: Int { get }
    /// Copies tokens `start..<start+n` (all within `count`) to `out`.
    func read(from start: Int, count n: Int, into out: UnsafeMutablePointer<Int32>)
    /// Looks for data added since the last look; returns how many tokens were added.
    func refresh() throws -> Int
}

extension TokenSource {
    /// Tokens `range`, as an array (for tests and small reads).
    public func tokens(_ range: Range<Int>) -> [Int32] {
        [Int32](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            read(from: range.lowerBound, count: range.count, into: buffer.baseAddress!)
            initialized = range.count
        }
    }
}

/// Tokens held in memory (a corpus encoded by this run).
public final class InMemoryTokens: TokenSource, @unchecked Sendable {
    public let values: [Int32]
    public init(_ values: [Int32]) { self.values = values }
    public var count: Int { values.count }
    public func read(from start: Int, count n: Int, into out: UnsafeMutablePointer<Int32>) {
        values.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + start, count: n) }
    }
    public func refresh() throws -> Int { 0 }
}

/// The llm.c shards of a directory whose names match a prefix (`train` → train.bin,
/// train_000001.bin, …), in name order, read as one sequence. New shards that appear later are
/// appended by `refresh()` (shards are written atomically, so a listed shard is complete); a
/// shard already read may not change. `limit` holds the visible length at a checkpoint's value
/// until the next refresh, so that a resumed run reads exactly what the original read.
public final class ShardDirectorySource: TokenSource, @unchecked Sendable {
    public let directory: URL
    public let prefix: String
    private let lock = NSLock()
    private var shards: [(name: String, data: Data, count: Int)] = []
    private var starts: [Int] = []  // first position of each shard
    private var total = 0
    private var visible: Int?

    /// `allowEmpty`: a directory that may have no shards yet (a run's inbox before anything arrived).
    public init(directory: URL, prefix: String, allowEmpty: Bool = false) throws {
        self.directory = directory
        self.prefix = prefix
        _ = try refresh()
        guard total > 0 || allowEmpty else { throw DataError("no \(prefix)*.bin token shards with tokens in \(directory.path)") }
    }

    public var count: Int { lock.withLock { visible.map { min($0, total) } ?? total } }

    /// Shows only the first `n` tokens until the next `refresh()`.
    public func limit(to n: Int) { lock.withLock { visible = n } }

    public var shardNames: [String] { lock.withLock { shards.map(\.name) } }

    public func refresh() throws -> Int {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".bin") }.sorted()
        return try lock.withLock {
            let before = visible.map { min($0, total) } ?? total
            visible = nil
            let known = Set(shards.map(\.name))
            for name in names where !known.contains(name) {
                if let last = shards.last?.name, name < last {
                    throw DataError("new shard \(name) sorts before \(last), which was already read; name shards so that new ones sort last")
                }
                let url = directory.appendingPathComponent(name)
                let data = try Data(contentsOf: url, options: .alwaysMapped)
                let n = try TokenShard.tokenCount(data, path: url.path)
                if n == 0 { continue }
                shards.append((name, data, n))
                starts.append(total)
                total += n
            }
            return total - before
        }
    }

    public func read(from start: Int, count n: Int, into out: UnsafeMutablePointer<Int32>) {
        lock.withLock {
            precondition(start >= 0 && start + n <= total, "read past the end of the shards")
            // The shard holding `start`: the last whose first position is ≤ start.
            var lo = 0, hi = starts.count - 1
            while lo < hi { let mid = (lo + hi + 1) / 2; if starts[mid] <= start { lo = mid } else { hi = mid - 1 } }
            var shard = lo, offset = start - starts[lo], written = 0
            while written < n {
                let s = shards[shard]
                let take = min(n - written, s.count - offset)
                s.data.withUnsafeBytes { raw in
                    let base = raw.baseAddress! + 1024
                    for i in 0..<take {
                        out[written + i] = Int32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * (offset + i), as: UInt16.self)))
                    }
                }
                written += take
                shard += 1
                offset = 0
            }
        }
    }
}

/// Several sources mixed by weight: each training window comes from source i with probability
/// weight_i / Σ weights (as when a crawl is mixed with a curated corpus).
public struct SourceMixture: Sendable {
    public let sources: [any TokenSource]
    public let weights: [Double]
    private let cumulative: [Double]

    public init(_ parts: [(source: any TokenSource, weight: Double)]) throws {
        guard !parts.isEmpty else { throw DataError("a mixture needs at least one source") }
        guard parts.allSatisfy({ $0.weight.isFinite && $0.weight > 0 }) else { throw DataError("mixture weights must be positive numbers") }
        sources = parts.map(\.source)
        weights = parts.map(\.weight)
        let sum = weights.reduce(0, +)
        var c = 0.0
        cumulative = weights.map { c += $0 / sum; return c }
    }

    /// The source a uniform draw u in [0, 1) selects.
    public func pick(_ u: Double) -> Int { cumulative.firstIndex { u < $0 } ?? (sources.count - 1) }
}
