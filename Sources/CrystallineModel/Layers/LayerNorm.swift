// LayerNorm over the channel dimension: y = (x − mean)·rstd·w + b, rstd = 1/sqrt(var + eps).
//
// The row kernels are vectorised eight lanes wide with explicit SIMD accumulators: a plain
// `sum += x[i]` loop is a strict float reduction that the compiler must keep scalar.
import CrystallineCompute

enum LayerNorm {
    /// Saves per-row mean and rstd for the backward pass.
    static func forward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                        inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        N: Int, C: Int, eps: Float) {
        parallelRanges(N, granule: 1, minimumParallel: 64,
                       ForwardJob(out: out, mean: mean, rstd: rstd, inp: inp, weight: weight, bias: bias, C: C, eps: eps))
    }

    /// The residual connection fused with the LayerNorm that follows it: `sum = a + b` (the
    /// residual stream, kept for the backward pass), then `out = LayerNorm(sum)`, in one pass.
    static func forward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                        sum: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, N: Int, C: Int, eps: Float) {
        parallelRanges(N, granule: 1, minimumParallel: 64,
                       ForwardJob(out: out, mean: mean, rstd: rstd, inp: UnsafePointer(sum), weight: weight, bias: bias,
                                  C: C, eps: eps, residual: (sum, a, b)))
    }

    struct ForwardJob: RangeJob {
        let out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>
        let inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>
        let C: Int, eps: Float
        /// When set, rows of `inp` (= sum) are first computed as a + b.
        var residual: (sum: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>)? = nil
        func run(_ rows: Range<Int>) {
            if let (sum, a, b) = residual {
                let offset = rows.lowerBound * C
                residualAdd(out: sum + offset, a + offset, b + offset, rows.count * C)
            }
            forwardRows(rows, out: out, mean: mean, rstd: rstd, inp: inp, weight: weight, bias: bias, C: C, eps: eps)
        }
    }

    @inline(never)
    static func forwardRows(_ rows: Range<Int>, out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                            rstd: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                            bias: UnsafePointer<Float>, C: Int, eps: Float) {
        let vectorEnd = C & ~7
        for n in rows {
            let x = inp + n * C, y = out + n * C
            var acc = Vec8()
            var i = 0
            while i < vectorEnd { acc += load8(x + i); i += 8 }
            var sum = acc.sum()
            while i < C { sum += x[i]; i += 1 }
            let m = sum / Float(C)
            let mv = Vec8(repeating: m)
            acc = Vec8()
            i = 0
            while i < vectorEnd { let d = load8(x + i) - mv; acc = acc.addingProduct(d, d); i += 8 }
            var v = acc.sum()
            while i < C { let d = x[i] - m; v += d * d; i += 1 }
            v /= Float(C)
            let s = 1 / (v + eps).squareRoot()
            let sv = Vec8(repeating: s)
            i = 0
            while i < vectorEnd {
                store8(((load8(x + i) - mv) * sv) * load8(weight + i) + load8(bias + i), y + i)
                i += 8
            }
            while i < C { y[i] = (x[i] - m) * s * weight[i] + bias[i]; i += 1 }
            mean[n] = m
            rstd[n] = s
        }
    }

    /// How the input gradient is delivered.
    enum InputGradient {
        /// dinp += …
        case accumulate
        /// dinp = … (it has no other contributor; spares zeroing it first)
        case write
        /// dinp = residual + … : the gradient that reaches the same residual-stream tensor
        /// through the skip connection, added in the same pass instead of by a separate copy.
        case residual(UnsafePointer<Float>)
    }

    /// Input gradient per `mode`; dweight += Σ dout·x̂, dbias += Σ dout.
    static func backward(dinp: UnsafeMutablePointer<Float>, mode: InputGradient = .accumulate,
                         dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
                         dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int) {
        parallelRanges(N, granule: 1, minimumParallel: 64,
                       BackwardJob(dinp: dinp, mode: mode, dout: dout, inp: inp, weight: weight, mean: mean, rstd: rstd, C: C))
        // Parameter gradients: each thread owns a range of channels and sums over all rows, so
        // no two threads write the same element and the sum order is fixed.
        parallelRanges(C, granule: 8, minimumParallel: N * C >= 1 << 14 ? 1 : C + 1,
                       ParameterGradientJob(dweight: dweight, dbias: dbias, dout: dout, inp: inp, mean: mean, rstd: rstd, N: N, C: C))
    }

    struct BackwardJob: RangeJob {
        let dinp: UnsafeMutablePointer<Float>, mode: InputGradient
        let dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>
        let mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, C: Int
        func run(_ rows: Range<Int>) {
            backwardRows(rows, dinp: dinp, mode: mode, dout: dout, inp: inp, weight: weight, mean: mean, rstd: rstd, C: C)
        }
    }

    struct ParameterGradientJob: RangeJob {
        let dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>
        let dout: UnsafePointer<Float>, inp: UnsafePointer<Float>
        let mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int
        func run(_ cols: Range<Int>) {
            parameterGradients(cols, dweight: dweight, dbias: dbias, dout: dout, inp: inp, mean: mean, rstd: rstd, N: N, C: C)
        }
    }

    @inline(never)
    static func backwardRows(_ rows: Range<Int>, dinp: UnsafeMutablePointer<Float>, mode: InputGradient,
                             dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, C: Int) {
        let vectorEnd = C & ~7
        for n in rows {
            let x = inp + n * C, dy = dout + n * C, dx = dinp + n * C
            let m = mean[n], s = rstd[n]
            let mv = Vec8(repeating: m), sv = Vec8(repeating: s)
            // Σ dnorm and Σ dnorm·x̂, where dnorm = w·dy and x̂ = (x − m)·s.
            var accD = Vec8(), accDX = Vec8()
            var i = 0
            while i < vectorEnd {
                let dnorm = load8(weight + i) * load8(dy + i)
                accD += dnorm
                accDX = accDX.addingProduct(dnorm, (load8(x + i) - mv) * sv)
                i += 8
            }
            var dnormMean = accD.sum(), dnormNormMean = accDX.sum()
            while i < C {
                let dnorm = weight[i] * dy[i]
                dnormMean += dnorm
                dnormNormMean += dnorm * (x[i] - m) * s
                i += 1
            }
            dnormMean /= Float(C)
            dnormNormMean /= Float(C)
            let meanV = Vec8(repeating: dnormMean), normMeanV = Vec8(repeating: dnormNormMean)
            let base: UnsafePointer<Float>?
            switch mode {
            case .accumulate: base = UnsafePointer(dx)
            case .write: base = nil
            case .residual(let r): base = r + n * C
            }
            i = 0
            while i < vectorEnd {
                let xhat = (load8(x + i) - mv) * sv
                let dnorm = load8(weight + i) * load8(dy + i)
                let term = (dnorm - meanV - xhat * normMeanV) * sv
                store8(base.map { load8($0 + i) + term } ?? term, dx + i)
                i += 8
            }
            while i < C {
                let xhat = (x[i] - m) * s
                let dnorm = weight[i] * dy[i]
                dx[i] = (base?[i] ?? 0) + (dnorm - dnormMean - xhat * dnormNormMean) * s
                i += 1
            }
        }
    }

    @inline(never)
    static func parameterGradients(_ cols: Range<Int>, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
                                   dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                                   mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int) {
        for n in 0..<N {
            let x = inp + n * C, dy = dout + n * C
            let m = mean[n], s = rstd[n]
            let mv = Vec8(repeating: m), sv = Vec8(repeating: s)
            var i = cols.lowerBound
            while i + 8 <= cols.upperBound {
                let g = load8(dy + i)
                store8(load8(dbias + i) + g, dbias + i)
                store8(load8(dweight + i).addingProduct((load8(x + i) - mv) * sv, g), dweight + i)
                i += 8
            }
            while i < cols.upperBound {
                dbias[i] += dy[i]
                dweight[i] += (x[i] - m) * s * dy[i]
                i += 1
            }
        }
    }
}

/// out = a + b over n floats.
@inline(__always)
func residualAdd(out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n { store8(load8(a + i) + load8(b + i), out + i); i += 8 }
    while i < n { out[i] = a[i] + b[i]; i += 1 }
}
