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

/// The arithmetic LLL needs: an ordered field with rounding. `Rational` makes LLL exact;
/// `Double` makes it the floating-point version, with small tolerances.
public protocol LLLField: Comparable {
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
    init(lllInteger: Int)
    var magnitude: Self { get }
    /// The nearest integer (in the field) and as an Int for the transform.
    var nearestInteger: (value: Self, int: Int) { get }
    /// |μ| above this is size-reduced (1/2, plus rounding slack for floating point).
    static var sizeReductionBound: Self { get }
    /// Factor on the right of the Lovász test (1, or just below 1 for floating point).
    static var lovaszSlack: Self { get }
    /// Whether a squared Gram–Schmidt norm counts as zero next to the largest squared input norm.
    static func isZero(_ normSquared: Self, scale: Self) -> Bool
}

extension Rational: LLLField {
    public init(lllInteger: Int) { self.init(lllInteger) }
    public var nearestInteger: (value: Rational, int: Int) { let q = rounded; return (Rational(q), Int(q)) }
    public static var sizeReductionBound: Rational { Rational(1, 2) }
    public static var lovaszSlack: Rational { Rational(1) }
    public static func isZero(_ normSquared: Rational, scale: Rational) -> Bool { normSquared == Rational(0) }
}

extension Double: LLLField {
    public init(lllInteger: Int) { self.init(lllInteger) }
    public var nearestInteger: (value: Double, int: Int) { let q = rounded(); return (q, Int(q)) }
    public static var sizeReductionBound: Double { 0.5 + 1e-12 }
    public static var lovaszSlack: Double { 1 - 1e-12 }
    public static func isZero(_ normSquared: Double, scale: Double) -> Bool { normSquared <= 1e-24 * scale }
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

    /// LLL over any `LLLField` (rows are the basis vectors).
    public static func reduce<F: LLLField>(_ input: [[F]], delta: F) throws -> Result<F> {
        guard !input.isEmpty else { throw Failure.emptyBasis }
        guard input.allSatisfy({ $0.count == input[0].count }) else { throw Failure.raggedRows }
        guard F(lllInteger: 1) / F(lllInteger: 4) < delta, delta <= F(lllInteger: 1) else { throw Failure.badDelta }
        let zero = F(lllInteger: 0), one = F(lllInteger: 1)
        func dot(_ x: [F], _ y: [F]) -> F { zip(x, y).reduce(zero) { $0 + $1.0 * $1.1 } }
        var b = input
        let n = b.count
        var u = identity(n)
        var mu = [[F]](repeating: [F](repeating: zero, count: n), count: n)
        var bstar = [[F]](repeating: [], count: n)
        var bstarSq = [F](repeating: zero, count: n)
        let scale = b.map { dot($0, $0) }.max() ?? one
        func gramSchmidt(from start: Int) throws {
            for i in start..<n {
                var v = b[i]
                for j in 0..<i {
                    mu[i][j] = dot(b[i], bstar[j]) / bstarSq[j]
                    for d in 0..<v.count { v[d] = v[d] - mu[i][j] * bstar[j][d] }
                }
                bstar[i] = v
                bstarSq[i] = dot(v, v)
                if F.isZero(bstarSq[i], scale: scale) { throw Failure.linearlyDependent }
            }
        }
        try gramSchmidt(from: 0)
        var k = 1
        while k < n {
            for j in stride(from: k - 1, through: 0, by: -1) where mu[k][j].magnitude > F.sizeReductionBound {
                // Size reduction (a tie |μ| = 1/2 is already reduced).
                let q = mu[k][j].nearestInteger
                for d in 0..<b[k].count { b[k][d] = b[k][d] - q.value * b[j][d] }
                for d in 0..<n { u[k][d] -= q.int * u[j][d] }
                for l in 0...j { mu[k][l] = mu[k][l] - q.value * (l == j ? one : mu[j][l]) }
            }
            if bstarSq[k] < (delta - mu[k][k - 1] * mu[k][k - 1]) * bstarSq[k - 1] * F.lovaszSlack {
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

    /// Exact LLL of an integer basis: rational Gram–Schmidt over big integers.
    public static func reduce(integerBasis input: [[BigInt]], delta: Rational = Rational(3, 4)) throws -> Result<BigInt> {
        let r = try reduce(input.map { $0.map { Rational($0) } }, delta: delta)
        return Result(basis: r.basis.map { $0.map(\.num) }, transform: r.transform)
    }

    /// Convenience for Int bases.
    public static func reduce(integerBasis input: [[Int]], delta: Double = 0.75) throws -> Result<BigInt> {
        try reduce(integerBasis: input.map { $0.map { BigInt($0) } }, delta: rational(delta))
    }

    /// Floating-point LLL for real bases.
    public static func reduce(realBasis input: [[Double]], delta: Double = 0.75) throws -> Result<Double> {
        try reduce(input, delta: delta)
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
