// Byte-level BPE (GPT-2 style): ids 0–255 are the bytes, each later id is a learned merge of two
// earlier ids, then `<|endoftext|>`. Any byte sequence, invalid UTF-8 included, encodes and
// decodes exactly; text never encodes to a special token (as tiktoken's default).

public struct BPETokenizer: Tokenizer {
    public let kind = TokenizerKind.bpe
    /// merges[r] = (left, right), applied in rank order r; the result has id `mergeResults[r]`.
    public let merges: [(Int32, Int32)]
    public let mergeResults: [Int32]
    /// The bytes each id stands for.
    public let tokenBytes: [[UInt8]]
    /// The id of each single byte.
    public let byteIds: [Int32]
    private let ranks: [UInt64: Int32]
    /// Whether ids follow our own layout (bytes 0–255, then one id per merge in rank order).
    private let canonical: Bool
    /// Special tokens, ids `tokenBytes.count...` (an imported GPT-2 vocabulary holds its
    /// `<|endoftext|>` among the tokens instead).
    public let specials: [String]
    public let endOfTextId: Int32?

    /// The specials a new tokenizer gets.
    public static let defaultSpecials = [TokenizerFile.endOfText]

    /// Our layout: ids 0–255 are the bytes, merge r creates id 256 + r, then the specials.
    public init(merges: [(Int32, Int32)], specials: [String] = BPETokenizer.defaultSpecials) {
        var bytes = (0..<256).map { [UInt8($0)] }
        for (a, b) in merges { bytes.append(bytes[Int(a)] + bytes[Int(b)]) }
        try! self.init(vocab: bytes, merges: merges, specials: specials)
    }

    /// Any byte-level BPE vocabulary (e.g. GPT-2's own): every byte must be a token, and every
    /// merge must produce a token of the vocabulary.
    public init(vocab: [[UInt8]], merges: [(Int32, Int32)], specials: [String] = []) throws {
        guard specials.allSatisfy(Self.defaultSpecials.contains), Set(specials).count == specials.count else {
            throw TokenizerError.invalidFile("bpe specials must be among \(Self.defaultSpecials), each once; got \(specials)")
        }
        var idOf: [[UInt8]: Int32] = [:]
        for (i, b) in vocab.enumerated() where idOf[b] == nil { idOf[b] = Int32(i) }
        var byteIds = [Int32](repeating: 0, count: 256)
        for b in 0..<256 {
            guard let id = idOf[[UInt8(b)]] else { throw TokenizerError.invalidFile("byte \(b) has no token") }
            byteIds[b] = id
        }
        var results: [Int32] = []
        var ranks: [UInt64: Int32] = [:]
        for (r, (a, b)) in merges.enumerated() {
            guard a >= 0, b >= 0, Int(a) < vocab.count, Int(b) < vocab.count, let id = idOf[vocab[Int(a)] + vocab[Int(b)]] else {
                throw TokenizerError.invalidFile("merge \(r) produces no token of the vocabulary")
            }
            results.append(id)
            if ranks[Self.key(a, b)] == nil { ranks[Self.key(a, b)] = Int32(r) }
        }
        self.merges = merges
        mergeResults = results
        tokenBytes = vocab
        self.byteIds = byteIds
        self.ranks = ranks
        canonical = vocab.count == 256 + merges.count && byteIds == (0..<256).map { Int32($0) }
            && results == (0..<merges.count).map { Int32(256 + $0) }
        self.specials = specials
        if let i = specials.firstIndex(of: TokenizerFile.endOfText) {
            endOfTextId = Int32(vocab.count + i)
        } else {
            endOfTextId = vocab.firstIndex(of: Array(TokenizerFile.endOfText.utf8)).map { Int32($0) }
        }
    }

