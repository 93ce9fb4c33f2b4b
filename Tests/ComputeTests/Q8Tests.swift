import XCTest
@testable import CrystallineCompute

/// The Q8_0 path against references written here from GGML's definition: the quantizer must
/// reproduce GGML's reference quantizer bit for bit (so that a GGUF file and cllm hold the same
/// bytes), and every row-dot kernel the CPU can run must equal the exact integer block sums
/// scaled in Double, up to float32 summation.
final class Q8Tests: XCTestCase {
    /// GGML's `quantize_row_q8_0_ref`: d = max|x|/127, q = roundf(x·(1/d)), d stored as fp16.
    func referenceQuantize(_ x: [Float]) -> (quants: [Int8], scales: [Float]) {
        var quants = [Int8](), scales = [Float]()
        for b in 0..<(x.count / 32) {
            let block = x[(32 * b)..<(32 * b + 32)]
            let d = block.map(abs).max()! / 127, id: Float = d != 0 ? 1 / d : 0
            scales.append(Float(Float16(d)))
            quants += block.map { Int8(($0 * id).rounded(.toNearestOrAwayFromZero)) }
        }
        return (quants, scales)
    }

    func quantize(_ x: [Float]) -> (quants: [Int8], scales: [Float]) {
        var q = [Int8](repeating: 0, count: x.count), s = [Float](repeating: .nan, count: x.count / 32)
        q.withUnsafeMutableBufferPointer { qp in s.withUnsafeMutableBufferPointer { sp in
            quantizeQ8_0(x, count: x.count, quants: qp.baseAddress!, scales: sp.baseAddress!)
        } }
        return (q, s)
    }

    /// Random blocks at several magnitudes, an all-zero block (d = 0), exact halves (ties go
    /// away from zero, as roundf), and a block whose maximum is negative.
    func testQuantizerIsGGMLsReferenceBitForBit() {
        var rng = Xoshiro256(seed: 21)
        var x = [Float]()
        for scale: Float in [1, 1e-3, 300, 1e-30] { x += (0..<96).map { _ in (rng.nextFloat() * 2 - 1) * scale } }
        x += [Float](repeating: 0, count: 32)
        x += [127] + (1..<32).map { Float($0 % 9) - 4.5 }         // d = 1: ±0.5, ±1.5, ... are ties
        x += [-50] + (1..<32).map { _ in rng.nextFloat() * 10 }    // the maximum magnitude is negative
        let (q, s) = quantize(x), (rq, rs) = referenceQuantize(x)
        XCTAssertEqual(s.map(\.bitPattern), rs.map(\.bitPattern))
        XCTAssertEqual(q, rq)
        let ties = 12 * 32 + 32
        XCTAssertEqual(Array(q[(ties + 1)..<(ties + 10)]), [-4, -3, -2, -1, 1, 2, 3, 4, -5], "x.5 rounds away from zero")
        XCTAssertEqual(q[ties], 127)
    }

    /// Every kernel this CPU runs, at several row counts, an odd number of blocks (the two-block
    /// step's tail, and the VNNI kernel's ymm block), one block, rows wider than the VNNI
    /// kernel's x tables (128 blocks: done in column chunks), and with and without a bias.
    func testRowDotsEqualIntegerBlockSums() {
        var rng = Xoshiro256(seed: 22)
        for kernel in Q8Kernel.available {
            for (rows, blocks) in [(1, 1), (5, 3), (7, 12), (4, 13), (33, 96), (2, 2), (3, 133), (2, 256)] {
                let cols = 32 * blocks
                let w = (0..<(rows * cols)).map { _ in Int8.random(in: -127...127, using: &rng) }
                let ws = (0..<(rows * blocks)).map { _ in Float(Float16(rng.nextFloat() * 0.1)) }
                let xq = (0..<cols).map { _ in Int8.random(in: -127...127, using: &rng) }
                let xs = (0..<blocks).map { _ in Float(Float16(rng.nextFloat())) }
                let bias = (0..<rows).map { _ in rng.nextFloat() }
                for withBias in [false, true] {
                    var out = [Float](repeating: .nan, count: rows)
                    let vector = Q8Vector(capacity: cols)
                    vector.quants.update(from: xq, count: cols); vector.scales.update(from: xs, count: blocks)
                    w.withUnsafeBufferPointer { wp in ws.withUnsafeBufferPointer { sp in bias.withUnsafeBufferPointer { bp in
                        let m = Q8Matrix(quants: wp.baseAddress!, scales: sp.baseAddress!, rows: rows, columns: cols)
                        out.withUnsafeMutableBufferPointer { kernel.rowDots(m, vector, rows: 0..<rows, bias: withBias ? bp.baseAddress! : nil, into: $0.baseAddress!) }
                    } } }
                    for r in 0..<rows {
                        var sum = withBias ? Double(bias[r]) : 0, magnitude = abs(sum)
                        for b in 0..<blocks {
                            var dot = 0
                            for i in 0..<32 { dot += Int(w[(r * blocks + b) * 32 + i]) * Int(xq[32 * b + i]) }
                            let term = Double(ws[r * blocks + b]) * Double(xs[b]) * Double(dot)
                            sum += term; magnitude += abs(term)
                        }
                        XCTAssertEqual(Double(out[r]), sum, accuracy: 1e-6 * magnitude + 1e-30, "\(kernel) rows \(rows) blocks \(blocks) row \(r)")
                    }
                }
            }
        }
    }

