// Turns a stream of byte pieces into text without ever splitting a character.
//
// A byte-level BPE token may end in the middle of a multi-byte UTF-8 character (an emoji is
// four bytes, often two tokens). Decoding each token on its own would print U+FFFD twice; the
// decoder instead holds an incomplete trailing sequence back until the bytes that finish it
// arrive. Bytes that can never become valid UTF-8 still come out as U+FFFD, at once.

public struct UTF8StreamDecoder: Sendable {
    private var pending: [UInt8] = []

    public init() {}

    /// The text completed by `bytes` (possibly empty while a character is still incomplete).
    public mutating func decode(_ bytes: [UInt8]) -> String {
        pending += bytes
        let cut = completePrefixLength(pending)
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Whatever is still held back, as text (an unfinished character becomes U+FFFD).
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Bytes of `b` that can be decoded now: all of them unless they end inside a character
    /// whose lead byte announces more bytes than have arrived.
    private func completePrefixLength(_ b: [UInt8]) -> Int {
        var i = b.count - 1
        // Walk back over at most three continuation bytes (10xxxxxx) to the last lead byte.
        while i >= 0, b.count - i <= 4, b[i] & 0xC0 == 0x80 { i -= 1 }
        guard i >= 0, b.count - i <= 4 else { return b.count }
        let lead = b[i]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: needed = 1  // ASCII, or a byte that starts no valid sequence
        }
        return b.count - i < needed ? i : b.count
    }
}
