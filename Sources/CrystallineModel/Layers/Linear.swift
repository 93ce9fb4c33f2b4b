// Affine layer in Hugging Face Conv1D layout: out[N,OC] = inp[N,IC] · W[IC,OC] + bias.
import CrystallineCompute

enum Linear {
    /// `weight` may be float32 or bfloat16 (mixed precision); products accumulate in float32,
    /// and with `arithmetic: .bfloat16` multiply bfloat16-rounded operands.
    static func forward<W: GEMMElement>(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                        weight: UnsafePointer<W>, bias: UnsafePointer<Float>?, N: Int, IC: Int, OC: Int,
                        arithmetic: GEMMArithmetic = .float32) {
        gemm(m: N, n: OC, k: IC, a: inp, lda: IC, b: weight, ldb: OC, c: out, ldc: OC, bias: bias, arithmetic: arithmetic)
    }

    /// dinp (+)= dout·Wᵀ, dW += inpᵀ·dout, dbias += Σ_n dout. With `accumulateInput` false the
    /// input gradient is written, not added (it has no other contributor), which spares the
    /// caller from zeroing it.
    static func backward<W: GEMMElement>(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                         dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<W>,
                         N: Int, IC: Int, OC: Int, accumulateInput: Bool = true, arithmetic: GEMMArithmetic = .float32) {
        let products = GradientProducts(dinp: dinp, dweight: dweight, dout: dout, inp: inp, weight: weight,
                                        N: N, IC: IC, OC: OC, accumulateInput: accumulateInput, arithmetic: arithmetic)
        if ThreadPool.shared.threadCount == 2 && N * IC * OC >= 1 << 18 {
            // Two cores: the two products are independent and equal in work, so each runs on its
            // own core (no split of small matrices, no duplicated packing of the transposed A).
            // The input gradient comes in two row halves that the threads take as they free up,
            // which evens out the two products' different speeds (7–10 % faster steps at the
            // shakespeare size, neutral at baby size). The bias gradient rides with the first half.
            ThreadPool.shared.parallelFor(3, GradientTasks(products: products, dbias: dbias))
        } else {
            products.inputGradient(worker: nil)
            products.weightGradient(worker: nil)
            if let dbias {
                // Column ranges per thread: no shared writes, fixed summation order.
                parallelRanges(OC, granule: 8, minimumParallel: N * OC >= 1 << 15 ? 1 : OC + 1,
                               BiasGradientJob(dbias: dbias, dout: dout, N: N, OC: OC))
            }
        }
    }

    /// Task 0: first half of the input gradient, then the bias gradient; task 1: weight gradient;
    /// task 2: second half of the input gradient.
    struct GradientTasks<W: GEMMElement>: ParallelJob {
        let products: GradientProducts<W>
        let dbias: UnsafeMutablePointer<Float>?
        func run(task: Int, worker: Int) {
            if task == 2 {
                products.inputGradient(worker: worker, half: 1)
            } else if task == 0 {
                products.inputGradient(worker: worker, half: 0)
                if let dbias {
                    BiasGradientJob(dbias: dbias, dout: products.dout, N: products.N, OC: products.OC).run(0..<products.OC)
                }
            } else {
                products.weightGradient(worker: worker)
            }
        }
    }

    /// The input gradient and the weight gradient of one layer.
    struct GradientProducts<W: GEMMElement> {
        let dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>
        let dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<W>
        let N: Int, IC: Int, OC: Int, accumulateInput: Bool
        let arithmetic: GEMMArithmetic

        /// dinp (+)= dout·Wᵀ
        func inputGradient(worker: Int?, half: Int? = nil) {
            let rows = half.map { chunk($0, of: 2, count: N, granule: 8) } ?? 0..<N
            gemm(m: rows.count, n: IC, k: OC, a: dout + rows.lowerBound * OC, lda: OC, b: weight, ldb: OC, transB: .transposed,
                 c: dinp + rows.lowerBound * IC, ldc: IC, accumulate: accumulateInput, worker: worker, arithmetic: arithmetic)
        }
        /// dW += inpᵀ·dout
        func weightGradient(worker: Int?) {
            gemm(m: IC, n: OC, k: N, a: inp, lda: IC, transA: .transposed, b: dout, ldb: OC,
                 c: dweight, ldc: OC, accumulate: true, worker: worker, arithmetic: arithmetic)
        }
    }

    /// dbias[cols] += Σ_n dout[n, cols].
    struct BiasGradientJob: RangeJob {
        let dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, N: Int, OC: Int
        func run(_ cols: Range<Int>) {
            for n in 0..<N { addInPlace(dbias + cols.lowerBound, dout + n * OC + cols.lowerBound, cols.count) }
        }
    }
}
