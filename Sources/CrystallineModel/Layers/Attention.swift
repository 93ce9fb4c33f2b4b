// Causal multi-head self-attention on a fused QKV tensor.
//
// qkv[b,t,:] holds [q | k | v], each C wide and split into NH heads of size hs. Each (batch,
// head) pair is one task on the thread pool, and within it every product is a small GEMM on
// strided views of qkv: S = Q·Kᵀ, Y = P·V forward; dP = dY·Vᵀ, dV = Pᵀ·dY, dQ = dS·K,
// dK = dSᵀ·Q backward. Rows are processed in blocks of `rowBlock` queries that only touch the
// keys they may see, so most of the masked upper triangle is never computed.
// att[b,h,t,:] keeps the post-softmax weights (pre-dropout, zero above the diagonal).
import CrystallineCompute

/// The angular lattice bias of one layer: score(i, j) −= slope_h · D[i][j].
struct AngularBias {
    /// D, [T_max, T_max] with row stride `stride`.
    var distances: UnsafePointer<Float>
    var stride: Int
    /// Per-head slopes, [NH].
    var slopes: UnsafePointer<Float>
    /// Backward only: one partial dL/dslope per (batch, head) task, [B·NH], summed afterwards in
    /// a fixed order (no two threads write the same element).
    var slopeGradPartials: UnsafeMutablePointer<Float>?
}

enum Attention {
    /// Query rows per block: a multiple of both GEMM tile heights (6 and 8), so no block ends in a
    /// padded partial panel. 24 measured faster than 16 (3–4 %), 12 and 48 (interleaved runs,
    /// baby and shakespeare shapes): smaller blocks skip more of the masked triangle but make
    /// more calls.
    static let rowBlock = 24

    /// Scratch floats one pool thread needs: three T×T tiles (the dropped weights, the score
    /// gradient, and the recomputed probabilities when they are not stored), then room for one
    /// packed K, Kᵀ, V or Vᵀ of a head, which every block of query rows reads.
    static func scratchPerThread(T: Int, headSize hs: Int) -> Int {
        let packed = max(PackedOperand.byteCount(rows: T, columns: hs), PackedOperand.byteCount(rows: hs, columns: T))
        return 3 * T * T + (packed + 3) / 4
    }

    /// Scratch floats the kernels need: `scratchPerThread` for every pool thread.
    static func scratchCount(T: Int, headSize: Int) -> Int {
        scratchPerThread(T: T, headSize: headSize) * ThreadPool.shared.threadCount
    }

    /// The part of a thread's scratch that holds a packed operand.
    static func packingRoom(_ tiles: UnsafeMutablePointer<Float>, T: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(tiles + 3 * T * T)
    }

    /// `att` keeps the probabilities for the backward pass; nil recomputes them there instead
    /// (flash-attention style memory: a T×T tile per thread rather than B·NH·T·T per layer).
    static func forward(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>?,
                        dropMask: UnsafePointer<Float>?, qkv: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                        bias: AngularBias? = nil, B: Int, T: Int, C: Int, NH: Int, arithmetic: GEMMArithmetic = .float32) {
        ThreadPool.shared.parallelFor(B * NH, ForwardJob(out: out, att: att, dropMask: dropMask, qkv: qkv, scratch: scratch,
                                                        bias: bias, T: T, C: C, NH: NH, arithmetic: arithmetic))
    }

    /// dqkv = gradient of the attention output w.r.t. q, k and v (written, not added: every
    /// element of this layer's dqkv has this kernel as its only contributor).
    static func backward(dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                         qkv: UnsafePointer<Float>, att: UnsafePointer<Float>?, dropMask: UnsafePointer<Float>?,
                         scratch: UnsafeMutablePointer<Float>, bias: AngularBias? = nil, B: Int, T: Int, C: Int, NH: Int,
                         arithmetic: GEMMArithmetic = .float32) {
        ThreadPool.shared.parallelFor(B * NH, BackwardJob(dqkv: dqkv, dout: dout, qkv: qkv, att: att, dropMask: dropMask,
                                                         scratch: scratch, bias: bias, T: T, C: C, NH: NH, arithmetic: arithmetic))
    }

