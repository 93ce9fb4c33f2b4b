// The lattice cache: the first N primes with their derived lattice values.
//
// The original precomputed 23,094 "primes" (7,376 of them composite) at start-up, taking ~5 s.
// Here the cache is built on first use from a sieve, in milliseconds, and `shared` is a Swift
// global, whose lazy initialisation is thread-safe.

public struct PrimeLatticeEntry: Equatable, Sendable {
    /// Position in the cache (0-based): the (index+1)-th prime.
    public var index: Int
    public var prime: Int
    public var clock: ClockPoint
    /// Ulam-spiral cell of the prime itself.
    public var ulamX: Int, ulamY: Int
    /// prime mod 12: every prime > 3 falls in residue class 1, 5, 7 or 11.
    public var residue12: Int
}

public final class PrimeLattice: Sendable {
    public let entries: [PrimeLatticeEntry]

    /// The original system's cache size.
    public static let originalSize = 23_094

    /// Built on first access, never at start-up.
    public static let shared = PrimeLattice(count: originalSize)

    public init(count: Int) {
        entries = Primes.first(count).enumerated().map { i, p in
            let u = UlamSpiral.coordinates(p)
            return PrimeLatticeEntry(index: i, prime: p, clock: ClockLattice.point(i), ulamX: u.x, ulamY: u.y, residue12: p % 12)
        }
    }
}