    /// The whole mat-vec: W stored [in, out] (as the model stores it) quantized to rows = outputs
    /// through strides, x quantized on the way in, rows split over the pool. The result equals
    /// the serial one exactly, stays within quantization error of the float32 product, and
    /// differs from it (the quantization really happens).
    func testMatVecQuantizesBothSidesAndSplitsRows() {
        var rng = Xoshiro256(seed: 23)
        let inputs = 384, outputs = 1000
        let w = (0..<(inputs * outputs)).map { _ in rng.nextFloat() * 2 - 1 }
        let x = (0..<inputs).map { _ in rng.nextFloat() * 2 - 1 }, b = (0..<outputs).map { _ in rng.nextFloat() }
        let quants = UnsafeMutablePointer<Int8>.allocate(capacity: inputs * outputs)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: inputs * outputs / 32)
        defer { quants.deallocate(); scales.deallocate() }
        let m = w.withUnsafeBufferPointer { Q8Matrix.quantize($0.baseAddress!, rows: outputs, columns: inputs, rowStride: 1, columnStride: outputs,
                                                              quants: quants, scales: scales) }
        // Row 7 holds column 7 of W, quantized as one contiguous row would be.
        let column = (0..<inputs).map { w[$0 * outputs + 7] }, (cq, cs) = referenceQuantize(column)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: m.quants + 7 * inputs, count: inputs)), cq)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: m.scales + 7 * inputs / 32, count: inputs / 32)), cs)
        for kernel in Q8Kernel.available {
            var parallel = [Float](repeating: .nan, count: outputs), serial = parallel
            matVec(&parallel, x, m, bias: b, scratch: Q8Vector(capacity: inputs), parallel: true, kernel: kernel)
            matVec(&serial, x, m, bias: b, scratch: Q8Vector(capacity: inputs), parallel: false, kernel: kernel)
            XCTAssertEqual(parallel, serial)
            var worst: Float = 0, largest: Float = 0
            for o in 0..<outputs {
                var exact = b[o]
                for i in 0..<inputs { exact += x[i] * w[i * outputs + o] }
                worst = max(worst, abs(parallel[o] - exact)); largest = max(largest, abs(exact))
            }
            XCTAssertLessThan(worst, 0.01 * largest, "\(kernel): within 8-bit quantization error")
            XCTAssertGreaterThan(worst, 1e-5, "\(kernel): the products must be of quantized values")
        }
    }
    /// The prompt GEMM on Q8_0 weights (`gemm(quantizedB:)`) against a Double reference over the
    /// dequantized weights (int8 × scale, exact in float32): on every float32 kernel, with and
    /// without a bias, at shapes that straddle the panel width (32, and 16 for SIMD8), the
    /// eight-row transposing packer, the depth block (384 = 12 blocks) and the pool split.
    func testPromptGEMMOnQ8WeightsMatchesDequantizedReference() {
        var rng = Xoshiro256(seed: 31)
        for (m, n, k) in [(1, 1, 32), (5, 70, 64), (128, 200, 416), (17, 33, 800), (9, 8, 32)] {
            let w = (0..<(n * k)).map { _ in (rng.nextFloat() * 2 - 1) * 0.1 }
            let (quants, scales) = quantize(w)
            let a = (0..<(m * k)).map { _ in rng.nextFloat() * 2 - 1 }
            let bias = (0..<n).map { _ in rng.nextFloat() }
            var expected = [Double](repeating: 0, count: m * n), magnitude = expected
            for i in 0..<m { for j in 0..<n { for p in 0..<k {
                let term = Double(a[i * k + p]) * Double(Float(quants[j * k + p]) * scales[j * (k / 32) + p / 32])
                expected[i * n + j] += term; magnitude[i * n + j] += abs(term)
            } } }
            quants.withUnsafeBufferPointer { qp in scales.withUnsafeBufferPointer { sp in
                let matrix = Q8Matrix(quants: qp.baseAddress!, scales: sp.baseAddress!, rows: n, columns: k)
                for kernel in GEMMKernel.available { for withBias in [false, true] {
                    var c = [Float](repeating: .nan, count: m * n)
                    gemm(m: m, n: n, k: k, a: a, lda: k, quantizedB: matrix, c: &c, ldc: n, bias: withBias ? bias : nil, kernel: kernel)
                    for i in 0..<m { for j in 0..<n {
                        let want = expected[i * n + j] + (withBias ? Double(bias[j]) : 0)
                        XCTAssertEqual(Double(c[i * n + j]), want, accuracy: 1e-6 * (magnitude[i * n + j] + 1),
                                       "\(kernel) m\(m) n\(n) k\(k) bias \(withBias) at (\(i), \(j))")
                    } }
                } }
            } }
        }
    }
}