    /// The attention weights the values are multiplied by: P itself, or P ⊙ dropout mask in
    /// `scratch` (T×T) when dropout is on.
    static func droppedWeights(_ P: UnsafePointer<Float>, dropMask: UnsafePointer<Float>?, task: Int, T: Int,
                               scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        guard let dropMask else { return P }
        let mask = dropMask + task * T * T
        for i in 0..<(T * T) { scratch[i] = P[i] * mask[i] }
        return UnsafePointer(scratch)
    }

    /// C = L·B for a T×T lower-triangular L (row stride T) and a T×hs B: each block of query rows
    /// multiplies only the keys it can see. B is packed once into `packing`, and each block reads
    /// its first rows.
    static func lowerTriangularProduct(_ L: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                                       c: UnsafeMutablePointer<Float>, ldc: Int, T: Int, hs: Int, worker: Int,
                                       packing: UnsafeMutableRawPointer, arithmetic: GEMMArithmetic) {
        let packed = PackedOperand(packing: b, ldb: ldb, rows: T, columns: hs, into: packing, arithmetic: arithmetic)
        var r0 = 0
        while r0 < T {
            let r1 = min(T, r0 + rowBlock)
            gemm(m: r1 - r0, n: hs, k: r1, a: L + r0 * T, lda: T, packedB: packed, c: c + r0 * ldc, ldc: ldc, worker: worker)
            r0 = r1
        }
    }

    /// P = softmax(scale·Q·Kᵀ − bias) for one (batch, head), zero above the diagonal: each block
    /// of query rows is scored against the keys it can see. The backward pass calls this again
    /// when P was not stored, and gets the same values bit for bit.
    static func probabilities(_ P: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                              head h: Int, bias: AngularBias?, T: Int, C: Int, NH: Int, worker: Int,
                              packing: UnsafeMutableRawPointer, arithmetic: GEMMArithmetic) {
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        let keys = PackedOperand(packing: k, ldb: C3, transB: .transposed, rows: hs, columns: T, into: packing,
                                 arithmetic: arithmetic)
        var r0 = 0
        while r0 < T {
            let r1 = min(T, r0 + rowBlock)
            // Scores for rows r0..<r1 against keys 0..<r1.
            gemm(m: r1 - r0, n: r1, k: hs, a: q + r0 * C3, lda: C3, packedB: keys, c: P + r0 * T, ldc: T, worker: worker)
            for t in r0..<r1 {
                let row = P + t * T
                if let bias {
                    let slope = bias.slopes[h], dist = bias.distances + t * bias.stride
                    for j in 0...t { row[j] = row[j] * scale - slope * dist[j] }
                } else {
                    for j in 0...t { row[j] *= scale }
                }
                softmaxInPlace(row, t + 1)
                if t + 1 < T { (row + t + 1).update(repeating: 0, count: T - t - 1) }
            }
            r0 = r1
        }
    }

    /// One (batch, head) pair of the forward pass.
    struct ForwardJob: ParallelJob {
        let out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>?, dropMask: UnsafePointer<Float>?
        let qkv: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>, bias: AngularBias?
        let T: Int, C: Int, NH: Int
        let arithmetic: GEMMArithmetic

        func run(task: Int, worker: Int) {
            let hs = C / NH, C3 = 3 * C
            let b = task / NH, h = task % NH
            let q = qkv + b * T * C3 + h * hs, k = q + C, v = q + 2 * C
            let tiles = scratch + worker * scratchPerThread(T: T, headSize: hs)
            let packing = packingRoom(tiles, T: T)
            let P = att.map { $0 + task * T * T } ?? tiles + 2 * T * T
            let y = out + b * T * C + h * hs
            probabilities(P, q: q, k: k, head: h, bias: bias, T: T, C: C, NH: NH, worker: worker, packing: packing,
                          arithmetic: arithmetic)
            // Y = P'·V with P' = P ⊙ dropout mask.
            let weights = droppedWeights(P, dropMask: dropMask, task: task, T: T, scratch: tiles)
            lowerTriangularProduct(weights, b: v, ldb: C3, c: y, ldc: C, T: T, hs: hs, worker: worker, packing: packing,
                                   arithmetic: arithmetic)
        }
    }

