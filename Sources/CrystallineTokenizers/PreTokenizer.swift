// GPT-2's pre-tokenization, written out by hand so it also works on bytes that are not UTF-8:
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Input bytes are decoded into units (a valid scalar, or one invalid byte that counts as
// punctuation-like "other"); chunks are returned as byte ranges of the input, so merges never
// cross a chunk boundary and every byte belongs to exactly one chunk.

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

    static func units(_ bytes: [UInt8]) -> [Unit] {
        var out: [Unit] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                let s = Unicode.Scalar(b)
                let cat: Category
                if (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) { cat = .letter }
                else if b >= 0x30 && b <= 0x39 { cat = .number }
                else if b == 0x20 || (b >= 0x09 && b <= 0x0d) { cat = .space }
                else { cat = category(s) }
                out.append(Unit(start: i, end: i + 1, category: cat, scalar: s))
                i += 1
                continue
            }
            if let (s, width) = decodeScalar(bytes, at: i) {
                out.append(Unit(start: i, end: i + width, category: category(s), scalar: s))
                i += width
            } else {
                out.append(Unit(start: i, end: i + 1, category: .other, scalar: nil))
                i += 1
            }
        }
        return out
    }

    /// Decodes one multi-byte UTF-8 scalar strictly (no overlongs, no surrogates).
    static func decodeScalar(_ b: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
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
        let u = units(bytes)
        var out: [Range<Int>] = []
        var i = 0
        let n = u.count
        func isSpaceChar(_ k: Int) -> Bool { u[k].scalar == " " }
        while i < n {
            // 's 't 're 've 'm 'll 'd
            if u[i].scalar == "'" {
                var matched = 0
                for c in contractions where i + c.count < n {
                    var ok = true
                    for (k, byte) in c.enumerated() where u[i + 1 + k].scalar != Unicode.Scalar(byte) { ok = false; break }
                    if ok { matched = c.count; break }
                }
                if matched > 0 {
                    out.append(u[i].start..<u[i + matched].end)
                    i += matched + 1
                    continue
                }
            }
            // ' ?' followed by a run of letters, numbers or other.
            var start = i
            if isSpaceChar(i), i + 1 < n, u[i + 1].category != .space { start = i + 1 }
            let cat = u[start].category
            if cat != .space {
                var j = start + 1
                while j < n, u[j].category == cat { j += 1 }
                out.append(u[i].start..<u[j - 1].end)
                i = j
                continue
            }
            // Whitespace run: \s+(?!\S) leaves the last space to prefix the next word.
            var j = i
            while j < n, u[j].category == .space { j += 1 }
            if j < n, j - i > 1 { j -= 1 }
            out.append(u[i].start..<u[j - 1].end)
            i = j
        }
        return out
    }
}
