// The Adam/AdamW element update, in C for its vector square root (Swift's SIMD squareRoot()
// compiles to a loop of scalar sqrtf calls).
import CKernels

/// For i in 0..<count: m = β1·m + (1−β1)·g', v = β2·v + (1−β2)·g'², p = decayFactor·p − stepSize·m / (√v·invSqrtC2 + eps),
/// with g' = g + l2·p (Adam's L2 term; 0 for AdamW, whose decay is `decayFactor`).
public func adamUpdate(count: Int, parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                       m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, beta1: Float, beta2: Float,
                       stepSize: Float, invSqrtC2: Float, eps: Float, decayFactor: Float, l2: Float) {
    cllm_adam_update(count, p, g, m, v, beta1, beta2, stepSize, invSqrtC2, eps, decayFactor, l2)
}
