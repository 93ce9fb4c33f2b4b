import XCTest
import BigInt
@testable import CrystallineLattice

final class PrimeTests: XCTestCase {
    func testSieveAgainstTrialDivision() {
        let primes = Primes.upTo(10_000)
        let naive = (2...10_000).filter { n in (2..<n).prefix { $0 * $0 <= n }.allSatisfy { n % $0 != 0 } }
        XCTAssertEqual(primes, naive)
        XCTAssertEqual(Primes.upTo(1), [])
        XCTAssertEqual(Primes.upTo(2), [2])
    }

    /// The original's 23,094-entry cache held 7,376 composites; the 23,094th prime is 263,303.
    func testTheOriginalCacheSizeIsRight() {
        let first = Primes.first(23_094)
        XCTAssertEqual(first.count, 23_094)
        XCTAssertEqual(first.last, 263_303)
        XCTAssertTrue(first.allSatisfy { Primes.isPrime($0) })
        XCTAssertEqual(Primes.nth(1), 2)
        XCTAssertEqual(Primes.nth(10_001), 104_743)
    }

    func testPrimeCountingAndSegmentedSieve() {
        XCTAssertEqual(Primes.count(upTo: 100), 25)
        XCTAssertEqual(Primes.count(upTo: 1_000_000), 78_498)
        XCTAssertEqual(Primes.inRange(1_000_000, 1_000_100), [1_000_003, 1_000_033, 1_000_037, 1_000_039, 1_000_081, 1_000_099])
        XCTAssertEqual(Primes.inRange(0, 30), Primes.upTo(29))
    }

    func testMillerRabin() {
        XCTAssertTrue(Primes.isPrime(UInt64(18_446_744_073_709_551_557)))   // largest 64-bit prime
        XCTAssertFalse(Primes.isPrime(UInt64(3_215_031_751)))               // strong pseudoprime to 2, 3, 5, 7
        XCTAssertFalse(Primes.isPrime(UInt64(341_550_071_728_321)))
        for n in 0..<2000 { XCTAssertEqual(Primes.isPrime(n), Primes.upTo(2000).contains(n), "\(n)") }
    }

    func testLatticeCacheIsLazyAndFast() {
        let start = DispatchTime.now().uptimeNanoseconds
        let cache = PrimeLattice(count: 23_094)
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        XCTAssertEqual(cache.entries.count, 23_094)
        XCTAssertEqual(cache.entries[23_093].prime, 263_303)
        XCTAssertEqual(cache.entries[4].clock, ClockLattice.point(4))
        print("23,094-prime lattice cache built in \(ms) ms")
    }
}

final class GeometryTests: XCTestCase {
    func testClockLatticeMapping() {
        XCTAssertEqual(ClockLattice.point(3).angle, 0, accuracy: 1e-12)                   // 3 o'clock
        XCTAssertEqual(ClockLattice.point(0).angle, -Double.pi / 2, accuracy: 1e-12)      // 12 o'clock
        XCTAssertEqual(ClockLattice.point(11).ring, 0)
        let p12 = ClockLattice.point(12)
        XCTAssertEqual([p12.ring, p12.position, p12.positionsInRing], [1, 0, 60])
        XCTAssertEqual(ClockLattice.point(27).angle, 0, accuracy: 1e-12)                  // ring 1, position 15
        XCTAssertEqual(ClockLattice.point(72).ring, 2)
        XCTAssertEqual(ClockLattice.point(131).position, 59)
        XCTAssertEqual(ClockLattice.point(157).angle, 0, accuracy: 1e-12)                 // ring 3, position 25
        let p = ClockLattice.point(232 + 250)
        XCTAssertEqual([p.ring, p.position], [4, 250])
        XCTAssertEqual(p.angle, Double.pi / 2, accuracy: 1e-12)
        XCTAssertEqual(ClockLattice.symmetryGroup(27), 3)
        XCTAssertEqual(ClockLattice.angularDistance(0, 6), .pi, accuracy: 1e-12)
        XCTAssertEqual(ClockLattice.angularDistance(1, 11), 2 * Double.pi / 12 * 2, accuracy: 1e-12)
    }

