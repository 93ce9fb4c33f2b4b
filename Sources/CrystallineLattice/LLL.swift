// Lenstra–Lenstra–Lovász lattice basis reduction.
//
// `reduce(integerBasis:)` is exact: rational Gram–Schmidt with arbitrary-precision integers,
// so the result is exactly LLL-reduced. `reduce(realBasis:)` is the floating-point version for
// real bases. Both take δ ∈ (1/4, 1] (default 3/4) and return the reduced basis and the
// unimodular transform U with reduced = U · basis.
import BigInt

/// An exact fraction of big integers, always in lowest terms with a positive denominator.
public struct Rational: Equatable, Comparable, Sendable, CustomStringConvertible {
    public private(set) var num: BigInt
    public private(set) var den: BigInt

    public init(_ num: BigInt, _ den: BigInt = 1) {
        precondition(den != 0, "zero denominator")
        let g = BigInt(num.magnitude.greatestCommonDivisor(with: den.magnitude))
        var n = g == 0 ? num : num / g, d = g == 0 ? den : den / g
        if d < 0 { n = -n; d = -d }
        self.num = n; self.den = d
    }
    public init(_ i: Int) { self.init(BigInt(i)) }

    public static func + (a: Rational, b: Rational) -> Rational { Rational(a.num * b.den + b.num * a.den, a.den * b.den) }
    public static func - (a: Rational, b: Rational) -> Rational { Rational(a.num * b.den - b.num * a.den, a.den * b.den) }
    public static func * (a: Rational, b: Rational) -> Rational { Rational(a.num * b.num, a.den * b.den) }
    public static func / (a: Rational, b: Rational) -> Rational { Rational(a.num * b.den, a.den * b.num) }
    public static func < (a: Rational, b: Rational) -> Bool { a.num * b.den < b.num * a.den }
    public var magnitude: Rational { Rational(BigInt(num.magnitude), den) }
    /// Nearest integer (halves round away from zero).
    public var rounded: BigInt {
        let twice = 2 * num + (num >= 0 ? den : -den)
        return twice / (2 * den)
    }
    public var doubleValue: Double { Double(num) / Double(den) }
    public var description: String { den == 1 ? "\(num)" : "\(num)/\(den)" }
}

public enum LLL {
    public struct Result<Scalar> {
        public var basis: [[Scalar]]
        /// Unimodular: basis = transform · input.
        public var transform: [[Int]]
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case emptyBasis, raggedRows, linearlyDependent, badDelta
        public var description: String {
            switch self {
            case .emptyBasis: return "the basis is empty"
            case .raggedRows: return "basis rows must all have the same length"
            case .linearlyDependent: return "the basis vectors are linearly dependent"
            case .badDelta: return "delta must lie in (1/4, 1]"
            }
        }
    }

