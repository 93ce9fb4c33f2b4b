// Deterministic mutations of an input: what a damaged file, a hostile user or a bug in another
// tool would hand the parsers. Byte-level changes (flips, interesting integers at any offset,
// inserted and deleted ranges, splices of two inputs) find the binary formats' edge cases;
// text-level changes (numbers replaced by huge, negative, fractional or non-finite ones,
// dictionary words spliced in) reach the JSON formats' checks past the JSON parser.
import Foundation

/// SplitMix64: small, fast, and the same sequence on every machine for a given seed.
public struct FuzzRandom {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<n (n > 0).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    public mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }
}

public struct Mutator {
    /// Inputs grow to at most this many bytes.
    public var maxLength: Int
    public var dictionary: [[UInt8]]

    public init(maxLength: Int = 1 << 16, dictionary: [String] = []) {
        self.maxLength = maxLength
        self.dictionary = (Self.jsonWords + dictionary).map { Array($0.utf8) }
    }

    static let jsonWords = ["{", "}", "[", "]", ",", ":", "\"", "null", "true", "false", "\"\"", "{}", "[]", "\\u0000", "\\ud800", "\u{FEFF}"]
    /// Numbers at the edges of every size check: zero, negatives, powers of two around the
    /// integer widths, fractions, exponents past Double's range, and their text spellings.
    static let interestingNumbers = ["0", "-1", "1", "2.5", "-0", "255", "256", "65535", "65536", "2147483647", "2147483648",
                                     "4294967295", "4294967296", "4000000000", "9007199254740993", "9223372036854775807",
                                     "9223372036854775808", "18446744073709551615", "1e12", "1e308", "1e309", "-1e309", "1e-400",
                                     "4611686018427387904", "100000", "-2147483648", "0.0000001", "\"nan\"", "\"inf\""]
    static let interestingIntegers: [UInt64] = [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x7FFF_FFFF,
                                                0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 1 << 62, 0x7FFF_FFFF_FFFF_FFFF,
                                                0x8000_0000_0000_0000, UInt64.max, 1024, 4096, 1 << 20, 1 << 30]

    /// One to four stacked mutations of `input`, with `other` as a splice partner.
    public func mutate(_ input: [UInt8], other: [UInt8], rng: inout FuzzRandom) -> [UInt8] {
        var out = input
        for _ in 0..<(1 + rng.below(4)) { mutateOnce(&out, other: other, rng: &rng) }
        if out.count > maxLength { out.removeLast(out.count - maxLength) }
        return out
    }

    func mutateOnce(_ b: inout [UInt8], other: [UInt8], rng: inout FuzzRandom) {
        switch rng.below(11) {
        case 0 where !b.isEmpty:  // flip a bit
            let i = rng.below(b.count); b[i] ^= 1 << UInt8(rng.below(8))
        case 1 where !b.isEmpty:  // a random byte
            b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
        case 2:  // an interesting integer, little-endian, 1/2/4/8 bytes
            let width = [1, 2, 4, 8][rng.below(4)]
            var v = Self.interestingIntegers[rng.below(Self.interestingIntegers.count)]
            if rng.chance(3) { v = 0 &- v }
            let at = b.isEmpty ? 0 : rng.below(b.count)
            let bytes = (0..<width).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }
            for (k, x) in bytes.enumerated() { if at + k < b.count { b[at + k] = x } else { b.append(x) } }
        case 3 where !b.isEmpty:  // delete a range
            let at = rng.below(b.count); let n = 1 + rng.below(min(64, b.count - at))
            b.removeSubrange(at..<(at + n))
        case 4 where !b.isEmpty:  // duplicate a range
            let at = rng.below(b.count); let n = 1 + rng.below(min(256, b.count - at))
            b.insert(contentsOf: b[at..<(at + n)], at: rng.below(b.count + 1))
        case 5:  // insert random bytes
            let n = 1 + rng.below(16)
            b.insert(contentsOf: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: rng.below(b.count + 1))
        case 6, 7:  // replace a number in the text
            replaceNumber(&b, rng: &rng)
        case 8:  // splice in a dictionary word
            let w = dictionary[rng.below(dictionary.count)]
            b.insert(contentsOf: w, at: rng.below(b.count + 1))
        case 9 where !other.isEmpty:  // splice with another input
            let cut = rng.below(b.count + 1), from = rng.below(other.count)
            b = Array(b[..<cut]) + other[from...]
        case 10 where !b.isEmpty:  // truncate
            b.removeLast(1 + rng.below(b.count))
        default:
            b.append(UInt8(truncatingIfNeeded: rng.next()))
        }
    }

    /// Replaces a run of digits (with its sign, fraction and exponent) by an interesting number.
    func replaceNumber(_ b: inout [UInt8], rng: inout FuzzRandom) {
        let digits = b.indices.filter { b[$0] >= 0x30 && b[$0] <= 0x39 }
        guard !digits.isEmpty else { b.append(contentsOf: Array(Self.interestingNumbers[rng.below(Self.interestingNumbers.count)].utf8)); return }
        var start = digits[rng.below(digits.count)], end = start
        func numeric(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || c == 0x2E || c == 0x65 || c == 0x45 || c == 0x2B || c == 0x2D }
        while start > 0, numeric(b[start - 1]) { start -= 1 }
        while end < b.count, numeric(b[end]) { end += 1 }
        b.replaceSubrange(start..<end, with: Array(Self.interestingNumbers[rng.below(Self.interestingNumbers.count)].utf8))
    }
}
