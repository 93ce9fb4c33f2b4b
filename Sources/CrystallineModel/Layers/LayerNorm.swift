// LayerNorm over the channel dimension: y = (x − mean)·rstd·w + b, rstd = 1/sqrt(var + eps).
import CrystallineCompute

enum LayerNorm {
    /// Saves per-row mean and rstd for the backward pass.
    static func forward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                        inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        N: Int, C: Int, eps: Float) {
        ThreadPool.shared.parallelFor(N >= 64 ? ThreadPool.shared.threadCount : 1) { part, _ in
            let rows = chunk(part, of: N >= 64 ? ThreadPool.shared.threadCount : 1, count: N)
            for n in rows {
                let x = inp + n * C, y = out + n * C
                var m: Float = 0
                for i in 0..<C { m += x[i] }
                m /= Float(C)
                var v: Float = 0
                for i in 0..<C { let d = x[i] - m; v += d * d }
                v /= Float(C)
                let s = 1 / (v + eps).squareRoot()
                for i in 0..<C { y[i] = (x[i] - m) * s * weight[i] + bias[i] }
                mean[n] = m
                rstd[n] = s
            }
        }
    }

    /// dinp += …, dweight += Σ dout·x̂, dbias += Σ dout. Weight/bias gradients are reduced
    /// serially so that threads never race on them.
    static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
                         dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int) {
        let parts = N >= 64 ? ThreadPool.shared.threadCount : 1
        ThreadPool.shared.parallelFor(parts) { part, _ in
            for n in chunk(part, of: parts, count: N) {
                let x = inp + n * C, dy = dout + n * C, dx = dinp + n * C
                let m = mean[n], s = rstd[n]
                var dnormMean: Float = 0, dnormNormMean: Float = 0
                for i in 0..<C {
                    let xhat = (x[i] - m) * s
                    let dnorm = weight[i] * dy[i]
                    dnormMean += dnorm
                    dnormNormMean += dnorm * xhat
                }
                dnormMean /= Float(C)
                dnormNormMean /= Float(C)
                for i in 0..<C {
                    let xhat = (x[i] - m) * s
                    let dnorm = weight[i] * dy[i]
                    dx[i] += (dnorm - dnormMean - xhat * dnormNormMean) * s
                }
            }
        }
        // Parameter gradients: each thread owns a range of channels and sums over all rows, so
        // no two threads write the same element and the sum order is fixed.
        let channelParts = N * C >= 1 << 14 ? ThreadPool.shared.threadCount : 1
        ThreadPool.shared.parallelFor(channelParts) { part, _ in
            let cols = chunk(part, of: channelParts, count: C, granule: 8)
            if cols.isEmpty { return }
            for n in 0..<N {
                let x = inp + n * C, dy = dout + n * C
                let m = mean[n], s = rstd[n]
                for i in cols {
                    dbias[i] += dy[i]
                    dweight[i] += (x[i] - m) * s * dy[i]
                }
            }
        }
    }
}
