import XCTest
@testable import CrystallineCompute
import CKernels

/// The bfloat16 GEMM against a Double reference of the bfloat16-rounded inputs: products of
/// 8-bit-mantissa values are exact in float32, so only the float32 summation may differ. A
/// kernel that skipped the rounding (or truncated instead of rounding to nearest even) would be
/// off by ~2⁻⁹ of each term and fail the tolerance below by orders of magnitude.
final class BF16GEMMTests: XCTestCase {
    func rounded(_ x: [Float]) -> [Float] { x.map { BFloat16($0).floatValue } }

    func reference(_ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ ta: Transpose, _ b: [Float], _ tb: Transpose) -> (value: [Double], scale: [Double]) {
        var c = [Double](repeating: 0, count: m * n), s = c
        for i in 0..<m { for j in 0..<n {
            var sum = 0.0, magnitude = 0.0
            for p in 0..<k {
                let av = Double(ta == .none ? a[i * k + p] : a[p * m + i])
                let bv = Double(tb == .none ? b[p * n + j] : b[j * k + p])
                sum += av * bv; magnitude += abs(av * bv)
            }
            c[i * n + j] = sum; s[i * n + j] = magnitude
        } }
        return (c, s)
    }

    func requireKernel() throws -> BF16GEMMKernel {
        guard let kernel = BF16GEMMKernel.available.last else {
            throw XCTSkip("this CPU has no bfloat16 GEMM kernel (AVX512_BF16); the float32 kernels are tested in GEMMTests")
        }
        return kernel
    }

    /// Every bfloat16 kernel this CPU runs, and the AMX loop on the software model of the tile
    /// instructions (its packers need AVX-512BW, which every CPU with a bfloat16 kernel has).
    func paths() throws -> [(name: String, path: GEMMPath)] {
        _ = try requireKernel()
        return BF16GEMMKernel.available.map { ($0.rawValue, GEMMPath.bfloat16($0)) } + [("amx tile model", .modeledTiles)]
    }

    /// All four transpose forms (forward A·B, input gradient A·Bᵀ, weight gradient Aᵀ·B, and
    /// Aᵀ·Bᵀ), overwrite and accumulate, on every path, at shapes that straddle every blocking
    /// edge: MR = 8 and 32 (AMX), NR = 32, an odd k (a half-empty last pair), k tails that are
    /// not whole 16-pair tiles, KC = 384, MC = 120 and 96 (AMX), NC = 1024 (a remainder of up
    /// to 256 columns joins the block before it: 1030 is one block, 1300 two), and the
    /// eight-column and eight-pair steps of the transposing packer.
    func testAllFormsMatchRoundedReference() throws {
        var rng = Xoshiro256(seed: 11)
        let shapes = [(1, 1, 1), (7, 17, 5), (8, 32, 2), (9, 33, 3), (13, 40, 17), (121, 40, 770),
                      (64, 1030, 20), (9, 1300, 20), (200, 65, 385), (130, 100, 7), (17, 9, 400), (8, 31, 768), (3, 70, 31),
                      (33, 33, 33), (97, 64, 64), (32, 32, 32)]
        for (name, path) in try paths() {
            for (m, n, k) in shapes {
                for ta in [Transpose.none, .transposed] { for tb in [Transpose.none, .transposed] {
                    let a = (0..<(m * k)).map { _ in rng.nextFloat() * 2 - 1 }
                    let b = (0..<(k * n)).map { _ in rng.nextFloat() * 2 - 1 }
                    let c0 = (0..<(m * n)).map { _ in rng.nextFloat() }
                    let ref = reference(m, n, k, rounded(a), ta, rounded(b), tb)
                    for accumulate in [false, true] {
                        var c = c0
                        gemm(m: m, n: n, k: k, a: a, lda: ta == .none ? k : m, transA: ta,
                             b: b, ldb: tb == .none ? n : k, transB: tb, c: &c, ldc: n,
                             accumulate: accumulate, bias: nil, worker: nil, path: path)
                        var worst = 0.0
                        for i in 0..<(m * n) {
                            let expected = ref.value[i] + (accumulate ? Double(c0[i]) : 0)
                            let bound = 4e-7 * (ref.scale[i] + Double(c0[i])) + 1e-30
                            worst = max(worst, abs(Double(c[i]) - expected) / bound)
                        }
                        XCTAssertLessThanOrEqual(worst, 1, "\(name): m\(m) n\(n) k\(k) \(ta) \(tb) accumulate \(accumulate)")
                    }
                } }
            }
        }
    }

