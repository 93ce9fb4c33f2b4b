// Prime / GCD similarity between tokens, defined so that it varies with its inputs (the
// original's "crystalline similarity" was a constant).
//
// Token t is identified with the integer n = t + 1 and with its clock-lattice point.
//
//   arithmetic(a, b) = Σ_{p | gcd(n_a, n_b)} log p  /  log max(n_a, n_b)   (0 if gcd = 1; 1 if a = b)
//       the share of the larger number's magnitude carried by their common prime factors
//   geometric(a, b)  = 1 − angularDistance(a, b)/π,  scaled by 1/(1 + |ring_a − ring_b|)
//       closeness on the 12-fold clock, discounted across rings
//   similarity       = (arithmetic + geometric) / 2  ∈ [0, 1],  distance = 1 − similarity
//
// (Distinct primes are always coprime, which is why "GCD of the tokens' primes" cannot work:
// the common factors of the integers themselves carry the arithmetic structure.)

import Foundation

public enum TokenSimilarity {
    public static func arithmetic(_ a: Int, _ b: Int) -> Double {
        if a == b { return 1 }
        let na = a + 1, nb = b + 1
        let g = gcd(na, nb)
        if g == 1 { return 0 }
        let shared = Set(Primes.factors(g)).reduce(0.0) { $0 + log(Double($1)) }
        return min(1, shared / log(Double(max(na, nb))))
    }

    public static func geometric(_ a: Int, _ b: Int) -> Double {
        let pa = ClockLattice.point(a), pb = ClockLattice.point(b)
        return (1 - ClockLattice.angularDistance(a, b) / .pi) / Double(1 + abs(pa.ring - pb.ring))
    }

    public static func similarity(_ a: Int, _ b: Int) -> Double { (arithmetic(a, b) + geometric(a, b)) / 2 }
    public static func distance(_ a: Int, _ b: Int) -> Double { 1 - similarity(a, b) }
}
