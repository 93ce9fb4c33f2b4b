// GELU, tanh approximation (GPT-2's "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
import CrystallineCompute

enum GELU {
    static let k0: Float = 0.7978845608028654  // √(2/π)
    static let k1: Float = 0.044715

    static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int) {
        parallelRanges(count, minimumParallel: 1 << 15, ForwardJob(out: out, inp: inp))
    }

    /// dinp (+)= dout · d/dx gelu(x); written instead of added when `accumulate` is false.
    static func backward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>, count: Int,
                         accumulate: Bool = true) {
        parallelRanges(count, minimumParallel: 1 << 15, BackwardJob(dinp: dinp, inp: inp, dout: dout, accumulate: accumulate))
    }

    struct ForwardJob: RangeJob {
        let out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>

        func run(_ r: Range<Int>) {
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let x = load8(inp + i)
                let u = k0 * (x + k1 * x * x * x)
                store8(0.5 * x * (1 + tanh8(u)), out + i)
                i += 8
            }
            while i < r.upperBound {
                let x = inp[i]
                out[i] = 0.5 * x * (1 + fastTanh(k0 * (x + k1 * x * x * x)))
                i += 1
            }
        }
    }

    struct BackwardJob: RangeJob {
        let dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>
        let accumulate: Bool

        func run(_ r: Range<Int>) {
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let x = load8(inp + i)
                let x2 = x * x
                let th = tanh8(k0 * (x + k1 * x2 * x))
                let sech2 = 1 - th * th
                let grad = 0.5 * (1 + th) + 0.5 * x * sech2 * k0 * (1 + 3 * k1 * x2)
                let g = grad * load8(dout + i)
                store8(accumulate ? load8(dinp + i) + g : g, dinp + i)
                i += 8
            }
            while i < r.upperBound {
                let x = inp[i]
                let th = fastTanh(k0 * (x + k1 * x * x * x))
                let grad = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * k0 * (1 + 3 * k1 * x * x)
                dinp[i] = (accumulate ? dinp[i] : 0) + grad * dout[i]
                i += 1
            }
        }
    }
}
