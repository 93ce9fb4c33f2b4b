// Causal multi-head self-attention on a fused QKV tensor.
//
// qkv[b,t,:] holds [q | k | v], each C wide and split into NH heads of size hs. Row t attends
// to keys 0...t only: the masked upper triangle is never computed, in either direction.
// att[b,h,t,:] keeps the post-softmax weights (pre-dropout) for the backward pass.
import CrystallineCompute

enum Attention {
    static func forward(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
                        dropMask: UnsafePointer<Float>?, qkv: UnsafePointer<Float>,
                        B: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH
        let scale = 1 / Float(hs).squareRoot()
        let C3 = 3 * C
        ThreadPool.shared.parallelFor(B * NH) { task, _ in
            let b = task / NH, h = task % NH
            for t in 0..<T {
                let q = qkv + (b * T + t) * C3 + h * hs
                let rowIndex = ((b * NH + h) * T + t) * T
                let row = att + rowIndex
                for t2 in 0...t {
                    row[t2] = dot(q, qkv + (b * T + t2) * C3 + C + h * hs, hs) * scale
                }
                softmaxInPlace(row, t + 1)
                if t + 1 < T { (row + t + 1).update(repeating: 0, count: T - t - 1) }
                let y = out + (b * T + t) * C + h * hs
                y.update(repeating: 0, count: hs)
                for t2 in 0...t {
                    let w = dropMask.map { row[t2] * $0[rowIndex + t2] } ?? row[t2]
                    axpy(y, w, qkv + (b * T + t2) * C3 + 2 * C + h * hs, hs)
                }
            }
        }
    }

    /// dqkv += gradient of the attention output w.r.t. q, k and v.
    static func backward(dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                         qkv: UnsafePointer<Float>, att: UnsafePointer<Float>, dropMask: UnsafePointer<Float>?,
                         B: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH
        let scale = 1 / Float(hs).squareRoot()
        let C3 = 3 * C
        ThreadPool.shared.parallelFor(B * NH) { task, _ in
            let b = task / NH, h = task % NH
            withUnsafeTemporaryAllocation(of: Float.self, capacity: T) { buffer in
                let datt = buffer.baseAddress!
                for t in 0..<T {
                    let rowIndex = ((b * NH + h) * T + t) * T
                    let row = att + rowIndex
                    let dy = dout + (b * T + t) * C + h * hs
                    // y = Σ w·v with w = att·mask: gradients into v and into w.
                    for t2 in 0...t {
                        let m = dropMask.map { $0[rowIndex + t2] } ?? 1
                        datt[t2] = dot(qkv + (b * T + t2) * C3 + 2 * C + h * hs, dy, hs) * m
                        axpy(dqkv + (b * T + t2) * C3 + 2 * C + h * hs, row[t2] * m, dy, hs)
                    }
                    // Softmax backward: dpre = att·(datt − Σ att·datt), then through the scaled dot product.
                    let s = dot(row, datt, t + 1)
                    let q = qkv + (b * T + t) * C3 + h * hs
                    let dq = dqkv + (b * T + t) * C3 + h * hs
                    for t2 in 0...t {
                        let dpre = row[t2] * (datt[t2] - s) * scale
                        let kOffset = (b * T + t2) * C3 + C + h * hs
                        axpy(dq, dpre, qkv + kOffset, hs)
                        axpy(dqkv + kOffset, dpre, q, hs)
                    }
                }
            }
        }
    }
}
