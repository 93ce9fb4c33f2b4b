// GPT-2's pre-tokenization, written out by hand so it also works on bytes that are not UTF-8:
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Input bytes are decoded into units (a valid scalar, or one invalid byte that counts as
// punctuation-like "other"); chunks are returned as byte ranges of the input, so merges never
// cross a chunk boundary and every byte belongs to exactly one chunk.
//
// The scan decodes each unit where it stands and looks at most a few units ahead, so it needs
// no memory beyond its input: a per-byte table of units cost 32 bytes per byte of corpus
// (6.4 GB for 200 MB of text).

enum PreTokenizer {
    enum Category { case letter, number, space, other }

    struct Unit {
        var start: Int, end: Int
        var category: Category
        var scalar: Unicode.Scalar?
    }

    static func category(_ s: Unicode.Scalar) -> Category {
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The unit that starts at byte `i`.
    @inline(__always)
    static func unit(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Unit {
        let b = bytes[i]
        if b < 0x80 {
            let cat: Category
            if (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) { cat = .letter }
            else if b >= 0x30 && b <= 0x39 { cat = .number }
            else if b == 0x20 || (b >= 0x09 && b <= 0x0d) { cat = .space }
            else { cat = category(Unicode.Scalar(b)) }
            return Unit(start: i, end: i + 1, category: cat, scalar: Unicode.Scalar(b))
        }
        if let (s, width) = decodeScalar(bytes, at: i) { return Unit(start: i, end: i + width, category: category(s), scalar: s) }
        return Unit(start: i, end: i + 1, category: .other, scalar: nil)
    }

    /// Decodes one multi-byte UTF-8 scalar strictly (no overlongs, no surrogates).
    static func decodeScalar(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = b[i]
        let width: Int, minValue: UInt32
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: width = 2; value = UInt32(lead & 0x1F); minValue = 0x80
        case 0xE0...0xEF: width = 3; value = UInt32(lead & 0x0F); minValue = 0x800
        case 0xF0...0xF4: width = 4; value = UInt32(lead & 0x07); minValue = 0x10000
        default: return nil
        }
        guard i + width <= b.count else { return nil }
        for k in 1..<width {
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(c & 0x3F)
        }
        guard value >= minValue, let s = Unicode.Scalar(value) else { return nil }
        return (s, width)
    }

    private static let contractions: [[UInt8]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.utf8) }

    /// The chunks of `bytes`, as byte ranges.
    static func chunks(_ bytes: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        forEachChunk(bytes) { out.append($0) }
        return out
    }

    /// Calls `body` with each chunk of `bytes`, in order, without materialising them.
    static func forEachChunk(_ bytes: [UInt8], _ body: (Range<Int>) -> Void) {
        bytes.withUnsafeBufferPointer { forEachChunk($0, body) }
    }

    static func forEachChunk(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let n = bytes.count
        var i = 0
        while i < n {
            // 's 't 're 've 'm 'll 'd (ASCII, so each unit is one byte)
            if bytes[i] == UInt8(ascii: "'") {
                var matched = 0
                for c in contractions where i + c.count < n {
                    var ok = true
                    for (k, byte) in c.enumerated() where bytes[i + 1 + k] != byte { ok = false; break }
                    if ok { matched = c.count; break }
                }
                if matched > 0 {
                    body(i..<(i + 1 + matched))
                    i += matched + 1
                    continue
                }
            }
            // ' ?' followed by a run of letters, numbers or other.
            var start = i
            if bytes[i] == 0x20, i + 1 < n, unit(bytes, at: i + 1).category != .space { start = i + 1 }
            let first = unit(bytes, at: start)
            if first.category != .space {
                var j = first.end
                while j < n {
                    let u = unit(bytes, at: j)
                    if u.category != first.category { break }
                    j = u.end
                }
                body(i..<j)
                i = j
                continue
            }
            // Whitespace run: \s+(?!\S) leaves the last space to prefix the next word.
            var j = i, lastStart = i, count = 0
            while j < n {
                let u = unit(bytes, at: j)
                if u.category != .space { break }
                lastStart = j; j = u.end; count += 1
            }
            if j < n, count > 1 { j = lastStart }
            body(i..<j)
            i = j
        }
    }
}
