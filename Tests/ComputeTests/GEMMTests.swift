import XCTest
@testable import CrystallineCompute

final class GEMMTests: XCTestCase {
    /// Reference product in Double, straight from the definition.
    func reference(_ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ ta: Transpose, _ b: [Float], _ tb: Transpose) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = ta == .none ? a[i * k + p] : a[p * m + i]
                let bv = tb == .none ? b[p * n + j] : b[j * k + p]
                s += Double(av) * Double(bv)
            }
            c[i * n + j] = s
        } }
        return c
    }

    /// Every micro-kernel this CPU runs (the SIMD8 one always, the AVX-512 one where present).
    func testAllTransposeFormsMatchReference() {
        for kernel in GEMMKernel.available { checkAllTransposeForms(kernel) }
    }

    func checkAllTransposeForms(_ kernel: GEMMKernel) {
        var rng = Xoshiro256(seed: 1)
        // Shapes straddle every blocking edge: MR = 6 or 8, NR = 16 or 32, KC = 384, MC = 120,
        // NC = 1024 (1030 columns are one block of at most 1280, 1300 two).
        let shapes = [(1, 1, 1), (7, 17, 5), (6, 16, 384), (8, 32, 385), (13, 33, 300), (121, 40, 770),
                      (64, 1030, 20), (9, 1300, 20), (200, 65, 128), (130, 100, 7), (17, 9, 400)]
        for (m, n, k) in shapes {
            for ta in [Transpose.none, .transposed] { for tb in [Transpose.none, .transposed] {
                let a = (0..<(m * k)).map { _ in rng.nextFloat() * 2 - 1 }
                let b = (0..<(k * n)).map { _ in rng.nextFloat() * 2 - 1 }
                let c0 = (0..<(m * n)).map { _ in rng.nextFloat() }
                for accumulate in [false, true] {
                    var c = c0
                    a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                        gemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: ta == .none ? k : m, transA: ta,
                             b: bp.baseAddress!, ldb: tb == .none ? n : k, transB: tb,
                             c: cp.baseAddress!, ldc: n, accumulate: accumulate, kernel: kernel)
                    } } }
                    let ref = reference(m, n, k, a, ta, b, tb)
                    for i in 0..<(m * n) {
                        let expected = ref[i] + (accumulate ? Double(c0[i]) : 0)
                        XCTAssertEqual(Double(c[i]), expected, accuracy: 1e-4 * Double(k).squareRoot() + 1e-5,
                                       "\(kernel) m\(m) n\(n) k\(k) \(ta) \(tb) acc \(accumulate) at \(i)")
                        if abs(Double(c[i]) - expected) > 1e-3 { return }
                    }
                }
            } }
        }
    }

    /// C = bias + A·B, serial and split over threads (the bias fill is per thread).
    func testBiasEpilogue() {
        var rng = Xoshiro256(seed: 2)
        for kernel in GEMMKernel.available {
            for (m, n, k) in [(5, 7, 3), (300, 70, 40), (40, 300, 70)] {
                let a = (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 }
                let b = (0..<(k * n)).map { _ in rng.nextFloat() - 0.5 }
                let bias = (0..<n).map { _ in rng.nextFloat() }
                var c = [Float](repeating: .nan, count: m * n)
                gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n, bias: bias, kernel: kernel)
                let ref = reference(m, n, k, a, .none, b, .none)
                for i in 0..<m { for j in 0..<n {
                    XCTAssertEqual(Double(c[i * n + j]), ref[i * n + j] + Double(bias[j]), accuracy: 1e-4, "\(kernel) \(m)x\(n)x\(k) at \(i),\(j)")
                } }
            }
        }
    }

    /// A bfloat16 B operand gives exactly the product of its widened float32 values, in every
    /// transpose form and at panel edges (the bf16 packing is a separate code path).
    func testBFloat16OperandEqualsWidenedFloat() {
        var rng = Xoshiro256(seed: 3)
        for kernel in GEMMKernel.available {
            for (m, n, k) in [(9, 40, 19), (30, 33, 64), (16, 64, 400)] {
                for tb in [Transpose.none, .transposed] {
                    let a = (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 }
                    let b16 = (0..<(k * n)).map { _ in BFloat16(rng.nextFloat() - 0.5) }
                    let b32 = b16.map(\.floatValue)
                    var c16 = [Float](repeating: 0, count: m * n), c32 = c16
                    let ldb = tb == .none ? n : k
                    gemm(m: m, n: n, k: k, a: a, lda: k, b: b16, ldb: ldb, transB: tb, c: &c16, ldc: n, kernel: kernel)
                    gemm(m: m, n: n, k: k, a: a, lda: k, b: b32, ldb: ldb, transB: tb, c: &c32, ldc: n, kernel: kernel)
                    XCTAssertEqual(c16, c32, "\(kernel) \(m)x\(n)x\(k) \(tb)")
                }
            }
        }
    }

    func testFusedMultiplyAddCompiledIn() {
        XCTAssertTrue(BuildFeatures.hasFusedMultiplyAdd,
                      "kernels were built without FMA code generation (\(BuildFeatures.simdName)); expect ~150x slower math")
    }

    func testVectorExpAndTanh() {
        for x in stride(from: -20.0 as Float, through: 20, by: 0.013) {
            XCTAssertEqual(fastExp(x), expf(x), accuracy: expf(x) * 3e-7)
            XCTAssertEqual(fastTanh(x), tanhf(x), accuracy: 3e-7)
        }
    }
}