    /// One (batch, head) pair of the backward pass.
    struct BackwardJob: ParallelJob {
        let dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>
        let att: UnsafePointer<Float>?, dropMask: UnsafePointer<Float>?
        let scratch: UnsafeMutablePointer<Float>, bias: AngularBias?
        let T: Int, C: Int, NH: Int
        let arithmetic: GEMMArithmetic

        func run(task: Int, worker: Int) {
            let hs = C / NH, C3 = 3 * C
            let scale = 1 / Float(hs).squareRoot()
            let b = task / NH, h = task % NH
            let q = qkv + b * T * C3 + h * hs, k = q + C, v = q + 2 * C
            let dq = dqkv + b * T * C3 + h * hs, dk = dq + C, dv = dq + 2 * C
            let dy = dout + b * T * C + h * hs
            let dS = scratch + worker * scratchPerThread(T: T, headSize: hs)
            let packing = packingRoom(dS, T: T)
            let P: UnsafePointer<Float>
            if let att {
                P = att + task * T * T
            } else {
                let tile = dS + 2 * T * T
                probabilities(tile, q: q, k: k, head: h, bias: bias, T: T, C: C, NH: NH, worker: worker, packing: packing,
                              arithmetic: arithmetic)
                P = UnsafePointer(tile)
            }
            let weights = droppedWeights(P, dropMask: dropMask, task: task, T: T, scratch: dS + T * T)
            // dV = P'ᵀ·dY (P' is zero above the diagonal, so the full product is exact).
            gemm(m: T, n: hs, k: T, a: weights, lda: T, transA: .transposed, b: dy, ldb: C,
                 c: dv, ldc: C3, worker: worker, arithmetic: arithmetic)
            // dP' = dY·Vᵀ for the visible keys of each row block.
            let values = PackedOperand(packing: v, ldb: C3, transB: .transposed, rows: hs, columns: T, into: packing,
                                       arithmetic: arithmetic)
            var r0 = 0
            while r0 < T {
                let r1 = min(T, r0 + rowBlock)
                gemm(m: r1 - r0, n: r1, k: hs, a: dy + r0 * C, lda: C, packedB: values, c: dS + r0 * T, ldc: T, worker: worker)
                r0 = r1
            }
            // Through the dropout mask and the softmax: z = P ⊙ (dP − Σ P·dP) is the gradient of
            // the biased scores; the slope gets −Σ z·D, the raw product dS = z · scale.
            var slopeGrad: Float = 0
            for t in 0..<T {
                let row = dS + t * T, p = P + t * T
                if let dropMask {
                    let mask = dropMask + (task * T + t) * T
                    for j in 0...t { row[j] *= mask[j] }
                }
                let s = dot(p, row, t + 1)
                for j in 0...t { row[j] = p[j] * (row[j] - s) }
                if let bias { slopeGrad -= dot(row, bias.distances + t * bias.stride, t + 1) }
                for j in 0...t { row[j] *= scale }
                if t + 1 < T { (row + t + 1).update(repeating: 0, count: T - t - 1) }
            }
            if let partials = bias?.slopeGradPartials { partials[task] = slopeGrad }
            // dQ = dS·K (row blocks see keys < r1); dK = dSᵀ·Q.
            lowerTriangularProduct(dS, b: k, ldb: C3, c: dq, ldc: C3, T: T, hs: hs, worker: worker, packing: packing,
                                   arithmetic: arithmetic)
            gemm(m: T, n: hs, k: T, a: dS, lda: T, transA: .transposed, b: q, ldb: C3,
                 c: dk, ldc: C3, worker: worker, arithmetic: arithmetic)
        }
    }
}