    /// The product really is of rounded inputs: against the float32 (unrounded) reference it is
    /// off by about 2⁻⁹ relative, which is what a bfloat16 product must show.
    func testDiffersFromFloat32AsBFloat16Should() throws {
        var rng = Xoshiro256(seed: 12)
        let (m, n, k) = (16, 64, 256)
        let a = (0..<(m * k)).map { _ in rng.nextFloat() * 2 - 1 }, b = (0..<(k * n)).map { _ in rng.nextFloat() * 2 - 1 }
        let exact = reference(m, n, k, a, .none, b, .none)
        for (name, path) in try paths() {
            var c = [Float](repeating: 0, count: m * n)
            gemm(m: m, n: n, k: k, a: a, lda: k, transA: .none, b: b, ldb: n, transB: .none, c: &c, ldc: n,
                 accumulate: false, bias: nil, worker: nil, path: path)
            var relative = 0.0
            for i in 0..<(m * n) { relative = max(relative, abs(Double(c[i]) - exact.value[i]) / exact.scale[i]) }
            XCTAssertGreaterThan(relative, 1e-4, "\(name) looks like float32 arithmetic, not bfloat16")
            XCTAssertLessThan(relative, 1e-2, name)
        }
    }

    /// A bfloat16-stored B is taken as it is (no second rounding) in every form, and the split
    /// over threads gives the serial result bit for bit.
    func testBFloat16StoredOperandAndThreadSplit() throws {
        var rng = Xoshiro256(seed: 13)
        for (name, path) in try paths() {
            for (m, n, k) in [(9, 40, 19), (30, 33, 64), (160, 200, 401)] {
                for tb in [Transpose.none, .transposed] {
                    let a = (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 }
                    let b = (0..<(k * n)).map { _ in rng.nextFloat() - 0.5 }
                    let b16 = b.map(BFloat16.init)
                    var viaFloat = [Float](repeating: 0, count: m * n), viaBF16 = viaFloat, serial = viaFloat
                    let ldb = tb == .none ? n : k
                    gemm(m: m, n: n, k: k, a: a, lda: k, transA: .none, b: b, ldb: ldb, transB: tb, c: &viaFloat, ldc: n,
                         accumulate: false, bias: nil, worker: nil, path: path)
                    gemm(m: m, n: n, k: k, a: a, lda: k, transA: .none, b: b16, ldb: ldb, transB: tb, c: &viaBF16, ldc: n,
                         accumulate: false, bias: nil, worker: nil, path: path)
                    gemm(m: m, n: n, k: k, a: a, lda: k, transA: .none, b: b, ldb: ldb, transB: tb, c: &serial, ldc: n,
                         accumulate: false, bias: nil, worker: 0, path: path)
                    XCTAssertEqual(viaFloat, viaBF16, "\(name): m\(m) n\(n) k\(k) \(tb)")
                    XCTAssertEqual(viaFloat, serial, "\(name): m\(m) n\(n) k\(k) \(tb)")
                }
            }
        }
    }

    /// The check product that decides whether the AMX tiles are used is exact: the model of the
    /// tiles and every kernel this CPU has give it bit for bit. And where the CPU has AMX, the
    /// tiles passed that check and are in use.
    func testAMXIsUsedWhereTheCPUHasIt() throws {
        _ = try requireKernel()
        let model = exactBF16CheckProduct(path: .modeledTiles)
        XCTAssertTrue(model.contains { $0 != 0 })
        for kernel in BF16GEMMKernel.available {
            XCTAssertEqual(exactBF16CheckProduct(path: .bfloat16(kernel)), model, kernel.rawValue)
        }
        if cllm_cpu_has_amx_bf16() != 0 {
            XCTAssertTrue(BF16GEMMKernel.available.contains(.amx), "the AMX tiles disagreed with their model")
        } else {
            XCTAssertFalse(BF16GEMMKernel.available.contains(.amx))
        }
    }

    /// The configuration the AMX kernel loads is the 64-byte layout of the SDM's LDTILECFG:
    /// palette 1 in byte 0, bytes 1–15 zero, a 16-bit bytes-per-row for each tile from byte 16,
    /// an 8-bit row count for each tile from byte 48; the kernel's eight tiles are 16 × 64 bytes.
    func testTileConfigurationBytes() {
        var bytes = [UInt8](repeating: 0xAA, count: 64)
        cllm_amx_config_bytes(&bytes)
        XCTAssertEqual(bytes[0], 1)
        XCTAssertEqual(Array(bytes[1..<16]), [UInt8](repeating: 0, count: 15))
        for t in 0..<16 {
            let colsb = Int(bytes[16 + 2 * t]) | Int(bytes[17 + 2 * t]) << 8
            XCTAssertEqual(colsb, t < 8 ? 64 : 0, "tile \(t) bytes per row")
            XCTAssertEqual(Int(bytes[48 + t]), t < 8 ? 16 : 0, "tile \(t) rows")
        }
    }

