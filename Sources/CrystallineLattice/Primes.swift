// CrystallineLattice: the prime geometry of the "crystalline lattice", as plain, tested math.
//
// Owns primes (sieves, nth prime, π(x), primality), the 12-fold clock lattice, the Ulam
// spiral, prime/GCD similarity between tokens, and LLL lattice reduction (exact and floating
// point), and their drawings (SVG, PNG). It imports only CrystallineFormats (the PNG encoder);
// the model imports it, never the reverse.

/// Prime number utilities.
public enum Primes {
    /// All primes ≤ `limit` (sieve of Eratosthenes over odd numbers only).
    public static func upTo(_ limit: Int) -> [Int] {
        guard limit >= 2 else { return [] }
        let n = (limit - 1) / 2  // odd i = 2k+1 for k in 1...n
        var composite = [Bool](repeating: false, count: n + 1)
        var k = 1
        while (2 * k + 1) * (2 * k + 1) <= limit {
            if !composite[k] {
                let p = 2 * k + 1
                var j = (p * p - 1) / 2
                while j <= n { composite[j] = true; j += p }
            }
            k += 1
        }
        var out = [2]
        out.reserveCapacity(Int(Double(limit) / max(1, log(Double(limit)) - 1.1)))
        for k in 1...max(1, n) where k <= n && !composite[k] { out.append(2 * k + 1) }
        return out
    }

    /// Primes in `lower..<upper`, sieving only that window with the primes up to √upper
    /// (memory O(√upper + window) rather than O(upper)).
    public static func inRange(_ lower: Int, _ upper: Int, segment: Int = 1 << 18) -> [Int] {
        guard upper > 2, upper > lower else { return [] }
        let lo = max(lower, 2)
        let base = upTo(Int(Double(upper).squareRoot()) + 1)
        var out: [Int] = []
        var start = lo
        while start < upper {
            let end = min(upper, start + segment)
            var composite = [Bool](repeating: false, count: end - start)
            for p in base {
                if p * p >= end { break }
                var m = max(p * p, (start + p - 1) / p * p)
                while m < end { composite[m - start] = true; m += p }
            }
            for i in 0..<(end - start) where !composite[i] { out.append(start + i) }
            start = end
        }
        return out
    }

    /// The first `count` primes.
    public static func first(_ count: Int) -> [Int] {
        guard count > 0 else { return [] }
        var primes = upTo(upperBoundForNth(count))
        primes.removeSubrange(count...)
        return primes
    }

    /// The n-th prime (1-based: nth(1) = 2).
    public static func nth(_ n: Int) -> Int {
        precondition(n >= 1, "primes are counted from 1")
        return first(n)[n - 1]
    }

    /// π(x): the number of primes ≤ x (segmented for large x).
    public static func count(upTo x: Int) -> Int {
        x < 2 ? 0 : (x <= 1 << 24 ? upTo(x).count : inRange(2, x + 1).count)
    }

    /// Rosser's bound: p_n < n(ln n + ln ln n) for n ≥ 6.
    static func upperBoundForNth(_ n: Int) -> Int {
        if n < 6 { return 15 }
        let x = Double(n)
        return Int(x * (log(x) + log(log(x)))) + 3
    }

    /// Deterministic Miller–Rabin for every 64-bit integer (the first 12 primes as bases).
    public static func isPrime(_ n: UInt64) -> Bool {
        if n < 2 { return false }
        let small: [UInt64] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
        for p in small {
            if n == p { return true }
            if n % p == 0 { return false }
        }
        var d = n - 1, s = 0
        while d % 2 == 0 { d /= 2; s += 1 }
        witness: for a in small {
            var x = powMod(a, d, n)
            if x == 1 || x == n - 1 { continue }
            for _ in 1..<max(s, 1) {
                x = mulMod(x, x, n)
                if x == n - 1 { continue witness }
            }
            return false
        }
        return true
    }

    public static func isPrime(_ n: Int) -> Bool { n >= 2 && isPrime(UInt64(n)) }

    @inline(__always) static func mulMod(_ a: UInt64, _ b: UInt64, _ m: UInt64) -> UInt64 {
        let (hi, lo) = a.multipliedFullWidth(by: b)
        return m.dividingFullWidth((hi, lo)).remainder
    }

    static func powMod(_ base: UInt64, _ exp: UInt64, _ m: UInt64) -> UInt64 {
        var result: UInt64 = 1, b = base % m, e = exp
        while e > 0 {
            if e & 1 == 1 { result = mulMod(result, b, m) }
            b = mulMod(b, b, m)
            e >>= 1
        }
        return result
    }

    /// Prime factors of n with multiplicity (trial division; for token-sized integers).
    public static func factors(_ n: Int) -> [Int] {
        var out: [Int] = [], m = n, p = 2
        while p * p <= m {
            while m % p == 0 { out.append(p); m /= p }
            p += p == 2 ? 1 : 2
        }
        if m > 1 { out.append(m) }
        return out
    }
}

public func gcd(_ a: Int, _ b: Int) -> Int {
    var (x, y) = (abs(a), abs(b))
    while y != 0 { (x, y) = (y, x % y) }
    return x
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
