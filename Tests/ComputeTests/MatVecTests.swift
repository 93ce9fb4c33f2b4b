import XCTest
@testable import CrystallineCompute

/// Generation's float32 and bfloat16 mat-vecs (inputs split over the pool, partial vectors
/// summed) and the LM head's row dots, against Double references of the same weights.
final class MatVecTests: XCTestCase {
    /// start + Σ_i x[i]·weight(i) in Double, with the weights as given (s32) and rounded to
    /// bfloat16 (s16), and Σ |terms| + |start| (the scale of the rounding error).
    func reference(_ x: [Float], start: Float, weight: (Int) -> Float) -> (s32: Double, s16: Double, magnitude: Double) {
        var s32 = Double(start), s16 = s32, magnitude = abs(s32)
        for i in x.indices {
            let w = weight(i)
            s32 += Double(x[i]) * Double(w)
            s16 += Double(x[i]) * Double(BFloat16(w).floatValue)
            magnitude += abs(Double(x[i]) * Double(w))
        }
        return (s32, s16, magnitude)
    }

    /// Sizes below and above the parallel threshold (2¹⁶ products), input counts that do not
    /// divide into the split's four-row granule, and column counts off the kernels' 32- and
    /// 8-wide steps; float32 and bfloat16 weights, with the split and without.
    func testInputSplitMatVecMatchesReference() {
        var rng = Xoshiro256(seed: 31)
        for (inputs, outputs) in [(1, 1), (5, 7), (64, 33), (301, 300), (770, 100), (1031, 257)] {
            let w = (0..<(inputs * outputs)).map { _ in rng.nextFloat() * 2 - 1 }
            let w16 = w.map { BFloat16($0) }
            let x = (0..<inputs).map { _ in rng.nextFloat() * 2 - 1 }, b = (0..<outputs).map { _ in rng.nextFloat() }
            let partials = MatVecPartials(outputs: outputs)
            for parallel in [true, false] {
                var y32 = [Float](repeating: .nan, count: outputs), y16 = y32
                matVec(&y32, x, w, bias: b, inputs: inputs, outputs: outputs, partials: partials, parallel: parallel)
                w16.withUnsafeBufferPointer {
                    matVec(&y16, x, $0.baseAddress!, bias: b, inputs: inputs, outputs: outputs, partials: partials, parallel: parallel)
                }
                for o in 0..<outputs {
                    let (s32, s16, magnitude) = reference(x, start: b[o]) { w[$0 * outputs + o] }
                    XCTAssertEqual(Double(y32[o]), s32, accuracy: 1e-6 * magnitude, "fp32 \(inputs)×\(outputs) parallel \(parallel) output \(o)")
                    XCTAssertEqual(Double(y16[o]), s16, accuracy: 1e-6 * magnitude, "bf16 \(inputs)×\(outputs) parallel \(parallel) output \(o)")
                }
            }
        }
    }

    /// The row dots of the tied head, float32 and bfloat16 rows: widths off the 32- and 8-wide
    /// steps, row counts split over the pool.
    func testRowDotsMatchReference() {
        var rng = Xoshiro256(seed: 32)
        for (count, width) in [(1, 1), (3, 9), (7, 40), (1000, 96), (301, 771)] {
            let rows = (0..<(count * width)).map { _ in rng.nextFloat() * 2 - 1 }, rows16 = rows.map { BFloat16($0) }
            let x = (0..<width).map { _ in rng.nextFloat() * 2 - 1 }
            var out32 = [Float](repeating: .nan, count: count), out16 = out32
            rowDots(&out32, x, rows: rows, count: count, width: width)
            rows16.withUnsafeBufferPointer { rowDots(&out16, x, rows: $0.baseAddress!, count: count, width: width) }
            for v in 0..<count {
                let (s32, s16, magnitude) = reference(x, start: 0) { rows[v * width + $0] }
                XCTAssertEqual(Double(out32[v]), s32, accuracy: 1e-6 * magnitude, "fp32 row \(v) of \(count)×\(width)")
                XCTAssertEqual(Double(out16[v]), s16, accuracy: 1e-6 * magnitude, "bf16 row \(v) of \(count)×\(width)")
            }
        }
    }
}
