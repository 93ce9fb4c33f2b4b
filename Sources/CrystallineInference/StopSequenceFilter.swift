// Stop sequences over streamed text: nothing at or after a stop sequence is ever emitted.
//
// Text that could still turn into a stop sequence (the tail "\n" when "\n\n" stops) is held
// back until the next piece shows whether it does.

import Foundation

public struct StopSequenceFilter: Sendable {
    public let stops: [String]
    private var held = ""
    private let longest: Int

    public init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
        longest = self.stops.map(\.count).max() ?? 0
    }

    /// Adds `text`; returns what may be emitted now, and whether a stop sequence was reached
    /// (everything from it on is dropped).
    public mutating func push(_ text: String) -> (emit: String, stopped: Bool) {
        if stops.isEmpty { return (text, false) }
        held += text
        var earliest: String.Index?
        for s in stops {
            if let r = held.range(of: s), earliest.map({ r.lowerBound < $0 }) ?? true { earliest = r.lowerBound }
        }
        if let cut = earliest {
            let out = String(held[..<cut])
            held = ""
            return (out, true)
        }
        // Keep the longest tail that is a prefix of some stop sequence.
        var keep = min(held.count, longest - 1)
        while keep > 0 {
            let tail = held.suffix(keep)
            if stops.contains(where: { $0.hasPrefix(tail) }) { break }
            keep -= 1
        }
        let out = String(held.dropLast(keep))
        held = String(held.suffix(keep))
        return (out, false)
    }

    /// The held-back text, at the end of a generation that met no stop sequence.
    public mutating func flush() -> String {
        defer { held = "" }
        return held
    }
}