    /// Parses merges written as "left right" in GPT-2's byte-to-unicode alphabet, with an
    /// optional explicit vocabulary (id order, same alphabet); without one, our layout.
    public init(mergeStrings: [String], vocabStrings: [String]? = nil, specials: [String] = []) throws {
        var vocab: [[UInt8]]
        if let vocabStrings {
            vocab = try vocabStrings.map {
                guard let b = ByteAlphabet.bytes($0) else { throw TokenizerError.invalidFile("token \($0.debugDescription) is not byte-level") }
                return b
            }
        } else {
            vocab = (0..<256).map { [UInt8($0)] }
        }
        var idOf: [[UInt8]: Int32] = [:]
        for (i, b) in vocab.enumerated() where idOf[b] == nil { idOf[b] = Int32(i) }
        var merges: [(Int32, Int32)] = []
        for (r, line) in mergeStrings.enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, let l = ByteAlphabet.bytes(String(parts[0])), let rgt = ByteAlphabet.bytes(String(parts[1])),
                  let a = idOf[l], let b = idOf[rgt] else {
                throw TokenizerError.invalidFile("merge \(r) \(line.debugDescription) does not combine known tokens")
            }
            merges.append((a, b))
            if vocabStrings == nil {
                vocab.append(l + rgt)
                idOf[l + rgt] = Int32(vocab.count - 1)
            }
        }
        try self.init(vocab: vocab, merges: merges, specials: specials)
    }

    @inline(__always) static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    /// The rank of the merge of `a` then `b`, if there is one.
    func rank(_ a: Int32, _ b: Int32) -> Int32? { ranks[Self.key(a, b)] }

    public var vocabSize: Int { tokenBytes.count + specials.count }

    public func encode(_ bytes: [UInt8]) throws -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(expectedTokenCount(bytes))
        // Words repeat, so their encodings are cached; the cache is emptied when it grows past a
        // bound, so memory stays proportional to the output, not to the corpus's vocabulary.
        var cache: [ArraySlice<UInt8>: [Int32]] = [:]
        PreTokenizer.forEachChunk(bytes) { range in
            let chunk = bytes[range]
            if let hit = cache[chunk] { out += hit; return }
            let ids = encodeChunk(chunk)
            if cache.count >= 1 << 16 { cache.removeAll(keepingCapacity: true) }
            cache[chunk] = ids
            out += ids
        }
        return out
    }

    /// Room for the tokens of `bytes`: for a large text, the tokens per byte of its first MiB
    /// with 10 % to spare, so that the token array is not outgrown (growing it copies it, which
    /// set the peak memory of encoding a large corpus).
    func expectedTokenCount(_ bytes: [UInt8]) -> Int {
        let sampleSize = 1 << 20
        guard bytes.count > 4 * sampleSize else { return bytes.count / 2 }
        let sample = Array(bytes.prefix(sampleSize))
        var tokens = 0
        PreTokenizer.forEachChunk(sample) { tokens += encodeChunk(sample[$0]).count }
        return Int(Double(bytes.count) * Double(tokens) / Double(sampleSize) * 1.1)
    }

    /// Applies merges in rank order within one pre-token chunk.
    func encodeChunk(_ chunk: ArraySlice<UInt8>) -> [Int32] {
        if chunk.count > 64 { return encodeLongChunk(chunk) }
        var ids = chunk.map { byteIds[Int($0)] }
        while ids.count > 1 {
            var bestRank = Int32.max, bestAt = -1
            for i in 0..<(ids.count - 1) {
                if let r = ranks[Self.key(ids[i], ids[i + 1])], r < bestRank { bestRank = r; bestAt = i }
            }
            if bestAt < 0 { break }
            let (a, b) = merges[Int(bestRank)]
            let merged = mergeResults[Int(bestRank)]
            var next: [Int32] = []
            next.reserveCapacity(ids.count)
            var i = 0
            while i < ids.count {
                if i + 1 < ids.count, ids[i] == a, ids[i + 1] == b { next.append(merged); i += 2 } else { next.append(ids[i]); i += 1 }
            }
            ids = next
        }
        return ids
    }

    /// The same merges for a long chunk (a run of 10 MB of letters is one chunk) in
    /// O(n log n): pairs wait in a heap ordered by (rank, position) over a linked list of the
    /// ids, so the lowest-ranked pair is merged first and equal ranks go left to right, as in
    /// the quadratic loop above.
    func encodeLongChunk(_ chunk: ArraySlice<UInt8>) -> [Int32] {
        var ids = chunk.map { byteIds[Int($0)] }
        let n = ids.count
        var next = Array(1...n), prev = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap()
        func push(_ i: Int) {
            guard i >= 0, next[i] < n, let r = ranks[Self.key(ids[i], ids[next[i]])] else { return }
            heap.push(UInt64(UInt32(r)) << 32 | UInt64(i))
        }
        for i in 0..<(n - 1) { push(i) }
        while let top = heap.pop() {
            let rank = Int32(top >> 32), i = Int(top & 0xffff_ffff)
            guard alive[i], next[i] < n, ranks[Self.key(ids[i], ids[next[i]])] == rank else { continue }
            let j = next[i]
            ids[i] = mergeResults[Int(rank)]
            alive[j] = false
            next[i] = next[j]
            if next[j] < n { prev[next[j]] = i }
            push(prev[i])
            push(i)
        }
        var out: [Int32] = []
        var i = 0
        while i < n { out.append(ids[i]); i = next[i] }
        return out
    }

    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < tokenBytes.count { out += tokenBytes[Int(id)] }
        return out
    }

    /// A token in GPT-2's byte-to-unicode alphabet; a special by its name.
    public func tokenString(_ id: Int32) -> String {
        Int(id) < tokenBytes.count ? ByteAlphabet.string(tokenBytes[Int(id)]) : specials[Int(id) - tokenBytes.count]
    }

    public var file: TokenizerFile {
        TokenizerFile(kind: .bpe, merges: merges.map { "\(ByteAlphabet.string(tokenBytes[Int($0.0)])) \(ByteAlphabet.string(tokenBytes[Int($0.1)]))" },
                      vocab: canonical ? nil : tokenBytes.map(ByteAlphabet.string), specials: specials.isEmpty ? nil : specials)
    }

    /// Learns merges from `corpus` until the vocabulary, `<|endoftext|>` included, reaches
    /// `vocabSize` (or no pair repeats).
    ///
    /// Pair counts are kept incrementally: a merge only revisits the words that contain the
    /// merged pair. Ties go to the smallest (left, right) pair, so training is deterministic.
    public static func train(corpus: [UInt8], vocabSize: Int) -> BPETokenizer {
        var wordIndex: [ArraySlice<UInt8>: Int] = [:]
        var words: [[Int32]] = []
        var freq: [Int] = []
        // Counts per distinct word, streamed over the corpus (no per-byte or per-chunk table).
        PreTokenizer.forEachChunk(corpus) { range in
            let chunk = corpus[range]
            if let w = wordIndex[chunk] { freq[w] += 1 } else {
                wordIndex[chunk] = words.count
                words.append(chunk.map { Int32($0) })
                freq.append(1)
            }
        }
        var pairCount: [UInt64: Int] = [:]
        var pairWords: [UInt64: Set<Int>] = [:]
        for (w, ids) in words.enumerated() where ids.count > 1 {
            for i in 0..<(ids.count - 1) {
                let k = key(ids[i], ids[i + 1])
                pairCount[k, default: 0] += freq[w]
                pairWords[k, default: []].insert(w)
            }
        }
        var merges: [(Int32, Int32)] = []
        while 256 + merges.count + defaultSpecials.count < vocabSize {
            var best: UInt64 = 0, bestCount = 1
            for (k, c) in pairCount where c > bestCount || (c == bestCount && c > 1 && k < best) {
                best = k; bestCount = c
            }
            if bestCount < 2 { break }
            let a = Int32(truncatingIfNeeded: best >> 32), b = Int32(truncatingIfNeeded: best & 0xffff_ffff)
            let newId = Int32(256 + merges.count)
            merges.append((a, b))
            for w in pairWords[best] ?? [] {
                let old = words[w]
                for i in 0..<(old.count - 1) {
                    let k = key(old[i], old[i + 1])
                    pairCount[k, default: 0] -= freq[w]
                    if pairCount[k]! <= 0 { pairCount[k] = nil }
                }
                var merged: [Int32] = []
                var i = 0
                while i < old.count {
                    if i + 1 < old.count, old[i] == a, old[i + 1] == b { merged.append(newId); i += 2 } else { merged.append(old[i]); i += 1 }
                }
                words[w] = merged
                if merged.count > 1 {
                    for i in 0..<(merged.count - 1) {
                        let k = key(merged[i], merged[i + 1])
                        pairCount[k, default: 0] += freq[w]
                        pairWords[k, default: []].insert(w)
                    }
                }
            }
            pairWords[best] = nil
            pairCount[best] = nil
        }
        return BPETokenizer(merges: merges)
    }
}

/// A binary min-heap of 64-bit keys (rank in the high half, position in the low half).
struct MinHeap {
    private var items: [UInt64] = []
    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }
    mutating func pop() -> UInt64? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count, items[l] < items[m] { m = l }
                if r < items.count, items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return first
    }
}

/// GPT-2's reversible map from bytes to printable Unicode characters (used by vocab and merges
/// files so that every token is a plain string).
public enum ByteAlphabet {
    public static let byteToChar: [Character] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var chars = printable
        var extra = 0
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(printable, chars) { table[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return table
    }()

    static let charToByte: [Character: UInt8] = {
        var m: [Character: UInt8] = [:]
        for (b, c) in byteToChar.enumerated() { m[c] = UInt8(b) }
        return m
    }()

    public static func string(_ bytes: [UInt8]) -> String { String(bytes.map { byteToChar[Int($0)] }) }

    public static func bytes(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        for c in s { guard let b = charToByte[c] else { return nil }; out.append(b) }
        return out.isEmpty ? nil : out
    }
}
