// The tied LM head fused with softmax cross-entropy.
//
// logits[N,V] = x[N,C] · wteᵀ; loss_n = logsumexp(logits_n) − logits_n[target_n].
// The backward recomputes softmax from the saved log-partition instead of storing probabilities.
import CrystallineCompute

enum CrossEntropy {
    static func logits<W: GEMMElement>(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, wte: UnsafePointer<W>,
                       N: Int, C: Int, V: Int, arithmetic: GEMMArithmetic = .float32) {
        gemm(m: N, n: V, k: C, a: x, lda: C, b: wte, ldb: C, transB: .transposed, c: out, ldc: V, arithmetic: arithmetic)
    }

    /// Per-position losses and log-partitions; returns the mean loss.
    static func forward(losses: UnsafeMutablePointer<Float>, logPartition: UnsafeMutablePointer<Float>,
                        logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int) -> Float {
        parallelRanges(N, granule: 1, minimumParallel: N * V >= 1 << 14 ? 1 : N + 1,
                       LossJob(losses: losses, logPartition: logPartition, logits: logits, targets: targets, V: V))
        var total: Double = 0
        for n in 0..<N { total += Double(losses[n]) }
        return Float(total / Double(N))
    }

    /// dlogits = (softmax − onehot)·gradScale and dx = dlogits·wte (both written, not added),
    /// then dwte += dlogitsᵀ·x.
    static func backward<W: GEMMElement>(dx: UnsafeMutablePointer<Float>, dwte: UnsafeMutablePointer<Float>, dlogits: UnsafeMutablePointer<Float>,
                         logits: UnsafePointer<Float>, logPartition: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                         x: UnsafePointer<Float>, wte: UnsafePointer<W>, gradScale: Float, N: Int, C: Int, V: Int,
                         arithmetic: GEMMArithmetic = .float32) {
        parallelRanges(N, granule: 1, minimumParallel: N * V >= 1 << 14 ? 1 : N + 1,
                       LogitGradientJob(dlogits: dlogits, logits: logits, logPartition: logPartition, targets: targets,
                                        gradScale: gradScale, V: V))
        gemm(m: N, n: C, k: V, a: dlogits, lda: V, b: wte, ldb: C, c: dx, ldc: C, arithmetic: arithmetic)
        gemm(m: V, n: C, k: N, a: dlogits, lda: V, transA: .transposed, b: x, ldb: C, c: dwte, ldc: C, accumulate: true,
             arithmetic: arithmetic)
    }

    /// Per-row log-partition and loss.
    struct LossJob: RangeJob {
        let losses: UnsafeMutablePointer<Float>, logPartition: UnsafeMutablePointer<Float>
        let logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, V: Int
        func run(_ rows: Range<Int>) {
            for n in rows {
                let row = logits + n * V
                let lse = logSumExp(row, V)
                logPartition[n] = lse
                losses[n] = lse - row[Int(targets[n])]
            }
        }
    }

    /// dlogits = (softmax − onehot)·gradScale, per row.
    struct LogitGradientJob: RangeJob {
        let dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, logPartition: UnsafePointer<Float>
        let targets: UnsafePointer<Int32>, gradScale: Float, V: Int
        func run(_ rows: Range<Int>) {
            for n in rows {
                let row = logits + n * V, d = dlogits + n * V
                let lse = Vec8(repeating: logPartition[n]), g = Vec8(repeating: gradScale)
                var i = 0
                while i + 8 <= V { store8(exp8(load8(row + i) - lse) * g, d + i); i += 8 }
                while i < V { d[i] = fastExp(row[i] - logPartition[n]) * gradScale; i += 1 }
                d[Int(targets[n])] -= gradScale
            }
        }
    }
}
