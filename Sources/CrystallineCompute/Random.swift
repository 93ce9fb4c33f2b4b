// Seeded, serialisable random numbers: xoshiro256** with SplitMix64 seeding.
//
// The whole state is four UInt64s, so a checkpoint can store it and a resumed run draws exactly
// the numbers the uninterrupted run would have drawn.

public struct Xoshiro256: RandomNumberGenerator, Codable, Equatable, Sendable {
    public var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var z = seed
        var s = [UInt64](repeating: 0, count: 4)
        for i in 0..<4 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            s[i] = x ^ (x >> 31)
        }
        (s0, s1, s2, s3) = (s[0], s[1], s[2], s[3])
    }

    @inline(__always) public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 24 bits of precision.
    @inline(__always) public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 bits of precision.
    @inline(__always) public mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform integer in 0..<bound (bound > 0), without modulo bias.
    @inline(__always) public mutating func nextInt(below bound: Int) -> Int {
        Int(next(upperBound: UInt64(bound)))
    }

    /// Standard normal sample (Box–Muller).
    public mutating func nextGaussian() -> Double {
        var u1 = nextDouble()
        while u1 <= .leastNormalMagnitude { u1 = nextDouble() }
        let u2 = nextDouble()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * .pi * u2)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@inline(__always) private func _log(_ x: Double) -> Double { log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { cos(x) }
