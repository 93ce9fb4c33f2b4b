// Numerically stable softmax and log-sum-exp of a contiguous row, vectorised.
import Foundation

/// Σ exp(x[i] − shift) for i in 0..<n, writing the exponentials back when `store` is set.
@inline(__always)
func sumOfExponentials(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float, store: Bool) -> Float {
    let sv = Vec8(repeating: shift)
    var acc = Vec8()
    var i = 0
    while i + 8 <= n {
        let e = exp8(load8(x + i) - sv)
        if store { store8(e, x + i) }
        acc += e
        i += 8
    }
    var sum = acc.sum()
    while i < n {
        let e = expf(x[i] - shift)
        if store { x[i] = e }
        sum += e
        i += 1
    }
    return sum
}

@inline(__always)
func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var mv = Vec8(repeating: -.infinity)
    var i = 0
    while i + 8 <= n { let v = load8(x + i); mv = mv.replacing(with: v, where: v .> mv); i += 8 }
    var m = mv.max()
    while i < n { if x[i] > m { m = x[i] }; i += 1 }
    return m
}

/// Replaces x[0..<n] by softmax(x) and returns log Σ exp(x) (the log-partition), which the
/// cross-entropy loss needs.
@discardableResult @inline(__always)
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
    let maxv = rowMax(x, n)
    let sum = sumOfExponentials(x, n, shift: maxv, store: true)
    let iv = Vec8(repeating: 1 / sum)
    var i = 0
    while i + 8 <= n { store8(load8(x + i) * iv, x + i); i += 8 }
    while i < n { x[i] *= 1 / sum; i += 1 }
    return maxv + logf(sum)
}

/// log Σ exp(x[0..<n]) without modifying x.
@inline(__always)
public func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let maxv = rowMax(x, n)
    return maxv + logf(sumOfExponentials(UnsafeMutablePointer(mutating: x), n, shift: maxv, store: false))
}
