import XCTest
@testable import CrystallineCompute

/// A product with B packed beforehand must equal, bit for bit, the same product packing B as it
/// goes (same kernel, same summation order), including when it reads only a prefix of the
/// packed rows and columns as attention's causal blocks do. The ordinary GEMM is checked against
/// Double references in GEMMTests and BF16GEMMTests; a wrong panel offset or stride here would
/// multiply the wrong columns or depths and differ by whole terms.
final class PackedOperandTests: XCTestCase {
    /// Every path this CPU runs: each float32 kernel, and bfloat16 where there is a kernel.
    var paths: [(GEMMKernel, GEMMArithmetic)] {
        var all = GEMMKernel.available.map { ($0, GEMMArithmetic.float32) }
        if !BF16GEMMKernel.available.isEmpty { all.append((.active, .bfloat16)) }
        return all
    }

    func testPrefixProductsEqualUnpackedProducts() {
        var rng = Xoshiro256(seed: 23)
        // (packed rows, packed columns, products (m, n, k) reading a prefix). 800 rows span three
        // depth blocks of 384; odd k leaves half a bfloat16 pair; 1400 columns two column blocks (1100, one of up to 1280).
        let cases: [(Int, Int, [(Int, Int, Int)])] = [
            (64, 256, [(24, 24, 64), (24, 256, 64), (9, 37, 64), (1, 1, 64)]),
            (256, 64, [(24, 64, 24), (24, 64, 255), (17, 33, 256), (24, 64, 48)]),
            (800, 70, [(30, 70, 800), (30, 70, 777), (8, 70, 385), (13, 40, 384)]),
            (40, 1100, [(20, 1100, 40), (20, 1030, 39), (130, 1025, 40)]),
            (40, 1400, [(20, 1400, 40), (9, 1300, 39), (33, 1290, 40)]),
        ]
        for (kernel, arithmetic) in paths {
            for (rows, columns, products) in cases {
                for transB in [Transpose.none, .transposed] {
                    let b = (0..<(rows * columns)).map { _ in rng.nextFloat() * 2 - 1 }
                    let ldb = transB == .none ? columns : rows
                    var storage = [UInt8](repeating: 0, count: PackedOperand.byteCount(rows: rows, columns: columns))
                    storage.withUnsafeMutableBytes { room in
                        let packed = PackedOperand(packing: b, ldb: ldb, transB: transB, rows: rows, columns: columns,
                                                   into: room.baseAddress!, arithmetic: arithmetic, kernel: kernel)
                        for (m, n, k) in products {
                            for transA in [Transpose.none, .transposed] { for worker in [nil, 0] as [Int?] {
                                let a = (0..<(m * k)).map { _ in rng.nextFloat() * 2 - 1 }
                                let lda = transA == .none ? k : m
                                let c0 = (0..<(m * n)).map { _ in rng.nextFloat() }
                                for accumulate in [false, true] {
                                    var expected = c0, got = c0
                                    gemm(m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                                         c: &expected, ldc: n, accumulate: accumulate, worker: 0, kernel: kernel,
                                         arithmetic: arithmetic)
                                    gemm(m: m, n: n, k: k, a: a, lda: lda, transA: transA, packedB: packed,
                                         c: &got, ldc: n, accumulate: accumulate, worker: worker)
                                    XCTAssertEqual(got, expected, "\(kernel) \(arithmetic) packed \(rows)×\(columns) \(transB), "
                                                   + "product \(m)×\(n)×\(k) \(transA) worker \(String(describing: worker)) accumulate \(accumulate)")
                                }
                            } }
                        }
                    }
                }
            }
        }
    }

    func testStorageNeedNotBeAligned() {
        // The packed panels are read with aligned loads; the operand aligns itself in its room.
        var rng = Xoshiro256(seed: 5)
        let rows = 48, columns = 40, m = 8
        let b = (0..<(rows * columns)).map { _ in rng.nextFloat() }, a = (0..<(m * rows)).map { _ in rng.nextFloat() }
        for (kernel, arithmetic) in paths {
            var storage = [UInt8](repeating: 0, count: PackedOperand.byteCount(rows: rows, columns: columns) + 4)
            storage.withUnsafeMutableBytes { room in
                let packed = PackedOperand(packing: b, ldb: columns, rows: rows, columns: columns, into: room.baseAddress! + 4,
                                           arithmetic: arithmetic, kernel: kernel)
                var expected = [Float](repeating: 0, count: m * columns), got = expected
                gemm(m: m, n: columns, k: rows, a: a, lda: rows, b: b, ldb: columns, c: &expected, ldc: columns,
                     worker: 0, kernel: kernel, arithmetic: arithmetic)
                gemm(m: m, n: columns, k: rows, a: a, lda: rows, packedB: packed, c: &got, ldc: columns)
                XCTAssertEqual(got, expected, "\(kernel) \(arithmetic)")
            }
        }
    }
}