    /// The packer rounds to nearest even and keeps NaN a NaN (vector and scalar paths alike).
    func testPackerRoundsToNearestEven() throws {
        _ = try requireKernel()
        // 1 + 2⁻⁸ is a tie between 1 and 1 + 2⁻⁷: even rounds down; 1 + 3·2⁻⁸ rounds up.
        let values: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, -2.5e-3, .nan, .infinity, 65504, 1e-40, -0.0]
        let expected = values.map { BFloat16($0).bits }
        for (rs, cs) in [(1, 8), (8, 1), (3, 24)] {  // steps contiguous, columns contiguous, strided
            var src = [Float](repeating: 0, count: 2 * 8 * 3 * 8)
            for (i, v) in values.enumerated() { src[0 * rs + i * cs] = v; src[1 * rs + i * cs] = v }
            var out = [UInt32](repeating: 0xDEAD, count: 8)
            cllm_pack_bf16_pairs(2, 8, 8, src, rs, cs, &out)
            for i in 0..<values.count {
                XCTAssertEqual(UInt16(out[i] & 0xFFFF), expected[i], "rs \(rs) cs \(cs) value \(values[i]) low")
                XCTAssertEqual(UInt16(out[i] >> 16), expected[i], "rs \(rs) cs \(cs) value \(values[i]) high")
            }
        }
        XCTAssertEqual(BFloat16(1 + 0x1p-8).bits, BFloat16(1).bits)
        XCTAssertEqual(BFloat16(1 + 3 * 0x1p-8).floatValue, 1 + 0x1p-6)
    }

    /// Generation's mat-vec on pair-layout weights against a Double reference of the rounded x
    /// and weights: odd input counts (a half-empty last pair), column tails, more than one
    /// 256-pair chunk, and matrices large enough for the pairs to be split over the pool.
    func testPairedMatVecMatchesRoundedReference() throws {
        _ = try requireKernel()
        var rng = Xoshiro256(seed: 14)
        for (rows, cols) in [(1, 1), (7, 17), (64, 64), (385, 100), (600, 48), (3, 130), (1001, 80), (520, 200)] {
            let w = (0..<(rows * cols)).map { _ in BFloat16(rng.nextFloat() * 2 - 1) }
            let x = (0..<rows).map { _ in rng.nextFloat() * 2 - 1 }
            let b = (0..<cols).map { _ in rng.nextFloat() }
            var storage = [UInt32](repeating: 0xFFFF_FFFF, count: PairedBF16Matrix.slotCount(rows: rows, columns: cols))
            var y = [Float](repeating: .nan, count: cols)
            storage.withUnsafeMutableBufferPointer { s in
                let m = w.withUnsafeBufferPointer { PairedBF16Matrix.pack($0.baseAddress!, rows: rows, columns: cols, into: s.baseAddress!) }
                matVec(&y, x, m, bias: b, partials: MatVecPartials(outputs: cols))
            }
            let xr = rounded(x)
            for c in 0..<cols {
                var sum = Double(b[c]), magnitude = abs(Double(b[c]))
                for r in 0..<rows { let t = Double(xr[r]) * Double(w[r * cols + c].floatValue); sum += t; magnitude += abs(t) }
                XCTAssertEqual(Double(y[c]), sum, accuracy: 4e-7 * magnitude + 1e-30, "rows \(rows) cols \(cols) column \(c)")
            }
        }
    }

    /// The LM head's row dots on `vdpbf16ps` against a Double reference of the rounded x and
    /// rows: widths that are and are not multiples of 32, counts that are not multiples of 4.
    func testRowDotsOnPairsMatchRoundedReference() throws {
        _ = try requireKernel()
        var rng = Xoshiro256(seed: 15)
        for (count, width) in [(1, 2), (5, 30), (7, 64), (66, 384), (3, 770)] {
            let rows = (0..<(count * width)).map { _ in BFloat16(rng.nextFloat() * 2 - 1) }
            let x = (0..<width).map { _ in rng.nextFloat() * 2 - 1 }
            var out = [Float](repeating: .nan, count: count)
            rows.withUnsafeBufferPointer { rowDotsBF16Products(&out, x, rows: $0.baseAddress!, count: count, width: width) }
            let xr = rounded(x)
            for v in 0..<count {
                var sum = 0.0, magnitude = 0.0
                for j in 0..<width { let t = Double(xr[j]) * Double(rows[v * width + j].floatValue); sum += t; magnitude += abs(t) }
                XCTAssertEqual(Double(out[v]), sum, accuracy: 4e-7 * magnitude + 1e-30, "count \(count) width \(width) row \(v)")
            }
        }
    }
}
