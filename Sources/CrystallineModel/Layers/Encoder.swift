// Token + position embedding: out[b,t,:] = wte[token[b,t],:] + wpe[t,:].
import CrystallineCompute

enum Encoder {
    static func forward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
                        wte: UnsafePointer<Float>, wpe: UnsafePointer<Float>, B: Int, T: Int, C: Int) {
        for b in 0..<B {
            for t in 0..<T {
                let o = out + (b * T + t) * C
                let te = wte + Int(tokens[b * T + t]) * C, pe = wpe + t * C
                for i in 0..<C { o[i] = te[i] + pe[i] }
            }
        }
    }

    static func backward(dwte: UnsafeMutablePointer<Float>, dwpe: UnsafeMutablePointer<Float>,
                         dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, B: Int, T: Int, C: Int) {
        for b in 0..<B {
            for t in 0..<T {
                let d = dout + (b * T + t) * C
                addInPlace(dwte + Int(tokens[b * T + t]) * C, d, C)
                addInPlace(dwpe + t * C, d, C)
            }
        }
    }
}