    func testUlamSpiralBothWays() {
        let known: [(Int, Int, Int)] = [(1, 0, 0), (2, 1, 0), (3, 1, 1), (4, 0, 1), (5, -1, 1), (6, -1, 0), (7, -1, -1),
                                        (8, 0, -1), (9, 1, -1), (10, 2, -1), (13, 2, 2), (17, -2, 2), (21, -2, -2), (25, 2, -2), (26, 3, -2)]
        for (n, x, y) in known {
            let c = UlamSpiral.coordinates(n)
            XCTAssertEqual([c.x, c.y], [x, y], "n = \(n)")
        }
        var seen = Set<[Int]>()
        for n in 1...20_000 {
            let c = UlamSpiral.coordinates(n)
            XCTAssertEqual(UlamSpiral.number(x: c.x, y: c.y), n)
            XCTAssertTrue(seen.insert([c.x, c.y]).inserted)
            if n > 1 {  // consecutive numbers are grid neighbours
                let d = UlamSpiral.coordinates(n - 1)
                XCTAssertEqual(abs(c.x - d.x) + abs(c.y - d.y), 1)
            }
        }
        let order = UlamSpiral.localityOrder(9)
        XCTAssertEqual(order, [4, 3, 2, 5, 0, 1, 6, 7, 8])  // rows y = 1, 0, −1 of the 3×3 square
    }

    func testSimilarityVariesAndIsWellFormed() {
        XCTAssertEqual(TokenSimilarity.similarity(7, 7), 1, accuracy: 1e-12)
        // n = 6 and 10 share the factor 2: log 2 / log 10.
        XCTAssertEqual(TokenSimilarity.arithmetic(5, 9), log(2) / log(10), accuracy: 1e-12)
        XCTAssertEqual(TokenSimilarity.arithmetic(4, 6), 0)  // 5 and 7 are coprime
        // Same ring, opposite sides: geometric 0; neighbours: 1 − (2π/12)/π.
        XCTAssertEqual(TokenSimilarity.geometric(0, 6), 0, accuracy: 1e-12)
        XCTAssertEqual(TokenSimilarity.geometric(0, 1), 1 - 1.0 / 6, accuracy: 1e-12)
        var values = Set<Double>()
        for a in 0..<40 { for b in 0..<40 {
            let s = TokenSimilarity.similarity(a, b)
            XCTAssertEqual(s, TokenSimilarity.similarity(b, a), accuracy: 1e-12)
            XCTAssertTrue((0...1).contains(s))
            values.insert((s * 1e6).rounded())
        } }
        XCTAssertGreaterThan(values.count, 100, "similarity must vary with its inputs")
    }
}

final class LLLTests: XCTestCase {
    func checkReduced(_ input: [[BigInt]], _ r: LLL.Result<BigInt>, delta: Rational = Rational(3, 4), file: StaticString = #filePath, line: UInt = #line) {
        let (mu, norms) = LLL.gramSchmidt(r.basis)
        let n = input.count
        for i in 0..<n { for j in 0..<i { XCTAssertTrue(mu[i][j].magnitude <= Rational(1, 2), "size reduction \(i),\(j)", file: file, line: line) } }
        for k in 1..<n {
            XCTAssertTrue((delta - mu[k][k - 1] * mu[k][k - 1]) * norms[k - 1] <= norms[k], "Lovász at \(k)", file: file, line: line)
        }
        // Same lattice: reduced = U · input with U integer and det U = ±1.
        for i in 0..<n { for d in 0..<input[0].count {
            let v = (0..<n).reduce(BigInt(0)) { $0 + BigInt(r.transform[i][$1]) * input[$1][d] }
            XCTAssertEqual(v, r.basis[i][d], file: file, line: line)
        } }
        XCTAssertEqual(abs(determinant(r.transform.map { $0.map { Rational($0) } })), Rational(1), file: file, line: line)
        if input.count == input[0].count {
            XCTAssertEqual(abs(determinant(r.basis.map { $0.map { Rational($0) } })), abs(determinant(input.map { $0.map { Rational($0) } })),
                           "|det| preserved", file: file, line: line)
        }
    }

