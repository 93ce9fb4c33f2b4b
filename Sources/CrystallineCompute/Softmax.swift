// Numerically stable in-place softmax of a contiguous row, vectorised.
import Foundation

/// Replaces x[0..<n] by softmax(x) and returns log Σ exp(x) (the log-partition), which the
/// cross-entropy loss needs.
@discardableResult @inline(__always)
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
    var maxv = -Float.infinity
    for i in 0..<n where x[i] > maxv { maxv = x[i] }
    let mv = Vec8(repeating: maxv)
    var acc = Vec8()
    var i = 0
    while i + 8 <= n { let e = exp8(load8(x + i) - mv); store8(e, x + i); acc += e; i += 8 }
    var sum = acc.sum()
    while i < n { let e = expf(x[i] - maxv); x[i] = e; sum += e; i += 1 }
    let inv = 1 / sum
    let iv = Vec8(repeating: inv)
    i = 0
    while i + 8 <= n { store8(load8(x + i) * iv, x + i); i += 8 }
    while i < n { x[i] *= inv; i += 1 }
    return maxv + logf(sum)
}

/// log Σ exp(x[0..<n]) without modifying x.
@inline(__always)
public func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var maxv = -Float.infinity
    for i in 0..<n where x[i] > maxv { maxv = x[i] }
    let mv = Vec8(repeating: maxv)
    var acc = Vec8()
    var i = 0
    while i + 8 <= n { acc += exp8(load8(x + i) - mv); i += 8 }
    var sum = acc.sum()
    while i < n { sum += expf(x[i] - maxv); i += 1 }
    return maxv + logf(sum)
}