    /// Exact LLL of an integer basis (rows are the basis vectors).
    public static func reduce(integerBasis input: [[BigInt]], delta: Rational = Rational(3, 4)) throws -> Result<BigInt> {
        guard !input.isEmpty else { throw Failure.emptyBasis }
        guard input.allSatisfy({ $0.count == input[0].count }) else { throw Failure.raggedRows }
        guard Rational(1, 4) < delta, delta <= Rational(1) else { throw Failure.badDelta }
        var b = input
        let n = b.count
        var u = identity(n)
        func dot(_ x: [BigInt], _ y: [BigInt]) -> BigInt { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
        // Gram–Schmidt data: mu[i][j] and |b*_i|² as rationals, recomputed as needed.
        var mu = [[Rational]](repeating: [Rational](repeating: Rational(0), count: n), count: n)
        var bstarSq = [Rational](repeating: Rational(0), count: n)
        var bstar = [[Rational]](repeating: [], count: n)
        func gramSchmidt(from start: Int) throws {
            for i in start..<n {
                var v = b[i].map { Rational($0) }
                for j in 0..<i {
                    let m = (bstarSq[j] == Rational(0)) ? Rational(0) : rdot(b[i].map { Rational($0) }, bstar[j]) / bstarSq[j]
                    mu[i][j] = m
                    for d in 0..<v.count { v[d] = v[d] - m * bstar[j][d] }
                }
                bstar[i] = v
                bstarSq[i] = rdot(v, v)
                if bstarSq[i] == Rational(0) { throw Failure.linearlyDependent }
            }
        }
        try gramSchmidt(from: 0)
        var k = 1
        while k < n {
            for j in stride(from: k - 1, through: 0, by: -1) {
                // Size-reduce only when |μ| > 1/2 (a tie is already reduced).
                let q = mu[k][j].magnitude <= Rational(1, 2) ? BigInt(0) : mu[k][j].rounded
                if q != 0 {
                    for d in 0..<b[k].count { b[k][d] -= q * b[j][d] }
                    for d in 0..<n { u[k][d] -= Int(q) * u[j][d] }
                    for l in 0...j { mu[k][l] = mu[k][l] - Rational(q) * (l == j ? Rational(1) : mu[j][l]) }
                }
            }
            if bstarSq[k] < (delta - mu[k][k - 1] * mu[k][k - 1]) * bstarSq[k - 1] {
                b.swapAt(k, k - 1)
                u.swapAt(k, k - 1)
                try gramSchmidt(from: k - 1)
                k = max(k - 1, 1)
            } else {
                k += 1
            }
        }
        _ = dot
        return Result(basis: b, transform: u)
    }

    /// Convenience for Int bases.
    public static func reduce(integerBasis input: [[Int]], delta: Double = 0.75) throws -> Result<BigInt> {
        try reduce(integerBasis: input.map { $0.map { BigInt($0) } }, delta: rational(delta))
    }

    /// Floating-point LLL for real bases (tolerances relative to the basis scale).
    public static func reduce(realBasis input: [[Double]], delta: Double = 0.75) throws -> Result<Double> {
        guard !input.isEmpty else { throw Failure.emptyBasis }
        guard input.allSatisfy({ $0.count == input[0].count }) else { throw Failure.raggedRows }
        guard delta > 0.25, delta <= 1 else { throw Failure.badDelta }
        var b = input
        let n = b.count
        var u = identity(n)
        func dot(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
        var mu = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        var bstar = [[Double]](repeating: [], count: n)
        var bstarSq = [Double](repeating: 0, count: n)
        let scale = b.map { dot($0, $0) }.max() ?? 1
        func gramSchmidt(from start: Int) throws {
            for i in start..<n {
                var v = b[i]
                for j in 0..<i {
                    mu[i][j] = dot(b[i], bstar[j]) / bstarSq[j]
                    for d in 0..<v.count { v[d] -= mu[i][j] * bstar[j][d] }
                }
                bstar[i] = v
                bstarSq[i] = dot(v, v)
                if bstarSq[i] <= 1e-24 * scale { throw Failure.linearlyDependent }
            }
        }
        try gramSchmidt(from: 0)
        var k = 1, guardSteps = 0
        while k < n && guardSteps < 100_000 {
            guardSteps += 1
            for j in stride(from: k - 1, through: 0, by: -1) {
                let q = abs(mu[k][j]) <= 0.5 + 1e-12 ? 0 : mu[k][j].rounded()
                if q != 0 {
                    for d in 0..<b[k].count { b[k][d] -= q * b[j][d] }
                    for d in 0..<n { u[k][d] -= Int(q) * u[j][d] }
                    for l in 0...j { mu[k][l] -= q * (l == j ? 1 : mu[j][l]) }
                }
            }
            if bstarSq[k] < (delta - mu[k][k - 1] * mu[k][k - 1]) * bstarSq[k - 1] * (1 - 1e-12) {
                b.swapAt(k, k - 1)
                u.swapAt(k, k - 1)
                try gramSchmidt(from: k - 1)
                k = max(k - 1, 1)
            } else {
                k += 1
            }
        }
        return Result(basis: b, transform: u)
    }

    static func identity(_ n: Int) -> [[Int]] { (0..<n).map { i in (0..<n).map { $0 == i ? 1 : 0 } } }

    static func rdot(_ x: [Rational], _ y: [Rational]) -> Rational { zip(x, y).reduce(Rational(0)) { $0 + $1.0 * $1.1 } }

    /// δ as an exact fraction (e.g. 0.75 → 3/4, 0.99 → 99/100).
    public static func rational(_ x: Double) -> Rational {
        var den = 1
        while Double(Int(x * Double(den))) != x * Double(den) && den < 1_000_000 { den *= 10 }
        return Rational(BigInt(Int((x * Double(den)).rounded())), BigInt(den))
    }

    /// Gram–Schmidt data of a basis, exactly (for checking reducedness).
    public static func gramSchmidt(_ basis: [[BigInt]]) -> (mu: [[Rational]], normsSquared: [Rational]) {
        let n = basis.count
        var mu = [[Rational]](repeating: [Rational](repeating: Rational(0), count: n), count: n)
        var bstar: [[Rational]] = []
        var norms: [Rational] = []
        for i in 0..<n {
            var v = basis[i].map { Rational($0) }
            for j in 0..<i {
                mu[i][j] = rdot(basis[i].map { Rational($0) }, bstar[j]) / norms[j]
                for d in 0..<v.count { v[d] = v[d] - mu[i][j] * bstar[j][d] }
            }
            bstar.append(v)
            norms.append(rdot(v, v))
        }
        return (mu, norms)
    }
}