    func abs(_ r: Rational) -> Rational { r.magnitude }

    func determinant(_ m: [[Rational]]) -> Rational {
        var a = m, det = Rational(1)
        let n = a.count
        for c in 0..<n {
            guard let p = (c..<n).first(where: { a[$0][c] != Rational(0) }) else { return Rational(0) }
            if p != c { a.swapAt(p, c); det = Rational(0) - det }
            det = det * a[c][c]
            for r in (c + 1)..<n {
                let f = a[r][c] / a[c][c]
                for k in c..<n { a[r][k] = a[r][k] - f * a[c][k] }
            }
        }
        return det
    }

    /// The example of the LLL article on Wikipedia.
    func testTextbookExample() throws {
        let input: [[BigInt]] = [[1, 1, 1], [-1, 0, 2], [3, 5, 6]]
        let r = try LLL.reduce(integerBasis: input)
        XCTAssertEqual(r.basis, [[0, 1, 0], [1, 0, 1], [-1, 0, 2]])
        checkReduced(input, r)
    }

    func testRandomIntegerBases() throws {
        var state: UInt64 = 12345
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) % 201 - 100 }
        for dim in [2, 3, 4, 5, 6] {
            for _ in 0..<4 {
                let input = (0..<dim).map { _ in (0..<dim).map { _ in BigInt(next()) } }
                guard determinant(input.map { $0.map { Rational($0) } }) != Rational(0) else { continue }
                for delta in [Rational(3, 4), Rational(99, 100)] {
                    checkReduced(input, try LLL.reduce(integerBasis: input, delta: delta), delta: delta)
                }
            }
        }
    }

    func testKnapsackStyleBasisFindsShortVector() throws {
        // Rows (e_i, N·a_i): the short vector exposes the relation 3·12 + 5·17 − 7·... etc.
        let a = [12, 17, 29, 31]
        let input: [[BigInt]] = (0..<4).map { i in (0..<4).map { BigInt($0 == i ? 1 : 0) } + [BigInt(1000 * a[i])] }
        let r = try LLL.reduce(integerBasis: input)
        let shortest = r.basis.map { $0.reduce(BigInt(0)) { $0 + $1 * $1 } }.min()!
        XCTAssertLessThan(shortest, 100, "LLL finds an integer relation among a_i")
        checkReduced(input, r)
    }

    func testRealBasisAndErrors() throws {
        let input: [[Double]] = [[1.0, 1.0, 1.0], [-1.0, 0.0, 2.0], [3.0, 5.0, 6.0]]
        let r = try LLL.reduce(realBasis: input)
        XCTAssertEqual(r.basis, [[0, 1, 0], [1, 0, 1], [-1, 0, 2]])
        let scaled = try LLL.reduce(realBasis: input.map { $0.map { $0 * 0.37 } })
        for (row, want) in zip(scaled.basis, [[0.0, 0.37, 0.0], [0.37, 0.0, 0.37], [-0.37, 0.0, 0.74]]) {
            for (x, y) in zip(row, want) { XCTAssertEqual(x, y, accuracy: 1e-12) }
        }
        XCTAssertThrowsError(try LLL.reduce(integerBasis: [[1, 2], [2, 4]])) { XCTAssertEqual($0 as? LLL.Failure, .linearlyDependent) }
        XCTAssertThrowsError(try LLL.reduce(integerBasis: [[1, 2], [3]])) { XCTAssertEqual($0 as? LLL.Failure, .raggedRows) }
        XCTAssertThrowsError(try LLL.reduce(integerBasis: [[1, 0], [0, 1]], delta: 0.2)) { XCTAssertEqual($0 as? LLL.Failure, .badDelta) }
    }
}
