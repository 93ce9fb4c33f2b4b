// GELU, tanh approximation (GPT-2's "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
//
// Computed through the identity ½(1 + tanh u) = σ(2u) = 1/(1 + e^(−2u)): one exponential and
// one division per element, and no small-argument branch (σ is well conditioned everywhere).
// With s = σ(2u): gelu = x·s, and d gelu/dx = s + 2x·s(1 − s)·du/dx.
import CrystallineCompute

enum GELU {
    static let k0: Float = 0.7978845608028654  // √(2/π)
    static let k1: Float = 0.044715

    /// out = gelu(inp); with `sigmoid`, also saves s = σ(2u) for the backward pass.
    static func forward(out: UnsafeMutablePointer<Float>, sigmoid: UnsafeMutablePointer<Float>? = nil,
                        inp: UnsafePointer<Float>, count: Int) {
        parallelRanges(count, minimumParallel: 1 << 15, ForwardJob(out: out, sigmoid: sigmoid, inp: inp))
    }

    /// dinp (+)= dout · d/dx gelu(x); written instead of added when `accumulate` is false.
    /// `sigmoid`, when the forward pass saved it, spares recomputing the exponential.
    static func backward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, sigmoid: UnsafePointer<Float>? = nil,
                         dout: UnsafePointer<Float>, count: Int, accumulate: Bool = true) {
        parallelRanges(count, minimumParallel: 1 << 15,
                       BackwardJob(dinp: dinp, inp: inp, sigmoid: sigmoid, dout: dout, accumulate: accumulate))
    }

    /// σ(2u) = ½(1 + tanh u), u = √(2/π)·(x + 0.044715·x³).
    @inline(__always)
    static func sigmoidOfTwoU(_ x: Vec8) -> Vec8 {
        let u = k0 * (x + k1 * x * x * x)
        return 1 / (1 + exp8(-2 * u))
    }

    /// d gelu/dx = s + 2x·s(1 − s)·√(2/π)·(1 + 3·0.044715·x²), s = σ(2u).
    @inline(__always)
    static func derivative(_ x: Vec8, _ s: Vec8) -> Vec8 {
        s + 2 * x * s * (1 - s) * k0 * (1 + 3 * k1 * x * x)
    }

    struct ForwardJob: RangeJob {
        let out: UnsafeMutablePointer<Float>, sigmoid: UnsafeMutablePointer<Float>?, inp: UnsafePointer<Float>

        func run(_ r: Range<Int>) {
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let x = load8(inp + i)
                let s = sigmoidOfTwoU(x)
                store8(x * s, out + i)
                if let sigmoid { store8(s, sigmoid + i) }
                i += 8
            }
            while i < r.upperBound {
                let x = Vec8(repeating: inp[i])
                let s = sigmoidOfTwoU(x)
                out[i] = (x * s)[0]
                sigmoid?[i] = s[0]
                i += 1
            }
        }
    }

    struct BackwardJob: RangeJob {
        let dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, sigmoid: UnsafePointer<Float>?
        let dout: UnsafePointer<Float>
        let accumulate: Bool

        func run(_ r: Range<Int>) {
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let x = load8(inp + i)
                let s = sigmoid.map { load8($0 + i) } ?? sigmoidOfTwoU(x)
                let g = derivative(x, s) * load8(dout + i)
                store8(accumulate ? load8(dinp + i) + g : g, dinp + i)
                i += 8
            }
            while i < r.upperBound {
                let x = Vec8(repeating: inp[i])
                let s = sigmoid.map { Vec8(repeating: $0[i]) } ?? sigmoidOfTwoU(x)
                let g = derivative(x, s)[0] * dout[i]
                dinp[i] = (accumulate ? dinp[i] : 0) + g
                i += 1
            }
        }
    }
}
