// `cllm lattice`: compute and print the crystalline-lattice math, and draw it.
import ArgumentParser
import BigInt
import Foundation
import CrystallineFormats
import CrystallineLattice

struct Lattice: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Primes, the clock lattice, the Ulam spiral, token similarity and LLL reduction.",
        subcommands: [PrimesCommand.self, Clock.self, Ulam.self, Similarity.self, Reduce.self])

    struct PrimesCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "primes", abstract: "Primes, the n-th prime, π(x), primality.")
        @Option(help: "Print the first N primes.") var first: Int?
        @Option(help: "Print the N-th prime.") var nth: Int?
        @Option(help: "Print π(X), the number of primes ≤ X.") var count: Int?
        @Option(help: "Is N prime? (deterministic for 64-bit N)") var test: UInt64?
        @Flag(help: "Time building the 23,094-prime lattice cache of the original system.") var cache = false
        func validate() throws {
            if let first, !(0...10_000_000).contains(first) { throw ValidationError("--first must be between 0 and 10,000,000") }
            if let nth, !(1...10_000_000).contains(nth) { throw ValidationError("--nth must be between 1 and 10,000,000 (the first prime is --nth 1)") }
            if let count, count < 0 { throw ValidationError("--count must not be negative") }
        }
        func run() throws {
            if let first { print(Primes.first(first).map(String.init).joined(separator: " ")) }
            if let nth { print(Primes.nth(nth)) }
            if let count { print(Primes.count(upTo: count)) }
            if let test { print(Primes.isPrime(test) ? "\(test) is prime" : "\(test) is composite") }
            if cache {
                var times: [Double] = []
                var last = 0
                for _ in 0..<21 {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    last = PrimeLattice(count: PrimeLattice.originalSize).entries.last!.prime
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                }
                print(String(format: "23,094-prime lattice cache (largest prime %d): median %.2f ms over 21 builds (min %.2f, max %.2f)",
                             last, times.sorted()[10], times.min()!, times.max()!))
            }
            if first == nil && nth == nil && count == nil && test == nil && !cache {
                print(Primes.first(25).map(String.init).joined(separator: " "))
            }
        }
    }

    struct Clock: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Clock-lattice points (ring, position, angle, x, y, symmetry group), or a drawing of them.")
        @Option(name: [.short, .long], help: "Indices 0..<N.") var count = 24
        @Option(help: "Write an SVG drawing of the first --count points (instead of the table).") var svg: String?
        @Option(help: "Write a PNG drawing of the first --count points (instead of the table).") var png: String?
        func validate() throws {
            guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        }
        func run() throws {
            try reportingErrors {
                if let svg { try AtomicFile.write(Data(LatticeDrawing.clockSVG(count: count).utf8), to: URL(fileURLWithPath: svg)); print("wrote \(svg)") }
                if let png { try AtomicFile.write(LatticeDrawing.clockPNG(count: count), to: URL(fileURLWithPath: png)); print("wrote \(png)") }
                guard svg == nil && png == nil else { return }
                print("index ring pos/N      angle(rad)      x        y     mod12")
                for i in 0..<count {
                    let p = ClockLattice.point(i)
                    print(String(format: "%5d %4d %4d/%-4d %10.4f %8.3f %8.3f %5d", i, p.ring, p.position, p.positionsInRing, p.angle, p.x, p.y,
                                 ClockLattice.symmetryGroup(i)))
                }
            }
        }
    }

    struct Ulam: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The Ulam spiral with its primes: as text (up to side 15), SVG or PNG; or one number's coordinates.")
        @Option(name: [.short, .long], help: "Side of the square drawn (numbers 1…size²).") var size = 9
        @Option(help: "Pixels per number in the drawings (default: 4, at every size).") var cell: Int?
        @Option(help: "Coordinates of one number.") var number: Int?
        @Option(help: "Write an SVG of the spiral with the primes marked (instead of the text).") var svg: String?
        @Option(help: "Write a PNG of the spiral with the primes marked (instead of the text).") var png: String?
        func validate() throws {
            guard (1...4096).contains(size) else { throw ValidationError("--size must be between 1 and 4096") }
            if let cell, !(1...64).contains(cell) { throw ValidationError("--cell must be between 1 and 64 pixels") }
            if let number, number < 1 { throw ValidationError("--number must be at least 1") }
        }
        func run() throws {
            try reportingErrors {
                if let number { let c = UlamSpiral.coordinates(number); print("\(number) -> (\(c.x), \(c.y))") }
                if let svg { try AtomicFile.write(Data(LatticeDrawing.ulamSVG(size: size, cell: cell).utf8), to: URL(fileURLWithPath: svg)); print("wrote \(svg)") }
                if let png { try AtomicFile.write(LatticeDrawing.ulamPNG(size: size, cell: cell), to: URL(fileURLWithPath: png)); print("wrote \(png)") }
                guard number == nil && svg == nil && png == nil else { return }
                guard size <= 15 else { print("(the text view stops at side 15; use --svg or --png for side \(size))"); return }
                let range = UlamSpiral.square(side: size)
                for y in range.reversed() {
                    print(range.map { x in
                        let n = UlamSpiral.number(x: x, y: y)
                        return Primes.isPrime(n) ? String(format: "%4d", n) : "   ·"
                    }.joined())
                }
            }
        }
    }

    struct Similarity: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prime/GCD and clock-geometry similarity of two token ids.")
        @Argument var a: Int
        @Argument var b: Int
        func run() {
            print(String(format: "arithmetic %.4f  geometric %.4f  similarity %.4f  distance %.4f",
                         TokenSimilarity.arithmetic(a, b), TokenSimilarity.geometric(a, b),
                         TokenSimilarity.similarity(a, b), TokenSimilarity.distance(a, b)))
        }
    }

    struct Reduce: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "lll", abstract: "LLL-reduce a basis read from a file (one vector per line).",
            discussion: "Integers are reduced exactly (rational arithmetic); any decimal switches to the floating-point version. Output: the reduced basis in the same format.")
        @Argument(help: "Basis file: one row per line, whitespace-separated integers or decimals.") var file: String
        @Option(help: "Lovász parameter δ in (1/4, 1].") var delta = 0.75
        func run() throws {
            try reportingErrors {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                let rows = text.split(whereSeparator: \.isNewline).map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }.filter { !$0.isEmpty }
                guard !rows.isEmpty else { throw CLIError("\(file) holds no basis vectors") }
                if rows.allSatisfy({ $0.allSatisfy { BigInt($0) != nil } }) {
                    let r = try LLL.reduce(integerBasis: rows.map { $0.map { BigInt($0)! } }, delta: LLL.rational(delta))
                    for row in r.basis { print(row.map { "\($0)" }.joined(separator: " ")) }
                } else {
                    let values = try rows.map { try $0.map { s -> Double in
                        guard let v = Double(s) else { throw CLIError("'\(s)' is not a number") }
                        return v
                    } }
                    let r = try LLL.reduce(realBasis: values, delta: delta)
                    for row in r.basis { print(row.map { String($0) }.joined(separator: " ")) }
                }
            }
        }
    }
}
